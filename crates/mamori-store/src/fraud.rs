//! Card testing (クレジットマスター) and credential stuffing: the counts, the thresholds and the
//! decisions, over the store's [`FraudStore`] so that every `mamori serve` on one database
//! counts together.
//!
//! **Card testing.** Every card payment the checkout creates at the provider is recorded with
//! its client (a keyed hash of the address, IPv6 by /64) and session (a keyed hash of the
//! session's id) before the browser is sent there ([`FraudWatch::card_started`]). When the
//! provider's answer arrives (its webhook or the return's lookup), the card's fingerprint and a
//! decline are recorded ([`FraudWatch::card_outcome`]). Before creating the next payment the
//! checkout asks [`FraudWatch::card_check`]: declines in a sliding window per address, per
//! session, per card this client tried, and shop-wide, against [`CardTestingConfig`]. A client
//! past a threshold is refused a card payment (other methods stay offered); past the shop-wide
//! threshold every card attempt takes an extra step. Crossing a threshold raises `card.testing`
//! through the [`FraudAlarm`] (the guard's one alert model, de-duplicated per condition).
//!
//! **Credential stuffing.** Every failed sign-in is recorded with its source (keyed hash of the
//! address) and account (keyed hash of the name typed) ([`FraudWatch::login_failed`]). A source
//! whose failures in the window span [`StuffingConfig::accounts`] distinct accounts raises
//! `login.stuffing` and is refused further sign-ins until the window has passed
//! ([`FraudWatch::login_allowed`]). A member mistyping their own password is one account.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::error::Result;
use crate::store::{CardAttempt, DeclineCounts, DeclineSince, Records};

/// How long card attempts and failed sign-ins are kept (for the windows and the per-hour counts
/// the security dashboard shows).
pub const KEEP_SECS: i64 = 7 * 24 * 3600;

/// At most `max` in `secs` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Reaching it trips the threshold.
    pub max: i64,
    /// The sliding window's length.
    pub secs: i64,
}

/// Card-testing thresholds. The defaults leave an honest customer with a few declines alone (a
/// mistyped expiry, a card over its limit, a second card) and stop a script within one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardTestingConfig {
    /// Declines per client address (default 20 per hour).
    pub ip: Window,
    /// Declines per session (default 10 per hour).
    pub session: Window,
    /// Declines of one card, from any address, for the clients that tried it (default 5 per day).
    pub fingerprint: Window,
    /// Declines in the whole shop, the sign of a distributed attack (default 50 per 10 minutes):
    /// every card attempt then takes an extra step.
    pub shop: Window,
    /// The extra step's delay, in seconds, before a confirmed attempt goes to the provider
    /// (default 5).
    pub shop_delay_secs: u64,
}

impl Default for CardTestingConfig {
    fn default() -> Self {
        Self {
            ip: Window {
                max: 20,
                secs: 3600,
            },
            session: Window {
                max: 10,
                secs: 3600,
            },
            fingerprint: Window {
                max: 5,
                secs: 24 * 3600,
            },
            shop: Window { max: 50, secs: 600 },
            shop_delay_secs: 5,
        }
    }
}

/// Credential-stuffing threshold: failed sign-ins from one source to this many distinct
/// accounts within the window (default 10 per hour).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StuffingConfig {
    /// Distinct accounts.
    pub accounts: i64,
    /// The window, in seconds.
    pub window_secs: i64,
}

impl Default for StuffingConfig {
    fn default() -> Self {
        Self {
            accounts: 10,
            window_secs: 3600,
        }
    }
}

/// Both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FraudConfig {
    /// Card testing.
    pub card: CardTestingConfig,
    /// Credential stuffing.
    pub stuffing: StuffingConfig,
}

/// What a card-testing threshold counts per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardScope {
    /// A client address.
    Ip,
    /// A session.
    Session,
    /// A card (fingerprint) the client tried.
    Fingerprint,
    /// The whole shop.
    Shop,
}

impl CardScope {
    /// `ip`, `session`, `fingerprint`, `shop`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CardScope::Ip => "ip",
            CardScope::Session => "session",
            CardScope::Fingerprint => "fingerprint",
            CardScope::Shop => "shop",
        }
    }
}

/// What the watch raises. Keyed hashes and counts only: no address, no account name, no card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FraudEvent {
    /// Declines past a card-testing threshold.
    CardTesting {
        /// Per what.
        scope: CardScope,
        /// The keyed hash counted (`shop` for the shop).
        key: String,
        /// Declines in the window.
        declines: i64,
        /// The threshold.
        limit: i64,
        /// The window (seconds).
        window_secs: i64,
        /// Whether a card payment was just refused (else the decline that crossed it).
        refused: bool,
    },
    /// Failed sign-ins to many accounts from one source.
    LoginStuffing {
        /// `member` or `staff`.
        realm: String,
        /// The source's keyed hash.
        source: String,
        /// Distinct accounts in the window.
        accounts: i64,
        /// Failures in the window.
        failures: i64,
        /// The threshold (accounts).
        limit: i64,
        /// The window (seconds).
        window_secs: i64,
    },
}

/// Where the watch's detections become alerts: implemented by `mamori_guard` over its one
/// `Alerts::raise` (the guard sits above the store and the shop).
#[async_trait]
pub trait FraudAlarm: Send + Sync {
    /// Raises `event`; errors are the alarm's to log (the refusal stands either way).
    async fn raise(&self, event: FraudEvent);
}

/// Who asks for a card payment: keyed hashes from [`crate::Gateway::fraud_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardClient {
    /// The client address's key.
    pub ip_key: String,
    /// The session's key.
    pub session_key: String,
}

/// The checkout's answer before it creates a card payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardVerdict {
    /// Go to the provider.
    Allow,
    /// The shop is under attack: confirm on a fresh page, wait, then go.
    ExtraStep,
    /// This client is stopped (card payment only; other methods stay offered).
    Refuse(CardScope),
}

/// The counts and decisions (cheap to clone).
#[derive(Clone)]
pub struct FraudWatch {
    records: Arc<dyn Records>,
    config: FraudConfig,
    alarm: Option<Arc<dyn FraudAlarm>>,
}

impl std::fmt::Debug for FraudWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FraudWatch")
            .field("config", &self.config)
            .field("alarm", &self.alarm.is_some())
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    Utc::now().timestamp()
}

impl FraudWatch {
    /// A watch over `records` with `config` and no alarm (the binary and tests add the guard's).
    pub fn new(records: Arc<dyn Records>, config: FraudConfig) -> Self {
        Self {
            records,
            config,
            alarm: None,
        }
    }

    /// Raises through `alarm`.
    #[must_use]
    pub fn with_alarm(mut self, alarm: Arc<dyn FraudAlarm>) -> Self {
        self.alarm = Some(alarm);
        self
    }

    /// The thresholds.
    pub fn config(&self) -> &FraudConfig {
        &self.config
    }

    async fn raise(&self, event: FraudEvent) {
        if let Some(alarm) = &self.alarm {
            alarm.raise(event).await;
        }
    }

    async fn counts(&self, client: &CardClient, at: i64) -> Result<DeclineCounts> {
        let c = &self.config.card;
        self.records
            .card_decline_counts(
                &client.ip_key,
                &client.session_key,
                DeclineSince {
                    ip: at - c.ip.secs,
                    session: at - c.session.secs,
                    fingerprint: at - c.fingerprint.secs,
                    shop: at - c.shop.secs,
                },
            )
            .await
    }

    /// The thresholds `counts` reaches, with the key each is about (the client's address, its
    /// session, the card when known, the shop).
    fn tripped(
        &self,
        client: &CardClient,
        fingerprint: Option<&str>,
        counts: DeclineCounts,
    ) -> Vec<(CardScope, String, i64, Window)> {
        let c = &self.config.card;
        [
            (CardScope::Ip, client.ip_key.clone(), counts.ip, c.ip),
            (
                CardScope::Session,
                client.session_key.clone(),
                counts.session,
                c.session,
            ),
            (
                CardScope::Fingerprint,
                fingerprint.unwrap_or_default().to_owned(),
                counts.fingerprint,
                c.fingerprint,
            ),
            (CardScope::Shop, "shop".to_owned(), counts.shop, c.shop),
        ]
        .into_iter()
        .filter(|(_, _, n, w)| *n >= w.max)
        .collect()
    }

    /// Whether `client` may start a card payment now. A refusal for the client's address or
    /// session raises `card.testing` again (the open alert's count goes up); a card's alert was
    /// raised by the decline that crossed its threshold, keyed by the card, which a client
    /// asking to pay does not name.
    pub async fn card_check(&self, client: &CardClient) -> Result<CardVerdict> {
        let at = now();
        let counts = self.counts(client, at).await?;
        let mut verdict = CardVerdict::Allow;
        for (scope, key, declines, w) in self.tripped(client, None, counts) {
            match scope {
                CardScope::Shop => {
                    if verdict == CardVerdict::Allow {
                        verdict = CardVerdict::ExtraStep;
                    }
                }
                CardScope::Fingerprint => verdict = CardVerdict::Refuse(scope),
                CardScope::Ip | CardScope::Session => {
                    verdict = CardVerdict::Refuse(scope);
                    self.raise(FraudEvent::CardTesting {
                        scope,
                        key,
                        declines,
                        limit: w.max,
                        window_secs: w.secs,
                        refused: true,
                    })
                    .await;
                }
            }
        }
        Ok(verdict)
    }

    /// Records that the checkout created `payment_id` at the provider for `client`.
    pub async fn card_started(&self, payment_id: &str, client: &CardClient) -> Result<()> {
        self.records
            .card_attempt_start(payment_id, &client.ip_key, &client.session_key, now())
            .await
    }

    /// Records the provider's answer about `payment_id` (fingerprint, decline). A decline that
    /// takes its client, session, card or the shop to a threshold raises `card.testing`.
    pub async fn card_outcome(
        &self,
        payment_id: &str,
        fingerprint: Option<&str>,
        declined: bool,
    ) -> Result<()> {
        let at = now();
        let Some((row, newly)) = self
            .records
            .card_attempt_outcome(payment_id, fingerprint, declined.then_some(at))
            .await?
        else {
            return Ok(());
        };
        if !newly {
            return Ok(());
        }
        let CardAttempt {
            ip_key,
            session_key,
            fingerprint,
            ..
        } = row;
        let client = CardClient {
            ip_key,
            session_key,
        };
        let counts = self.counts(&client, at).await?;
        for (scope, key, declines, w) in self.tripped(&client, fingerprint.as_deref(), counts) {
            if scope == CardScope::Fingerprint && key.is_empty() {
                continue;
            }
            self.raise(FraudEvent::CardTesting {
                scope,
                key,
                declines,
                limit: w.max,
                window_secs: w.secs,
                refused: false,
            })
            .await;
        }
        Ok(())
    }

    /// Whether `source` may try to sign in to `realm` now: false while its failures in the window
    /// span the threshold's distinct accounts (it raises `login.stuffing` again, which only bumps
    /// the open alert).
    pub async fn login_allowed(&self, realm: &str, source: &str) -> Result<bool> {
        let s = self.config.stuffing;
        let (failures, accounts) = self
            .records
            .login_failures_from(realm, source, now() - s.window_secs)
            .await?;
        if accounts < s.accounts {
            return Ok(true);
        }
        self.raise(FraudEvent::LoginStuffing {
            realm: realm.to_owned(),
            source: source.to_owned(),
            accounts,
            failures,
            limit: s.accounts,
            window_secs: s.window_secs,
        })
        .await;
        Ok(false)
    }

    /// Records a failed sign-in; raises `login.stuffing` when the source reaches the threshold.
    pub async fn login_failed(&self, realm: &str, source: &str, account: &str) -> Result<()> {
        let at = now();
        self.records
            .login_failure_record(realm, source, account, at)
            .await?;
        let s = self.config.stuffing;
        let (failures, accounts) = self
            .records
            .login_failures_from(realm, source, at - s.window_secs)
            .await?;
        if accounts >= s.accounts {
            self.raise(FraudEvent::LoginStuffing {
                realm: realm.to_owned(),
                source: source.to_owned(),
                accounts,
                failures,
                limit: s.accounts,
                window_secs: s.window_secs,
            })
            .await;
        }
        Ok(())
    }
}
