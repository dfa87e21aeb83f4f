//! SQL of the backoffice area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl BackofficeStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_backoffice_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::BackofficeStore for $store {
        $($own)*
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
        async fn orders_search(&self, filter: &OrderFilter, offset: i64, limit: i64) -> Result<Page<OrderHeader>> {
            let mut qb = sqlx::QueryBuilder::<$db>::new(concat!("SELECT ", order_columns!(), " FROM orders"));
            $crate::backend::push_order_filter!(qb, filter);
            qb.push(" ORDER BY placed_at DESC, id DESC LIMIT ").push_bind(limit);
            qb.push(" OFFSET ").push_bind(offset);
            let items = qb.build_query_as::<OrderHeader>().fetch_all(&self.pool).await?;
            let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM orders");
            $crate::backend::push_order_filter!(qb, filter);
            let total: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
            Ok(Page { items, total })
        }
        async fn sales_summary(&self, from_us: i64, to_us: i64) -> Result<SalesSummary> {
            // CAST: PostgreSQL sums BIGINT into NUMERIC. A card order not paid yet (e.g. its
            // card was declined) is no sale: nothing was charged. A partial refund lowers its
            // order's sale (counted in the period the order was placed, like the order).
            let (orders, total): (i64, i64) = sqlx::query_as(
                concat!(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(",
                    $crate::backend::net_of_refunds!(),
                    "), 0) AS BIGINT) FROM orders \
                 WHERE placed_at >= $1 AND placed_at < $2 AND state <> $3 AND state <> $4 \
                 AND NOT (state = $5 AND payment_method = $6)"
                ),
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
        async fn sales_by_day(
            &self,
            from_us: i64,
            day_us: i64,
            days: i64,
        ) -> Result<Vec<SalesSummary>> {
            let days = days.min(366);
            if days <= 0 || day_us <= 0 {
                return Ok(Vec::new());
            }
            // The same rule as `sales_summary`, grouped by period: one query for a chart.
            let rows: Vec<(i64, i64, i64)> = sqlx::query_as(concat!(
                "SELECT (placed_at - $1) / $2 AS period, COUNT(*), CAST(COALESCE(SUM(",
                $crate::backend::net_of_refunds!(),
                "), 0) AS BIGINT) FROM orders \
                 WHERE placed_at >= $1 AND placed_at < $3 AND state <> $4 AND state <> $5 \
                 AND NOT (state = $6 AND payment_method = $7) \
                 GROUP BY period",
            ))
            .bind(from_us)
            .bind(day_us)
            .bind(from_us.saturating_add(day_us.saturating_mul(days)))
            .bind(mamori_domain::OrderState::Cancelled.as_str())
            .bind(mamori_domain::OrderState::Refunded.as_str())
            .bind(mamori_domain::OrderState::PendingPayment.as_str())
            .bind(mamori_domain::PaymentMethod::Card.as_str())
            .fetch_all(&self.pool)
            .await?;
            let mut out = vec![SalesSummary::default(); usize::try_from(days).unwrap_or(0)];
            for (period, orders, total) in rows {
                if let Some(slot) = usize::try_from(period).ok().and_then(|i| out.get_mut(i)) {
                    *slot = SalesSummary { orders, total };
                }
            }
            Ok(out)
        }
        }
    };
}
pub(crate) use impl_backoffice_store;
