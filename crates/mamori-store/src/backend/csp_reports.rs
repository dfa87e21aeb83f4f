//! [`CspReportStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::model::Page;
use crate::store::{CspRecorded, CspReportRow, CspReportStore, NewCspReport};

/// Bumps a known aggregate on `$conn`; evaluates to the rows changed.
macro_rules! bump {
    ($conn:expr, $r:expr) => {{
        let r: &NewCspReport = $r;
        sqlx::query(
            "UPDATE csp_reports SET report_count = report_count + 1, \
             last_seen = CASE WHEN $4 > last_seen THEN $4 ELSE last_seen END \
             WHERE page = $1 AND directive = $2 AND blocked_origin = $3",
        )
        .bind(&r.page)
        .bind(&r.directive)
        .bind(&r.blocked_origin)
        .bind(r.at)
        .execute($conn)
        .await?
        .rows_affected()
    }};
}

macro_rules! impl_csp_report_store {
    ($store:ty) => {
        #[async_trait]
        impl CspReportStore for $store {
            async fn csp_report_record(
                &self,
                r: &NewCspReport,
                max_aggregates: i64,
            ) -> Result<CspRecorded> {
                if bump!(self.pool(), r) > 0 {
                    return Ok(CspRecorded::Counted);
                }
                // New: inserted only while the table is under its cap. A concurrent insert of the
                // same aggregate makes this one do nothing, and it is counted below instead.
                let inserted = sqlx::query(
                    "INSERT INTO csp_reports (page, directive, blocked_origin, report_count, \
                     first_seen, last_seen, sample_document) \
                     SELECT $1, $2, $3, 1, $4, $4, $5 \
                     WHERE (SELECT COUNT(*) FROM csp_reports) < $6 \
                     ON CONFLICT (page, directive, blocked_origin) DO NOTHING",
                )
                .bind(&r.page)
                .bind(&r.directive)
                .bind(&r.blocked_origin)
                .bind(r.at)
                .bind(&r.document)
                .bind(max_aggregates)
                .execute(self.pool())
                .await?
                .rows_affected();
                if inserted > 0 {
                    return Ok(CspRecorded::New);
                }
                if bump!(self.pool(), r) > 0 {
                    Ok(CspRecorded::Counted)
                } else {
                    Ok(CspRecorded::Full)
                }
            }

            async fn csp_reports_page(
                &self,
                offset: i64,
                limit: i64,
            ) -> Result<Page<CspReportRow>> {
                let items = sqlx::query_as::<_, CspReportRow>(
                    "SELECT page, directive, blocked_origin, report_count, first_seen, last_seen, \
                     sample_document FROM csp_reports \
                     ORDER BY last_seen DESC, page, directive, blocked_origin LIMIT $1 OFFSET $2",
                )
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?;
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM csp_reports")
                    .fetch_one(self.pool())
                    .await?;
                Ok(Page { items, total })
            }
        }
    };
}

impl_csp_report_store!(SqliteStore);
impl_csp_report_store!(PgStore);
