//! The mass-read limits' area of the store (migration `0014_read_budgets.sql`): which customers
//! each principal opened in plaintext and when (`read_opens`, written by the ledger's append
//! transaction, see [`crate::Ledger::record_charged`]), the principals' stops, lifts and
//! approvals (`read_principals`), and the sealed marks of canary customers (`canary_marks`,
//! gateway only). Nothing here is a personal value: principals and customers by id.

use async_trait::async_trait;

use crate::error::Result;

/// A principal's stop and its owner's decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ReadPrincipalRow {
    /// `staff:<id>`, `system:<job>`, `guest:<session>`.
    pub principal: String,
    /// When a read crossed a budget (Unix seconds); None when not stopped.
    pub stopped_at: Option<i64>,
    /// The window crossed (seconds).
    pub stop_window: Option<i64>,
    /// Distinct customers the window would have held.
    pub stop_opened: Option<i64>,
    /// The window's limit.
    pub stop_limit: Option<i64>,
    /// The last lift: opens at or before it no longer count.
    pub reset_at: i64,
    /// Until when an owner lifted the absolute daily ceiling for this principal's job.
    pub approved_until: i64,
    /// Who approved it (staff id).
    pub approved_by: Option<String>,
    /// Who lifted the last stop (staff id).
    pub lifted_by: Option<String>,
    /// When.
    pub lifted_at: Option<i64>,
}

/// Mass-read limits: stops, lifts, approvals and the opens behind them (part of
/// [`crate::Records`]: nothing personal).
#[async_trait]
pub trait ReadBudgetStore: Send + Sync {
    /// A principal's row, if it was ever stopped or approved.
    async fn read_principal(&self, principal: &str) -> Result<Option<ReadPrincipalRow>>;

    /// Principals stopped now, most recent first.
    async fn read_stops(&self) -> Result<Vec<ReadPrincipalRow>>;

    /// Lifts a principal's stop: reads are allowed again and opens up to `at` no longer count.
    /// False when it was not stopped.
    async fn read_stop_lift(&self, principal: &str, by: &str, at: i64) -> Result<bool>;

    /// Lifts the absolute daily ceiling for `principal` until `until` (an owner's approval of a
    /// job; the role's own budgets still apply).
    async fn read_approve(&self, principal: &str, by: &str, until: i64) -> Result<()>;

    /// The customers `principal` opened since `since` (Unix seconds, exclusive), with the time of
    /// their latest open, oldest first.
    async fn read_opens_of(&self, principal: &str, since: i64) -> Result<Vec<(String, i64)>>;

    /// How many customers `principal` opened since each of `sinces` (Unix seconds, exclusive),
    /// in one statement: what its budget's windows hold (a job paces itself by it).
    async fn read_opens_counts(&self, principal: &str, sinces: &[i64]) -> Result<Vec<i64>>;

    /// Deletes opens at or before `before` (older than the longest window); how many.
    async fn read_opens_prune(&self, before: i64) -> Result<u64>;

    /// Customers not erased (for the ceiling, a share of them).
    async fn customers_live_count(&self) -> Result<i64>;
}

/// The sealed marks of canary customers (gateway only: the gateway opens them).
#[async_trait]
pub trait CanaryStore: Send + Sync {
    /// Stores one mark (the customer id sealed under the canary system key, bound to `id`).
    async fn canary_insert(&self, id: &str, sealed: &[u8], at: i64) -> Result<()>;

    /// Every mark, oldest first: `(id, sealed, created_at)` (Unix seconds).
    async fn canary_marks(&self) -> Result<Vec<(String, Vec<u8>, i64)>>;
}
