//! Orders: the list with filters and number search, the detail with recipients masked, state
//! changes by the domain's state machine, cancel and refund (card orders through the payment
//! connector), and the shipping CSV for carriers (an export: reason, step-up, rate limit).

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use http::{header, HeaderValue};
use mamori_domain::{OrderEvent, OrderState, PaymentAttemptState, PaymentMethod};
use mamori_staff::Permission;
use mamori_store::{
    model::{OrderFilter, OrderHeader, PaymentRow},
    RefundInsert, RefundRow, StoreError,
};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::Ctx,
    fail,
    forms::{self, check_reason, day_start_us, offset, query_of, Pager, DAY_US},
    stafflog,
    state::{fmt_secs, fmt_us, BackofficeState},
};

pub use crate::forms::yen;

/// An order state's label in the page's language (the stored code if unknown).
pub fn state_label(c: &Ctx, state: &OrderState) -> String {
    if c.en() {
        state.label_en().to_owned()
    } else {
        state.label_ja().to_owned()
    }
}

/// The page's language.
fn lang(c: &Ctx) -> mamori_domain::Language {
    if c.en() {
        mamori_domain::Language::En
    } else {
        mamori_domain::Language::Ja
    }
}

/// A payment method's label in the page's language.
pub fn method_label(c: &Ctx, method: PaymentMethod) -> String {
    c.t(method.label_ja(), method.label_en()).to_owned()
}

/// One order in a list, ready to show.
#[derive(Debug, Clone)]
pub struct OrderListRow {
    /// Order id.
    pub id: String,
    /// Order number.
    pub number: String,
    /// Placed at (JST).
    pub placed: String,
    /// State label.
    pub state: String,
    /// Payment method label.
    pub method: String,
    /// Total, tax included.
    pub total: String,
}

/// Makes a list row.
pub fn list_row(c: &Ctx, o: &OrderHeader) -> OrderListRow {
    OrderListRow {
        id: o.id.clone(),
        number: o.order_number.clone(),
        placed: fmt_us(o.placed_at),
        state: o.state.label_for(o.payment_method, lang(c)).to_owned(),
        method: method_label(c, o.payment_method),
        total: yen(o.total),
    }
}

/// The list's filters (`GET /orders?state=&number=&from=&to=&page=`).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// State code.
    pub state: Option<String>,
    /// Order number (prefix).
    pub number: Option<String>,
    /// First day (JST, `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Last day (JST, inclusive).
    pub to: Option<String>,
    /// Page.
    pub page: Option<i64>,
}

/// A filter made from the query, or the Japanese and English message for what is wrong.
fn filter_of(q: &ListQuery) -> Result<OrderFilter, (&'static str, &'static str)> {
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            OrderState::parse(s)
                .map_err(|_| ("状態の指定が正しくありません。", "Unknown state."))?,
        ),
        None => None,
    };
    let bad_date = (
        "日付は YYYY-MM-DD で入力してください。",
        "Dates are YYYY-MM-DD.",
    );
    let from = day_start_us(q.from.as_deref()).map_err(|_| bad_date)?;
    let to = day_start_us(q.to.as_deref())
        .map_err(|_| bad_date)?
        .map(|t| t + DAY_US);
    let number = q
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if number.as_deref().is_some_and(|n| n.chars().count() > 40) {
        return Err(("注文番号が長すぎます。", "The order number is too long."));
    }
    Ok(OrderFilter {
        state,
        number_prefix: number,
        placed_from_us: from,
        placed_to_us: to,
    })
}

/// A state choice for the filter's select.
#[derive(Debug, Clone)]
pub struct StateOption {
    /// Code.
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
    /// Selected now.
    pub selected: bool,
}

fn state_options(c: &Ctx, current: Option<&str>) -> Vec<StateOption> {
    OrderState::ALL
        .iter()
        .map(|s| StateOption {
            code: s.as_str(),
            label: c.t(s.label_ja(), s.label_en()),
            selected: current == Some(s.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "orders/list.html")]
struct List {
    c: Ctx,
    q: ListQuery,
    states: Vec<StateOption>,
    orders: Vec<OrderListRow>,
    pager: Pager,
    problem: Option<&'static str>,
}

impl List {
    fn v<'a>(&self, field: &'a Option<String>) -> &'a str {
        field.as_deref().unwrap_or("")
    }
}

/// `GET /orders`.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let (filter, problem) = match filter_of(&q) {
        Ok(f) => (f, None),
        Err((ja, en)) => (OrderFilter::default(), Some(c.t(ja, en))),
    };
    let page = state
        .store
        .orders_search(&filter, offset(q.page), forms::PAGE_SIZE)
        .await
        .map_err(fail("orders search"))?;
    let orders = page.items.iter().map(|o| list_row(&c, o)).collect();
    let query = query_of(&[
        ("state", q.state.as_deref()),
        ("number", q.number.as_deref()),
        ("from", q.from.as_deref()),
        ("to", q.to.as_deref()),
    ]);
    let pager = Pager::new(q.page, page.total, query);
    let states = state_options(&c, q.state.as_deref());
    Ok(render(&List {
        c,
        q,
        states,
        orders,
        pager,
        problem,
    }))
}

/// An action button on the detail page.
#[derive(Debug, Clone)]
pub struct EventButton {
    /// Event code.
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
}

/// One line of the order as shown.
#[derive(Debug, Clone)]
pub struct LineView {
    /// Product name at order time.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price.
    pub unit: String,
    /// 名入れ was ordered.
    pub personalised: bool,
    /// のし was ordered.
    pub noshi: bool,
    /// The 名入れ text, for staff who make it (a recorded read).
    pub engraving: Option<String>,
    /// The のし wording (表書き / name), for staff who make it (a recorded read).
    pub noshi_text: Option<String>,
}

/// One delivery as shown (recipient masked).
#[derive(Debug, Clone)]
pub struct ShipmentLine {
    /// Recipient name, masked.
    pub name: String,
    /// Address, masked.
    pub address: String,
    /// Phone, masked.
    pub phone: String,
    /// Requested date.
    pub date: String,
    /// Slot label.
    pub slot: String,
    /// The carrier's tracking number, once shipped.
    pub tracking: String,
}

#[derive(Template)]
#[template(path = "orders/detail.html")]
struct Detail {
    c: Ctx,
    order: OrderListRow,
    header: OrderHeader,
    lines: Vec<LineView>,
    shipments: Vec<ShipmentLine>,
    events: Vec<EventButton>,
    can_cancel: bool,
    can_refund: bool,
    payment: Option<String>,
    shipping: String,
    cod_fee: String,
    buyer: BuyerView,
    pickup: bool,
    refunds: RefundState,
}

impl Detail {
    fn yen(&self, amount: &i64) -> String {
        yen(*amount)
    }
}

/// The buyer, masked.
#[derive(Debug, Clone)]
pub struct BuyerView {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Address.
    pub address: String,
    /// The customer was erased.
    pub erased: bool,
}

/// `GET /orders/{id}`: the order with its recipients masked (one `read_masked` event).
pub async fn detail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let acc = c.accessor("backoffice.orders.detail");
    let masked = match state.gateway.order_masked(&acc, &id).await {
        Ok(m) => m,
        Err(StoreError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(e) => return Err(fail("order detail")(e)),
    };
    let header = masked.header.clone();
    let method = header.payment_method;
    let allowed = header.state.staff_events(method);
    let events = allowed
        .iter()
        .filter(|e| !matches!(e, OrderEvent::Cancel | OrderEvent::Refund))
        .map(|e| EventButton {
            code: e.as_str(),
            label: e.label_for(method, lang(&c)),
        })
        .collect();
    let payment = state
        .store
        .payment_of_order(&id)
        .await
        .map_err(fail("payment of order"))?
        .map(|p| {
            let card = match (p.brand, p.last4) {
                (Some(b), Some(l)) => format!(" {b} ****{l}"),
                _ => String::new(),
            };
            let provider = crate::labels::provider(&c, &p.provider);
            let status = crate::labels::payment_status(&c, p.status);
            if c.en() {
                format!("{provider} ({status}){card}")
            } else {
                format!("{provider}（{status}）{card}")
            }
        });
    // Staff who prepare orders see what to engrave and print: one recorded read of the gift
    // fields (nothing is read when the order has none, or for an erased customer).
    let gifts = if c.can(Permission::OrdersManage) && !masked.erased {
        let acc = c.accessor("backoffice.orders.gifts");
        state
            .gateway
            .order_gifts(&acc, &id)
            .await
            .map_err(fail("order gifts"))?
    } else {
        Vec::new()
    };
    let lines = masked
        .lines
        .iter()
        .map(|i| {
            let gift = gifts.iter().find(|g| g.line_no == i.line_no);
            LineView {
                name: i.product_name.clone(),
                sku: i.sku.clone(),
                quantity: i.quantity,
                unit: yen(i.unit_price),
                personalised: i.personalised,
                noshi: i.noshi,
                engraving: gift
                    .and_then(|g| g.personalisation.as_ref())
                    .map(|p| p.expose().clone()),
                noshi_text: gift
                    .and_then(|g| g.noshi.as_ref())
                    .map(|n| n.expose().clone()),
            }
        })
        .collect();
    let buyer = BuyerView {
        name: masked.buyer_name.clone(),
        email: masked.buyer_email.clone(),
        phone: masked.buyer_phone.clone(),
        address: masked.buyer_address.clone(),
        erased: masked.erased,
    };
    let tracking = state
        .store
        .tracking_numbers(&id)
        .await
        .map_err(fail("tracking numbers"))?;
    let shipments = masked
        .shipments
        .iter()
        .map(|s| ShipmentLine {
            tracking: tracking
                .iter()
                .find(|(no, _)| *no == s.shipment_no)
                .and_then(|(_, t)| t.clone())
                .unwrap_or_default(),
            name: s.name.clone(),
            address: s.address.clone(),
            phone: s.phone.clone(),
            date: s.delivery_date.clone().unwrap_or_else(|| "-".to_owned()),
            slot: mamori_domain::DeliverySlot::parse(&s.slot)
                .map(|sl| c.t(sl.label_ja(), sl.label_en()).to_owned())
                .unwrap_or_else(|_| s.slot.clone()),
        })
        .collect();
    let order = list_row(&c, &header);
    let refunds = refund_state(&state, &header)
        .await
        .map_err(|_| AppError::Internal)?;
    Ok((
        PagePolicy::new().private(),
        render(&Detail {
            refunds,
            order,
            shipping: yen(header.shipping_fee),
            cod_fee: yen(header.cod_fee),
            header,
            lines,
            shipments,
            events,
            can_cancel: allowed.contains(&OrderEvent::Cancel),
            can_refund: allowed.contains(&OrderEvent::Refund),
            payment,
            buyer,
            pickup: method == PaymentMethod::StorePickup,
            c,
        }),
    )
        .into_response())
}

/// `POST /orders/{id}/transition` form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionForm {
    /// Event code (`payment_confirmed`, `start_preparing`, `ship`, `confirm_delivery`).
    pub event: String,
    /// With `ship`: the carrier's tracking numbers (お問い合わせ伝票番号), one per delivery in
    /// delivery order, separated by commas, spaces or new lines.
    pub tracking: Option<String>,
}

/// Longest tracking number accepted.
const TRACKING_MAX: usize = 30;

/// The tracking numbers typed for a shipment: one per delivery, each digits, ASCII letters and
/// hyphens (full-width digits and dashes are accepted and made ASCII). Not needed for store
/// pickup (no parcel is sent).
fn tracking_numbers(
    text: Option<&str>,
    deliveries: usize,
    pickup: bool,
) -> Result<Vec<String>, Refusal> {
    let text = text.unwrap_or("");
    let numbers: Vec<String> = text
        .split(|ch: char| ch == ',' || ch == '、' || ch == '，' || ch.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.chars()
                .map(|ch| match ch {
                    '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => {
                        char::from_u32(u32::from(ch) - 0xFEE0).unwrap_or(ch)
                    }
                    '－' | 'ー' | '‐' | '−' => '-',
                    other => other,
                })
                .collect()
        })
        .collect();
    if pickup {
        return Ok(Vec::new());
    }
    let well_formed = |t: &String| {
        t.chars().count() <= TRACKING_MAX
            && t.chars().any(|ch| ch.is_ascii_digit())
            && t.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
    };
    if numbers.len() != deliveries || !numbers.iter().all(well_formed) {
        return Err(Refusal::Other(
            "お問い合わせ伝票番号を、お届け先ごとに1つずつ（半角英数字とハイフン）入力してください。",
            "Enter one tracking number per delivery (letters, digits and hyphens).",
        ));
    }
    Ok(numbers)
}

/// What went wrong with a state change, for the flash message.
#[derive(Debug)]
enum Refusal {
    Unknown,
    Invalid(mamori_domain::InvalidTransition),
    Raced,
    Payment,
    Other(&'static str, &'static str),
}

impl Refusal {
    fn message(&self, c: &Ctx) -> String {
        match self {
            Refusal::Unknown => c.t("注文が見つかりません。", "Order not found.").to_owned(),
            Refusal::Invalid(t) if c.en() => format!("{}. Nothing was changed.", t.message_en()),
            Refusal::Invalid(t) => format!("{}。何も変更していません。", t.message_ja()),
            Refusal::Raced => c
                .t(
                    "他の操作で注文の状態が変わりました。確認してやり直してください。",
                    "The order changed meanwhile. Please check it and try again.",
                )
                .to_owned(),
            Refusal::Payment => c
                .t(
                    "決済代行会社での処理に失敗しました。注文は変更していません。",
                    "The payment provider refused the operation. The order was not changed.",
                )
                .to_owned(),
            Refusal::Other(ja, en) => c.t(ja, en).to_owned(),
        }
    }
}

/// The order and the state `event` leads it to, if the state machine allows it for the order's
/// payment method. Nothing is written: [`commit`] moves the order by compare-and-set.
async fn apply(
    state: &BackofficeState,
    id: &str,
    event: OrderEvent,
) -> Result<(OrderHeader, OrderState), Refusal> {
    let header = state
        .store
        .order_header(id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "order header");
            Refusal::Other(
                "注文を読み込めませんでした。",
                "The order could not be read.",
            )
        })?
        .ok_or(Refusal::Unknown)?;
    let method = header.payment_method;
    let from = header.state;
    if !from.staff_events(method).contains(&event) {
        // Card payments are confirmed by the provider only (its webhook or lookup).
        return Err(Refusal::Invalid(mamori_domain::InvalidTransition {
            from,
            event,
            method,
        }));
    }
    let to = from.apply(event, method).map_err(Refusal::Invalid)?;
    Ok((header, to))
}

/// Moves the order by compare-and-set, queueing the customer's mail about the step in the same
/// transaction (see [`crate::order_mail`]); a shipment also records its tracking numbers.
async fn commit(
    state: &BackofficeState,
    c: &Ctx,
    header: &OrderHeader,
    to: OrderState,
    event: OrderEvent,
    tracking: &[String],
) -> Result<(), Refusal> {
    let failed = |e: StoreError| {
        tracing::error!(error = %e, "order transition");
        Refusal::Other(
            "注文を更新できませんでした。",
            "The order could not be updated.",
        )
    };
    let mail = crate::order_mail::notice(state, c, header, event, tracking)
        .await
        .map_err(|_| {
            Refusal::Other(
                "お客様へのメールを作成できませんでした。注文は変更していません。",
                "The mail to the customer could not be made. The order was not changed.",
            )
        })?;
    let acc = c.accessor(&format!("backoffice.orders.{}", event.as_str()));
    let from = [header.state];
    let moved = if event == OrderEvent::Ship {
        let numbered: Vec<(i64, String)> = (1..).zip(tracking.iter().cloned()).collect();
        state
            .gateway
            .ship_order_with_mail(&acc, &header.id, &from, to, &numbered, mail)
            .await
            .map_err(failed)?
    } else {
        state
            .gateway
            .transition_order_with_mail(&acc, &header.id, &from, to, mail)
            .await
            .map_err(failed)?
    };
    if !moved {
        return Err(Refusal::Raced);
    }
    let mut detail = json!({ "order_number": header.order_number, "from": header.state.as_str(), "to": to.as_str() });
    if !tracking.is_empty() {
        detail["tracking_number"] = json!(tracking);
    }
    stafflog::record(
        state,
        c,
        None,
        &format!("orders.{}", event.as_str()),
        &header.id,
        detail,
    )
    .await
    .map_err(|_| {
        Refusal::Other(
            "操作ログに記録できませんでした。",
            "The staff log could not be written.",
        )
    })
}

fn back_to(
    c: &Ctx,
    id: &str,
    result: Result<(), Refusal>,
    done_ja: &str,
    done_en: &str,
) -> Response {
    match result {
        Ok(()) => c.flash_next(if c.en() { done_en } else { done_ja }),
        Err(r) => c.error_next(&r.message(c)),
    }
    Redirect::to(&format!("/orders/{id}")).into_response()
}

fn unknown_order(c: &Ctx) -> Response {
    c.error_next(&Refusal::Unknown.message(c));
    Redirect::to("/orders").into_response()
}

/// `POST /orders/{id}/transition`: one step of the state machine (cancel and refund have their
/// own routes, since they involve the payment provider).
pub async fn transition(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(form): SafeForm<TransitionForm>,
) -> Response {
    let event = match OrderEvent::parse(&form.event) {
        Ok(e) if !matches!(e, OrderEvent::Cancel | OrderEvent::Refund) => e,
        _ => {
            let r = Refusal::Other("その操作はできません。", "That operation is not available.");
            return back_to(&c, &id, Err(r), "", "");
        }
    };
    let result = match apply(&state, &id, event).await {
        Ok((header, to)) => {
            let numbers = if event == OrderEvent::Ship {
                let pickup = header.payment_method == PaymentMethod::StorePickup;
                let deliveries = state
                    .store
                    .tracking_numbers(&id)
                    .await
                    .map(|t| t.len().max(1))
                    .unwrap_or(1);
                tracking_numbers(form.tracking.as_deref(), deliveries, pickup)
            } else {
                Ok(Vec::new())
            };
            match numbers {
                Ok(numbers) => commit(&state, &c, &header, to, event, &numbers).await,
                Err(r) => Err(r),
            }
        }
        Err(Refusal::Unknown) => return unknown_order(&c),
        Err(r) => Err(r),
    };
    back_to(
        &c,
        &id,
        result,
        "注文の状態を変更しました。",
        "The order's state was changed.",
    )
}

/// `POST /orders/{id}/cancel`: cancels an order not yet paid; a card payment still open at the
/// provider is cancelled there first (if that fails, the order stays as it was).
pub async fn cancel(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (header, to) = apply(&state, &id, OrderEvent::Cancel).await?;
        let attempts = state
            .store
            .payments_of_order(&id)
            .await
            .map_err(|_| Refusal::Payment)?;
        // Every attempt still open at the provider: an old payment page must not take money
        // for a cancelled order.
        let open = |p: &PaymentRow| p.status.is_open();
        for mut p in attempts.into_iter().filter(open) {
            p.status = match state.psp.cancel(&p.payment_id).await {
                Ok(_) => PaymentAttemptState::Canceled,
                // The provider refuses to cancel a payment that is closed already (e.g. its
                // card was declined and the shop never heard): take what it says it is.
                Err(e) => match state.psp.lookup(&p.payment_id).await.map(|i| i.status) {
                    Ok(mamori_pay::PaymentStatus::Failed { .. }) => PaymentAttemptState::Failed,
                    Ok(mamori_pay::PaymentStatus::Canceled) => PaymentAttemptState::Canceled,
                    _ => {
                        tracing::warn!(error = %e, "provider cancel failed");
                        return Err(Refusal::Payment);
                    }
                },
            };
            p.updated_at = state.now();
            state
                .store
                .payment_upsert(&p)
                .await
                .map_err(|_| Refusal::Payment)?;
        }
        commit(&state, &c, &header, to, OrderEvent::Cancel, &[]).await
    }
    .await;
    if matches!(result, Err(Refusal::Unknown)) {
        return unknown_order(&c);
    }
    back_to(
        &c,
        &id,
        result,
        "注文をキャンセルしました。",
        "The order was cancelled.",
    )
}

#[derive(Template)]
#[template(path = "orders/refund.html")]
struct RefundConfirm {
    c: Ctx,
    order: OrderListRow,
    card: bool,
    /// What the full refund pays back: the total less earlier partial refunds.
    amount: String,
    /// Refunded before, when anything was.
    refunded: Option<String>,
}

/// `GET /orders/{id}/refund` (step-up): what a refund would do (order, amount, how it is paid
/// back), and the button that does it. Nothing changes here.
pub async fn refund_confirm(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Response {
    let (header, _to) = match apply(&state, &id, OrderEvent::Refund).await {
        Ok(found) => found,
        Err(Refusal::Unknown) => return unknown_order(&c),
        Err(r) => return back_to(&c, &id, Err(r), "", ""),
    };
    let card = header.payment_method == PaymentMethod::Card;
    let so_far = match refund_state(&state, &header).await {
        Ok(s) => s,
        Err(r) => return back_to(&c, &id, Err(r), "", ""),
    };
    let order = list_row(&c, &header);
    (
        PagePolicy::new().private(),
        render(&RefundConfirm {
            c,
            order,
            card,
            amount: yen(so_far.remaining),
            refunded: (so_far.refunded > 0).then(|| yen(so_far.refunded)),
        }),
    )
        .into_response()
}

/// `POST /orders/{id}/refund` form: sent only by the confirmation page's button.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundForm {
    /// `yes` from the confirmation page; anything else shows the confirmation first.
    pub confirm: Option<String>,
}

/// `POST /orders/{id}/refund` (step-up), confirmed on `GET /orders/{id}/refund`: refunds the
/// whole order; a card payment through the provider (same idempotency key per order: a double
/// submit refunds once), other methods are refunded outside mamori and only recorded here. An
/// unconfirmed post changes nothing and shows the confirmation.
pub async fn refund(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(form): SafeForm<RefundForm>,
) -> Response {
    if form.confirm.as_deref() != Some("yes") {
        return Redirect::to(&format!("/orders/{id}/refund")).into_response();
    }
    let result = async {
        let (header, to) = apply(&state, &id, OrderEvent::Refund).await?;
        // What earlier partial refunds left.
        let remaining = refund_state(&state, &header).await?.remaining;
        let key = format!("refund-{}", header.id);
        let mut provider_refund_id = None;
        if header.payment_method == PaymentMethod::Card && remaining > 0 {
            let mut p = state
                .store
                .payment_of_order(&id)
                .await
                .map_err(|_| Refusal::Payment)?
                .ok_or(Refusal::Payment)?;
            let info = state
                .psp
                .refund(&p.payment_id, remaining, &key)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "provider refund failed");
                    Refusal::Payment
                })?;
            provider_refund_id = Some(info.refund_id);
            p.status = PaymentAttemptState::Refunded;
            p.updated_at = state.now();
            state
                .store
                .payment_upsert(&p)
                .await
                .map_err(|_| Refusal::Payment)?;
        }
        commit(&state, &c, &header, to, OrderEvent::Refund, &[]).await?;
        // The order's refunds add up to its total (the mail went with the state change).
        if remaining > 0 {
            let row = RefundRow {
                id: uuid::Uuid::now_v7().to_string(),
                order_id: header.id.clone(),
                amount: remaining,
                reason: String::new(),
                provider_refund_id,
                idempotency_key: key,
                staff_id: Some(c.staff_id().to_owned()),
                created_at: state.now(),
            };
            if let Err(e) = state.store.refund_insert(&row, header.total, &[]).await {
                tracing::error!(error = %e, "full refund record");
            }
        }
        Ok(())
    }
    .await;
    if matches!(result, Err(Refusal::Unknown)) {
        return unknown_order(&c);
    }
    back_to(&c, &id, result, "返金しました。", "The order was refunded.")
}

/// What has been refunded of an order and what is left.
#[derive(Debug, Clone)]
pub struct RefundState {
    /// Yen refunded so far.
    pub refunded: i64,
    /// Yen left to refund.
    pub remaining: i64,
    /// The refunds, oldest first: (time, amount, reason).
    pub refunds: Vec<(String, String, String)>,
}

async fn refund_state(
    state: &BackofficeState,
    header: &OrderHeader,
) -> Result<RefundState, Refusal> {
    let rows = state
        .store
        .refunds_of_order(&header.id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "refunds of order");
            Refusal::Other(
                "返金の記録を読み込めませんでした。",
                "The refunds could not be read.",
            )
        })?;
    let refunded: i64 = rows.iter().map(|r| r.amount).sum();
    Ok(RefundState {
        refunded,
        remaining: header.total.saturating_sub(refunded).max(0),
        refunds: rows
            .iter()
            .map(|r| (fmt_secs(r.created_at), yen(r.amount), r.reason.clone()))
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "orders/partial_refund.html")]
struct PartialRefundPage {
    c: Ctx,
    order: OrderListRow,
    card: bool,
    refunded: String,
    remaining: String,
    amount: String,
    reason: String,
    /// Set once the amount and reason are checked: the confirmation step, with its key.
    confirm_key: Option<String>,
    /// The amount as it will be refunded (confirmation step).
    amount_label: String,
    problem: Option<String>,
}

/// `GET /orders/{id}/partial-refund` (step-up): the amount and reason of a refund of part of the
/// order, with what was refunded so far and what is left. Nothing changes here.
pub async fn partial_refund_form(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Response {
    let (header, _to) = match apply(&state, &id, OrderEvent::Refund).await {
        Ok(found) => found,
        Err(Refusal::Unknown) => return unknown_order(&c),
        Err(r) => return back_to(&c, &id, Err(r), "", ""),
    };
    let so_far = match refund_state(&state, &header).await {
        Ok(s) => s,
        Err(r) => return back_to(&c, &id, Err(r), "", ""),
    };
    partial_refund_page(
        &c,
        &header,
        &so_far,
        String::new(),
        String::new(),
        None,
        None,
    )
}

fn partial_refund_page(
    c: &Ctx,
    header: &OrderHeader,
    so_far: &RefundState,
    amount: String,
    reason: String,
    confirm: Option<(String, i64)>,
    problem: Option<String>,
) -> Response {
    let (confirm_key, amount_label) = match confirm {
        Some((key, a)) => (Some(key), yen(a)),
        None => (None, String::new()),
    };
    (
        PagePolicy::new().private(),
        render(&PartialRefundPage {
            c: c.clone(),
            order: list_row(c, header),
            card: header.payment_method == PaymentMethod::Card,
            refunded: yen(so_far.refunded),
            remaining: yen(so_far.remaining),
            amount,
            reason,
            confirm_key,
            amount_label,
            problem,
        }),
    )
        .into_response()
}

/// `POST /orders/{id}/partial-refund` form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialRefundForm {
    /// Yen to refund (digits; full-width and commas accepted).
    pub amount: String,
    /// Why (kept in the refund's record and the staff log; no personal data).
    pub reason: String,
    /// The confirmation step's key; absent on the first post.
    pub key: Option<String>,
    /// `yes` from the confirmation step's button.
    pub confirm: Option<String>,
}

/// The amount typed: whole yen, full-width digits and commas accepted.
fn refund_amount(raw: &str) -> Option<i64> {
    let digits: String = mamori_domain::normalize_input(raw)
        .chars()
        .filter(|ch| !matches!(ch, ',' | '円' | ' '))
        .collect();
    if digits.is_empty() || digits.len() > 12 || !digits.chars().all(|ch| ch.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `POST /orders/{id}/partial-refund` (step-up): refunds part of the order in two steps. The
/// first post checks the amount (at least 1 yen and less than what is left: refunding all that
/// is left is the full refund, which closes the order) and the reason, and shows the
/// confirmation with a fresh key; the confirmation's post refunds: a card payment through the
/// provider (idempotency key per confirmation, so a double submit refunds once), other methods
/// outside mamori and only recorded. The refund is recorded with the customer's mail in one
/// transaction and in the staff log; the order's state does not change.
pub async fn partial_refund(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(form): SafeForm<PartialRefundForm>,
) -> Response {
    let (header, _to) = match apply(&state, &id, OrderEvent::Refund).await {
        Ok(found) => found,
        Err(Refusal::Unknown) => return unknown_order(&c),
        Err(r) => return back_to(&c, &id, Err(r), "", ""),
    };
    let so_far = match refund_state(&state, &header).await {
        Ok(s) => s,
        Err(r) => return back_to(&c, &id, Err(r), "", ""),
    };
    let again = |problem: &str| {
        partial_refund_page(
            &c,
            &header,
            &so_far,
            form.amount.clone(),
            form.reason.clone(),
            None,
            Some(problem.to_owned()),
        )
    };
    let amount = match refund_amount(&form.amount) {
        Some(a) if a >= 1 && a < so_far.remaining => a,
        Some(a) if a >= so_far.remaining && a > 0 => {
            return again(c.t(
                "返金額が返金できる残額以上です。残額すべてを返金する場合は「全額返金」をお使いください。",
                "The amount is not less than what is left to refund. To refund all that is left, use the full refund.",
            ));
        }
        _ => {
            return again(c.t(
                "返金額を1円以上の半角数字で入力してください。",
                "Enter the amount to refund in whole yen (1 or more).",
            ));
        }
    };
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => return again(c.t(ja, en)),
    };
    let key = match (form.confirm.as_deref(), form.key.as_deref()) {
        (Some("yes"), Some(k)) if uuid::Uuid::parse_str(k).is_ok() => k.to_owned(),
        _ => {
            // The confirmation step: nothing changes yet.
            return partial_refund_page(
                &c,
                &header,
                &so_far,
                amount.to_string(),
                reason,
                Some((uuid::Uuid::now_v7().to_string(), amount)),
                None,
            );
        }
    };
    let result = refund_part(&state, &c, &header, amount, &reason, &key, &so_far).await;
    if let Err(Refusal::Other(ja, en)) = &result {
        if *ja == OVER_REMAINING.0 {
            return again(c.t(ja, en));
        }
    }
    back_to(
        &c,
        &id,
        result,
        "一部返金しました。",
        "Part of the order was refunded.",
    )
}

const OVER_REMAINING: (&str, &str) = (
    "ほかの返金と合わせると返金できる残額を超えます。何も返金していません。",
    "With the other refunds this is more than is left to refund. Nothing was refunded.",
);

async fn refund_part(
    state: &BackofficeState,
    c: &Ctx,
    header: &OrderHeader,
    amount: i64,
    reason: &str,
    key: &str,
    so_far: &RefundState,
) -> Result<(), Refusal> {
    let idempotency_key = format!("partial-refund-{}-{key}", header.id);
    let mut provider_refund_id = None;
    if header.payment_method == PaymentMethod::Card {
        let p = state
            .store
            .payment_of_order(&header.id)
            .await
            .map_err(|_| Refusal::Payment)?
            .ok_or(Refusal::Payment)?;
        let info = state
            .psp
            .refund(&p.payment_id, amount, &idempotency_key)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "provider partial refund failed");
                Refusal::Payment
            })?;
        provider_refund_id = Some(info.refund_id);
    }
    let refunded_total = so_far.refunded.saturating_add(amount);
    let mail = crate::order_mail::partial_refund_notice(
        state,
        c,
        header,
        mamori_domain::Yen(amount),
        mamori_domain::Yen(refunded_total),
    )
    .await
    .map_err(|_| {
        Refusal::Other(
            "お客様へのメールを作成できませんでした。返金の記録は残っていません。決済代行会社の管理画面を確認してください。",
            "The mail to the customer could not be made; the refund was not recorded. Check the provider's dashboard.",
        )
    })?;
    let row = RefundRow {
        id: uuid::Uuid::now_v7().to_string(),
        order_id: header.id.clone(),
        amount,
        reason: reason.to_owned(),
        provider_refund_id,
        idempotency_key,
        staff_id: Some(c.staff_id().to_owned()),
        created_at: state.now(),
    };
    let acc = c.accessor("backoffice.orders.partial_refund");
    let done = state
        .gateway
        .refund_with_mail(&acc, &row, mail)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "partial refund record");
            Refusal::Other(
                "返金を記録できませんでした。",
                "The refund could not be recorded.",
            )
        })?;
    match done {
        RefundInsert::Recorded => {}
        RefundInsert::Duplicate => {
            return Err(Refusal::Other(
                "この返金は実行済みです（二重の送信は返金していません）。",
                "This refund was made already (the repeated submission refunded nothing).",
            ))
        }
        RefundInsert::OverCap => {
            tracing::error!("partial refund over the order total refused by the store");
            return Err(Refusal::Other(OVER_REMAINING.0, OVER_REMAINING.1));
        }
    }
    stafflog::record(
        state,
        c,
        None,
        "orders.partial_refund",
        &header.id,
        json!({
            "order_number": header.order_number,
            "amount": amount,
            "refunded_total": refunded_total,
            "remaining": header.total.saturating_sub(refunded_total),
            "reason": reason,
        }),
    )
    .await
    .map_err(|_| {
        Refusal::Other(
            "操作ログに記録できませんでした。",
            "The staff log could not be written.",
        )
    })
}

#[derive(Template)]
#[template(path = "orders/export.html")]
struct ExportForm {
    c: Ctx,
    states: Vec<StateOption>,
    from: String,
    to: String,
    reason: String,
    problem: Option<String>,
}

/// `GET /orders/export` (step-up): the shipping CSV's selection and reason.
pub async fn export_form(c: Ctx, Query(q): Query<ListQuery>) -> Response {
    let current = q.state.as_deref().or(Some("preparing"));
    let states = state_options(&c, current);
    render(&ExportForm {
        c,
        states,
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        reason: String::new(),
        problem: None,
    })
}

/// `POST /orders/export` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// State code (usually `preparing`).
    pub state: Option<String>,
    /// First day.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
    /// Why.
    pub reason: String,
    /// The file's layout: `mamori` (UTF-8, every field; the default), `yamato_b2` (ヤマト
    /// B2クラウド) or `sagawa_ehiden` (佐川 e飛伝), the latter two in Shift_JIS.
    pub format: Option<String>,
}

/// `POST /orders/export` (step-up, rate limit): the shipping CSV of the selected orders. The
/// gateway records one read naming each order's customer and the shipment fields, with the
/// reason; an empty selection exports nothing.
pub async fn export(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(form): SafeForm<ExportRequest>,
) -> Result<Response, AppError> {
    let q = ListQuery {
        state: form.state.clone(),
        number: None,
        from: form.from.clone(),
        to: form.to.clone(),
        page: None,
    };
    let again = |c: Ctx, problem: String| {
        let states = state_options(&c, form.state.as_deref());
        render(&ExportForm {
            c,
            states,
            from: form.from.clone().unwrap_or_default(),
            to: form.to.clone().unwrap_or_default(),
            reason: form.reason.clone(),
            problem: Some(problem),
        })
    };
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => {
            let msg = c.t(ja, en).to_owned();
            return Ok(again(c, msg));
        }
    };
    let carrier = match form.format.as_deref().unwrap_or("mamori") {
        "mamori" | "" => None,
        code => match crate::carrier_csv::Carrier::parse(code) {
            Some(carrier) => Some(carrier),
            None => {
                let msg = c
                    .t("出力形式が正しくありません。", "Unknown file format.")
                    .to_owned();
                return Ok(again(c, msg));
            }
        },
    };
    let filter = match filter_of(&q) {
        Ok(f) => f,
        Err((ja, en)) => {
            let msg = c.t(ja, en).to_owned();
            return Ok(again(c, msg));
        }
    };
    let max = i64::try_from(state.config.export_max_rows).unwrap_or(i64::MAX);
    let mut page = state
        .store
        .orders_search(&filter, 0, max)
        .await
        .map_err(fail("export selection"))?;
    if carrier.is_some() {
        // Store pickup sends no parcel: not on a carrier's slips (nor read for them).
        page.items
            .retain(|o| o.payment_method != PaymentMethod::StorePickup);
    }
    if page.items.is_empty() {
        let msg = c
            .t(
                "条件に合う注文がありません。何も出力していません。",
                "No order matches. Nothing was exported.",
            )
            .to_owned();
        return Ok(again(c, msg));
    }
    let ids: Vec<String> = page.items.iter().map(|o| o.id.clone()).collect();
    let acc = c
        .accessor("backoffice.orders.shipping_csv")
        .because(&reason);
    let rows = state
        .gateway
        .shipping_rows(&acc, &ids)
        .await
        .map_err(fail("shipping rows"))?;
    if let Some(carrier) = carrier {
        return carrier_file(&state, &c, carrier, &page.items, &rows).await;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let head = [
        "注文番号",
        "お届け先氏名",
        "郵便番号",
        "都道府県",
        "住所",
        "電話番号",
        "お届け日",
        "時間帯",
        "品名",
        "名入れ",
        "のし",
    ];
    w.write_record(head).map_err(fail("csv"))?;
    for r in &rows {
        let slot =
            mamori_domain::DeliverySlot::parse(&r.slot).map_or(r.slot.as_str(), |s| s.label_ja());
        w.write_record([
            r.order_number.as_str(),
            r.recipient_name.expose().as_str(),
            r.postal_code.expose().as_str(),
            r.prefecture.as_str(),
            r.address_line.expose().as_str(),
            r.phone.expose().as_str(),
            r.date.as_deref().unwrap_or(""),
            slot,
            r.items.as_str(),
            r.personalisation.expose().as_str(),
            r.noshi.expose().as_str(),
        ])
        .map_err(fail("csv"))?;
    }
    let body = w.into_inner().map_err(|_| AppError::Internal)?;
    stafflog::record(
        &state,
        &c,
        None,
        "orders.export",
        "shipping_csv",
        json!({ "orders": ids, "rows": rows.len() }),
    )
    .await?;
    Ok(csv_response(
        body,
        &format!(
            "shipping-{}.csv",
            fmt_secs(state.now()).replace([' ', ':', '-'], "")
        ),
    ))
}

/// The shipping rows in a carrier's import layout (Shift_JIS): the shop as the sender (its
/// settings' name, address and phone), and for cash-on-delivery orders the amount to collect
/// (the total less what was refunded) on the order's first delivery. Logged like the shipping
/// CSV, with the layout and how many characters Shift_JIS could not hold.
async fn carrier_file(
    state: &BackofficeState,
    c: &Ctx,
    carrier: crate::carrier_csv::Carrier,
    orders: &[OrderHeader],
    rows: &[mamori_store::gateway::ShippingRow],
) -> Result<Response, AppError> {
    use crate::carrier_csv::{write, OrderPay, Sender};
    let stored = state.store.settings_all().await.map_err(fail("settings"))?;
    let settings =
        mamori_web::settings::ShopSettings::from_stored(&stored, &state.config.shop_name);
    let sender = Sender::from_settings(&settings.name, &settings.address, &settings.phone);
    let mut pay = std::collections::HashMap::new();
    for o in orders {
        let refunded = if o.payment_method == PaymentMethod::CashOnDelivery {
            state
                .store
                .refunded_total(&o.id)
                .await
                .map_err(fail("refunded total"))?
        } else {
            0
        };
        pay.insert(
            o.order_number.clone(),
            OrderPay {
                method: o.payment_method,
                collect: mamori_domain::Yen(o.total.saturating_sub(refunded).max(0)),
            },
        );
    }
    let file = write(carrier, rows, &sender, |number| pay.get(number).copied())
        .map_err(fail("carrier csv"))?;
    let ids: Vec<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    stafflog::record(
        state,
        c,
        None,
        "orders.export",
        "shipping_csv",
        json!({
            "orders": ids,
            "rows": rows.len(),
            "format": carrier.as_str(),
            "unmappable_characters": file.substituted,
            "slips_cut": file.cut_slips,
        }),
    )
    .await?;
    let filename = format!(
        "{}-{}.csv",
        carrier.as_str().replace('_', "-"),
        fmt_secs(state.now()).replace([' ', ':', '-'], "")
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        PagePolicy::new().private(),
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=Shift_JIS"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.bytes,
    )
        .into_response())
}

/// A CSV download: UTF-8 with a byte-order mark (spreadsheet programs in Japan need it to read
/// UTF-8), `no-store`, as an attachment.
pub fn csv_response(body: Vec<u8>, filename: &str) -> Response {
    let mut bytes = Vec::with_capacity(body.len() + 3);
    bytes.extend_from_slice(b"\xEF\xBB\xBF");
    bytes.extend_from_slice(&body);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        PagePolicy::new().private(),
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}
