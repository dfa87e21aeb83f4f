//! The security dashboard's counts (part of [`crate::Records`]): how many personal-data reads
//! the ledger recorded per time bucket and principal, alerts per bucket and severity, CSP reports,
//! declined payment attempts, staff sign-ins and their failures, and the principals that opened
//! the most customers. Counts and ids only: nothing here is a personal value.

use async_trait::async_trait;

use crate::error::Result;
use crate::store::ObservationRow;

/// A count in one time bucket of one series (a severity, a staff-log action, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct BucketCount {
    /// Bucket index from the window's start (0 = the oldest).
    pub bucket: i64,
    /// What was counted (a severity, an action, a status).
    pub series: String,
    /// How many.
    pub count: i64,
}

/// Personal-data reads (ledger events `read` and `read_masked`) of one principal in one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PrincipalBucketCount {
    /// Bucket index from the window's start.
    pub bucket: i64,
    /// `customer`, `guest`, `staff` or `system`.
    pub principal_kind: String,
    /// The principal's id (staff id, job name, customer or session id).
    pub principal_id: String,
    /// Events recorded.
    pub count: i64,
}

/// The counts the security dashboard plots.
#[async_trait]
pub trait SecurityStatsStore: Send + Sync {
    /// Personal-data reads recorded in the ledger in `[from_us, to_us)` (microseconds), per
    /// bucket of `width_us` and principal.
    async fn ledger_reads_by_bucket(
        &self,
        from_us: i64,
        to_us: i64,
        width_us: i64,
    ) -> Result<Vec<PrincipalBucketCount>>;

    /// Alerts first seen in `[from, to)` (Unix seconds), per bucket of `width` and severity.
    async fn alerts_by_bucket(&self, from: i64, to: i64, width: i64) -> Result<Vec<BucketCount>>;

    /// CSP report aggregates, per bucket: series `new` counts aggregates first seen in the bucket
    /// (a page, directive and blocked origin never reported before), `last` those whose latest
    /// report fell in it (the aggregates keep no time of each report).
    async fn csp_reports_by_bucket(
        &self,
        from: i64,
        to: i64,
        width: i64,
    ) -> Result<Vec<BucketCount>>;

    /// Payment attempts that failed (declined by the provider), per bucket of their last update.
    async fn payment_failures_by_bucket(
        &self,
        from: i64,
        to: i64,
        width: i64,
    ) -> Result<Vec<BucketCount>>;

    /// Staff-log entries of `actions` in `[from, to)`, per bucket and action.
    async fn staff_log_by_bucket(
        &self,
        from: i64,
        to: i64,
        width: i64,
        actions: &[&str],
    ) -> Result<Vec<BucketCount>>;

    /// The principals that opened the most distinct customers in plaintext since `since` (Unix
    /// seconds, the mass-read limits' `read_opens`), most first: `(principal, customers)`.
    async fn read_opens_top(&self, since: i64, limit: i64) -> Result<Vec<(String, i64)>>;

    /// Active members of staff with neither a passkey nor TOTP.
    async fn staff_without_second_factor(&self) -> Result<i64>;

    /// Every observation the browser monitor keeps (known-good and pending), by page.
    async fn observations_all(&self) -> Result<Vec<ObservationRow>>;
}
