//! Rows as the database holds them: ids, amounts and states in the clear, personal values sealed.
//! Only the gateway turns these into domain types.

mod views;
pub use views::*;

/// Sealed bytes of one personal field (AEAD output of the vault), or nothing.
pub type Sealed = Option<Vec<u8>>;

/// A customer row (member or guest).
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct CustomerRow {
    /// UUIDv7 text.
    pub id: String,
    /// "member" or "guest".
    pub kind: String,
    /// Blind index of the normalised email (members; used for login and uniqueness).
    pub email_bidx: Option<Vec<u8>>,
    /// Sealed name.
    pub name_ct: Sealed,
    /// Sealed email.
    pub email_ct: Sealed,
    /// Sealed phone.
    pub phone_ct: Sealed,
    /// Sealed birth date.
    pub birth_date_ct: Sealed,
    /// Sealed gender.
    pub gender_ct: Sealed,
    /// Argon2id PHC string (members).
    pub password_hash: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: i64,
    /// Microseconds since the epoch.
    pub updated_at: i64,
    /// Set once the customer's data key was destroyed.
    pub erased_at: Option<i64>,
    /// When the member confirmed their email address (Unix **seconds**; None: not yet, and always
    /// None for guests). Written only by [`crate::Store::mark_email_verified`]; `insert_customer`
    /// and `update_customer` leave it alone.
    pub email_verified_at: Option<i64>,
}

/// A wrapped per-customer data key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CustomerKeyRow {
    /// Owner.
    pub customer_id: String,
    /// Which master key wraps it.
    pub master_key_id: String,
    /// `mamori_vault::WrappedKey::to_bytes`.
    pub wrapped: Vec<u8>,
}

/// A saved address (address book entry or delivery recipient).
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct AddressRow {
    /// UUIDv7 text.
    pub id: String,
    /// Owner.
    pub customer_id: String,
    /// Sealed recipient name.
    pub name_ct: Sealed,
    /// Sealed postal address.
    pub address_ct: Sealed,
    /// Sealed phone.
    pub phone_ct: Sealed,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

/// An order header: numbers, state, money and times. Nothing personal and no ciphertext, so it
/// is what listings, handlers and jobs get ([`crate::Records`]).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrderHeader {
    /// UUIDv7 text.
    pub id: String,
    /// Shown to the customer, e.g. `20261121-483920`.
    pub order_number: String,
    /// Buyer.
    pub customer_id: String,
    /// Makes a resubmitted checkout return the first order instead of a second one.
    pub idempotency_key: String,
    /// Where the order stands (stored as [`mamori_domain::OrderState::as_str`]).
    #[sqlx(try_from = "String")]
    pub state: mamori_domain::OrderState,
    /// How the order is paid (stored as [`mamori_domain::PaymentMethod::as_str`]).
    #[sqlx(try_from = "String")]
    pub payment_method: mamori_domain::PaymentMethod,
    /// Sum of the lines, tax included.
    pub items_total: i64,
    /// 代引き fee, tax included.
    pub cod_fee: i64,
    /// Shipping, tax included.
    pub shipping_fee: i64,
    /// Grand total, tax included.
    pub total: i64,
    /// Tax within the 10% part.
    pub tax_standard: i64,
    /// Tax within the 8% part.
    pub tax_reduced: i64,
    /// Microseconds since the epoch.
    pub placed_at: i64,
    /// Microseconds since the epoch.
    pub updated_at: i64,
}

impl std::ops::Deref for OrderRow {
    type Target = OrderHeader;
    fn deref(&self) -> &OrderHeader {
        &self.header
    }
}

/// An order header with the buyer snapshot, sealed: read by the gateway only.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrderRow {
    /// Everything that is not personal.
    #[sqlx(flatten)]
    pub header: OrderHeader,
    /// Sealed buyer name (snapshot at order time).
    pub buyer_name_ct: Sealed,
    /// Sealed buyer email.
    pub buyer_email_ct: Sealed,
    /// Sealed buyer phone.
    pub buyer_phone_ct: Sealed,
    /// Sealed buyer address.
    pub buyer_address_ct: Sealed,
}

/// One order line.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct OrderItemRow {
    /// Order.
    pub order_id: String,
    /// 1-based.
    pub line_no: i64,
    /// Product code.
    pub sku: String,
    /// Product name at order time.
    pub product_name: String,
    /// Unit price, tax included.
    pub unit_price: i64,
    /// "standard" or "reduced".
    pub tax_rate: String,
    /// Quantity.
    pub quantity: i64,
    /// Sealed 名入れ (name and birth date to print).
    pub personalisation_ct: Sealed,
    /// Sealed のし.
    pub noshi_ct: Sealed,
    /// Which delivery of the order ([`ShipmentRow::shipment_no`]) the line goes to; 0 on lines
    /// written before migration 0004, which go with the first delivery.
    pub shipment_no: i64,
}

/// One delivery (お届け先) of an order.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct ShipmentRow {
    /// Order.
    pub order_id: String,
    /// 1-based.
    pub shipment_no: i64,
    /// Sealed recipient name.
    pub name_ct: Sealed,
    /// Sealed recipient address.
    pub address_ct: Sealed,
    /// Sealed recipient phone.
    pub phone_ct: Sealed,
    /// Requested delivery date (YYYY-MM-DD), not personal.
    pub delivery_date: Option<String>,
    /// Delivery slot code.
    pub delivery_slot: String,
}

/// An order with its lines and shipments, as one unit of writing and reading.
#[derive(Clone, Debug)]
pub struct OrderBundle {
    /// Header.
    pub order: OrderRow,
    /// Lines.
    pub items: Vec<OrderItemRow>,
    /// Deliveries.
    pub shipments: Vec<ShipmentRow>,
}

/// A stored ledger entry.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LedgerEntryRow {
    /// Leaf index.
    pub seq: i64,
    /// Stored leaf hash.
    pub leaf_hash: Vec<u8>,
    /// Event bytes (the leaf data).
    pub event: Vec<u8>,
}

/// An event waiting to be appended, with the customers it names (for the subject index).
#[derive(Clone, Debug)]
pub struct PendingEvent {
    /// Event bytes.
    pub event: Vec<u8>,
    /// Precomputed leaf hash.
    pub leaf_hash: [u8; 32],
    /// Customer ids named by the event.
    pub subjects: Vec<String>,
    /// The read budget this event is charged to (reads that hand out plaintext): checked and
    /// counted in the append's transaction; an event over its budget is not appended.
    pub budget: Option<ReadBudget>,
}

/// One window of a read budget: at most `max` distinct customers opened in `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLimit {
    /// Length of the window (60, 3600, 86400).
    pub window_secs: i64,
    /// Most distinct customers the principal may open in it.
    pub max: i64,
    /// True for the absolute ceiling (a share of all customers), which an owner's approval of
    /// the principal's job lifts (`read_principals.approved_until`).
    pub ceiling: bool,
}

/// What a read is charged to: the principal's key (`staff:<id>`, `system:<job>`,
/// `guest:<session>`) and its limits, checked against `read_opens` at `at` (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadBudget {
    /// The principal's key.
    pub principal: String,
    /// Its limits.
    pub limits: Vec<BudgetLimit>,
    /// Now, in Unix seconds.
    pub at: i64,
}

/// Why an event was not appended: its principal's read budget is spent (or was already stopped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetRefusal {
    /// The principal's key.
    pub principal: String,
    /// The window crossed (seconds); 0 when the principal was already stopped.
    pub window_secs: i64,
    /// Distinct customers the read would have brought the window to (or, when already stopped,
    /// what the stop recorded).
    pub opened: i64,
    /// The limit of that window.
    pub max: i64,
    /// True when this read set the stop (false: the principal was stopped before).
    pub new_stop: bool,
}

/// Where an appended batch landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Leaf index of the batch's first event.
    pub first_seq: u64,
    /// Tree size after the batch.
    pub size: u64,
    /// Root after the batch.
    pub root: [u8; 32],
    /// Events of the batch refused by their read budget (index into the batch), not appended;
    /// the others were appended in batch order from `first_seq` on.
    pub refused: Vec<(usize, BudgetRefusal)>,
}

/// Current time in microseconds since the epoch (the unit of the older `created_at`, `updated_at`
/// and `placed_at` columns of customers, addresses, orders and products).
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Current time in Unix seconds (the unit of the shop tables: sessions, webhooks, payments, the
/// mail outbox, tokens, carts, and `customers.email_verified_at`).
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A product category.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CategoryRow {
    /// Stable id.
    pub id: String,
    /// URL part, e.g. `parts`.
    pub slug: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Display order.
    pub position: i64,
}

/// A product. Prices are stored tax-included (総額表示), with the rate that applies to them.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductRow {
    /// Stable id.
    pub id: String,
    /// Shop's product code.
    pub sku: String,
    /// Category id.
    pub category_id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Japanese description.
    pub description_ja: String,
    /// English description.
    pub description_en: String,
    /// Unit price, tax included, in yen.
    pub price_incl: i64,
    /// "standard" (10%) or "reduced" (8%).
    pub tax_rate: String,
    /// Units in stock.
    pub stock: i64,
    /// Offers 名入れ (a name and birth date to print).
    pub offers_personalisation: bool,
    /// Offers のし.
    pub offers_noshi: bool,
    /// Shown in the shop.
    pub active: bool,
    /// Microseconds since the epoch.
    pub created_at: i64,
    /// Microseconds since the epoch.
    pub updated_at: i64,
}

impl ProductRow {
    /// The name to show: the English one on English pages when the merchant gave one, else the
    /// Japanese one (a product needs no English name).
    #[must_use]
    pub fn name_for(&self, english: bool) -> &str {
        if english && !self.name_en.trim().is_empty() {
            &self.name_en
        } else {
            &self.name_ja
        }
    }
}

/// How a category page is ordered (`?sort=` on the storefront).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProductOrder {
    /// By product number (the merchant's order).
    #[default]
    Number,
    /// Cheapest first.
    PriceLow,
    /// Dearest first.
    PriceHigh,
    /// Newest first.
    Newest,
}

impl ProductOrder {
    /// Every order, as the storefront offers them.
    pub const ALL: [ProductOrder; 4] = [
        ProductOrder::Number,
        ProductOrder::PriceLow,
        ProductOrder::PriceHigh,
        ProductOrder::Newest,
    ];

    /// The code in the URL.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ProductOrder::Number => "number",
            ProductOrder::PriceLow => "price_low",
            ProductOrder::PriceHigh => "price_high",
            ProductOrder::Newest => "newest",
        }
    }

    /// The order a URL code names (None for anything else).
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == code)
    }

    /// The SQL ORDER BY (constant text, never from input).
    pub(crate) const fn sql(self) -> &'static str {
        match self {
            ProductOrder::Number => "sku",
            ProductOrder::PriceLow => "price_incl, sku",
            ProductOrder::PriceHigh => "price_incl DESC, sku",
            ProductOrder::Newest => "created_at DESC, sku",
        }
    }
}

/// One page of a listing and the total count behind it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows in the whole listing.
    pub total: i64,
}

/// One payment attempt of an order at the payment provider (an order has one per attempt: a
/// declined card and its retry are two). Of a card, only its brand and last four digits are kept;
/// the number itself never reaches mamori. Times in Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRow {
    /// The order paid.
    pub order_id: String,
    /// Provider code, e.g. `sandbox`.
    pub provider: String,
    /// The provider's payment id (unique).
    pub payment_id: String,
    /// Where the attempt stands, as the shop maps the provider's status (stored as
    /// [`mamori_domain::PaymentAttemptState::as_str`]).
    #[sqlx(try_from = "String")]
    pub status: mamori_domain::PaymentAttemptState,
    /// Amount in yen, tax included.
    pub amount: i64,
    /// Card brand (`visa`, `jcb`, ...), if paid by card.
    pub brand: Option<String>,
    /// Last four digits of the card, if paid by card.
    pub last4: Option<String>,
    /// First written.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// A mail to queue in the outbox. `payload_ct` is sealed by the gateway with the customer's data
/// key at `mail_outbox/payload/<id>`. Times in Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    /// UUIDv7 text (also the mail's Message-ID seed, so it must not change).
    pub id: String,
    /// Whose key sealed the payload (None: not sealed by a customer key).
    pub customer_id: Option<String>,
    /// What kind of mail (`order_confirmation`, `email_confirm`, ...), not personal.
    pub kind: String,
    /// Sealed payload.
    pub payload_ct: Vec<u8>,
    /// Queued at.
    pub created_at: i64,
    /// Due at (usually `created_at`).
    pub next_attempt_at: i64,
}

/// An outbox row claimed by a mail worker, with its lease. Times in Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxClaimRow {
    /// Row (and mail) id.
    pub id: String,
    /// Whose key sealed the payload.
    pub customer_id: Option<String>,
    /// Kind of mail.
    pub kind: String,
    /// Sealed payload (open it with [`crate::Gateway::open_mail`]).
    pub payload_ct: Vec<u8>,
    /// This claim's token (UUIDv4 text); a later claim of the row gets another.
    pub token: String,
    /// Which attempt this is, from 1.
    pub attempt: i64,
    /// The lease's end.
    pub lease_until: i64,
    /// Queued at.
    pub created_at: i64,
}

/// Where an outbox row stands. Times in Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxStatusRow {
    /// Row id.
    pub id: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Claims made (a release gives one back).
    pub attempts: i64,
    /// Due at.
    pub next_attempt_at: i64,
    /// The last failure's fixed description (never server text or personal data).
    pub last_error: Option<String>,
    /// When it was handed to the transport.
    pub sent_at: Option<i64>,
}

/// A single-use token (email confirmation, email change, password reset). Only the SHA-256 of the
/// token is stored; the optional payload is sealed with the customer's data key at
/// `auth_tokens/payload/<hex of token_hash>`. Times in Unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    /// SHA-256 of the token's 32 random bytes.
    pub token_hash: Vec<u8>,
    /// What it may be used for (`email_confirm`, `email_change`, `password_reset`, ...).
    pub purpose: String,
    /// Whose token it is.
    pub customer_id: String,
    /// Sealed payload (e.g. the new email address of an email change).
    pub payload_ct: Option<Vec<u8>>,
    /// Issued at.
    pub created_at: i64,
    /// Valid while `now < expires_at`.
    pub expires_at: i64,
    /// Set when consumed or revoked.
    pub used_at: Option<i64>,
}

// ---- The back office (migration 0004). Times are Unix seconds unless a doc says otherwise. ----

/// A member of staff. The email (lower-case, unique) and display name are the staff member's own
/// work identity, kept in the clear; no customer value is ever stored here. `Debug` shows the
/// id, role and state only.
#[derive(Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StaffRow {
    /// UUIDv7 text.
    pub id: String,
    /// Work email, lower-case (the store lower-cases it on the way in).
    pub email: String,
    /// Name shown in the back office and the staff log.
    pub display_name: String,
    /// `owner`, `manager`, `operator`, `support` or `auditor` (`mamori_staff::Role::as_str`).
    pub role: String,
    /// `invited`, `active` or `disabled`.
    pub state: String,
    /// Argon2id PHC string; None until the invitation is accepted.
    pub password_hash: Option<String>,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    /// Logins are refused while `now < locked_until`.
    pub locked_until: Option<i64>,
    /// Created at.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
    /// Last successful login.
    pub last_login_at: Option<i64>,
}

impl std::fmt::Debug for StaffRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRow")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("state", &self.state)
            .field("email", &mamori_domain::REDACTED)
            .field("display_name", &mamori_domain::REDACTED)
            .field("password_hash", &mamori_domain::REDACTED)
            .finish_non_exhaustive()
    }
}

/// A staff member's WebAuthn passkey.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PasskeyRow {
    /// UUIDv7 text.
    pub id: String,
    /// Owner.
    pub staff_id: String,
    /// The credential id the authenticator reports (unique).
    pub credential_id: Vec<u8>,
    /// The passkey as `webauthn_rs` serialises it (JSON; public key and counter, no secret).
    pub passkey: String,
    /// The staff member's own name for it ("YubiKey 5C", "MacBook").
    pub label: String,
    /// Registered at.
    pub created_at: i64,
    /// Last used to sign in.
    pub last_used_at: Option<i64>,
}

/// A single-use staff token (enrolment or invitation link). Only a hash of the token is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StaffTokenRow {
    /// Hash of the token (the caller picks the hash; SHA-256 of 32 random bytes is enough).
    pub token_hash: Vec<u8>,
    /// Whose token it is.
    pub staff_id: String,
    /// What it may be used for (`enrol`, ...).
    pub purpose: String,
    /// Valid while `now < expires_at`.
    pub expires_at: i64,
    /// Set when consumed or revoked.
    pub used_at: Option<i64>,
    /// Issued at.
    pub created_at: i64,
}

/// One entry of the staff log: a change a member of staff made (or a system job on their behalf).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StaffLogRow {
    /// Position in the log (given by the store on append; ignored there).
    pub seq: i64,
    /// When.
    pub at: i64,
    /// Who (None for a system job or command, e.g. `mamori staff create`).
    pub staff_id: Option<String>,
    /// What, as a dotted code: `products.update`, `orders.transition`, `staff.invite`, ...
    pub action: String,
    /// What it was done to: a product, order or staff id, a settings key.
    pub target: String,
    /// JSON with the particulars (old and new state, changed columns). Never a customer's personal
    /// value: name customers by id and fields by name.
    pub detail: String,
    /// The request it came from.
    pub request_id: String,
    /// The client address it came from (None for a command).
    pub ip: Option<String>,
}

/// Which staff log entries to list. Every set condition must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffLogFilter {
    /// Only this member of staff.
    pub staff_id: Option<String>,
    /// Only actions starting with this text (e.g. `orders.`).
    pub action_prefix: Option<String>,
    /// Only entries with `at >= from`.
    pub from: Option<i64>,
    /// Only entries with `at < to`.
    pub to: Option<i64>,
}

/// A product image, checked by content and re-encoded by the caller before it is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductImageRow {
    /// UUIDv7 text.
    pub id: String,
    /// The product shown.
    pub product_id: String,
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// The image file.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
    /// SHA-256 of `bytes` (an ETag, and a way to notice duplicates).
    pub sha256: Vec<u8>,
    /// Uploaded at.
    pub created_at: i64,
}

/// Which orders [`crate::Store::orders_search`] lists. Every set condition must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only orders in this state.
    pub state: Option<mamori_domain::OrderState>,
    /// Only order numbers starting with this text.
    pub number_prefix: Option<String>,
    /// Only orders placed at or after this time (microseconds, like `orders.placed_at`).
    pub placed_from_us: Option<i64>,
    /// Only orders placed before this time (microseconds).
    pub placed_to_us: Option<i64>,
}

/// Orders and sales over a period (cancelled and refunded orders, and card orders not paid yet,
/// are not sales; a partial refund lowers its order's sale, in the period the order was placed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SalesSummary {
    /// Number of orders.
    pub orders: i64,
    /// Sum of their totals, tax included, in yen.
    pub total: i64,
}
