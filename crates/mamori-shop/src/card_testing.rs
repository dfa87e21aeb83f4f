//! Card testing (クレジットマスター) at the checkout: before the shop creates a card payment at
//! the provider (the only point where it can stop one: cards are typed on the provider's page,
//! and a declined card ends the provider's payment, so every retry is a new payment from here),
//! it asks [`mamori_store::fraud::FraudWatch::card_check`] about this client's address and
//! session.
//!
//! - Stopped: no payment is created; the session remembers it (the checkout form then offers
//!   the other methods with a notice, `#card-stopped`), and the page says so in Japanese first.
//! - Shop-wide attack: every card attempt takes an extra step, a fresh confirmation page with a
//!   one-time token (`POST /checkout/card-step`), and a delay before the payment is created.
//!   A script then pays a page load, a form post and the delay per card, and a token cannot be
//!   reused.

use std::{sync::Arc, time::Duration};

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use http::HeaderMap;
use mamori_domain::{OrderState, PaymentMethod};
use mamori_store::fraud::{CardClient, CardVerdict};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;

use crate::{
    checkout::{self, ORDERS_KEY},
    ctx::{guest_id, Ctx},
    fail,
    members::Peer,
    state::ShopState,
};

/// Session key: card payment is stopped for this session.
pub(crate) const CARD_STOPPED_KEY: &str = "card_stopped";
/// Session key of the extra step's one-time token: (token, order number, attempt).
const CARD_STEP_KEY: &str = "card_step";

/// This request's client, as keyed hashes of its address (as the rate limits find it, through
/// the trusted proxies) and of its session.
pub(crate) fn client(state: &ShopState, c: &Ctx, peer: Peer, headers: &HeaderMap) -> CardClient {
    let ip = state
        .limits
        .payment_ip
        .client_ip
        .client_key(peer.0, headers);
    CardClient {
        ip_key: state.gateway.fraud_key("ip", &ip),
        session_key: state.gateway.fraud_key("session", &guest_id(&c.session)),
    }
}

/// Whether `client` may start a card payment.
pub(crate) async fn verdict(
    state: &ShopState,
    client: &CardClient,
) -> Result<CardVerdict, AppError> {
    state
        .fraud
        .card_check(client)
        .await
        .map_err(fail("card testing check"))
}

/// Whether this session's card payments are stopped.
pub(crate) fn is_stopped(c: &Ctx) -> bool {
    c.session.get::<bool>(CARD_STOPPED_KEY).unwrap_or(false)
}

/// Remembers the stop in the session and sends the browser to `to` with the notice.
pub(crate) fn stopped(c: &Ctx, to: &str) -> Response {
    if c.session.insert(CARD_STOPPED_KEY, &true).is_err() {
        tracing::warn!("could not remember the card stop in the session");
    }
    c.flash_next(c.t(
        "クレジットカードでのお支払いが続けて承認されなかったため、安全のため、この接続からのカード決済を一時的に停止しています。他のお支払い方法をご利用いただくか、時間をおいてお試しください。",
        "Several card payments in a row were declined, so card payment from this connection is paused for safety. Please choose another payment method, or try again later.",
    ));
    Redirect::to(to).into_response()
}

#[derive(Template)]
#[template(path = "checkout/card_step.html")]
struct CardStepPage {
    c: Ctx,
    number: String,
    token: String,
}

/// The extra step's page for a new attempt at paying `number`: a fresh one-time token.
pub(crate) fn step_page(c: Ctx, number: &str, attempt: u32) -> Result<Response, AppError> {
    let token = hex::encode(rand::random::<[u8; 16]>());
    c.session
        .insert(CARD_STEP_KEY, &(token.clone(), number.to_owned(), attempt))
        .map_err(fail("card step token"))?;
    Ok(render(&CardStepPage {
        c,
        number: number.to_owned(),
        token,
    }))
}

/// The extra step's form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardStepForm {
    number: String,
    token: String,
}

/// `POST /checkout/card-step`: the confirmed attempt. The token is used up whatever happens
/// next; after the delay the client is checked again and the payment created.
pub async fn card_step(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    peer: Peer,
    headers: HeaderMap,
    SafeForm(form): SafeForm<CardStepForm>,
) -> Result<Response, AppError> {
    let held = c.session.get::<(String, String, u32)>(CARD_STEP_KEY);
    c.session.remove(CARD_STEP_KEY);
    let complete = format!("/checkout/complete/{}", form.number);
    let Some((token, number, attempt)) = held else {
        return Ok(Redirect::to(&complete).into_response());
    };
    let mine = c.session.get::<Vec<String>>(ORDERS_KEY).unwrap_or_default();
    if token != form.token || number != form.number || !mine.contains(&number) {
        return Ok(Redirect::to(&complete).into_response());
    }
    tokio::time::sleep(Duration::from_secs(
        state.fraud.config().card.shop_delay_secs,
    ))
    .await;
    let client = client(&state, &c, peer, &headers);
    if let CardVerdict::Refuse(_) = verdict(&state, &client).await? {
        return Ok(stopped(&c, &complete));
    }
    let order = checkout::find_order_by_number(&state, &number).await?;
    if order.state != OrderState::PendingPayment || order.payment_method != PaymentMethod::Card {
        return Ok(Redirect::to(&complete).into_response());
    }
    checkout::start_payment(&state, &client, &order.id, &number, order.total, attempt).await
}
