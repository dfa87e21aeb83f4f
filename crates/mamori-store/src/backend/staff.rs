//! SQL of the staff area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl StaffStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_staff_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::StaffStore for $store {
        $($own)*
        // ---- The back office (migration 0004). ----
        async fn staff_insert(&self, row: &StaffRow) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO staff (",
                $crate::backend::staff_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(&row.id)
            .bind(row.email.trim().to_lowercase())
            .bind(&row.display_name)
            .bind(&row.role)
            .bind(&row.state)
            .bind(&row.password_hash)
            .bind(row.failed_logins)
            .bind(row.locked_until)
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(row.last_login_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                $crate::backend::unique_violation_as(e, StoreError::Duplicate { what: "staff member" })
            })?;
            Ok(())
        }
        async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRow>> {
            Ok(sqlx::query_as::<_, StaffRow>(concat!(
                "SELECT ",
                $crate::backend::staff_columns!(),
                " FROM staff WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        }
        async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRow>> {
            Ok(sqlx::query_as::<_, StaffRow>(concat!(
                "SELECT ",
                $crate::backend::staff_columns!(),
                " FROM staff WHERE email = $1"
            ))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?)
        }
        async fn staff_list(&self) -> Result<Vec<StaffRow>> {
            Ok(sqlx::query_as::<_, StaffRow>(concat!(
                "SELECT ",
                $crate::backend::staff_columns!(),
                " FROM staff ORDER BY email"
            ))
            .fetch_all(&self.pool)
            .await?)
        }
        async fn staff_update(&self, row: &StaffRow) -> Result<()> {
            let done = sqlx::query(
                "UPDATE staff SET display_name = $2, role = $3, state = $4, password_hash = $5, \
                 last_login_at = $6, updated_at = $7 WHERE id = $1",
            )
            .bind(&row.id)
            .bind(&row.display_name)
            .bind(&row.role)
            .bind(&row.state)
            .bind(&row.password_hash)
            .bind(row.last_login_at)
            .bind(row.updated_at)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "staff member" });
            }
            Ok(())
        }
        async fn staff_login_failed(&self, id: &str, now: i64, threshold: i64, lock_secs: i64) -> Result<StaffRow> {
            // One statement: concurrent failures each count, and the row lock (PostgreSQL) or the
            // write lock (SQLite) makes the threshold test see every earlier failure.
            sqlx::query_as::<_, StaffRow>(concat!(
                "UPDATE staff SET failed_logins = failed_logins + 1, \
                 locked_until = CASE WHEN failed_logins + 1 >= $3 THEN $2 ELSE locked_until END \
                 WHERE id = $1 RETURNING ",
                $crate::backend::staff_columns!()
            ))
            .bind(id)
            .bind(now.saturating_add(lock_secs))
            .bind(threshold)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "staff member" })
        }
        async fn staff_login_succeeded(&self, id: &str, now: i64) -> Result<()> {
            let done = sqlx::query(
                "UPDATE staff SET failed_logins = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "staff member" });
            }
            Ok(())
        }
        async fn staff_passkey_insert(&self, row: &PasskeyRow) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO staff_passkeys (",
                $crate::backend::passkey_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&row.id)
            .bind(&row.staff_id)
            .bind(&row.credential_id)
            .bind(&row.passkey)
            .bind(&row.label)
            .bind(row.created_at)
            .bind(row.last_used_at)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { what: "staff member" }
                }
                _ => $crate::backend::unique_violation_as(e, StoreError::Duplicate { what: "passkey" }),
            })?;
            Ok(())
        }
        async fn staff_passkeys(&self, staff_id: &str) -> Result<Vec<PasskeyRow>> {
            Ok(sqlx::query_as::<_, PasskeyRow>(concat!(
                "SELECT ",
                $crate::backend::passkey_columns!(),
                " FROM staff_passkeys WHERE staff_id = $1 ORDER BY created_at, id"
            ))
            .bind(staff_id)
            .fetch_all(&self.pool)
            .await?)
        }
        async fn staff_passkey_by_credential(&self, credential_id: &[u8]) -> Result<Option<PasskeyRow>> {
            Ok(sqlx::query_as::<_, PasskeyRow>(concat!(
                "SELECT ",
                $crate::backend::passkey_columns!(),
                " FROM staff_passkeys WHERE credential_id = $1"
            ))
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await?)
        }
        async fn staff_passkey_update(&self, id: &str, passkey: &str, last_used_at: i64) -> Result<bool> {
            let done = sqlx::query("UPDATE staff_passkeys SET passkey = $2, last_used_at = $3 WHERE id = $1")
                .bind(id)
                .bind(passkey)
                .bind(last_used_at)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn staff_passkey_delete(&self, staff_id: &str, id: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM staff_passkeys WHERE id = $1 AND staff_id = $2")
                .bind(id)
                .bind(staff_id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn staff_totp_set(&self, staff_id: &str, sealed: &[u8], at: i64) -> Result<()> {
            sqlx::query(
                "INSERT INTO staff_totp (staff_id, secret, last_step, created_at) VALUES ($1, $2, 0, $3) \
                 ON CONFLICT (staff_id) DO UPDATE SET secret = excluded.secret, last_step = 0, \
                 created_at = excluded.created_at",
            )
            .bind(staff_id)
            .bind(sealed)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn staff_totp(&self, staff_id: &str) -> Result<Option<(Vec<u8>, i64)>> {
            Ok(sqlx::query_as("SELECT secret, last_step FROM staff_totp WHERE staff_id = $1")
                .bind(staff_id)
                .fetch_optional(&self.pool)
                .await?)
        }
        async fn staff_totp_use_step(&self, staff_id: &str, step: i64) -> Result<bool> {
            let done = sqlx::query("UPDATE staff_totp SET last_step = $2 WHERE staff_id = $1 AND last_step < $2")
                .bind(staff_id)
                .bind(step)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn staff_totp_delete(&self, staff_id: &str) -> Result<()> {
            sqlx::query("DELETE FROM staff_totp WHERE staff_id = $1")
                .bind(staff_id)
                .execute(&self.pool)
                .await?;
            Ok(())
        }
        async fn staff_recovery_replace(&self, staff_id: &str, hashes: &[Vec<u8>], at: i64) -> Result<()> {
            let mut tx = self.begin_write().await?;
            sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1")
                .bind(staff_id)
                .execute(&mut *tx)
                .await?;
            for h in hashes {
                sqlx::query(
                    "INSERT INTO staff_recovery_codes (staff_id, code_hash, used_at, created_at) \
                     VALUES ($1, $2, NULL, $3)",
                )
                .bind(staff_id)
                .bind(h)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound { what: "staff member" }
                    }
                    _ => $crate::backend::unique_violation_as(e, StoreError::Duplicate { what: "recovery code" }),
                })?;
            }
            tx.commit().await?;
            Ok(())
        }
        async fn staff_recovery_use(&self, staff_id: &str, hash: &[u8], at: i64) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE staff_recovery_codes SET used_at = $3 \
                 WHERE staff_id = $1 AND code_hash = $2 AND used_at IS NULL",
            )
            .bind(staff_id)
            .bind(hash)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn staff_recovery_remaining(&self, staff_id: &str) -> Result<i64> {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM staff_recovery_codes WHERE staff_id = $1 AND used_at IS NULL",
            )
            .bind(staff_id)
            .fetch_one(&self.pool)
            .await?)
        }
        async fn staff_token_insert(&self, row: &StaffTokenRow) -> Result<()> {
            sqlx::query(
                "INSERT INTO staff_tokens (token_hash, staff_id, purpose, expires_at, used_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&row.token_hash)
            .bind(&row.staff_id)
            .bind(&row.purpose)
            .bind(row.expires_at)
            .bind(row.used_at)
            .bind(row.created_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn staff_token_consume(&self, token_hash: &[u8], purpose: &str, now: i64) -> Result<Option<StaffTokenRow>> {
            // One conditional UPDATE, like `token_consume`: exactly one of two consumers wins.
            let row = sqlx::query_as::<_, StaffTokenRow>(
                "UPDATE staff_tokens SET used_at = $3 \
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING token_hash, staff_id, purpose, expires_at, used_at, created_at",
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
        async fn staff_tokens_revoke(&self, staff_id: &str, purpose: &str, at: i64) -> Result<u64> {
            let done = sqlx::query(
                "UPDATE staff_tokens SET used_at = $3 WHERE staff_id = $1 AND purpose = $2 AND used_at IS NULL",
            )
            .bind(staff_id)
            .bind(purpose)
            .bind(at)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        }
        async fn staff_device_seen(&self, staff_id: &str, device_hash: &[u8], at: i64) -> Result<bool> {
            // The primary key decides between two first sightings; the loser only moves last_seen.
            let new = sqlx::query(
                "INSERT INTO staff_devices (staff_id, device_hash, first_seen, last_seen) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (staff_id, device_hash) DO NOTHING",
            )
            .bind(staff_id)
            .bind(device_hash)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { what: "staff member" }
                }
                _ => StoreError::Database(e),
            })?;
            if new.rows_affected() == 1 {
                return Ok(true);
            }
            sqlx::query("UPDATE staff_devices SET last_seen = $3 WHERE staff_id = $1 AND device_hash = $2")
                .bind(staff_id)
                .bind(device_hash)
                .bind(at)
                .execute(&self.pool)
                .await?;
            Ok(false)
        }
        }
    };
}
pub(crate) use impl_staff_store;
