//! The [`Store`] interface: what the rest of mamori may ask of a database. It moves sealed rows and
//! ledger entries; it never sees a key or a plaintext personal value.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Result, StoreError};

pub mod alerts;
mod backoffice;
pub mod canary_mail;
mod catalogue;
pub mod csp_reports;
mod customers;
pub mod fraud;
pub mod fulfilment;
pub mod incidents;
pub mod inquiries;
pub mod leases;
mod ledger;
pub mod notices;
pub mod observations;
mod orders;
mod outbox;
pub mod public_notices;
pub mod reads;
pub mod refunds;
pub mod scripts;
pub mod security;
mod sessions;
mod staff;
mod storefront;

pub use alerts::{
    alert_state, switch_state, AlertFilter, AlertRaised, AlertRow, AlertStore, AlertWebhookRow,
    GuardSwitchRow, NewAlertRow,
};
pub use backoffice::BackofficeStore;
pub use canary_mail::{CanaryMailRow, CanaryMailStore};
pub use catalogue::CatalogueStore;
pub use csp_reports::{
    CspRecorded, CspReportRow, CspReportStore, NewCspReport, CSP_AGGREGATES_MAX,
};
pub use customers::CustomerStore;
pub use fraud::{CardAttempt, DeclineCounts, DeclineSince, FraudStore, HourCount};
pub use fulfilment::Fulfilment;
pub use incidents::{
    incident_state, CardAttemptRow, CardPageVisitRow, IncidentRow, IncidentStore, NewIncidentRow,
    ReportVersionRow, ScopeRow, StoredCustomerRow, StoredOrderRow, TimelineRow,
};
pub use inquiries::{inquiry_status, InquiryRow, InquiryStore};
pub use leases::{JobLeaseRow, JobLeaseStore};
pub use ledger::{LedgerReadStore, LedgerStore};
pub use notices::{NoticeProgress, NoticeRow, NoticeRunRow, NoticeStore};
pub use observations::{observation_state, ObservationRow, ObservationStore};
pub use orders::{OrderStore, SealedOrderStore};
pub use outbox::MailOutboxStore;
pub use public_notices::{
    scope_customers, scope_fields_of, scope_summary, PublicNoticeStateRow, PublicNoticeStore,
    PublicNoticeVersionRow, PublishedNoticeRow,
};
pub use reads::{CanaryStore, ReadBudgetStore, ReadPrincipalRow};
pub use refunds::{RefundInsert, RefundRow, Refunds};
pub use scripts::{script_site, script_state, ScriptInventoryStore, ScriptRow};
pub use security::{BucketCount, PrincipalBucketCount, SecurityStatsStore};
pub use sessions::{TokenStore, WebSessionStore};
pub use staff::StaffStore;
pub use storefront::{IssuedReceipt, ProductImageHead, StorefrontStore};

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default; one process).
    Sqlite,
    /// PostgreSQL (production; several processes may share it).
    Postgres,
}

/// Outcome of an order insert keyed by its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderInsert {
    /// The order was written now.
    Inserted,
    /// An order with the same idempotency key existed already; nothing was written.
    Existing {
        /// Its id.
        order_id: String,
    },
}

/// Signs checkpoints inside the append transaction, so that the signed root is the committed one.
pub struct CheckpointSigner {
    /// Checkpoint origin line (the log's name).
    pub origin: String,
    /// Ed25519 key of the ledger.
    pub signer: mamori_ledger::LedgerSigner,
}

impl CheckpointSigner {
    /// Signs a checkpoint of `size` and `root`.
    pub fn sign(&self, size: u64, root: [u8; 32]) -> String {
        mamori_ledger::Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        }
        .sign(&self.signer)
    }
}

/// A database that holds mamori's data. Implemented by [`crate::SqliteStore`] and [`crate::PgStore`].
/// A database that holds mamori's data: the union of every area. Implemented by
/// [`crate::SqliteStore`] and [`crate::PgStore`]. Only the gateway, the ledger writer and the binary
/// (which opens the store and hands it to the gateway) hold one; everything else gets [`Records`].
#[async_trait]
pub trait Store:
    Records
    + CustomerStore
    + SealedOrderStore
    + TokenStore
    + LedgerStore
    + CanaryStore
    + CanaryMailStore
    + InquiryStore
    + 'static
{
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
}

/// What the store answers without a personal value, sealed or not: the surface handed to web
/// handlers and jobs ([`crate::Gateway::records`]). Catalogue and stock, order headers without
/// ciphertext, order states and payments, sessions and queued mail as opaque sealed blobs, staff,
/// settings, the staff log, the ledger's entries, the guard's alerts and switches, the browser
/// monitor's observations, aggregated CSP reports, the script inventory, the incident desk's
/// records (with the public notices) and the security dashboard's counts. Customers, addresses, whole orders and tokens
/// are not reachable from it: they are opened by the gateway only.
pub trait Records:
    CatalogueStore
    + StorefrontStore
    + OrderStore
    + Fulfilment
    + Refunds
    + WebSessionStore
    + MailOutboxStore
    + StaffStore
    + BackofficeStore
    + LedgerReadStore
    + AlertStore
    + ObservationStore
    + CspReportStore
    + ScriptInventoryStore
    + IncidentStore
    + NoticeStore
    + PublicNoticeStore
    + ReadBudgetStore
    + SecurityStatsStore
    + FraudStore
    + JobLeaseStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Records for T where
    T: CatalogueStore
        + StorefrontStore
        + OrderStore
        + Fulfilment
        + Refunds
        + WebSessionStore
        + MailOutboxStore
        + StaffStore
        + BackofficeStore
        + LedgerReadStore
        + AlertStore
        + ObservationStore
        + CspReportStore
        + ScriptInventoryStore
        + IncidentStore
        + NoticeStore
        + PublicNoticeStore
        + ReadBudgetStore
        + SecurityStatsStore
        + FraudStore
        + JobLeaseStore
        + Send
        + Sync
        + 'static
        + ?Sized
{
}

/// Opens (creating if needed) the store at `url`: `sqlite://PATH` or `postgres://...`.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(crate::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(crate::PgStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
