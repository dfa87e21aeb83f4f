//! Runs the sandbox payment provider on its own, e.g.
//! `cargo run -p mamori-pay --example sandbox -- --api-key-file key.txt`.

use clap::Parser;

#[derive(Parser)]
#[command(about = "mamori sandbox payment provider")]
struct Cli {
    #[command(flatten)]
    sandbox: mamori_pay::SandboxArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    mamori_pay::run_sandbox(Cli::parse().sandbox).await
}
