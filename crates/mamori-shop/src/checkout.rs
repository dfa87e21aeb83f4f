//! Checkout: buyer and delivery form, confirmation with tax per rate, order placement once per
//! idempotency key, the redirect to the payment provider's own page, the return from it, and the
//! provider's signed webhook.
//!
//! The card never touches mamori: the customer types it on the provider's page, on the provider's
//! origin. An order becomes paid only when a verified webhook or a server-to-server lookup says
//! its payment succeeded for exactly this order number and amount ([`PaymentInfo::settles`]); the
//! browser coming back proves nothing by itself.
//!
//! Idempotency, end to end: the checkout page's key lives in the session (both tabs share it); the
//! order is written once per key; the provider's payment is created with a key derived from the
//! order id and attempt; marking paid is a compare-and-set of the order state.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use askama::Template;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    Extension, Json,
};
use chrono::{Datelike, NaiveDate, Utc};
use http::{HeaderMap, StatusCode};
use mamori_domain::{
    check_requested_delivery_date, earliest_delivery_date, invoice_totals, BirthDate, CustomerKind,
    CustomerProfile, DeliverySlot, InvoiceLine, InvoiceTotals, Noshi, NoshiPurpose, OrderItem,
    OrderState, PaymentAttemptState, PaymentMethod, Personalisation, Recipient, TaxRate, Yen,
};
use mamori_pay::{
    url::Url, CreatePayment, PaymentInfo, PaymentStatus, WebhookError, WebhookEventKind,
};
use mamori_store::fraud::{CardClient, CardVerdict};
use mamori_store::{
    gateway::{Buyer, NewOrder, NewShipment, OrderView},
    Accessor, PaymentRow,
};
use mamori_web::settings::ShopSettings;
use mamori_web::{
    errors::{AppError, KeepErrorBody, SafeForm},
    page::render,
};
use serde::Deserialize;

use crate::{
    card_testing,
    cart::{self, PricedLine},
    ctx::Ctx,
    fail,
    forms::{self, FormState},
    members::{today_jst, Peer},
    state::{to_jst, ShopConfig, ShopState},
};

/// Session key of the checkout's idempotency key.
const KEY_KEY: &str = "checkout_key";
/// Session key of the submitted checkout form (sealed with the session).
const FORM_KEY: &str = "checkout_form";
/// Session key of the guest customer made for this checkout.
const GUEST_CUSTOMER_KEY: &str = "checkout_guest_customer";
/// Session key of the order numbers placed in this session (their pages and receipts).
pub const ORDERS_KEY: &str = "orders";
/// Session key of the last checkout placed in this session: its idempotency key and order number
/// (a resubmitted confirmation finds its order, while the next checkout starts afresh).
const PLACED_KEY: &str = "checkout_placed";
/// Days after the earliest date a delivery can be asked for.
const DELIVERY_WINDOW_DAYS: u32 = 14;
/// Provider name kept with payments.
const PROVIDER: &str = "sandbox";
/// Most delivery addresses one order can send its lines to.
pub const MAX_DELIVERIES: usize = 3;

/// The field prefix of delivery `n` (1-based): the first is `ship_` (or the buyer), the others
/// `ship2_`, `ship3_`.
fn delivery_prefix(n: usize) -> String {
    if n == 1 {
        "ship_".to_owned()
    } else {
        format!("ship{n}_")
    }
}

/// The totals of an order: items, shipping, payment fee, and tax per rate.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Items, tax included.
    pub items_total: Yen,
    /// Shipping fee, tax included.
    pub shipping: Yen,
    /// Payment fee (代引き手数料), tax included.
    pub fee: Yen,
    /// Per-rate totals and tax, rounded once per rate (the same computation as the stored order).
    pub totals: InvoiceTotals,
}

impl Quote {
    /// The amount charged.
    pub fn total(&self) -> Yen {
        self.totals.total_incl
    }

    /// Tax-included amount and tax at `rate` (zeros when absent).
    pub fn at(&self, rate: TaxRate) -> (Yen, Yen) {
        self.totals
            .per_rate
            .iter()
            .find(|r| r.rate == rate)
            .map_or((Yen::ZERO, Yen::ZERO), |r| (r.amount_incl, r.tax))
    }
}

/// The shipping rule in words, for pages: one rate, or the range when it depends on the
/// prefecture, and the free-shipping threshold if the shop has one.
pub fn shipping_note(config: &ShopConfig, c: &Ctx) -> String {
    let rates = c
        .settings
        .shipping_rates(config.shipping_fee, config.free_shipping_from);
    let (lo, hi) = rates.range();
    if c.en() {
        let rate = if lo == hi {
            format!("¥{}", lo.format_grouped())
        } else {
            format!(
                "¥{} to ¥{} by prefecture",
                lo.format_grouped(),
                hi.format_grouped()
            )
        };
        match rates.free_from {
            Some(free) => format!(
                "{rate} per delivery address; free from ¥{} per address.",
                free.format_grouped()
            ),
            None => format!("{rate} per delivery address."),
        }
    } else {
        let rate = if lo == hi {
            lo.format_tax_included()
        } else {
            format!(
                "{lo}〜{}（都道府県により異なります）",
                hi.format_tax_included()
            )
        };
        match rates.free_from {
            Some(free) => {
                format!("お届け先1か所につき{rate}。お届け先ごとに{free}以上で送料無料。")
            }
            None => format!("お届け先1か所につき{rate}。"),
        }
    }
}

/// Prices an order: the same computation the store makes when it writes the order.
/// `fee` is the payment method's (代引き手数料), as the shop's table gives it or as the order keeps it.
pub fn quote(
    lines: impl IntoIterator<Item = (TaxRate, Yen)>,
    shipping: Yen,
    fee: Yen,
) -> Result<Quote, AppError> {
    let mut inv: Vec<InvoiceLine> = lines
        .into_iter()
        .map(|(rate, amount_incl)| InvoiceLine { rate, amount_incl })
        .collect();
    let items_total =
        Yen::checked_sum(inv.iter().map(|l| l.amount_incl)).map_err(|_| AppError::BadRequest)?;
    inv.push(InvoiceLine {
        rate: TaxRate::Standard,
        amount_incl: shipping,
    });
    inv.push(InvoiceLine {
        rate: TaxRate::Standard,
        amount_incl: fee,
    });
    let totals = invoice_totals(&inv).map_err(|_| AppError::BadRequest)?;
    Ok(Quote {
        items_total,
        shipping,
        fee,
        totals,
    })
}

/// One cart line as the form shows it.
#[derive(Debug, Clone)]
pub struct FormLine {
    /// Index in the form's field names (`name_0`, `noshi_0`, ...).
    pub index: usize,
    /// The priced line.
    pub line: PricedLine,
}

/// Everything checkout needs from a valid form.
struct Built {
    buyer: Buyer,
    /// The deliveries in use, in form order (at least one).
    shipments: Vec<NewShipment>,
    /// The delivery (1-based into `shipments`) of each line, parallel to `items`.
    item_shipments: Vec<i64>,
    items: Vec<OrderItem>,
    method: PaymentMethod,
    quote: Quote,
    ship_to_buyer: bool,
}

fn session_key(c: &Ctx) -> Result<String, AppError> {
    if let Some(k) = c.session.get::<String>(KEY_KEY) {
        return Ok(k);
    }
    let k = uuid::Uuid::new_v4().to_string();
    c.session
        .insert(KEY_KEY, &k)
        .map_err(fail("checkout key"))?;
    Ok(k)
}

fn allowed_fields(n_lines: usize) -> Vec<String> {
    let mut names = FormState::person_names("buyer_");
    for n in 1..=MAX_DELIVERIES {
        names.extend(FormState::person_names(&delivery_prefix(n)));
    }
    names.extend(
        [
            "buyer_email",
            "ship_to",
            "delivery_date",
            "delivery_slot",
            "payment",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    for i in 0..n_lines {
        for f in ["name_", "birth_", "noshi_", "noshi_name_", "dest_"] {
            names.push(format!("{f}{i}"));
        }
    }
    names
}

/// The dates offered for delivery: from the earliest possible for 14 days.
fn delivery_dates(config: &ShopConfig) -> Vec<(String, String)> {
    let today = today_jst();
    let Some(first) = earliest_delivery_date(today, config.delivery_lead_days) else {
        return Vec::new();
    };
    (0..=DELIVERY_WINDOW_DAYS)
        .filter_map(|d| first.checked_add_days(chrono::Days::new(u64::from(d))))
        .map(|d| (d.format("%Y-%m-%d").to_string(), date_label(d)))
        .collect()
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// `2026年12月6日`: the shop's one way of writing a date.
pub fn date_ja(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// `2026年12月6日（日）`: a date with its weekday (delivery dates).
pub fn date_label(d: NaiveDate) -> String {
    let wd = WEEKDAYS_JA
        .get(d.weekday().num_days_from_monday() as usize)
        .copied()
        .unwrap_or("");
    format!("{}年{}月{}日（{}）", d.year(), d.month(), d.day(), wd)
}

async fn cart_lines(state: &ShopState, c: &Ctx) -> Result<Vec<PricedLine>, AppError> {
    cart::current(state, &c.session, c.member.as_deref())
        .await
        .map_err(fail("cart"))
}

/// Fail closed: when the guard has closed card payment (a change to the payment path that no
/// owner has approved yet), the checkout's settings lose the card method, so the form offers the
/// other methods with a notice and a card order is neither confirmed, placed nor retried. Read
/// on every checkout request, uncached, so that the closing takes effect at once.
async fn guard_card(state: &ShopState, c: &mut Ctx) -> Result<(), AppError> {
    let closed = state
        .store
        .guard_switch(mamori_store::store::alerts::CARD_PAYMENT)
        .await
        .map_err(fail("card payment switch"))?
        .is_some_and(|s| s.state == mamori_store::switch_state::CLOSED);
    if closed {
        let mut settings = (*c.settings).clone();
        settings
            .payment_methods
            .retain(|m| m != PaymentMethod::Card.as_str());
        c.settings = Arc::new(settings);
        c.card_closed = true;
    } else if card_testing::is_stopped(c) {
        // This session was stopped for card testing: the other methods stay offered.
        let mut settings = (*c.settings).clone();
        settings
            .payment_methods
            .retain(|m| m != PaymentMethod::Card.as_str());
        c.settings = Arc::new(settings);
        c.card_stopped = true;
    }
    Ok(())
}

/// Validates the form into an order. Errors are left in `f`.
fn build(
    state: &ShopState,
    offered: &ShopSettings,
    f: &mut FormState,
    lines: &[PricedLine],
) -> Option<Built> {
    let name = f.person_name("buyer_");
    let email = f.email("buyer_email");
    let phone = f.phone("buyer_");
    let address = f.address("buyer_");
    let method = f
        .check("payment", PaymentMethod::parse(f.value("payment")))
        .filter(|m| {
            let on = offered.offers(*m);
            if !on {
                f.fail(
                    "payment",
                    "このお支払い方法は現在ご利用いただけません。",
                    "This payment method is not offered at the moment.",
                );
            }
            on
        });
    let slot_raw = f.value("delivery_slot").to_owned();
    let slot = if slot_raw.is_empty() {
        Some(DeliverySlot::Unspecified)
    } else {
        f.check("delivery_slot", DeliverySlot::parse(&slot_raw))
            .filter(|s| {
                let on = offered.delivery_slots || *s == DeliverySlot::Unspecified;
                if !on {
                    f.fail(
                        "delivery_slot",
                        "現在、お届け時間帯は指定できません。",
                        "Delivery time slots are not offered at the moment.",
                    );
                }
                on
            })
    };
    let today = today_jst();
    let date = match f.value("delivery_date").trim() {
        "" => Some(None),
        raw => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => f
                .check(
                    "delivery_date",
                    check_requested_delivery_date(
                        today,
                        state.config.delivery_lead_days,
                        DELIVERY_WINDOW_DAYS,
                        d,
                    ),
                )
                .map(|()| Some(d)),
            Err(_) => {
                f.fail(
                    "delivery_date",
                    "お届け日が正しくありません。",
                    "The delivery date is not valid.",
                );
                None
            }
        },
    };
    let ship_to_buyer = !f.is("ship_to", "other");
    let other = if ship_to_buyer {
        None
    } else {
        f.recipient("ship_")
    };
    // Which delivery each line goes to (the form's numbers, 1..=MAX_DELIVERIES).
    let mut line_dest = Vec::with_capacity(lines.len());
    for i in 0..lines.len() {
        let field = format!("dest_{i}");
        let n = match f.value(&field).trim() {
            "" => Some(1),
            raw => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_DELIVERIES).contains(n)),
        };
        match n {
            Some(n) => line_dest.push(n),
            None => {
                f.fail(
                    &field,
                    "お届け先を選んでください。",
                    "Choose a delivery address.",
                );
                line_dest.push(1);
            }
        }
    }
    // Further deliveries: validated when a line goes there; typed in but unused is an error
    // (the customer meant to send something there).
    let mut extra: Vec<(usize, Option<Recipient>)> = Vec::new();
    for n in 2..=MAX_DELIVERIES {
        let prefix = delivery_prefix(n);
        if line_dest.contains(&n) {
            extra.push((n, f.recipient(&prefix)));
        } else if FormState::person_names(&prefix)
            .iter()
            .any(|name| !f.value(name).trim().is_empty())
        {
            f.fail(
                &format!("{prefix}family"),
                "このお届け先に届ける商品を選んでください（不要なら入力を消してください）。",
                "Choose the items for this address (or clear it).",
            );
        }
    }
    let mut items = Vec::with_capacity(lines.len());
    let mut items_ok = true;
    for (i, l) in lines.iter().enumerate() {
        let personalisation = if l.product.offers_personalisation {
            let pname = f.optional(&format!("name_{i}"));
            let birth = match f.optional(&format!("birth_{i}")) {
                Some(raw) => f.check(&format!("birth_{i}"), BirthDate::parse(&raw, today)),
                None => None,
            };
            match pname {
                Some(n) => f.check(&format!("name_{i}"), Personalisation::new(&n, birth)),
                None => None,
            }
        } else {
            None
        };
        let noshi = if l.product.offers_noshi {
            match f.value(&format!("noshi_{i}")).to_owned().as_str() {
                "" => None,
                code => {
                    let purpose = f.check(&format!("noshi_{i}"), NoshiPurpose::parse(code));
                    let nname = f.optional(&format!("noshi_name_{i}"));
                    match purpose {
                        Some(p) => {
                            f.check(&format!("noshi_name_{i}"), Noshi::new(p, nname.as_deref()))
                        }
                        None => None,
                    }
                }
            }
        } else {
            None
        };
        if l.short() {
            items_ok = false;
        }
        items.push(OrderItem {
            sku: l.product.sku.clone(),
            product_name: l.product.name_ja.clone(),
            unit_price_incl: l.unit_price,
            rate: l.rate,
            quantity: l.quantity,
            personalisation,
            noshi,
        });
    }
    let method = method?;
    // Deliveries in use, numbered in form order: the first always, then each used extra one.
    let mut numbering = vec![1];
    numbering.extend(extra.iter().map(|(n, _)| *n));
    let item_shipments: Vec<i64> = line_dest
        .iter()
        .map(|d| {
            numbering
                .iter()
                .position(|n| n == d)
                .map_or(1, |p| p as i64 + 1)
        })
        .collect();
    let buyer = Buyer {
        name: name?,
        email: email?,
        phone: phone?,
        address: address?,
    };
    let recipient = match other {
        Some(r) => r,
        None if ship_to_buyer => Recipient {
            name: buyer.name.clone(),
            address: buyer.address.clone(),
            phone: buyer.phone.clone(),
        },
        None => return None,
    };
    if f.has_errors() || !items_ok {
        return None;
    }
    let (delivery_date, slot) = (date?, slot?);
    let mut shipments = vec![NewShipment {
        recipient,
        delivery_date,
        slot,
    }];
    for (_, r) in extra {
        shipments.push(NewShipment {
            recipient: r?,
            delivery_date,
            slot,
        });
    }
    // Shipping per delivery, by its prefecture under the shop's rates; the 代引き fee by the
    // shop's table. Both are kept with the order as charged.
    let rates = offered.shipping_rates(state.config.shipping_fee, state.config.free_shipping_from);
    let mut shipping = Yen::ZERO;
    for (no, shipment) in (1..).zip(&shipments) {
        let subtotal = Yen::checked_sum(
            lines
                .iter()
                .zip(&item_shipments)
                .filter(|(_, s)| **s == no)
                .map(|(l, _)| l.line_total),
        )
        .ok()?;
        let prefecture = shipment.recipient.address.expose().prefecture();
        shipping = shipping
            .checked_add(rates.fee(prefecture, subtotal, method))
            .ok()?;
    }
    let items_total = Yen::checked_sum(lines.iter().map(|l| l.line_total)).ok()?;
    let fee = offered
        .cod_fees_or_default()
        .for_method(method, items_total.checked_add(shipping).ok()?);
    let q = quote(lines.iter().map(|l| (l.rate, l.line_total)), shipping, fee).ok()?;
    if !method.is_available_for(q.total()) {
        f.fail(
            "payment",
            "このお支払い方法はご利用いただけない金額です。",
            "This payment method is not available for this amount.",
        );
        return None;
    }
    Some(Built {
        buyer,
        shipments,
        item_shipments,
        items,
        method,
        quote: q,
        ship_to_buyer,
    })
}

#[derive(Template)]
#[template(path = "checkout/form.html")]
struct FormPage {
    c: Ctx,
    f: FormState,
    lines: Vec<FormLine>,
    items_total: Yen,
    dates: Vec<(String, String)>,
    slots: Vec<DeliverySlot>,
    methods: Vec<PaymentMethod>,
    purposes: &'static [NoshiPurpose],
    prefectures: Vec<(&'static str, &'static str)>,
    shipping_note: String,
    /// Numbers of the further deliveries (2..=MAX_DELIVERIES), for their blocks and choices.
    extra_deliveries: Vec<usize>,
    /// A member's address book, to choose the delivery address from: (entry id, one-line label).
    book: Vec<(String, String)>,
}

impl FormPage {
    fn delivery_prefix(&self, n: &usize) -> String {
        delivery_prefix(*n)
    }
    fn dest_is(&self, index: &usize, n: &usize) -> bool {
        let v = self.f.value(&format!("dest_{index}"));
        v == n.to_string() || (*n == 1 && v.is_empty())
    }
    fn slot_label(&self, s: &DeliverySlot) -> &'static str {
        self.c.t(s.label_ja(), s.label_en())
    }
    fn method_label(&self, m: &PaymentMethod) -> &'static str {
        self.c.t(m.label_ja(), m.label_en())
    }
    fn purpose_label(&self, p: &NoshiPurpose) -> &'static str {
        self.c.t(p.label_ja(), p.label_en())
    }
}

fn form_page(state: &ShopState, c: Ctx, f: FormState, lines: Vec<PricedLine>) -> Response {
    form_page_with_book(state, c, f, lines, Vec::new())
}

fn form_page_with_book(
    state: &ShopState,
    c: Ctx,
    f: FormState,
    lines: Vec<PricedLine>,
    book: Vec<(String, String)>,
) -> Response {
    let offered = c.settings.clone();
    let items_total = Yen::checked_sum(lines.iter().map(|l| l.line_total)).unwrap_or(Yen::ZERO);
    let shipping_note = shipping_note(&state.config, &c);
    let page = FormPage {
        c,
        f,
        lines: lines
            .into_iter()
            .enumerate()
            .map(|(index, line)| FormLine { index, line })
            .collect(),
        items_total,
        dates: delivery_dates(&state.config),
        slots: if offered.delivery_slots {
            DeliverySlot::ALL.to_vec()
        } else {
            vec![DeliverySlot::Unspecified]
        },
        methods: PaymentMethod::ALL
            .iter()
            .copied()
            .filter(|m| offered.offers(*m))
            .collect(),
        purposes: NoshiPurpose::ALL,
        prefectures: forms::prefectures(),
        shipping_note,
        extra_deliveries: (2..=MAX_DELIVERIES).collect(),
        book,
    };
    render(&page)
}

/// `GET /checkout`: the form, pre-filled for members from their profile (an access on the
/// ledger with purpose `checkout.prefill`) or from the draft of this session.
pub async fn form(State(state): State<Arc<ShopState>>, mut c: Ctx) -> Result<Response, AppError> {
    guard_card(&state, &mut c).await?;
    let lines = cart_lines(&state, &c).await?;
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    session_key(&c)?;
    let mut f = FormState::new(c.lang());
    if let Some(saved) = c.session.get::<BTreeMap<String, String>>(FORM_KEY) {
        for (k, v) in saved {
            f.set(&k, v);
        }
    } else {
        if let Some(m) = PaymentMethod::ALL.iter().find(|m| c.settings.offers(**m)) {
            f.set("payment", m.as_str());
        }
        f.set("ship_to", "buyer");
        if let Some(member) = c.member.clone() {
            let acc = c.accessor("checkout.prefill");
            // The member's own address is the one they last gave as buyer (the profile holds
            // none); the address book holds recipients (gifts) and never stands for the member.
            match last_buyer(&state, &acc, &member).await {
                Ok(Some(buyer)) => {
                    let own = Recipient {
                        name: buyer.name.clone(),
                        address: buyer.address.clone(),
                        phone: buyer.phone.clone(),
                    };
                    f.fill_recipient("buyer_", &own);
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "checkout prefill unavailable"),
            }
            // Name, email and phone as the profile has them now.
            match state.gateway.customer_profile(&acc, &member).await {
                Ok(p) => prefill_buyer(&mut f, &p),
                Err(err) => tracing::warn!(error = %err, "checkout prefill unavailable"),
            }
        }
    }
    let book = match &c.member {
        Some(member) => {
            let acc = c.accessor("checkout.address_book");
            match state.gateway.addresses(&acc, member).await {
                Ok(entries) => entries
                    .iter()
                    .map(|(id, r)| (id.clone(), book_label(r)))
                    .collect(),
                Err(err) => {
                    tracing::warn!(error = %err, "address book unavailable");
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    Ok(form_page_with_book(&state, c, f, lines, book))
}

/// One address-book entry on a line: `榊原 健司 様 〒530-0001 大阪府大阪市北区梅田3-3-3`.
fn book_label(r: &Recipient) -> String {
    let a = r.address.expose();
    format!(
        "{} 様 〒{} {}{}{}{}",
        r.name.expose().full_name(),
        a.postal_code(),
        a.prefecture().label_ja(),
        a.city(),
        a.line1(),
        a.line2().map(|l| format!(" {l}")).unwrap_or_default()
    )
}

/// `POST /checkout/address`: a member chose an address-book entry as the delivery address. What
/// was typed so far is kept in the session's draft (unchecked, as typed), the entry fills the
/// delivery block, and the form is shown again. The entry is read through the gateway (purpose
/// `checkout.address_book`), and only from the signed-in member's own book.
pub async fn use_address(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    SafeForm(mut map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let Some(member) = c.member.clone() else {
        return Ok(Redirect::to("/login").into_response());
    };
    let chosen = map.remove("use_address").unwrap_or_default();
    let lines = cart_lines(&state, &c).await?;
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let allowed = allowed_fields(lines.len());
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let mut f = FormState::from_submission(c.lang(), map, &allowed)?;
    let acc = c.accessor("checkout.address_book");
    let book = state
        .gateway
        .addresses(&acc, &member)
        .await
        .map_err(fail("address book"))?;
    let Some((_, entry)) = book.iter().find(|(id, _)| *id == chosen) else {
        return Err(AppError::NotFound);
    };
    f.fill_recipient("ship_", entry);
    f.set("ship_to", "other");
    c.session
        .insert(FORM_KEY, f.values())
        .map_err(fail("checkout draft"))?;
    Ok(Redirect::to("/checkout#delivery").into_response())
}

/// The buyer of the member's latest order (their name, address and phone as they last gave them).
async fn last_buyer(
    state: &ShopState,
    acc: &Accessor,
    member: &str,
) -> Result<Option<Buyer>, mamori_store::StoreError> {
    let Some(latest) = state
        .gateway
        .orders_of(acc, member)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    Ok(Some(state.gateway.order(acc, &latest.id).await?.buyer))
}

fn prefill_buyer(f: &mut FormState, p: &CustomerProfile) {
    let n = p.name.expose();
    f.set("buyer_family", n.family());
    f.set("buyer_given", n.given());
    f.set("buyer_family_kana", n.family_kana().unwrap_or(""));
    f.set("buyer_given_kana", n.given_kana().unwrap_or(""));
    f.set("buyer_email", p.email.expose().as_str());
    if let Some(ph) = &p.phone {
        f.set("buyer_phone", ph.expose().digits());
    }
}

/// `POST /checkout`: validates; on errors the form again with messages next to the fields; else
/// the draft is kept in the (sealed) session and the browser goes to the confirmation.
pub async fn submit(
    State(state): State<Arc<ShopState>>,
    mut c: Ctx,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    guard_card(&state, &mut c).await?;
    let lines = cart_lines(&state, &c).await?;
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let allowed = allowed_fields(lines.len());
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let mut f = FormState::from_submission(c.lang(), map.clone(), &allowed)?;
    if build(&state, &c.settings, &mut f, &lines).is_none() {
        if !f.has_errors() {
            f.fail(
                "cart",
                "在庫が不足している商品があります。カートをご確認ください。",
                "Some items are short of stock. Please check your cart.",
            );
        }
        let mut res = form_page(&state, c, f, lines);
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        // The page is the answer (fields with their messages), not an error page.
        res.extensions_mut().insert(KeepErrorBody);
        return Ok(res);
    }
    let saved: BTreeMap<String, String> = map.into_iter().collect();
    c.session
        .insert(FORM_KEY, &saved)
        .map_err(fail("checkout draft"))?;
    Ok(Redirect::to("/checkout/confirm").into_response())
}

#[derive(Template)]
#[template(path = "checkout/confirm.html")]
struct ConfirmPage {
    c: Ctx,
    items: Vec<OrderItem>,
    buyer: Buyer,
    shipments: Vec<NewShipment>,
    /// Per delivery: the lines going there, in words.
    delivery_items: Vec<Vec<String>>,
    ship_to_buyer: bool,
    method: PaymentMethod,
    quote: Quote,
    key: String,
}

impl ConfirmPage {
    fn std_amount(&self) -> Yen {
        self.quote.at(TaxRate::Standard).0
    }
    fn std_tax(&self) -> Yen {
        self.quote.at(TaxRate::Standard).1
    }
    fn red_amount(&self) -> Yen {
        self.quote.at(TaxRate::Reduced).0
    }
    fn red_tax(&self) -> Yen {
        self.quote.at(TaxRate::Reduced).1
    }
    fn method_label(&self) -> &'static str {
        self.c.t(self.method.label_ja(), self.method.label_en())
    }
    fn slot_label(&self) -> &'static str {
        let slot = self
            .shipments
            .first()
            .map_or(DeliverySlot::Unspecified, |s| s.slot);
        self.c.t(slot.label_ja(), slot.label_en())
    }
    fn date_label(&self) -> String {
        self.shipments
            .first()
            .and_then(|s| s.delivery_date)
            .map_or_else(|| self.c.t("最短", "Earliest").to_owned(), date_label)
    }
    fn delivery_items(&self, index: &usize) -> &[String] {
        self.delivery_items.get(*index).map_or(&[], Vec::as_slice)
    }
    fn item_extras(&self, i: &OrderItem) -> String {
        item_extras(i, self.c.en())
    }
}

/// The lines of each delivery as `name × quantity` (index 0 = delivery 1).
pub fn items_by_delivery(
    items: &[OrderItem],
    item_shipments: &[i64],
    deliveries: usize,
) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); deliveries];
    for (i, item) in items.iter().enumerate() {
        let no = item_shipments.get(i).copied().unwrap_or(1).max(1);
        if let Some(list) = usize::try_from(no - 1).ok().and_then(|k| out.get_mut(k)) {
            list.push(format!("{} × {}", item.product_name, item.quantity));
        }
    }
    out
}

/// 名入れ and のし of a line, in words.
pub fn item_extras(i: &OrderItem, en: bool) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &i.personalisation {
        let date = p
            .birth_date()
            .map(|b| format!(" {}", date_ja(b.expose().date())))
            .unwrap_or_default();
        parts.push(format!(
            "{}: {}{}",
            if en { "Name" } else { "名入れ" },
            p.name().expose(),
            date
        ));
    }
    if let Some(n) = &i.noshi {
        let label = if en {
            n.purpose().label_en()
        } else {
            n.purpose().label_ja()
        };
        let name = n
            .name()
            .map(|x| format!("（{}）", x.expose()))
            .unwrap_or_default();
        parts.push(format!(
            "{}: {label}{name}",
            if en { "Noshi" } else { "のし" }
        ));
    }
    parts.join(" / ")
}

fn saved_form(c: &Ctx, n_lines: usize) -> Result<Option<FormState>, AppError> {
    let Some(saved) = c.session.get::<BTreeMap<String, String>>(FORM_KEY) else {
        return Ok(None);
    };
    let allowed = allowed_fields(n_lines);
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    match FormState::from_submission(c.lang(), saved.into_iter().collect(), &allowed) {
        Ok(f) => Ok(Some(f)),
        // The cart shrank since the form was sent: start the form again.
        Err(_) => Ok(None),
    }
}

/// `GET /checkout/confirm`.
pub async fn confirm(
    State(state): State<Arc<ShopState>>,
    mut c: Ctx,
) -> Result<Response, AppError> {
    guard_card(&state, &mut c).await?;
    let lines = cart_lines(&state, &c).await?;
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let Some(mut f) = saved_form(&c, lines.len())? else {
        return Ok(Redirect::to("/checkout").into_response());
    };
    let Some(b) = build(&state, &c.settings, &mut f, &lines) else {
        return Ok(Redirect::to("/checkout").into_response());
    };
    let key = session_key(&c)?;
    let delivery_items = items_by_delivery(&b.items, &b.item_shipments, b.shipments.len());
    Ok(render(&ConfirmPage {
        c,
        items: b.items,
        buyer: b.buyer,
        shipments: b.shipments,
        delivery_items,
        ship_to_buyer: b.ship_to_buyer,
        method: b.method,
        quote: b.quote,
        key,
    }))
}

/// The confirmation's submission: only the idempotency key the page was shown with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceForm {
    key: String,
}

/// A new order number: the JST date and 32 random bits (`20261121-3F9A0C12`).
fn order_number() -> String {
    let date = to_jst(Utc::now()).format("%Y%m%d");
    format!("{date}-{:08X}", rand::random::<u32>())
}

fn remember_order(c: &Ctx, number: &str) -> Result<(), AppError> {
    let mut mine = c.session.get::<Vec<String>>(ORDERS_KEY).unwrap_or_default();
    if !mine.iter().any(|n| n == number) {
        mine.push(number.to_owned());
        // A session remembers its last 20 orders; older ones are in MyPage for members.
        if mine.len() > 20 {
            mine.remove(0);
        }
    }
    c.session
        .insert(ORDERS_KEY, &mine)
        .map_err(fail("orders in session"))
}

/// True when this session placed `number` or the signed-in member owns the order.
pub fn may_see(c: &Ctx, customer_id: &str, number: &str) -> bool {
    let in_session = c
        .session
        .get::<Vec<String>>(ORDERS_KEY)
        .unwrap_or_default()
        .iter()
        .any(|n| n == number);
    in_session || c.member.as_deref() == Some(customer_id)
}

/// `POST /checkout/place`: writes the order (once per key) and, for cards, sends the browser to
/// the provider's page.
pub async fn place(
    State(state): State<Arc<ShopState>>,
    mut c: Ctx,
    peer: Peer,
    headers: HeaderMap,
    SafeForm(form): SafeForm<PlaceForm>,
) -> Result<Response, AppError> {
    guard_card(&state, &mut c).await?;
    let client = card_testing::client(&state, &c, peer, &headers);
    if let Some((placed_key, number)) = c.session.get::<(String, String)>(PLACED_KEY) {
        if placed_key == form.key {
            // The confirmation of the order placed last, submitted again (double click, back
            // button, second tab): that order, never a second one, nor the next checkout's.
            return placed_again(&state, &client, &number).await;
        }
    }
    let key = session_key(&c)?;
    if form.key != key {
        // A confirmation page from before the last order (or another tab that already ordered).
        return Ok(Redirect::to("/checkout").into_response());
    }
    let lines = cart_lines(&state, &c).await?;
    let Some(mut f) = saved_form(&c, lines.len())? else {
        return Ok(Redirect::to("/checkout").into_response());
    };
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let Some(b) = build(&state, &c.settings, &mut f, &lines) else {
        return Ok(Redirect::to("/checkout").into_response());
    };
    // Card testing: decided before the order is written, so a stopped client leaves no order
    // behind and can still pay another way.
    let mut extra_step = false;
    if b.method == PaymentMethod::Card {
        match card_testing::verdict(&state, &client).await? {
            CardVerdict::Refuse(_) => return Ok(card_testing::stopped(&c, "/checkout")),
            CardVerdict::ExtraStep => extra_step = true,
            CardVerdict::Allow => {}
        }
    }
    let customer_id = match c.member.clone() {
        Some(id) => id,
        None => guest_customer(&state, &c, &b).await?,
    };
    let number = order_number();
    let order = NewOrder {
        customer_id: customer_id.clone(),
        idempotency_key: key.clone(),
        payment_method: b.method,
        buyer: b.buyer.clone(),
        items: b.items.clone(),
        shipments: b.shipments.clone(),
        shipping_fee: b.quote.shipping,
        payment_fee: Some(b.quote.fee),
    };
    // Card orders are confirmed by mail once paid; the others now.
    let mail = if b.method == PaymentMethod::Card {
        None
    } else {
        Some(crate::mail::confirmation_draft(
            &state.config,
            &c.settings,
            &crate::mail::Confirmation {
                number: &number,
                placed_at: Utc::now(),
                lang: crate::mail::mail_lang(c.lang()),
                buyer: &b.buyer,
                items: &b.items,
                shipments: &b.shipments,
                item_shipments: &b.item_shipments,
                method: b.method,
                quote: &b.quote,
            },
        )?)
    };
    let acc = c.accessor("checkout.place").via("checkout");
    let placed = state
        .gateway
        .place_order_split(&acc, &order, &number, mail, &b.item_shipments)
        .await
        .map_err(fail("place order"))?;
    let stored = state
        .store
        .order_header(&placed.order_id)
        .await
        .map_err(fail("order"))?
        .ok_or(AppError::Internal)?;
    let number = stored.order_number.clone();
    if !placed.existing {
        // Every later mail about the order is written in the language it was placed in.
        state
            .store
            .set_order_mail_lang(&placed.order_id, crate::mail::mail_lang(c.lang()))
            .await
            .map_err(fail("order mail language"))?;
        for item in &b.items {
            let taken = state
                .store
                .take_stock(&item.sku, i64::from(item.quantity))
                .await
                .map_err(fail("stock"))?;
            state.catalogue.forget_product(&item.sku);
            if !taken {
                // Sold out between confirmation and placement: the order stands (the customer
                // was shown it) and the back office sees the shortfall in stock.
                tracing::warn!(sku = %item.sku, order = %number, "stock ran out at placement");
            }
        }
        cart::clear(&state, &c.session, c.member.as_deref())
            .await
            .map_err(fail("cart clear"))?;
    }
    remember_order(&c, &number)?;
    // The checkout is over once its order is written, whatever the payment does next: a retry
    // goes through the order's number, and the next cart gets a new key, form and customer.
    forget_checkout(&c.session);
    c.session
        .insert(PLACED_KEY, &(key, number.clone()))
        .map_err(fail("placed checkout"))?;
    if b.method == PaymentMethod::Card && stored.state == OrderState::PendingPayment {
        if extra_step {
            return card_testing::step_page(c, &number, 1);
        }
        return start_payment(&state, &client, &placed.order_id, &number, stored.total, 1).await;
    }
    Ok(Redirect::to(&format!("/checkout/complete/{number}")).into_response())
}

/// The last placed order's confirmation submitted again: its first payment page while that
/// attempt is still open, else the order's page (which offers a retry to an unpaid card order).
async fn placed_again(
    state: &ShopState,
    client: &CardClient,
    number: &str,
) -> Result<Response, AppError> {
    let order = find_order_by_number(state, number).await?;
    if order.payment_method == PaymentMethod::Card && order.state == OrderState::PendingPayment {
        let attempts = state
            .store
            .payments_of_order(&order.id)
            .await
            .map_err(fail("payments of order"))?;
        if attempts.len() == 1
            && attempts
                .iter()
                .all(|p| p.status == PaymentAttemptState::Pending)
        {
            // The same attempt found again at the provider (same key): no new card attempt.
            return start_payment(state, client, &order.id, number, order.total, 1).await;
        }
    }
    Ok(Redirect::to(&format!("/checkout/complete/{number}")).into_response())
}

/// Forgets the checkout in progress: its key, its form and the guest customer made for it.
/// Called once an order is placed and when someone signs in (a member's checkout is their own,
/// never the previous visitor's of this browser).
pub fn forget_checkout(session: &mamori_web::session::Session) {
    session.remove(FORM_KEY);
    session.remove(KEY_KEY);
    session.remove(GUEST_CUSTOMER_KEY);
}

async fn guest_customer(state: &ShopState, c: &Ctx, b: &Built) -> Result<String, AppError> {
    if let Some(id) = c.session.get::<String>(GUEST_CUSTOMER_KEY) {
        return Ok(id);
    }
    let profile = CustomerProfile {
        kind: CustomerKind::Guest,
        name: b.buyer.name.clone(),
        email: b.buyer.email.clone(),
        phone: Some(b.buyer.phone.clone()),
        birth_date: None,
        gender: None,
    };
    let acc = c.accessor("checkout.guest").via("checkout");
    let id = state
        .gateway
        .register_customer(&acc, &profile, None)
        .await
        .map_err(fail("guest customer"))?;
    c.session
        .insert(GUEST_CUSTOMER_KEY, &id)
        .map_err(fail("guest in session"))?;
    Ok(id)
}

/// Creates (or, with the same attempt, finds again) the provider's payment and redirects there.
/// The attempt is recorded with its client for the card-testing counts.
pub(crate) async fn start_payment(
    state: &ShopState,
    client: &CardClient,
    order_id: &str,
    number: &str,
    amount: i64,
    attempt: u32,
) -> Result<Response, AppError> {
    let link = |p: &str| {
        Url::parse(&state.config.link(p)).map_err(|e| {
            tracing::error!(error = %e, "public URL is not usable");
            AppError::Internal
        })
    };
    let created = state
        .psp
        .create_payment(&CreatePayment {
            order_ref: number.to_owned(),
            amount_jpy: amount,
            description: format!("{} ご注文 {number}", state.config.shop_name),
            return_url: link("/checkout/return")?,
            cancel_url: link("/checkout/cancel")?,
            idempotency_key: format!("{order_id}-{attempt}"),
        })
        .await
        .map_err(fail("create payment"))?;
    state
        .fraud
        .card_started(&created.payment_id, client)
        .await
        .map_err(fail("card attempt"))?;
    let known = state
        .store
        .payment_by_provider_id(&created.payment_id)
        .await
        .map_err(fail("payment row"))?;
    if known.is_some() {
        // The provider found this attempt again (same idempotency key): what is recorded of
        // it (e.g. declined) stays; it is not opened again as pending.
        return Ok(Redirect::to(created.redirect_url.as_str()).into_response());
    }
    let now = Utc::now().timestamp();
    state
        .store
        .payment_upsert(&PaymentRow {
            order_id: order_id.to_owned(),
            provider: PROVIDER.to_owned(),
            payment_id: created.payment_id.clone(),
            status: PaymentAttemptState::Pending,
            amount,
            brand: None,
            last4: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .map_err(fail("payment row"))?;
    Ok(Redirect::to(created.redirect_url.as_str()).into_response())
}

/// The payment method and totals of a stored order, computed as at checkout from the shipping
/// and payment fees the order keeps (a later change of the shop's rates changes nothing here).
pub fn stored_quote(v: &OrderView) -> Result<(PaymentMethod, Quote), AppError> {
    let method = v.header.payment_method;
    let q = quote(
        v.items
            .iter()
            .map(|i| (i.rate, i.line_total().unwrap_or(Yen::ZERO))),
        Yen(v.header.shipping_fee),
        Yen(v.header.cod_fee),
    )?;
    Ok((method, q))
}

/// Marks an order paid if `info` settles it, queueing its confirmation mail in the same
/// transaction. Idempotent: an order already paid stays paid and gets no second mail.
async fn settle(
    state: &ShopState,
    acc: &Accessor,
    row: &PaymentRow,
    info: &PaymentInfo,
) -> Result<bool, AppError> {
    let order = state
        .store
        .order_header(&row.order_id)
        .await
        .map_err(fail("order"))?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now().timestamp();
    let mut updated = row.clone();
    updated.brand = info.brand.clone();
    updated.last4 = info.last4.clone();
    updated.updated_at = now;
    let paid =
        info.status == PaymentStatus::Succeeded && info.settles(&order.order_number, order.total);
    updated.status = match info.status {
        PaymentStatus::Succeeded if paid => PaymentAttemptState::Succeeded,
        PaymentStatus::Succeeded => PaymentAttemptState::Mismatch,
        PaymentStatus::Pending => PaymentAttemptState::Pending,
        PaymentStatus::RequiresAction => PaymentAttemptState::RequiresAction,
        PaymentStatus::Failed { .. } => PaymentAttemptState::Failed,
        PaymentStatus::Canceled => PaymentAttemptState::Canceled,
        PaymentStatus::Refunded { .. } if fully_refunded(info) => PaymentAttemptState::Refunded,
        // Refunded in part: still paid, as far as the attempt goes.
        PaymentStatus::Refunded { .. } => row.status,
    };
    if info.status == PaymentStatus::Succeeded && !paid {
        // A succeeded payment for another order or amount: never counts (swapped payment id).
        tracing::warn!(order = %order.order_number, "payment does not settle this order");
    }
    state
        .store
        .payment_upsert(&updated)
        .await
        .map_err(fail("payment row"))?;
    // The card's fingerprint and a decline, for the card-testing counts. A failure to count is
    // logged and does not stop the payment's own bookkeeping.
    let declined = matches!(info.status, PaymentStatus::Failed { .. });
    if let Err(err) = state
        .fraud
        .card_outcome(&row.payment_id, info.fingerprint.as_deref(), declined)
        .await
    {
        tracing::error!(error = %err, "could not record a card attempt's outcome");
    }
    if !paid {
        return Ok(false);
    }
    if order.state != OrderState::PendingPayment {
        let attempts = state
            .store
            .payments_of_order(&row.order_id)
            .await
            .map_err(fail("payments of order"))?;
        if attempts
            .iter()
            .filter(|p| p.status == PaymentAttemptState::Succeeded)
            .count()
            > 1
        {
            // Two attempts' pages (e.g. one left open in another tab, then a retry) were both
            // paid: the customer paid twice and one must be refunded.
            tracing::warn!(order = %order.order_number, "a second payment attempt succeeded");
        }
        return Ok(true);
    }
    let view = state
        .gateway
        .order(acc, &row.order_id)
        .await
        .map_err(fail("order for mail"))?;
    let lang = state
        .store
        .order_mail_lang(&row.order_id)
        .await
        .map_err(fail("order mail language"))?
        .unwrap_or(mamori_domain::Language::Ja);
    let settings = state
        .catalogue
        .settings(state.store.as_ref(), &state.config.shop_name)
        .await
        .map_err(fail("settings"))?;
    let mail = crate::mail::confirmation_from_view(&state.config, &settings, &view, lang)?;
    state
        .gateway
        .transition_order_with_mail(
            acc,
            &row.order_id,
            &[OrderState::PendingPayment],
            OrderState::Paid,
            Some(mail),
        )
        .await
        .map_err(fail("mark paid"))?;
    Ok(true)
}

/// `?payment_id=` from the provider's redirect.
#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    #[serde(default)]
    payment_id: String,
}

#[derive(Template)]
#[template(path = "checkout/payment_failed.html")]
struct PaymentFailedPage {
    c: Ctx,
    number: String,
    reason: String,
    pending: bool,
}

async fn payment_and_order(
    state: &ShopState,
    c: &Ctx,
    payment_id: &str,
) -> Result<(PaymentRow, String), AppError> {
    if !mamori_pay::is_valid_payment_id(payment_id) {
        return Err(AppError::BadRequest);
    }
    let row = state
        .store
        .payment_by_provider_id(payment_id)
        .await
        .map_err(fail("payment"))?
        .ok_or(AppError::NotFound)?;
    let order = state
        .store
        .order_header(&row.order_id)
        .await
        .map_err(fail("order"))?
        .ok_or(AppError::NotFound)?;
    let number = order.order_number;
    if !may_see(c, &order.customer_id, &number) {
        return Err(AppError::NotFound);
    }
    Ok((row, number))
}

/// `GET /checkout/return?payment_id=`: asks the provider (server to server) and settles.
pub async fn payment_return(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Query(q): Query<ReturnQuery>,
) -> Result<Response, AppError> {
    let (row, number) = payment_and_order(&state, &c, &q.payment_id).await?;
    let info = state
        .psp
        .lookup(&row.payment_id)
        .await
        .map_err(fail("payment lookup"))?;
    let acc = c.accessor("checkout.payment-return");
    if settle(&state, &acc, &row, &info).await? {
        return Ok(Redirect::to(&format!("/checkout/complete/{number}")).into_response());
    }
    failed_page(c, number, &info)
}

fn failed_page(c: Ctx, number: String, info: &PaymentInfo) -> Result<Response, AppError> {
    let (reason, pending) = match info.status {
        PaymentStatus::Failed { reason } => (
            if c.en() {
                reason.message_en()
            } else {
                reason.message_ja()
            },
            false,
        ),
        PaymentStatus::Pending | PaymentStatus::RequiresAction => (
            c.t(
                "お支払いはまだ完了していません。",
                "The payment is not complete yet.",
            ),
            true,
        ),
        _ => (
            c.t(
                "お支払いを完了できませんでした。",
                "The payment could not be completed.",
            ),
            false,
        ),
    };
    let res = render(&PaymentFailedPage {
        c,
        number,
        reason: reason.to_owned(),
        pending,
    });
    Ok(res)
}

/// `GET /checkout/cancel?payment_id=`: the provider sent the customer back without payment.
pub async fn payment_cancel(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Query(q): Query<ReturnQuery>,
) -> Result<Response, AppError> {
    let (row, number) = payment_and_order(&state, &c, &q.payment_id).await?;
    let info = state
        .psp
        .lookup(&row.payment_id)
        .await
        .map_err(fail("payment lookup"))?;
    let acc = c.accessor("checkout.payment-cancel");
    if settle(&state, &acc, &row, &info).await? {
        return Ok(Redirect::to(&format!("/checkout/complete/{number}")).into_response());
    }
    failed_page(c, number, &info)
}

/// The retry button's form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryForm {
    number: String,
}

/// `POST /checkout/retry`: a new payment attempt for an unpaid card order of this session.
pub async fn retry(
    State(state): State<Arc<ShopState>>,
    mut c: Ctx,
    peer: Peer,
    headers: HeaderMap,
    SafeForm(form): SafeForm<RetryForm>,
) -> Result<Response, AppError> {
    guard_card(&state, &mut c).await?;
    let mine = c.session.get::<Vec<String>>(ORDERS_KEY).unwrap_or_default();
    if !mine.contains(&form.number) {
        return Err(AppError::NotFound);
    }
    let order = find_order_by_number(&state, &form.number).await?;
    if order.state != OrderState::PendingPayment
        || order.payment_method != PaymentMethod::Card
        || c.card_closed
    {
        return Ok(Redirect::to(&format!("/checkout/complete/{}", form.number)).into_response());
    }
    let attempt = rand::random::<u32>() | 0x1000;
    let complete = format!("/checkout/complete/{}", form.number);
    if c.card_stopped {
        return Ok(card_testing::stopped(&c, &complete));
    }
    let client = card_testing::client(&state, &c, peer, &headers);
    match card_testing::verdict(&state, &client).await? {
        CardVerdict::Refuse(_) => Ok(card_testing::stopped(&c, &complete)),
        CardVerdict::ExtraStep => card_testing::step_page(c, &order.order_number, attempt),
        CardVerdict::Allow => {
            start_payment(
                &state,
                &client,
                &order.id,
                &order.order_number,
                order.total,
                attempt,
            )
            .await
        }
    }
}

pub(crate) async fn find_order_by_number(
    state: &ShopState,
    number: &str,
) -> Result<mamori_store::OrderHeader, AppError> {
    state
        .store
        .order_by_number(number)
        .await
        .map_err(fail("order by number"))?
        .ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "checkout/complete.html")]
struct CompletePage {
    c: Ctx,
    order: mamori_store::OrderHeader,
    method: PaymentMethod,
    paid: bool,
    /// Money received: the receipt is offered.
    receipt: bool,
    bank_account: String,
    card: Option<String>,
}

impl CompletePage {
    fn total(&self) -> Yen {
        Yen(self.order.total)
    }
}

/// `GET /checkout/complete/{number}`: the thank-you page with the order number.
pub async fn complete(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(number): Path<String>,
) -> Result<Response, AppError> {
    let order = find_order_by_number(&state, &number).await?;
    if !may_see(&c, &order.customer_id, &number) {
        return Err(AppError::NotFound);
    }
    let method = order.payment_method;
    let payment = state
        .store
        .payment_of_order(&order.id)
        .await
        .map_err(fail("payment"))?;
    let card = payment.and_then(|p| match (p.brand, p.last4) {
        (Some(b), Some(l)) => Some(format!("{} **** {l}", b.to_uppercase())),
        _ => None,
    });
    let paid = order.state != OrderState::PendingPayment;
    let receipt = order.state.is_paid_for(method);
    Ok(render(&CompletePage {
        c,
        order,
        method,
        paid,
        receipt,
        bank_account: state.config.bank_account.clone(),
        card,
    }))
}

/// `POST /payments/webhook`: the provider's signed notification. Refused (401) unless the
/// signature over the raw body and the timestamp verify and the event id is new.
pub async fn webhook(
    State(state): State<Arc<ShopState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = |status: StatusCode, ok: bool| {
        (
            status,
            Extension(KeepErrorBody),
            Json(serde_json::json!({ "ok": ok })),
        )
            .into_response()
    };
    let event = match state
        .webhooks
        .verify_headers(&headers, &body, Utc::now())
        .await
    {
        Ok(e) => e,
        Err(WebhookError::Duplicate { .. }) => return answer(StatusCode::OK, true),
        Err(WebhookError::Guard(err)) => {
            tracing::error!(error = %err, "webhook replay guard failed");
            return answer(StatusCode::SERVICE_UNAVAILABLE, false);
        }
        Err(err) => {
            // Forged, altered, stale or malformed: refused and logged without the body.
            tracing::warn!(reason = %err, "webhook refused");
            return answer(StatusCode::UNAUTHORIZED, false);
        }
    };
    let row = match state
        .store
        .payment_by_provider_id(&event.payment.payment_id)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::warn!(kind = event.kind.as_str(), "webhook for an unknown payment");
            return answer(StatusCode::OK, true);
        }
        Err(err) => {
            tracing::error!(error = %err, "webhook payment lookup failed");
            return answer(StatusCode::SERVICE_UNAVAILABLE, false);
        }
    };
    let acc = Accessor::system("payment-webhook", "payment.webhook");
    let result = match event.kind {
        WebhookEventKind::PaymentSucceeded | WebhookEventKind::PaymentFailed => {
            settle(&state, &acc, &row, &event.payment).await.map(|_| ())
        }
        // A partial refund leaves the payment paid (the order's refunds are its record, written
        // by the back office); only a refund of the whole amount marks the attempt 返金済み.
        WebhookEventKind::PaymentRefunded if !fully_refunded(&event.payment) => Ok(()),
        WebhookEventKind::PaymentRefunded => {
            let mut updated = row.clone();
            updated.status = PaymentAttemptState::Refunded;
            updated.updated_at = Utc::now().timestamp();
            state
                .store
                .payment_upsert(&updated)
                .await
                .map_err(fail("payment row"))
        }
        _ => Ok(()),
    };
    match result {
        Ok(()) => answer(StatusCode::OK, true),
        // The provider retries on a non-2xx answer; the event id is already recorded, so the
        // retry would be refused as a duplicate. Settling is also reached through the return
        // page's lookup, which closes that gap.
        Err(_) => answer(StatusCode::INTERNAL_SERVER_ERROR, false),
    }
}

/// Whether a `payment.refunded` event's payment is refunded in full (the event is sent for every
/// refund, partial ones included).
fn fully_refunded(payment: &PaymentInfo) -> bool {
    matches!(payment.status, PaymentStatus::Refunded { amount } if amount >= payment.amount_jpy)
}
