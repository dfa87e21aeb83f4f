//! [`ReadBudgetStore`] and [`CanaryStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{CanaryStore, ReadBudgetStore, ReadPrincipalRow};

const PRINCIPAL_COLUMNS: &str = "principal, stopped_at, stop_window, stop_opened, stop_limit, \
     reset_at, approved_until, approved_by, lifted_by, lifted_at";

macro_rules! impl_read_stores {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl ReadBudgetStore for $store {
            async fn read_principal(&self, principal: &str) -> Result<Option<ReadPrincipalRow>> {
                Ok(sqlx::query_as::<_, ReadPrincipalRow>(&format!(
                    "SELECT {PRINCIPAL_COLUMNS} FROM read_principals WHERE principal = $1"
                ))
                .bind(principal)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn read_stops(&self) -> Result<Vec<ReadPrincipalRow>> {
                Ok(sqlx::query_as::<_, ReadPrincipalRow>(&format!(
                    "SELECT {PRINCIPAL_COLUMNS} FROM read_principals \
                     WHERE stopped_at IS NOT NULL ORDER BY stopped_at DESC, principal"
                ))
                .fetch_all(self.pool())
                .await?)
            }

            async fn read_stop_lift(&self, principal: &str, by: &str, at: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE read_principals SET stopped_at = NULL, reset_at = $3, \
                     lifted_by = $2, lifted_at = $3 \
                     WHERE principal = $1 AND stopped_at IS NOT NULL",
                )
                .bind(principal)
                .bind(by)
                .bind(at)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn read_approve(&self, principal: &str, by: &str, until: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO read_principals (principal, approved_until, approved_by) \
                     VALUES ($1, $2, $3) ON CONFLICT (principal) DO UPDATE \
                     SET approved_until = excluded.approved_until, \
                     approved_by = excluded.approved_by",
                )
                .bind(principal)
                .bind(until)
                .bind(by)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn read_opens_of(
                &self,
                principal: &str,
                since: i64,
            ) -> Result<Vec<(String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT customer_id, opened_at FROM read_opens \
                     WHERE principal = $1 AND opened_at > $2 ORDER BY opened_at, customer_id",
                )
                .bind(principal)
                .bind(since)
                .fetch_all(self.pool())
                .await?)
            }

            async fn read_opens_counts(&self, principal: &str, sinces: &[i64]) -> Result<Vec<i64>> {
                Ok($crate::backend::read_opens_counts!($db, self.pool(), principal, sinces))
            }

            async fn read_opens_prune(&self, before: i64) -> Result<u64> {
                let done = sqlx::query("DELETE FROM read_opens WHERE opened_at <= $1")
                    .bind(before)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected())
            }

            async fn customers_live_count(&self) -> Result<i64> {
                Ok(
                    sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE erased_at IS NULL")
                        .fetch_one(self.pool())
                        .await?,
                )
            }
        }

        #[async_trait]
        impl CanaryStore for $store {
            async fn canary_insert(&self, id: &str, sealed: &[u8], at: i64) -> Result<()> {
                sqlx::query("INSERT INTO canary_marks (id, sealed, created_at) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(sealed)
                    .bind(at)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn canary_marks(&self) -> Result<Vec<(String, Vec<u8>, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT id, sealed, created_at FROM canary_marks ORDER BY created_at, id",
                )
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_read_stores!(SqliteStore, sqlx::Sqlite);
impl_read_stores!(PgStore, sqlx::Postgres);
