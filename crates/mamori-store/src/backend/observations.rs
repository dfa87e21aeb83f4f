//! [`ObservationStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{observation_state, ObservationRow, ObservationStore};

macro_rules! impl_observation_store {
    ($store:ty) => {
        #[async_trait]
        impl ObservationStore for $store {
            async fn observation(
                &self,
                page: &str,
                state: &str,
            ) -> Result<Option<ObservationRow>> {
                Ok(sqlx::query_as::<_, ObservationRow>(
                    "SELECT id, page, state, scripts, form_origins, headers, final_origin, observed_at \
                     FROM guard_observations WHERE page = $1 AND state = $2",
                )
                .bind(page)
                .bind(state)
                .fetch_optional(self.pool())
                .await?)
            }

            async fn observation_put(&self, row: &ObservationRow) -> Result<()> {
                sqlx::query(
                    "INSERT INTO guard_observations (id, page, state, scripts, form_origins, \
                     headers, final_origin, observed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (page, state) DO UPDATE SET id = excluded.id, \
                     scripts = excluded.scripts, form_origins = excluded.form_origins, \
                     headers = excluded.headers, final_origin = excluded.final_origin, \
                     observed_at = excluded.observed_at",
                )
                .bind(&row.id)
                .bind(&row.page)
                .bind(&row.state)
                .bind(&row.scripts)
                .bind(&row.form_origins)
                .bind(&row.headers)
                .bind(&row.final_origin)
                .bind(row.observed_at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn observation_clear_pending(&self, page: &str) -> Result<u64> {
                let done =
                    sqlx::query("DELETE FROM guard_observations WHERE page = $1 AND state = $2")
                        .bind(page)
                        .bind(observation_state::PENDING)
                        .execute(self.pool())
                        .await?;
                Ok(done.rows_affected())
            }

            async fn observations_approve(&self) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "DELETE FROM guard_observations WHERE state = $1 AND page IN \
                     (SELECT page FROM guard_observations WHERE state = $2)",
                )
                .bind(observation_state::GOOD)
                .bind(observation_state::PENDING)
                .execute(&mut *tx)
                .await?;
                let done = sqlx::query("UPDATE guard_observations SET state = $1 WHERE state = $2")
                    .bind(observation_state::GOOD)
                    .bind(observation_state::PENDING)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn observation_history_add(&self, row: &ObservationRow, keep: i64) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO guard_observation_history (id, page, scripts, form_origins, \
                     headers, final_origin, observed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&row.id)
                .bind(&row.page)
                .bind(&row.scripts)
                .bind(&row.form_origins)
                .bind(&row.headers)
                .bind(&row.final_origin)
                .bind(row.observed_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM guard_observation_history WHERE page = $1 AND id NOT IN \
                     (SELECT id FROM guard_observation_history WHERE page = $1 \
                     ORDER BY observed_at DESC, id DESC LIMIT $2)",
                )
                .bind(&row.page)
                .bind(keep.max(0))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn observation_history(
                &self,
                page: &str,
                limit: i64,
            ) -> Result<Vec<ObservationRow>> {
                Ok(sqlx::query_as::<_, ObservationRow>(
                    "SELECT id, page, $1 AS state, scripts, form_origins, headers, final_origin, \
                     observed_at FROM guard_observation_history WHERE page = $2 \
                     ORDER BY observed_at DESC, id DESC LIMIT $3",
                )
                .bind(observation_state::SEEN)
                .bind(page)
                .bind(limit.max(0))
                .fetch_all(self.pool())
                .await?)
            }
        }
    };
}

impl_observation_store!(SqliteStore);
impl_observation_store!(PgStore);
