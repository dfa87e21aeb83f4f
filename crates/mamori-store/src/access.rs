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
    /// Personal data was collected or changed.
    Write,
    /// A customer's data key was destroyed.
    Erase,
    /// Data keys were re-wrapped (no plaintext personal data involved).
    Rewrap,
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
}

impl Accessor {
    /// An accessor for a system job or command.
    pub fn system(job: &str, purpose: &str) -> Self {
        Self {
            principal: Principal::System(job.to_owned()),
            purpose: purpose.to_owned(),
            request_id: uuid::Uuid::now_v7().to_string(),
            channel: None,
        }
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
