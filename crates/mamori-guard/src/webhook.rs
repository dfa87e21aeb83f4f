//! Webhook delivery of alerts: a worker that posts each queued delivery (JSON) with an
//! HMAC-SHA256 signature and timestamp, and retries with exponential backoff.
//!
//! Headers: `Content-Type: application/json`, `Mamori-Delivery: <delivery id>` (the same on every
//! retry, so a receiver can drop repeats) and `Mamori-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 under the shared secret of the bytes "<t>.<body>">` — the scheme of the payment
//! provider's webhooks. A receiver should refuse a timestamp far from its clock.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use mamori_store::{AlertWebhookRow, Records};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Mamori-Signature";
/// The delivery id header.
pub const DELIVERY_HEADER: &str = "Mamori-Delivery";

/// Where alerts are posted.
#[derive(Clone)]
pub struct WebhookTarget {
    /// The URL (https in production; loopback http in tests).
    pub url: String,
    /// The shared secret.
    pub secret: SecretString,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// How the worker retries.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// How often the queue is looked at when idle.
    pub poll_interval: Duration,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// First retry after this; doubled per attempt.
    pub backoff_base: Duration,
    /// Longest wait between attempts.
    pub backoff_max: Duration,
    /// After this many attempts a delivery is given up (`dead`; the alert itself stays stored,
    /// mailed and shown).
    pub max_attempts: i64,
    /// How long a claim holds a delivery.
    pub lease: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 30,
            lease: Duration::from_secs(60),
        }
    }
}

/// The signature header value of `body` at `timestamp`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

/// HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail; no panic path all the same.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        return [0; 32];
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// Posts queued alert webhooks.
pub struct WebhookWorker {
    records: Arc<dyn Records>,
    target: WebhookTarget,
    config: WebhookConfig,
    client: reqwest::Client,
}

impl WebhookWorker {
    /// A worker over `records`' queue posting to `target`.
    pub fn new(
        records: Arc<dyn Records>,
        target: WebhookTarget,
        config: WebhookConfig,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            records,
            target,
            config,
            client,
        })
    }

    /// Runs until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.run_once().await {
                Ok(n) => n > 0,
                Err(err) => {
                    tracing::error!(error = %err, "alert webhook queue could not be read");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Claims and posts what is due once; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, mamori_store::StoreError> {
        let now = chrono::Utc::now().timestamp();
        let lease = i64::try_from(self.config.lease.as_secs()).unwrap_or(60);
        let rows = self.records.alert_webhook_claim(10, lease, now).await?;
        let n = rows.len();
        for row in rows {
            self.deliver(row).await?;
        }
        Ok(n)
    }

    async fn deliver(&self, row: AlertWebhookRow) -> Result<(), mamori_store::StoreError> {
        let ts = chrono::Utc::now().timestamp();
        let sig = signature(
            self.target.secret.expose_secret().as_bytes(),
            ts,
            row.body.as_bytes(),
        );
        let sent = self
            .client
            .post(&self.target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sig)
            .header(DELIVERY_HEADER, &row.id)
            .body(row.body.clone())
            .send()
            .await;
        let failure = match sent {
            Ok(res) if res.status().is_success() => None,
            Ok(res) => Some(format!("status {}", res.status().as_u16())),
            Err(e) if e.is_timeout() => Some("timeout".to_owned()),
            Err(e) if e.is_connect() => Some("connection failed".to_owned()),
            Err(_) => Some("request failed".to_owned()),
        };
        let now = chrono::Utc::now().timestamp();
        match failure {
            None => self.records.alert_webhook_sent(&row.id, now).await,
            Some(reason) => {
                tracing::warn!(delivery = %row.id, alert_id = %row.alert_id, %reason,
                    attempt = row.attempts, "alert webhook failed");
                let next = (row.attempts < self.config.max_attempts)
                    .then(|| now.saturating_add(self.backoff_secs(row.attempts)));
                self.records
                    .alert_webhook_failed(&row.id, next, &reason)
                    .await
            }
        }
    }

    /// Seconds before the next attempt after `attempts` attempts: base·2^(attempts-1), capped.
    fn backoff_secs(&self, attempts: i64) -> i64 {
        let base = self.config.backoff_base.as_secs().max(1);
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let wait = base
            .saturating_mul(1u64 << shift)
            .min(self.config.backoff_max.as_secs().max(1));
        i64::try_from(wait).unwrap_or(i64::MAX)
    }
}
