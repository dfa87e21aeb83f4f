//! CSP violation reports, aggregated (part of [`crate::Records`], migration
//! `0012_csp_reports.sql`): one row per page path, effective directive and blocked origin, with a
//! count, first and last seen times and a sample of the document's URL. Nothing here is personal:
//! the page is a path without query, the blocked resource an origin or a keyword.
//!
//! Reports reach it through `mamori_guard::csp` (which cuts the values and raises the alerts).

use async_trait::async_trait;

use crate::error::Result;
use crate::model::Page;

/// Most aggregates kept: the report endpoint is public, so forged reports must not grow the table
/// without bound. Past it, a report of a known aggregate still counts; a new one is not stored.
pub const CSP_AGGREGATES_MAX: i64 = 10_000;

/// One aggregate as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CspReportRow {
    /// The document's path (no query, no fragment).
    pub page: String,
    /// The effective directive (`script-src-elem`, `img-src`, ...).
    pub directive: String,
    /// What was blocked: an origin (`https://cdn.example`) or a keyword (`inline`, `eval`).
    pub blocked_origin: String,
    /// Reports counted.
    pub report_count: i64,
    /// First reported (Unix seconds).
    pub first_seen: i64,
    /// Last reported (Unix seconds).
    pub last_seen: i64,
    /// The document's URL (origin and path, no query) as first reported.
    pub sample_document: String,
}

/// One report, already cut to the aggregate's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCspReport {
    /// The document's path.
    pub page: String,
    /// The effective directive.
    pub directive: String,
    /// The blocked origin or keyword.
    pub blocked_origin: String,
    /// The document's URL without query.
    pub document: String,
    /// When it arrived (Unix seconds).
    pub at: i64,
}

/// What recording a report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CspRecorded {
    /// A new aggregate (page, directive, origin never seen before) was stored.
    New,
    /// A known aggregate's count and last-seen time were bumped.
    Counted,
    /// A new aggregate, not stored: the table holds [`CSP_AGGREGATES_MAX`] rows already.
    Full,
}

/// The CSP reports' storage.
#[async_trait]
pub trait CspReportStore: Send + Sync {
    /// Counts a report in its aggregate, creating it when new and fewer than `max_aggregates`
    /// exist. Safe under concurrent reports of the same aggregate (one of them is new).
    async fn csp_report_record(
        &self,
        report: &NewCspReport,
        max_aggregates: i64,
    ) -> Result<CspRecorded>;

    /// Aggregates, most recently seen first, one page.
    async fn csp_reports_page(&self, offset: i64, limit: i64) -> Result<Page<CspReportRow>>;
}
