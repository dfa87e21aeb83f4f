//! The two database backends. Their SQL is the same text wherever the dialects agree (both accept
//! `$n` placeholders, `ON CONFLICT`, partial indexes), so the shared statements are written once in
//! [`shared_store_methods`] and expanded for each backend's own typed driver; what differs (opening,
//! migrations, how the ledger's end is locked) lives in each backend's file.
//!
//! A macro rather than generic code over `sqlx::Database`: the trait bounds sqlx needs for generic
//! executors are long and fragile, and a macro keeps each backend on its native, typed driver.

mod postgres;
mod sqlite;
mod storefront;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::error::StoreError;

/// Maps a unique-constraint failure to a domain error and passes the rest on.
pub(crate) fn unique_violation_as(err: sqlx::Error, as_err: StoreError) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => as_err,
        _ => StoreError::Database(err),
    }
}

pub(crate) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Malformed {
        table: "ledger_entries",
        column: "leaf_hash",
    })
}

/// Rows per multi-row INSERT: well under both SQLite's and PostgreSQL's bind-parameter limits.
pub(crate) const INSERT_CHUNK: usize = 1000;

/// `text` with LIKE's wildcards and escape character escaped (use with `ESCAPE '\\'`).
pub(crate) fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A LIKE pattern matching values that start with `prefix` (use with `ESCAPE '\\'`).
pub(crate) fn like_prefix(prefix: &str) -> String {
    format!("{}%", like_escape(prefix))
}

/// The columns of [`crate::model::StaffRow`], in its field order.
macro_rules! staff_columns {
    () => {
        "id, email, display_name, role, state, password_hash, failed_logins, locked_until, created_at, \
         updated_at, last_login_at"
    };
}
pub(crate) use staff_columns;

/// The columns of [`crate::model::PasskeyRow`], in its field order.
macro_rules! passkey_columns {
    () => {
        "id, staff_id, credential_id, passkey, label, created_at, last_used_at"
    };
}
pub(crate) use passkey_columns;

/// The columns of [`crate::model::ProductImageRow`], in its field order.
macro_rules! image_columns {
    () => {
        "id, product_id, content_type, bytes, width, height, sha256, created_at"
    };
}
pub(crate) use image_columns;

/// The columns of [`crate::model::StaffLogRow`], in its field order.
macro_rules! staff_log_columns {
    () => {
        "seq, at, staff_id, action, target, detail, request_id, ip"
    };
}
pub(crate) use staff_log_columns;

/// The columns of [`crate::model::CustomerRow`], in its field order.
macro_rules! customer_columns {
    () => {
        "id, kind, email_bidx, name_ct, email_ct, phone_ct, birth_date_ct, gender_ct, \
         password_hash, created_at, updated_at, erased_at, email_verified_at"
    };
}
pub(crate) use customer_columns;

/// Appends ` WHERE ...` for a [`crate::model::StaffLogFilter`] to a query builder.
macro_rules! push_staff_log_filter {
    ($qb:expr, $f:expr) => {{
        let f: &StaffLogFilter = $f;
        $qb.push(" WHERE 1 = 1");
        if let Some(v) = &f.staff_id {
            $qb.push(" AND staff_id = ").push_bind(v.clone());
        }
        if let Some(v) = &f.action_prefix {
            $qb.push(" AND action LIKE ")
                .push_bind($crate::backend::like_prefix(v))
                .push(" ESCAPE '\\'");
        }
        if let Some(v) = f.from {
            $qb.push(" AND at >= ").push_bind(v);
        }
        if let Some(v) = f.to {
            $qb.push(" AND at < ").push_bind(v);
        }
    }};
}
pub(crate) use push_staff_log_filter;

/// Appends ` WHERE ...` for a [`crate::model::OrderFilter`] to a query builder.
macro_rules! push_order_filter {
    ($qb:expr, $f:expr) => {{
        let f: &OrderFilter = $f;
        $qb.push(" WHERE 1 = 1");
        if let Some(v) = &f.state {
            $qb.push(" AND state = ").push_bind(v.clone());
        }
        if let Some(v) = &f.number_prefix {
            $qb.push(" AND order_number LIKE ")
                .push_bind($crate::backend::like_prefix(v))
                .push(" ESCAPE '\\'");
        }
        if let Some(v) = f.placed_from_us {
            $qb.push(" AND placed_at >= ").push_bind(v);
        }
        if let Some(v) = f.placed_to_us {
            $qb.push(" AND placed_at < ").push_bind(v);
        }
    }};
}
pub(crate) use push_order_filter;

/// The columns of [`crate::model::OrderRow`], in its field order.
macro_rules! order_columns {
    () => {
        "id, order_number, customer_id, idempotency_key, state, payment_method, items_total, cod_fee, \
         shipping_fee, total, tax_standard, tax_reduced, buyer_name_ct, buyer_email_ct, buyer_phone_ct, \
         buyer_address_ct, placed_at, updated_at"
    };
}
pub(crate) use order_columns;

/// The columns of [`crate::model::ProductRow`], in its field order.
macro_rules! product_columns {
    () => {
        "id, sku, category_id, name_ja, name_en, description_ja, description_en, price_incl, tax_rate, stock, \
         offers_personalisation, offers_noshi, active, created_at, updated_at"
    };
}
pub(crate) use product_columns;

/// The columns of [`crate::model::PaymentRow`], in its field order.
macro_rules! payment_columns {
    () => {
        "order_id, provider, payment_id, status, amount, brand, last4, created_at, updated_at"
    };
}
pub(crate) use payment_columns;

/// Inserts outbox rows (state `pending`, no attempts) inside the open transaction `$tx`.
macro_rules! insert_mail {
    ($tx:ident, $rows:expr) => {
        for m in $rows {
            sqlx::query(
                "INSERT INTO mail_outbox (id, customer_id, kind, payload_ct, state, attempts, \
                 next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
            )
            .bind(&m.id)
            .bind(&m.customer_id)
            .bind(&m.kind)
            .bind(&m.payload_ct)
            .bind(m.next_attempt_at)
            .bind(m.created_at)
            .execute(&mut *$tx)
            .await?;
        }
    };
}
pub(crate) use insert_mail;

/// The part of an outbox claim that runs inside the backend's own transaction: selects the due
/// rows with `$select_sql` (which carries the backend's lock clause) and claims each with a
/// conditional UPDATE that re-checks the row is still claimable.
macro_rules! outbox_claim_in_tx {
    ($conn:expr, $select_sql:expr, $limit:expr, $lease_secs:expr, $now:expr) => {{
        let conn = $conn;
        let now: i64 = $now;
        let lease_until = now.saturating_add($lease_secs);
        let ids: Vec<String> = sqlx::query_scalar($select_sql)
            .bind(now)
            .bind($limit)
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let claimed = sqlx::query_as::<_, OutboxClaimRow>(
                "UPDATE mail_outbox SET claim_token = $2, attempts = attempts + 1, lease_until = $3 \
                 WHERE id = $1 AND state = 'pending' AND next_attempt_at <= $4 \
                 AND (lease_until IS NULL OR lease_until <= $4) \
                 RETURNING id, customer_id, kind, payload_ct, claim_token AS token, attempts AS attempt, \
                 lease_until, created_at",
            )
            .bind(&id)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(lease_until)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            out.extend(claimed);
        }
        Ok::<_, StoreError>(out)
    }};
}
pub(crate) use outbox_claim_in_tx;

/// Selects claimable outbox ids (`$1` now, `$2` limit); each backend appends its lock clause.
macro_rules! outbox_due_sql {
    () => {
        "SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, id LIMIT $2"
    };
}
pub(crate) use outbox_due_sql;

/// Emits `impl Store for $store` with the backend's own methods (`$own`) and the shared ones.
/// (`#[async_trait]` must see the methods already expanded, so the macro emits the whole impl.)
macro_rules! impl_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl Store for $store {
        $($own)*
        async fn insert_customer(&self, row: &CustomerRow, key: &CustomerKeyRow) -> Result<()> {
            let mut tx = self.pool.begin().await?;
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
            let mut tx = self.pool.begin().await?;
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
            let mut tx = self.pool.begin().await?;
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
            let mut tx = self.pool.begin().await?;
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
            let mut tx = self.pool.begin().await?;
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

        async fn insert_order(&self, bundle: &OrderBundle) -> Result<OrderInsert> {
            self.insert_order_with_mail(bundle, &[]).await
        }

        async fn insert_order_with_mail(&self, bundle: &OrderBundle, mail: &[OutboxRow]) -> Result<OrderInsert> {
            let o = &bundle.order;
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM orders WHERE idempotency_key = $1")
                    .bind(&o.idempotency_key)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(order_id) = existing {
                return Ok(OrderInsert::Existing { order_id });
            }
            let mut tx = self.pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO orders (id, order_number, customer_id, idempotency_key, state, payment_method, \
                 items_total, cod_fee, shipping_fee, total, tax_standard, tax_reduced, buyer_name_ct, \
                 buyer_email_ct, buyer_phone_ct, buyer_address_ct, placed_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(&o.id)
            .bind(&o.order_number)
            .bind(&o.customer_id)
            .bind(&o.idempotency_key)
            .bind(&o.state)
            .bind(&o.payment_method)
            .bind(o.items_total)
            .bind(o.cod_fee)
            .bind(o.shipping_fee)
            .bind(o.total)
            .bind(o.tax_standard)
            .bind(o.tax_reduced)
            .bind(&o.buyer_name_ct)
            .bind(&o.buyer_email_ct)
            .bind(&o.buyer_phone_ct)
            .bind(&o.buyer_address_ct)
            .bind(o.placed_at)
            .bind(o.updated_at)
            .execute(&mut *tx)
            .await;
            if let Err(e) = inserted {
                let unique = matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation());
                drop(tx);
                if unique {
                    // A concurrent submission with the same key won the race: return its order.
                    let order_id: Option<String> =
                        sqlx::query_scalar("SELECT id FROM orders WHERE idempotency_key = $1")
                            .bind(&o.idempotency_key)
                            .fetch_optional(&self.pool)
                            .await?;
                    if let Some(order_id) = order_id {
                        return Ok(OrderInsert::Existing { order_id });
                    }
                }
                return Err(StoreError::Database(e));
            }
            for it in &bundle.items {
                sqlx::query(
                    "INSERT INTO order_items (order_id, line_no, sku, product_name, unit_price, tax_rate, \
                     quantity, personalisation_ct, noshi_ct, shipment_no) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&o.id)
                .bind(it.line_no)
                .bind(&it.sku)
                .bind(&it.product_name)
                .bind(it.unit_price)
                .bind(&it.tax_rate)
                .bind(it.quantity)
                .bind(&it.personalisation_ct)
                .bind(&it.noshi_ct)
                .bind(it.shipment_no)
                .execute(&mut *tx)
                .await?;
            }
            for s in &bundle.shipments {
                sqlx::query(
                    "INSERT INTO shipments (order_id, shipment_no, name_ct, address_ct, phone_ct, \
                     delivery_date, delivery_slot) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&o.id)
                .bind(s.shipment_no)
                .bind(&s.name_ct)
                .bind(&s.address_ct)
                .bind(&s.phone_ct)
                .bind(&s.delivery_date)
                .bind(&s.delivery_slot)
                .execute(&mut *tx)
                .await?;
            }
            $crate::backend::insert_mail!(tx, mail);
            tx.commit().await?;
            Ok(OrderInsert::Inserted)
        }

        async fn order(&self, order_id: &str) -> Result<Option<OrderBundle>> {
            let order = sqlx::query_as::<_, OrderRow>(
                concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"),
            )
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(order) = order else { return Ok(None) };
            let items = sqlx::query_as::<_, OrderItemRow>(
                "SELECT order_id, line_no, sku, product_name, unit_price, tax_rate, quantity, \
                 personalisation_ct, noshi_ct, shipment_no FROM order_items WHERE order_id = $1 ORDER BY line_no",
            )
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
            let shipments = sqlx::query_as::<_, ShipmentRow>(
                "SELECT order_id, shipment_no, name_ct, address_ct, phone_ct, delivery_date, delivery_slot \
                 FROM shipments WHERE order_id = $1 ORDER BY shipment_no",
            )
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(Some(OrderBundle { order, items, shipments }))
        }

        async fn orders_of(&self, customer_id: &str) -> Result<Vec<OrderRow>> {
            let rows = sqlx::query_as::<_, OrderRow>(
                concat!(
                    "SELECT ",
                    order_columns!(),
                    " FROM orders WHERE customer_id = $1 ORDER BY placed_at DESC, id DESC"
                ),
            )
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        }

        async fn upsert_category(&self, row: &CategoryRow) -> Result<()> {
            sqlx::query(
                "INSERT INTO categories (id, slug, name_ja, name_en, position) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name_ja = excluded.name_ja, \
                 name_en = excluded.name_en, position = excluded.position",
            )
            .bind(&row.id)
            .bind(&row.slug)
            .bind(&row.name_ja)
            .bind(&row.name_en)
            .bind(row.position)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn categories(&self) -> Result<Vec<CategoryRow>> {
            Ok(sqlx::query_as::<_, CategoryRow>(
                "SELECT id, slug, name_ja, name_en, position FROM categories ORDER BY position, id",
            )
            .fetch_all(&self.pool)
            .await?)
        }

        async fn upsert_product(&self, row: &ProductRow) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO products (",
                product_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, category_id = excluded.category_id, \
                 name_ja = excluded.name_ja, name_en = excluded.name_en, description_ja = excluded.description_ja, \
                 description_en = excluded.description_en, price_incl = excluded.price_incl, \
                 tax_rate = excluded.tax_rate, stock = excluded.stock, \
                 offers_personalisation = excluded.offers_personalisation, offers_noshi = excluded.offers_noshi, \
                 active = excluded.active, updated_at = excluded.updated_at"
            ))
            .bind(&row.id)
            .bind(&row.sku)
            .bind(&row.category_id)
            .bind(&row.name_ja)
            .bind(&row.name_en)
            .bind(&row.description_ja)
            .bind(&row.description_en)
            .bind(row.price_incl)
            .bind(&row.tax_rate)
            .bind(row.stock)
            .bind(row.offers_personalisation)
            .bind(row.offers_noshi)
            .bind(row.active)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn product_by_sku(&self, sku: &str) -> Result<Option<ProductRow>> {
            Ok(sqlx::query_as::<_, ProductRow>(concat!("SELECT ", product_columns!(), " FROM products WHERE sku = $1"))
                .bind(sku)
                .fetch_optional(&self.pool)
                .await?)
        }

        async fn products_in_category(&self, category_id: &str, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            let items = sqlx::query_as::<_, ProductRow>(concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE category_id = $1 AND active ORDER BY sku LIMIT $2 OFFSET $3"
            ))
            .bind(category_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE category_id = $1 AND active")
                .bind(category_id)
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }

        async fn search_products(&self, text: &str, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            // LIKE with the wildcards of the user's text escaped, so "%" finds a percent sign.
            let pattern = format!("%{}%", $crate::backend::like_escape(text));
            // LOWER on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
            let filter = "active AND (LOWER(name_ja) LIKE LOWER($1) ESCAPE '\\' OR LOWER(name_en) LIKE LOWER($1) ESCAPE '\\' \
                          OR LOWER(description_ja) LIKE LOWER($1) ESCAPE '\\' \
                          OR LOWER(description_en) LIKE LOWER($1) ESCAPE '\\')";
            let items = sqlx::query_as::<_, ProductRow>(&format!(
                "SELECT {} FROM products WHERE {filter} ORDER BY sku LIMIT $2 OFFSET $3",
                product_columns!()
            ))
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM products WHERE {filter}"))
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }

        async fn take_stock(&self, sku: &str, quantity: i64) -> Result<bool> {
            let done = sqlx::query("UPDATE products SET stock = stock - $2 WHERE sku = $1 AND stock >= $2 AND $2 > 0")
                .bind(sku)
                .bind(quantity)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn session_load(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            Ok(sqlx::query_scalar("SELECT record FROM sessions WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?)
        }

        async fn session_save(&self, key: &[u8], record: &[u8], created_at: i64, last_seen: i64) -> Result<()> {
            sqlx::query(
                "INSERT INTO sessions (key, record, created_at, last_seen) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET record = excluded.record, created_at = excluded.created_at, \
                 last_seen = excluded.last_seen",
            )
            .bind(key)
            .bind(record)
            .bind(created_at)
            .bind(last_seen)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn session_delete(&self, key: &[u8]) -> Result<()> {
            sqlx::query("DELETE FROM sessions WHERE key = $1")
                .bind(key)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn session_purge(&self, idle_before: i64, created_before: i64) -> Result<u64> {
            let done = sqlx::query("DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2")
                .bind(idle_before)
                .bind(created_before)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        }

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

        async fn payment_upsert(&self, row: &PaymentRow) -> Result<()> {
            // A new payment id is the order's next attempt; a known one is updated in place, and
            // only if it belongs to the same order (no row changes otherwise).
            let done = sqlx::query(
                "INSERT INTO payments (order_id, provider, payment_id, status, amount, brand, last4, \
                 created_at, updated_at, attempt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 (SELECT COALESCE(MAX(attempt), 0) + 1 FROM payments WHERE order_id = $1)) \
                 ON CONFLICT (payment_id) DO UPDATE SET provider = excluded.provider, \
                 status = excluded.status, amount = excluded.amount, brand = excluded.brand, \
                 last4 = excluded.last4, updated_at = excluded.updated_at \
                 WHERE payments.order_id = excluded.order_id",
            )
            .bind(&row.order_id)
            .bind(&row.provider)
            .bind(&row.payment_id)
            .bind(&row.status)
            .bind(row.amount)
            .bind(&row.brand)
            .bind(&row.last4)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { what: "order" }
                }
                _ => StoreError::Database(e),
            })?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Invalid(
                    "this provider payment id belongs to another order".into(),
                ));
            }
            Ok(())
        }

        async fn payment_of_order(&self, order_id: &str) -> Result<Option<PaymentRow>> {
            // The attempt that moved money wins over later ones; otherwise the latest attempt.
            Ok(sqlx::query_as::<_, PaymentRow>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM payments WHERE order_id = $1 ORDER BY CASE WHEN status IN ",
                "('succeeded', 'refunded') THEN 0 ELSE 1 END, attempt DESC LIMIT 1"
            ))
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn payments_of_order(&self, order_id: &str) -> Result<Vec<PaymentRow>> {
            Ok(sqlx::query_as::<_, PaymentRow>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM payments WHERE order_id = $1 ORDER BY attempt DESC"
            ))
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?)
        }

        async fn payment_by_provider_id(&self, payment_id: &str) -> Result<Option<PaymentRow>> {
            Ok(sqlx::query_as::<_, PaymentRow>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM payments WHERE payment_id = $1"
            ))
            .bind(payment_id)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn order_header(&self, order_id: &str) -> Result<Option<OrderRow>> {
            Ok(sqlx::query_as::<_, OrderRow>(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
                .bind(order_id)
                .fetch_optional(&self.pool)
                .await?)
        }

        async fn order_by_number(&self, order_number: &str) -> Result<Option<OrderRow>> {
            Ok(sqlx::query_as::<_, OrderRow>(concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE order_number = $1"
            ))
            .bind(order_number)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn transition_order(
            &self,
            order_id: &str,
            from: &[&str],
            to: &str,
            at: i64,
            mail: &[OutboxRow],
        ) -> Result<bool> {
            if from.is_empty() {
                return Ok(false);
            }
            let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 4)).collect();
            let sql = format!(
                "UPDATE orders SET state = $1, updated_at = $2 WHERE id = $3 AND state IN ({})",
                placeholders.join(", ")
            );
            let mut tx = self.pool.begin().await?;
            let mut q = sqlx::query(&sql)
                .bind(to)
                .bind(at.saturating_mul(1_000_000))
                .bind(order_id);
            for f in from {
                q = q.bind(*f);
            }
            let done = q.execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                // Dropping the transaction rolls it back; nothing was written.
                return Ok(false);
            }
            $crate::backend::insert_mail!(tx, mail);
            tx.commit().await?;
            Ok(true)
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

        async fn outbox_enqueue(&self, rows: &[OutboxRow]) -> Result<()> {
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.pool.begin().await?;
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
                return Err(StoreError::Invalid("a cart quantity cannot be negative".into()));
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
            let mut tx = self.pool.begin().await?;
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

        async fn staff_log_append(&self, row: &StaffLogRow) -> Result<i64> {
            Ok(sqlx::query_scalar(
                "INSERT INTO staff_log (at, staff_id, action, target, detail, request_id, ip) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
            )
            .bind(row.at)
            .bind(&row.staff_id)
            .bind(&row.action)
            .bind(&row.target)
            .bind(&row.detail)
            .bind(&row.request_id)
            .bind(&row.ip)
            .fetch_one(&self.pool)
            .await?)
        }

        async fn staff_log_page(&self, filter: &StaffLogFilter, offset: i64, limit: i64) -> Result<Page<StaffLogRow>> {
            let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                "SELECT ",
                $crate::backend::staff_log_columns!(),
                " FROM staff_log"
            ));
            $crate::backend::push_staff_log_filter!(qb, filter);
            qb.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
            qb.push(" OFFSET ").push_bind(offset);
            let items = qb.build_query_as::<StaffLogRow>().fetch_all(&self.pool).await?;
            let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM staff_log");
            $crate::backend::push_staff_log_filter!(qb, filter);
            let total: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
            Ok(Page { items, total })
        }

        async fn settings_all(&self) -> Result<Vec<(String, String)>> {
            Ok(sqlx::query_as("SELECT key, value FROM shop_settings ORDER BY key")
                .fetch_all(&self.pool)
                .await?)
        }

        async fn settings_put(&self, key: &str, value_json: &str, at: i64, by: Option<&str>) -> Result<()> {
            sqlx::query(
                "INSERT INTO shop_settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(key)
            .bind(value_json)
            .bind(at)
            .bind(by)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn product_image_insert(&self, row: &ProductImageRow) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO product_images (",
                $crate::backend::image_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(&row.id)
            .bind(&row.product_id)
            .bind(&row.content_type)
            .bind(&row.bytes)
            .bind(row.width)
            .bind(row.height)
            .bind(&row.sha256)
            .bind(row.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { what: "product" }
                }
                _ => StoreError::Database(e),
            })?;
            Ok(())
        }

        async fn product_image(&self, id: &str) -> Result<Option<ProductImageRow>> {
            Ok(sqlx::query_as::<_, ProductImageRow>(concat!(
                "SELECT ",
                $crate::backend::image_columns!(),
                " FROM product_images WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn product_images_of(&self, product_id: &str) -> Result<Vec<ProductImageRow>> {
            Ok(sqlx::query_as::<_, ProductImageRow>(concat!(
                "SELECT ",
                $crate::backend::image_columns!(),
                " FROM product_images WHERE product_id = $1 ORDER BY created_at, id"
            ))
            .bind(product_id)
            .fetch_all(&self.pool)
            .await?)
        }

        async fn product_image_delete(&self, product_id: &str, id: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM product_images WHERE id = $1 AND product_id = $2")
                .bind(id)
                .bind(product_id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn product_by_id(&self, id: &str) -> Result<Option<ProductRow>> {
            Ok(sqlx::query_as::<_, ProductRow>(concat!("SELECT ", product_columns!(), " FROM products WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
        }

        async fn products_page_all(&self, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            let items = sqlx::query_as::<_, ProductRow>(concat!(
                "SELECT ",
                product_columns!(),
                " FROM products ORDER BY sku LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }

        async fn set_stock(&self, sku: &str, stock: i64) -> Result<bool> {
            if stock < 0 {
                return Err(StoreError::Invalid("stock cannot be negative".into()));
            }
            let done = sqlx::query("UPDATE products SET stock = $2, updated_at = $3 WHERE sku = $1")
                .bind(sku)
                .bind(stock)
                .bind(now_us())
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        async fn orders_search(&self, filter: &OrderFilter, offset: i64, limit: i64) -> Result<Page<OrderRow>> {
            let mut qb = sqlx::QueryBuilder::<$db>::new(concat!("SELECT ", order_columns!(), " FROM orders"));
            $crate::backend::push_order_filter!(qb, filter);
            qb.push(" ORDER BY placed_at DESC, id DESC LIMIT ").push_bind(limit);
            qb.push(" OFFSET ").push_bind(offset);
            let items = qb.build_query_as::<OrderRow>().fetch_all(&self.pool).await?;
            let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM orders");
            $crate::backend::push_order_filter!(qb, filter);
            let total: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
            Ok(Page { items, total })
        }

        async fn sales_summary(&self, from_us: i64, to_us: i64) -> Result<SalesSummary> {
            // CAST: PostgreSQL sums BIGINT into NUMERIC. A card order not paid yet (e.g. its
            // card was declined) is no sale: nothing was charged.
            let (orders, total): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM orders \
                 WHERE placed_at >= $1 AND placed_at < $2 AND state <> $3 AND state <> $4 \
                 AND NOT (state = $5 AND payment_method = $6)",
            )
            .bind(from_us)
            .bind(to_us)
            .bind(mamori_domain::OrderState::Cancelled.as_str())
            .bind(mamori_domain::OrderState::Refunded.as_str())
            .bind(mamori_domain::OrderState::PendingPayment.as_str())
            .bind(mamori_domain::PaymentMethod::Card.as_str())
            .fetch_one(&self.pool)
            .await?;
            Ok(SalesSummary { orders, total })
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

        async fn ledger_size(&self) -> Result<u64> {
            let size: Option<i64> = sqlx::query_scalar("SELECT size FROM ledger_state WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
            Ok(size.unwrap_or(0).max(0) as u64)
        }

        async fn ledger_entries(&self, from: u64, limit: u64) -> Result<Vec<LedgerEntryRow>> {
            let rows = sqlx::query_as::<_, LedgerEntryRow>(
                "SELECT seq, leaf_hash, event FROM ledger_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )
            .bind(from as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        }

        async fn ledger_leaf_hashes(&self, upto: u64) -> Result<Vec<[u8; 32]>> {
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, leaf_hash FROM ledger_entries WHERE seq < $1 ORDER BY seq",
            )
            .bind(upto as i64)
            .fetch_all(&self.pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for (i, (seq, h)) in rows.into_iter().enumerate() {
                if seq != i as i64 {
                    return Err(StoreError::Invalid(format!(
                        "the ledger has a gap at entry {i}: run `mamori ledger verify`"
                    )));
                }
                out.push($crate::backend::hash32(&h)?);
            }
            Ok(out)
        }

        async fn ledger_checkpoints(&self) -> Result<Vec<String>> {
            let notes: Vec<String> = sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY size")
                .fetch_all(&self.pool)
                .await?;
            Ok(notes)
        }

        async fn ledger_events_of(&self, customer_id: &str) -> Result<Vec<u64>> {
            // One statement, so one snapshot: a concurrent `ledger_index` moves rows between the
            // two tables without this read missing or doubling any of them.
            let seqs: Vec<i64> = sqlx::query_scalar(
                "SELECT seq FROM ledger_subjects WHERE customer_id = $1 \
                 UNION SELECT seq FROM ledger_subjects_recent WHERE customer_id = $1 ORDER BY seq",
            )
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(seqs.into_iter().map(|s| s.max(0) as u64).collect())
        }
        }
    };
}
pub(crate) use impl_store;

/// The part of a ledger append that runs inside the backend's locked transaction: reads the end of
/// the log, inserts the batch after it, advances the frontier and optionally signs a checkpoint.
macro_rules! ledger_append_in_tx {
    ($db:ty, $conn:expr, $state_sql:expr, $events:expr, $signer:expr) => {{
        let conn = $conn;
        let events: &[PendingEvent] = $events;
        let (size, frontier): (i64, Vec<u8>) =
            sqlx::query_as($state_sql).fetch_one(&mut *conn).await?;
        let mut frontier = mamori_ledger::Frontier::from_bytes(&frontier)?;
        if frontier.size() != size as u64 {
            return Err(StoreError::Invalid(
                "ledger state is inconsistent: run `mamori ledger verify`".into(),
            ));
        }
        let first = size as u64;
        let now = now_us();
        for (ci, chunk) in events.chunks($crate::backend::INSERT_CHUNK).enumerate() {
            let base = first + (ci * $crate::backend::INSERT_CHUNK) as u64;
            let mut qb = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO ledger_entries (seq, leaf_hash, event, recorded_at) ",
            );
            qb.push_values(chunk.iter().enumerate(), |mut b, (i, e)| {
                b.push_bind((base + i as u64) as i64)
                    .push_bind(&e.leaf_hash[..])
                    .push_bind(&e.event[..])
                    .push_bind(now);
            });
            qb.build().execute(&mut *conn).await?;
            let subjects: Vec<(i64, &str)> = chunk
                .iter()
                .enumerate()
                .flat_map(|(i, e)| {
                    e.subjects
                        .iter()
                        .map(move |s| ((base + i as u64) as i64, s.as_str()))
                })
                .collect();
            for sub in subjects.chunks($crate::backend::INSERT_CHUNK) {
                // Into the append-ordered table; `ledger_index` moves them into the index later.
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO ledger_subjects_recent (seq, customer_id) ",
                );
                qb.push_values(sub.iter(), |mut b, (seq, c)| {
                    b.push_bind(*seq).push_bind(*c);
                });
                qb.build().execute(&mut *conn).await?;
            }
        }
        for e in events {
            frontier.push(e.leaf_hash);
        }
        let new_size = frontier.size();
        let root = frontier.root();
        sqlx::query("UPDATE ledger_state SET size = $1, frontier = $2 WHERE id = 1")
            .bind(new_size as i64)
            .bind(frontier.to_bytes())
            .execute(&mut *conn)
            .await?;
        let mut note = None;
        if let Some(signer) = $signer {
            let signed = signer.sign(new_size, root);
            sqlx::query(
                "INSERT INTO ledger_checkpoints (size, note, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (size) DO NOTHING",
            )
            .bind(new_size as i64)
            .bind(&signed)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            note = Some(signed);
        }
        Ok::<_, StoreError>((
            AppendOutcome {
                first_seq: first,
                size: new_size,
                root,
            },
            note,
        ))
    }};
}
pub(crate) use ledger_append_in_tx;
