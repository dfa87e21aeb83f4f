//! The personal-data gateway: the only place where personal values become plaintext.
//!
//! Every call takes an [`Accessor`]. Reads fetch sealed rows, append an access event to the ledger,
//! wait until it is durable, and only then unwrap the customer's data key and decrypt. Writes record
//! the collection first, then seal and store. If the ledger cannot record, the call fails.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mamori_domain::{
    Address, CustomerKind, CustomerProfile, DeliverySlot, Email, OrderItem, OrderState,
    PaymentMethod, PersonName, Personal, PhoneNumber, Recipient, Yen,
};
use mamori_vault::{
    DataKey, FieldPlace, KeyRing, PasswordCheck, SecretString, VaultError, WrappedKey, Zeroizing,
};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::access::{AccessEvent, Accessor, Action};
use crate::codec;
use crate::error::{Result, StoreError};
use crate::ledger::Ledger;
use crate::model::*;
use crate::password::PasswordHasher;
use crate::store::{OrderInsert, Store};

mod backoffice;
pub use backoffice::{
    CustomerField, ExportedCustomer, MaskedAddress, MaskedCustomer, MaskedCustomerDetail,
    MaskedOrder, MaskedOrderLine, MaskedShipment, ShippingRow, REASON_MAX_CHARS,
};
mod fulfilment;
pub use fulfilment::CONTACT_FIELDS;
mod gifts;
pub use gifts::{noshi_text, personalisation_text, OrderLineGift, GIFT_FIELDS};

/// Blind-index purpose for member emails.
const EMAIL_INDEX: &str = "customers.email";

/// Field names as recorded in the ledger (`table.column`).
pub mod fields {
    /// Customer name.
    pub const NAME: &str = "customers.name";
    /// Customer email.
    pub const EMAIL: &str = "customers.email";
    /// Customer phone.
    pub const PHONE: &str = "customers.phone";
    /// Customer birth date.
    pub const BIRTH_DATE: &str = "customers.birth_date";
    /// Customer gender.
    pub const GENDER: &str = "customers.gender";
    /// Every column of a customer profile.
    pub const PROFILE: &[&str] = &[NAME, EMAIL, PHONE, BIRTH_DATE, GENDER];
    /// Address-book entries.
    pub const ADDRESSES: &[&str] = &["addresses.name", "addresses.address", "addresses.phone"];
    /// An order's personal parts.
    pub const ORDER: &[&str] = &[
        "orders.buyer_name",
        "orders.buyer_email",
        "orders.buyer_phone",
        "orders.buyer_address",
        "order_items.personalisation",
        "order_items.noshi",
        "shipments.name",
        "shipments.address",
        "shipments.phone",
    ];
    /// Order history (numbers, amounts, states: linked to a person, so recorded too).
    pub const ORDER_SUMMARY: &[&str] = &["orders.summary"];
    /// The data key itself.
    pub const DATA_KEY: &[&str] = &["customer_keys.wrapped"];
    /// A queued mail's sealed payload (what the mail says: names, addresses, order lines).
    pub const MAIL: &str = "mail_outbox.payload";
    /// A single-use token's sealed payload (e.g. the new address of an email change).
    pub const TOKEN_PAYLOAD: &str = "auth_tokens.payload";
    /// A member's password (its Argon2id hash).
    pub const PASSWORD: &str = "customers.password_hash";
    /// The postal address of an address-book entry.
    pub const ADDRESS_BOOK_ADDRESS: &str = "addresses.address";
    /// An order's deliveries: what a shipping label needs.
    pub const SHIPPING: &[&str] = &["shipments.name", "shipments.address", "shipments.phone"];
    /// What a masked customer page opens to mask: the profile's name, email and phone, the
    /// address book, and the order history.
    pub const MASKED_DETAIL: &[&str] = &[
        NAME,
        EMAIL,
        PHONE,
        "addresses.name",
        "addresses.address",
        "addresses.phone",
        "orders.summary",
    ];
    /// What a masked order page opens to mask: the buyer and the deliveries (not 名入れ or のし).
    pub const MASKED_ORDER: &[&str] = &[
        "orders.buyer_name",
        "orders.buyer_email",
        "orders.buyer_phone",
        "orders.buyer_address",
        "shipments.name",
        "shipments.address",
        "shipments.phone",
    ];

    /// `base` followed by [`MAIL`] when a mail is queued with the change.
    pub fn with_mail(base: &[&'static str], mail: bool) -> Vec<&'static str> {
        let mut out = base.to_vec();
        if mail {
            out.push(MAIL);
        }
        out
    }
}

/// A mail to queue together with a change: its kind (not personal, stored in the clear) and its
/// plaintext payload, which the shop serialises (e.g. `mamori_mail`'s storable mail) and the
/// gateway seals with the customer's data key at `mail_outbox/payload/<row id>`. Erasing the
/// customer therefore also makes their queued mail unreadable. `Debug` shows the kind only.
#[derive(Clone)]
pub struct MailDraft {
    /// What kind of mail (`order_confirmation`, `email_confirm`, `password_changed`, ...).
    pub kind: String,
    /// The plaintext payload (zeroized when dropped).
    pub payload: Zeroizing<Vec<u8>>,
}

impl MailDraft {
    /// A draft of `kind` with `payload`.
    pub fn new(kind: &str, payload: Vec<u8>) -> Self {
        Self {
            kind: kind.to_owned(),
            payload: Zeroizing::new(payload),
        }
    }
}

impl std::fmt::Debug for MailDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailDraft")
            .field("kind", &self.kind)
            .field("payload", &mamori_domain::REDACTED)
            .finish()
    }
}

/// What [`Gateway::member_login`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Right password, email confirmed: the member may log in.
    Ok {
        /// The member.
        customer_id: String,
    },
    /// Right password, but the email address is not confirmed yet (offer to resend the mail).
    Unverified {
        /// The member.
        customer_id: String,
    },
    /// Unknown email or wrong password (deliberately not told apart).
    Invalid,
}

/// Table a queued mail's payload is sealed at (with the row id).
const MAIL_TABLE: &str = "mail_outbox";
/// Table of single-use tokens.
const TOKEN_TABLE: &str = "auth_tokens";
/// Column of sealed payloads (mail and tokens).
const PAYLOAD_COLUMN: &str = "payload";
/// Random bytes in a single-use token.
const TOKEN_BYTES: usize = 32;

/// Buyer details copied onto an order at checkout.
#[derive(Clone, Debug)]
pub struct Buyer {
    /// Name.
    pub name: Personal<PersonName>,
    /// Email.
    pub email: Personal<Email>,
    /// Phone.
    pub phone: Personal<PhoneNumber>,
    /// Billing address.
    pub address: Personal<Address>,
}

/// One delivery of a new order.
#[derive(Clone, Debug)]
pub struct NewShipment {
    /// Who receives it (may differ from the buyer).
    pub recipient: Recipient,
    /// Requested date.
    pub delivery_date: Option<chrono::NaiveDate>,
    /// Requested slot.
    pub slot: DeliverySlot,
}

/// A new order as checkout hands it over.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// The buyer's customer id (member or guest).
    pub customer_id: String,
    /// Same key, same order: resubmits and second tabs do not make a second order.
    pub idempotency_key: String,
    /// How it is paid.
    pub payment_method: PaymentMethod,
    /// Buyer snapshot.
    pub buyer: Buyer,
    /// Lines.
    pub items: Vec<OrderItem>,
    /// Deliveries (at least one).
    pub shipments: Vec<NewShipment>,
    /// Shipping fee, tax included.
    pub shipping_fee: Yen,
}

/// What `place_order` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedOrder {
    /// Order id.
    pub order_id: String,
    /// True when the idempotency key had been used: the earlier order is returned, nothing new written.
    pub existing: bool,
}

/// A delivery of a stored order, decrypted.
#[derive(Clone, Debug)]
pub struct ShipmentView {
    /// Recipient.
    pub recipient: Recipient,
    /// Requested date.
    pub delivery_date: Option<String>,
    /// Slot code.
    pub slot: String,
}

/// A stored order, decrypted.
#[derive(Clone, Debug)]
pub struct OrderView {
    /// Non-personal header (amounts, state, numbers); its sealed fields are left as they are.
    pub header: OrderRow,
    /// Buyer snapshot.
    pub buyer: Buyer,
    /// Lines.
    pub items: Vec<OrderItem>,
    /// The delivery (`shipment_no`, 1-based) each line goes to, parallel to `items`.
    pub item_shipments: Vec<i64>,
    /// Deliveries.
    pub shipments: Vec<ShipmentView>,
}

/// The gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    store: Arc<dyn Store>,
    keys: Arc<KeyRing>,
    ledger: Ledger,
    /// Argon2id on the blocking pool, and the dummy hash an unknown email is verified against.
    passwords: PasswordHasher,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gateway")
    }
}

fn owner(customer_id: &str) -> String {
    format!("customer:{customer_id}")
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Seals a mail draft for the outbox with the customer's key, at its own row id.
fn mail_rows(key: &DataKey, customer_id: &str, mail: Option<&MailDraft>) -> Result<Vec<OutboxRow>> {
    let Some(m) = mail else {
        return Ok(Vec::new());
    };
    let id = new_id();
    let payload_ct = codec::seal(key, MAIL_TABLE, PAYLOAD_COLUMN, &id, &m.payload)?;
    let at = now();
    Ok(vec![OutboxRow {
        id,
        customer_id: Some(customer_id.to_owned()),
        kind: m.kind.clone(),
        payload_ct,
        created_at: at,
        next_attempt_at: at,
    }])
}

/// Purpose of the system key that seals mail not tied to a customer key.
const UNLINKED_MAIL_KEY: &str = "mail_outbox.unlinked";

/// An order header without its sealed buyer fields (for listings that open nothing).
fn cleared(mut o: OrderRow) -> OrderRow {
    o.buyer_name_ct = None;
    o.buyer_email_ct = None;
    o.buyer_phone_ct = None;
    o.buyer_address_ct = None;
    o
}

/// SHA-256 of a token's random bytes: what the database keeps instead of the token.
fn token_hash(raw: &[u8]) -> Vec<u8> {
    Sha256::digest(raw).to_vec()
}

impl Gateway {
    /// A gateway over a store, a key ring and a running ledger.
    pub fn new(store: Arc<dyn Store>, keys: Arc<KeyRing>, ledger: Ledger) -> Self {
        Self {
            store,
            passwords: PasswordHasher::new(keys.clone()),
            keys,
            ledger,
        }
    }

    /// The store below (for non-personal queries).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The ledger handle.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    async fn record(
        &self,
        acc: &Accessor,
        action: Action,
        customers: Vec<String>,
        f: &[&str],
    ) -> Result<u64> {
        self.ledger
            .record(&AccessEvent::new(acc, action, customers, f))
            .await
    }

    async fn data_key(&self, customer_id: &str) -> Result<DataKey> {
        let Some(row) = self.store.customer_key(customer_id).await? else {
            return Err(StoreError::Erased(customer_id.to_owned()));
        };
        let wrapped = WrappedKey::from_bytes(&row.wrapped)?;
        Ok(self.keys.unwrap_data_key(&owner(customer_id), &wrapped)?)
    }

    /// Registers a member (with a password) or a guest (without), recording the collection.
    pub async fn register_customer(
        &self,
        acc: &Accessor,
        profile: &CustomerProfile,
        password: Option<&SecretString>,
    ) -> Result<String> {
        let id = new_id();
        let email_bidx = match profile.kind {
            CustomerKind::Member => Some(self.email_index(profile.email.expose()).to_vec()),
            CustomerKind::Guest => None,
        };
        if let Some(b) = &email_bidx {
            if self.store.member_by_email_bidx(b).await?.is_some() {
                return Err(StoreError::DuplicateMember);
            }
        }
        let password_hash = match password {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let (key, wrapped) = self.keys.new_data_key(&owner(&id))?;
        self.record(acc, Action::Write, vec![id.clone()], fields::PROFILE)
            .await?;
        let now = now_us();
        let mut row = CustomerRow {
            id: id.clone(),
            kind: profile.kind.as_str().to_owned(),
            email_bidx,
            password_hash,
            created_at: now,
            updated_at: now,
            ..Default::default()
        };
        codec::seal_profile(&key, &mut row, profile)?;
        let key_row = CustomerKeyRow {
            customer_id: id.clone(),
            master_key_id: wrapped.master_key_id.clone(),
            wrapped: wrapped.to_bytes(),
        };
        self.store.insert_customer(&row, &key_row).await?;
        Ok(id)
    }

    /// The blind index of an email (normalised for lookup).
    pub fn email_index(&self, email: &Email) -> [u8; 32] {
        self.keys
            .blind_index(EMAIL_INDEX, &email.normalised_for_lookup())
    }

    /// The member with this email, if any. Hands out no personal value, so nothing is recorded.
    pub async fn find_member(&self, email: &Email) -> Result<Option<String>> {
        self.store
            .member_by_email_bidx(&self.email_index(email))
            .await
    }

    /// Checks a member's password; upgrades the stored hash when the parameters changed.
    pub async fn check_password(&self, customer_id: &str, password: &SecretString) -> Result<bool> {
        let Some(mut row) = self.store.customer(customer_id).await? else {
            return Ok(false);
        };
        let Some(phc) = row.password_hash.clone() else {
            return Ok(false);
        };
        match self.passwords.verify(password, phc).await? {
            PasswordCheck::Invalid => Ok(false),
            PasswordCheck::Valid { needs_rehash } => {
                if needs_rehash {
                    row.password_hash = Some(self.passwords.hash(password).await?);
                    row.updated_at = now_us();
                    self.store.update_customer(&row).await?;
                }
                Ok(true)
            }
        }
    }

    /// Reads a customer's profile.
    pub async fn customer_profile(
        &self,
        acc: &Accessor,
        customer_id: &str,
    ) -> Result<CustomerProfile> {
        // The sealed row and the wrapped key are fetched while the event is being committed;
        // nothing is decrypted before the event is durable.
        let (row, key, recorded) = tokio::join!(
            self.store.customer(customer_id),
            self.data_key(customer_id),
            self.record(
                acc,
                Action::Read,
                vec![customer_id.to_owned()],
                fields::PROFILE
            ),
        );
        recorded?;
        let row = row?.ok_or(StoreError::NotFound { what: "customer" })?;
        if row.erased_at.is_some() {
            return Err(StoreError::Erased(customer_id.to_owned()));
        }
        codec::open_profile(&key?, &row)
    }

    /// Replaces a customer's profile (the email index follows the email).
    pub async fn update_profile(
        &self,
        acc: &Accessor,
        customer_id: &str,
        profile: &CustomerProfile,
    ) -> Result<()> {
        self.update_profile_with_mail(acc, customer_id, profile, None)
            .await
    }

    /// [`Gateway::update_profile`] that also queues `mail` (sealed with the customer's key) in the
    /// same transaction. One event records the profile fields and the mail.
    pub async fn update_profile_with_mail(
        &self,
        acc: &Accessor,
        customer_id: &str,
        profile: &CustomerProfile,
        mail: Option<MailDraft>,
    ) -> Result<()> {
        let mut row = self
            .store
            .customer(customer_id)
            .await?
            .ok_or(StoreError::NotFound { what: "customer" })?;
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(fields::PROFILE, mail.is_some()),
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        if row.kind == "member" {
            row.email_bidx = Some(self.email_index(profile.email.expose()).to_vec());
        }
        codec::seal_profile(&key, &mut row, profile)?;
        row.updated_at = now_us();
        let mail = mail_rows(&key, customer_id, mail.as_ref())?;
        self.store.update_customer_with_mail(&row, &mail).await
    }

    /// Adds an address-book entry.
    pub async fn add_address(
        &self,
        acc: &Accessor,
        customer_id: &str,
        recipient: &Recipient,
    ) -> Result<String> {
        self.add_address_with_mail(acc, customer_id, recipient, None)
            .await
    }

    /// [`Gateway::add_address`] that also queues `mail` in the same transaction.
    pub async fn add_address_with_mail(
        &self,
        acc: &Accessor,
        customer_id: &str,
        recipient: &Recipient,
        mail: Option<MailDraft>,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(fields::ADDRESSES, mail.is_some()),
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        let id = new_id();
        let (name_ct, address_ct, phone_ct) =
            codec::seal_recipient(&key, "addresses", &id, recipient)?;
        let mail = mail_rows(&key, customer_id, mail.as_ref())?;
        self.store
            .insert_address_with_mail(
                &AddressRow {
                    id: id.clone(),
                    customer_id: customer_id.to_owned(),
                    name_ct,
                    address_ct,
                    phone_ct,
                    created_at: now_us(),
                },
                &mail,
            )
            .await?;
        Ok(id)
    }

    /// Removes an address-book entry of the customer; false if they have none with that id.
    /// Recorded as a write of the address-book fields.
    pub async fn delete_address(
        &self,
        acc: &Accessor,
        customer_id: &str,
        address_id: &str,
    ) -> Result<bool> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            fields::ADDRESSES,
        )
        .await?;
        self.store.delete_address(customer_id, address_id).await
    }

    /// A customer's address book.
    pub async fn addresses(
        &self,
        acc: &Accessor,
        customer_id: &str,
    ) -> Result<Vec<(String, Recipient)>> {
        let rows = self.store.addresses(customer_id).await?;
        self.record(
            acc,
            Action::Read,
            vec![customer_id.to_owned()],
            fields::ADDRESSES,
        )
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.data_key(customer_id).await?;
        rows.iter()
            .map(|r| {
                let rec = codec::open_recipient(
                    &key,
                    "addresses",
                    &r.id,
                    &r.name_ct,
                    &r.address_ct,
                    &r.phone_ct,
                )?;
                Ok((r.id.clone(), rec))
            })
            .collect()
    }

    /// Writes an order once per idempotency key, recording the collection of its personal parts.
    pub async fn place_order(
        &self,
        acc: &Accessor,
        order: &NewOrder,
        order_number: &str,
    ) -> Result<PlacedOrder> {
        self.place_order_with_mail(acc, order, order_number, None)
            .await
    }

    /// [`Gateway::place_order`] that also queues `mail` (e.g. the order confirmation) in the
    /// order's transaction: the mail exists if and only if the order was written. A resubmission
    /// with a used idempotency key returns the earlier order and queues nothing.
    pub async fn place_order_with_mail(
        &self,
        acc: &Accessor,
        order: &NewOrder,
        order_number: &str,
        mail: Option<MailDraft>,
    ) -> Result<PlacedOrder> {
        self.place_order_split(acc, order, order_number, mail, &[])
            .await
    }

    /// [`Gateway::place_order_with_mail`] for an order with several deliveries: `item_shipments`
    /// gives the delivery of each line (1-based into `order.shipments`, parallel to
    /// `order.items`; stored as `order_items.shipment_no`). Empty sends every line with the
    /// first delivery. [`StoreError::Invalid`] when it does not fit the order (nothing recorded).
    pub async fn place_order_split(
        &self,
        acc: &Accessor,
        order: &NewOrder,
        order_number: &str,
        mail: Option<MailDraft>,
        item_shipments: &[i64],
    ) -> Result<PlacedOrder> {
        if !item_shipments.is_empty()
            && (item_shipments.len() != order.items.len()
                || item_shipments
                    .iter()
                    .any(|n| *n < 1 || *n > order.shipments.len() as i64))
        {
            return Err(StoreError::Invalid(
                "every order line needs one of the order's deliveries".into(),
            ));
        }
        if order.shipments.is_empty() || order.items.is_empty() {
            return Err(StoreError::Invalid(
                "an order needs at least one item and one delivery".into(),
            ));
        }
        self.record(
            acc,
            Action::Write,
            vec![order.customer_id.clone()],
            &fields::with_mail(fields::ORDER, mail.is_some()),
        )
        .await?;
        let key = self.data_key(&order.customer_id).await?;
        let id = new_id();
        let bundle = codec::seal_order(&key, &id, order_number, order, item_shipments)?;
        let mail = mail_rows(&key, &order.customer_id, mail.as_ref())?;
        match self.store.insert_order_with_mail(&bundle, &mail).await? {
            OrderInsert::Inserted => Ok(PlacedOrder {
                order_id: id,
                existing: false,
            }),
            OrderInsert::Existing { order_id } => Ok(PlacedOrder {
                order_id,
                existing: true,
            }),
        }
    }

    /// A customer's order history (no personal fields decrypted, but recorded as a look at their orders).
    pub async fn orders_of(&self, acc: &Accessor, customer_id: &str) -> Result<Vec<OrderRow>> {
        let rows = self.store.orders_of(customer_id).await?;
        self.record(
            acc,
            Action::Read,
            vec![customer_id.to_owned()],
            fields::ORDER_SUMMARY,
        )
        .await?;
        Ok(rows.into_iter().map(cleared).collect())
    }

    /// One order with its personal parts decrypted.
    pub async fn order(&self, acc: &Accessor, order_id: &str) -> Result<OrderView> {
        let bundle = self
            .store
            .order(order_id)
            .await?
            .ok_or(StoreError::NotFound { what: "order" })?;
        let customer_id = bundle.order.customer_id.clone();
        self.record(acc, Action::Read, vec![customer_id.clone()], fields::ORDER)
            .await?;
        let key = self.data_key(&customer_id).await?;
        codec::open_order(&key, bundle)
    }

    /// Moves an order to its next state (no personal data involved).
    pub fn next_state(
        current: &str,
        event: mamori_domain::OrderEvent,
        method: PaymentMethod,
    ) -> Result<OrderState> {
        let state = OrderState::parse(current).map_err(|_| StoreError::Malformed {
            table: "orders",
            column: "state",
        })?;
        state
            .apply(event, method)
            .map_err(|e| StoreError::Invalid(e.message_en().to_owned()))
    }

    /// Erases a customer: destroys their data key and clears their sealed values. Orders keep their
    /// amounts (what tax law requires) but not their personal parts.
    pub async fn erase_customer(&self, acc: &Accessor, customer_id: &str) -> Result<()> {
        self.record(
            acc,
            Action::Erase,
            vec![customer_id.to_owned()],
            fields::DATA_KEY,
        )
        .await?;
        self.store.erase_customer(customer_id, now_us()).await
    }

    /// Re-wraps every data key not yet under the active master key; returns how many were moved.
    /// Runs in batches, so the shop keeps serving: a key is readable under the old and new master key
    /// alike until it is moved.
    pub async fn rotate_data_keys(&self, acc: &Accessor, batch: i64) -> Result<usize> {
        let active = self.keys.active_master_key_id().to_owned();
        let mut moved = 0;
        loop {
            let rows = self.store.keys_not_wrapped_by(&active, batch).await?;
            if rows.is_empty() {
                return Ok(moved);
            }
            let customers: Vec<String> = rows.iter().map(|r| r.customer_id.clone()).collect();
            self.record(acc, Action::Rewrap, customers, fields::DATA_KEY)
                .await?;
            let mut updated = Vec::with_capacity(rows.len());
            for r in rows {
                let wrapped = WrappedKey::from_bytes(&r.wrapped)?;
                let new = self.keys.rewrap(&owner(&r.customer_id), &wrapped)?;
                updated.push(CustomerKeyRow {
                    customer_id: r.customer_id,
                    master_key_id: new.master_key_id.clone(),
                    wrapped: new.to_bytes(),
                });
            }
            moved += updated.len();
            self.store.update_wrapped_keys(&updated).await?;
        }
    }

    // ---- The shop: mail, orders' states, account changes, tokens, login. ----

    /// Queues a mail to a customer on its own (no other change with it): seals the payload with
    /// their data key and returns the outbox row id. Recorded as a write of
    /// [`fields::MAIL`].
    pub async fn queue_mail(
        &self,
        acc: &Accessor,
        customer_id: &str,
        mail: MailDraft,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &[fields::MAIL],
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        let rows = mail_rows(&key, customer_id, Some(&mail))?;
        self.store.outbox_enqueue(&rows).await?;
        Ok(rows.into_iter().map(|r| r.id).next().unwrap_or_default())
    }

    /// Queues a mail that must outlive the customer's data key: the confirmation of a withdrawal,
    /// sent after the key is destroyed. Sealed under a system key and stored without a customer
    /// id, so erasing the customer does not empty it. Recorded as a write naming the customer.
    pub async fn queue_unlinked_mail(
        &self,
        acc: &Accessor,
        about_customer: &str,
        mail: MailDraft,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![about_customer.to_owned()],
            &[fields::MAIL],
        )
        .await?;
        self.queue_system_mail(mail).await
    }

    /// Queues a mail that is about no customer (e.g. a notice to a member of staff): sealed under
    /// the system key the outbox worker opens unlinked mail with, at `mail_outbox/payload/<row
    /// id>`, and stored without a customer id; returns the row id. Records nothing (no
    /// customer's data is written; the worker's open is recorded as usual). Mail about a
    /// customer goes through [`Gateway::queue_unlinked_mail`], which records the write first.
    pub async fn queue_system_mail(&self, mail: MailDraft) -> Result<String> {
        let key = self.keys.system_data_key(UNLINKED_MAIL_KEY)?;
        let id = new_id();
        let payload_ct = codec::seal(&key, MAIL_TABLE, PAYLOAD_COLUMN, &id, &mail.payload)?;
        let at = now();
        self.store
            .outbox_enqueue(&[OutboxRow {
                id: id.clone(),
                customer_id: None,
                kind: mail.kind.clone(),
                payload_ct,
                created_at: at,
                next_attempt_at: at,
            }])
            .await?;
        Ok(id)
    }

    /// Moves an order from one of the states `from` to `to` (compare-and-set, e.g. a payment
    /// webhook moving `pending_payment` to `paid`), queueing `mail` to the order's customer in the
    /// same transaction. False when the order is missing or not in one of `from`: then nothing
    /// changed and no mail was queued, so a replayed webhook does not send a second mail.
    ///
    /// With a mail, the write of [`fields::MAIL`] is recorded first (the order's state itself is
    /// not personal); an erased customer's order gives [`StoreError::Erased`] and stays as it was
    /// (move it without a mail).
    pub async fn transition_order_with_mail(
        &self,
        acc: &Accessor,
        order_id: &str,
        from: &[&str],
        to: &str,
        mail: Option<MailDraft>,
    ) -> Result<bool> {
        let rows = match mail {
            None => Vec::new(),
            Some(m) => {
                let Some(header) = self.store.order_header(order_id).await? else {
                    return Ok(false);
                };
                if !from.contains(&header.state.as_str()) {
                    return Ok(false);
                }
                let customer_id = header.customer_id;
                self.record(
                    acc,
                    Action::Write,
                    vec![customer_id.clone()],
                    &[fields::MAIL],
                )
                .await?;
                let key = self.data_key(&customer_id).await?;
                mail_rows(&key, &customer_id, Some(&m))?
            }
        };
        self.store
            .transition_order(order_id, from, to, now(), &rows)
            .await
    }

    /// Opens a claimed outbox row's payload for the mail worker. The read of [`fields::MAIL`]
    /// is recorded (one event) before anything is decrypted. [`StoreError::Erased`] once the
    /// customer was erased; [`StoreError::Invalid`] for a row not sealed with a customer key.
    pub async fn open_mail(
        &self,
        acc: &Accessor,
        claim: &OutboxClaimRow,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let Some(customer_id) = claim.customer_id.as_deref() else {
            // A mail queued by `queue_unlinked_mail`: sealed under the system key.
            self.record(acc, Action::Read, Vec::new(), &[fields::MAIL])
                .await?;
            let key = self.keys.system_data_key(UNLINKED_MAIL_KEY)?;
            return codec::open_bytes(
                &key,
                MAIL_TABLE,
                PAYLOAD_COLUMN,
                &claim.id,
                &claim.payload_ct,
            );
        };
        // The wrapped key is fetched while the event commits; nothing is opened before that.
        let (key, recorded) = tokio::join!(
            self.data_key(customer_id),
            self.record(
                acc,
                Action::Read,
                vec![customer_id.to_owned()],
                &[fields::MAIL]
            ),
        );
        recorded?;
        let key = key?;
        if claim.payload_ct.is_empty() {
            return Err(StoreError::Erased(customer_id.to_owned()));
        }
        codec::open_bytes(
            &key,
            MAIL_TABLE,
            PAYLOAD_COLUMN,
            &claim.id,
            &claim.payload_ct,
        )
    }

    /// Sets a member's new password (Argon2id with the pepper, hashed off the async threads),
    /// queueing `mail` (e.g. "your password was changed") in the same transaction. Recorded as a
    /// write of [`fields::PASSWORD`] (and the mail).
    pub async fn change_password(
        &self,
        acc: &Accessor,
        customer_id: &str,
        new_password: &SecretString,
        mail: Option<MailDraft>,
    ) -> Result<()> {
        let mut row = self.live_customer(customer_id).await?;
        if row.kind != "member" {
            return Err(StoreError::Invalid("only members have a password".into()));
        }
        let hash = self.passwords.hash(new_password).await?;
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(&[fields::PASSWORD], mail.is_some()),
        )
        .await?;
        let rows = match &mail {
            Some(m) => mail_rows(&self.data_key(customer_id).await?, customer_id, Some(m))?,
            None => Vec::new(),
        };
        row.password_hash = Some(hash);
        row.updated_at = now_us();
        self.store.update_customer_with_mail(&row, &rows).await
    }

    /// Replaces a customer's email address (sealed) and, for a member, its blind index, so
    /// [`Gateway::find_member`] and login follow the new address at once.
    /// [`StoreError::DuplicateMember`] when another member has it. Confirm the new address
    /// first (an `email_change` token carrying it); `email_verified_at` is left as it is.
    /// `mail` (e.g. a notice to the old address) is queued in the same transaction.
    pub async fn change_email(
        &self,
        acc: &Accessor,
        customer_id: &str,
        new_email: &Personal<Email>,
        mail: Option<MailDraft>,
    ) -> Result<()> {
        let mut row = self.live_customer(customer_id).await?;
        let bidx = (row.kind == "member").then(|| self.email_index(new_email.expose()).to_vec());
        if let Some(b) = &bidx {
            if let Some(other) = self.store.member_by_email_bidx(b).await? {
                if other != customer_id {
                    return Err(StoreError::DuplicateMember);
                }
            }
        }
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(&[fields::EMAIL], mail.is_some()),
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        codec::seal_email(&key, &mut row, new_email.expose())?;
        if bidx.is_some() {
            row.email_bidx = bidx;
        }
        row.updated_at = now_us();
        let rows = mail_rows(&key, customer_id, mail.as_ref())?;
        self.store.update_customer_with_mail(&row, &rows).await
    }

    /// Issues a single-use token for `purpose` (`email_confirm`, `email_change`,
    /// `password_reset`, ...), valid for `ttl_secs`: 32 random bytes, returned base64url without
    /// padding (43 characters) to put in a link. Only its SHA-256 is stored. An optional
    /// `payload` (e.g. the new address of an email change) is sealed with the customer's key at
    /// `auth_tokens/payload/<hex of the hash>`, and that write is recorded; a token without a
    /// payload holds nothing personal and records nothing. Earlier unused tokens of the same
    /// purpose for the customer are revoked, so only the newest link works.
    pub async fn issue_token(
        &self,
        acc: &Accessor,
        customer_id: &str,
        purpose: &str,
        ttl_secs: i64,
        payload: Option<&[u8]>,
    ) -> Result<SecretString> {
        self.live_customer(customer_id).await?;
        let mut raw = Zeroizing::new([0u8; TOKEN_BYTES]);
        rand::rngs::OsRng
            .try_fill_bytes(raw.as_mut())
            .map_err(|_| StoreError::Vault(VaultError::Random))?;
        let hash = token_hash(raw.as_ref());
        let payload_ct = match payload {
            None => None,
            Some(p) => {
                self.record(
                    acc,
                    Action::Write,
                    vec![customer_id.to_owned()],
                    &[fields::TOKEN_PAYLOAD],
                )
                .await?;
                let key = self.data_key(customer_id).await?;
                Some(codec::seal(
                    &key,
                    TOKEN_TABLE,
                    PAYLOAD_COLUMN,
                    &hex::encode(&hash),
                    p,
                )?)
            }
        };
        let at = now();
        self.store.tokens_revoke(customer_id, purpose, at).await?;
        self.store
            .token_insert(&TokenRow {
                token_hash: hash,
                purpose: purpose.to_owned(),
                customer_id: customer_id.to_owned(),
                payload_ct,
                created_at: at,
                expires_at: at.saturating_add(ttl_secs),
                used_at: None,
            })
            .await?;
        Ok(SecretString::from(URL_SAFE_NO_PAD.encode(raw.as_ref())))
    }

    /// Uses a token: the customer id and the decrypted payload (if it has one) when the token is
    /// known, of this `purpose`, unused and unexpired; it cannot be used again. None otherwise,
    /// including for a malformed token (nothing tells the cases apart). Opening a payload is
    /// recorded as a read of [`fields::TOKEN_PAYLOAD`].
    pub async fn consume_token(
        &self,
        acc: &Accessor,
        token: &str,
        purpose: &str,
    ) -> Result<Option<(String, Option<Zeroizing<Vec<u8>>>)>> {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token.as_bytes()) else {
            return Ok(None);
        };
        let raw = Zeroizing::new(raw);
        if raw.len() != TOKEN_BYTES {
            return Ok(None);
        }
        let hash = token_hash(&raw);
        let Some(row) = self.store.token_consume(&hash, purpose, now()).await? else {
            return Ok(None);
        };
        let Some(ct) = row.payload_ct else {
            return Ok(Some((row.customer_id, None)));
        };
        let (key, recorded) = tokio::join!(
            self.data_key(&row.customer_id),
            self.record(
                acc,
                Action::Read,
                vec![row.customer_id.clone()],
                &[fields::TOKEN_PAYLOAD]
            ),
        );
        recorded?;
        let plain = codec::open_bytes(
            &key?,
            TOKEN_TABLE,
            PAYLOAD_COLUMN,
            &hex::encode(&row.token_hash),
            &ct,
        )?;
        Ok(Some((row.customer_id, Some(plain))))
    }

    /// Marks a member's email address as confirmed (after [`Gateway::consume_token`] of an
    /// `email_confirm` token). Nothing personal is read or written, so nothing is recorded.
    pub async fn verify_email(&self, acc: &Accessor, customer_id: &str) -> Result<()> {
        let _ = acc;
        self.store.mark_email_verified(customer_id, now()).await
    }

    /// Checks a member's login. An unknown email is verified against a dummy hash made with the
    /// ring's own parameters, so it costs what a wrong password costs and the answer does not
    /// reveal who is a member; [`LoginOutcome::Unverified`] is only told after the right password.
    /// Upgrades the stored hash when the parameters changed. Hands out no personal value, so
    /// nothing is recorded (the shop records the login itself).
    pub async fn member_login(
        &self,
        acc: &Accessor,
        email: &Email,
        password: &SecretString,
    ) -> Result<LoginOutcome> {
        let _ = acc;
        let dummy = self.passwords.dummy_hash().await?;
        let id = self.find_member(email).await?;
        // The same round trip for an unknown email, with an id no row has.
        let row = self.store.customer(id.as_deref().unwrap_or("")).await?;
        let member = row.filter(|r| r.erased_at.is_none() && r.kind == "member");
        let stored = member.as_ref().and_then(|r| r.password_hash.clone());
        let known = stored.is_some();
        let check = self
            .passwords
            .verify(password, stored.unwrap_or(dummy))
            .await?;
        let (Some(mut row), true) = (member, known) else {
            return Ok(LoginOutcome::Invalid);
        };
        match check {
            PasswordCheck::Invalid => Ok(LoginOutcome::Invalid),
            PasswordCheck::Valid { needs_rehash } => {
                if needs_rehash {
                    row.password_hash = Some(self.passwords.hash(password).await?);
                    row.updated_at = now_us();
                    self.store.update_customer(&row).await?;
                }
                let customer_id = row.id;
                Ok(if row.email_verified_at.is_some() {
                    LoginOutcome::Ok { customer_id }
                } else {
                    LoginOutcome::Unverified { customer_id }
                })
            }
        }
    }

    /// A customer row that exists and is not erased.
    async fn live_customer(&self, customer_id: &str) -> Result<CustomerRow> {
        let row = self
            .store
            .customer(customer_id)
            .await?
            .ok_or(StoreError::NotFound { what: "customer" })?;
        if row.erased_at.is_some() {
            return Err(StoreError::Erased(customer_id.to_owned()));
        }
        Ok(row)
    }

    /// Opens one sealed value at an explicit place with a customer's key (tools and tests that
    /// check where a ciphertext may be opened). Recorded like every other read.
    pub async fn open_raw(
        &self,
        acc: &Accessor,
        customer_id: &str,
        place: FieldPlace<'_>,
        sealed: &[u8],
    ) -> Result<SecretString> {
        let field = format!("{}.{}", place.table, place.column);
        self.record(
            acc,
            Action::Read,
            vec![customer_id.to_owned()],
            &[field.as_str()],
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        Ok(key.open_string(&place, sealed)?)
    }
}
