//! Refunds of orders (migration `0024_order_refunds.sql`): each refund's amount, reason, the
//! provider's refund id and the key that makes it happen once. Nothing here names a person, so
//! it is part of [`crate::Records`]; written once for both backends.

use async_trait::async_trait;

use crate::backend::{PgStore, SqliteStore};
use crate::error::Result;
use crate::model::OutboxRow;

/// One refund of an order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefundRow {
    /// Id (UUIDv7).
    pub id: String,
    /// The order refunded.
    pub order_id: String,
    /// Yen refunded.
    pub amount: i64,
    /// Why, as the member of staff wrote it (no personal data).
    pub reason: String,
    /// The provider's refund id (`re_...`) for card orders; `None` when refunded outside mamori.
    pub provider_refund_id: Option<String>,
    /// The same key refunds once (a resubmitted confirmation finds the row).
    pub idempotency_key: String,
    /// Who refunded.
    pub staff_id: Option<String>,
    /// When (Unix seconds).
    pub created_at: i64,
}

/// What [`Refunds::refund_insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundInsert {
    /// Recorded (and its mail queued).
    Recorded,
    /// A refund with this key was recorded before: nothing new.
    Duplicate,
    /// It would take the refunds of the order over the cap: nothing recorded.
    OverCap,
}

/// Refunds of orders.
#[async_trait]
pub trait Refunds: Send + Sync {
    /// Records `row` and queues `mail` in one transaction, if the order's refunds with it come to
    /// `cap` or less (checked in the same statement). A key seen before records nothing.
    async fn refund_insert(
        &self,
        row: &RefundRow,
        cap: i64,
        mail: &[OutboxRow],
    ) -> Result<RefundInsert>;
    /// The refunds of an order, oldest first.
    async fn refunds_of_order(&self, order_id: &str) -> Result<Vec<RefundRow>>;
    /// Yen refunded of an order so far.
    async fn refunded_total(&self, order_id: &str) -> Result<i64>;
}

macro_rules! impl_refunds {
    ($store:ty) => {
        #[async_trait]
        impl Refunds for $store {
            async fn refund_insert(
                &self,
                row: &RefundRow,
                cap: i64,
                mail: &[OutboxRow],
            ) -> Result<RefundInsert> {
                let mut tx = self.begin_write().await?;
                // The order's row is locked, so that two refunds of one order are checked against
                // the cap one after the other (each sees the other's row).
                sqlx::query(&format!(
                    "SELECT id FROM orders WHERE id = $1{}",
                    Self::FOR_UPDATE
                ))
                .bind(&row.order_id)
                .fetch_optional(&mut *tx)
                .await?;
                let seen: Option<String> =
                    sqlx::query_scalar("SELECT id FROM order_refunds WHERE idempotency_key = $1")
                        .bind(&row.idempotency_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                if seen.is_some() {
                    return Ok(RefundInsert::Duplicate);
                }
                let done = sqlx::query(
                    "INSERT INTO order_refunds (id, order_id, amount, reason, provider_refund_id, \
                     idempotency_key, staff_id, created_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                     WHERE (SELECT COALESCE(SUM(amount), 0) FROM order_refunds \
                            WHERE order_id = $2) + $3 <= $9 \
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(&row.id)
                .bind(&row.order_id)
                .bind(row.amount)
                .bind(&row.reason)
                .bind(&row.provider_refund_id)
                .bind(&row.idempotency_key)
                .bind(&row.staff_id)
                .bind(row.created_at)
                .bind(cap)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    // Dropping the transaction rolls it back; nothing was written.
                    return Ok(RefundInsert::OverCap);
                }
                $crate::backend::insert_mail!(tx, mail);
                tx.commit().await?;
                Ok(RefundInsert::Recorded)
            }

            async fn refunds_of_order(&self, order_id: &str) -> Result<Vec<RefundRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, order_id, amount, reason, provider_refund_id, idempotency_key, \
                     staff_id, created_at FROM order_refunds WHERE order_id = $1 \
                     ORDER BY created_at, id",
                )
                .bind(order_id)
                .fetch_all(self.pool())
                .await?)
            }

            async fn refunded_total(&self, order_id: &str) -> Result<i64> {
                let sum: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM order_refunds \
                     WHERE order_id = $1",
                )
                .bind(order_id)
                .fetch_one(self.pool())
                .await?;
                Ok(sum.unwrap_or(0))
            }
        }
    };
}

impl_refunds!(SqliteStore);
impl_refunds!(PgStore);
