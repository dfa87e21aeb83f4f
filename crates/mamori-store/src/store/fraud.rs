//! Fraud signals' area of the store (migration `0022_fraud_signals.sql`): card payments the
//! checkout created with who asked for them and how they ended (`card_attempts`), and failed
//! sign-ins (`login_failures`). What [`crate::fraud`] counts to notice card testing and
//! credential stuffing. Keys only: keyed hashes of addresses, sessions and account names, the
//! provider's card fingerprints; never a personal value, a plain address or a card number.

use async_trait::async_trait;

use crate::error::Result;

/// Declines within each window, as [`FraudStore::card_decline_counts`] counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeclineCounts {
    /// Declines of this client address.
    pub ip: i64,
    /// Declines of this session.
    pub session: i64,
    /// Declines of the most-declined card this client or session tried.
    pub fingerprint: i64,
    /// Declines in the whole shop.
    pub shop: i64,
}

/// The windows' starts (Unix seconds, inclusive) of a [`DeclineCounts`] query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclineSince {
    /// For [`DeclineCounts::ip`].
    pub ip: i64,
    /// For [`DeclineCounts::session`].
    pub session: i64,
    /// For [`DeclineCounts::fingerprint`].
    pub fingerprint: i64,
    /// For [`DeclineCounts::shop`].
    pub shop: i64,
}

/// One card payment attempt as counted.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CardAttempt {
    /// The provider's payment id.
    pub payment_id: String,
    /// Keyed hash of the client's address.
    pub ip_key: String,
    /// Keyed hash of the session.
    pub session_key: String,
    /// The provider's card fingerprint, once known.
    pub fingerprint: Option<String>,
    /// When the checkout created it.
    pub created_at: i64,
    /// When the provider's decline was learnt.
    pub declined_at: Option<i64>,
}

/// Counts of one hour (its start, Unix seconds, a multiple of 3600).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct HourCount {
    /// The hour's start.
    pub hour: i64,
    /// What happened in it.
    pub count: i64,
}

/// Card attempts and failed sign-ins (part of [`crate::Records`]: nothing personal).
#[async_trait]
pub trait FraudStore: Send + Sync {
    /// Records that the checkout created `payment_id` for this client; a repeat changes nothing.
    async fn card_attempt_start(
        &self,
        payment_id: &str,
        ip_key: &str,
        session_key: &str,
        at: i64,
    ) -> Result<()>;

    /// Records what the provider said about `payment_id`: its card's fingerprint (kept once
    /// known) and, when `declined_at` is given, that it was declined (the first time counts).
    /// Returns the row and whether this call recorded the decline; None for a payment the
    /// checkout did not record (made before this table).
    async fn card_attempt_outcome(
        &self,
        payment_id: &str,
        fingerprint: Option<&str>,
        declined_at: Option<i64>,
    ) -> Result<Option<(CardAttempt, bool)>>;

    /// Declines per client address, session, their most-declined card and the shop, since the
    /// given times. One statement, four indexed counts.
    async fn card_decline_counts(
        &self,
        ip_key: &str,
        session_key: &str,
        since: DeclineSince,
    ) -> Result<DeclineCounts>;

    /// Declines per hour since `since` (hours with none are left out), oldest first.
    async fn card_declines_per_hour(&self, since: i64) -> Result<Vec<HourCount>>;

    /// Records a failed sign-in.
    async fn login_failure_record(
        &self,
        realm: &str,
        source: &str,
        account: &str,
        at: i64,
    ) -> Result<()>;

    /// Failed sign-ins of `realm` from `source` since `since`: (failures, distinct accounts).
    async fn login_failures_from(
        &self,
        realm: &str,
        source: &str,
        since: i64,
    ) -> Result<(i64, i64)>;

    /// Failed sign-ins of `realm` per hour since `since`, oldest first.
    async fn login_failures_per_hour(&self, realm: &str, since: i64) -> Result<Vec<HourCount>>;

    /// Deletes attempts created and failures made before `before`; how many rows.
    async fn fraud_prune(&self, before: i64) -> Result<u64>;
}
