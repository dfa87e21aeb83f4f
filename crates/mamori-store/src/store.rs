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
pub trait Store: crate::fulfilment::Fulfilment + Send + Sync + 'static {
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
    /// Destroys a customer's data key and clears every sealed value of theirs, in one transaction:
    /// profile, address book, the personal parts of their orders, their queued mails (pending
    /// ones become `dead`; every payload of theirs is emptied), their single-use tokens and their
    /// cart. Order amounts and payments stay (tax records).
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

    // ---- The shop (migration 0003). Times are Unix seconds unless a doc says otherwise. ----

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

    /// Webhook replay guard: records `event_id` (kept until `keep_until`) and answers true the
    /// first time it is seen, false after. Also forgets ids whose `keep_until` is before `now`.
    /// Of two concurrent calls with the same new id, exactly one gets true.
    async fn webhook_first_seen(&self, event_id: &str, keep_until: i64, now: i64) -> Result<bool>;

    /// Records a payment attempt: a new `payment_id` becomes the order's next attempt, a known one
    /// is updated (its `created_at` is kept). Updating one attempt never touches another, so a late
    /// webhook of a declined attempt cannot hide the retry that followed it.
    /// [`StoreError::Invalid`] when `payment_id` already belongs to another order.
    async fn payment_upsert(&self, row: &PaymentRow) -> Result<()>;
    /// The payment that counts for an order: an attempt that moved money (`succeeded` or
    /// `refunded`), else the latest attempt.
    async fn payment_of_order(&self, order_id: &str) -> Result<Option<PaymentRow>>;
    /// Every payment attempt of an order, the latest first.
    async fn payments_of_order(&self, order_id: &str) -> Result<Vec<PaymentRow>>;
    /// The payment with this provider payment id.
    async fn payment_by_provider_id(&self, payment_id: &str) -> Result<Option<PaymentRow>>;

    /// An order's header, without lines and shipments.
    async fn order_header(&self, order_id: &str) -> Result<Option<OrderRow>>;
    /// An order's header by the number shown to the customer (order numbers are unique).
    async fn order_by_number(&self, order_number: &str) -> Result<Option<OrderRow>>;
    /// Compare-and-set of an order's state: moves it to `to` only if its current state is one of
    /// `from`, and queues `mail` in the same transaction. False (nothing changed, no mail queued)
    /// when the order is missing or its state is not in `from`. `at` is in seconds; the order's
    /// `updated_at` (microseconds, like the rest of the row) becomes `at * 1_000_000`.
    async fn transition_order(
        &self,
        order_id: &str,
        from: &[&str],
        to: &str,
        at: i64,
        mail: &[OutboxRow],
    ) -> Result<bool>;
    /// [`Store::insert_order`] that also queues `mail` in the same transaction. When the
    /// idempotency key exists already ([`OrderInsert::Existing`]) no mail is queued.
    async fn insert_order_with_mail(
        &self,
        bundle: &OrderBundle,
        mail: &[OutboxRow],
    ) -> Result<OrderInsert>;

    /// [`Store::update_customer`] that also queues `mail` in the same transaction.
    async fn update_customer_with_mail(&self, row: &CustomerRow, mail: &[OutboxRow]) -> Result<()>;
    /// [`Store::insert_address`] that also queues `mail` in the same transaction.
    async fn insert_address_with_mail(&self, row: &AddressRow, mail: &[OutboxRow]) -> Result<()>;
    /// Deletes an address-book entry of this customer; false if there was none.
    async fn delete_address(&self, customer_id: &str, address_id: &str) -> Result<bool>;
    /// Sets `email_verified_at` (seconds) of a customer that is not erased; the row's
    /// `updated_at` (microseconds) becomes `at * 1_000_000`. [`StoreError::NotFound`] otherwise.
    async fn mark_email_verified(&self, customer_id: &str, at: i64) -> Result<()>;

    /// Queues mails (state `pending`, no attempts yet) in one transaction.
    async fn outbox_enqueue(&self, rows: &[OutboxRow]) -> Result<()>;
    /// Claims up to `limit` rows that are pending, due (`next_attempt_at <= now`) and not under a
    /// live lease (`lease_until` unset or `<= now`), oldest due first: each gets a fresh claim
    /// token (UUIDv4), `attempts + 1` and `lease_until = now + lease_secs`. Workers in several
    /// tasks or processes never claim the same row at once (SQLite: `BEGIN IMMEDIATE`;
    /// PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn outbox_claim(
        &self,
        limit: i64,
        lease_secs: i64,
        now: i64,
    ) -> Result<Vec<OutboxClaimRow>>;
    /// Records that the mail was handed over, whatever the token (the mail *was* sent) and
    /// idempotently (a second call keeps the first `sent_at`). Clears the lease.
    async fn outbox_mark_sent(&self, id: &str, at: i64) -> Result<()>;
    /// Records a failed attempt of the current claim `token`: due again at `next_attempt_at`, or
    /// `dead` when it is None; `reason` goes to `last_error`; the lease is cleared. Ignored when
    /// `token` is not the row's current claim or the row is not pending.
    async fn outbox_mark_failed(
        &self,
        id: &str,
        token: &str,
        next_attempt_at: Option<i64>,
        reason: &str,
    ) -> Result<()>;
    /// Gives a claimed row back without counting the attempt (`attempts - 1`, lease cleared).
    /// Ignored for a stale token.
    async fn outbox_release(&self, id: &str, token: &str) -> Result<()>;
    /// Where a row stands.
    async fn outbox_status(&self, id: &str) -> Result<Option<OutboxStatusRow>>;
    /// Deletes rows sent before `sent_before` (their sealed payloads need not be kept); returns
    /// how many went.
    async fn outbox_purge_sent(&self, sent_before: i64) -> Result<u64>;

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
    /// Deletes customer and staff tokens (used or not) that expired before `expired_before`;
    /// returns how many went.
    async fn tokens_purge(&self, expired_before: i64) -> Result<u64>;

    /// A member's cart lines `(sku, quantity)`, by SKU.
    async fn cart_lines(&self, customer_id: &str) -> Result<Vec<(String, i64)>>;
    /// Sets the quantity of one SKU in a member's cart; 0 removes the line. A negative quantity
    /// is [`StoreError::Invalid`].
    async fn cart_set(&self, customer_id: &str, sku: &str, quantity: i64, at: i64) -> Result<()>;
    /// Empties a member's cart.
    async fn cart_clear(&self, customer_id: &str) -> Result<()>;

    // ---- The back office (migration 0004). Times are Unix seconds unless a doc says otherwise. ----

    /// Adds a member of staff (the email is stored lower-case). [`StoreError::Duplicate`] when
    /// the email is taken.
    async fn staff_insert(&self, row: &StaffRow) -> Result<()>;
    /// A member of staff by id.
    async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRow>>;
    /// A member of staff by email (compared lower-case).
    async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRow>>;
    /// Every member of staff, by email.
    async fn staff_list(&self) -> Result<Vec<StaffRow>>;
    /// Writes `display_name`, `role`, `state`, `password_hash`, `last_login_at` and `updated_at`
    /// of the member `row.id` (the email and the lockout columns stay as they are).
    /// [`StoreError::NotFound`] when there is no such member.
    async fn staff_update(&self, row: &StaffRow) -> Result<()>;
    /// Counts a failed login in one statement: `failed_logins + 1`, and from the `threshold`-th
    /// failure on, each failure (re)starts a lock: `locked_until = now + lock_secs`. Returns the
    /// row as it is afterwards. [`StoreError::NotFound`] when there is no such member.
    async fn staff_login_failed(
        &self,
        id: &str,
        now: i64,
        threshold: i64,
        lock_secs: i64,
    ) -> Result<StaffRow>;
    /// A successful login: `failed_logins = 0`, no lock, `last_login_at = now`.
    async fn staff_login_succeeded(&self, id: &str, now: i64) -> Result<()>;

    /// Registers a passkey. [`StoreError::Duplicate`] when its credential id is registered already.
    async fn staff_passkey_insert(&self, row: &PasskeyRow) -> Result<()>;
    /// A member's passkeys, oldest first.
    async fn staff_passkeys(&self, staff_id: &str) -> Result<Vec<PasskeyRow>>;
    /// The passkey with this credential id (a discoverable-credential login names only that).
    async fn staff_passkey_by_credential(&self, credential_id: &[u8])
        -> Result<Option<PasskeyRow>>;
    /// Stores a passkey's new state (its signature counter moves at each use) and when it was used.
    /// False when there is no such passkey.
    async fn staff_passkey_update(
        &self,
        id: &str,
        passkey: &str,
        last_used_at: i64,
    ) -> Result<bool>;
    /// Removes a member's passkey; false when they have none with that id.
    async fn staff_passkey_delete(&self, staff_id: &str, id: &str) -> Result<bool>;

    /// Sets (or replaces) a member's TOTP secret, sealed by the caller; `last_step` starts at 0.
    async fn staff_totp_set(&self, staff_id: &str, sealed: &[u8], at: i64) -> Result<()>;
    /// A member's sealed TOTP secret and the last time step used.
    async fn staff_totp(&self, staff_id: &str) -> Result<Option<(Vec<u8>, i64)>>;
    /// Uses a TOTP time step: compare-and-set `last_step = step` only if `step > last_step`, so
    /// a code (and any older one) works once. Of two concurrent uses of a step, one gets true.
    async fn staff_totp_use_step(&self, staff_id: &str, step: i64) -> Result<bool>;
    /// Removes a member's TOTP secret (no error if absent).
    async fn staff_totp_delete(&self, staff_id: &str) -> Result<()>;

    /// Replaces all of a member's recovery codes with these hashes, in one transaction.
    async fn staff_recovery_replace(
        &self,
        staff_id: &str,
        hashes: &[Vec<u8>],
        at: i64,
    ) -> Result<()>;
    /// Uses a recovery code: true once for an unused code of this member, false afterwards and
    /// for an unknown one. Of two concurrent uses, one gets true.
    async fn staff_recovery_use(&self, staff_id: &str, hash: &[u8], at: i64) -> Result<bool>;
    /// How many unused recovery codes a member has.
    async fn staff_recovery_remaining(&self, staff_id: &str) -> Result<i64>;

    /// Stores a new single-use staff token.
    async fn staff_token_insert(&self, row: &StaffTokenRow) -> Result<()>;
    /// Atomically uses a staff token: if one with this hash and purpose is unused and
    /// `expires_at > now`, sets `used_at = now` and returns it as it was (`used_at` None);
    /// None otherwise. Of two concurrent consumes, one wins.
    async fn staff_token_consume(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now: i64,
    ) -> Result<Option<StaffTokenRow>>;
    /// Marks a member's unused tokens of `purpose` as used; returns how many.
    async fn staff_tokens_revoke(&self, staff_id: &str, purpose: &str, at: i64) -> Result<u64>;

    /// Notes a sign-in from a device (a hash of its device cookie): true the first time this
    /// member is seen on it (a new device: mail them), false after (only `last_seen` moves). Of
    /// two concurrent first sightings, one gets true.
    async fn staff_device_seen(&self, staff_id: &str, device_hash: &[u8], at: i64) -> Result<bool>;

    /// Appends an entry to the staff log (its `seq` is ignored) and returns the entry's `seq`.
    async fn staff_log_append(&self, row: &StaffLogRow) -> Result<i64>;
    /// Staff log entries matching `filter`, newest first, one page.
    async fn staff_log_page(
        &self,
        filter: &StaffLogFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<StaffLogRow>>;

    /// Every shop setting as `(key, JSON value)`, by key.
    async fn settings_all(&self) -> Result<Vec<(String, String)>>;
    /// Inserts or replaces a setting.
    async fn settings_put(
        &self,
        key: &str,
        value_json: &str,
        at: i64,
        by: Option<&str>,
    ) -> Result<()>;

    /// Stores a product image. [`StoreError::NotFound`] when the product does not exist.
    async fn product_image_insert(&self, row: &ProductImageRow) -> Result<()>;
    /// An image by id.
    async fn product_image(&self, id: &str) -> Result<Option<ProductImageRow>>;
    /// A product's images, oldest first.
    async fn product_images_of(&self, product_id: &str) -> Result<Vec<ProductImageRow>>;
    /// Removes an image of a product; false when it has none with that id.
    async fn product_image_delete(&self, product_id: &str, id: &str) -> Result<bool>;

    /// An active or inactive product by id.
    async fn product_by_id(&self, id: &str) -> Result<Option<ProductRow>>;
    /// Every product, active or not, by SKU, one page.
    async fn products_page_all(&self, offset: i64, limit: i64) -> Result<Page<ProductRow>>;
    /// Sets a product's stock (and its `updated_at`, in microseconds, to now); false when there is
    /// no product with that SKU. A negative stock is [`StoreError::Invalid`].
    async fn set_stock(&self, sku: &str, stock: i64) -> Result<bool>;

    /// Orders matching `filter`, newest first, one page.
    async fn orders_search(
        &self,
        filter: &OrderFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<OrderRow>>;
    /// Orders placed in `[from_us, to_us)` (microseconds) and the sum of their totals, leaving
    /// out cancelled and refunded orders.
    async fn sales_summary(&self, from_us: i64, to_us: i64) -> Result<SalesSummary>;
    /// Every customer (members and guests, erased ones too: see `erased_at`), newest first, one page.
    async fn customers_page(&self, offset: i64, limit: i64) -> Result<Page<CustomerRow>>;

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
    /// Moves the subjects of recent appends (written in append order, cheap to write) into the
    /// per-customer index in one sorted batch; returns how many rows moved. Readers see every
    /// subject before, during and after (see [`Store::ledger_events_of`]).
    async fn ledger_index(&self) -> Result<u64>;
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
