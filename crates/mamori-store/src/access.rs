//! Who is accessing personal data, why, and the event the ledger records for it.

use serde::{Deserialize, Serialize};

/// The party on whose behalf the gateway is called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    /// A signed-in customer acting on their own data (the id is theirs).
    Customer(String),
    /// A guest session at checkout (session id, not personal).
    Guest(String),
    /// A member of staff (staff account id).
    Staff(String),
    /// A background job or command (its name, e.g. "mail-worker", "cli:keys-rotate").
    System(String),
}

/// What the access did with personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Plaintext was handed out.
    Read,
    /// Plaintext was opened inside the gateway only to be masked (e.g. `山田 **`,
    /// `090-****-5678`); only the masked form left the gateway.
    ReadMasked,
    /// Personal data was collected or changed.
    Write,
    /// A customer's data key was destroyed.
    Erase,
    /// Data keys were re-wrapped (no plaintext personal data involved).
    Rewrap,
    /// The guard raised an alert (no personal data involved): the event's purpose is
    /// `alert:<kind>`, its request id the alert's id and its channel the alert's subject.
    Alert,
    /// A member of staff approved a decision of the guard (e.g. a new baseline of the shop's
    /// files, which reopens card payment), with the reason they gave.
    Approve,
    /// A step of the incident desk (no personal data): an incident opened, a timeline entry
    /// appended, a scope saved. Its purpose is `incident.<entry kind>`, its request id
    /// `incident:<number>`, and its reason `sha256:<hex>` of the entry, so the ledger binds
    /// the timeline's text without holding it.
    Incident,
}

/// The caller's identity and intent, required by every gateway call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accessor {
    /// Who.
    pub principal: Principal,
    /// Why: a short, stable purpose code such as `mypage.orders` or `checkout.confirm`.
    pub purpose: String,
    /// The request (or job run) this access belongs to.
    pub request_id: String,
    /// Where personal data was collected (page or API), for writes.
    pub channel: Option<String>,
    /// The reason a person gave for this access, in their own words (a member of staff revealing
    /// a masked field or exporting customers). Recorded in the ledger in the clear, so it must
    /// name no customer's personal value; the back office says so next to the field.
    pub reason: Option<String>,
}

impl Accessor {
    /// An accessor for a system job or command.
    pub fn system(job: &str, purpose: &str) -> Self {
        Self {
            principal: Principal::System(job.to_owned()),
            purpose: purpose.to_owned(),
            request_id: uuid::Uuid::now_v7().to_string(),
            channel: None,
            reason: None,
        }
    }

    /// An accessor for a member of staff acting in the back office.
    pub fn staff(staff_id: &str, purpose: &str, request_id: &str) -> Self {
        Self {
            principal: Principal::Staff(staff_id.to_owned()),
            purpose: purpose.to_owned(),
            request_id: request_id.to_owned(),
            channel: None,
            reason: None,
        }
    }

    /// The same accessor with the reason its person gave (trimmed), required by
    /// [`crate::Gateway::reveal`] and the exports.
    pub fn because(mut self, reason: &str) -> Self {
        self.reason = Some(reason.trim().to_owned());
        self
    }

    /// The same accessor with a collection channel set.
    pub fn via(mut self, channel: &str) -> Self {
        self.channel = Some(channel.to_owned());
        self
    }
}

/// One access as recorded in the ledger. Serialised as JSON; the bytes are the Merkle leaf.
/// It names customers by id and fields by name, never by value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEvent {
    /// Format version.
    pub v: u8,
    /// Microseconds since the Unix epoch.
    pub at_us: i64,
    /// Who.
    pub principal: Principal,
    /// Why.
    pub purpose: String,
    /// Request id.
    pub request_id: String,
    /// What kind of access.
    pub action: Action,
    /// Collection channel (writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The reason given for the access (reveals and exports in the back office). Absent from the
    /// bytes when None, so events written before it existed keep their exact bytes and hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The customers whose data was touched.
    pub customers: Vec<String>,
    /// The fields touched, as `table.column`.
    pub fields: Vec<String>,
}

impl AccessEvent {
    /// Builds the event for an accessor.
    pub fn new(acc: &Accessor, action: Action, customers: Vec<String>, fields: &[&str]) -> Self {
        Self {
            v: 1,
            at_us: chrono::Utc::now().timestamp_micros(),
            principal: acc.principal.clone(),
            purpose: acc.purpose.clone(),
            request_id: acc.request_id.clone(),
            action,
            channel: acc.channel.clone(),
            reason: acc.reason.clone(),
            customers,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// The canonical bytes stored and hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses stored bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(b)
    }
}
