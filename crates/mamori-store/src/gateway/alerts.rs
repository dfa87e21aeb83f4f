//! Alerts of the guard: stored with their mail sealed under the system key and their webhook
//! queued in one transaction, and recorded in the ledger. Called by `mamori_guard::Alerts::raise`,
//! the one place alerts are raised.

use super::*;
use crate::store::{AlertRaised, NewAlertRow};

impl Gateway {
    /// Stores an occurrence of a condition ([`crate::store::AlertStore::alert_raise`]): a new
    /// alert queues `mails` (sealed like [`Gateway::queue_system_mail`]: they are to staff, about
    /// no customer) and `webhook_body` in the same transaction and is then recorded in the ledger
    /// as an [`Action::Alert`] (purpose `alert:<kind>`, the alert id as request id, the subject as
    /// channel, `customers` named when the subject is a customer); a repeat of an ongoing alert
    /// only counts and records nothing. If the ledger cannot record, the alert stays stored (and
    /// its mail queued) and the error is returned.
    pub async fn raise_alert(
        &self,
        alert: &NewAlertRow,
        customers: Vec<String>,
        mails: &[MailDraft],
        webhook_body: Option<&str>,
    ) -> Result<AlertRaised> {
        let key = self.keys.load().system_data_key(UNLINKED_MAIL_KEY)?;
        let mut rows = Vec::with_capacity(mails.len());
        for mail in mails {
            let id = new_id();
            let payload_ct = codec::seal(&key, MAIL_TABLE, PAYLOAD_COLUMN, &id, &mail.payload)?;
            rows.push(OutboxRow {
                id,
                customer_id: None,
                kind: mail.kind.clone(),
                payload_ct,
                created_at: alert.at,
                next_attempt_at: alert.at,
            });
        }
        let raised = self.store.alert_raise(alert, &rows, webhook_body).await?;
        if raised.new {
            let acc = Accessor {
                principal: crate::access::Principal::System("guard".to_owned()),
                purpose: format!("alert:{}", alert.kind),
                request_id: raised.id.clone(),
                channel: Some(alert.subject.clone()),
                reason: None,
            };
            self.record(&acc, Action::Alert, customers, &[]).await?;
        }
        Ok(raised)
    }
}
