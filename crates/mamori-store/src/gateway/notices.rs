//! Notices to individuals of an incident (本人通知): each person's name and address read in
//! batches, the notice rendered by the caller and sealed into the outbox with its idempotency row.

use super::*;
use crate::store::NoticeRow;

/// The fields a notice run opens: whom to write to.
pub const NOTICE_READ_FIELDS: &[&str] = &[fields::NAME, fields::EMAIL];

/// One person of a notice batch, as the caller plans it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeTarget {
    /// The incident.
    pub incident_id: i64,
    /// The person.
    pub customer_id: String,
    /// The notice's id (the outbox row's id, UUIDv7).
    pub notice_id: String,
    /// 0-based position in the run.
    pub position: i64,
    /// When the mail worker may send it (Unix seconds): the run's rate.
    pub not_before: i64,
}

/// A person's name and address, opened for the renderer.
#[derive(Debug)]
pub struct NoticeContact<'a> {
    /// The target it belongs to.
    pub target: &'a NoticeTarget,
    /// The name (`山田 太郎`), when stored.
    pub name: Option<Personal<String>>,
    /// The email address.
    pub email: Personal<Email>,
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoticeBatchReport {
    /// Notices written now.
    pub queued: u64,
    /// Already queued (a resumed run): skipped, with nothing read.
    pub already: u64,
    /// No address to write to (erased, no email stored, or the renderer gave none).
    pub unreachable: u64,
    /// Canary customers (not people): left out, never read.
    pub canaries: u64,
}

impl Gateway {
    /// Queues the notices of one batch. Canaries are left out unread. The people not yet
    /// queued for the incident are read in ONE [`Action::Read`] event naming them
    /// ([`NOTICE_READ_FIELDS`], the accessor's purpose, normally `incident.notice`) before
    /// anything is opened; `render` makes each person's mail from their name and address (None:
    /// nothing to send); the mails are sealed with each person's data key, recorded as ONE
    /// [`Action::Write`] event of [`fields::MAIL`], and written with their notice rows in one
    /// transaction, where the key (incident, customer) makes a second notice to a person a no-op.
    pub async fn queue_notices<F>(
        &self,
        acc: &Accessor,
        batch: &[NoticeTarget],
        mut render: F,
    ) -> Result<NoticeBatchReport>
    where
        F: FnMut(&NoticeContact<'_>) -> Option<MailDraft>,
    {
        let mut report = NoticeBatchReport::default();
        let canaries = self.canary_ids().await?;
        let mut wanted = Vec::with_capacity(batch.len());
        for t in batch {
            if canaries.contains(&t.customer_id) {
                report.canaries += 1;
            } else {
                wanted.push(t);
            }
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        // Sealed rows and wrapped keys are fetched first; nothing is opened before the event.
        let mut rows = Vec::with_capacity(wanted.len());
        for t in wanted {
            let row = self.store.customer(&t.customer_id).await?;
            let key = self.store.customer_key(&t.customer_id).await?;
            match (row, key) {
                (Some(row), Some(key)) if row.erased_at.is_none() && row.email_ct.is_some() => {
                    rows.push((t, row, key));
                }
                _ => report.unreachable += 1,
            }
        }
        if rows.is_empty() {
            return Ok(report);
        }
        let ids: Vec<String> = rows.iter().map(|(t, _, _)| t.customer_id.clone()).collect();
        self.record(acc, Action::Read, ids.clone(), NOTICE_READ_FIELDS)
            .await?;
        let ring = self.keys.load_full();
        let at = now();
        let mut out = Vec::with_capacity(rows.len());
        for (t, row, key_row) in &rows {
            let wrapped = WrappedKey::from_bytes(&key_row.wrapped)?;
            let key = match ring.unwrap_data_key(&owner(&t.customer_id), &wrapped) {
                Ok(k) => k,
                // Re-wrapped by another process's rotation: the slow path reloads the key file.
                Err(VaultError::UnknownMasterKey(_)) => self.data_key(&t.customer_id).await?,
                Err(e) => return Err(e.into()),
            };
            let Some(email) =
                codec::open_email(&key, "customers", "email", &row.id, &row.email_ct)?
            else {
                report.unreachable += 1;
                continue;
            };
            let name = codec::open_name(&key, "customers", "name", &row.id, &row.name_ct)?
                .map(|n| Personal::new(n.full_name()));
            let contact = NoticeContact {
                target: t,
                name,
                email: Personal::new(email),
            };
            let Some(draft) = render(&contact) else {
                report.unreachable += 1;
                continue;
            };
            let payload_ct = codec::seal(
                &key,
                MAIL_TABLE,
                PAYLOAD_COLUMN,
                &t.notice_id,
                &draft.payload,
            )?;
            out.push((
                NoticeRow {
                    incident_id: t.incident_id,
                    customer_id: t.customer_id.clone(),
                    id: t.notice_id.clone(),
                    position: t.position,
                    queued_at: at,
                    bounce: None,
                    bounce_status: None,
                    bounced_at: None,
                },
                OutboxRow {
                    id: t.notice_id.clone(),
                    customer_id: Some(t.customer_id.clone()),
                    kind: draft.kind.clone(),
                    payload_ct,
                    created_at: at,
                    next_attempt_at: t.not_before,
                },
            ));
        }
        if out.is_empty() {
            return Ok(report);
        }
        let written: Vec<String> = out.iter().map(|(n, _)| n.customer_id.clone()).collect();
        self.record(acc, Action::Write, written, &[fields::MAIL])
            .await?;
        let n = self.store.notices_enqueue(&out).await?;
        report.queued += n;
        report.already += out.len() as u64 - n;
        Ok(report)
    }
}

/// The keyed-hash purpose of notices' bounce tags.
const NOTICE_BOUNCE_TAG: &str = "incident_notices.verp";

impl Gateway {
    /// The tag of a notice's VERP address: an HMAC-SHA256 of its id under the key file's
    /// blind-index key (its own purpose), so that no one without the key file can make the
    /// bounce address of another notice. Names no one; records nothing.
    pub fn notice_bounce_tag(&self, notice_id: &str) -> [u8; 32] {
        self.keys.load().blind_index(NOTICE_BOUNCE_TAG, notice_id)
    }
}
