//! Mail received for the canary domain (`canary_mails`, migration `0019_canary_mails.sql`): the
//! raw message and the canary it was sent to, sealed together (gateway only: the gateway seals
//! and opens them).

use async_trait::async_trait;

use crate::error::Result;

/// One received message as stored: what is not sealed names no one.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CanaryMailRow {
    /// Row id (the alert's evidence names it).
    pub id: String,
    /// `canary` (a planted canary was a recipient) or `other` (made-up addresses only).
    pub kind: String,
    /// When the message's DATA ended (Unix seconds).
    pub received_at: i64,
    /// SHA-256 of the raw message (hex).
    pub sha256: String,
    /// Size of the raw message in bytes.
    pub size: i64,
    /// The canary ids and the raw message, sealed under the canary-mail system key.
    pub sealed: Vec<u8>,
}

/// The canary mail evidence (gateway only).
#[async_trait]
pub trait CanaryMailStore: Send + Sync {
    /// Stores one received message.
    async fn canary_mail_insert(&self, row: &CanaryMailRow) -> Result<()>;

    /// One message by id.
    async fn canary_mail(&self, id: &str) -> Result<Option<CanaryMailRow>>;

    /// Messages, newest first, one page, and how many there are.
    async fn canary_mails_page(&self, offset: i64, limit: i64)
        -> Result<(Vec<CanaryMailRow>, i64)>;
}
