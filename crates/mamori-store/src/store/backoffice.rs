//! The backoffice area of the store.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

/// The back office's own queries: the staff log, settings, order search and sales.
#[async_trait]
pub trait BackofficeStore: Send + Sync {
    /// Appends an entry to the staff log (its `seq` is ignored) and returns the entry's `seq`.
    async fn staff_log_append(&self, row: &StaffLogRow) -> Result<i64>;

    /// Staff log entries matching `filter`, newest first, one page.
    async fn staff_log_page(
        &self,
        filter: &StaffLogFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<StaffLogRow>>;

    /// Every shop setting as `(key, JSON value)`, by key.
    async fn settings_all(&self) -> Result<Vec<(String, String)>>;

    /// Inserts or replaces a setting.
    async fn settings_put(
        &self,
        key: &str,
        value_json: &str,
        at: i64,
        by: Option<&str>,
    ) -> Result<()>;

    /// Orders matching `filter`, newest first, one page.
    async fn orders_search(
        &self,
        filter: &OrderFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<OrderHeader>>;

    /// Orders placed in `[from_us, to_us)` (microseconds) and the sum of their totals, leaving
    /// out cancelled and refunded orders and card orders not paid yet.
    async fn sales_summary(&self, from_us: i64, to_us: i64) -> Result<SalesSummary>;

    /// The same figures for `days` consecutive periods of `day_us` microseconds from `from_us`
    /// (oldest first, one entry per period, zero where nothing sold), in one grouped query.
    /// Empty when `days` or `day_us` is not positive; at most 366 periods.
    async fn sales_by_day(&self, from_us: i64, day_us: i64, days: i64)
        -> Result<Vec<SalesSummary>>;
}
