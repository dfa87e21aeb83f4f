//! Housekeeping: what the shop keeps no longer than it needs. Expired sessions still hold sealed
//! carts and checkout drafts (a buyer's name and address among them), sent mail keeps its sealed
//! payload, and expired link tokens may hold a sealed new address; none should wait in the
//! database for a breach.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use mamori_store::Records;
use mamori_web::clock::Clock;
use mamori_web::session::{SessionConfig, SessionStore};

/// Sent mail is kept this long (a customer asking "did you send it?" can still be answered).
pub const KEEP_SENT_MAIL: TimeDelta = TimeDelta::days(30);

/// What one round removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Housekept {
    /// Sessions past their idle or absolute timeout.
    pub sessions: u64,
    /// Mail rows sent before [`KEEP_SENT_MAIL`].
    pub sent_mail: u64,
    /// Expired single-use tokens (customers' and staff's links), used or not.
    pub tokens: u64,
    /// Card attempts and failed sign-ins older than [`mamori_store::fraud::KEEP_SECS`].
    pub fraud_signals: u64,
}

/// A round failed; the message names the part, never a value.
#[derive(Debug, thiserror::Error)]
#[error("housekeeping of {what} failed: {message}")]
pub struct HousekeepingError {
    what: &'static str,
    message: String,
}

/// Maps a failure of one part of a round to [`HousekeepingError`].
fn failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> HousekeepingError {
    move |e| HousekeepingError {
        what,
        message: e.to_string(),
    }
}

/// Removes expired sessions, old sent mail and expired tokens; built by
/// [`crate::Assembly::housekeeper`].
#[derive(Clone)]
pub struct Housekeeper {
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) session: SessionConfig,
    pub(crate) store: Arc<dyn Records>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Housekeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Housekeeper").finish_non_exhaustive()
    }
}

impl Housekeeper {
    /// One round as of `now`.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Housekept, HousekeepingError> {
        let ago = |d: Duration| now - TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        let sessions = self
            .sessions
            .purge_expired(
                ago(self.session.idle_timeout),
                ago(self.session.absolute_timeout),
            )
            .await
            .map_err(failed("sessions"))?;
        let sent_mail = self
            .store
            .outbox_purge_sent((now - KEEP_SENT_MAIL).timestamp())
            .await
            .map_err(failed("sent mail"))?;
        let tokens = self
            .store
            .tokens_purge(now.timestamp())
            .await
            .map_err(failed("tokens"))?;
        let fraud_signals = self
            .store
            .fraud_prune(now.timestamp() - mamori_store::fraud::KEEP_SECS)
            .await
            .map_err(failed("fraud signals"))?;
        Ok(Housekept {
            sessions,
            sent_mail,
            tokens,
            fraud_signals,
        })
    }

    /// A round every `every` (the first at once), until the task is dropped or aborted. Failures
    /// are logged and the next round tries again.
    pub async fn run(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.run_once(self.clock.now()).await {
                Ok(done) => tracing::info!(
                    sessions = done.sessions,
                    sent_mail = done.sent_mail,
                    tokens = done.tokens,
                    "housekeeping"
                ),
                Err(e) => tracing::error!(error = %e, "housekeeping"),
            }
        }
    }
}
