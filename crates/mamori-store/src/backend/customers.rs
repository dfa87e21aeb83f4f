//! SQL of the customers area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl CustomerStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_customer_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::CustomerStore for $store {
        $($own)*
        async fn insert_customer(&self, row: &CustomerRow, key: &CustomerKeyRow) -> Result<()> {
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO customers (id, kind, email_bidx, name_ct, email_ct, phone_ct, birth_date_ct, \
                 gender_ct, password_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&row.id)
            .bind(&row.kind)
            .bind(&row.email_bidx)
            .bind(&row.name_ct)
            .bind(&row.email_ct)
            .bind(&row.phone_ct)
            .bind(&row.birth_date_ct)
            .bind(&row.gender_ct)
            .bind(&row.password_hash)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| $crate::backend::unique_violation_as(e, StoreError::DuplicateMember))?;
            sqlx::query(
                "INSERT INTO customer_keys (customer_id, master_key_id, wrapped, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&key.customer_id)
            .bind(&key.master_key_id)
            .bind(&key.wrapped)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        async fn customer(&self, id: &str) -> Result<Option<CustomerRow>> {
            let row = sqlx::query_as::<_, CustomerRow>(concat!(
                "SELECT ",
                $crate::backend::customer_columns!(),
                " FROM customers WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row)
        }
        async fn update_customer(&self, row: &CustomerRow) -> Result<()> {
            self.update_customer_with_mail(row, &[]).await
        }
        async fn update_customer_with_mail(&self, row: &CustomerRow, mail: &[OutboxRow]) -> Result<()> {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "UPDATE customers SET email_bidx = $2, name_ct = $3, email_ct = $4, phone_ct = $5, \
                 birth_date_ct = $6, gender_ct = $7, password_hash = $8, updated_at = $9 \
                 WHERE id = $1 AND erased_at IS NULL",
            )
            .bind(&row.id)
            .bind(&row.email_bidx)
            .bind(&row.name_ct)
            .bind(&row.email_ct)
            .bind(&row.phone_ct)
            .bind(&row.birth_date_ct)
            .bind(&row.gender_ct)
            .bind(&row.password_hash)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| $crate::backend::unique_violation_as(e, StoreError::DuplicateMember))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "customer" });
            }
            $crate::backend::insert_mail!(tx, mail);
            tx.commit().await?;
            Ok(())
        }
        async fn member_by_email_bidx(&self, bidx: &[u8]) -> Result<Option<String>> {
            let id: Option<String> = sqlx::query_scalar(
                "SELECT id FROM customers WHERE kind = 'member' AND erased_at IS NULL AND email_bidx = $1",
            )
            .bind(bidx)
            .fetch_optional(&self.pool)
            .await?;
            Ok(id)
        }
        async fn customer_search_set(&self, customer_id: &str, bidx: &[Vec<u8>]) -> Result<()> {
            let mut tx = self.begin_write().await?;
            sqlx::query("DELETE FROM customer_search WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
            for b in bidx {
                sqlx::query(
                    "INSERT INTO customer_search (customer_id, bidx) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(customer_id)
                .bind(b)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        async fn customers_by_search_bidx(&self, bidx: &[Vec<u8>], limit: i64) -> Result<Vec<String>> {
            let mut found: Vec<(String, i64)> = Vec::new();
            for b in bidx {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT c.id, c.created_at FROM customer_search s JOIN customers c ON c.id = s.customer_id \
                     WHERE s.bidx = $1 AND c.erased_at IS NULL ORDER BY c.created_at DESC, c.id DESC LIMIT $2",
                )
                .bind(b)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                for r in rows {
                    if !found.iter().any(|(id, _)| *id == r.0) {
                        found.push(r);
                    }
                }
            }
            found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
            found.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(found.into_iter().map(|(id, _)| id).collect())
        }
        async fn customers_with_keys(
            &self,
            ids: &[String],
        ) -> Result<Vec<(CustomerRow, Option<CustomerKeyRow>)>> {
            let mut out = Vec::with_capacity(ids.len());
            // A thousand binds per statement: well under SQLite's limit of 32,766 variables.
            for chunk in ids.chunks(1000) {
                let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ",
                    $crate::backend::customer_columns!(),
                    " FROM customers WHERE id IN ("
                ));
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                qb.push(")");
                let rows: Vec<CustomerRow> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT customer_id, master_key_id, wrapped FROM customer_keys WHERE customer_id IN (",
                );
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                qb.push(")");
                let keys: Vec<CustomerKeyRow> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                let mut keys: std::collections::HashMap<String, CustomerKeyRow> = keys
                    .into_iter()
                    .map(|k| (k.customer_id.clone(), k))
                    .collect();
                out.extend(rows.into_iter().map(|r| {
                    let k = keys.remove(&r.id);
                    (r, k)
                }));
            }
            Ok(out)
        }
        async fn customer_key(&self, customer_id: &str) -> Result<Option<CustomerKeyRow>> {
            let row = sqlx::query_as::<_, CustomerKeyRow>(
                "SELECT customer_id, master_key_id, wrapped FROM customer_keys WHERE customer_id = $1",
            )
            .bind(customer_id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row)
        }
        async fn keys_not_wrapped_by(&self, master_key_id: &str, limit: i64) -> Result<Vec<CustomerKeyRow>> {
            let rows = sqlx::query_as::<_, CustomerKeyRow>(
                "SELECT customer_id, master_key_id, wrapped FROM customer_keys \
                 WHERE master_key_id <> $1 ORDER BY customer_id LIMIT $2",
            )
            .bind(master_key_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        }
        async fn update_wrapped_keys(&self, rows: &[CustomerKeyRow]) -> Result<()> {
            let mut tx = self.begin_write().await?;
            let now = now_us();
            for r in rows {
                sqlx::query(
                    "UPDATE customer_keys SET master_key_id = $2, wrapped = $3, rotated_at = $4 \
                     WHERE customer_id = $1",
                )
                .bind(&r.customer_id)
                .bind(&r.master_key_id)
                .bind(&r.wrapped)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        async fn key_counts(&self) -> Result<Vec<(String, i64)>> {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT master_key_id, COUNT(*) FROM customer_keys GROUP BY master_key_id ORDER BY master_key_id",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        }
        async fn erase_customer(&self, customer_id: &str, at: i64) -> Result<()> {
            let mut tx = self.begin_write().await?;
            let gone = sqlx::query("DELETE FROM customer_keys WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
            let found = sqlx::query(
                "UPDATE customers SET name_ct = NULL, email_ct = NULL, phone_ct = NULL, birth_date_ct = NULL, \
                 gender_ct = NULL, email_bidx = NULL, password_hash = NULL, erased_at = $2, updated_at = $2 \
                 WHERE id = $1",
            )
            .bind(customer_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if found.rows_affected() == 0 && gone.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "customer" });
            }
            // The ciphertexts are unreadable without the key already; clearing them as well keeps
            // them out of future backups. Orders keep their amounts (tax records), not their people.
            sqlx::query("UPDATE addresses SET name_ct = NULL, address_ct = NULL, phone_ct = NULL WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE orders SET buyer_name_ct = NULL, buyer_email_ct = NULL, buyer_phone_ct = NULL, \
                 buyer_address_ct = NULL WHERE customer_id = $1",
            )
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE order_items SET personalisation_ct = NULL, noshi_ct = NULL \
                 WHERE order_id IN (SELECT id FROM orders WHERE customer_id = $1)",
            )
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE shipments SET name_ct = NULL, address_ct = NULL, phone_ct = NULL \
                 WHERE order_id IN (SELECT id FROM orders WHERE customer_id = $1)",
            )
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
            // Queued mail: the payloads are sealed under the destroyed key; emptying them keeps the
            // ciphertext out of backups, and pending rows go dead so no worker claims them.
            sqlx::query(
                "UPDATE mail_outbox SET state = CASE WHEN state = 'pending' THEN 'dead' ELSE state END, \
                 payload_ct = $2, lease_until = NULL, claim_token = NULL, \
                 last_error = CASE WHEN state = 'pending' THEN 'customer erased' ELSE last_error END \
                 WHERE customer_id = $1",
            )
            .bind(customer_id)
            .bind(Vec::<u8>::new())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM auth_tokens WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM member_carts WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
        async fn insert_address(&self, row: &AddressRow) -> Result<()> {
            self.insert_address_with_mail(row, &[]).await
        }
        async fn insert_address_with_mail(&self, row: &AddressRow, mail: &[OutboxRow]) -> Result<()> {
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO addresses (id, customer_id, name_ct, address_ct, phone_ct, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&row.id)
            .bind(&row.customer_id)
            .bind(&row.name_ct)
            .bind(&row.address_ct)
            .bind(&row.phone_ct)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
            $crate::backend::insert_mail!(tx, mail);
            tx.commit().await?;
            Ok(())
        }
        async fn addresses(&self, customer_id: &str) -> Result<Vec<AddressRow>> {
            let rows = sqlx::query_as::<_, AddressRow>(
                "SELECT id, customer_id, name_ct, address_ct, phone_ct, created_at FROM addresses \
                 WHERE customer_id = $1 ORDER BY created_at, id",
            )
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        }
        async fn delete_address(&self, customer_id: &str, address_id: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM addresses WHERE id = $1 AND customer_id = $2")
                .bind(address_id)
                .bind(customer_id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn mark_email_verified(&self, customer_id: &str, at: i64) -> Result<()> {
            let done = sqlx::query(
                "UPDATE customers SET email_verified_at = $2, updated_at = $3 WHERE id = $1 AND erased_at IS NULL",
            )
            .bind(customer_id)
            .bind(at)
            .bind(at.saturating_mul(1_000_000))
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound { what: "customer" });
            }
            Ok(())
        }
        async fn customers_page(&self, offset: i64, limit: i64) -> Result<Page<CustomerRow>> {
            let items = sqlx::query_as::<_, CustomerRow>(concat!(
                "SELECT ",
                $crate::backend::customer_columns!(),
                " FROM customers ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }
        }
    };
}
pub(crate) use impl_customer_store;
