//! The [`Store`] interface: what the rest of mamori may ask of a database. It moves sealed rows and
//! ledger entries; it never sees a key or a plaintext personal value.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Result, StoreError};
use crate::model::*;

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default; one process).
    Sqlite,
    /// PostgreSQL (production; several processes may share it).
    Postgres,
}

/// Outcome of an order insert keyed by its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderInsert {
    /// The order was written now.
    Inserted,
    /// An order with the same idempotency key existed already; nothing was written.
    Existing {
        /// Its id.
        order_id: String,
    },
}

/// Signs checkpoints inside the append transaction, so that the signed root is the committed one.
pub struct CheckpointSigner {
    /// Checkpoint origin line (the log's name).
    pub origin: String,
    /// Ed25519 key of the ledger.
    pub signer: mamori_ledger::LedgerSigner,
}

impl CheckpointSigner {
    /// Signs a checkpoint of `size` and `root`.
    pub fn sign(&self, size: u64, root: [u8; 32]) -> String {
        mamori_ledger::Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        }
        .sign(&self.signer)
    }
}

/// A database that holds mamori's data. Implemented by [`crate::SqliteStore`] and [`crate::PgStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// Writes a new customer and their wrapped data key in one transaction.
    /// Fails with [`StoreError::DuplicateMember`] when a member with the same email index exists.
    async fn insert_customer(&self, row: &CustomerRow, key: &CustomerKeyRow) -> Result<()>;
    /// Reads a customer row.
    async fn customer(&self, id: &str) -> Result<Option<CustomerRow>>;
    /// Replaces a customer's sealed fields, password hash and email index.
    async fn update_customer(&self, row: &CustomerRow) -> Result<()>;
    /// The member id with this email blind index.
    async fn member_by_email_bidx(&self, bidx: &[u8]) -> Result<Option<String>>;
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
    /// Destroys a customer's data key and clears every sealed value of theirs, in one transaction.
    async fn erase_customer(&self, customer_id: &str, at: i64) -> Result<()>;

    /// Adds an address-book entry.
    async fn insert_address(&self, row: &AddressRow) -> Result<()>;
    /// A customer's address book, oldest first.
    async fn addresses(&self, customer_id: &str) -> Result<Vec<AddressRow>>;

    /// Writes an order with its lines and shipments in one transaction, once per idempotency key.
    async fn insert_order(&self, bundle: &OrderBundle) -> Result<OrderInsert>;
    /// Reads an order with its lines and shipments.
    async fn order(&self, order_id: &str) -> Result<Option<OrderBundle>>;
    /// A customer's orders, newest first.
    async fn orders_of(&self, customer_id: &str) -> Result<Vec<OrderRow>>;

    /// Inserts or replaces a category (by id).
    async fn upsert_category(&self, row: &CategoryRow) -> Result<()>;
    /// Every category in display order.
    async fn categories(&self) -> Result<Vec<CategoryRow>>;
    /// Inserts or replaces a product (by id); the SKU must stay unique.
    async fn upsert_product(&self, row: &ProductRow) -> Result<()>;
    /// An active or inactive product by SKU.
    async fn product_by_sku(&self, sku: &str) -> Result<Option<ProductRow>>;
    /// Active products of a category, by SKU, one page.
    async fn products_in_category(
        &self,
        category_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ProductRow>>;
    /// Active products whose Japanese or English name or description contains `text`, one page.
    async fn search_products(
        &self,
        text: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ProductRow>>;
    /// Takes `quantity` units out of stock if that many are there; false (and no change) otherwise.
    async fn take_stock(&self, sku: &str, quantity: i64) -> Result<bool>;

    /// Appends events as one transaction (group commit) after the current end of the log, which is
    /// read under a lock so that several processes keep one linear history. When `signer` is given,
    /// the new tree head is signed and stored as a checkpoint in the same transaction.
    async fn ledger_append(
        &self,
        events: &[PendingEvent],
        signer: Option<&CheckpointSigner>,
    ) -> Result<(AppendOutcome, Option<String>)>;
    /// Signs the current tree head if no checkpoint exists at this size yet.
    async fn ledger_checkpoint(&self, signer: &CheckpointSigner) -> Result<(u64, Option<String>)>;
    /// Number of entries in the log.
    async fn ledger_size(&self) -> Result<u64>;
    /// Entries with `seq >= from`, in order, at most `limit`.
    async fn ledger_entries(&self, from: u64, limit: u64) -> Result<Vec<LedgerEntryRow>>;
    /// Stored leaf hashes of entries `0..upto`.
    async fn ledger_leaf_hashes(&self, upto: u64) -> Result<Vec<[u8; 32]>>;
    /// Every checkpoint note stored in the database.
    async fn ledger_checkpoints(&self) -> Result<Vec<String>>;
    /// Sequence numbers of the events that name a customer.
    async fn ledger_events_of(&self, customer_id: &str) -> Result<Vec<u64>>;
}

/// Opens (creating if needed) the store at `url`: `sqlite://PATH` or `postgres://...`.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(crate::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(crate::PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
