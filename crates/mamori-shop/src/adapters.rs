//! The web layer's and the payment layer's storage, over the SQL store.
//!
//! Sessions can hold a checkout draft (names and addresses between the form and the confirmation
//! page), so each record is sealed with the gateway's session sealer
//! ([`mamori_store::SystemPurpose::Sessions`]), bound to `sessions/record/<storage key>`: a copied
//! `sessions` table is as useless as the rest of the database. Opening a record is not an access
//! event: the draft is what this browser typed, shown back to the same browser before it becomes an
//! order (the one bounded exception to "plaintext only through a recorded gateway read", see
//! ARCHITECTURE.md). The sealer cannot open anything sealed under a customer's key.
//!
//! Opened records are kept in memory for a few seconds ([`SqlSessionStore::with_cache`]), written
//! through on save and dropped on delete, so a busy visitor's every page view does not read and
//! open the same row. What another process changes (a logout on another PostgreSQL-backed node)
//! shows here within that time.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mamori_pay::{ReplayGuard, ReplayGuardError};
use mamori_store::{Records, SystemSealer};
use mamori_web::session::{SessionError, SessionRecord, SessionStore, StorageKey};

/// The column session records are sealed at.
const RECORD_COLUMN: &str = "record";

/// Sessions in the database, sealed.
#[derive(Clone)]
pub struct SqlSessionStore {
    store: Arc<dyn Records>,
    sealer: SystemSealer,
    /// Opened records by storage key; None when caching is off.
    cache: Option<moka::sync::Cache<StorageKey, SessionRecord>>,
}

impl std::fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlSessionStore")
    }
}

impl SqlSessionStore {
    /// Sessions in `store`, sealed by `sealer` (the gateway's, for [`mamori_store::SystemPurpose::Sessions`]).
    pub fn new(store: Arc<dyn Records>, sealer: SystemSealer) -> Self {
        Self {
            store,
            sealer,
            cache: None,
        }
    }

    /// Keeps opened records for `ttl` (zero: no cache); at most `capacity` of them.
    pub fn with_cache(mut self, ttl: std::time::Duration, capacity: u64) -> Self {
        self.cache = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build()
        });
        self
    }
}

fn backend(text: String) -> SessionError {
    SessionError::Store(text)
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn load(&self, key: &StorageKey) -> Result<Option<SessionRecord>, SessionError> {
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(key)) {
            return Ok(Some(hit));
        }
        let Some(sealed) = self
            .store
            .session_load(&key.0)
            .await
            .map_err(|e| backend(e.to_string()))?
        else {
            return Ok(None);
        };
        let hex = key.to_hex();
        // A record sealed under a retired master key (or damaged) is treated as no session: the
        // customer signs in again, nothing else breaks.
        let Ok(plain) = self.sealer.open(RECORD_COLUMN, &hex, &sealed) else {
            return Ok(None);
        };
        let record: Option<SessionRecord> = serde_json::from_slice(&plain).ok();
        if let (Some(cache), Some(r)) = (&self.cache, &record) {
            cache.insert(*key, r.clone());
        }
        Ok(record)
    }

    async fn save(&self, key: &StorageKey, record: &SessionRecord) -> Result<(), SessionError> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(record).map_err(|e| backend(format!("session encode: {e}")))?,
        );
        let hex = key.to_hex();
        let sealed = self
            .sealer
            .seal(RECORD_COLUMN, &hex, &plain)
            .map_err(|e| backend(format!("session seal: {e}")))?;
        if let Some(cache) = &self.cache {
            // Dropped before the write: a failed write must not leave a cached record behind.
            cache.invalidate(key);
        }
        self.store
            .session_save(
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

    async fn delete(&self, key: &StorageKey) -> Result<(), SessionError> {
        if let Some(cache) = &self.cache {
            cache.invalidate(key);
        }
        self.store
            .session_delete(&key.0)
            .await
            .map_err(|e| backend(e.to_string()))
    }

    async fn purge_expired(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, SessionError> {
        self.store
            .session_purge(idle_before.timestamp(), created_before.timestamp())
            .await
            .map_err(|e| backend(e.to_string()))
    }
}

/// Webhook event ids in the database: a replay is refused across restarts and across processes.
#[derive(Clone)]
pub struct SqlReplayGuard {
    store: Arc<dyn Records>,
}

impl std::fmt::Debug for SqlReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlReplayGuard")
    }
}

impl SqlReplayGuard {
    /// A guard over `store`.
    pub fn new(store: Arc<dyn Records>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl ReplayGuard for SqlReplayGuard {
    async fn first_seen(
        &self,
        event_id: &str,
        keep_until: DateTime<Utc>,
    ) -> Result<bool, ReplayGuardError> {
        self.store
            .webhook_first_seen(event_id, keep_until.timestamp(), Utc::now().timestamp())
            .await
            .map_err(|e| ReplayGuardError(Box::new(e)))
    }
}
