//! [`CanaryMailStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{CanaryMailRow, CanaryMailStore};

macro_rules! impl_canary_mail_store {
    ($store:ty) => {
        #[async_trait]
        impl CanaryMailStore for $store {
            async fn canary_mail_insert(&self, row: &CanaryMailRow) -> Result<()> {
                sqlx::query(
                    "INSERT INTO canary_mails (id, kind, received_at, sha256, size, sealed) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&row.id)
                .bind(&row.kind)
                .bind(row.received_at)
                .bind(&row.sha256)
                .bind(row.size)
                .bind(&row.sealed)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn canary_mail(&self, id: &str) -> Result<Option<CanaryMailRow>> {
                Ok(sqlx::query_as::<_, CanaryMailRow>(
                    "SELECT id, kind, received_at, sha256, size, sealed FROM canary_mails \
                     WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn canary_mails_page(
                &self,
                offset: i64,
                limit: i64,
            ) -> Result<(Vec<CanaryMailRow>, i64)> {
                let rows = sqlx::query_as::<_, CanaryMailRow>(
                    "SELECT id, kind, received_at, sha256, size, sealed FROM canary_mails \
                     ORDER BY received_at DESC, id LIMIT $1 OFFSET $2",
                )
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?;
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM canary_mails")
                    .fetch_one(self.pool())
                    .await?;
                Ok((rows, total))
            }
        }
    };
}

impl_canary_mail_store!(SqliteStore);
impl_canary_mail_store!(PgStore);
