//! SQL of the orders area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl OrderStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_order_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::OrderStore for $store {
        $($own)*
        async fn order_header(&self, order_id: &str) -> Result<Option<OrderHeader>> {
            Ok(sqlx::query_as::<_, OrderHeader>(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
                .bind(order_id)
                .fetch_optional(&self.pool)
                .await?)
        }
        async fn order_by_number(&self, order_number: &str) -> Result<Option<OrderHeader>> {
            Ok(sqlx::query_as::<_, OrderHeader>(concat!(
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
            from: &[mamori_domain::OrderState],
            to: mamori_domain::OrderState,
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
            let mut tx = self.begin_write().await?;
            let mut q = sqlx::query(&sql)
                .bind(to.as_str())
                .bind(at.saturating_mul(1_000_000))
                .bind(order_id);
            for f in from {
                q = q.bind(f.as_str());
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
            .bind(row.status.as_str())
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
                return Err(StoreError::Conflict {
                    what: "this provider payment id belongs to another order",
                });
            }
            Ok(())
        }
        async fn payment_of_order(&self, order_id: &str) -> Result<Option<PaymentRow>> {
            // The attempt that moved money wins over later ones; otherwise the latest attempt.
            Ok(sqlx::query_as::<_, PaymentRow>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM payments WHERE order_id = $1 ORDER BY CASE WHEN status IN ($2, $3) ",
                "THEN 0 ELSE 1 END, attempt DESC LIMIT 1"
            ))
            .bind(order_id)
            .bind(mamori_domain::PaymentAttemptState::Succeeded.as_str())
            .bind(mamori_domain::PaymentAttemptState::Refunded.as_str())
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
        }
    };
}
pub(crate) use impl_order_store;

/// Emits `impl SealedOrderStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_sealed_order_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::SealedOrderStore for $store {
        $($own)*
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
            let mut tx = self.begin_write().await?;
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
            .bind(o.state.as_str())
            .bind(o.payment_method.as_str())
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
        async fn order_row(&self, order_id: &str) -> Result<Option<OrderRow>> {
            Ok(sqlx::query_as::<_, OrderRow>(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
                .bind(order_id)
                .fetch_optional(&self.pool)
                .await?)
        }
        async fn orders_of(&self, customer_id: &str) -> Result<Vec<OrderHeader>> {
            let rows = sqlx::query_as::<_, OrderHeader>(
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
        }
    };
}
pub(crate) use impl_sealed_order_store;
