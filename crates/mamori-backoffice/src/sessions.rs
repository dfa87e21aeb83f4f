//! Staff sessions in the database, so that several `mamori serve` processes behind one load
//! balancer share them: a member of staff signed in through one process is signed in on all,
//! and a sign-out (or an idle or absolute expiry, a disabled account, the incident desk's staff
//! freeze) through one ends the session on all at the next request.
//!
//! The store is `mamori_store::gateway::SqlSessionStore` for `SessionTable::Staff`: records in
//! the table `staff_sessions`, apart from the storefront's `sessions`, under the SHA-256 of the
//! session id, each sealed with the staff-session system key
//! ([`mamori_store::SystemPurpose::StaffSessions`], a key of its own) and bound to its row: a
//! copied table yields neither cookies nor records, a storefront record moved into it does not
//! open, and a record moved to another key does not either. Nothing is cached: a sign-out
//! through another process counts at once.

use std::sync::Arc;

use mamori_web::session::{SessionError, SessionStore};

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
