//! The incident inquiry desk's rows (`incident_inquiries`, migration
//! `0027_incident_inquiries.sql`), gateway only: a row carries the sender's values sealed and
//! the email's blind index, so it is sealed and opened by [`crate::Gateway`]
//! (`submit_inquiry`, `inquiry_heads`, `inquiry_open`) and never handed to a handler as is.

use async_trait::async_trait;

use crate::error::Result;

/// An inquiry's status: `open` until a member of staff marks it answered.
pub mod inquiry_status {
    /// Received, not answered yet.
    pub const OPEN: &str = "open";
    /// Answered by the desk.
    pub const ANSWERED: &str = "answered";
}

/// One inquiry as stored.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InquiryRow {
    /// Row id (UUIDv7; the sealed values are bound to it).
    pub id: String,
    /// The incident whose public notice the form was under.
    pub incident_id: i64,
    /// The reception number shown to the sender.
    pub reception: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// [`inquiry_status`].
    pub status: String,
    /// The member who was signed in when sending, if any.
    pub customer_id: Option<String>,
    /// The email's customer-search blind index.
    pub email_bidx: Vec<u8>,
    /// Name, email, phone and message, sealed together under the inquiry system key.
    pub sealed: Vec<u8>,
    /// When it was marked answered (Unix seconds).
    pub answered_at: Option<i64>,
    /// By whom (`staff:<id>`).
    pub answered_by: Option<String>,
}

impl std::fmt::Debug for InquiryRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InquiryRow")
            .field("id", &self.id)
            .field("incident_id", &self.incident_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The inquiries' storage (gateway only).
#[async_trait]
pub trait InquiryStore: Send + Sync {
    /// Stores a new inquiry. [`crate::StoreError::Duplicate`] when its reception number is
    /// taken (the caller draws another).
    async fn inquiry_insert(&self, row: &InquiryRow) -> Result<()>;

    /// One inquiry by id.
    async fn inquiry(&self, id: &str) -> Result<Option<InquiryRow>>;

    /// An incident's inquiries, newest first (at most `limit`).
    async fn inquiries_of(&self, incident_id: i64, limit: i64) -> Result<Vec<InquiryRow>>;

    /// Per incident with inquiries: (incident id, how many, how many open), newest incident
    /// first.
    async fn inquiry_counts(&self) -> Result<Vec<(i64, i64, i64)>>;

    /// Marks an open inquiry answered; false when it is not open (or not there).
    async fn inquiry_mark_answered(&self, id: &str, at: i64, by: &str) -> Result<bool>;
}
