//! [`JobLeaseStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{JobLeaseRow, JobLeaseStore};

macro_rules! impl_job_lease_store {
    ($store:ty) => {
        #[async_trait]
        impl JobLeaseStore for $store {
            async fn lease_take(
                &self,
                job: &str,
                holder: &str,
                now: i64,
                expires_at: i64,
            ) -> Result<bool> {
                // One statement: PostgreSQL makes a concurrent insert of the same new job wait
                // and then re-checks the condition on the committed row; SQLite's write lock
                // runs the two one after the other. A row not updated (someone else holds an
                // unexpired lease) changes nothing.
                let done = sqlx::query(
                    "INSERT INTO job_leases (job, holder, taken_at, expires_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, \
                     expires_at = excluded.expires_at, \
                     taken_at = CASE WHEN job_leases.holder = excluded.holder \
                     THEN job_leases.taken_at ELSE excluded.taken_at END \
                     WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $3",
                )
                .bind(job)
                .bind(holder)
                .bind(now)
                .bind(expires_at)
                .execute(self.pool())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn lease_release(&self, job: &str, holder: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM job_leases WHERE job = $1 AND holder = $2")
                    .bind(job)
                    .bind(holder)
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn lease_of(&self, job: &str) -> Result<Option<JobLeaseRow>> {
                Ok(sqlx::query_as::<_, JobLeaseRow>(
                    "SELECT job, holder, taken_at, expires_at FROM job_leases WHERE job = $1",
                )
                .bind(job)
                .fetch_optional(self.pool())
                .await?)
            }
        }
    };
}

impl_job_lease_store!(SqliteStore);
impl_job_lease_store!(PgStore);
