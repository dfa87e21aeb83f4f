//! The shop's shared state and configuration.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use mamori_mail::template::ShopInfo;
use mamori_pay::{url::Url, PaymentConnector, WebhookVerifier};
use mamori_store::{Gateway, Records};
use mamori_web::{
    clock::Clock,
    ratelimit::{RateLimitRule, RateLimiter},
};

pub use mamori_domain::time::jst;

/// `now` in JST.
pub fn to_jst(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&jst())
}

/// What the shop says about itself.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    /// Shop name on every page and mail (`守り商店`).
    pub shop_name: String,
    /// Where customers reach the shop (`https://shop.example.jp/`); links in mail are built on it.
    pub public_url: Url,
    /// 適格請求書発行事業者登録番号 (`T` + 13 digits), printed on receipts.
    pub registration_number: String,
    /// Operator name printed on receipts (`守り商店株式会社`).
    pub legal_name: String,
    /// Support address (mail `Reply-To`, notices).
    pub support_email: String,
    /// The payment provider's browser-facing origin: checkout may post there (CSP `form-action`).
    pub provider_origin: Url,
    /// Bank account shown for bank transfers.
    pub bank_account: String,
    /// Flat shipping fee, tax included (standard rate).
    pub shipping_fee: i64,
    /// Orders at or above this amount ship free.
    pub free_shipping_from: i64,
    /// Days between order and the earliest delivery date.
    pub delivery_lead_days: u32,
    /// How long catalogue reads ([`crate::cache`]) and opened sessions are cached; zero turns
    /// both caches off.
    pub cache_ttl: std::time::Duration,
}

impl ShopConfig {
    /// The shop as its mail signs.
    pub fn mail_shop(&self) -> ShopInfo {
        ShopInfo {
            name: self.shop_name.clone(),
            url: self.public_url.to_string(),
            support_email: self.support_email.clone(),
        }
    }

    /// An absolute URL for `path` on the shop (`/confirm?token=...`).
    pub fn link(&self, path_and_query: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path_and_query}")
    }
}

/// Rate limits of the sensitive forms.
#[derive(Clone)]
pub struct Limits {
    /// Login attempts per client IP.
    pub login_ip: RateLimitRule,
    /// Login attempts per account (keyed by the email's blind index, never the address):
    /// against credential stuffing spread over many IPs.
    pub login_account: Arc<RateLimiter>,
    /// Registrations per client IP.
    pub register_ip: RateLimitRule,
    /// Password-reset requests per client IP.
    pub reset_ip: RateLimitRule,
    /// Payment attempts per session: against card testing.
    pub payment_session: RateLimitRule,
    /// Payment attempts per client IP.
    pub payment_ip: RateLimitRule,
    /// Inquiries sent per client IP ([`crate::inquiry`]); checked in the handler, which answers
    /// its own 429 page.
    pub inquiry_ip: RateLimitRule,
    /// Inquiries sent shop-wide (one bucket for every client): against a flood from many
    /// addresses filling the desk.
    pub inquiry_shop: Arc<RateLimiter>,
}

/// Everything a handler may use. Cheap to clone (`Arc` inside).
#[derive(Clone)]
pub struct ShopState {
    /// The catalogue as recently read.
    pub catalogue: crate::cache::CatalogueCache,
    /// The personal-data gateway: the only way to plaintext.
    pub gateway: Gateway,
    /// What the store answers without a personal value (catalogue, carts, order headers,
    /// payments): no customer row, no key, nothing to decrypt with.
    pub store: Arc<dyn Records>,
    /// The payment provider.
    pub psp: Arc<dyn PaymentConnector>,
    /// Webhook verification (signature, time window, replay guard).
    pub webhooks: Arc<WebhookVerifier>,
    /// Settings.
    pub config: Arc<ShopConfig>,
    /// Rate limits.
    pub limits: Limits,
    /// Card-testing and credential-stuffing counts and decisions (in the database, so several
    /// processes count together).
    pub fraud: mamori_store::fraud::FraudWatch,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The published public notice's banner, kept in memory and polled.
    pub notices: crate::oshirase::NoticeBoard,
}

impl std::fmt::Debug for ShopState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
