//! The transactional outbox and its delivery worker.
//!
//! The store writes an outbox row in the same transaction as the order or account change that
//! causes the mail, so a mail exists if and only if its cause was committed. A worker then:
//!
//! 1. **claims** up to `batch_size` due rows with a lease (`lease_until = now + lease`, a fresh
//!    claim token, `attempts += 1`). The SQL store will do this with
//!    `SELECT … FOR UPDATE SKIP LOCKED`, so several workers never claim the same row at once;
//! 2. composes and sends each one;
//! 3. marks it **sent**, or **failed** with the next attempt time (exponential backoff with
//!    jitter), or **dead** after too many attempts.
//!
//! A worker that dies between 1 and 3 leaves its rows claimed; they become due again when the
//! lease runs out and another worker sends them. A row marked sent is never claimed again.
//!
//! # Delivery guarantee: at least once, deduplicable
//!
//! No mail is lost: a row leaves the outbox only as *sent* (after the server's `250` to `DATA`)
//! or *dead* (after the configured attempts, kept for an operator to inspect). The window for a
//! duplicate is between the server's `250` and the store recording *sent*: a crash, a lost
//! connection after `.` was sent, or a lease that ran out during a slow send leads to a second
//! delivery. SMTP offers no way to close that window. The second copy carries the same
//! `Message-ID` (derived from the row id) and the same `Date`, so mail clients, archives and
//! the shop's own tooling can recognise and drop it.
//!
//! To keep the window small the worker skips a claimed row when less than
//! [`WorkerConfig::lease_margin`] of its lease is left (the row becomes due again and is claimed
//! afresh), so a lease should exceed the transport timeout by a good margin.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use uuid::Uuid;

use crate::message::{Composer, OutgoingMail};
use crate::transport::{FailureKind, MailTransport, TransportError};

/// Why an outbox operation failed (the store, not the delivery).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum OutboxError {
    /// The storage backend failed; the text must not contain personal data.
    #[error("outbox store failure: {0}")]
    Store(String),
    /// An in-memory lock was poisoned by a panic elsewhere.
    #[error("outbox lock poisoned")]
    Poisoned,
}

/// A claim on one outbox row, held until the lease runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The row (and mail) id.
    pub mail_id: Uuid,
    /// Identifies this claim; a later claim of the same row gets a new token, and outcomes
    /// reported with an old token (except *sent*) are ignored.
    pub token: Uuid,
    /// Which attempt this is, starting at 1.
    pub attempt: u32,
    /// The lease's end.
    pub lease_until: DateTime<Utc>,
}

/// A claimed row: the claim and the mail.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    /// The claim.
    pub claim: Claim,
    /// The mail.
    pub mail: OutgoingMail,
}

/// What to do with a row after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Due again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up: the row goes to the dead state.
    Dead,
}

/// A failed attempt as the store records it. Carries codes and fixed texts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    /// Transient or permanent.
    pub kind: FailureKind,
    /// SMTP code if any.
    pub code: Option<u16>,
    /// Fixed description (never server text or personal data).
    pub reason: String,
    /// Retry or give up.
    pub outcome: FailureOutcome,
}

/// Storage of the outbox. The SQL store implements it over its `mail_outbox` table; the
/// [`MemoryOutbox`] here serves tests and development.
///
/// Enqueueing is not part of the trait: it happens inside the store's own transaction together
/// with the order or change that causes the mail.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` rows that are due (`next_attempt_at <= now`), not sent, not dead,
    /// and not under a live lease (`lease_until` unset or `<= now`). Each claimed row gets a new
    /// token, `attempts + 1` and `lease_until = now + lease`.
    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedMail>, OutboxError>;

    /// Records that the mail was handed over. Must succeed even if the claim's lease has expired
    /// or the row was claimed again meanwhile (the mail *was* sent), and must be idempotent.
    async fn mark_sent(&self, claim: &Claim, at: DateTime<Utc>) -> Result<(), OutboxError>;

    /// Records a failed attempt: sets the next attempt time or moves the row to the dead state,
    /// and clears the lease. Ignored when the token is not the row's current claim or the row is
    /// already sent.
    async fn mark_failed(&self, claim: &Claim, failure: &FailureRecord) -> Result<(), OutboxError>;

    /// Gives a claimed row back without counting the attempt (the worker is shutting down or the
    /// lease is too short to start a send). Ignored for a stale token.
    async fn release(&self, claim: &Claim) -> Result<(), OutboxError>;
}

/// The state of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailState {
    /// Waiting for (another) attempt, possibly under a lease.
    Pending,
    /// Handed over to the transport.
    Sent,
    /// Given up after too many attempts.
    Dead,
}

/// What [`MemoryOutbox::status`] reports about a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxStatus {
    /// State.
    pub state: MailState,
    /// Attempts made (claims).
    pub attempts: u32,
    /// The last failure, if any.
    pub last_failure: Option<FailureRecord>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Row {
    mail: OutgoingMail,
    state: MailState,
    attempts: u32,
    next_attempt_at: DateTime<Utc>,
    lease: Option<(Uuid, DateTime<Utc>)>,
    last_failure: Option<FailureRecord>,
    sent_at: Option<DateTime<Utc>>,
}

/// An in-memory [`OutboxStore`] (tests, development). Rows are claimed in id order, which for
/// UUIDv7 ids is queue order.
#[derive(Debug)]
pub struct MemoryOutbox {
    rows: Mutex<BTreeMap<Uuid, Row>>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for MemoryOutbox {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryOutbox {
    /// An empty outbox.
    #[must_use]
    pub fn new() -> Self {
        Self {
            rows: Mutex::new(BTreeMap::new()),
            changed: tokio::sync::watch::Sender::new(0),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<Uuid, Row>>, OutboxError> {
        self.rows.lock().map_err(|_| OutboxError::Poisoned)
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Queues a mail, due now. Queuing the same id twice keeps the first.
    pub fn enqueue(&self, mail: OutgoingMail) -> Result<Uuid, OutboxError> {
        let id = mail.id;
        self.lock()?.entry(id).or_insert_with(|| Row {
            next_attempt_at: mail.created_at,
            mail,
            state: MailState::Pending,
            attempts: 0,
            lease: None,
            last_failure: None,
            sent_at: None,
        });
        self.bump();
        Ok(id)
    }

    /// The status of a row.
    pub fn status(&self, id: Uuid) -> Result<Option<OutboxStatus>, OutboxError> {
        Ok(self.lock()?.get(&id).map(|r| OutboxStatus {
            state: r.state,
            attempts: r.attempts,
            last_failure: r.last_failure.clone(),
            sent_at: r.sent_at,
        }))
    }

    /// Waits until the row reaches `state`, or `timeout` passes (then returns the last status).
    pub async fn wait_for_state(
        &self,
        id: Uuid,
        state: MailState,
        timeout: Duration,
    ) -> Result<Option<OutboxStatus>, OutboxError> {
        let mut rx = self.changed.subscribe();
        let wait = async {
            loop {
                match self.status(id)? {
                    Some(s) if s.state == state => return Ok::<_, OutboxError>(()),
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Ok(());
                }
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        self.status(id)
    }
}

#[async_trait]
impl OutboxStore for MemoryOutbox {
    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedMail>, OutboxError> {
        let lease = chrono::Duration::from_std(lease)
            .map_err(|_| OutboxError::Store("lease out of range".into()))?;
        let mut out = Vec::new();
        {
            let mut rows = self.lock()?;
            for (id, row) in rows.iter_mut() {
                if out.len() >= limit {
                    break;
                }
                let leased = matches!(row.lease, Some((_, until)) if until > now);
                if row.state != MailState::Pending || row.next_attempt_at > now || leased {
                    continue;
                }
                let token = Uuid::new_v4();
                let lease_until = now + lease;
                row.attempts = row.attempts.saturating_add(1);
                row.lease = Some((token, lease_until));
                out.push(ClaimedMail {
                    claim: Claim {
                        mail_id: *id,
                        token,
                        attempt: row.attempts,
                        lease_until,
                    },
                    mail: row.mail.clone(),
                });
            }
        }
        if !out.is_empty() {
            self.bump();
        }
        Ok(out)
    }

    async fn mark_sent(&self, claim: &Claim, at: DateTime<Utc>) -> Result<(), OutboxError> {
        {
            let mut rows = self.lock()?;
            if let Some(row) = rows.get_mut(&claim.mail_id) {
                if row.state != MailState::Sent {
                    row.state = MailState::Sent;
                    row.sent_at = Some(at);
                }
                row.lease = None;
            }
        }
        self.bump();
        Ok(())
    }

    async fn mark_failed(&self, claim: &Claim, failure: &FailureRecord) -> Result<(), OutboxError> {
        {
            let mut rows = self.lock()?;
            let Some(row) = rows.get_mut(&claim.mail_id) else {
                return Ok(());
            };
            let current = matches!(row.lease, Some((token, _)) if token == claim.token);
            if !current || row.state != MailState::Pending {
                return Ok(());
            }
            row.lease = None;
            row.last_failure = Some(failure.clone());
            match failure.outcome {
                FailureOutcome::RetryAt(at) => row.next_attempt_at = at,
                FailureOutcome::Dead => row.state = MailState::Dead,
            }
        }
        self.bump();
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), OutboxError> {
        {
            let mut rows = self.lock()?;
            if let Some(row) = rows.get_mut(&claim.mail_id) {
                if matches!(row.lease, Some((token, _)) if token == claim.token) {
                    row.lease = None;
                    row.attempts = row.attempts.saturating_sub(1);
                }
            }
        }
        self.bump();
        Ok(())
    }
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub base: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max: Duration::from_secs(6 * 60 * 60),
        }
    }
}

impl Backoff {
    /// The delay before attempt `failed_attempt + 1`: `min(max, base × 2^(failed_attempt-1))`,
    /// then a uniform draw from its upper half ("equal jitter"), so workers that failed together
    /// against a recovering server do not come back together, while the delay still grows.
    pub fn delay<R: Rng + ?Sized>(&self, failed_attempt: u32, rng: &mut R) -> Duration {
        let exp = failed_attempt.saturating_sub(1).min(30);
        let full = self
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        let half = full / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rng.gen_range(0..=jitter_nanos))
    }
}

/// Settings of [`run_worker`].
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Rows claimed per round.
    pub batch_size: usize,
    /// How long a claim lasts before another worker may take the row.
    pub lease: Duration,
    /// A claimed row is given back instead of sent when less than this is left of its lease.
    pub lease_margin: Duration,
    /// Pause when nothing was due (or the store failed).
    pub poll_interval: Duration,
    /// Attempts before a row goes dead after transient failures.
    pub max_attempts: u32,
    /// Attempts before a row goes dead after permanent (5xx) rejections. Not 1, because some
    /// servers answer 5xx for conditions that clear (a full mailbox, a greylisting mistake).
    pub max_permanent_attempts: u32,
    /// Retry delays.
    pub backoff: Backoff,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            lease: Duration::from_secs(10 * 60),
            lease_margin: Duration::from_secs(2 * 60),
            poll_interval: Duration::from_secs(5),
            max_attempts: 12,
            max_permanent_attempts: 3,
            backoff: Backoff::default(),
        }
    }
}

/// What one round of [`Worker::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows sent.
    pub sent: usize,
    /// Rows scheduled for a retry.
    pub retried: usize,
    /// Rows moved to the dead state.
    pub dead: usize,
    /// Rows given back unsent (lease too short, shutdown).
    pub released: usize,
}

/// Delivers outbox rows through a transport. Cheap to clone; several workers (tasks or
/// processes) may share one store.
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn OutboxStore>,
    transport: Arc<dyn MailTransport>,
    composer: Arc<Composer>,
    config: WorkerConfig,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("transport", &self.transport)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker over `store`, sending through `transport`, composing with `composer`.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        transport: Arc<dyn MailTransport>,
        composer: Arc<Composer>,
        config: WorkerConfig,
    ) -> Self {
        Self {
            store,
            transport,
            composer,
            config,
        }
    }

    /// Claims one batch and handles it; returns what happened.
    pub async fn run_once(&self) -> Result<RoundReport, OutboxError> {
        let batch = self
            .store
            .claim(self.config.batch_size, self.config.lease, Utc::now())
            .await?;
        let mut report = RoundReport {
            claimed: batch.len(),
            ..RoundReport::default()
        };
        for claimed in batch {
            match self.deliver(&claimed).await? {
                Outcome::Sent => report.sent += 1,
                Outcome::Retry => report.retried += 1,
                Outcome::Dead => report.dead += 1,
                Outcome::Released => report.released += 1,
            }
        }
        Ok(report)
    }

    async fn deliver(&self, claimed: &ClaimedMail) -> Result<Outcome, OutboxError> {
        let claim = &claimed.claim;
        let limit = self.config.max_attempts.max(1);
        if claim.attempt > limit {
            // Earlier attempts ended without an outcome (crashes): the mail itself may be what
            // kills the worker, so stop here.
            let record = FailureRecord {
                kind: FailureKind::Transient,
                code: None,
                reason: "attempts exhausted without an outcome".into(),
                outcome: FailureOutcome::Dead,
            };
            self.store.mark_failed(claim, &record).await?;
            tracing::warn!(mail_id = %claim.mail_id, attempt = claim.attempt, "mail dead: attempts exhausted");
            return Ok(Outcome::Dead);
        }
        let margin = chrono::Duration::from_std(self.config.lease_margin)
            .unwrap_or(chrono::Duration::zero());
        if claim.lease_until - Utc::now() < margin {
            self.store.release(claim).await?;
            return Ok(Outcome::Released);
        }

        let prepared = match self.composer.compose(&claimed.mail) {
            Ok(p) => p,
            Err(err) => {
                // A mail that cannot be composed never will be: no retries.
                let record = FailureRecord {
                    kind: FailureKind::Permanent,
                    code: None,
                    reason: format!("composition failed: {err}"),
                    outcome: FailureOutcome::Dead,
                };
                self.store.mark_failed(claim, &record).await?;
                tracing::error!(mail_id = %claim.mail_id, error = %err, "mail dead: cannot compose");
                return Ok(Outcome::Dead);
            }
        };

        match self.transport.send(&prepared).await {
            Ok(()) => {
                self.store.mark_sent(claim, Utc::now()).await?;
                tracing::info!(mail_id = %claim.mail_id, attempt = claim.attempt, "mail sent");
                Ok(Outcome::Sent)
            }
            Err(err) => {
                let record = self.failure_record(claim, &err);
                let dead = record.outcome == FailureOutcome::Dead;
                self.store.mark_failed(claim, &record).await?;
                if dead {
                    tracing::warn!(mail_id = %claim.mail_id, attempt = claim.attempt, code = ?err.code, "mail dead: {}", err.reason);
                    Ok(Outcome::Dead)
                } else {
                    tracing::info!(mail_id = %claim.mail_id, attempt = claim.attempt, code = ?err.code, "mail deferred: {}", err.reason);
                    Ok(Outcome::Retry)
                }
            }
        }
    }

    fn failure_record(&self, claim: &Claim, err: &TransportError) -> FailureRecord {
        let limit = match err.kind {
            FailureKind::Transient => self.config.max_attempts,
            FailureKind::Permanent => self
                .config
                .max_permanent_attempts
                .min(self.config.max_attempts),
        }
        .max(1);
        let outcome = if claim.attempt >= limit {
            FailureOutcome::Dead
        } else {
            let delay = self
                .config
                .backoff
                .delay(claim.attempt, &mut rand::thread_rng());
            let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            FailureOutcome::RetryAt(
                Utc::now()
                    .checked_add_signed(delay)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            )
        };
        FailureRecord {
            kind: err.kind,
            code: err.code,
            reason: err.reason.to_owned(),
            outcome,
        }
    }

    /// Runs rounds until `shutdown` completes. Between rounds it sleeps `poll_interval` when
    /// nothing was claimed. Store errors are logged and retried after `poll_interval` (the
    /// database may be restarting); they do not stop the worker.
    ///
    /// A `lease` not longer than `lease_margin` makes every claim be given back unsent; it is
    /// logged as a warning once at start.
    ///
    /// Shutdown is checked between rounds and while idle; a round in progress is finished
    /// unless the task is dropped, which is safe too (the leases run out).
    pub async fn run<F>(&self, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        if self.config.lease <= self.config.lease_margin {
            tracing::warn!("outbox lease is not longer than lease_margin: no mail will be sent");
        }
        tokio::pin!(shutdown);
        loop {
            // Polls the shutdown future once without waiting, so a round is never cut short.
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = std::future::ready(()) => {}
            }
            let idle = match self.run_once().await {
                // A round that only gave claims back made no progress; sleeping avoids a hot
                // claim/release loop when the lease is configured shorter than the margin.
                Ok(report) => report.claimed == report.released,
                Err(err) => {
                    tracing::warn!(error = %err, "outbox round failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    biased;
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }
}

enum Outcome {
    Sent,
    Retry,
    Dead,
    Released,
}

/// Runs a [`Worker`] until `shutdown` completes: the entry point the shop's binary spawns.
pub async fn run_worker<F>(
    store: Arc<dyn OutboxStore>,
    transport: Arc<dyn MailTransport>,
    composer: Arc<Composer>,
    config: WorkerConfig,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    Worker::new(store, transport, composer, config)
        .run(shutdown)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::PreparedMail;
    use crate::message::Recipient;
    use rand::SeedableRng as _;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn mail() -> OutgoingMail {
        OutgoingMail::new(Recipient::new("a@example.jp").unwrap(), "件名", "本文")
    }

    const LEASE: Duration = Duration::from_secs(60);

    #[test]
    fn backoff_grows_stays_in_bounds_and_jitters() {
        let b = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(300),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..=40u32 {
            let full = Duration::from_secs(10)
                .saturating_mul(1u32 << (attempt - 1).min(30))
                .min(Duration::from_secs(300));
            for _ in 0..50 {
                let d = b.delay(attempt, &mut rng);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        let draws: std::collections::HashSet<_> = (0..20).map(|_| b.delay(3, &mut rng)).collect();
        assert!(draws.len() > 1, "jitter must vary the delay");
    }

    #[tokio::test]
    async fn claim_respects_leases_due_times_and_limits() {
        let store = MemoryOutbox::new();
        let now = Utc::now() + chrono::Duration::seconds(1);
        let ids: Vec<_> = (0..3).map(|_| store.enqueue(mail()).unwrap()).collect();
        let first = store.claim(2, LEASE, now).await.unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].claim.mail_id, ids[0]);
        assert_eq!(first[0].claim.attempt, 1);
        // Leased rows are not claimed again while the lease lives.
        let second = store.claim(10, LEASE, now).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].claim.mail_id, ids[2]);
        // After the lease, they are, with a new token and attempt count.
        let later = now + chrono::Duration::seconds(61);
        let third = store.claim(10, LEASE, later).await.unwrap();
        assert_eq!(third.len(), 3);
        let again = third.iter().find(|c| c.claim.mail_id == ids[0]).unwrap();
        assert_eq!(again.claim.attempt, 2);
        assert_ne!(again.claim.token, first[0].claim.token);

        // The stale claim cannot fail the row, but the current one can, and a retry time in
        // the future keeps it from being claimed.
        let stale = FailureRecord {
            kind: FailureKind::Transient,
            code: Some(451),
            reason: "x".into(),
            outcome: FailureOutcome::Dead,
        };
        store.mark_failed(&first[0].claim, &stale).await.unwrap();
        assert_eq!(
            store.status(ids[0]).unwrap().unwrap().state,
            MailState::Pending
        );
        let retry = FailureRecord {
            outcome: FailureOutcome::RetryAt(later + chrono::Duration::seconds(30)),
            ..stale.clone()
        };
        store.mark_failed(&again.claim, &retry).await.unwrap();
        let not_yet = store
            .claim(10, LEASE, later + chrono::Duration::seconds(10))
            .await
            .unwrap();
        assert!(not_yet.iter().all(|c| c.claim.mail_id != ids[0]));

        // Sent is final, idempotent, and accepted from a stale claim.
        store.mark_sent(&first[1].claim, later).await.unwrap();
        store.mark_sent(&first[1].claim, later).await.unwrap();
        let st = store.status(ids[1]).unwrap().unwrap();
        assert_eq!(st.state, MailState::Sent);
        let far = later + chrono::Duration::days(365);
        let all = store.claim(10, LEASE, far).await.unwrap();
        assert!(all.iter().all(|c| c.claim.mail_id != ids[1]));
        // A failure reported after "sent" does not resurrect it.
        let c = all.iter().find(|c| c.claim.mail_id == ids[2]).unwrap();
        store.mark_sent(&c.claim, far).await.unwrap();
        store.mark_failed(&c.claim, &retry).await.unwrap();
        assert_eq!(
            store.status(ids[2]).unwrap().unwrap().state,
            MailState::Sent
        );
    }

    #[tokio::test]
    async fn release_gives_the_row_back_without_counting_the_attempt() {
        let store = MemoryOutbox::new();
        let id = store.enqueue(mail()).unwrap();
        let now = Utc::now() + chrono::Duration::seconds(1);
        let c = store.claim(1, LEASE, now).await.unwrap();
        store.release(&c[0].claim).await.unwrap();
        let again = store.claim(1, LEASE, now).await.unwrap();
        assert_eq!(again[0].claim.mail_id, id);
        assert_eq!(again[0].claim.attempt, 1);
    }

    /// Counts sends and fails them all transiently.
    #[derive(Debug, Default)]
    struct Failing(AtomicUsize);

    #[async_trait]
    impl MailTransport for Failing {
        async fn send(&self, _: &PreparedMail) -> Result<(), TransportError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(TransportError::transient("test"))
        }
    }

    fn worker(store: Arc<MemoryOutbox>, t: Arc<Failing>, config: WorkerConfig) -> Worker {
        let composer = Composer::new("shop@mamori.example", "mamori.example").unwrap();
        Worker::new(store, t, Arc::new(composer), config)
    }

    #[tokio::test]
    async fn a_row_that_keeps_crashing_workers_goes_dead_without_another_send() {
        let store = Arc::new(MemoryOutbox::new());
        let id = store.enqueue(mail()).unwrap();
        let config = WorkerConfig {
            max_attempts: 2,
            lease: Duration::from_secs(60),
            lease_margin: Duration::ZERO,
            ..WorkerConfig::default()
        };
        // Two claims that never report (crashed workers).
        for i in 1..=2 {
            let t = Utc::now() + chrono::Duration::seconds(120 * i);
            assert_eq!(store.claim(1, LEASE, t).await.unwrap().len(), 1);
        }
        // The worker runs on the wall clock; drop the last crashed claim's lease so the row is
        // due for it now.
        {
            let mut rows = store.rows.lock().unwrap();
            rows.get_mut(&id).unwrap().lease = None;
        }
        let t = Arc::new(Failing::default());
        let report = worker(store.clone(), t.clone(), config)
            .run_once()
            .await
            .unwrap();
        assert_eq!(report.dead, 1);
        assert_eq!(t.0.load(Ordering::SeqCst), 0, "no send on an exhausted row");
        assert_eq!(store.status(id).unwrap().unwrap().state, MailState::Dead);
    }

    #[tokio::test]
    async fn uncomposable_mail_goes_dead_at_once_and_transient_failures_schedule_a_retry() {
        let store = Arc::new(MemoryOutbox::new());
        let bad = store
            .enqueue(mail().with_header("Bcc", "x@example.com"))
            .unwrap();
        let good = store.enqueue(mail()).unwrap();
        let t = Arc::new(Failing::default());
        let report = worker(store.clone(), t.clone(), WorkerConfig::default())
            .run_once()
            .await
            .unwrap();
        assert_eq!(report.claimed, 2);
        assert_eq!(report.dead, 1);
        assert_eq!(report.retried, 1);
        assert_eq!(t.0.load(Ordering::SeqCst), 1);
        let bad = store.status(bad).unwrap().unwrap();
        assert_eq!(bad.state, MailState::Dead);
        assert!(!bad.last_failure.unwrap().reason.contains("x@example.com"));
        let good = store.status(good).unwrap().unwrap();
        assert_eq!(good.state, MailState::Pending);
        assert!(matches!(
            good.last_failure.unwrap().outcome,
            FailureOutcome::RetryAt(at) if at > Utc::now()
        ));
    }

    #[tokio::test]
    async fn a_claim_with_too_little_lease_left_is_released_unsent() {
        let store = Arc::new(MemoryOutbox::new());
        let id = store.enqueue(mail()).unwrap();
        let config = WorkerConfig {
            lease: Duration::from_secs(5),
            lease_margin: Duration::from_secs(60),
            ..WorkerConfig::default()
        };
        let t = Arc::new(Failing::default());
        let report = worker(store.clone(), t.clone(), config)
            .run_once()
            .await
            .unwrap();
        assert_eq!(report.released, 1);
        assert_eq!(t.0.load(Ordering::SeqCst), 0);
        let st = store.status(id).unwrap().unwrap();
        assert_eq!((st.state, st.attempts), (MailState::Pending, 0));
    }
}
