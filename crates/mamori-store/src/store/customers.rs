//! The customers area of the store.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

/// Customers, their wrapped data keys and address books: sealed rows, for the gateway only.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Writes a new customer and their wrapped data key in one transaction.
    /// Fails with [`StoreError::DuplicateMember`] when a member with the same email index exists.
    async fn insert_customer(&self, row: &CustomerRow, key: &CustomerKeyRow) -> Result<()>;

    /// Reads a customer row.
    async fn customer(&self, id: &str) -> Result<Option<CustomerRow>>;

    /// Replaces a customer's sealed fields, password hash and email index.
    async fn update_customer(&self, row: &CustomerRow) -> Result<()>;

    /// [`Store::update_customer`] that also queues `mail` in the same transaction.
    async fn update_customer_with_mail(&self, row: &CustomerRow, mail: &[OutboxRow]) -> Result<()>;

    /// The member id with this email blind index.
    async fn member_by_email_bidx(&self, bidx: &[u8]) -> Result<Option<String>>;

    /// Replaces a customer's search blind indexes (name, reading, phone, email); empty: none.
    async fn customer_search_set(&self, customer_id: &str, bidx: &[Vec<u8>]) -> Result<()>;

    /// Customers with any of these search blind indexes, newest first, at most `limit`.
    async fn customers_by_search_bidx(&self, bidx: &[Vec<u8>], limit: i64) -> Result<Vec<String>>;

    /// The rows of these customers that exist, each with its wrapped data key when it has one
    /// (none once erased), in two queries per thousand ids whatever their number: for readers of
    /// whole batches (the notices of an incident), where two queries per person dominated.
    async fn customers_with_keys(
        &self,
        ids: &[String],
    ) -> Result<Vec<(CustomerRow, Option<CustomerKeyRow>)>>;

    /// A customer's wrapped data key (None once erased).
    async fn customer_key(&self, customer_id: &str) -> Result<Option<CustomerKeyRow>>;

    /// Up to `limit` wrapped keys not wrapped by `master_key_id` (for rotation).
    async fn keys_not_wrapped_by(
        &self,
        master_key_id: &str,
        limit: i64,
    ) -> Result<Vec<CustomerKeyRow>>;

    /// Replaces wrapped keys (rotation), in one transaction.
    async fn update_wrapped_keys(&self, rows: &[CustomerKeyRow]) -> Result<()>;

    /// Number of data keys per master key id.
    async fn key_counts(&self) -> Result<Vec<(String, i64)>>;

    /// Destroys a customer's data key and clears every sealed value of theirs, in one transaction:
    /// profile, address book, the personal parts of their orders, their queued mails (pending
    /// ones become `dead`; every payload of theirs is emptied), their single-use tokens and their
    /// cart. Order amounts and payments stay (tax records).
    async fn erase_customer(&self, customer_id: &str, at: i64) -> Result<()>;

    /// Adds an address-book entry.
    async fn insert_address(&self, row: &AddressRow) -> Result<()>;

    /// [`Store::insert_address`] that also queues `mail` in the same transaction.
    async fn insert_address_with_mail(&self, row: &AddressRow, mail: &[OutboxRow]) -> Result<()>;

    /// A customer's address book, oldest first.
    async fn addresses(&self, customer_id: &str) -> Result<Vec<AddressRow>>;

    /// Deletes an address-book entry of this customer; false if there was none.
    async fn delete_address(&self, customer_id: &str, address_id: &str) -> Result<bool>;

    /// Sets `email_verified_at` (seconds) of a customer that is not erased; the row's
    /// `updated_at` (microseconds) becomes `at * 1_000_000`. [`StoreError::NotFound`] otherwise.
    async fn mark_email_verified(&self, customer_id: &str, at: i64) -> Result<()>;

    /// Every customer (members and guests, erased ones too: see `erased_at`), newest first, one page.
    async fn customers_page(&self, offset: i64, limit: i64) -> Result<Page<CustomerRow>>;
}
