//! Leases of background jobs that must run on one process at a time (migration
//! `0025_multinode.sql`).
//!
//! Several `mamori serve` processes share one database. A job such as housekeeping or the
//! browser monitor runs only in the process holding its lease; the holder renews it well before
//! it expires, and when the holder dies (or stops renewing) another process takes it once
//! `expires_at` has passed. Times are Unix seconds from the caller's clock, so the machines'
//! clocks must agree to well within a lease's length (NTP).

use async_trait::async_trait;

use crate::error::Result;

/// A job's lease as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct JobLeaseRow {
    /// The job's name.
    pub job: String,
    /// The process holding it (its own random id, no personal value).
    pub holder: String,
    /// When this holder took it (kept across renewals).
    pub taken_at: i64,
    /// When it is free unless renewed.
    pub expires_at: i64,
}

/// Job leases.
#[async_trait]
pub trait JobLeaseStore: Send + Sync {
    /// Takes or renews the lease of `job` for `holder` until `expires_at`, in one statement:
    /// when no one holds it, `holder` holds it already, or the current holder's lease expired
    /// (`expires_at <= now`). True when `holder` holds it afterwards. Of two processes asking at
    /// once for a free lease, exactly one gets true.
    async fn lease_take(&self, job: &str, holder: &str, now: i64, expires_at: i64) -> Result<bool>;

    /// Gives the lease of `job` up if `holder` holds it (at shutdown), so another process takes
    /// it at once; true when it did.
    async fn lease_release(&self, job: &str, holder: &str) -> Result<bool>;

    /// The lease of `job` as stored (expired or not), if any.
    async fn lease_of(&self, job: &str) -> Result<Option<JobLeaseRow>>;
}
