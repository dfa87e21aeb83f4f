//! The guard's area of the store (part of [`crate::Records`], migration `0010_alerts.sql`):
//! alerts with their de-duplication, the queue of their webhook deliveries, and the guard's
//! switches. Nothing here is personal: an alert names its subject by path, page or id and its
//! evidence holds hashes, sizes, modes and URLs.
//!
//! Alerts are raised through `mamori_guard::Alerts::raise` (which goes through
//! [`crate::Gateway::raise_alert`] to seal its mail); the methods here are the storage under it.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{OutboxRow, Page};

/// Alert states as stored.
pub mod alert_state {
    /// Raised and not yet looked at.
    pub const OPEN: &str = "open";
    /// A member of staff looked at it and said why (the condition may still be ongoing).
    pub const ACKNOWLEDGED: &str = "acknowledged";
    /// Over: the next occurrence of the condition is a new alert.
    pub const CLOSED: &str = "closed";
}

/// The switch the guard closes when the payment path changes: card payment.
pub const CARD_PAYMENT: &str = "card_payment";

/// The incident desk's switch that closes the storefront (a maintenance page answers).
pub const SHOP: &str = "shop";

/// The incident desk's switch that freezes every member of staff but the owners.
pub const STAFF: &str = "staff";

/// Not a state but a generation: its `detail` is the key file's active master key id, written
/// by every rotation so that every `mamori serve` on the database reloads the key file.
pub const KEY_RING: &str = "key_ring";

/// Switch states as stored.
pub mod switch_state {
    /// The guarded function runs.
    pub const OPEN: &str = "open";
    /// The guarded function is off until an owner approves.
    pub const CLOSED: &str = "closed";
}

/// An alert as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRow {
    /// Alert id (UUIDv7 text).
    pub id: String,
    /// What was detected (`file.changed`, `file.missing`, ...).
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What it is about: a path, a page, a principal or customer id; never a personal value.
    pub subject: String,
    /// JSON evidence (hashes, sizes, modes, URLs).
    pub evidence: String,
    /// `open`, `acknowledged` or `closed` ([`alert_state`]).
    pub state: String,
    /// How often the condition was seen while the alert was not closed.
    pub seen_count: i64,
    /// First seen (Unix seconds).
    pub first_seen: i64,
    /// Last seen (Unix seconds).
    pub last_seen: i64,
    /// Who acknowledged it (staff id).
    pub acked_by: Option<String>,
    /// When.
    pub acked_at: Option<i64>,
    /// The reason they gave.
    pub ack_reason: Option<String>,
    /// Who closed it (staff id, or a system job's name).
    pub closed_by: Option<String>,
    /// When.
    pub closed_at: Option<i64>,
}

/// A new occurrence of a condition, to store as an alert or as a repeat of the ongoing one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlertRow {
    /// The id the alert gets if it is new.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Severity.
    pub severity: String,
    /// Subject.
    pub subject: String,
    /// JSON evidence of this occurrence (kept as the alert's latest evidence).
    pub evidence: String,
    /// When it was seen (Unix seconds).
    pub at: i64,
}

/// What storing an occurrence did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRaised {
    /// The alert (new, or the ongoing one of the same kind and subject).
    pub id: String,
    /// True when a new alert was stored (its mail and webhook were queued with it); false for a
    /// repeat of an ongoing one (only its count and last-seen time changed).
    pub new: bool,
    /// True when it repeated an ongoing alert with a higher severity: the alert took the higher
    /// severity, was opened again, and its mail and webhook were queued again.
    pub escalated: bool,
    /// How often it has been seen.
    pub seen_count: i64,
}

/// The order of the stored severities (`info` < `warning` < `critical`); an unknown one ranks
/// lowest.
pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 3,
        "warning" => 2,
        _ => 1,
    }
}

/// Which alerts a listing shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this state.
    pub state: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
}

/// A queued webhook delivery of an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertWebhookRow {
    /// Delivery id (UUIDv7 text; sent as a header so a receiver can drop repeats).
    pub id: String,
    /// The alert.
    pub alert_id: String,
    /// The JSON body, exactly as sent on every attempt.
    pub body: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Attempts so far (a claim counts one).
    pub attempts: i64,
    /// Due at (Unix seconds).
    pub next_attempt_at: i64,
    /// The last failure (a status code or a fixed reason, never a body).
    pub last_error: Option<String>,
    /// Queued at.
    pub created_at: i64,
    /// Delivered at.
    pub sent_at: Option<i64>,
}

/// A guard switch.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct GuardSwitchRow {
    /// Its name (`card_payment`).
    pub name: String,
    /// `open` or `closed` ([`switch_state`]).
    pub state: String,
    /// Why it is as it is (fixed text or the approval's reason).
    pub reason: String,
    /// The alert that closed it.
    pub alert_id: Option<String>,
    /// Who changed it last (staff id, or a system job's name).
    pub changed_by: Option<String>,
    /// When.
    pub changed_at: i64,
    /// A non-secret parameter: the public notice URL of a closed shop, the active master key id
    /// of the key ring.
    pub detail: Option<String>,
    /// The incident it was turned for.
    pub incident_id: Option<i64>,
}

/// The guard's storage.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores an occurrence in one transaction: a new alert when none of its kind and subject is
    /// ongoing (not closed), with `mails` queued in the outbox and `webhook_body` queued for
    /// delivery; otherwise the ongoing alert's count, last-seen time and evidence are updated and
    /// nothing is queued, unless the occurrence is more severe: then the alert takes its
    /// severity, is open again, and `mails` and `webhook_body` are queued (escalated). Safe under concurrent raises (the unique partial index decides).
    async fn alert_raise(
        &self,
        alert: &NewAlertRow,
        mails: &[OutboxRow],
        webhook_body: Option<&str>,
    ) -> Result<AlertRaised>;

    /// One alert.
    async fn alert_by_id(&self, id: &str) -> Result<Option<AlertRow>>;

    /// Alerts matching `filter`, most recently seen first, one page.
    async fn alerts_page(
        &self,
        filter: &AlertFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Page<AlertRow>>;

    /// Marks an open alert acknowledged by `staff_id` with `reason`; false when it is not open.
    async fn alert_acknowledge(
        &self,
        id: &str,
        staff_id: &str,
        reason: &str,
        at: i64,
    ) -> Result<bool>;

    /// Closes every ongoing alert of `kind` whose subject starts with `subject_prefix`; returns
    /// how many were closed.
    async fn alerts_close(
        &self,
        kind: &str,
        subject_prefix: &str,
        by: &str,
        at: i64,
    ) -> Result<u64>;

    /// Claims up to `limit` due webhook deliveries (pending, due, no live lease): each gets
    /// `attempts + 1` and a lease until `now + lease_secs`.
    async fn alert_webhook_claim(
        &self,
        limit: i64,
        lease_secs: i64,
        now: i64,
    ) -> Result<Vec<AlertWebhookRow>>;

    /// Marks a delivery sent (idempotent).
    async fn alert_webhook_sent(&self, id: &str, at: i64) -> Result<()>;

    /// Records a failed attempt: due again at `next_attempt_at`, or `dead` when None.
    async fn alert_webhook_failed(
        &self,
        id: &str,
        next_attempt_at: Option<i64>,
        reason: &str,
    ) -> Result<()>;

    /// The webhook deliveries of an alert, oldest first.
    async fn alert_webhooks_of(&self, alert_id: &str) -> Result<Vec<AlertWebhookRow>>;

    /// A switch; None when never set (a switch never set is open).
    async fn guard_switch(&self, name: &str) -> Result<Option<GuardSwitchRow>>;

    /// Every switch ever set (a few rows: one query for the refreshers of every process).
    async fn guard_switches_all(&self) -> Result<Vec<GuardSwitchRow>>;

    /// Sets a switch (insert or replace).
    async fn guard_switch_set(&self, row: &GuardSwitchRow) -> Result<()>;

    /// An owner's approval in one transaction: sets `switch` (normally open again) and closes
    /// every ongoing alert of the `kinds` given, by `switch.changed_by`.
    async fn guard_approve(&self, switch: &GuardSwitchRow, kinds: &[&str]) -> Result<u64>;
}
