//! The personal-data gateway: the only place where personal values become plaintext.
//!
//! Every call takes an [`Accessor`]. Reads fetch sealed rows, append an access event to the ledger,
//! wait until it is durable, and only then unwrap the customer's data key and decrypt. Writes record
//! the collection first, then seal and store. If the ledger cannot record, the call fails.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mamori_domain::{
    CustomerKind, CustomerProfile, Email, OrderState, PaymentMethod, Personal, Recipient,
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
use crate::sealer::{SystemPurpose, SystemSealer};
use crate::store::{OrderInsert, Records, Store};

mod alerts;
mod backoffice;
mod canary_mail;
mod customers;
mod fraud;
mod fulfilment;
mod gifts;
mod incidents;
mod inquiries;
mod mail;
mod notices;
mod orders;
mod outbox;
mod reads;
mod refunds;
mod tokens;
#[cfg(feature = "web-sessions")]
mod web_sessions;
/// The order views live in [`crate::model`] (the codec uses them too); named here as before.
pub use crate::model::{Buyer, NewOrder, NewShipment, OrderView, PlacedOrder, ShipmentView};
pub use backoffice::{
    CustomerField, ExportedCustomer, MaskedAddress, MaskedCustomer, MaskedCustomerDetail,
    MaskedOrder, MaskedOrderLine, MaskedShipment, ShippingRow, REASON_MAX_CHARS,
};
pub use canary_mail::{CanaryMailHead, CanaryMailOpened, CanaryMailRecorded};
pub use fulfilment::CONTACT_FIELDS;
pub use gifts::{noshi_text, personalisation_text, OrderLineGift, GIFT_FIELDS};
pub use incidents::{OtherRecipients, RECIPIENT_COMPARE_FIELDS};
pub use inquiries::{
    InquiryDraft, InquiryHead, InquiryOpened, InquiryReceipt, INQUIRY_FIELDS, INQUIRY_KEY,
    INQUIRY_LIST_MAX,
};
pub use notices::{
    LetterAddress, LetterBatchRead, NoticeBatchReport, NoticeContact, NoticeTarget,
    LETTER_BOOK_READ_FIELDS, LETTER_READ_FIELDS, NOTICE_READ_FIELDS,
};
pub use outbox::SqlOutbox;
pub use reads::{
    principal_key, ReadAlarm, ReadAlarmEvent, ReadBudgets, RoleBudget, NOTICE_JOB, WINDOWS,
};
#[cfg(feature = "web-sessions")]
pub use web_sessions::{SessionTable, SqlSessionStore};

/// Blind-index purpose for member emails.
const EMAIL_INDEX: &str = "customers.email";
/// Purpose of the blind indexes the back office finds customers by.
const SEARCH_INDEX: &str = "customers.search";

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
    /// address book, the order history, and the latest order's buyer address (the prefecture).
    pub const MASKED_DETAIL: &[&str] = &[
        NAME,
        EMAIL,
        PHONE,
        "addresses.name",
        "addresses.address",
        "addresses.phone",
        "orders.summary",
        "orders.buyer_address",
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

/// The gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    store: Arc<dyn Store>,
    /// The key ring, swapped in place when the key file is rotated (shared by clones and by the
    /// system sealers made from this gateway).
    keys: Arc<ArcSwap<KeyRing>>,
    /// The key file the ring was loaded from, when it was: a rotation writes it and a reload
    /// reads it. None for a ring from the environment (it cannot be reloaded).
    key_file: Option<Arc<std::path::PathBuf>>,
    ledger: Ledger,
    /// Argon2id on the blocking pool, and the dummy hash an unknown email is verified against.
    passwords: PasswordHasher,
    /// Mass-read limits and canaries (shared by clones).
    reads: Arc<reads::ReadGuard>,
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
            keys: Arc::new(ArcSwap::new(keys)),
            key_file: None,
            ledger,
            reads: Arc::new(reads::ReadGuard::new(ReadBudgets::default())),
        }
    }

    /// What the store answers without a personal value (catalogue, stock, order headers,
    /// payments, sessions and queued mail as sealed blobs, staff, settings, the ledger's entries):
    /// the surface web handlers and jobs get. Customers, addresses and whole orders are not on it.
    pub fn records(&self) -> Arc<dyn Records> {
        self.store.clone()
    }

    /// A sealer for one kind of value that no customer key covers (session records, staff TOTP
    /// secrets). It cannot open anything of a customer's.
    pub fn system_sealer(&self, purpose: SystemPurpose) -> SystemSealer {
        SystemSealer::shared(self.keys.clone(), purpose)
    }

    /// Argon2id with the key file's pepper (members' and staff's passwords), on the blocking pool.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.passwords
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
        self.record_checked(acc, action, customers, f).await
    }

    async fn data_key(&self, customer_id: &str) -> Result<DataKey> {
        let Some(row) = self.store.customer_key(customer_id).await? else {
            return Err(StoreError::Erased(customer_id.to_owned()));
        };
        let wrapped = WrappedKey::from_bytes(&row.wrapped)?;
        match self
            .keys
            .load()
            .unwrap_data_key(&owner(customer_id), &wrapped)
        {
            // Another process rotated the key file and re-wrapped this key before our refresher
            // saw it: read the file now rather than fail the request.
            Err(VaultError::UnknownMasterKey(_)) if self.key_file.is_some() => {
                self.reload_keys().await?;
                Ok(self
                    .keys
                    .load()
                    .unwrap_data_key(&owner(customer_id), &wrapped)?)
            }
            other => Ok(other?),
        }
    }

    /// Opens a value sealed under a system key of `purpose` at `table.column/row_id`, under the
    /// active master key or any older one of the ring (values sealed before a rotation).
    fn open_system(
        &self,
        purpose: &str,
        table: &'static str,
        column: &'static str,
        row_id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let keys = self.keys.load_full();
        let active = keys.active_master_key_id().to_owned();
        let mut last = StoreError::Vault(VaultError::UnknownMasterKey(active.clone()));
        let others = keys.master_key_ids().into_iter().filter(|id| *id != active);
        for id in std::iter::once(active.clone()).chain(others) {
            let key = keys.system_data_key_under(purpose, &id)?;
            match codec::open_bytes(&key, table, column, row_id, sealed) {
                Ok(plain) => return Ok(plain),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    // ---- The key ring while serving ----

    /// Remembers the key file the ring was loaded from, so that [`Self::rotate_master_key`] can
    /// write it and [`Self::reload_keys`] read it again.
    pub fn with_key_file(mut self, path: std::path::PathBuf) -> Self {
        self.key_file = Some(Arc::new(path));
        self
    }

    /// The id of the active master key (not secret: it is stored beside every wrapped key).
    pub fn active_master_key_id(&self) -> String {
        self.keys.load().active_master_key_id().to_owned()
    }

    /// Reads the key file again and, when its active master key differs from the ring's,
    /// swaps the new ring in (every clone of this gateway and its system sealers see it at
    /// once). Returns whether the ring changed. [`StoreError::Conflict`] when the ring did not
    /// come from a file.
    pub async fn reload_keys(&self) -> Result<bool> {
        let Some(path) = self.key_file.clone() else {
            return Err(StoreError::Conflict {
                what: "the key ring did not come from a key file; restart to load a new one",
            });
        };
        let ring = tokio::task::spawn_blocking(move || KeyRing::load(&path))
            .await
            .map_err(|_| StoreError::Internal {
                what: "the key file task failed",
            })??;
        if ring.active_master_key_id() == self.keys.load().active_master_key_id()
            && ring.master_key_ids() == self.keys.load().master_key_ids()
        {
            return Ok(false);
        }
        tracing::info!(
            master_key = ring.active_master_key_id(),
            "key file reloaded: new active master key"
        );
        self.keys.store(Arc::new(ring));
        Ok(true)
    }

    /// Rotates the master key while serving, as `mamori keys rotate` does: a new master key is
    /// added to the key file and made active, this gateway's ring is swapped for it, and every
    /// data key is re-wrapped under it (recorded like the command's). Returns the new master
    /// key's id and how many data keys moved. Other processes learn of it from the store (the
    /// `key_ring` switch their refreshers read), and any of them meeting a key wrapped by a
    /// master key it does not know reads the key file at once.
    pub async fn rotate_master_key(&self, acc: &Accessor) -> Result<(String, usize)> {
        let Some(path) = self.key_file.clone() else {
            return Err(StoreError::Conflict {
                what: "the key ring did not come from a key file; rotate with `mamori keys rotate`",
            });
        };
        let ring = tokio::task::spawn_blocking(move || KeyRing::rotate(&path))
            .await
            .map_err(|_| StoreError::Internal {
                what: "the key file task failed",
            })??;
        let id = ring.active_master_key_id().to_owned();
        self.keys.store(Arc::new(ring));
        let moved = self.rotate_data_keys(acc, 1000).await?;
        Ok((id, moved))
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
