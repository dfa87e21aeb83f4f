//! Detection for mamori: the one alert model every detector raises through, and the watch over
//! the shop's own files and over what the shop's and the provider's pages execute in a browser
//! ([`monitor`]).
//!
//! # Alerts
//!
//! An [`Alert`] has a kind, a [`Severity`], a [`Subject`] (a page, a file, a principal or a
//! customer id: never a personal value) and JSON evidence (hashes, sizes, modes, URLs).
//! [`Alerts::raise`] is the one place an alert is raised. In one call it
//!
//! 1. stores the alert (`alerts`, migration `0010_alerts.sql`), de-duplicated: while an alert of
//!    the same kind and subject is not closed, a repeat only bumps its count and last-seen time;
//! 2. for a new alert only, queues in the same transaction a mail to every active owner and
//!    manager (the outbox; the mail worker signs it with DKIM) and, when a webhook is configured,
//!    a webhook delivery (`alert_webhooks`);
//! 3. for a new alert only, appends an [`mamori_store::Action::Alert`] entry to the ledger.
//!
//! The [`webhook`] worker delivers queued webhooks (JSON, `Mamori-Signature: t=…,v1=<HMAC-SHA256
//! of "t.body">`, the scheme of the payment webhooks), retrying with exponential backoff.
//!
//! An alert is acknowledged by a member of staff with a reason ([`Alerts::acknowledge`]) and
//! closed when its cause is resolved (e.g. an owner approves a new file baseline).
//!
//! # CSP reports
//!
//! [`csp::GuardCspSink`] takes the violation reports every page's CSP sends, stores them
//! aggregated per page, directive and blocked origin, and alerts
//! ([`kinds::CSP_SCRIPT_BLOCKED`]) when a script from a new origin is blocked on a payment or
//! personal-data page.
//!
//! # Script inventory
//!
//! [`inventory::ScriptInventory`] lists every script a page may run (PCI DSS 6.4.3) and builds
//! the storefront's `script-src` from it: digests only.
//!
//! # Phishing canaries
//!
//! [`canary_mail::CanaryMail`] is an SMTP listener for the canary domain: mail to a planted
//! canary's address raises [`kinds::CANARY_MAIL`] (critical) before the message is acknowledged.
//!
//! # Card testing and credential stuffing
//!
//! [`GuardFraudAlarm`] is the alarm of `mamori_store::fraud::FraudWatch` (the shop's checkout and
//! sign-ins, the back office's sign-in): [`kinds::CARD_TESTING`] and [`kinds::LOGIN_STUFFING`].

mod alert;
pub mod canary;
pub mod canary_mail;
pub mod csp;
pub mod files;
pub mod fraud;
pub mod inventory;
pub mod monitor;
pub mod reads;
pub mod smtp_in;
pub mod webhook;

pub use alert::{
    check_reason, kinds, Alert, AlertConfig, Alerts, GuardError, Severity, Subject,
    ACK_REASON_MAX_CHARS,
};
pub use fraud::GuardFraudAlarm;
pub use reads::GuardReadAlarm;
pub use webhook::{WebhookConfig, WebhookTarget, WebhookWorker};
