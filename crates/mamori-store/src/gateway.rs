//! The personal-data gateway: the only place where personal values become plaintext.
//!
//! Every call takes an [`Accessor`]. Reads fetch sealed rows, append an access event to the ledger,
//! wait until it is durable, and only then unwrap the customer's data key and decrypt. Writes record
//! the collection first, then seal and store. If the ledger cannot record, the call fails.

use std::sync::Arc;

use mamori_domain::{
    Address, CustomerKind, CustomerProfile, DeliverySlot, Email, OrderItem, OrderState,
    PaymentMethod, PersonName, Personal, PhoneNumber, Recipient, Yen,
};
use mamori_vault::{DataKey, FieldPlace, KeyRing, PasswordCheck, SecretString, WrappedKey};

use crate::access::{AccessEvent, Accessor, Action};
use crate::codec;
use crate::error::{Result, StoreError};
use crate::ledger::Ledger;
use crate::model::*;
use crate::store::{OrderInsert, Store};

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
}

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
    /// Deliveries.
    pub shipments: Vec<ShipmentView>,
}

/// The gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    store: Arc<dyn Store>,
    keys: Arc<KeyRing>,
    ledger: Ledger,
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

impl Gateway {
    /// A gateway over a store, a key ring and a running ledger.
    pub fn new(store: Arc<dyn Store>, keys: Arc<KeyRing>, ledger: Ledger) -> Self {
        Self {
            store,
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
            Some(p) => Some(self.keys.hash_password(p)?),
            None => None,
        };
        let (key, wrapped) = self.keys.new_data_key(&owner(&id))?;
        self.record(acc, Action::Write, vec![id.clone()], fields::PROFILE)
            .await?;
        let now = now_us();
        let mut row = CustomerRow {
            id: id.clone(),
            kind: codec::kind_str(profile.kind).to_owned(),
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
        match self.keys.verify_password(password, &phc)? {
            PasswordCheck::Invalid => Ok(false),
            PasswordCheck::Valid { needs_rehash } => {
                if needs_rehash {
                    row.password_hash = Some(self.keys.hash_password(password)?);
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
        let mut row = self
            .store
            .customer(customer_id)
            .await?
            .ok_or(StoreError::NotFound { what: "customer" })?;
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            fields::PROFILE,
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        if row.kind == "member" {
            row.email_bidx = Some(self.email_index(profile.email.expose()).to_vec());
        }
        codec::seal_profile(&key, &mut row, profile)?;
        row.updated_at = now_us();
        self.store.update_customer(&row).await
    }

    /// Adds an address-book entry.
    pub async fn add_address(
        &self,
        acc: &Accessor,
        customer_id: &str,
        recipient: &Recipient,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            fields::ADDRESSES,
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        let id = new_id();
        let (name_ct, address_ct, phone_ct) =
            codec::seal_recipient(&key, "addresses", &id, recipient)?;
        self.store
            .insert_address(&AddressRow {
                id: id.clone(),
                customer_id: customer_id.to_owned(),
                name_ct,
                address_ct,
                phone_ct,
                created_at: now_us(),
            })
            .await?;
        Ok(id)
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
        if order.shipments.is_empty() || order.items.is_empty() {
            return Err(StoreError::Invalid(
                "an order needs at least one item and one delivery".into(),
            ));
        }
        self.record(
            acc,
            Action::Write,
            vec![order.customer_id.clone()],
            fields::ORDER,
        )
        .await?;
        let key = self.data_key(&order.customer_id).await?;
        let id = new_id();
        let bundle = codec::seal_order(&key, &id, order_number, order)?;
        match self.store.insert_order(&bundle).await? {
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
        Ok(rows
            .into_iter()
            .map(|mut r| {
                r.buyer_name_ct = None;
                r.buyer_email_ct = None;
                r.buyer_phone_ct = None;
                r.buyer_address_ct = None;
                r
            })
            .collect())
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
