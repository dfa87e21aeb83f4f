//! The printable 適格請求書 (qualified invoice) of an order: the shop's registration number
//! (`T` + 13 digits), the transaction date, the items with the reduced-rate mark, and per rate the
//! tax-included total and the tax, rounded once per rate, as the order was charged.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use mamori_domain::{TaxRate, Yen};
use mamori_store::gateway::OrderView;
use mamori_web::{errors::AppError, page::render};

use crate::{
    checkout::{item_extras, may_see, stored_quote, Quote},
    ctx::Ctx,
    fail,
    state::{to_jst, ShopConfig, ShopState},
};

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    c: Ctx,
    config: Arc<ShopConfig>,
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
    Ok(render(&ReceiptPage {
        c,
        config: state.config.clone(),
        ordered_on: to_jst(placed).format("%Y年%m月%d日").to_string(),
        issued_on: to_jst(chrono::Utc::now())
            .format("%Y年%m月%d日")
            .to_string(),
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
