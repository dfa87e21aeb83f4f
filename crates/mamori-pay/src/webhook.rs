//! Signed webhooks: the signature scheme, the verifier mamori runs on every
//! incoming event, and the replay guard that refuses an event seen before.
//!
//! Scheme: `Mamori-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where
//! the MAC is taken with the shared webhook secret over the bytes
//! `"{t}.{raw body}"`. Several `v1=` entries may be present (the provider
//! signs with each secret while one is being rotated); one match suffices.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::connector::PaymentInfo;
use crate::wire::EventObject;

type HmacSha256 = Hmac<Sha256>;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Mamori-Signature";

/// How far an event's timestamp may be from now, either way, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Longest header value considered; anything longer is malformed.
const MAX_HEADER_LEN: usize = 2048;

/// Computes the hex HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`.
#[must_use]
pub fn compute_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here;
    // the fallback keeps this free of a panic path all the same.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// The full header value for `body` signed at `timestamp` with each of
/// `secrets` (one `v1=` entry per secret).
#[must_use]
pub fn signature_header(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut out = format!("t={timestamp}");
    for s in secrets {
        out.push_str(",v1=");
        out.push_str(&compute_signature(s, timestamp, body));
    }
    out
}

/// Why an incoming webhook was refused. None of these carries the body.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The signature header is absent.
    #[error("webhook refused: no {SIGNATURE_HEADER} header")]
    MissingHeader,
    /// The header does not have the `t=...,v1=...` shape.
    #[error("webhook refused: malformed signature header ({0})")]
    MalformedHeader(&'static str),
    /// No `v1` signature matches any of our secrets.
    #[error("webhook refused: bad signature")]
    BadSignature,
    /// The timestamp is older than the tolerance allows.
    #[error("webhook refused: stale timestamp ({age_secs} s old)")]
    Stale {
        /// How old the timestamp is.
        age_secs: i64,
    },
    /// The timestamp lies further ahead than the tolerance allows.
    #[error("webhook refused: timestamp {ahead_secs} s in the future")]
    FromFuture {
        /// How far ahead.
        ahead_secs: i64,
    },
    /// The event was accepted before: a replay.
    #[error("webhook refused: duplicate event {event_id}")]
    Duplicate {
        /// The repeated event id (ids are provider-made, never personal).
        event_id: String,
    },
    /// Correctly signed, but the body is not an event this version reads.
    #[error("webhook refused: malformed body ({0})")]
    MalformedBody(&'static str),
    /// The replay guard could not answer; the event is refused, not let through.
    #[error("webhook refused: replay guard unavailable")]
    Guard(#[source] ReplayGuardError),
}

/// A replay guard's failure (e.g. its database is unreachable).
#[derive(Debug, thiserror::Error)]
#[error("replay guard: {0}")]
pub struct ReplayGuardError(pub Box<dyn std::error::Error + Send + Sync>);

/// Remembers accepted event ids so that a replayed event is refused even
/// inside the timestamp window. The store implements this over its
/// database; [`MemoryReplayGuard`] serves one process.
#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Records `event_id` and answers `true` if it was not recorded before,
    /// `false` if it was. The record may be forgotten after `keep_until`:
    /// by then the event's timestamp is outside the window anyway.
    async fn first_seen(
        &self,
        event_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<bool, ReplayGuardError>;
}

/// An in-memory [`ReplayGuard`] for one process, bounded in size. When full
/// of unexpired ids it refuses (an error), rather than forgetting an id that
/// could then be replayed.
#[derive(Debug)]
pub struct MemoryReplayGuard {
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
    capacity: usize,
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl MemoryReplayGuard {
    /// A guard that holds at most `capacity` unexpired ids.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryReplayGuard {
            seen: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GuardMessage(&'static str);

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn first_seen(
        &self,
        event_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<bool, ReplayGuardError> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| ReplayGuardError(Box::new(GuardMessage("lock poisoned"))))?;
        if seen.contains_key(event_id) {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            let now = Utc::now();
            seen.retain(|_, until| *until > now);
            if seen.len() >= self.capacity {
                return Err(ReplayGuardError(Box::new(GuardMessage("full"))));
            }
        }
        seen.insert(event_id.to_owned(), keep_until);
        Ok(true)
    }
}

/// The kind of a webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEventKind {
    /// `payment.succeeded`: the payment is paid.
    PaymentSucceeded,
    /// `payment.failed`: the payment was refused.
    PaymentFailed,
    /// `payment.refunded`: part or all was refunded.
    PaymentRefunded,
    /// `payment.canceled`: canceled before payment.
    PaymentCanceled,
    /// A kind this version does not know (the payment is still verified).
    Other(String),
}

impl WebhookEventKind {
    /// The wire name (`"payment.succeeded"`, ...).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            WebhookEventKind::PaymentSucceeded => "payment.succeeded",
            WebhookEventKind::PaymentFailed => "payment.failed",
            WebhookEventKind::PaymentRefunded => "payment.refunded",
            WebhookEventKind::PaymentCanceled => "payment.canceled",
            WebhookEventKind::Other(s) => s,
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn from_wire(s: &str) -> Self {
        match s {
            "payment.succeeded" => WebhookEventKind::PaymentSucceeded,
            "payment.failed" => WebhookEventKind::PaymentFailed,
            "payment.refunded" => WebhookEventKind::PaymentRefunded,
            "payment.canceled" => WebhookEventKind::PaymentCanceled,
            other => WebhookEventKind::Other(other.to_owned()),
        }
    }
}

/// A verified webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The provider's event id (`evt_...`); unique per event, repeated on retries.
    pub id: String,
    /// What happened.
    pub kind: WebhookEventKind,
    /// When the provider created the event.
    pub created: DateTime<Utc>,
    /// The payment as it stood when the event was made.
    pub payment: PaymentInfo,
}

/// Verifies incoming webhooks: signature (constant-time), timestamp window
/// in both directions, body shape, then the replay guard.
///
/// Answer `2xx` to [`WebhookError::Duplicate`]: the provider retries until
/// it sees one, and the event was handled when it was first accepted. Make
/// the handling itself idempotent too (an order that is paid stays paid).
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<SecretString>,
    tolerance: Duration,
    guard: Arc<dyn ReplayGuard>,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

/// What a signature header says.
struct ParsedHeader {
    timestamp: i64,
    signatures: Vec<[u8; 32]>,
}

fn parse_header(value: &str) -> Result<ParsedHeader, WebhookError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(WebhookError::MalformedHeader("too long"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in value.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(WebhookError::MalformedHeader("entry without '='"))?;
        match k {
            "t" => {
                if timestamp.is_some() {
                    return Err(WebhookError::MalformedHeader("more than one t"));
                }
                if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(WebhookError::MalformedHeader("t is not unix seconds"));
                }
                timestamp = Some(
                    v.parse::<i64>()
                        .map_err(|_| WebhookError::MalformedHeader("t is not unix seconds"))?,
                );
            }
            "v1" => {
                let mut sig = [0u8; 32];
                hex::decode_to_slice(v, &mut sig)
                    .map_err(|_| WebhookError::MalformedHeader("v1 is not 64 hex digits"))?;
                signatures.push(sig);
            }
            // Other schemes (a future v2) are skipped so that the provider
            // can add one without breaking older receivers.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedHeader("no t"))?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedHeader("no v1"));
    }
    Ok(ParsedHeader {
        timestamp,
        signatures,
    })
}

impl WebhookVerifier {
    /// A verifier for `secret` with the default 300 s tolerance.
    #[must_use]
    pub fn new(secret: SecretString, guard: Arc<dyn ReplayGuard>) -> Self {
        WebhookVerifier {
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE,
            guard,
        }
    }

    /// Also accepts signatures made with `secret` (during a rotation).
    #[must_use]
    pub fn with_additional_secret(mut self, secret: SecretString) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Sets how far the timestamp may be from `now`, either way.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks signature and timestamp only (no body parsing, no replay
    /// guard) and returns the signed timestamp.
    pub fn verify_signature(
        &self,
        header: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, WebhookError> {
        let parsed = parse_header(header)?;
        let mut matched = subtle::Choice::from(0u8);
        for secret in &self.secrets {
            let expected = mac(secret.expose_secret().as_bytes(), parsed.timestamp, body);
            for sig in &parsed.signatures {
                matched |= expected.ct_eq(sig);
            }
        }
        if !bool::from(matched) {
            return Err(WebhookError::BadSignature);
        }
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        let age = now.timestamp().saturating_sub(parsed.timestamp);
        if age > tolerance {
            return Err(WebhookError::Stale { age_secs: age });
        }
        if age < tolerance.saturating_neg() {
            return Err(WebhookError::FromFuture {
                ahead_secs: age.saturating_neg(),
            });
        }
        Ok(parsed.timestamp)
    }

    /// Verifies the signature header value and raw body received at `now`,
    /// and records the event id in the replay guard.
    pub async fn verify(
        &self,
        header: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        let timestamp = self.verify_signature(header, body, now)?;
        let event: EventObject = serde_json::from_slice(body)
            .map_err(|_| WebhookError::MalformedBody("not a payment event"))?;
        if event.id.is_empty()
            || event.id.len() > 128
            || !event.id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(WebhookError::MalformedBody("event id"));
        }
        let created = Utc
            .timestamp_opt(event.created, 0)
            .single()
            .ok_or(WebhookError::MalformedBody("created"))?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        let keep_until = Utc
            .timestamp_opt(timestamp.saturating_add(tolerance.saturating_mul(2)), 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if !self
            .guard
            .first_seen(&event.id, keep_until)
            .await
            .map_err(WebhookError::Guard)?
        {
            return Err(WebhookError::Duplicate { event_id: event.id });
        }
        Ok(WebhookEvent {
            kind: WebhookEventKind::from_wire(&event.kind),
            created,
            payment: event.payment.to_info(),
            id: event.id,
        })
    }

    /// [`Self::verify`] taking the request's headers.
    pub async fn verify_headers(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        let value = headers
            .get(SIGNATURE_HEADER)
            .ok_or(WebhookError::MissingHeader)?
            .to_str()
            .map_err(|_| WebhookError::MalformedHeader("not visible ASCII"))?;
        self.verify(value, body, now).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed with OpenSSL: printf '1700000000.{"a":1}' |
        //   openssl dgst -sha256 -hmac whsec_test
        let sig = compute_signature(b"whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(sig.len(), 64);
        assert_eq!(
            sig,
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn protocol_md_worked_example() {
        assert_eq!(
            signature_header(&[b"whsec_example_0123456789"], 1_775_000_000, br#"{"a":1}"#),
            "t=1775000000,v1=413a8a2f43dd1b6256476400c934382939937107c575bfb71679c80ca235cac4"
        );
    }

    fn verifier(secret: &str) -> WebhookVerifier {
        WebhookVerifier::new(
            SecretString::from(secret.to_owned()),
            Arc::new(MemoryReplayGuard::default()),
        )
    }

    #[test]
    fn header_parsing() {
        let v = verifier("s");
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let body = b"x";
        let good = signature_header(&[b"s"], 1_700_000_000, body);
        assert_eq!(v.verify_signature(&good, body, now).unwrap(), 1_700_000_000);
        let spaced = good.replace(',', " , ");
        assert!(v.verify_signature(&spaced, body, now).is_ok());
        let rotated = signature_header(&[b"old", b"s"], 1_700_000_000, body);
        assert!(v.verify_signature(&rotated, body, now).is_ok());
        let with_v0 = format!("{good},v0=zz");
        assert!(v.verify_signature(&with_v0, body, now).is_ok());
        for bad in [
            "",
            "t=1700000000",
            "v1=00",
            "t=abc,v1=00",
            "t=-5,v1=00",
            "t=1,t=2,v1=00",
            "garbage",
            &format!("t=1700000000,v1={}", "g".repeat(64)),
        ] {
            assert!(
                matches!(
                    v.verify_signature(bad, body, now),
                    Err(WebhookError::MalformedHeader(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn window_both_ways() {
        let v = verifier("s");
        let t = 1_700_000_000;
        let body = b"x";
        let h = signature_header(&[b"s"], t, body);
        let at = |s: i64| Utc.timestamp_opt(s, 0).unwrap();
        assert!(v.verify_signature(&h, body, at(t + 300)).is_ok());
        assert!(v.verify_signature(&h, body, at(t - 300)).is_ok());
        assert!(matches!(
            v.verify_signature(&h, body, at(t + 301)),
            Err(WebhookError::Stale { age_secs: 301 })
        ));
        assert!(matches!(
            v.verify_signature(&h, body, at(t - 301)),
            Err(WebhookError::FromFuture { ahead_secs: 301 })
        ));
        let strict = verifier("s").with_tolerance(Duration::from_secs(10));
        assert!(matches!(
            strict.verify_signature(&h, body, at(t + 11)),
            Err(WebhookError::Stale { .. })
        ));
    }

    #[test]
    fn changed_body_or_secret_fails() {
        let v = verifier("s");
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let h = signature_header(&[b"s"], 1_700_000_000, b"amount=100");
        assert!(matches!(
            v.verify_signature(&h, b"amount=900", now),
            Err(WebhookError::BadSignature)
        ));
        let other = signature_header(&[b"t"], 1_700_000_000, b"amount=100");
        assert!(matches!(
            v.verify_signature(&other, b"amount=100", now),
            Err(WebhookError::BadSignature)
        ));
        // The timestamp is under the MAC: moving it breaks the signature.
        let moved = h.replace("t=1700000000", "t=1700000001");
        assert!(matches!(
            v.verify_signature(&moved, b"amount=100", now),
            Err(WebhookError::BadSignature)
        ));
    }

    #[tokio::test]
    async fn memory_guard_refuses_repeats_and_fails_closed_when_full() {
        let g = MemoryReplayGuard::with_capacity(2);
        let later = Utc::now() + chrono::Duration::seconds(600);
        assert!(g.first_seen("evt_1", later).await.unwrap());
        assert!(!g.first_seen("evt_1", later).await.unwrap());
        assert!(g.first_seen("evt_2", later).await.unwrap());
        assert!(g.first_seen("evt_3", later).await.is_err());
        let past = Utc::now() - chrono::Duration::seconds(1);
        let g = MemoryReplayGuard::with_capacity(1);
        assert!(g.first_seen("evt_1", past).await.unwrap());
        assert!(g.first_seen("evt_2", later).await.unwrap());
    }
}
