//! Notices to individuals of an incident (本人通知): each person's name and address read in
//! batches, the notice rendered by the caller and sealed into the outbox with its idempotency row.

use super::*;
use crate::store::NoticeRow;

/// The fields a notice run opens: whom to write to.
pub const NOTICE_READ_FIELDS: &[&str] = &[fields::NAME, fields::EMAIL];

/// One person of a notice batch, as the caller plans it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeTarget {
    /// The incident.
    pub incident_id: i64,
    /// The person.
    pub customer_id: String,
    /// The notice's id (the outbox row's id, UUIDv7).
    pub notice_id: String,
    /// 0-based position in the run.
    pub position: i64,
    /// When the mail worker may send it (Unix seconds): the run's rate.
    pub not_before: i64,
}

/// A person's name and address, opened for the renderer.
#[derive(Debug)]
pub struct NoticeContact<'a> {
    /// The target it belongs to.
    pub target: &'a NoticeTarget,
    /// The name (`山田 太郎`), when stored.
    pub name: Option<Personal<String>>,
    /// The email address.
    pub email: Personal<Email>,
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoticeBatchReport {
    /// Notices written now.
    pub queued: u64,
    /// Already queued (a resumed run): skipped, with nothing read.
    pub already: u64,
    /// No address to write to (erased, no email stored, or the renderer gave none).
    pub unreachable: u64,
    /// Canary customers (not people): left out, never read.
    pub canaries: u64,
}

impl Gateway {
    /// Queues the notices of one batch. Canaries are left out unread. The people not yet
    /// queued for the incident are read in ONE [`Action::Read`] event naming them
    /// ([`NOTICE_READ_FIELDS`], the accessor's purpose, normally `incident.notice`) before
    /// anything is opened; `render` makes each person's mail from their name and address (None:
    /// nothing to send); the mails are sealed with each person's data key, recorded as ONE
    /// [`Action::Write`] event of [`fields::MAIL`], and written with their notice rows in one
    /// transaction, where the key (incident, customer) makes a second notice to a person a no-op.
    pub async fn queue_notices<F>(
        &self,
        acc: &Accessor,
        batch: &[NoticeTarget],
        mut render: F,
    ) -> Result<NoticeBatchReport>
    where
        F: FnMut(&NoticeContact<'_>) -> Option<MailDraft>,
    {
        let mut report = NoticeBatchReport::default();
        let canaries = self.canary_ids().await?;
        let mut wanted = Vec::with_capacity(batch.len());
        for t in batch {
            if canaries.contains(&t.customer_id) {
                report.canaries += 1;
            } else {
                wanted.push(t);
            }
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        // Sealed rows and wrapped keys are fetched first, for the whole batch at once; nothing is
        // opened before the event.
        let ids: Vec<String> = wanted.iter().map(|t| t.customer_id.clone()).collect();
        let mut found: std::collections::HashMap<String, (CustomerRow, Option<CustomerKeyRow>)> =
            self.store
                .customers_with_keys(&ids)
                .await?
                .into_iter()
                .map(|(row, key)| (row.id.clone(), (row, key)))
                .collect();
        let mut rows = Vec::with_capacity(wanted.len());
        for t in wanted {
            match found.remove(&t.customer_id) {
                Some((row, Some(key))) if row.erased_at.is_none() && row.email_ct.is_some() => {
                    rows.push((t, row, key));
                }
                _ => report.unreachable += 1,
            }
        }
        if rows.is_empty() {
            return Ok(report);
        }
        let ids: Vec<String> = rows.iter().map(|(t, _, _)| t.customer_id.clone()).collect();
        self.record(acc, Action::Read, ids.clone(), NOTICE_READ_FIELDS)
            .await?;
        let ring = self.keys.load_full();
        let at = now();
        let mut out = Vec::with_capacity(rows.len());
        for (t, row, key_row) in &rows {
            let wrapped = WrappedKey::from_bytes(&key_row.wrapped)?;
            let key = match ring.unwrap_data_key(&owner(&t.customer_id), &wrapped) {
                Ok(k) => k,
                // Re-wrapped by another process's rotation: the slow path reloads the key file.
                Err(VaultError::UnknownMasterKey(_)) => self.data_key(&t.customer_id).await?,
                Err(e) => return Err(e.into()),
            };
            let Some(email) =
                codec::open_email(&key, "customers", "email", &row.id, &row.email_ct)?
            else {
                report.unreachable += 1;
                continue;
            };
            let name = codec::open_name(&key, "customers", "name", &row.id, &row.name_ct)?
                .map(|n| Personal::new(n.full_name()));
            let contact = NoticeContact {
                target: t,
                name,
                email: Personal::new(email),
            };
            let Some(draft) = render(&contact) else {
                report.unreachable += 1;
                continue;
            };
            let payload_ct = codec::seal(
                &key,
                MAIL_TABLE,
                PAYLOAD_COLUMN,
                &t.notice_id,
                &draft.payload,
            )?;
            out.push((
                NoticeRow {
                    incident_id: t.incident_id,
                    customer_id: t.customer_id.clone(),
                    id: t.notice_id.clone(),
                    position: t.position,
                    queued_at: at,
                    bounce: None,
                    bounce_status: None,
                    bounced_at: None,
                },
                OutboxRow {
                    id: t.notice_id.clone(),
                    customer_id: Some(t.customer_id.clone()),
                    kind: draft.kind.clone(),
                    payload_ct,
                    created_at: at,
                    next_attempt_at: t.not_before,
                },
            ));
        }
        if out.is_empty() {
            return Ok(report);
        }
        let written: Vec<String> = out.iter().map(|(n, _)| n.customer_id.clone()).collect();
        self.record(acc, Action::Write, written, &[fields::MAIL])
            .await?;
        let n = self.store.notices_enqueue(&out).await?;
        report.queued += n;
        report.already += out.len() as u64 - n;
        Ok(report)
    }
}

/// The keyed-hash purpose of notices' bounce tags.
const NOTICE_BOUNCE_TAG: &str = "incident_notices.verp";

impl Gateway {
    /// The tag of a notice's VERP address: an HMAC-SHA256 of its id under the key file's
    /// blind-index key (its own purpose), so that no one without the key file can make the
    /// bounce address of another notice. Names no one; records nothing.
    pub fn notice_bounce_tag(&self, notice_id: &str) -> [u8; 32] {
        self.keys.load().blind_index(NOTICE_BOUNCE_TAG, notice_id)
    }
}

/// The fields a batch of letters opens: the name and the buyer address of the person's latest
/// order (the customer's own address; the address book holds delivery destinations).
pub const LETTER_READ_FIELDS: &[&str] = &[fields::NAME, "orders.buyer_address"];

/// A person's name and postal address for a letter, opened after the batch's read event.
#[derive(Clone, Debug)]
pub struct LetterAddress {
    /// The notice the letter replaces.
    pub notice_id: String,
    /// The person.
    pub customer_id: String,
    /// The name (`山田 太郎`), when stored.
    pub name: Option<Personal<String>>,
    /// The postal code (`100-0001`).
    pub postal_code: Personal<String>,
    /// The prefecture and city (`東京都千代田区`).
    pub locality: Personal<String>,
    /// The rest of the address (street and number, then the building line if any).
    pub lines: Vec<Personal<String>>,
}

/// What one batch of letters read.
#[derive(Clone, Debug, Default)]
pub struct LetterBatchRead {
    /// The people with an address, in the order given.
    pub letters: Vec<LetterAddress>,
    /// The notices whose person has no postal address (erased, or with neither an order nor an
    /// address-book entry in their own name): no letter.
    pub no_address: Vec<String>,
    /// Canary customers: left out, never read.
    pub canaries: u64,
}

/// Where a letter's address comes from.
enum LetterSource {
    /// The buyer address of the person's latest order (their own, as they gave it).
    Order(Box<OrderRow>),
    /// A member who never ordered: their address book, where an entry in their own name is
    /// taken as their address (the other entries are destinations, often other people's).
    Book(Vec<AddressRow>),
}

/// The fields a batch of letters opens for members without an order: the name and the address
/// book's names and addresses (to find the entry in the member's own name).
pub const LETTER_BOOK_READ_FIELDS: &[&str] = &[fields::NAME, "addresses.name", "addresses.address"];

impl Gateway {
    /// The names and postal addresses of one print batch of letters (notices that bounced), for
    /// the print shop. Needs the reason the accessor gives (the incident and batch). Canaries
    /// are left out unread. A person's address is the buyer address of their latest order; a
    /// member who never ordered gets a letter at the address-book entry in their own name, if
    /// they keep one (never at another person's: a notice is for its person alone). A person
    /// erased, or with neither, gets no letter and is not named. The people with an order are
    /// read in ONE [`Action::Read`] event naming them ([`LETTER_READ_FIELDS`]), the members
    /// read from their address book in one more ([`LETTER_BOOK_READ_FIELDS`]), before anything
    /// is opened, like the other exports: what leaves is plaintext, for printing.
    pub async fn letter_addresses(
        &self,
        acc: &Accessor,
        notices: &[NoticeRow],
    ) -> Result<LetterBatchRead> {
        let reason = acc.reason.as_deref().map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            return Err(StoreError::BadInput {
                field: "reason",
                reason: "a reason is required to print letters",
            });
        }
        let mut out = LetterBatchRead::default();
        let canaries = self.canary_ids().await?;
        // Sealed rows first; nothing is opened before the events.
        let mut rows = Vec::with_capacity(notices.len());
        for n in notices {
            if canaries.contains(&n.customer_id) {
                out.canaries += 1;
                continue;
            }
            let row = self.store.customer(&n.customer_id).await?;
            let Some(row) = row.filter(|r| r.erased_at.is_none()) else {
                out.no_address.push(n.id.clone());
                continue;
            };
            let latest = match self.store.orders_of(&n.customer_id).await?.first() {
                Some(o) => self.store.order_row(&o.id).await?,
                None => None,
            };
            if let Some(order) = latest.filter(|o| o.buyer_address_ct.is_some()) {
                rows.push((n, row, LetterSource::Order(Box::new(order))));
                continue;
            }
            let book = self.store.addresses(&n.customer_id).await?;
            if book.is_empty() {
                out.no_address.push(n.id.clone());
            } else {
                rows.push((n, row, LetterSource::Book(book)));
            }
        }
        let by_order: Vec<String> = rows
            .iter()
            .filter(|(_, _, s)| matches!(s, LetterSource::Order(_)))
            .map(|(n, _, _)| n.customer_id.clone())
            .collect();
        let by_book: Vec<String> = rows
            .iter()
            .filter(|(_, _, s)| matches!(s, LetterSource::Book(_)))
            .map(|(n, _, _)| n.customer_id.clone())
            .collect();
        if !by_order.is_empty() {
            self.record(acc, Action::Read, by_order, LETTER_READ_FIELDS)
                .await?;
        }
        if !by_book.is_empty() {
            self.record(acc, Action::Read, by_book, LETTER_BOOK_READ_FIELDS)
                .await?;
        }
        for (n, row, source) in &rows {
            let key = self.data_key(&n.customer_id).await?;
            let person = codec::open_name(&key, "customers", "name", &row.id, &row.name_ct)?;
            let addr = match source {
                LetterSource::Order(order) => codec::open_address(
                    &key,
                    "orders",
                    "buyer_address",
                    &order.id,
                    &order.buyer_address_ct,
                )?,
                LetterSource::Book(book) => {
                    let mut own = None;
                    if let Some(person) = &person {
                        for entry in book {
                            let name = codec::open_name(
                                &key,
                                "addresses",
                                "name",
                                &entry.id,
                                &entry.name_ct,
                            )?;
                            if name.is_some_and(|e| e.full_name() == person.full_name()) {
                                own = codec::open_address(
                                    &key,
                                    "addresses",
                                    "address",
                                    &entry.id,
                                    &entry.address_ct,
                                )?;
                                break;
                            }
                        }
                    }
                    own
                }
            };
            let Some(addr) = addr else {
                out.no_address.push(n.id.clone());
                continue;
            };
            let mut lines = vec![Personal::new(addr.line1().to_owned())];
            if let Some(l2) = addr.line2() {
                lines.push(Personal::new(l2.to_owned()));
            }
            out.letters.push(LetterAddress {
                notice_id: n.id.clone(),
                customer_id: n.customer_id.clone(),
                name: person.map(|p| Personal::new(p.full_name())),
                postal_code: Personal::new(addr.postal_code().to_string()),
                locality: Personal::new(format!("{}{}", addr.prefecture().label_ja(), addr.city())),
                lines,
            });
        }
        Ok(out)
    }
}
