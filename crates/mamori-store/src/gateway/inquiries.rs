//! The incident inquiry desk: what a person sends from the storefront's form under a published
//! public notice (`/oshirase/{incident}/inquiry`), kept sealed until a member of staff opens it
//! in the back office.
//!
//! **Why a system key, not a customer's data key.** The sender is often nobody the shop knows by
//! id (a guest buyer, a delivery recipient, someone who merely read the notice), and what they
//! type as their email need not be the one on file, so there is no customer key to seal under
//! for most inquiries. One system key purpose ([`INQUIRY_KEY`], derived from the key file's
//! master key as the canary mail's is) seals every inquiry alike, bound to its table, column
//! and row id. It also keeps an inquiry (a record of what a person asked about an incident and
//! when) when a member who sent one later withdraws: erasing their data key does not erase it.
//!
//! The sender's email is also kept as the back office's customer-search blind index
//! (`email:<normalised>`), so the desk's list can tell whether the sender matches a person in the
//! incident's latest scope without opening a value. Sending is a ledger `Write` (the member's
//! id when signed in), each opening a ledger `Read` by the member of staff.

use std::collections::BTreeSet;

use mamori_domain::PhoneNumber;

use super::*;
use crate::store::{inquiry_status, scope_customers, InquiryRow};

/// The inquiry system key's purpose.
pub const INQUIRY_KEY: &str = "incident.inquiry";
/// Table the values are sealed at.
const INQUIRY_TABLE: &str = "incident_inquiries";
/// Column the values are sealed at.
const INQUIRY_COLUMN: &str = "sealed";
/// Field names of an inquiry as the ledger records them.
pub const INQUIRY_FIELDS: &[&str] = &[
    "incident_inquiries.name",
    "incident_inquiries.email",
    "incident_inquiries.phone",
    "incident_inquiries.message",
];
/// Letters of a reception number: no 0/O, 1/I/L to misread on the phone.
const RECEPTION_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// How many inquiries of an incident the back office lists at most.
pub const INQUIRY_LIST_MAX: i64 = 1000;

/// What a person sends from the inquiry form. `Debug` shows nothing of it.
pub struct InquiryDraft {
    /// お名前 as typed.
    pub name: Personal<String>,
    /// メールアドレス.
    pub email: Personal<Email>,
    /// 電話番号, if given.
    pub phone: Option<Personal<PhoneNumber>>,
    /// お問い合わせ内容.
    pub message: Personal<String>,
}

impl std::fmt::Debug for InquiryDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InquiryDraft").finish_non_exhaustive()
    }
}

/// A stored inquiry: its id and the reception number shown to the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InquiryReceipt {
    /// Row id.
    pub id: String,
    /// 受付番号 (`XXXXX-XXXXX`).
    pub reception: String,
}

/// An inquiry as the back office lists it: no value, and whether the sender matches the scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InquiryHead {
    /// Row id.
    pub id: String,
    /// The incident.
    pub incident_id: i64,
    /// 受付番号.
    pub reception: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// `open` or `answered`.
    pub status: String,
    /// Sent by a signed-in member.
    pub member: bool,
    /// The sender (the signed-in member, or a customer found by the email's blind index) is a
    /// person in the incident's latest scope.
    pub in_scope: bool,
}

/// An inquiry opened by a member of staff.
#[derive(Clone)]
pub struct InquiryOpened {
    /// What the list shows of it.
    pub head: InquiryHead,
    /// The member who sent it, if signed in.
    pub customer_id: Option<String>,
    /// When it was answered, and by whom.
    pub answered: Option<(i64, String)>,
    /// お名前.
    pub name: Personal<String>,
    /// メールアドレス (as typed).
    pub email: Personal<String>,
    /// 電話番号 (as typed, normalised), if given.
    pub phone: Option<Personal<String>>,
    /// お問い合わせ内容.
    pub message: Personal<String>,
}

impl std::fmt::Debug for InquiryOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InquiryOpened")
            .field("id", &self.head.id)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    name: String,
    email: String,
    phone: Option<String>,
    message: String,
}

fn reception_number() -> String {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let n = RECEPTION_ALPHABET.len();
    let chars: String = bytes
        .iter()
        .map(|b| char::from(RECEPTION_ALPHABET[usize::from(*b) % n]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

impl Gateway {
    /// The customer-search blind index of `email` (as the back office's customer search keys
    /// it), the one an inquiry keeps.
    fn inquiry_email_index(&self, email: &Email) -> Vec<u8> {
        self.keys
            .load()
            .blind_index(
                SEARCH_INDEX,
                &mamori_domain::search::email_search_key(email),
            )
            .to_vec()
    }

    /// Stores an inquiry sent under incident `incident_id`'s public notice. Recorded first as a
    /// `Write` by `acc` (naming the member when `acc` is a signed-in customer), then sealed under
    /// the inquiry system key and stored with a fresh reception number.
    pub async fn submit_inquiry(
        &self,
        acc: &Accessor,
        incident_id: i64,
        draft: &InquiryDraft,
        received_at: i64,
    ) -> Result<InquiryReceipt> {
        let customer_id = match &acc.principal {
            crate::access::Principal::Customer(id) => Some(id.clone()),
            _ => None,
        };
        self.ledger
            .record(&AccessEvent::new(
                acc,
                Action::Write,
                customer_id.iter().cloned().collect(),
                INQUIRY_FIELDS,
            ))
            .await?;
        let id = new_id();
        let plain = Zeroizing::new(
            serde_json::to_vec(&Sealed {
                name: draft.name.expose().clone(),
                email: draft.email.expose().as_str().to_owned(),
                phone: draft.phone.as_ref().map(|p| p.expose().digits().to_owned()),
                message: draft.message.expose().clone(),
            })
            .map_err(|_| StoreError::Internal {
                what: "inquiry could not be encoded",
            })?,
        );
        let key = self.keys.load().system_data_key(INQUIRY_KEY)?;
        let sealed = codec::seal(&key, INQUIRY_TABLE, INQUIRY_COLUMN, &id, &plain)?;
        let email_bidx = self.inquiry_email_index(draft.email.expose());
        // A reception number taken already (one chance in 31^10 per inquiry) draws another.
        let mut tries = 0;
        loop {
            let reception = reception_number();
            let row = InquiryRow {
                id: id.clone(),
                incident_id,
                reception: reception.clone(),
                received_at,
                status: inquiry_status::OPEN.to_owned(),
                customer_id: customer_id.clone(),
                email_bidx: email_bidx.clone(),
                sealed: sealed.clone(),
                answered_at: None,
                answered_by: None,
            };
            match self.store.inquiry_insert(&row).await {
                Ok(()) => return Ok(InquiryReceipt { id, reception }),
                Err(StoreError::Duplicate { .. }) if tries < 3 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The customers of incident `incident_id`'s latest scope snapshot (empty without one).
    async fn latest_scope_customers(&self, incident_id: i64) -> Result<BTreeSet<String>> {
        Ok(self
            .store
            .incident_scopes(incident_id)
            .await?
            .pop()
            .map(|s| scope_customers(&s.content))
            .unwrap_or_default())
    }

    /// Whether `row`'s sender is in `scope`: the signed-in member, or a customer whose email
    /// blind index is the one the inquiry keeps.
    async fn inquiry_in_scope(&self, row: &InquiryRow, scope: &BTreeSet<String>) -> Result<bool> {
        if scope.is_empty() {
            return Ok(false);
        }
        if row.customer_id.as_ref().is_some_and(|c| scope.contains(c)) {
            return Ok(true);
        }
        let found = self
            .store
            .customers_by_search_bidx(std::slice::from_ref(&row.email_bidx), 100)
            .await?;
        Ok(found.iter().any(|c| scope.contains(c)))
    }

    fn inquiry_head(row: &InquiryRow, in_scope: bool) -> InquiryHead {
        InquiryHead {
            id: row.id.clone(),
            incident_id: row.incident_id,
            reception: row.reception.clone(),
            received_at: row.received_at,
            status: row.status.clone(),
            member: row.customer_id.is_some(),
            in_scope,
        }
    }

    /// Incident `incident_id`'s inquiries, newest first (at most [`INQUIRY_LIST_MAX`]), each
    /// with whether its sender matches a person of the latest scope, found by blind index: no
    /// value is opened and none is handed out, so nothing is recorded.
    pub async fn inquiry_heads(&self, incident_id: i64) -> Result<Vec<InquiryHead>> {
        let scope = self.latest_scope_customers(incident_id).await?;
        let rows = self
            .store
            .inquiries_of(incident_id, INQUIRY_LIST_MAX)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let in_scope = self.inquiry_in_scope(row, &scope).await?;
            out.push(Self::inquiry_head(row, in_scope));
        }
        Ok(out)
    }

    /// Opens inquiry `id` of incident `incident_id` for `acc` (a member of staff): recorded as a
    /// `Read` of the inquiry's fields (naming the member who sent it, if any) before anything
    /// is decrypted. [`StoreError::NotFound`] for an inquiry of another incident.
    pub async fn inquiry_open(
        &self,
        acc: &Accessor,
        incident_id: i64,
        id: &str,
    ) -> Result<InquiryOpened> {
        let row = self
            .store
            .inquiry(id)
            .await?
            .filter(|r| r.incident_id == incident_id)
            .ok_or(StoreError::NotFound { what: "inquiry" })?;
        self.ledger
            .record(&AccessEvent::new(
                acc,
                Action::Read,
                row.customer_id.iter().cloned().collect(),
                INQUIRY_FIELDS,
            ))
            .await?;
        let plain = self.open_system(
            INQUIRY_KEY,
            INQUIRY_TABLE,
            INQUIRY_COLUMN,
            &row.id,
            &row.sealed,
        )?;
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| StoreError::Malformed {
            table: INQUIRY_TABLE,
            column: INQUIRY_COLUMN,
        })?;
        let scope = self.latest_scope_customers(incident_id).await?;
        let in_scope = self.inquiry_in_scope(&row, &scope).await?;
        Ok(InquiryOpened {
            head: Self::inquiry_head(&row, in_scope),
            customer_id: row.customer_id.clone(),
            answered: row.answered_at.zip(row.answered_by.clone()),
            name: Personal::new(sealed.name),
            email: Personal::new(sealed.email),
            phone: sealed.phone.map(Personal::new),
            message: Personal::new(sealed.message),
        })
    }

    /// Per incident with inquiries: (incident id, how many, how many open), newest incident
    /// first. Counts only: nothing is opened or recorded.
    pub async fn inquiry_counts(&self) -> Result<Vec<(i64, i64, i64)>> {
        self.store.inquiry_counts().await
    }

    /// Marks inquiry `id` of incident `incident_id` answered by `by` (`staff:<id>`) at `at`;
    /// false when it was not open. Nothing personal is read or written.
    pub async fn inquiry_mark_answered(
        &self,
        incident_id: i64,
        id: &str,
        at: i64,
        by: &str,
    ) -> Result<bool> {
        match self.store.inquiry(id).await? {
            Some(r) if r.incident_id == incident_id => {
                self.store.inquiry_mark_answered(id, at, by).await
            }
            _ => Err(StoreError::NotFound { what: "inquiry" }),
        }
    }
}
