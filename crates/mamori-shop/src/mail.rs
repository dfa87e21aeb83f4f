//! The shop's mail: drafts sealed into the outbox in the same transaction as the change that
//! causes them, and the outbox as the mail worker sees it.
//!
//! A queued mail is personal data (it names the customer, often their address), so the gateway
//! seals it with the customer's data key: withdrawing erases queued mail too, and the worker's read
//! of each mail is an access event on the ledger like any other.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::{header, HeaderMap};
use mamori_mail::{
    account::{browser_summary, ChangeContext},
    outbox::{Claim, ClaimedMail, FailureOutcome, FailureRecord, OutboxError, OutboxStore},
    MailContent, OutgoingMail, Recipient,
};
use mamori_store::{gateway::MailDraft, Accessor, Gateway, StoreError};

use crate::state::to_jst;

/// Makes a draft of `content` to `to` for the outbox, tagged with `kind` (`order-confirmation`,
/// `password-changed`, ...). Fails only when the address cannot be a mail recipient.
pub fn draft(
    kind: &str,
    to: &str,
    name: Option<&str>,
    content: MailContent,
) -> Result<MailDraft, mamori_mail::ComposeError> {
    let mut rcpt = Recipient::new(to)?;
    if let Some(n) = name {
        rcpt = rcpt.with_name(n);
    }
    let mail = OutgoingMail::from_content(rcpt, content).with_header("X-Mamori-Kind", kind);
    Ok(MailDraft {
        kind: kind.to_owned(),
        payload: mail.to_payload(),
    })
}

/// When and from where a change was made, for the notice mail: JST time, the client's address and
/// a short browser description (never the raw `User-Agent`).
pub fn change_context(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> ChangeContext {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ChangeContext {
        at: to_jst(Utc::now()),
        ip: ip.map_or_else(|| "-".to_owned(), |i| i.to_string()),
        browser: browser_summary(ua),
    }
}

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
