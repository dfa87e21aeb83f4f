//! [`NoticeStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::model::OutboxRow;
use crate::store::{NoticeProgress, NoticeRow, NoticeRunRow, NoticeStore};

const RUN_COLUMNS: &str = "incident_id, scope_id, draft, draft_sha256, rate_per_min, total, \
                           started_at, started_by, completed_at";
const NOTICE_COLUMNS: &str =
    "incident_id, customer_id, id, position, queued_at, bounce, bounce_status, bounced_at";

macro_rules! impl_notice_store {
    ($store:ty) => {
        #[async_trait]
        impl NoticeStore for $store {
            async fn notice_run_insert(&self, row: &NoticeRunRow) -> Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO notice_runs (incident_id, scope_id, draft, draft_sha256, \
                     rate_per_min, total, started_at, started_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id) DO NOTHING",
                )
                .bind(row.incident_id)
                .bind(&row.scope_id)
                .bind(&row.draft)
                .bind(&row.draft_sha256)
                .bind(row.rate_per_min)
                .bind(row.total)
                .bind(row.started_at)
                .bind(&row.started_by)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn notice_run(&self, incident_id: i64) -> Result<Option<NoticeRunRow>> {
                Ok(sqlx::query_as::<_, NoticeRunRow>(&format!(
                    "SELECT {RUN_COLUMNS} FROM notice_runs WHERE incident_id = $1"
                ))
                .bind(incident_id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn notice_run_complete(&self, incident_id: i64, at: i64) -> Result<()> {
                sqlx::query(
                    "UPDATE notice_runs SET completed_at = $2 \
                     WHERE incident_id = $1 AND completed_at IS NULL",
                )
                .bind(incident_id)
                .bind(at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn notice_customers(&self, incident_id: i64) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT customer_id FROM incident_notices WHERE incident_id = $1",
                )
                .bind(incident_id)
                .fetch_all(self.pool())
                .await?)
            }

            async fn notices_enqueue(&self, rows: &[(NoticeRow, OutboxRow)]) -> Result<u64> {
                if rows.is_empty() {
                    return Ok(0);
                }
                let mut written = 0u64;
                let mut tx = self.begin_write().await?;
                for (n, m) in rows {
                    let done = sqlx::query(
                        "INSERT INTO incident_notices (incident_id, customer_id, id, position, \
                         queued_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (incident_id, customer_id) DO NOTHING",
                    )
                    .bind(n.incident_id)
                    .bind(&n.customer_id)
                    .bind(&n.id)
                    .bind(n.position)
                    .bind(n.queued_at)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        $crate::backend::insert_mail!(tx, std::slice::from_ref(m));
                        written += 1;
                    }
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn notice_progress(&self, incident_id: i64) -> Result<NoticeProgress> {
                let (queued, sent, dead, perm, trans): (i64, i64, i64, i64, i64) =
                    sqlx::query_as(
                        "SELECT COUNT(*), \
                         COALESCE(SUM(CASE WHEN m.state = 'sent' THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN m.state = 'dead' THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN n.bounce = 'permanent' THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN n.bounce = 'transient' THEN 1 ELSE 0 END), 0) \
                         FROM incident_notices n LEFT JOIN mail_outbox m ON m.id = n.id \
                         WHERE n.incident_id = $1",
                    )
                    .bind(incident_id)
                    .fetch_one(self.pool())
                    .await?;
                Ok(NoticeProgress {
                    queued,
                    sent,
                    dead,
                    bounced_permanent: perm,
                    bounced_transient: trans,
                })
            }

            async fn notices_list(
                &self,
                incident_id: i64,
                offset: i64,
                limit: i64,
            ) -> Result<Vec<NoticeRow>> {
                Ok(sqlx::query_as::<_, NoticeRow>(&format!(
                    "SELECT {NOTICE_COLUMNS} FROM incident_notices WHERE incident_id = $1 \
                     ORDER BY position LIMIT $2 OFFSET $3"
                ))
                .bind(incident_id)
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?)
            }

            async fn notice(&self, id: &str) -> Result<Option<NoticeRow>> {
                Ok(sqlx::query_as::<_, NoticeRow>(&format!(
                    "SELECT {NOTICE_COLUMNS} FROM incident_notices WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn notice_bounce(
                &self,
                id: &str,
                kind: &str,
                status: &str,
                at: i64,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE incident_notices SET bounce = $2, bounce_status = $3, bounced_at = $4 \
                     WHERE id = $1 AND (bounce IS NULL OR bounce = 'transient')",
                )
                .bind(id)
                .bind(kind)
                .bind(status)
                .bind(at)
                .execute(self.pool())
                .await?;
                if done.rows_affected() == 1 {
                    return Ok(true);
                }
                Ok(self.notice(id).await?.is_some())
            }

            async fn notices_bounced(&self, incident_id: i64) -> Result<Vec<NoticeRow>> {
                Ok(sqlx::query_as::<_, NoticeRow>(&format!(
                    "SELECT {NOTICE_COLUMNS} FROM incident_notices \
                     WHERE incident_id = $1 AND bounce = 'permanent' ORDER BY position"
                ))
                .bind(incident_id)
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_notice_store!(SqliteStore);
impl_notice_store!(PgStore);
