//! JSON shapes of the provider protocol (see `PROTOCOL.md`), shared by the
//! sandbox (which writes them) and [`crate::HttpConnector`] (which reads them).

use serde::{Deserialize, Serialize};
use url::Url;

use crate::connector::{FailureReason, PaymentInfo, PaymentStatus};

/// Status names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
    Refunded,
}

/// The card as the provider reports it: brand, last four, and the provider's fingerprint of the
/// card (an HMAC of the number under the provider's own secret: the same card gives the same
/// value, and the value gives nothing of the number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CardObject {
    pub brand: String,
    pub last4: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// A payment, as `GET /v1/payments/{id}` returns it and webhooks carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PaymentObject {
    pub id: String,
    pub order_ref: String,
    pub amount_jpy: i64,
    pub currency: String,
    pub description: String,
    pub status: WireStatus,
    #[serde(default)]
    pub failure_reason: Option<FailureReason>,
    #[serde(default)]
    pub refunded_jpy: i64,
    #[serde(default)]
    pub card: Option<CardObject>,
    pub redirect_url: Url,
    pub created: i64,
}

impl PaymentObject {
    /// The connector's view. A `failed` payment without a reason reads as
    /// [`FailureReason::Other`], so a terse provider cannot make it succeed.
    pub fn to_info(&self) -> PaymentInfo {
        let status = match self.status {
            WireStatus::Pending => PaymentStatus::Pending,
            WireStatus::RequiresAction => PaymentStatus::RequiresAction,
            WireStatus::Succeeded => PaymentStatus::Succeeded,
            WireStatus::Failed => PaymentStatus::Failed {
                reason: self.failure_reason.unwrap_or(FailureReason::Other),
            },
            WireStatus::Canceled => PaymentStatus::Canceled,
            WireStatus::Refunded => PaymentStatus::Refunded {
                amount: self.refunded_jpy,
            },
        };
        PaymentInfo {
            payment_id: self.id.clone(),
            status,
            amount_jpy: self.amount_jpy,
            brand: self.card.as_ref().map(|c| c.brand.clone()),
            last4: self.card.as_ref().map(|c| c.last4.clone()),
            fingerprint: self
                .card
                .as_ref()
                .and_then(|c| c.fingerprint.clone())
                .filter(|f| is_valid_fingerprint(f)),
            order_ref: self.order_ref.clone(),
        }
    }
}

/// Body of `POST /v1/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    pub order_ref: String,
    pub amount_jpy: i64,
    pub description: String,
    pub return_url: Url,
    pub cancel_url: Url,
}

/// Body of `POST /v1/payments/{id}/refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundRequest {
    pub amount_jpy: i64,
}

/// A refund, as `POST /v1/payments/{id}/refunds` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RefundObject {
    pub id: String,
    pub payment_id: String,
    pub amount_jpy: i64,
    pub created: i64,
    pub payment: PaymentObject,
}

/// Error body of every non-2xx API answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

/// `code` is stable and machine-readable; `message` is for people and never
/// repeats a value from the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// A webhook event body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventObject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub payment: PaymentObject,
}

/// Whether a payment id has the shape the protocol gives it. Ids arrive from
/// browsers (the return URL's query), so they are checked before they become
/// part of a request path.
#[must_use]
pub fn is_valid_payment_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("pay_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether a card fingerprint has the shape the protocol gives it: `fp_` and 1-64 ASCII letters
/// and digits. Anything else from a provider is dropped rather than stored.
#[must_use]
pub fn is_valid_fingerprint(fp: &str) -> bool {
    fp.len() <= 67
        && fp
            .strip_prefix("fp_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether an idempotency key is acceptable: 1–255 visible ASCII characters.
#[must_use]
pub fn is_valid_idempotency_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether an order reference is acceptable: 1–64 of `A–Z a–z 0–9 - _ . :`.
#[must_use]
pub fn is_valid_order_ref(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Largest amount the protocol accepts, in yen.
pub const MAX_AMOUNT_JPY: i64 = 99_999_999;

/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Checks a create request; the message names the field, never its value.
pub(crate) fn check_create(req: &CreateRequest) -> Result<(), &'static str> {
    if !is_valid_order_ref(&req.order_ref) {
        return Err("order_ref must be 1-64 of A-Z a-z 0-9 - _ . :");
    }
    if !(1..=MAX_AMOUNT_JPY).contains(&req.amount_jpy) {
        return Err("amount_jpy must be between 1 and 99999999");
    }
    if req.description.chars().count() > MAX_DESCRIPTION_CHARS
        || req.description.chars().any(char::is_control)
    {
        return Err("description must be at most 200 characters without control characters");
    }
    for url in [&req.return_url, &req.cancel_url] {
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("return_url and cancel_url must be absolute http(s) URLs");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("return_url and cancel_url must not carry credentials");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn payment_ids() {
        assert!(is_valid_payment_id("pay_0123abcDEF"));
        assert!(!is_valid_payment_id("pay_"));
        assert!(!is_valid_payment_id("pay_../v1"));
        assert!(!is_valid_payment_id("re_abc"));
        assert!(!is_valid_payment_id(&format!("pay_{}", "a".repeat(61))));
    }

    #[test]
    fn create_checks() {
        let ok = CreateRequest {
            order_ref: "ORD-1".into(),
            amount_jpy: 1000,
            description: "お茶".into(),
            return_url: Url::parse("https://shop.example/r").unwrap(),
            cancel_url: Url::parse("https://shop.example/c").unwrap(),
        };
        assert_eq!(check_create(&ok), Ok(()));
        let mut bad = ok.clone();
        bad.amount_jpy = 0;
        assert!(check_create(&bad).is_err());
        let mut bad = ok.clone();
        bad.return_url = Url::parse("javascript:alert(1)").unwrap();
        assert!(check_create(&bad).is_err());
        let mut bad = ok.clone();
        bad.cancel_url = Url::parse("https://u:p@shop.example/").unwrap();
        assert!(check_create(&bad).is_err());
        let mut bad = ok;
        bad.order_ref = "a b".into();
        assert!(check_create(&bad).is_err());
    }
}
