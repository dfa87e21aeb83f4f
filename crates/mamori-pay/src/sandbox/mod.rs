//! The sandbox payment provider: a server of its own, on its own port and so
//! its own origin, speaking the protocol in `PROTOCOL.md`. It shows the card
//! form, runs the test cards, and sends signed webhooks. State lives in
//! memory and is gone when it stops.
//!
//! It keeps brand and last four digits only: the card number, the security
//! code and the holder's name are checked and then dropped, and nothing of
//! them is logged.

mod api;
mod deliver;
mod pages;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use url::Url;
use zeroize::Zeroizing;

pub use deliver::WebhookRetry;

use crate::connector::FailureReason;
use crate::wire::{EventObject, PaymentObject};
use state::Book;

/// The one-time code that passes the sandbox's 3-D Secure challenge.
pub const CHALLENGE_CODE: &str = "123456";

/// What a test card does when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCardOutcome {
    /// The payment succeeds.
    Succeed,
    /// The payment fails for this reason.
    Decline(FailureReason),
    /// A 3-D Secure challenge is shown; [`CHALLENGE_CODE`] passes it.
    Challenge,
}

/// The sandbox's test cards (digits only). Any other number, even a valid
/// one, is refused on the form: a sandbox has no business with a real card.
pub const TEST_CARDS: &[(&str, TestCardOutcome)] = &[
    ("4242424242424242", TestCardOutcome::Succeed),
    ("3566002020360505", TestCardOutcome::Succeed),
    ("5555555555554444", TestCardOutcome::Succeed),
    (
        "4000000000000002",
        TestCardOutcome::Decline(FailureReason::CardDeclined),
    ),
    (
        "4000000000009995",
        TestCardOutcome::Decline(FailureReason::InsufficientFunds),
    ),
    ("4000000000003220", TestCardOutcome::Challenge),
];

/// A range of test cards that all decline (`card_declined`): every Luhn-valid 16-digit number
/// starting with these digits (`4000 0000 001x xxxx`, ten thousand cards). Card testing tries
/// many numbers; drills and tests need many distinct declined cards, each with its own
/// fingerprint.
pub const DECLINE_RANGE_PREFIX: &str = "40000000001";

/// What a test card number does, if it is one.
#[must_use]
pub fn test_card_outcome(digits: &str) -> Option<TestCardOutcome> {
    if digits.len() == 16 && digits.starts_with(DECLINE_RANGE_PREFIX) {
        // The caller has checked the Luhn digit already (`CardNumber::parse`).
        return Some(TestCardOutcome::Decline(FailureReason::CardDeclined));
    }
    TEST_CARDS
        .iter()
        .find(|(n, _)| *n == digits)
        .map(|(_, o)| *o)
}

/// The `n`-th card (0..10000) of the declining range, as digits (for drills and tests).
#[must_use]
pub fn declining_card(n: u16) -> String {
    let body = format!("{DECLINE_RANGE_PREFIX}{:04}", n % 10_000);
    (0..10u8)
        .map(|d| format!("{body}{d}"))
        .find(|c| crate::card::luhn_valid(c))
        .unwrap_or_default()
}

/// How to run a sandbox.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The API key clients must send as `Authorization: Bearer <key>`.
    pub api_key: SecretString,
    /// Where webhooks go; `None` sends none.
    pub webhook_url: Option<Url>,
    /// The webhook signing secret; required with `webhook_url`.
    pub webhook_secret: Option<SecretString>,
    /// The origin (and path prefix) browsers reach the sandbox at, if not
    /// `http://{bound address}/`.
    pub public_url: Option<Url>,
    /// Webhook retry schedule.
    pub webhook_retry: WebhookRetry,
    /// Most payments kept; creation is refused beyond.
    pub max_payments: usize,
    /// A directory holding the provider's card helper `card.js`, read on
    /// every request; `None` serves the built-in copy. A `headers` file
    /// there (`Name: value` lines, an empty value drops) overrides the card
    /// page's response headers (a drill weakening its CSP).
    pub script_dir: Option<PathBuf>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("listen", &self.listen)
            .field("webhook_url", &self.webhook_url.as_ref().map(Url::as_str))
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("webhook_retry", &self.webhook_retry)
            .field("max_payments", &self.max_payments)
            .field("script_dir", &self.script_dir)
            .finish_non_exhaustive()
    }
}

impl SandboxConfig {
    /// A sandbox on `127.0.0.1:0` with this API key and no webhooks.
    #[must_use]
    pub fn new(api_key: SecretString) -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key,
            webhook_url: None,
            webhook_secret: None,
            public_url: None,
            webhook_retry: WebhookRetry::default(),
            max_payments: 100_000,
            script_dir: None,
        }
    }

    /// Sends webhooks to `url`, signed with `secret`.
    #[must_use]
    pub fn with_webhook(mut self, url: Url, secret: SecretString) -> Self {
        self.webhook_url = Some(url);
        self.webhook_secret = Some(secret);
        self
    }
}

/// Why a sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration cannot work.
    #[error("sandbox configuration: {0}")]
    Config(&'static str),
    /// The address could not be bound.
    #[error("sandbox cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading a secret file failed.
    #[error("sandbox cannot read {path}")]
    ReadSecret {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running sandbox. Dropping it stops the server and webhook deliveries.
pub struct SandboxHandle {
    /// Where the sandbox is reached (`http://127.0.0.1:PORT/` or the public URL).
    pub base_url: Url,
    /// The address actually bound.
    pub local_addr: SocketAddr,
    card_attempts: Arc<AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    deliverer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("base_url", &self.base_url.as_str())
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// How many cards were tried on the hosted pages so far: forms that passed the checks and
    /// reached the (simulated) issuer, whatever it answered. What card-testing tests count on
    /// the provider's side.
    #[must_use]
    pub fn card_attempts(&self) -> u64 {
        self.card_attempts.load(Ordering::Relaxed)
    }

    /// Stops accepting connections, lets requests in flight finish, and
    /// stops webhook deliveries.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        if let Some(d) = self.deliverer.take() {
            d.abort();
        }
        Ok(())
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(d) = self.deliverer.take() {
            d.abort();
        }
    }
}

/// State shared by the sandbox's handlers.
pub(crate) struct App {
    book: Mutex<Book>,
    api_key_digest: [u8; 32],
    base: Url,
    events: Option<mpsc::Sender<deliver::Outgoing>>,
    max_payments: usize,
    script_dir: Option<PathBuf>,
    /// The provider's own secret for card fingerprints (random per start: the sandbox keeps
    /// nothing across restarts, and a secret the shop could know would let it test guesses of a
    /// number against a fingerprint).
    fingerprint_key: Zeroizing<[u8; 32]>,
    /// Cards tried (see [`SandboxHandle::card_attempts`]).
    pub(crate) card_attempts: Arc<AtomicU64>,
}

impl App {
    /// The card's fingerprint: `fp_` and the first 16 bytes of HMAC-SHA256 of the digits under
    /// the provider's secret, in hex. Stable per card for this provider, not reversible.
    pub(crate) fn fingerprint(&self, digits: &str) -> String {
        // HMAC takes keys of any length, so this cannot fail; the fallback keeps a panic path out.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.fingerprint_key.as_ref())
        else {
            return String::from("fp_0");
        };
        mac.update(digits.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("fp_{}", hex::encode(&tag[..16]))
    }

    /// Checks a bearer key in constant time (over digests, so the key's
    /// length does not show either).
    fn authorized(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(d.ct_eq(&self.api_key_digest))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // A handler cannot panic while holding the lock (no panicking code
        // runs under it), so poisoning is only theoretical; the data is
        // still consistent, so carry on with it.
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a webhook about `payment`. The queue is bounded; when it is
    /// full the event is dropped with a warning, and the shop still learns
    /// the outcome from its server-to-server lookup.
    fn emit(&self, kind: &str, payment: PaymentObject) {
        let Some(tx) = &self.events else { return };
        let event = EventObject {
            id: state::new_id("evt"),
            kind: kind.to_owned(),
            created: chrono::Utc::now().timestamp(),
            payment,
        };
        let body = match serde_json::to_vec(&event) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "sandbox: cannot serialize an event");
                return;
            }
        };
        tracing::info!(event = %event.id, kind, payment = %event.payment.id, "sandbox: webhook queued");
        if tx
            .try_send(deliver::Outgoing {
                event_id: event.id,
                body,
            })
            .is_err()
        {
            tracing::warn!("sandbox: webhook queue full or closed; event dropped");
        }
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(app)
}

/// Starts a sandbox on `config.listen` and returns once it accepts
/// connections.
pub async fn spawn_sandbox(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    if config.api_key.expose_secret().len() < 16 {
        return Err(SandboxError::Config(
            "the API key must be at least 16 characters",
        ));
    }
    let target = match (&config.webhook_url, &config.webhook_secret) {
        (Some(url), Some(secret)) => {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(SandboxError::Config("the webhook URL must be http(s)"));
            }
            if secret.expose_secret().len() < 16 {
                return Err(SandboxError::Config(
                    "the webhook secret must be at least 16 characters",
                ));
            }
            Some(deliver::Target {
                url: url.clone(),
                secret: secret.clone(),
                retry: config.webhook_retry,
            })
        }
        (Some(_), None) => {
            return Err(SandboxError::Config("a webhook URL needs a webhook secret"))
        }
        (None, _) => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.listen,
        source,
    })?;
    let base_url = match &config.public_url {
        Some(u) => {
            let mut u = u.clone();
            if !u.path().ends_with('/') {
                let p = format!("{}/", u.path());
                u.set_path(&p);
            }
            u
        }
        None => Url::parse(&format!("http://{local_addr}/"))
            .map_err(|_| SandboxError::Config("cannot form the base URL"))?,
    };

    let (events, deliverer) = match target {
        Some(target) => {
            let (tx, rx) = mpsc::channel(1024);
            (Some(tx), Some(tokio::spawn(deliver::run(target, rx))))
        }
        None => (None, None),
    };
    let card_attempts = Arc::new(AtomicU64::new(0));
    let app = Arc::new(App {
        book: Mutex::new(Book::default()),
        api_key_digest: Sha256::digest(config.api_key.expose_secret().as_bytes()).into(),
        base: base_url.clone(),
        events,
        max_payments: config.max_payments,
        script_dir: config.script_dir.clone(),
        fingerprint_key: Zeroizing::new(rand::random()),
        card_attempts: card_attempts.clone(),
    });
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async move {
                let _ = shutdown_rx.await;
            })
            .await
    });
    tracing::info!(%local_addr, "sandbox payment provider listening");
    Ok(SandboxHandle {
        base_url,
        local_addr,
        card_attempts,
        shutdown: Some(shutdown_tx),
        server: Some(server),
        deliverer,
    })
}

/// Command-line options of the sandbox (`mamori pay-sandbox` or a part of
/// `mamori serve`). Prefer the `*-file` options or the environment for
/// secrets: other users can read a process's arguments.
#[derive(Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(
        long = "listen",
        default_value = "127.0.0.1:8081",
        env = "MAMORI_PAY_SANDBOX_LISTEN"
    )]
    pub listen: SocketAddr,
    /// File holding the API key (first line).
    #[arg(long, conflicts_with = "api_key")]
    pub api_key_file: Option<PathBuf>,
    /// The API key (at least 16 characters).
    #[arg(long, env = "MAMORI_PAY_SANDBOX_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Where to POST webhooks.
    #[arg(long, env = "MAMORI_PAY_SANDBOX_WEBHOOK_URL")]
    pub webhook_url: Option<Url>,
    /// File holding the webhook signing secret (first line).
    #[arg(long, conflicts_with = "webhook_secret")]
    pub webhook_secret_file: Option<PathBuf>,
    /// The webhook signing secret (at least 16 characters).
    #[arg(
        long,
        env = "MAMORI_PAY_SANDBOX_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// The URL browsers reach the sandbox at, if it is behind a proxy.
    #[arg(long, env = "MAMORI_PAY_SANDBOX_PUBLIC_URL")]
    pub public_url: Option<Url>,
    /// A directory holding the card helper `card.js` served on the card
    /// page (read on every request); the built-in copy when not given. A
    /// `headers` file there overrides the card page's response headers.
    #[arg(long, env = "MAMORI_PAY_SANDBOX_SCRIPT_DIR")]
    pub script_dir: Option<PathBuf>,
}

impl std::fmt::Debug for SandboxArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxArgs")
            .field("listen", &self.listen)
            .field("api_key_file", &self.api_key_file)
            .field("webhook_url", &self.webhook_url.as_ref().map(Url::as_str))
            .field("webhook_secret_file", &self.webhook_secret_file)
            .field("script_dir", &self.script_dir)
            .finish_non_exhaustive()
    }
}

fn read_secret(
    file: Option<&PathBuf>,
    value: Option<&String>,
) -> Result<Option<SecretString>, SandboxError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| SandboxError::ReadSecret {
            path: path.clone(),
            source,
        })?;
        let line = text.lines().next().unwrap_or("").trim().to_owned();
        return Ok(Some(SecretString::from(line)));
    }
    Ok(value.map(|v| SecretString::from(v.trim().to_owned())))
}

impl SandboxArgs {
    /// The configuration these options describe.
    pub fn to_config(&self) -> Result<SandboxConfig, SandboxError> {
        let api_key = read_secret(self.api_key_file.as_ref(), self.api_key.as_ref())?.ok_or(
            SandboxError::Config("an API key is required (--api-key-file or --api-key)"),
        )?;
        let webhook_secret = read_secret(
            self.webhook_secret_file.as_ref(),
            self.webhook_secret.as_ref(),
        )?;
        let mut config = SandboxConfig::new(api_key);
        config.listen = self.listen;
        config.webhook_url = self.webhook_url.clone();
        config.webhook_secret = webhook_secret;
        config.public_url = self.public_url.clone();
        config.script_dir = self.script_dir.clone();
        Ok(config)
    }
}

/// Runs the sandbox until Ctrl-C (or SIGTERM on Unix).
pub async fn run_sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let handle = spawn_sandbox(args.to_config()?).await?;
    eprintln!(
        "mamori サンドボックス決済を起動しました / sandbox payment provider at {}",
        handle.base_url
    );
    shutdown_signal().await;
    handle.shutdown().await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
