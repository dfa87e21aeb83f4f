//! Webhook delivery in the background: signed POSTs with retries and
//! exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use url::Url;

use crate::webhook::{signature_header, SIGNATURE_HEADER};

/// How webhook deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled after each failure.
    pub initial_backoff: Duration,
    /// Upper bound of a wait.
    pub max_backoff: Duration,
    /// Time allowed for one attempt.
    pub attempt_timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        WebhookRetry {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

/// One event ready to go: its id (for logs) and its serialized body.
pub(crate) struct Outgoing {
    pub event_id: String,
    pub body: Vec<u8>,
}

/// Where events go and how they are signed.
pub(crate) struct Target {
    pub url: Url,
    pub secret: SecretString,
    pub retry: WebhookRetry,
}

/// Runs until the sending side is dropped: each event gets its own task so
/// that one unreachable endpoint's backoff does not hold the others.
/// Dropping the returned future (or aborting its task) aborts every
/// delivery still under way.
pub(crate) async fn run(target: Target, mut rx: mpsc::Receiver<Outgoing>) {
    let client = match reqwest::Client::builder()
        .timeout(target.retry.attempt_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "sandbox: cannot build the webhook client; webhooks disabled");
            return;
        }
    };
    let target = std::sync::Arc::new(target);
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            next = rx.recv() => match next {
                Some(out) => {
                    let client = client.clone();
                    let target = target.clone();
                    tasks.spawn(async move { deliver(&client, &target, out).await });
                }
                None => break,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn deliver(client: &reqwest::Client, target: &Target, out: Outgoing) {
    let mut backoff = target.retry.initial_backoff;
    let attempts = target.retry.max_attempts.max(1);
    for attempt in 1..=attempts {
        // Signed afresh on every attempt, so a late retry is not refused
        // as stale by the receiver's window.
        let header = signature_header(
            &[target.secret.expose_secret().as_bytes()],
            chrono::Utc::now().timestamp(),
            &out.body,
        );
        let result = client
            .post(target.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, header)
            .body(out.body.clone())
            .send()
            .await;
        match result {
            Ok(resp) if resp.status().is_success() => {
                tracing::debug!(event = %out.event_id, attempt, "sandbox: webhook delivered");
                return;
            }
            Ok(resp) => {
                tracing::warn!(event = %out.event_id, attempt, status = resp.status().as_u16(), "sandbox: webhook refused by receiver");
            }
            Err(e) => {
                tracing::warn!(event = %out.event_id, attempt, error = %e, "sandbox: webhook not delivered");
            }
        }
        if attempt == attempts {
            break;
        }
        // Jitter spreads retries of many events that failed together.
        let jitter = rand::thread_rng().gen_range(0..=backoff.as_millis() / 4 + 1);
        let wait = backoff + Duration::from_millis(u64::try_from(jitter).unwrap_or(0));
        tokio::time::sleep(wait.min(target.retry.max_backoff)).await;
        backoff = (backoff * 2).min(target.retry.max_backoff);
    }
    tracing::error!(event = %out.event_id, attempts, "sandbox: webhook given up");
}
