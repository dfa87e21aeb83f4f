//! The web layer's session store over the store, one adapter for the storefront's sessions and
//! the back office's staff sessions (feature `web-sessions`; the web layer does not depend on
//! the store, so its `SessionStore` is implemented here, as the mail worker's `OutboxStore` is
//! in [`super::SqlOutbox`]).
//!
//! Records are filed under the SHA-256 of the session id (the web layer's [`StorageKey`]) in the
//! table of their [`SessionTable`] and sealed with that table's system key
//! ([`SystemPurpose::Sessions`] or [`SystemPurpose::StaffSessions`]), bound to
//! `<table>/record/<storage key>`: a copied table yields neither cookies nor records, a record
//! moved to the other table or to another key does not open, and a storefront session id is
//! never looked up among staff sessions. A record that does not open (a retired master key,
//! damage) is no session: its holder signs in again, nothing else breaks.
//!
//! Storefront sessions can hold a checkout draft (names and addresses between the form and the
//! confirmation page). Opening a record is not an access event: the draft is what this browser
//! typed, shown back to the same browser before it becomes an order (the one bounded exception
//! to "plaintext only through a recorded gateway read", see ARCHITECTURE.md). The sealer cannot
//! open anything sealed under a customer's key.
//!
//! Opened records may be kept in memory for a few seconds ([`SqlSessionStore::with_cache`]),
//! written through on save and dropped on delete; what another process changes (a logout on
//! another node) then shows here within that time. Staff sessions are not cached, so a sign-out
//! through another process counts at once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mamori_web::session::{SessionError, SessionRecord, SessionStore, StorageKey};

use super::Gateway;
use crate::error::Result;
use crate::sealer::{SystemPurpose, SystemSealer};
use crate::store::Records;

/// The column session records are sealed at.
const RECORD_COLUMN: &str = "record";

/// Which sessions an adapter keeps: the table and the system key that goes with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionTable {
    /// The storefront's visitors and members (`sessions`).
    Storefront,
    /// The back office's staff (`staff_sessions`).
    Staff,
}

impl SessionTable {
    /// The system key the table's records are sealed with.
    pub fn purpose(self) -> SystemPurpose {
        match self {
            Self::Storefront => SystemPurpose::Sessions,
            Self::Staff => SystemPurpose::StaffSessions,
        }
    }
}

/// Sessions of one [`SessionTable`] in the database, sealed.
#[derive(Clone)]
pub struct SqlSessionStore {
    store: Arc<dyn Records>,
    sealer: SystemSealer,
    table: SessionTable,
    /// Opened records by storage key; None when caching is off.
    cache: Option<moka::sync::Cache<StorageKey, SessionRecord>>,
}

impl std::fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSessionStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl SqlSessionStore {
    /// The sessions of `table` in the gateway's store, sealed with the table's system key; no
    /// cache.
    pub fn new(gateway: &Gateway, table: SessionTable) -> Self {
        Self {
            store: gateway.records(),
            sealer: gateway.system_sealer(table.purpose()),
            table,
            cache: None,
        }
    }

    /// Keeps opened records for `ttl` (zero: no cache); at most `capacity` of them.
    #[must_use]
    pub fn with_cache(mut self, ttl: std::time::Duration, capacity: u64) -> Self {
        self.cache = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build()
        });
        self
    }

    async fn row_load(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.table {
            SessionTable::Storefront => self.store.session_load(key).await,
            SessionTable::Staff => self.store.staff_session_load(key).await,
        }
    }

    async fn row_save(&self, key: &[u8], sealed: &[u8], created: i64, seen: i64) -> Result<()> {
        match self.table {
            SessionTable::Storefront => self.store.session_save(key, sealed, created, seen).await,
            SessionTable::Staff => {
                self.store
                    .staff_session_save(key, sealed, created, seen)
                    .await
            }
        }
    }

    async fn row_delete(&self, key: &[u8]) -> Result<()> {
        match self.table {
            SessionTable::Storefront => self.store.session_delete(key).await,
            SessionTable::Staff => self.store.staff_session_delete(key).await,
        }
    }

    async fn row_purge(&self, idle_before: i64, created_before: i64) -> Result<u64> {
        match self.table {
            SessionTable::Storefront => self.store.session_purge(idle_before, created_before).await,
            SessionTable::Staff => {
                self.store
                    .staff_session_purge(idle_before, created_before)
                    .await
            }
        }
    }
}

fn backend(text: String) -> SessionError {
    SessionError::Store(text)
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn load(
        &self,
        key: &StorageKey,
    ) -> std::result::Result<Option<SessionRecord>, SessionError> {
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(key)) {
            return Ok(Some(hit));
        }
        let Some(sealed) = self
            .row_load(&key.0)
            .await
            .map_err(|e| backend(e.to_string()))?
        else {
            return Ok(None);
        };
        // Sealed under a retired master key, another purpose or another key (or damaged): no
        // session.
        let Ok(plain) = self.sealer.open(RECORD_COLUMN, &key.to_hex(), &sealed) else {
            return Ok(None);
        };
        let record: Option<SessionRecord> = serde_json::from_slice(&plain).ok();
        if let (Some(cache), Some(r)) = (&self.cache, &record) {
            cache.insert(*key, r.clone());
        }
        Ok(record)
    }

    async fn save(
        &self,
        key: &StorageKey,
        record: &SessionRecord,
    ) -> std::result::Result<(), SessionError> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(record).map_err(|e| backend(format!("session encode: {e}")))?,
        );
        let sealed = self
            .sealer
            .seal(RECORD_COLUMN, &key.to_hex(), &plain)
            .map_err(|e| backend(format!("session seal: {e}")))?;
        if let Some(cache) = &self.cache {
            // Dropped before the write: a failed write must not leave a cached record behind.
            cache.invalidate(key);
        }
        self.row_save(
            &key.0,
            &sealed,
            record.created_at.timestamp(),
            record.last_seen.timestamp(),
        )
        .await
        .map_err(|e| backend(e.to_string()))?;
        if let Some(cache) = &self.cache {
            cache.insert(*key, record.clone());
        }
        Ok(())
    }

    async fn delete(&self, key: &StorageKey) -> std::result::Result<(), SessionError> {
        if let Some(cache) = &self.cache {
            cache.invalidate(key);
        }
        self.row_delete(&key.0)
            .await
            .map_err(|e| backend(e.to_string()))
    }

    async fn purge_expired(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> std::result::Result<u64, SessionError> {
        self.row_purge(idle_before.timestamp(), created_before.timestamp())
            .await
            .map_err(|e| backend(e.to_string()))
    }
}
