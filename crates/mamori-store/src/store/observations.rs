//! The browser monitor's area of the store (part of [`crate::Records`], migration
//! `0013_guard_observations.sql`): what each watched page executed and where its forms post, as a
//! headless browser saw it. Per page one known-good observation and at most one pending one (the
//! latest that differs from it). Nothing here is personal: routes, URLs and hashes.

use async_trait::async_trait;

use crate::error::Result;

/// Observation states as stored.
pub mod observation_state {
    /// The known-good observation of a page (its first, or the one an owner approved).
    pub const GOOD: &str = "good";
    /// The latest observation that differs from the known-good one (what an approval accepts).
    pub const PENDING: &str = "pending";
    /// An observation of the history (`guard_observation_history`): every walk's, as seen.
    pub const SEEN: &str = "seen";
}

/// One observation of a page as stored (known-good, pending, or in the history).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ObservationRow {
    /// Observation id (UUIDv7 text).
    pub id: String,
    /// The page (a stable name: a route, or the provider's page pattern).
    pub page: String,
    /// `good`, `pending` or `seen` ([`observation_state`]).
    pub state: String,
    /// JSON object: script key (URL, or `inline#n`) to `sha384-<base64>`.
    pub scripts: String,
    /// JSON array of the origins the page's forms post to.
    pub form_origins: String,
    /// JSON object: the main document's security headers (lowercased name to value as sent);
    /// `None` on a row from before migration 0023 (not recorded yet).
    pub headers: Option<String>,
    /// The document's origin after redirects; `None` when not recorded yet (migration 0023).
    pub final_origin: Option<String>,
    /// When it was seen (Unix seconds).
    pub observed_at: i64,
}

/// The browser monitor's storage.
#[async_trait]
pub trait ObservationStore: Send + Sync {
    /// The observation of `page` in `state`, if any.
    async fn observation(&self, page: &str, state: &str) -> Result<Option<ObservationRow>>;

    /// Stores `row` as the observation of its page in its state, replacing the one there was.
    async fn observation_put(&self, row: &ObservationRow) -> Result<()>;

    /// Drops the pending observation of `page` (the page is back to its known-good state).
    async fn observation_clear_pending(&self, page: &str) -> Result<u64>;

    /// An owner's approval, in one transaction: every pending observation becomes its page's
    /// known-good one; returns how many pages changed.
    async fn observations_approve(&self) -> Result<u64>;

    /// Appends `row` to its page's history and drops that page's observations beyond the newest
    /// `keep`.
    async fn observation_history_add(&self, row: &ObservationRow, keep: i64) -> Result<()>;

    /// The newest `limit` observations of `page`'s history, newest first (state
    /// [`observation_state::SEEN`]).
    async fn observation_history(&self, page: &str, limit: i64) -> Result<Vec<ObservationRow>>;
}
