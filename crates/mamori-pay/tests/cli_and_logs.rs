//! The command-line hook, and the promise that no card data, code or name
//! reaches a log line, checked by capturing every log event of a full run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use clap::Parser;
use common::{location, world};
use mamori_pay::secrecy::{ExposeSecret, SecretString};
use mamori_pay::{spawn_sandbox, PaymentConnector, SandboxArgs, SandboxConfig, SandboxError};
use mamori_testkit::LogCapture as Captured;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[test]
fn args_defaults_files_and_conflicts() {
    let cli = Cli::try_parse_from(["x", "--api-key", "sk_0123456789abcdef"]).unwrap();
    assert_eq!(cli.sandbox.listen.to_string(), "127.0.0.1:8081");
    let config = cli.sandbox.to_config().unwrap();
    assert_eq!(config.api_key.expose_secret(), "sk_0123456789abcdef");
    assert!(config.webhook_url.is_none());
    assert!(!format!("{:?} {config:?}", cli.sandbox).contains("sk_0123"));

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("api-key");
    let secret = dir.path().join("webhook-secret");
    std::fs::File::create(&key)
        .unwrap()
        .write_all(b"sk_from_file_0123456789\n")
        .unwrap();
    std::fs::write(&secret, "whsec_from_file_0123456789\n").unwrap();
    let cli = Cli::try_parse_from([
        "x",
        "--listen",
        "127.0.0.1:0",
        "--api-key-file",
        key.to_str().unwrap(),
        "--webhook-url",
        "http://127.0.0.1:9/hook",
        "--webhook-secret-file",
        secret.to_str().unwrap(),
    ])
    .unwrap();
    let config = cli.sandbox.to_config().unwrap();
    assert_eq!(config.api_key.expose_secret(), "sk_from_file_0123456789");
    assert_eq!(
        config.webhook_secret.unwrap().expose_secret(),
        "whsec_from_file_0123456789"
    );
    assert_eq!(config.listen.port(), 0);

    assert!(Cli::try_parse_from([
        "x",
        "--api-key",
        "a",
        "--api-key-file",
        key.to_str().unwrap()
    ])
    .is_err());
    let missing = Cli::try_parse_from(["x", "--api-key-file", "/nonexistent/key"]).unwrap();
    assert!(matches!(
        missing.sandbox.to_config(),
        Err(SandboxError::ReadSecret { .. })
    ));
}

#[tokio::test]
async fn bad_configurations_do_not_start() {
    let short = SandboxConfig::new(SecretString::from("short".to_owned()));
    assert!(matches!(
        spawn_sandbox(short).await,
        Err(SandboxError::Config(_))
    ));
    let mut no_secret = SandboxConfig::new(SecretString::from("sk_0123456789abcdef".to_owned()));
    no_secret.webhook_url = Some(mamori_pay::url::Url::parse("http://127.0.0.1:9/").unwrap());
    assert!(matches!(
        spawn_sandbox(no_secret).await,
        Err(SandboxError::Config(_))
    ));
}

#[tokio::test]
async fn no_card_number_code_or_name_reaches_a_log_line() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let mut w = world().await;
    let bad = w.create("ORD-LOG-1", 100).await;
    w.pay(&bad, "4242 4242 4242 4241", "12/34", "987", "TARO YAMADA")
        .await;
    w.pay(&bad, "4242424242424242", "12/34", "987", "TARO YAMADA")
        .await;
    let challenge = w.create("ORD-LOG-2", 100).await;
    let to = location(
        &w.pay(
            &challenge,
            "4000000000003220",
            "12/34",
            "654",
            "HANAKO SATO",
        )
        .await,
    );
    w.browser
        .post(to)
        .form(&[("code", "123456")])
        .send()
        .await
        .unwrap();
    w.receiver.next().await;
    w.receiver.next().await;
    w.psp.refund(&bad.payment_id, 50, "r-log").await.unwrap();
    w.receiver.next().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("payment succeeded"), "capture works: {logs}");
    assert!(logs.contains(&bad.payment_id));
    for secret in [
        "4242424242424242",
        "424242424242424",
        "4000000000003220",
        "4242 4242",
        "TARO",
        "HANAKO",
        common::API_KEY,
        common::WEBHOOK_SECRET,
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
}
