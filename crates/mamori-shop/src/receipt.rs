//! The printable 適格請求書 (qualified invoice) of an order: the shop's registration number
//! (`T` + 13 digits), the transaction date, the items with the reduced-rate mark, and per rate the
//! tax-included total and the tax, rounded once per rate, as the order was charged.
//!
//! A receipt exists only once the money was received ([`OrderState::is_paid_for`]). It is a
//! document: what it says about its issuer (name, operator, registration number, 所在地,
//! contact) and its issue date are recorded when it is first shown
//! ([`mamori_store::StorefrontStore::receipt_issue`]) and shown as recorded from then on, whatever
//! the settings say later.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use mamori_domain::{TaxRate, Yen};
use mamori_store::{gateway::OrderView, IssuedReceipt};
use mamori_web::{errors::AppError, page::render};

use crate::{
    checkout::{item_extras, may_see, stored_quote, Quote},
    ctx::Ctx,
    fail,
    state::{to_jst, ShopState},
};

/// `2026年12月6日`: the one date format of the shop's pages.
pub fn date_ja(at: chrono::DateTime<chrono::Utc>) -> String {
    to_jst(at).format("%Y年%-m月%-d日").to_string()
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    c: Ctx,
    issuer: IssuedReceipt,
    view: OrderView,
    quote: Quote,
    ordered_on: String,
    issued_on: String,
}

impl ReceiptPage {
    fn std(&self) -> (Yen, Yen) {
        self.quote.at(TaxRate::Standard)
    }
    fn red(&self) -> (Yen, Yen) {
        self.quote.at(TaxRate::Reduced)
    }
    fn extras(&self, i: &mamori_domain::OrderItem) -> String {
        item_extras(i, self.c.en())
    }
    fn line_total(&self, i: &mamori_domain::OrderItem) -> Yen {
        i.line_total().unwrap_or(Yen::ZERO)
    }
}

async fn receipt(
    state: &ShopState,
    c: Ctx,
    number: &str,
    purpose: &str,
) -> Result<Response, AppError> {
    let order = state
        .store
        .order_by_number(number)
        .await
        .map_err(fail("order by number"))?
        .ok_or(AppError::NotFound)?;
    if !may_see(&c, &order.customer_id, number) {
        return Err(AppError::NotFound);
    }
    let paid = order.state.is_paid_for(order.payment_method);
    if !paid {
        // No money received, no receipt.
        return Err(AppError::NotFound);
    }
    let acc = c.accessor(purpose);
    let view = state
        .gateway
        .order(&acc, &order.id)
        .await
        .map_err(fail("order for receipt"))?;
    let (_, q) = stored_quote(&view)?;
    if q.total().0 != view.header.total {
        // The stored total is what was charged; a different recomputation means the rules changed
        // since, and a receipt must not show numbers that were not charged.
        tracing::error!(order = %number, "receipt totals differ from the stored order");
        return Err(AppError::Internal);
    }
    let placed = chrono::DateTime::from_timestamp_micros(view.header.placed_at).unwrap_or_default();
    // First issue records the issuer as the settings say now; later views show that record.
    let issuer = state
        .store
        .receipt_issue(&IssuedReceipt {
            order_id: order.id.clone(),
            shop_name: c.shop_name.clone(),
            legal_name: state.config.legal_name.clone(),
            registration_number: c.registration_number.clone(),
            address: c.settings.address.clone(),
            contact: state.config.support_email.clone(),
            issued_at: chrono::Utc::now().timestamp(),
        })
        .await
        .map_err(fail("receipt issue"))?;
    let issued = chrono::DateTime::from_timestamp(issuer.issued_at, 0).unwrap_or_default();
    Ok(render(&ReceiptPage {
        c,
        ordered_on: date_ja(placed),
        issued_on: date_ja(issued),
        issuer,
        view,
        quote: q,
    }))
}

/// `GET /orders/{number}/receipt`: for the session that placed the order (guests) or its member.
pub async fn guest_receipt(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(number): Path<String>,
) -> Result<Response, AppError> {
    receipt(&state, c, &number, "receipt.view").await
}

/// `GET /mypage/orders/{number}/receipt`: members only.
pub async fn member_receipt(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(number): Path<String>,
) -> Result<Response, AppError> {
    if c.member.is_none() {
        return Err(AppError::NotFound);
    }
    receipt(&state, c, &number, "mypage.receipt").await
}
