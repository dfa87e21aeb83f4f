//! The incident desk: from the alert to the exact scope.
//!
//! - [`kind`]: what kind of incident it is and the codes of its timeline;
//! - [`deadlines`]: the 速報 and 確報 to the PPC and the card companies' deadlines, pure
//!   functions of the 発覚 with Japanese holidays counted;
//! - [`desk`]: the incident record and its append-only timeline, every entry also in the ledger;
//! - [`scope`]: who was affected and which data items, computed from the ledger and the orders
//!   against a stated ledger tree head, saved as a snapshot with the SHA-256 of its content;
//! - [`report`]: the PPC report (速報, 確報; versions kept) as text for the online form and as a
//!   Japanese PDF, and the card companies' report as CSV.
//! - [`switches`]: close the shop, stop card payment, freeze staff, rotate keys; the state in
//!   the store, each process's [`Switchboard`] refreshed from it every 500 ms.
//! - [`evidence`]: the evidence pack (tar + zstd): the window's ledger entries with their
//!   proofs to the signed head, checkpoints, witness lines, alerts, staff log, observations and
//!   file baseline, under a manifest signed with the ledger's key; and its verification.
//! - [`notices`]: notices to individuals (本人通知) by signed mail from the scope, resumable,
//!   at a per-incident rate, with their bounces (VERP, RFC 3464).
//!
//! Sits above `mamori-store` (its [`mamori_store::IncidentStore`] area and the gateway) and below
//! the binary and the back office. It does not depend on the vault: personal values are opened
//! only inside the gateway, and nothing here returns one.

pub mod deadlines;
pub mod desk;
pub mod evidence;
pub mod kind;
pub mod notices;
pub mod public_notice;
pub mod report;
pub mod scope;
pub mod switches;
pub mod typeset;

pub use deadlines::{deadlines, Deadline, DeadlineKind};
pub use desk::{Desk, IncidentView, NewIncident};
pub use kind::{EntryKind, IncidentKind};
pub use notices::{NoticeDraft, NoticeOptions, NoticeStatus, RunReport};
pub use public_notice::{PublicNoticeDraft, PublicNoticeText};
pub use report::{Report, ReportFields, ReportKind, Reporter};
pub use scope::{AppiAssessment, CardScanScope, KeyLeak, Scope, ScopeSnapshot, TreeHead};
pub use switches::{Switch, SwitchChange, SwitchOutcome, Switchboard};

/// Why the desk could not do something. Carries ids, codes and fixed texts, never a value.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    /// The store or the ledger failed.
    #[error(transparent)]
    Store(#[from] mamori_store::StoreError),
    /// Input refused.
    #[error("refused: {0}")]
    Invalid(&'static str),
    /// No such incident.
    #[error("incident {0} not found")]
    NotFound(i64),
    /// The incident has no saved report version with that id.
    #[error("no such report version")]
    ReportVersionNotFound,
    /// A stored ledger entry does not hash to its stored leaf hash: the log was altered.
    #[error("ledger entry {0} does not match its leaf hash")]
    LedgerBroken(u64),
    /// A report could not be rendered (fonts missing, typst, CSV).
    #[error("report rendering failed: {0}")]
    Render(String),
}

/// Results of the desk.
pub type Result<T> = std::result::Result<T, RespondError>;
