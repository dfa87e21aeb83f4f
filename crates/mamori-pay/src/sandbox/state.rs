//! The sandbox's in-memory book of payments and refunds.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use url::Url;

use crate::card::CardBrand;
use crate::connector::FailureReason;
use crate::wire::{CardObject, CreateRequest, PaymentObject, RefundObject, WireStatus};

/// One payment as the sandbox keeps it: no card number, no CVV, no holder
/// name; brand, last four and the card's fingerprint only.
#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub id: String,
    pub order_ref: String,
    pub amount_jpy: i64,
    pub description: String,
    pub return_url: Url,
    pub cancel_url: Url,
    pub status: WireStatus,
    pub failure_reason: Option<FailureReason>,
    pub refunded_jpy: i64,
    /// Brand, last four digits and fingerprint of the card typed.
    pub card: Option<(CardBrand, String, String)>,
    pub created: i64,
}

impl Payment {
    pub fn to_object(&self, base: &Url) -> PaymentObject {
        PaymentObject {
            id: self.id.clone(),
            order_ref: self.order_ref.clone(),
            amount_jpy: self.amount_jpy,
            currency: "jpy".to_owned(),
            description: self.description.clone(),
            status: self.status,
            failure_reason: self.failure_reason,
            refunded_jpy: self.refunded_jpy,
            card: self
                .card
                .as_ref()
                .map(|(brand, last4, fingerprint)| CardObject {
                    brand: brand.as_str().to_owned(),
                    last4: last4.clone(),
                    fingerprint: Some(fingerprint.clone()),
                }),
            redirect_url: pay_page_url(base, &self.id),
            created: self.created,
        }
    }

    /// Whether the customer can still pay or cancel.
    pub fn is_open(&self) -> bool {
        matches!(
            self.status,
            WireStatus::Pending | WireStatus::RequiresAction
        )
    }
}

/// `{base}/pay/{id}`; ids are checked alphanumerics, so joining is safe.
pub(crate) fn pay_page_url(base: &Url, id: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(["pay", id]);
    }
    url
}

/// A refund and the request it answered.
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub id: String,
    pub payment_id: String,
    pub amount_jpy: i64,
    pub created: i64,
}

impl Refund {
    pub fn to_object(&self, payment: &PaymentObject) -> RefundObject {
        RefundObject {
            id: self.id.clone(),
            payment_id: self.payment_id.clone(),
            amount_jpy: self.amount_jpy,
            created: self.created,
            payment: payment.clone(),
        }
    }
}

/// Everything the sandbox remembers.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub payments: HashMap<String, Payment>,
    pub refunds: HashMap<String, Refund>,
    /// Idempotency key -> (fingerprint of the request, payment id).
    pub create_keys: HashMap<String, ([u8; 32], String)>,
    /// (payment id, idempotency key) -> (fingerprint, refund id).
    pub refund_keys: HashMap<(String, String), ([u8; 32], String)>,
}

/// A request's fingerprint, to tell a retry from a different request that
/// reuses the key.
pub(crate) fn fingerprint_create(req: &CreateRequest) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        req.order_ref.as_bytes(),
        &req.amount_jpy.to_be_bytes(),
        req.description.as_bytes(),
        req.return_url.as_str().as_bytes(),
        req.cancel_url.as_str().as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// The refund request's fingerprint.
pub(crate) fn fingerprint_refund(amount_jpy: i64) -> [u8; 32] {
    Sha256::digest(amount_jpy.to_be_bytes()).into()
}

/// A fresh id with 122 random bits (UUIDv4), e.g. `pay_0f3c...`.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
