//! Staff sessions in the database, so that several `mamori serve` processes behind one load
//! balancer share them: a member of staff signed in through one process is signed in on all,
//! and a sign-out (or an idle or absolute expiry, a disabled account, the incident desk's staff
//! freeze) through one ends the session on all at the next request.
//!
//! Records live in the table `staff_sessions`, apart from the storefront's `sessions`, under the
//! SHA-256 of the session id (the web layer's [`StorageKey`]): a storefront session id is never
//! looked up there. Each record is sealed with the gateway's staff-session sealer
//! ([`mamori_store::SystemPurpose::StaffSessions`], a key of its own), bound to
//! `staff_sessions/record/<storage key>`: a copied table yields neither cookies nor records, a
//! storefront record moved into it does not open, and a record moved to another key does not
//! either. A record that does not open is no session (the member of staff signs in again).
//!
//! Nothing is cached: a sign-out through another process counts at once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mamori_store::{Records, SystemSealer};
use mamori_web::session::{SessionError, SessionRecord, SessionStore, StorageKey};

/// The column session records are sealed at.
const RECORD_COLUMN: &str = "record";

/// Staff sessions in the database, sealed.
#[derive(Clone)]
pub struct SqlStaffSessionStore {
    store: Arc<dyn Records>,
    sealer: SystemSealer,
}

impl std::fmt::Debug for SqlStaffSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlStaffSessionStore")
    }
}

impl SqlStaffSessionStore {
    /// Sessions in `store`, sealed by `sealer` (the gateway's, for
    /// [`mamori_store::SystemPurpose::StaffSessions`]).
    pub fn new(store: Arc<dyn Records>, sealer: SystemSealer) -> Self {
        Self { store, sealer }
    }
}

fn backend(text: String) -> SessionError {
    SessionError::Store(text)
}

#[async_trait]
impl SessionStore for SqlStaffSessionStore {
    async fn load(&self, key: &StorageKey) -> Result<Option<SessionRecord>, SessionError> {
        let Some(sealed) = self
            .store
            .staff_session_load(&key.0)
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
        Ok(serde_json::from_slice(&plain).ok())
    }

    async fn save(&self, key: &StorageKey, record: &SessionRecord) -> Result<(), SessionError> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(record).map_err(|e| backend(format!("session encode: {e}")))?,
        );
        let sealed = self
            .sealer
            .seal(RECORD_COLUMN, &key.to_hex(), &plain)
            .map_err(|e| backend(format!("session seal: {e}")))?;
        self.store
            .staff_session_save(
                &key.0,
                &sealed,
                record.created_at.timestamp(),
                record.last_seen.timestamp(),
            )
            .await
            .map_err(|e| backend(e.to_string()))
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), SessionError> {
        self.store
            .staff_session_delete(&key.0)
            .await
            .map_err(|e| backend(e.to_string()))
    }

    async fn purge_expired(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, SessionError> {
        self.store
            .staff_session_purge(idle_before.timestamp(), created_before.timestamp())
            .await
            .map_err(|e| backend(e.to_string()))
    }
}

/// Removes the staff sessions past the back office's idle or absolute timeout; built by
/// [`crate::Assembly::session_purger`], run by `mamori serve`'s housekeeping (on one process).
#[derive(Clone)]
pub struct StaffSessionPurger {
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) idle_timeout: std::time::Duration,
    pub(crate) absolute_timeout: std::time::Duration,
    pub(crate) clock: Arc<dyn mamori_web::clock::Clock>,
}

impl std::fmt::Debug for StaffSessionPurger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffSessionPurger").finish_non_exhaustive()
    }
}

impl StaffSessionPurger {
    /// One purge as of the clock's now; how many sessions went.
    pub async fn run_once(&self) -> Result<u64, SessionError> {
        let now = self.clock.now();
        let ago = |d: std::time::Duration| {
            now - chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
        };
        self.sessions
            .purge_expired(ago(self.idle_timeout), ago(self.absolute_timeout))
            .await
    }
}
