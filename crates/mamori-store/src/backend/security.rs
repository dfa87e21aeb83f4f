//! [`SecurityStatsStore`] for both backends. Every statement is one SQL text but the ledger's:
//! its events are JSON bytes, read with each dialect's JSON functions (given to the macro).

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{BucketCount, ObservationRow, PrincipalBucketCount, SecurityStatsStore};

/// Counts of `$table` rows per bucket of `$col` in `[from, to)`, with `$series` as the series.
macro_rules! bucket_counts {
    ($pool:expr, $series:literal, $table_where:literal, $col:literal, $from:expr, $to:expr, $width:expr) => {
        sqlx::query_as::<_, BucketCount>(concat!(
            "SELECT (",
            $col,
            " - $1) / $3 AS bucket, ",
            $series,
            " AS series, COUNT(*) AS count FROM ",
            $table_where,
            " AND ",
            $col,
            " >= $1 AND ",
            $col,
            " < $2 GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .bind($from)
        .bind($to)
        .bind($width.max(1))
        .fetch_all($pool)
        .await?
    };
}

macro_rules! impl_security_stats_store {
    ($store:ty, json: $json:literal, action: $action:literal, kind: $kind:literal, id: $id:literal) => {
        #[async_trait]
        impl SecurityStatsStore for $store {
            async fn ledger_reads_by_bucket(
                &self,
                from_us: i64,
                to_us: i64,
                width_us: i64,
            ) -> Result<Vec<PrincipalBucketCount>> {
                // The log is appended in time order: the first entry of the window is found by
                // bisecting on the primary key (a few point reads) rather than scanning the
                // whole log for `recorded_at`, which has no index of its own.
                let end: i64 =
                    sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM ledger_entries")
                        .fetch_one(self.pool())
                        .await?;
                let (mut lo, mut hi) = (0i64, end);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let at: Option<i64> =
                        sqlx::query_scalar("SELECT recorded_at FROM ledger_entries WHERE seq = $1")
                            .bind(mid)
                            .fetch_optional(self.pool())
                            .await?;
                    match at {
                        Some(t) if t < from_us => lo = mid + 1,
                        _ => hi = mid,
                    }
                }
                Ok(sqlx::query_as::<_, PrincipalBucketCount>(concat!(
                    "SELECT (recorded_at - $2) / $4 AS bucket, ",
                    $kind,
                    " AS principal_kind, ",
                    $id,
                    " AS principal_id, COUNT(*) AS count FROM (SELECT recorded_at, ",
                    $json,
                    " AS j FROM ledger_entries WHERE seq >= $1 AND recorded_at >= $2 \
                     AND recorded_at < $3) e WHERE ",
                    $action,
                    " IN ('read', 'read_masked') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
                ))
                .bind(lo)
                .bind(from_us)
                .bind(to_us)
                .bind(width_us.max(1))
                .fetch_all(self.pool())
                .await?)
            }

            async fn alerts_by_bucket(
                &self,
                from: i64,
                to: i64,
                width: i64,
            ) -> Result<Vec<BucketCount>> {
                Ok(bucket_counts!(
                    self.pool(),
                    "severity",
                    "alerts WHERE 1 = 1",
                    "first_seen",
                    from,
                    to,
                    width
                ))
            }

            async fn csp_reports_by_bucket(
                &self,
                from: i64,
                to: i64,
                width: i64,
            ) -> Result<Vec<BucketCount>> {
                let mut rows = bucket_counts!(
                    self.pool(),
                    "'new'",
                    "csp_reports WHERE 1 = 1",
                    "first_seen",
                    from,
                    to,
                    width
                );
                rows.extend(bucket_counts!(
                    self.pool(),
                    "'last'",
                    "csp_reports WHERE 1 = 1",
                    "last_seen",
                    from,
                    to,
                    width
                ));
                Ok(rows)
            }

            async fn payment_failures_by_bucket(
                &self,
                from: i64,
                to: i64,
                width: i64,
            ) -> Result<Vec<BucketCount>> {
                Ok(bucket_counts!(
                    self.pool(),
                    "status",
                    "payments WHERE status = 'failed'",
                    "updated_at",
                    from,
                    to,
                    width
                ))
            }

            async fn staff_log_by_bucket(
                &self,
                from: i64,
                to: i64,
                width: i64,
                actions: &[&str],
            ) -> Result<Vec<BucketCount>> {
                let mut out = Vec::new();
                // One indexed range per action (`staff_log_action` is on (action, at)).
                for action in actions {
                    out.extend(
                        sqlx::query_as::<_, BucketCount>(
                            "SELECT (at - $1) / $3 AS bucket, action AS series, \
                             COUNT(*) AS count FROM staff_log \
                             WHERE action = $4 AND at >= $1 AND at < $2 \
                             GROUP BY 1, 2 ORDER BY 1",
                        )
                        .bind(from)
                        .bind(to)
                        .bind(width.max(1))
                        .bind(*action)
                        .fetch_all(self.pool())
                        .await?,
                    );
                }
                Ok(out)
            }

            async fn read_opens_top(&self, since: i64, limit: i64) -> Result<Vec<(String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT principal, COUNT(*) FROM read_opens WHERE opened_at > $1 \
                     GROUP BY principal ORDER BY 2 DESC, principal LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(self.pool())
                .await?)
            }

            async fn staff_without_second_factor(&self) -> Result<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM staff s WHERE s.state = 'active' \
                     AND NOT EXISTS (SELECT 1 FROM staff_passkeys p WHERE p.staff_id = s.id) \
                     AND NOT EXISTS (SELECT 1 FROM staff_totp t WHERE t.staff_id = s.id)",
                )
                .fetch_one(self.pool())
                .await?)
            }

            async fn observations_all(&self) -> Result<Vec<ObservationRow>> {
                Ok(sqlx::query_as::<_, ObservationRow>(
                    "SELECT id, page, state, scripts, form_origins, headers, final_origin, \
                     observed_at FROM guard_observations ORDER BY page, state",
                )
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_security_stats_store!(
    SqliteStore,
    json: "CAST(event AS TEXT)",
    action: "json_extract(j, '$.action')",
    kind: "json_extract(j, '$.principal.kind')",
    id: "json_extract(j, '$.principal.id')"
);
impl_security_stats_store!(
    PgStore,
    json: "convert_from(event, 'UTF8')::jsonb",
    action: "(j ->> 'action')",
    kind: "(j -> 'principal' ->> 'kind')",
    id: "(j -> 'principal' ->> 'id')"
);
