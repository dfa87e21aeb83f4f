//! SQL of the sessions area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl WebSessionStore for $store`: the shared methods plus the backend's own (`$own`).
/// The storefront's `sessions` and the back office's `staff_sessions` have the same columns, so
/// their four methods are written once and expanded for each table (`@tables`).
macro_rules! impl_web_session_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        impl_web_session_store!(@tables $store, $db, { $($own)* },
            [session_load, session_save, session_delete, session_purge, "sessions"],
            [staff_session_load, staff_session_save, staff_session_delete, staff_session_purge, "staff_sessions"]
        );
    };
    (@tables $store:ty, $db:ty, { $($own:tt)* },
        $([$load:ident, $save:ident, $delete:ident, $purge:ident, $table:literal]),+ $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::WebSessionStore for $store {
        $($own)*
        $(
        async fn $load(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            Ok(sqlx::query_scalar(concat!("SELECT record FROM ", $table, " WHERE key = $1"))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?)
        }
        async fn $save(&self, key: &[u8], record: &[u8], created_at: i64, last_seen: i64) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO ", $table, " (key, record, created_at, last_seen) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET record = excluded.record, created_at = excluded.created_at, \
                 last_seen = excluded.last_seen",
            ))
            .bind(key)
            .bind(record)
            .bind(created_at)
            .bind(last_seen)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn $delete(&self, key: &[u8]) -> Result<()> {
            sqlx::query(concat!("DELETE FROM ", $table, " WHERE key = $1"))
                .bind(key)
                .execute(&self.pool)
                .await?;
            Ok(())
        }
        async fn $purge(&self, idle_before: i64, created_before: i64) -> Result<u64> {
            let done = sqlx::query(concat!("DELETE FROM ", $table, " WHERE last_seen < $1 OR created_at < $2"))
                .bind(idle_before)
                .bind(created_before)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        }
        )+
        async fn webhook_first_seen(&self, event_id: &str, keep_until: i64, now: i64) -> Result<bool> {
            sqlx::query("DELETE FROM webhook_events WHERE keep_until < $1")
                .bind(now)
                .execute(&self.pool)
                .await?;
            // The primary key decides between concurrent deliveries of the same event.
            let done = sqlx::query(
                "INSERT INTO webhook_events (event_id, keep_until, received_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(event_id)
            .bind(keep_until)
            .bind(now)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn cart_lines(&self, customer_id: &str) -> Result<Vec<(String, i64)>> {
            Ok(sqlx::query_as(
                "SELECT sku, quantity FROM member_carts WHERE customer_id = $1 ORDER BY sku",
            )
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?)
        }
        async fn cart_set(&self, customer_id: &str, sku: &str, quantity: i64, at: i64) -> Result<()> {
            if quantity < 0 {
                return Err(StoreError::BadInput {
                    field: "quantity",
                    reason: "a cart quantity cannot be negative",
                });
            }
            if quantity == 0 {
                sqlx::query("DELETE FROM member_carts WHERE customer_id = $1 AND sku = $2")
                    .bind(customer_id)
                    .bind(sku)
                    .execute(&self.pool)
                    .await?;
                return Ok(());
            }
            sqlx::query(
                "INSERT INTO member_carts (customer_id, sku, quantity, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (customer_id, sku) DO UPDATE SET quantity = excluded.quantity, \
                 updated_at = excluded.updated_at",
            )
            .bind(customer_id)
            .bind(sku)
            .bind(quantity)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn cart_clear(&self, customer_id: &str) -> Result<()> {
            sqlx::query("DELETE FROM member_carts WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&self.pool)
                .await?;
            Ok(())
        }
        async fn tokens_purge(&self, expired_before: i64) -> Result<u64> {
            let customers = sqlx::query("DELETE FROM auth_tokens WHERE expires_at < $1")
                .bind(expired_before)
                .execute(&self.pool)
                .await?;
            let staff = sqlx::query("DELETE FROM staff_tokens WHERE expires_at < $1")
                .bind(expired_before)
                .execute(&self.pool)
                .await?;
            Ok(customers.rows_affected() + staff.rows_affected())
        }
        }
    };
}
pub(crate) use impl_web_session_store;

/// Emits `impl TokenStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_token_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::TokenStore for $store {
        $($own)*
        async fn token_insert(&self, row: &TokenRow) -> Result<()> {
            sqlx::query(
                "INSERT INTO auth_tokens (token_hash, purpose, customer_id, payload_ct, created_at, \
                 expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&row.token_hash)
            .bind(&row.purpose)
            .bind(&row.customer_id)
            .bind(&row.payload_ct)
            .bind(row.created_at)
            .bind(row.expires_at)
            .bind(row.used_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn token_consume(&self, token_hash: &[u8], purpose: &str, now: i64) -> Result<Option<TokenRow>> {
            // One conditional UPDATE: the row lock (PostgreSQL) or the write lock (SQLite) lets
            // exactly one of two concurrent consumers see `used_at IS NULL`.
            let row = sqlx::query_as::<_, TokenRow>(
                "UPDATE auth_tokens SET used_at = $3 \
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING token_hash, purpose, customer_id, payload_ct, created_at, expires_at, used_at",
            )
            .bind(token_hash)
            .bind(purpose)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|mut r| {
                r.used_at = None;
                r
            }))
        }
        async fn tokens_revoke(&self, customer_id: &str, purpose: &str, at: i64) -> Result<u64> {
            let done = sqlx::query(
                "UPDATE auth_tokens SET used_at = $3 WHERE customer_id = $1 AND purpose = $2 AND used_at IS NULL",
            )
            .bind(customer_id)
            .bind(purpose)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        }
        }
    };
}
pub(crate) use impl_token_store;
