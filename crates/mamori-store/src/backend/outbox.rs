//! SQL of the outbox area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl MailOutboxStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_mail_outbox_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::MailOutboxStore for $store {
        $($own)*
        async fn outbox_enqueue(&self, rows: &[OutboxRow]) -> Result<()> {
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin_write().await?;
            $crate::backend::insert_mail!(tx, rows);
            tx.commit().await?;
            Ok(())
        }
        async fn outbox_mark_sent(&self, id: &str, at: i64) -> Result<()> {
            sqlx::query(
                "UPDATE mail_outbox SET state = 'sent', sent_at = COALESCE(sent_at, $2), \
                 lease_until = NULL, claim_token = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn outbox_mark_failed(
            &self,
            id: &str,
            token: &str,
            next_attempt_at: Option<i64>,
            reason: &str,
        ) -> Result<()> {
            let q = match next_attempt_at {
                Some(next) => sqlx::query(
                    "UPDATE mail_outbox SET next_attempt_at = $3, last_error = $4, lease_until = NULL, \
                     claim_token = NULL WHERE id = $1 AND claim_token = $2 AND state = 'pending'",
                )
                .bind(id)
                .bind(token)
                .bind(next)
                .bind(reason),
                None => sqlx::query(
                    "UPDATE mail_outbox SET state = 'dead', last_error = $3, lease_until = NULL, \
                     claim_token = NULL WHERE id = $1 AND claim_token = $2 AND state = 'pending'",
                )
                .bind(id)
                .bind(token)
                .bind(reason),
            };
            q.execute(&self.pool).await?;
            Ok(())
        }
        async fn outbox_release(&self, id: &str, token: &str) -> Result<()> {
            sqlx::query(
                "UPDATE mail_outbox SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                 lease_until = NULL, claim_token = NULL \
                 WHERE id = $1 AND claim_token = $2 AND state = 'pending'",
            )
            .bind(id)
            .bind(token)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn outbox_status(&self, id: &str) -> Result<Option<OutboxStatusRow>> {
            Ok(sqlx::query_as::<_, OutboxStatusRow>(
                "SELECT id, state, attempts, next_attempt_at, last_error, sent_at FROM mail_outbox WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        }
        async fn outbox_purge_sent(&self, sent_before: i64) -> Result<u64> {
            let done = sqlx::query("DELETE FROM mail_outbox WHERE state = 'sent' AND sent_at < $1")
                .bind(sent_before)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        }
        }
    };
}
pub(crate) use impl_mail_outbox_store;
