//! The payment layer's storage over the SQL store: the webhook replay guard. (The web layer's
//! sessions are `mamori_store::gateway::SqlSessionStore`, shared with the back office.)

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mamori_pay::{ReplayGuard, ReplayGuardError};
use mamori_store::Records;

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
