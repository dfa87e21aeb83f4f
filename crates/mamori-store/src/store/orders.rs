//! The orders area of the store.

use async_trait::async_trait;

use super::OrderInsert;
use crate::error::Result;
use crate::model::*;

/// Order headers (no ciphertext), order states and payment attempts: nothing personal.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// An order's header, without lines and shipments.
    async fn order_header(&self, order_id: &str) -> Result<Option<OrderHeader>>;

    /// An order's header by the number shown to the customer (order numbers are unique).
    async fn order_by_number(&self, order_number: &str) -> Result<Option<OrderHeader>>;

    /// Compare-and-set of an order's state: moves it to `to` only if its current state is one of
    /// `from`, and queues `mail` in the same transaction. False (nothing changed, no mail queued)
    /// when the order is missing or its state is not in `from`. `at` is in seconds; the order's
    /// `updated_at` (microseconds, like the rest of the row) becomes `at * 1_000_000`.
    async fn transition_order(
        &self,
        order_id: &str,
        from: &[mamori_domain::OrderState],
        to: mamori_domain::OrderState,
        at: i64,
        mail: &[OutboxRow],
    ) -> Result<bool>;

    /// Records a payment attempt: a new `payment_id` becomes the order's next attempt, a known one
    /// is updated (its `created_at` is kept). Updating one attempt never touches another, so a late
    /// webhook of a declined attempt cannot hide the retry that followed it.
    /// [`StoreError::Conflict`] when `payment_id` already belongs to another order.
    async fn payment_upsert(&self, row: &PaymentRow) -> Result<()>;

    /// The payment that counts for an order: an attempt that moved money (`succeeded` or
    /// `refunded`), else the latest attempt.
    async fn payment_of_order(&self, order_id: &str) -> Result<Option<PaymentRow>>;

    /// Every payment attempt of an order, the latest first.
    async fn payments_of_order(&self, order_id: &str) -> Result<Vec<PaymentRow>>;

    /// The payment with this provider payment id.
    async fn payment_by_provider_id(&self, payment_id: &str) -> Result<Option<PaymentRow>>;
}

/// Whole orders with their sealed buyer, lines and deliveries: for the gateway only.
#[async_trait]
pub trait SealedOrderStore: Send + Sync {
    /// Writes an order with its lines and shipments in one transaction, once per idempotency key.
    async fn insert_order(&self, bundle: &OrderBundle) -> Result<OrderInsert>;

    /// [`Store::insert_order`] that also queues `mail` in the same transaction. When the
    /// idempotency key exists already ([`OrderInsert::Existing`]) no mail is queued.
    async fn insert_order_with_mail(
        &self,
        bundle: &OrderBundle,
        mail: &[OutboxRow],
    ) -> Result<OrderInsert>;

    /// Reads an order with its lines and shipments.
    async fn order(&self, order_id: &str) -> Result<Option<OrderBundle>>;

    /// An order's header with its sealed buyer snapshot, without lines and deliveries.
    async fn order_row(&self, order_id: &str) -> Result<Option<OrderRow>>;

    /// A customer's orders, newest first.
    async fn orders_of(&self, customer_id: &str) -> Result<Vec<OrderHeader>>;
}
