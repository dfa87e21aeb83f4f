//! Notices to individuals of an incident (`notice_runs`, `incident_notices`, migration
//! `0020_incident_notices.sql`): the run (its frozen draft and rate) and one row per notice queued,
//! keyed by (incident, customer) so that no person is queued twice. No personal value: ids,
//! counts, the operator's words and delivery status codes.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::OutboxRow;

/// A notice run as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct NoticeRunRow {
    /// The incident.
    pub incident_id: i64,
    /// The scope snapshot the people come from.
    pub scope_id: String,
    /// The draft (JSON of the operator's free text), frozen at start.
    pub draft: String,
    /// SHA-256 of `draft` (hex).
    pub draft_sha256: String,
    /// Notices per minute handed to the mail worker.
    pub rate_per_min: i64,
    /// People to notify.
    pub total: i64,
    /// Started at (Unix seconds).
    pub started_at: i64,
    /// Who started it (`staff:<id>`, `system:cli:incident`).
    pub started_by: String,
    /// When every notice was queued.
    pub completed_at: Option<i64>,
}

/// One notice as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct NoticeRow {
    /// The incident.
    pub incident_id: i64,
    /// The person.
    pub customer_id: String,
    /// The notice's id (= its outbox row's id).
    pub id: String,
    /// 0-based position in the run.
    pub position: i64,
    /// Queued at (Unix seconds).
    pub queued_at: i64,
    /// `permanent` or `transient` once a delivery status notification came back.
    pub bounce: Option<String>,
    /// The DSN's status code (`5.1.1`).
    pub bounce_status: Option<String>,
    /// When the DSN was matched.
    pub bounced_at: Option<i64>,
}

/// Where a run stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoticeProgress {
    /// Notices queued.
    pub queued: i64,
    /// Of those, handed over by the mail worker (outbox rows sent; rows purged after sending
    /// are not counted).
    pub sent: i64,
    /// Of those, given up by the mail worker.
    pub dead: i64,
    /// Bounced permanently (letters to send).
    pub bounced_permanent: i64,
    /// Bounced transiently.
    pub bounced_transient: i64,
}

/// The notices area.
#[async_trait]
pub trait NoticeStore: Send + Sync {
    /// Stores a run; false (and nothing written) when the incident has one already.
    async fn notice_run_insert(&self, row: &NoticeRunRow) -> Result<bool>;

    /// The incident's run.
    async fn notice_run(&self, incident_id: i64) -> Result<Option<NoticeRunRow>>;

    /// Marks the run complete (the first time only).
    async fn notice_run_complete(&self, incident_id: i64, at: i64) -> Result<()>;

    /// The customers already queued for the incident.
    async fn notice_customers(&self, incident_id: i64) -> Result<Vec<String>>;

    /// Writes each notice with its outbox row in one transaction: a notice whose (incident,
    /// customer) exists already is skipped with its outbox row. Returns how many were written.
    async fn notices_enqueue(&self, rows: &[(NoticeRow, OutboxRow)]) -> Result<u64>;

    /// Counts for the progress display.
    async fn notice_progress(&self, incident_id: i64) -> Result<NoticeProgress>;

    /// The incident's notices in run order, from `offset`, at most `limit`.
    async fn notices_list(
        &self,
        incident_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<NoticeRow>>;

    /// One notice by id.
    async fn notice(&self, id: &str) -> Result<Option<NoticeRow>>;

    /// Records a delivery status notification for a notice (a permanent one is never replaced
    /// by a transient one). False for an unknown id.
    async fn notice_bounce(&self, id: &str, kind: &str, status: &str, at: i64) -> Result<bool>;

    /// The notices that bounced permanently, in run order (the letters to send).
    async fn notices_bounced(&self, incident_id: i64) -> Result<Vec<NoticeRow>>;
}
