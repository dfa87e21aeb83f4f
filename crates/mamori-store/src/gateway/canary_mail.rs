//! Phishing canaries: mail received for the canary domain. Which canary an address belongs to is
//! found by the member email blind index (as login finds a member), never by opening every
//! customer; the message is kept sealed with the canaries it was sent to, and opening it again is
//! recorded on the ledger as a read of those canaries.

use super::*;
use crate::store::CanaryMailRow;

/// The canary-mail system key's purpose.
const CANARY_MAIL_KEY: &str = "guard.canary_mail";
/// Table and column the evidence is sealed at.
const CANARY_MAIL_TABLE: &str = "canary_mails";

/// A received message kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryMailRecorded {
    /// Its row id.
    pub id: String,
    /// SHA-256 of the raw message (hex).
    pub sha256: String,
}

/// A received message opened again (incident desk): the canaries it was sent to and its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CanaryMailOpened {
    /// The stored row (kind, time, hash, size).
    pub row: CanaryMailRow,
    /// The canary customer ids among its recipients.
    pub canaries: Vec<String>,
    /// The raw message as received.
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for CanaryMailOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanaryMailOpened")
            .field("id", &self.row.id)
            .field("canaries", &self.canaries)
            .field("size", &self.raw.len())
            .finish()
    }
}

/// A received message as the back office lists it: no address, no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryMailHead {
    /// Its row id (opened with [`Gateway::canary_mail_open`]).
    pub id: String,
    /// `canary` or `other`.
    pub kind: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// Size in bytes.
    pub size: i64,
    /// How many canaries were among its recipients.
    pub canaries: usize,
    /// The domain of its `From:` header (lowercase), if it has one: the sender's, not a
    /// customer's.
    pub from_domain: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    canaries: Vec<String>,
    raw: String,
}

impl Gateway {
    /// The canary customer an address belongs to, if it is a planted canary's: the member found
    /// by the address's blind index, then checked against the sealed canary marks. Hands out no
    /// personal value, so nothing is recorded.
    /// An address that is not a mailbox is no canary's.
    pub async fn canary_of_address(&self, address: &str) -> Result<Option<String>> {
        let Ok(email) = Email::parse(address) else {
            return Ok(None);
        };
        match self.find_member(&email).await? {
            Some(id) if self.is_canary(&id).await? => Ok(Some(id)),
            _ => Ok(None),
        }
    }

    /// Keeps a message received for the canary domain: `canaries` (its recipients that are
    /// canaries; empty: only made-up addresses) and the raw bytes, sealed together.
    pub async fn record_canary_mail(
        &self,
        canaries: &[String],
        raw: &[u8],
        received_at: i64,
    ) -> Result<CanaryMailRecorded> {
        let key = self.keys.load().system_data_key(CANARY_MAIL_KEY)?;
        let id = new_id();
        let plain = serde_json::to_vec(&Sealed {
            canaries: canaries.to_vec(),
            raw: URL_SAFE_NO_PAD.encode(raw),
        })
        .map_err(|_| StoreError::Internal {
            what: "canary mail could not be encoded",
        })?;
        let sealed = codec::seal(&key, CANARY_MAIL_TABLE, "sealed", &id, &plain)?;
        let sha256 = hex::encode(Sha256::digest(raw));
        let row = CanaryMailRow {
            id: id.clone(),
            kind: if canaries.is_empty() {
                "other"
            } else {
                "canary"
            }
            .to_owned(),
            received_at,
            sha256: sha256.clone(),
            size: i64::try_from(raw.len()).unwrap_or(i64::MAX),
            sealed,
        };
        self.store.canary_mail_insert(&row).await?;
        Ok(CanaryMailRecorded { id, sha256 })
    }

    /// Kept messages, newest first, one page, and how many there are: how many canaries each
    /// went to and its `From:` domain, opened here and handed out without the canaries' ids, the
    /// recipients or the body, so nothing is recorded (as [`Gateway::canary_of_address`]).
    /// Opening a message itself is [`Gateway::canary_mail_open`], on the ledger.
    pub async fn canary_mail_heads(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<CanaryMailHead>, i64)> {
        let (rows, total) = self.store.canary_mails_page(offset, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (canaries, raw) = self.open_canary_mail(&row)?;
            let from_domain = mail_parser::MessageParser::default()
                .parse_headers(&raw[..])
                .and_then(|m| {
                    m.from()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .and_then(|a| a.rsplit_once('@'))
                        .map(|(_, d)| d.trim().to_ascii_lowercase())
                });
            out.push(CanaryMailHead {
                id: row.id,
                kind: row.kind,
                received_at: row.received_at,
                size: row.size,
                canaries: canaries.len(),
                from_domain,
            });
        }
        Ok((out, total))
    }

    /// The canaries and raw bytes sealed in `row`.
    fn open_canary_mail(&self, row: &CanaryMailRow) -> Result<(Vec<String>, Vec<u8>)> {
        // Under the active master key or an older one (mail kept before a rotation).
        let plain = self.open_system(
            CANARY_MAIL_KEY,
            CANARY_MAIL_TABLE,
            "sealed",
            &row.id,
            &row.sealed,
        )?;
        let malformed = || StoreError::Malformed {
            table: CANARY_MAIL_TABLE,
            column: "sealed",
        };
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| malformed())?;
        let raw = URL_SAFE_NO_PAD
            .decode(sealed.raw.as_bytes())
            .map_err(|_| malformed())?;
        Ok((sealed.canaries, raw))
    }

    /// Opens a kept message for `acc` (the incident desk). Recorded on the ledger as a read of
    /// the canaries it was sent to before the bytes are handed out; the read budgets are not
    /// charged and no `canary.read` is raised (the canaries' own data is not opened).
    pub async fn canary_mail_open(&self, acc: &Accessor, id: &str) -> Result<CanaryMailOpened> {
        let row = self
            .store
            .canary_mail(id)
            .await?
            .ok_or(StoreError::NotFound {
                what: "canary mail",
            })?;
        let (canaries, raw) = self.open_canary_mail(&row)?;
        self.ledger
            .record(&AccessEvent::new(
                acc,
                Action::Read,
                canaries.clone(),
                &["canary_mail.raw"],
            ))
            .await?;
        Ok(CanaryMailOpened { row, canaries, raw })
    }
}
