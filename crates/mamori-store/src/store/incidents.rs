//! The incident desk's area of the store (part of [`crate::Records`], migration
//! `0015_incidents.sql`): incidents, their append-only timeline, scope snapshots, and the
//! non-personal queries a scope is computed from (payment attempts by time with their order's
//! buyer kind and the presence, never the content, of deliveries and 名入れ).
//!
//! Migration `0018_incident_reports.sql` adds the saved versions of an incident's PPC reports
//! (append-only) and the payment attempts a card companies' report lists.
//!
//! The rules (kinds, deadlines, how a scope is computed) live in `mamori-respond`; this is the
//! storage under it. Nothing here is personal.

use async_trait::async_trait;

use crate::error::Result;

/// Incident states as stored.
pub mod incident_state {
    /// Opened, being handled.
    pub const OPEN: &str = "open";
    /// Contained (the cause is stopped), reports and notices may still be due.
    pub const CONTAINED: &str = "contained";
    /// Over.
    pub const CLOSED: &str = "closed";
}

/// An incident as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentRow {
    /// Its number.
    pub id: i64,
    /// Kind code (`staff_misuse`, `payment_page_altered`, ...).
    pub kind: String,
    /// `open`, `contained` or `closed` ([`incident_state`]).
    pub state: String,
    /// A short title (staff's words; no customer's value).
    pub title: String,
    /// 発覚 (Unix seconds).
    pub known_at: i64,
    /// Start of the suspected window.
    pub window_from: Option<i64>,
    /// End of the suspected window.
    pub window_to: Option<i64>,
    /// The principal suspected (staff id), for a misused staff account.
    pub principal: Option<String>,
    /// 1 when the cause is 不正の目的.
    pub malicious: i64,
    /// The alert it was opened from.
    pub alert_id: Option<String>,
    /// Who opened it (staff id or `cli`).
    pub opened_by: String,
    /// When.
    pub opened_at: i64,
    /// Last change of the record itself.
    pub updated_at: i64,
}

/// A new incident (its number is given by the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIncidentRow {
    /// Kind code.
    pub kind: String,
    /// Title.
    pub title: String,
    /// 発覚.
    pub known_at: i64,
    /// Window start.
    pub window_from: Option<i64>,
    /// Window end.
    pub window_to: Option<i64>,
    /// Principal suspected.
    pub principal: Option<String>,
    /// 不正の目的.
    pub malicious: bool,
    /// The alert it comes from.
    pub alert_id: Option<String>,
    /// Who opens it.
    pub opened_by: String,
    /// When.
    pub opened_at: i64,
}

/// One entry of an incident's timeline as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TimelineRow {
    /// The incident.
    pub incident_id: i64,
    /// 1-based, per incident.
    pub seq: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// `opened`, `alert`, `switch`, `staff_action`, `note`, `state` or `scope`.
    pub kind: String,
    /// Who (staff id, a system job's name, `cli`).
    pub actor: String,
    /// What happened, in words (no customer's value).
    pub text: String,
    /// What it refers to (an alert id, a scope id), if anything.
    pub ref_id: Option<String>,
    /// The ledger entry that records it.
    pub ledger_seq: i64,
}

/// A saved scope snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ScopeRow {
    /// Snapshot id (UUIDv7 text).
    pub id: String,
    /// The incident.
    pub incident_id: i64,
    /// When it was computed.
    pub computed_at: i64,
    /// By whom.
    pub computed_by: String,
    /// The ledger tree size it was computed against.
    pub tree_size: i64,
    /// The root hash of that tree (hex).
    pub root_hash: String,
    /// Canonical JSON content (ids, counts, field names).
    pub content: String,
    /// SHA-256 of `content` (hex).
    pub content_sha256: String,
}

/// One payment attempt (a visit to the card page) with what its order holds, without a value.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CardPageVisitRow {
    /// The provider's payment id.
    pub payment_id: String,
    /// When the attempt was made (Unix seconds).
    pub created_at: i64,
    /// Card brand, when the provider said.
    pub brand: Option<String>,
    /// The order.
    pub order_id: String,
    /// Its number.
    pub order_number: String,
    /// The buyer.
    pub customer_id: String,
    /// `member` or `guest`.
    pub customer_kind: String,
    /// How many deliveries the order has.
    pub shipments: i64,
    /// How many of its lines carry 名入れ.
    pub personalised_lines: i64,
}

/// A customer whose data was stored at a time, with which of its sealed parts were present
/// (flags and counts, never a value). For a "database copied" scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCustomerRow {
    /// The customer.
    pub customer_id: String,
    /// `member` or `guest`.
    pub kind: String,
    /// When it was erased (microseconds), if it was (after the time asked about).
    pub erased_at: Option<i64>,
    /// 1 when a sealed name is stored now.
    pub has_name: i64,
    /// 1 when a sealed email is stored now.
    pub has_email: i64,
    /// 1 when a sealed phone is stored now.
    pub has_phone: i64,
    /// 1 when a sealed birth date is stored now.
    pub has_birth_date: i64,
    /// 1 when a sealed gender is stored now.
    pub has_gender: i64,
    /// Address-book entries created at or before the time.
    pub addresses: i64,
}

/// An order placed at or before a time, with the presence (never the content) of its sealed
/// parts. For a "database copied" scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredOrderRow {
    /// The order.
    pub order_id: String,
    /// The buyer.
    pub customer_id: String,
    /// How many deliveries it has.
    pub shipments: i64,
    /// How many of its lines carry 名入れ.
    pub personalised_lines: i64,
    /// How many of its lines carry のし.
    pub noshi_lines: i64,
}

/// One saved version of an incident's PPC report (速報 or 確報).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportVersionRow {
    /// Version id (UUIDv7 text).
    pub id: String,
    /// The incident.
    pub incident_id: i64,
    /// `sokuho` or `kakuho`.
    pub kind: String,
    /// 1-based per incident and kind (given by the store on save; the one passed is ignored).
    pub version: i64,
    /// When it was saved (Unix seconds).
    pub saved_at: i64,
    /// By whom (`staff:<id>`, `system:<name>`).
    pub saved_by: String,
    /// The scope snapshot its counts come from.
    pub scope_id: Option<String>,
    /// The report's JSON (staff's words, the reporter's details, counts; no customer's value).
    pub content: String,
    /// SHA-256 of `content` (hex).
    pub content_sha256: String,
    /// The timeline entry that records the save.
    pub timeline_seq: i64,
}

/// One payment attempt as the card companies' report lists it: the provider's ids, brand, time
/// and amount. No card number exists in the shop (the provider holds the card); not even the
/// last four digits are read here.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct CardAttemptRow {
    /// The provider's payment id.
    pub payment_id: String,
    /// The provider.
    pub provider: String,
    /// Card brand, when the provider said.
    pub brand: Option<String>,
    /// When the attempt was made (Unix seconds).
    pub created_at: i64,
    /// Amount (yen).
    pub amount: i64,
    /// The attempt's state code.
    pub status: String,
    /// The order's number.
    pub order_number: String,
}

/// The incident desk's storage.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Stores a new incident; returns its number.
    async fn incident_insert(&self, row: &NewIncidentRow) -> Result<i64>;

    /// One incident.
    async fn incident_by_id(&self, id: i64) -> Result<Option<IncidentRow>>;

    /// Incidents, newest first.
    async fn incidents_list(&self, offset: i64, limit: i64) -> Result<Vec<IncidentRow>>;

    /// Sets an incident's state.
    async fn incident_set_state(&self, id: i64, state: &str, at: i64) -> Result<bool>;

    /// Appends a timeline entry (its `seq` is the next of the incident's; the one given is
    /// ignored); returns the seq it got.
    async fn incident_timeline_append(&self, entry: &TimelineRow) -> Result<i64>;

    /// An incident's timeline, oldest first.
    async fn incident_timeline(&self, id: i64) -> Result<Vec<TimelineRow>>;

    /// Saves a scope snapshot.
    async fn incident_scope_save(&self, row: &ScopeRow) -> Result<()>;

    /// An incident's scope snapshots, oldest first.
    async fn incident_scopes(&self, id: i64) -> Result<Vec<ScopeRow>>;

    /// Every payment attempt made in `[from, to)` with its order's buyer kind and the number of
    /// its deliveries and personalised lines, ordered by attempt time and payment id.
    async fn card_page_visits(&self, from: i64, to: i64) -> Result<Vec<CardPageVisitRow>>;

    /// Every customer created at or before `at_us` (microseconds) and not erased by then,
    /// ordered by id.
    async fn customers_stored_at(&self, at_us: i64) -> Result<Vec<StoredCustomerRow>>;

    /// Every order placed at or before `at_us` whose buyer was created at or before it and not
    /// erased by then, ordered by id.
    async fn orders_stored_at(&self, at_us: i64) -> Result<Vec<StoredOrderRow>>;

    /// The same payment attempts as [`IncidentStore::card_page_visits`] (made in `[from, to)`),
    /// with what the card companies' report lists, in the same order.
    async fn card_page_attempts(&self, from: i64, to: i64) -> Result<Vec<CardAttemptRow>>;

    /// Saves a new version of a report: its `version` is the next of the incident's for that
    /// kind (the one given is ignored); returns the version it got.
    async fn incident_report_save(&self, row: &ReportVersionRow) -> Result<i64>;

    /// An incident's saved report versions, oldest first.
    async fn incident_reports(&self, id: i64) -> Result<Vec<ReportVersionRow>>;
}
