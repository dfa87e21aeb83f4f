//! Payments for mamori in which **the card never touches mamori**.
//!
//! The customer types the card only on the payment provider's own page, on
//! the provider's own origin; the shop redirects there and back. mamori
//! keeps the provider's payment id, the card brand and the last four digits,
//! nothing else. An order becomes paid only on
//!
//! - a webhook whose HMAC-SHA256 signature and timestamp verify
//!   ([`WebhookVerifier`]) and whose event id was not seen before
//!   ([`ReplayGuard`]), or
//! - a server-to-server [`PaymentConnector::lookup`],
//!
//! and then only if [`PaymentInfo::settles`] the order's reference and
//! amount. The browser's return to the shop proves nothing by itself.
//!
//! # Parts
//!
//! - [`connector`]: the [`PaymentConnector`] trait (create, lookup, refund,
//!   cancel) and [`HttpConnector`], which speaks the protocol in
//!   `PROTOCOL.md` with a bearer API key.
//! - [`webhook`]: the signature scheme (`Mamori-Signature: t=<unix>,v1=<hex>`
//!   over `"{t}.{body}"`), [`WebhookVerifier`], [`ReplayGuard`] and
//!   [`MemoryReplayGuard`].
//! - [`sandbox`]: a real provider for development and tests, an axum server
//!   on its own port: JSON API, hosted card page (Japanese first, one script
//!   of the provider's own, `card.js`, strict CSP), test cards, 3-D Secure challenge, signed webhooks with
//!   retries. [`spawn_sandbox`] starts it in-process, [`run_sandbox`] from
//!   the command line ([`SandboxArgs`]).
//! - [`card`]: card-number normalisation (full-width digits, spaces,
//!   hyphens), Luhn, brand, expiry and security-code checks, used by the
//!   sandbox's form.
//!
//! # The shop's side, in short
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use mamori_pay::{CreatePayment, HttpConnector, MemoryReplayGuard, PaymentConnector, WebhookVerifier};
//! use secrecy::SecretString;
//! use url::Url;
//!
//! let psp = HttpConnector::new(
//!     Url::parse("http://127.0.0.1:8081/")?,
//!     SecretString::from("sk_sandbox_0123456789abcdef".to_owned()),
//! )?;
//! // Checkout: create, then redirect the browser (303) to `redirect_url`.
//! let created = psp
//!     .create_payment(&CreatePayment {
//!         order_ref: "ORD-20260401-0001".into(),
//!         amount_jpy: 3_300,
//!         description: "mamori 茶舗 ご注文".into(),
//!         return_url: Url::parse("https://shop.example/checkout/return")?,
//!         cancel_url: Url::parse("https://shop.example/checkout/cancel")?,
//!         idempotency_key: "order-ORD-20260401-0001-attempt-1".into(),
//!     })
//!     .await?;
//! // Return URL (`?payment_id=`): ask the provider, never trust the query.
//! let info = psp.lookup(&created.payment_id).await?;
//! if info.settles("ORD-20260401-0001", 3_300) { /* mark paid, keep brand + last4 */ }
//!
//! // Webhook endpoint: verify the raw body before parsing anything.
//! let verifier = WebhookVerifier::new(
//!     SecretString::from("whsec_0123456789abcdef".to_owned()),
//!     Arc::new(MemoryReplayGuard::default()),
//! );
//! # let (headers, body) = (http::HeaderMap::new(), Vec::<u8>::new());
//! let event = verifier.verify_headers(&headers, &body, chrono::Utc::now()).await?;
//! # let _ = event;
//! # Ok(()) }
//! ```
//!
//! # Security properties
//!
//! - No card number, security code or holder name crosses into mamori; the
//!   sandbox drops them after checking and never logs them ([`card::CardNumber`]
//!   is redacted in `Debug` and wiped on drop).
//! - Webhook signatures are compared in constant time; the timestamp window
//!   (300 s by default) applies both ways; the timestamp is under the MAC;
//!   duplicates are refused; errors say why without echoing the body.
//! - The hosted page carries one script, the provider's card helper
//!   `card.js` from its own origin (the built-in copy, or read on every
//!   request from [`SandboxConfig::script_dir`]), a strict CSP
//!   (`default-src 'none'`, `script-src 'self'`,
//!   `form-action 'self'` plus the shop's origins, `frame-ancestors 'none'`,
//!   `base-uri 'none'`), `X-Frame-Options: DENY`, `no-referrer`, `no-store`.
//! - API keys are compared in constant time over SHA-256 digests; secrets
//!   are held in [`secrecy::SecretString`] and redacted in `Debug`.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod card;
pub mod connector;
pub mod sandbox;
pub mod webhook;
mod wire;

pub use connector::{
    CreatePayment, CreatedPayment, FailureReason, HttpConnector, PayError, PaymentConnector,
    PaymentInfo, PaymentStatus, RefundInfo, IDEMPOTENCY_HEADER,
};
pub use sandbox::{
    declining_card, run_sandbox, spawn_sandbox, SandboxArgs, SandboxConfig, SandboxError,
    SandboxHandle, WebhookRetry,
};
pub use webhook::{
    MemoryReplayGuard, ReplayGuard, ReplayGuardError, WebhookError, WebhookEvent, WebhookEventKind,
    WebhookVerifier, SIGNATURE_HEADER,
};
pub use wire::{is_valid_fingerprint, is_valid_payment_id, MAX_AMOUNT_JPY};

// Re-exported so that callers name the same versions as this crate.
pub use secrecy;
pub use url;
