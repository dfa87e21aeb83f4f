//! [`InquiryStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{unique_violation_as, PgStore, SqliteStore};
use crate::error::{Result, StoreError};
use crate::store::{inquiry_status, InquiryRow, InquiryStore};

macro_rules! inquiry_columns {
    () => {
        "id, incident_id, reception, received_at, status, customer_id, email_bidx, sealed, \
         answered_at, answered_by"
    };
}

macro_rules! impl_inquiry_store {
    ($store:ty) => {
        #[async_trait]
        impl InquiryStore for $store {
            async fn inquiry_insert(&self, row: &InquiryRow) -> Result<()> {
                sqlx::query(concat!(
                    "INSERT INTO incident_inquiries (",
                    inquiry_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(&row.id)
                .bind(row.incident_id)
                .bind(&row.reception)
                .bind(row.received_at)
                .bind(&row.status)
                .bind(&row.customer_id)
                .bind(&row.email_bidx)
                .bind(&row.sealed)
                .bind(row.answered_at)
                .bind(&row.answered_by)
                .execute(self.pool())
                .await
                .map_err(|e| {
                    unique_violation_as(
                        e,
                        StoreError::Duplicate {
                            what: "inquiry reception number",
                        },
                    )
                })?;
                Ok(())
            }

            async fn inquiry(&self, id: &str) -> Result<Option<InquiryRow>> {
                Ok(sqlx::query_as::<_, InquiryRow>(concat!(
                    "SELECT ",
                    inquiry_columns!(),
                    " FROM incident_inquiries WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn inquiries_of(&self, incident_id: i64, limit: i64) -> Result<Vec<InquiryRow>> {
                Ok(sqlx::query_as::<_, InquiryRow>(concat!(
                    "SELECT ",
                    inquiry_columns!(),
                    " FROM incident_inquiries WHERE incident_id = $1 \
                     ORDER BY received_at DESC, id DESC LIMIT $2"
                ))
                .bind(incident_id)
                .bind(limit)
                .fetch_all(self.pool())
                .await?)
            }

            async fn inquiry_counts(&self) -> Result<Vec<(i64, i64, i64)>> {
                Ok(sqlx::query_as::<_, (i64, i64, i64)>(
                    "SELECT incident_id, COUNT(*), \
                     COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0) \
                     FROM incident_inquiries GROUP BY incident_id ORDER BY incident_id DESC",
                )
                .fetch_all(self.pool())
                .await?)
            }

            async fn inquiry_mark_answered(&self, id: &str, at: i64, by: &str) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE incident_inquiries SET status = $2, answered_at = $3, answered_by = $4 \
                     WHERE id = $1 AND status = $5",
                )
                .bind(id)
                .bind(inquiry_status::ANSWERED)
                .bind(at)
                .bind(by)
                .bind(inquiry_status::OPEN)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

impl_inquiry_store!(SqliteStore);
impl_inquiry_store!(PgStore);
