//! The scope of an incident, computed: who was affected and which data items, from the ledger
//! and the orders, never estimated.
//!
//! Every scope states the ledger tree head it was computed against: the entries `0..size` are
//! read, each is checked against its stored leaf hash, and the RFC 9162 root of exactly those
//! entries is recomputed, so the result can be reproduced and proven later (a checkpoint of that
//! size signs the same root). The result is saved with the SHA-256 of its canonical JSON.
//!
//! Kinds computed so far:
//! - a staff account misused in a window: the customers that principal's events name (reads in
//!   full and masked reads) in the window, each with the fields opened;
//! - the payment page or the card page's script altered in a window: the people who reached the
//!   card page then (every payment attempt in the window), split as notice 003 splits them:
//!   members, guest buyers, delivery recipients who were not the buyer (compared inside the
//!   gateway, a recorded masked read), and the 名入れ entered on the orders;
//! - the database copied at a time ([`db_copied`]): who had which fields stored then, with the
//!   APPI point (keys leaked or not) that decides whether a report is owed;
//! - card data found on a server ([`card_scan`]): a `mamori scan` report's findings by brand and
//!   by file, masked numbers only.

pub mod card_scan;
pub mod db_copied;

pub use card_scan::{CardFile, CardScanScope};
pub use db_copied::{AppiAssessment, AppiOutcome, KeyLeak, UnsealedItem};

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use mamori_ledger::{leaf_hash, Frontier};
use mamori_store::access::AccessEvent;
use mamori_store::{Accessor, Action, Principal, Records, ScopeRow};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::desk::Desk;
use crate::kind::{EntryKind, IncidentKind};
use crate::{RespondError, Result};

/// Ledger entries read per query while scanning.
const SCAN_PAGE: u64 = 10_000;

/// The data items a card page takes (typed on the altered page, so assumed taken).
pub const CARD_ITEMS: &[&str] = &["card.number", "card.expiry", "card.security_code"];
/// The buyer's items an order holds (filled on the checkout pages before the card page).
pub const BUYER_ITEMS: &[&str] = &[
    "orders.buyer_name",
    "orders.buyer_email",
    "orders.buyer_phone",
    "orders.buyer_address",
];
/// A delivery's items.
pub const RECIPIENT_ITEMS: &[&str] = &["shipments.name", "shipments.address", "shipments.phone"];
/// 名入れ.
pub const PERSONALISATION_ITEM: &str = "order_items.personalisation";

/// Category codes of a scope.
pub mod category {
    /// Customers whose data a principal opened (staff misuse).
    pub const CUSTOMERS: &str = "customers";
    /// Members who reached the card page.
    pub const MEMBERS: &str = "members";
    /// Guest buyers who reached the card page.
    pub const GUESTS: &str = "guests";
    /// Delivery recipients who were not the buyer.
    pub const RECIPIENTS: &str = "recipients_not_buyer";
    /// People whose 名入れ was entered (one per personalised line).
    pub const PERSONALISATION: &str = "personalisation_subjects";
}

/// The ledger tree head a scope was computed against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TreeHead {
    /// Entries `0..size`.
    pub size: u64,
    /// Their RFC 9162 root (hex).
    pub root: String,
}

/// One affected person (or group, for 名入れ lines), named by ids only.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Subject {
    /// The customer (the buyer, for recipients and 名入れ).
    pub customer_id: String,
    /// The order, where the person is on one.
    pub order_id: Option<String>,
    /// The delivery (shipment number), for a recipient.
    pub shipment_no: Option<i64>,
    /// How many people it stands for (名入れ lines of an order; 1 otherwise).
    pub people: u64,
    /// The data items concerned.
    pub fields: Vec<String>,
}

/// A computed scope: canonical (maps and lists sorted), so equal scopes have equal bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// Format version.
    pub v: u8,
    /// The incident.
    pub incident: i64,
    /// Its kind.
    pub kind: IncidentKind,
    /// Window start (Unix seconds, inclusive).
    pub window_from: i64,
    /// Window end (Unix seconds, exclusive).
    pub window_to: i64,
    /// The principal, for staff misuse.
    pub principal: Option<String>,
    /// The ledger tree head.
    pub tree: TreeHead,
    /// People per category.
    pub categories: BTreeMap<String, u64>,
    /// People per data item.
    pub data_items: BTreeMap<String, u64>,
    /// Payment attempts in the window (card-page kinds).
    pub payment_attempts: u64,
    /// Who, per category.
    pub subjects: BTreeMap<String, Vec<Subject>>,
    /// The time the data was taken as stored (Unix seconds; "database copied").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_at: Option<i64>,
    /// Who was left out and why (e.g. canary customers: not people), in Japanese.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Whether a report is owed under 施行規則7条 括弧書き ("database copied").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appi: Option<AppiAssessment>,
    /// The card numbers a scan found, by brand and file ("card data found").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_scan: Option<CardScanScope>,
}

impl Scope {
    /// The canonical JSON bytes (what the hash is over).
    pub fn canonical_json(&self) -> String {
        // A struct of strings, integers, sorted maps and lists: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// SHA-256 of [`Scope::canonical_json`] (hex).
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// Every customer id the scope names, sorted, once each.
    pub fn customer_ids(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .subjects
            .values()
            .flatten()
            .map(|s| &s.customer_id)
            .collect();
        set.into_iter().cloned().collect()
    }
}

/// A scope as saved.
#[derive(Clone, Debug)]
pub struct ScopeSnapshot {
    /// The stored row (id, tree head, content, hash).
    pub row: ScopeRow,
    /// The scope.
    pub scope: Scope,
}

/// Reads ledger entries `0..size`, checks each against its stored leaf hash, hands each event
/// to `visit`, and returns the root of exactly those entries.
pub async fn scan_ledger(
    records: &dyn Records,
    size: u64,
    mut visit: impl FnMut(u64, &AccessEvent),
) -> Result<TreeHead> {
    let mut frontier = Frontier::new();
    let mut from = 0u64;
    while from < size {
        let limit = SCAN_PAGE.min(size - from);
        let rows = records.ledger_entries(from, limit).await?;
        if rows.is_empty() {
            return Err(RespondError::LedgerBroken(from));
        }
        for row in rows {
            let seq = u64::try_from(row.seq).map_err(|_| RespondError::LedgerBroken(from))?;
            if seq != from {
                return Err(RespondError::LedgerBroken(from));
            }
            let leaf = leaf_hash(&row.event);
            if row.leaf_hash.as_slice() != leaf.as_slice() {
                return Err(RespondError::LedgerBroken(seq));
            }
            frontier.push(leaf);
            // An entry that is not an access event of this format names nobody: skipped, but
            // still in the root.
            if let Ok(ev) = AccessEvent::from_bytes(&row.event) {
                visit(seq, &ev);
            }
            from += 1;
            if from == size {
                break;
            }
        }
    }
    Ok(TreeHead {
        size,
        root: hex::encode(frontier.root()),
    })
}

/// The customers and fields `principal` opened (read in full or masked) in `[from, to)`,
/// against the tree head of `size` entries.
pub async fn staff_misuse(
    records: &dyn Records,
    size: u64,
    principal: &Principal,
    from: i64,
    to: i64,
) -> Result<(TreeHead, BTreeMap<String, BTreeSet<String>>)> {
    let (from_us, to_us) = (from.saturating_mul(1_000_000), to.saturating_mul(1_000_000));
    let mut opened: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let head = scan_ledger(records, size, |_, ev| {
        if &ev.principal == principal
            && matches!(ev.action, Action::Read | Action::ReadMasked)
            && ev.at_us >= from_us
            && ev.at_us < to_us
        {
            for c in &ev.customers {
                let fields = opened.entry(c.clone()).or_default();
                fields.extend(ev.fields.iter().cloned());
            }
        }
    })
    .await?;
    Ok((head, opened))
}

pub(crate) fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// One subject per delivery whose recipient is not the buyer, sorted, each with the recipient's
/// items.
pub(crate) fn recipient_subjects(
    others: Vec<mamori_store::gateway::OtherRecipients>,
) -> Vec<Subject> {
    let mut fields = owned(RECIPIENT_ITEMS);
    fields.sort();
    let mut recipients: Vec<Subject> = others
        .into_iter()
        .flat_map(|o| {
            let fields = fields.clone();
            o.shipment_nos.into_iter().map(move |no| Subject {
                customer_id: o.customer_id.clone(),
                order_id: Some(o.order_id.clone()),
                shipment_no: Some(no),
                people: 1,
                fields: fields.clone(),
            })
        })
        .collect();
    recipients.sort();
    recipients
}

impl Desk {
    /// Computes the scope of an incident and saves it as a snapshot (with its tree head and
    /// hash), noted on the timeline.
    pub async fn compute_scope(&self, incident_id: i64, by: &Principal) -> Result<ScopeSnapshot> {
        self.compute_scope_with(incident_id, by, None).await
    }

    /// [`Desk::compute_scope`], with a card scan's findings for a "card data found" incident
    /// (without one, the findings of the incident's latest snapshot are used again).
    pub async fn compute_scope_with(
        &self,
        incident_id: i64,
        by: &Principal,
        scan: Option<CardScanScope>,
    ) -> Result<ScopeSnapshot> {
        let gw = self.gateway();
        let records = gw.records();
        let row = records
            .incident_by_id(incident_id)
            .await?
            .ok_or(RespondError::NotFound(incident_id))?;
        let kind = IncidentKind::parse(&row.kind).unwrap_or(IncidentKind::Other);
        let (from, to) = match (kind, row.window_from, row.window_to) {
            // A copy is taken at a time: the window's end, or the 発覚 when no window is known.
            (IncidentKind::DatabaseCopied, f, t) => {
                let t = t.unwrap_or(row.known_at);
                (f.unwrap_or(t), t)
            }
            // Found on a server: what the scan found, whenever it was written.
            (IncidentKind::CardDataFound, f, t) => {
                (f.unwrap_or(row.known_at), t.unwrap_or(row.known_at))
            }
            (_, Some(f), Some(t)) => (f, t),
            _ => {
                return Err(RespondError::Invalid(
                    "the incident needs a suspected window (from and to) for its scope",
                ))
            }
        };
        // The head is fixed first: events appended while computing (including the masked read
        // below and the timeline entry) are after it.
        let size = records.ledger_size().await?;
        let mut scope = Scope {
            v: 1,
            incident: incident_id,
            kind,
            window_from: from,
            window_to: to,
            principal: None,
            tree: TreeHead {
                size,
                root: String::new(),
            },
            categories: BTreeMap::new(),
            data_items: BTreeMap::new(),
            payment_attempts: 0,
            subjects: BTreeMap::new(),
            stored_at: None,
            notes: Vec::new(),
            appi: None,
            card_scan: None,
        };
        let acc = Accessor {
            principal: by.clone(),
            purpose: "incident.scope".to_owned(),
            request_id: format!("incident:{incident_id}"),
            channel: None,
            reason: None,
        };
        match kind {
            IncidentKind::StaffMisuse => {
                let Some(staff) = row.principal.clone() else {
                    return Err(RespondError::Invalid(
                        "a staff-misuse incident needs the staff account (principal)",
                    ));
                };
                let (head, opened) = staff_misuse(
                    records.as_ref(),
                    size,
                    &Principal::Staff(staff.clone()),
                    from,
                    to,
                )
                .await?;
                scope.tree = head;
                scope.principal = Some(staff);
                let mut subjects = Vec::with_capacity(opened.len());
                for (customer_id, fields) in opened {
                    for f in &fields {
                        *scope.data_items.entry(f.clone()).or_default() += 1;
                    }
                    subjects.push(Subject {
                        customer_id,
                        order_id: None,
                        shipment_no: None,
                        people: 1,
                        fields: fields.into_iter().collect(),
                    });
                }
                scope
                    .categories
                    .insert(category::CUSTOMERS.to_owned(), subjects.len() as u64);
                scope
                    .subjects
                    .insert(category::CUSTOMERS.to_owned(), subjects);
            }
            IncidentKind::PaymentPageAltered | IncidentKind::CardScriptAltered => {
                scope.tree = scan_ledger(records.as_ref(), size, |_, _| {}).await?;
                self.card_page_scope(&mut scope, &acc, from, to).await?;
            }
            IncidentKind::DatabaseCopied => {
                scope.tree = scan_ledger(records.as_ref(), size, |_, _| {}).await?;
                self.database_copied_scope(&mut scope, &acc, to).await?;
            }
            IncidentKind::CardDataFound => {
                scope.tree = scan_ledger(records.as_ref(), size, |_, _| {}).await?;
                let scan = match scan {
                    Some(s) => s,
                    None => {
                        self.latest_card_scan(incident_id)
                            .await?
                            .ok_or(RespondError::Invalid(
                            "a card-data incident needs a scan report (mamori scan --format jsonl)",
                        ))?
                    }
                };
                card_scan::fill(&mut scope, scan);
            }
            _ => {
                return Err(RespondError::Invalid(
                    "the scope of this kind of incident is not computed yet",
                ))
            }
        }
        let content = scope.canonical_json();
        let content_sha256 = scope.sha256();
        let snapshot = ScopeRow {
            id: uuid::Uuid::now_v7().to_string(),
            incident_id,
            computed_at: Utc::now().timestamp(),
            computed_by: match by {
                Principal::Staff(id) => format!("staff:{id}"),
                Principal::System(id) => format!("system:{id}"),
                Principal::Customer(id) => format!("customer:{id}"),
                Principal::Guest(id) => format!("guest:{id}"),
            },
            tree_size: i64::try_from(scope.tree.size).unwrap_or(i64::MAX),
            root_hash: scope.tree.root.clone(),
            content,
            content_sha256,
        };
        records.incident_scope_save(&snapshot).await?;
        let people: u64 = scope.categories.values().sum();
        self.append(
            incident_id,
            by,
            EntryKind::Scope,
            &format!(
                "影響範囲を算出（延べ {people} 名、台帳 {} 件時点、ルート {}、内容の SHA-256 {}）",
                scope.tree.size, scope.tree.root, snapshot.content_sha256
            ),
            Some(&snapshot.id),
        )
        .await?;
        Ok(ScopeSnapshot {
            row: snapshot,
            scope,
        })
    }

    async fn card_page_scope(
        &self,
        scope: &mut Scope,
        acc: &Accessor,
        from: i64,
        to: i64,
    ) -> Result<()> {
        let gw = self.gateway();
        let visits = gw.records().card_page_visits(from, to).await?;
        scope.payment_attempts = visits.len() as u64;
        let mut members: BTreeSet<String> = BTreeSet::new();
        let mut guests: BTreeSet<String> = BTreeSet::new();
        let mut with_deliveries: BTreeSet<String> = BTreeSet::new();
        let mut personalised: BTreeMap<String, (String, i64)> = BTreeMap::new();
        for v in &visits {
            if v.customer_kind == "member" {
                members.insert(v.customer_id.clone());
            } else {
                guests.insert(v.customer_id.clone());
            }
            if v.shipments > 0 {
                with_deliveries.insert(v.order_id.clone());
            }
            if v.personalised_lines > 0 {
                personalised.insert(
                    v.order_id.clone(),
                    (v.customer_id.clone(), v.personalised_lines),
                );
            }
        }
        let order_ids: Vec<String> = with_deliveries.into_iter().collect();
        let others = gw.recipients_other_than_buyer(acc, &order_ids).await?;

        let mut buyer_fields = owned(CARD_ITEMS);
        buyer_fields.extend(owned(BUYER_ITEMS));
        buyer_fields.sort();
        let buyers = |set: &BTreeSet<String>| -> Vec<Subject> {
            set.iter()
                .map(|c| Subject {
                    customer_id: c.clone(),
                    order_id: None,
                    shipment_no: None,
                    people: 1,
                    fields: buyer_fields.clone(),
                })
                .collect()
        };
        let member_subjects = buyers(&members);
        let guest_subjects = buyers(&guests);
        let recipients = recipient_subjects(others);
        let personalisation: Vec<Subject> = personalised
            .into_iter()
            .map(|(order_id, (customer_id, lines))| Subject {
                customer_id,
                order_id: Some(order_id),
                shipment_no: None,
                people: u64::try_from(lines).unwrap_or(0),
                fields: vec![PERSONALISATION_ITEM.to_owned()],
            })
            .collect();

        let buyers_n = (member_subjects.len() + guest_subjects.len()) as u64;
        let recipients_n = recipients.len() as u64;
        let personalisation_n: u64 = personalisation.iter().map(|s| s.people).sum();
        for item in CARD_ITEMS.iter().chain(BUYER_ITEMS) {
            scope.data_items.insert((*item).to_owned(), buyers_n);
        }
        for item in RECIPIENT_ITEMS {
            scope.data_items.insert((*item).to_owned(), recipients_n);
        }
        scope
            .data_items
            .insert(PERSONALISATION_ITEM.to_owned(), personalisation_n);
        for (cat, n, list) in [
            (
                category::MEMBERS,
                member_subjects.len() as u64,
                member_subjects,
            ),
            (
                category::GUESTS,
                guest_subjects.len() as u64,
                guest_subjects,
            ),
            (category::RECIPIENTS, recipients_n, recipients),
            (
                category::PERSONALISATION,
                personalisation_n,
                personalisation,
            ),
        ] {
            scope.categories.insert(cat.to_owned(), n);
            scope.subjects.insert(cat.to_owned(), list);
        }
        Ok(())
    }
}
