//! The outbox as the mail worker sees it: [`SqlOutbox`] implements `mamori_mail`'s
//! [`OutboxStore`] over the store, opening each claimed row through the gateway.
//!
//! A queued mail is personal data (it names the customer, often their address), so it is sealed
//! with the customer's data key, and the worker's read of each mail is an access event on the
//! ledger like any other ([`Gateway::open_mail`]).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mamori_mail::outbox::{
    Claim, ClaimedMail, FailureOutcome, FailureRecord, OutboxError, OutboxStore,
};
use mamori_mail::OutgoingMail;

use super::Gateway;
use crate::access::Accessor;
use crate::error::StoreError;

/// The outbox over the SQL store, opened through the gateway.
#[derive(Clone, Debug)]
pub struct SqlOutbox {
    gateway: Gateway,
}

impl SqlOutbox {
    /// The outbox of `gateway`'s store.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

fn store_err(err: StoreError) -> OutboxError {
    // Store errors name tables and kinds, never values.
    OutboxError::Store(err.to_string())
}

fn secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

#[async_trait]
impl OutboxStore for SqlOutbox {
    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<ClaimedMail>, OutboxError> {
        let store = self.gateway.records();
        let rows = store
            .outbox_claim(
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(lease.as_secs()).unwrap_or(i64::MAX),
                secs(now),
            )
            .await
            .map_err(store_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let acc = Accessor::system("mail-worker", "mail.deliver");
            let claim = Claim {
                mail_id: uuid::Uuid::parse_str(&row.id).unwrap_or_default(),
                token: uuid::Uuid::parse_str(&row.token).unwrap_or_default(),
                attempt: u32::try_from(row.attempt).unwrap_or(u32::MAX),
                lease_until: DateTime::from_timestamp(row.lease_until, 0).unwrap_or(now),
            };
            let opened = self.gateway.open_mail(&acc, &row).await;
            let mail = match opened {
                Ok(bytes) => OutgoingMail::from_payload(&bytes).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match mail {
                Ok(mail) => out.push(ClaimedMail { claim, mail }),
                Err(reason) => {
                    // Erased customer or damaged payload: nothing can ever be sent; give up now.
                    tracing::warn!(mail_id = %row.id, %reason, "queued mail cannot be opened");
                    store
                        .outbox_mark_failed(&row.id, &row.token, None, "unreadable")
                        .await
                        .map_err(store_err)?;
                }
            }
        }
        Ok(out)
    }

    async fn mark_sent(&self, claim: &Claim, at: DateTime<Utc>) -> Result<(), OutboxError> {
        self.gateway
            .records()
            .outbox_mark_sent(&claim.mail_id.to_string(), secs(at))
            .await
            .map_err(store_err)
    }

    async fn mark_failed(&self, claim: &Claim, failure: &FailureRecord) -> Result<(), OutboxError> {
        let next = match &failure.outcome {
            FailureOutcome::RetryAt(t) => Some(secs(*t)),
            FailureOutcome::Dead => None,
        };
        self.gateway
            .records()
            .outbox_mark_failed(
                &claim.mail_id.to_string(),
                &claim.token.to_string(),
                next,
                &failure.reason,
            )
            .await
            .map_err(store_err)
    }

    async fn release(&self, claim: &Claim) -> Result<(), OutboxError> {
        self.gateway
            .records()
            .outbox_release(&claim.mail_id.to_string(), &claim.token.to_string())
            .await
            .map_err(store_err)
    }
}
