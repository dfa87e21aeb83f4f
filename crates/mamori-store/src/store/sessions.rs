//! The sessions area of the store.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

/// Web sessions as opaque sealed records, the webhook replay guard and members' carts.
#[async_trait]
pub trait WebSessionStore: Send + Sync {
    /// The opaque session record under `key` (the web layer's hashed storage key).
    async fn session_load(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Inserts or replaces the record under `key` with its times (which only
    /// [`Store::session_purge`] reads; the web layer decides expiry from its own sealed record).
    async fn session_save(
        &self,
        key: &[u8],
        record: &[u8],
        created_at: i64,
        last_seen: i64,
    ) -> Result<()>;

    /// Removes the record under `key` (no error if absent).
    async fn session_delete(&self, key: &[u8]) -> Result<()>;

    /// Removes sessions last seen before `idle_before` or created before `created_before`;
    /// returns how many went.
    async fn session_purge(&self, idle_before: i64, created_before: i64) -> Result<u64>;

    /// The back office's session record under `key`, from `staff_sessions` (apart from the
    /// storefront's: a storefront session id is never looked up there).
    async fn staff_session_load(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// [`Self::session_save`] for a back-office session.
    async fn staff_session_save(
        &self,
        key: &[u8],
        record: &[u8],
        created_at: i64,
        last_seen: i64,
    ) -> Result<()>;

    /// [`Self::session_delete`] for a back-office session.
    async fn staff_session_delete(&self, key: &[u8]) -> Result<()>;

    /// [`Self::session_purge`] for back-office sessions (by the back office's own timeouts).
    async fn staff_session_purge(&self, idle_before: i64, created_before: i64) -> Result<u64>;

    /// Webhook replay guard: records `event_id` (kept until `keep_until`) and answers true the
    /// first time it is seen, false after. Also forgets ids whose `keep_until` is before `now`.
    /// Of two concurrent calls with the same new id, exactly one gets true.
    async fn webhook_first_seen(&self, event_id: &str, keep_until: i64, now: i64) -> Result<bool>;

    /// A member's cart lines `(sku, quantity)`, by SKU.
    async fn cart_lines(&self, customer_id: &str) -> Result<Vec<(String, i64)>>;

    /// Sets the quantity of one SKU in a member's cart; 0 removes the line. A negative quantity
    /// is [`StoreError::BadInput`].
    async fn cart_set(&self, customer_id: &str, sku: &str, quantity: i64, at: i64) -> Result<()>;

    /// Empties a member's cart.
    async fn cart_clear(&self, customer_id: &str) -> Result<()>;

    /// Deletes customer and staff tokens (used or not) that expired before `expired_before`;
    /// returns how many went.
    async fn tokens_purge(&self, expired_before: i64) -> Result<u64>;
}

/// Customers' single-use link tokens (their payloads are sealed): for the gateway only.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new single-use token.
    async fn token_insert(&self, row: &TokenRow) -> Result<()>;

    /// Atomically uses a token: if one with this hash and purpose exists, is unused and
    /// `expires_at > now`, sets `used_at = now` and returns it as it was (`used_at` None);
    /// otherwise None. Of two concurrent consumes, one wins.
    async fn token_consume(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now: i64,
    ) -> Result<Option<TokenRow>>;

    /// Marks a customer's unused tokens of `purpose` as used; returns how many.
    async fn tokens_revoke(&self, customer_id: &str, purpose: &str, at: i64) -> Result<u64>;
}
