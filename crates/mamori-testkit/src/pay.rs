//! The sandbox payment provider for tests, with a connector to it.
#![allow(clippy::expect_used)] // a failed set-up is a failed test

use mamori_pay::{HttpConnector, SandboxConfig, SandboxHandle};
use secrecy::SecretString;

/// Starts the sandbox provider with `config` on a loopback port, and an `HttpConnector` to it
/// that authenticates with `api_key` (the key `config` was made with).
pub async fn start_sandbox(
    config: SandboxConfig,
    api_key: SecretString,
) -> (SandboxHandle, HttpConnector) {
    let sandbox = mamori_pay::spawn_sandbox(config)
        .await
        .expect("starting the sandbox provider");
    let psp =
        HttpConnector::new(sandbox.base_url.clone(), api_key).expect("a connector to the sandbox");
    (sandbox, psp)
}
