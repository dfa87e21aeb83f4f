//! [`FraudStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{CardAttempt, DeclineCounts, DeclineSince, FraudStore, HourCount};

const ATTEMPT_COLUMNS: &str =
    "payment_id, ip_key, session_key, fingerprint, created_at, declined_at";

macro_rules! impl_fraud_store {
    ($store:ty) => {
        #[async_trait]
        impl FraudStore for $store {
            async fn card_attempt_start(
                &self,
                payment_id: &str,
                ip_key: &str,
                session_key: &str,
                at: i64,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO card_attempts (payment_id, ip_key, session_key, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (payment_id) DO NOTHING",
                )
                .bind(payment_id)
                .bind(ip_key)
                .bind(session_key)
                .bind(at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn card_attempt_outcome(
                &self,
                payment_id: &str,
                fingerprint: Option<&str>,
                declined_at: Option<i64>,
            ) -> Result<Option<(CardAttempt, bool)>> {
                let newly = match declined_at {
                    Some(at) => {
                        sqlx::query(
                            "UPDATE card_attempts SET declined_at = $2, \
                             fingerprint = COALESCE(fingerprint, $3) \
                             WHERE payment_id = $1 AND declined_at IS NULL",
                        )
                        .bind(payment_id)
                        .bind(at)
                        .bind(fingerprint)
                        .execute(self.pool())
                        .await?
                        .rows_affected()
                            > 0
                    }
                    None => false,
                };
                if !newly && fingerprint.is_some() {
                    sqlx::query(
                        "UPDATE card_attempts SET fingerprint = $2 \
                         WHERE payment_id = $1 AND fingerprint IS NULL",
                    )
                    .bind(payment_id)
                    .bind(fingerprint)
                    .execute(self.pool())
                    .await?;
                }
                let row = sqlx::query_as::<_, CardAttempt>(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM card_attempts WHERE payment_id = $1"
                ))
                .bind(payment_id)
                .fetch_optional(self.pool())
                .await?;
                Ok(row.map(|r| (r, newly)))
            }

            async fn card_decline_counts(
                &self,
                ip_key: &str,
                session_key: &str,
                since: DeclineSince,
            ) -> Result<DeclineCounts> {
                let (ip, session, fingerprint, shop): (i64, i64, i64, i64) = sqlx::query_as(
                    "SELECT \
                     (SELECT COUNT(*) FROM card_attempts \
                      WHERE ip_key = $1 AND declined_at >= $3), \
                     (SELECT COUNT(*) FROM card_attempts \
                      WHERE session_key = $2 AND declined_at >= $4), \
                     (SELECT COALESCE(MAX((SELECT COUNT(*) FROM card_attempts d \
                       WHERE d.fingerprint = m.fingerprint AND d.declined_at >= $5)), 0) \
                      FROM (SELECT fingerprint FROM card_attempts \
                       WHERE ip_key = $1 AND declined_at >= $5 AND fingerprint IS NOT NULL \
                       UNION SELECT fingerprint FROM card_attempts \
                       WHERE session_key = $2 AND declined_at >= $5 AND fingerprint IS NOT NULL) m), \
                     (SELECT COUNT(*) FROM card_attempts WHERE declined_at >= $6)",
                )
                .bind(ip_key)
                .bind(session_key)
                .bind(since.ip)
                .bind(since.session)
                .bind(since.fingerprint)
                .bind(since.shop)
                .fetch_one(self.pool())
                .await?;
                Ok(DeclineCounts {
                    ip,
                    session,
                    fingerprint,
                    shop,
                })
            }

            async fn card_declines_per_hour(&self, since: i64) -> Result<Vec<HourCount>> {
                Ok(sqlx::query_as::<_, HourCount>(
                    "SELECT (declined_at / 3600) * 3600 AS hour, COUNT(*) AS count \
                     FROM card_attempts WHERE declined_at >= $1 \
                     GROUP BY (declined_at / 3600) ORDER BY 1",
                )
                .bind(since)
                .fetch_all(self.pool())
                .await?)
            }

            async fn login_failure_record(
                &self,
                realm: &str,
                source: &str,
                account: &str,
                at: i64,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO login_failures (id, realm, source, account, at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(realm)
                .bind(source)
                .bind(account)
                .bind(at)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn login_failures_from(
                &self,
                realm: &str,
                source: &str,
                since: i64,
            ) -> Result<(i64, i64)> {
                Ok(sqlx::query_as(
                    "SELECT COUNT(*), COUNT(DISTINCT account) FROM login_failures \
                     WHERE realm = $1 AND source = $2 AND at >= $3",
                )
                .bind(realm)
                .bind(source)
                .bind(since)
                .fetch_one(self.pool())
                .await?)
            }

            async fn login_failures_per_hour(
                &self,
                realm: &str,
                since: i64,
            ) -> Result<Vec<HourCount>> {
                Ok(sqlx::query_as::<_, HourCount>(
                    "SELECT (at / 3600) * 3600 AS hour, COUNT(*) AS count \
                     FROM login_failures WHERE realm = $1 AND at >= $2 \
                     GROUP BY (at / 3600) ORDER BY 1",
                )
                .bind(realm)
                .bind(since)
                .fetch_all(self.pool())
                .await?)
            }

            async fn fraud_prune(&self, before: i64) -> Result<u64> {
                let a = sqlx::query("DELETE FROM card_attempts WHERE created_at < $1")
                    .bind(before)
                    .execute(self.pool())
                    .await?
                    .rows_affected();
                let b = sqlx::query("DELETE FROM login_failures WHERE at < $1")
                    .bind(before)
                    .execute(self.pool())
                    .await?
                    .rows_affected();
                Ok(a + b)
            }
        }
    };
}

impl_fraud_store!(SqliteStore);
impl_fraud_store!(PgStore);
