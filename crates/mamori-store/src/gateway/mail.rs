//! Mail in the outbox: sealing drafts with the customer's key (or a system key) and opening them for the worker.

use super::*;

impl Gateway {
    // ---- The shop: mail, orders' states, account changes, tokens, login. ----
    /// Queues a mail to a customer on its own (no other change with it): seals the payload with
    /// their data key and returns the outbox row id. Recorded as a write of
    /// [`fields::MAIL`].
    pub async fn queue_mail(
        &self,
        acc: &Accessor,
        customer_id: &str,
        mail: MailDraft,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &[fields::MAIL],
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        let rows = mail_rows(&key, customer_id, Some(&mail))?;
        self.store.outbox_enqueue(&rows).await?;
        Ok(rows.into_iter().map(|r| r.id).next().unwrap_or_default())
    }

    /// Queues a mail that must outlive the customer's data key: the confirmation of a withdrawal,
    /// sent after the key is destroyed. Sealed under a system key and stored without a customer
    /// id, so erasing the customer does not empty it. Recorded as a write naming the customer.
    pub async fn queue_unlinked_mail(
        &self,
        acc: &Accessor,
        about_customer: &str,
        mail: MailDraft,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![about_customer.to_owned()],
            &[fields::MAIL],
        )
        .await?;
        self.queue_system_mail(mail).await
    }

    /// Queues a mail that is about no customer (e.g. a notice to a member of staff): sealed under
    /// the system key the outbox worker opens unlinked mail with, at `mail_outbox/payload/<row
    /// id>`, and stored without a customer id; returns the row id. Records nothing (no
    /// customer's data is written; the worker's open is recorded as usual). Mail about a
    /// customer goes through [`Gateway::queue_unlinked_mail`], which records the write first.
    pub async fn queue_system_mail(&self, mail: MailDraft) -> Result<String> {
        let key = self.keys.load().system_data_key(UNLINKED_MAIL_KEY)?;
        let id = new_id();
        let payload_ct = codec::seal(&key, MAIL_TABLE, PAYLOAD_COLUMN, &id, &mail.payload)?;
        let at = now();
        self.store
            .outbox_enqueue(&[OutboxRow {
                id: id.clone(),
                customer_id: None,
                kind: mail.kind.clone(),
                payload_ct,
                created_at: at,
                next_attempt_at: at,
            }])
            .await?;
        Ok(id)
    }

    /// Opens a claimed outbox row's payload for the mail worker. The read of [`fields::MAIL`]
    /// is recorded (one event) before anything is decrypted. [`StoreError::Erased`] once the
    /// customer was erased; [`StoreError::Vault`] for a row that does not open with its key.
    pub async fn open_mail(
        &self,
        acc: &Accessor,
        claim: &OutboxClaimRow,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let Some(customer_id) = claim.customer_id.as_deref() else {
            // A mail queued by `queue_unlinked_mail`: sealed under the system key.
            self.record(acc, Action::Read, Vec::new(), &[fields::MAIL])
                .await?;
            return self.open_system(
                UNLINKED_MAIL_KEY,
                MAIL_TABLE,
                PAYLOAD_COLUMN,
                &claim.id,
                &claim.payload_ct,
            );
        };
        // The wrapped key is fetched while the event commits; nothing is opened before that.
        let (key, recorded) = tokio::join!(
            self.data_key(customer_id),
            self.record(
                acc,
                Action::Read,
                vec![customer_id.to_owned()],
                &[fields::MAIL]
            ),
        );
        recorded?;
        let key = key?;
        if claim.payload_ct.is_empty() {
            return Err(StoreError::Erased(customer_id.to_owned()));
        }
        codec::open_bytes(
            &key,
            MAIL_TABLE,
            PAYLOAD_COLUMN,
            &claim.id,
            &claim.payload_ct,
        )
    }
}
