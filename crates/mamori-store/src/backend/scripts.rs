//! [`ScriptInventoryStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{ScriptInventoryStore, ScriptRow};

const COLUMNS: &str =
    "url, site, sha384, pages, justification, state, version, changed_by, reason, changed_at";

macro_rules! impl_script_inventory_store {
    ($store:ty) => {
        #[async_trait]
        impl ScriptInventoryStore for $store {
            async fn scripts_list(&self) -> Result<Vec<ScriptRow>> {
                Ok(sqlx::query_as::<_, ScriptRow>(&format!(
                    "SELECT {COLUMNS} FROM script_inventory ORDER BY site, url"
                ))
                .fetch_all(self.pool())
                .await?)
            }

            async fn script_get(&self, url: &str) -> Result<Option<ScriptRow>> {
                Ok(sqlx::query_as::<_, ScriptRow>(&format!(
                    "SELECT {COLUMNS} FROM script_inventory WHERE url = $1"
                ))
                .bind(url)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn script_put(&self, row: &ScriptRow, expected: Option<i64>) -> Result<bool> {
                let version = expected.unwrap_or(0) + 1;
                let mut tx = self.begin_write().await?;
                // Inserting a new entry or updating the one the writer saw: the same ten values,
                // the update's `WHERE` adding the version it expects as the eleventh.
                let insert = format!(
                    "INSERT INTO script_inventory ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (url) DO NOTHING"
                );
                let update = "UPDATE script_inventory SET site = $2, sha384 = $3, pages = $4, \
                              justification = $5, state = $6, version = $7, changed_by = $8, \
                              reason = $9, changed_at = $10 WHERE url = $1 AND version = $11";
                let query = sqlx::query(match expected {
                    None => insert.as_str(),
                    Some(_) => update,
                })
                .bind(&row.url)
                .bind(&row.site)
                .bind(&row.sha384)
                .bind(&row.pages)
                .bind(&row.justification)
                .bind(&row.state)
                .bind(version)
                .bind(&row.changed_by)
                .bind(&row.reason)
                .bind(row.changed_at);
                let query = match expected {
                    None => query,
                    Some(v) => query.bind(v),
                };
                let written = query.execute(&mut *tx).await?.rows_affected();
                if written != 1 {
                    return Ok(false);
                }
                sqlx::query(&format!(
                    "INSERT INTO script_inventory_history ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ))
                .bind(&row.url)
                .bind(&row.site)
                .bind(&row.sha384)
                .bind(&row.pages)
                .bind(&row.justification)
                .bind(&row.state)
                .bind(version)
                .bind(&row.changed_by)
                .bind(&row.reason)
                .bind(row.changed_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn script_history(&self, url: &str) -> Result<Vec<ScriptRow>> {
                Ok(sqlx::query_as::<_, ScriptRow>(&format!(
                    "SELECT {COLUMNS} FROM script_inventory_history WHERE url = $1 \
                     ORDER BY version DESC"
                ))
                .bind(url)
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_script_inventory_store!(SqliteStore);
impl_script_inventory_store!(PgStore);
