//! The outbox area of the store.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

/// The mail outbox: payloads stay sealed; the worker opens them through the gateway.
#[async_trait]
pub trait MailOutboxStore: Send + Sync {
    /// Queues mails (state `pending`, no attempts yet) in one transaction.
    async fn outbox_enqueue(&self, rows: &[OutboxRow]) -> Result<()>;

    /// Claims up to `limit` rows that are pending, due (`next_attempt_at <= now`) and not under a
    /// live lease (`lease_until` unset or `<= now`), oldest due first: each gets a fresh claim
    /// token (UUIDv4), `attempts + 1` and `lease_until = now + lease_secs`. Workers in several
    /// tasks or processes never claim the same row at once (SQLite: `BEGIN IMMEDIATE`;
    /// PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn outbox_claim(
        &self,
        limit: i64,
        lease_secs: i64,
        now: i64,
    ) -> Result<Vec<OutboxClaimRow>>;

    /// Records that the mail was handed over, whatever the token (the mail *was* sent) and
    /// idempotently (a second call keeps the first `sent_at`). Clears the lease.
    async fn outbox_mark_sent(&self, id: &str, at: i64) -> Result<()>;

    /// Records a failed attempt of the current claim `token`: due again at `next_attempt_at`, or
    /// `dead` when it is None; `reason` goes to `last_error`; the lease is cleared. Ignored when
    /// `token` is not the row's current claim or the row is not pending.
    async fn outbox_mark_failed(
        &self,
        id: &str,
        token: &str,
        next_attempt_at: Option<i64>,
        reason: &str,
    ) -> Result<()>;

    /// Gives a claimed row back without counting the attempt (`attempts - 1`, lease cleared).
    /// Ignored for a stale token.
    async fn outbox_release(&self, id: &str, token: &str) -> Result<()>;

    /// Where a row stands.
    async fn outbox_status(&self, id: &str) -> Result<Option<OutboxStatusRow>>;

    /// Deletes rows sent before `sent_before` (their sealed payloads need not be kept); returns
    /// how many went.
    async fn outbox_purge_sent(&self, sent_before: i64) -> Result<u64>;
}
