//! The back office's shared state.

use std::sync::Arc;

use chrono::DateTime;
use mamori_pay::PaymentConnector;
use mamori_staff::StaffAuth;
use mamori_store::{Gateway, Records};
use mamori_web::{clock::Clock, ratelimit::RateLimitRule};

use crate::config::BackofficeConfig;

pub use mamori_domain::time::jst;

/// Unix seconds as `YYYY-MM-DD HH:MM` in JST (`-` for an out-of-range value).
pub fn fmt_secs(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// Microseconds since the epoch as `YYYY-MM-DD HH:MM` in JST.
pub fn fmt_us(us: i64) -> String {
    fmt_secs(us.div_euclid(1_000_000))
}

/// Rate limits of the back office (on top of the per-account lockout of `mamori-staff`).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Password and second-factor attempts per client IP.
    pub login_ip: RateLimitRule,
    /// CSV exports per staff member.
    pub export: RateLimitRule,
    /// Reveals of masked fields per staff member.
    pub reveal: RateLimitRule,
}

/// Everything a handler may use. Cheap to clone (`Arc` inside).
#[derive(Clone)]
pub struct BackofficeState {
    /// The personal-data gateway: the only way to customers' plaintext.
    pub gateway: Gateway,
    /// The store, for what holds no customer value (staff, products, order headers, settings).
    pub store: Arc<dyn Records>,
    /// Staff sign-in, factors and staff management rules.
    pub auth: Arc<StaffAuth>,
    /// The payment provider (cancel and refund of card orders).
    pub psp: Arc<dyn PaymentConnector>,
    /// Settings.
    pub config: Arc<BackofficeConfig>,
    /// Rate limits.
    pub limits: Limits,
    /// The watch over the shop's files, once `mamori serve` started it (the approval of a new
    /// baseline needs it); unset, the guard page says there is none.
    pub guard: Arc<std::sync::OnceLock<Arc<mamori_guard::files::FileGuard>>>,
    /// The script inventory, once `mamori serve` loaded it (a change reinstalls the shop's
    /// allow-list at once); unset, the inventory is shown but cannot be changed.
    pub scripts: Arc<std::sync::OnceLock<mamori_guard::inventory::ScriptInventory>>,
    /// Time (sessions, step-up freshness, rate limits, staff log).
    pub clock: Arc<dyn Clock>,
    /// The incident desk's switches as this process knows them (`mamori serve` refreshes them
    /// from the store and hands the shop its maintenance switch): staff frozen is checked on
    /// every request.
    pub switches: mamori_respond::Switchboard,
    /// Credential-stuffing counts of staff sign-ins, once `mamori serve` set them (shared with
    /// the shop's, in the database); unset, failed sign-ins are limited by the rate limits and
    /// the per-account lockout only.
    pub fraud: Arc<std::sync::OnceLock<mamori_store::fraud::FraudWatch>>,
}

impl std::fmt::Debug for BackofficeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackofficeState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BackofficeState {
    /// Now, in Unix seconds, from the state's clock.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }
}
