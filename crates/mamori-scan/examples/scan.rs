//! Stand-alone `scan` for benchmarks and manual runs: the same options as `mamori scan`.

use clap::Parser;
use mamori_scan::{run_cli, ScanArgs};

/// Find payment card numbers (same options as `mamori scan`).
#[derive(Parser, Debug)]
#[command(name = "scan")]
struct Cli {
    #[command(flatten)]
    args: ScanArgs,
}

fn main() {
    std::process::exit(run_cli(Cli::parse().args));
}
