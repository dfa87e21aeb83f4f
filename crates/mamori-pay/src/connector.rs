//! The connector: what mamori asks of a payment provider, and the HTTP
//! implementation that speaks the protocol in `PROTOCOL.md`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::wire::{self, CreateRequest, ErrorBody, PaymentObject, RefundObject, RefundRequest};

/// A payment to create at the provider.
///
/// `description` is shown on the provider's page: put the shop's name and
/// an order summary there, never the customer's name or address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePayment {
    /// The shop's order reference (1–64 of `A–Z a–z 0–9 - _ . :`).
    pub order_ref: String,
    /// Amount to charge, in yen (tax included), 1–99,999,999.
    pub amount_jpy: i64,
    /// Shown to the customer on the payment page (at most 200 characters).
    pub description: String,
    /// Where the browser goes after a successful payment (`?payment_id=` is added).
    pub return_url: Url,
    /// Where the browser goes after a failed or canceled payment (`?payment_id=` is added).
    pub cancel_url: Url,
    /// Makes retries safe: the same key returns the same payment.
    pub idempotency_key: String,
}

/// A payment the provider created; send the browser to `redirect_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPayment {
    /// The provider's id (`pay_...`): keep it with the order.
    pub payment_id: String,
    /// The provider's own page (its own origin) where the card is entered.
    pub redirect_url: Url,
}

/// Why a payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The issuer declined the card.
    CardDeclined,
    /// Not enough funds or credit left.
    InsufficientFunds,
    /// 3-D Secure authentication failed.
    AuthenticationFailed,
    /// Any reason this version does not know.
    #[serde(other)]
    Other,
}

impl FailureReason {
    /// The wire code (`"card_declined"`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureReason::CardDeclined => "card_declined",
            FailureReason::InsufficientFunds => "insufficient_funds",
            FailureReason::AuthenticationFailed => "authentication_failed",
            FailureReason::Other => "other",
        }
    }

    /// What to tell the customer, in Japanese.
    #[must_use]
    pub const fn message_ja(self) -> &'static str {
        match self {
            FailureReason::CardDeclined => "カード会社によりお支払いが承認されませんでした。",
            FailureReason::InsufficientFunds => "ご利用可能額が不足しています。",
            FailureReason::AuthenticationFailed => "本人認証（3-Dセキュア）に失敗しました。",
            FailureReason::Other => "お支払いを完了できませんでした。",
        }
    }

    /// What to tell the customer, in English.
    #[must_use]
    pub const fn message_en(self) -> &'static str {
        match self {
            FailureReason::CardDeclined => "The card issuer declined the payment.",
            FailureReason::InsufficientFunds => "The card has insufficient funds.",
            FailureReason::AuthenticationFailed => "3-D Secure authentication failed.",
            FailureReason::Other => "The payment could not be completed.",
        }
    }
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Created; the customer has not paid yet.
    Pending,
    /// Waiting for the customer to finish 3-D Secure.
    RequiresAction,
    /// Paid.
    Succeeded,
    /// Refused; final.
    Failed {
        /// Why.
        reason: FailureReason,
    },
    /// Canceled before payment; final.
    Canceled,
    /// Paid, then refunded in part or in full.
    Refunded {
        /// Total refunded so far, in yen.
        amount: i64,
    },
}

/// What the provider says about a payment. Brand and last four are all of
/// the card mamori ever learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInfo {
    /// The provider's id.
    pub payment_id: String,
    /// Where it stands.
    pub status: PaymentStatus,
    /// The amount charged, in yen.
    pub amount_jpy: i64,
    /// `"visa"`, `"jcb"`, `"mastercard"`, ... once a card was entered.
    pub brand: Option<String>,
    /// The card's last four digits once a card was entered.
    pub last4: Option<String>,
    /// The provider's fingerprint of the card once a card was entered: stable per card, not
    /// reversible to the number (card-testing detection counts declines per fingerprint).
    pub fingerprint: Option<String>,
    /// The shop's order reference given at creation.
    pub order_ref: String,
}

impl PaymentInfo {
    /// Whether this payment pays for exactly this order and amount. Mark an
    /// order paid only when this holds: a succeeded payment for another
    /// order or another amount (a swapped `payment_id` in the return URL)
    /// must not count.
    #[must_use]
    pub fn settles(&self, order_ref: &str, amount_jpy: i64) -> bool {
        self.status == PaymentStatus::Succeeded
            && self.order_ref == order_ref
            && self.amount_jpy == amount_jpy
    }
}

/// A refund the provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundInfo {
    /// The provider's refund id (`re_...`).
    pub refund_id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// This refund's amount, in yen.
    pub amount_jpy: i64,
    /// All refunds of the payment so far, in yen.
    pub refunded_total_jpy: i64,
}

/// Errors of a connector call. Messages carry codes and statuses, never a
/// request body or a personal value.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The request was refused before it was sent.
    #[error("invalid payment request: {0}")]
    InvalidRequest(&'static str),
    /// The provider could not be reached or did not answer in time.
    #[error("payment provider unreachable")]
    Transport(#[source] reqwest::Error),
    /// No such payment at the provider.
    #[error("payment not found at the provider")]
    NotFound,
    /// The idempotency key was used before with other parameters.
    #[error("idempotency key already used with other parameters")]
    IdempotencyConflict,
    /// The payment is in a state that does not allow the operation (e.g.
    /// refunding an unpaid payment, canceling a paid one).
    #[error("payment state does not allow this operation")]
    InvalidState,
    /// Any other refusal by the provider.
    #[error("payment provider refused the request (HTTP {status}, {code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The provider's error code.
        code: String,
    },
    /// The provider answered something that does not fit the protocol.
    #[error("unexpected answer from the payment provider: {0}")]
    InvalidResponse(&'static str),
}

/// What mamori needs from a payment provider. A real provider's adapter
/// implements it; [`HttpConnector`] implements it for the sandbox protocol.
#[async_trait]
pub trait PaymentConnector: Send + Sync {
    /// Creates a payment and returns where to send the browser.
    async fn create_payment(&self, req: &CreatePayment) -> Result<CreatedPayment, PayError>;
    /// Asks the provider, server to server, where a payment stands.
    async fn lookup(&self, payment_id: &str) -> Result<PaymentInfo, PayError>;
    /// Refunds part or all of a paid payment; the same key refunds once.
    async fn refund(
        &self,
        payment_id: &str,
        amount_jpy: i64,
        idempotency_key: &str,
    ) -> Result<RefundInfo, PayError>;
    /// Cancels a payment that has not been paid.
    async fn cancel(&self, payment_id: &str) -> Result<PaymentInfo, PayError>;
}

/// The header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// [`PaymentConnector`] over HTTP(S) with a bearer API key, for providers
/// that speak the protocol in `PROTOCOL.md` (the sandbox does).
#[derive(Clone)]
pub struct HttpConnector {
    base: Url,
    api_key: SecretString,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnector")
            .field("base", &self.base.as_str())
            .field("api_key", &"[redacted]")
            .finish()
    }
}

impl HttpConnector {
    /// A connector to the provider at `base_url` (the API lives under
    /// `{base_url}/v1/`), with 10 s to connect and 30 s per request, no
    /// redirects followed.
    pub fn new(base_url: Url, api_key: SecretString) -> Result<Self, PayError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(PayError::Transport)?;
        Self::with_client(base_url, api_key, client)
    }

    /// The same with a client of the caller's (proxies, timeouts, roots).
    pub fn with_client(
        mut base_url: Url,
        api_key: SecretString,
        client: reqwest::Client,
    ) -> Result<Self, PayError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(PayError::InvalidRequest("base URL must be http(s)"));
        }
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(HttpConnector {
            base: base_url,
            api_key,
            client,
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, PayError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| PayError::InvalidRequest("base URL cannot hold a path"))?;
            path.pop_if_empty();
            path.extend(segments);
        }
        Ok(url)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        idempotency_key: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> Result<T, PayError> {
        let mut req = self
            .client
            .request(method, url)
            .bearer_auth(self.api_key.expose_secret());
        if let Some(key) = idempotency_key {
            req = req.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(PayError::Transport)?;
        let status = resp.status();
        if status.is_success() {
            return resp
                .json::<T>()
                .await
                .map_err(|_| PayError::InvalidResponse("body does not match the protocol"));
        }
        let code = resp
            .json::<ErrorBody>()
            .await
            .map(|b| b.error.code)
            .unwrap_or_else(|_| "unknown".to_owned());
        Err(match (status, code.as_str()) {
            (StatusCode::NOT_FOUND, _) => PayError::NotFound,
            (_, "idempotency_conflict") => PayError::IdempotencyConflict,
            (_, "invalid_state") => PayError::InvalidState,
            _ => PayError::Api {
                status: status.as_u16(),
                code: code.chars().take(64).collect(),
            },
        })
    }
}

fn check_payment_id(id: &str) -> Result<(), PayError> {
    if wire::is_valid_payment_id(id) {
        Ok(())
    } else {
        Err(PayError::InvalidRequest("malformed payment id"))
    }
}

fn check_key(key: &str) -> Result<(), PayError> {
    if wire::is_valid_idempotency_key(key) {
        Ok(())
    } else {
        Err(PayError::InvalidRequest(
            "idempotency key must be 1-255 visible ASCII characters",
        ))
    }
}

#[async_trait]
impl PaymentConnector for HttpConnector {
    async fn create_payment(&self, req: &CreatePayment) -> Result<CreatedPayment, PayError> {
        check_key(&req.idempotency_key)?;
        let body = CreateRequest {
            order_ref: req.order_ref.clone(),
            amount_jpy: req.amount_jpy,
            description: req.description.clone(),
            return_url: req.return_url.clone(),
            cancel_url: req.cancel_url.clone(),
        };
        wire::check_create(&body).map_err(PayError::InvalidRequest)?;
        let url = self.url(&["v1", "payments"])?;
        let p: PaymentObject = self
            .send(Method::POST, url, Some(&req.idempotency_key), Some(&body))
            .await?;
        // The answer must be about what we asked for: a provider (or anyone
        // between) answering with another order's payment is refused here.
        if !wire::is_valid_payment_id(&p.id)
            || p.order_ref != req.order_ref
            || p.amount_jpy != req.amount_jpy
        {
            return Err(PayError::InvalidResponse(
                "created payment does not match the request",
            ));
        }
        if !matches!(p.redirect_url.scheme(), "http" | "https") {
            return Err(PayError::InvalidResponse("redirect URL is not http(s)"));
        }
        Ok(CreatedPayment {
            payment_id: p.id,
            redirect_url: p.redirect_url,
        })
    }

    async fn lookup(&self, payment_id: &str) -> Result<PaymentInfo, PayError> {
        check_payment_id(payment_id)?;
        let url = self.url(&["v1", "payments", payment_id])?;
        let p: PaymentObject = self.send(Method::GET, url, None, None::<&()>).await?;
        if p.id != payment_id {
            return Err(PayError::InvalidResponse("payment id does not match"));
        }
        Ok(p.to_info())
    }

    async fn refund(
        &self,
        payment_id: &str,
        amount_jpy: i64,
        idempotency_key: &str,
    ) -> Result<RefundInfo, PayError> {
        check_payment_id(payment_id)?;
        check_key(idempotency_key)?;
        if !(1..=wire::MAX_AMOUNT_JPY).contains(&amount_jpy) {
            return Err(PayError::InvalidRequest("refund amount out of range"));
        }
        let url = self.url(&["v1", "payments", payment_id, "refunds"])?;
        let r: RefundObject = self
            .send(
                Method::POST,
                url,
                Some(idempotency_key),
                Some(&RefundRequest { amount_jpy }),
            )
            .await?;
        if r.payment_id != payment_id || r.amount_jpy != amount_jpy {
            return Err(PayError::InvalidResponse(
                "refund does not match the request",
            ));
        }
        Ok(RefundInfo {
            refund_id: r.id,
            payment_id: r.payment_id,
            amount_jpy: r.amount_jpy,
            refunded_total_jpy: r.payment.refunded_jpy,
        })
    }

    async fn cancel(&self, payment_id: &str) -> Result<PaymentInfo, PayError> {
        check_payment_id(payment_id)?;
        let url = self.url(&["v1", "payments", payment_id, "cancel"])?;
        let p: PaymentObject = self.send(Method::POST, url, None, None::<&()>).await?;
        if p.id != payment_id {
            return Err(PayError::InvalidResponse("payment id does not match"));
        }
        Ok(p.to_info())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_escape_segments() {
        let c = HttpConnector::new(
            Url::parse("http://127.0.0.1:9/psp").unwrap(),
            SecretString::from("k".repeat(20)),
        )
        .unwrap();
        assert_eq!(
            c.url(&["v1", "payments", "pay_1"]).unwrap().as_str(),
            "http://127.0.0.1:9/psp/v1/payments/pay_1"
        );
        assert_eq!(
            c.url(&["v1", "a/b"]).unwrap().as_str(),
            "http://127.0.0.1:9/psp/v1/a%2Fb"
        );
        assert!(!format!("{c:?}").contains("kkkk"));
    }

    #[test]
    fn settles_needs_the_same_order_and_amount() {
        let info = PaymentInfo {
            payment_id: "pay_1".into(),
            status: PaymentStatus::Succeeded,
            amount_jpy: 1100,
            brand: Some("visa".into()),
            last4: Some("4242".into()),
            fingerprint: None,
            order_ref: "ORD-1".into(),
        };
        assert!(info.settles("ORD-1", 1100));
        assert!(!info.settles("ORD-2", 1100));
        assert!(!info.settles("ORD-1", 1000));
        let pending = PaymentInfo {
            status: PaymentStatus::Pending,
            ..info
        };
        assert!(!pending.settles("ORD-1", 1100));
    }
}
