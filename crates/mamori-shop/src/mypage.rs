//! MyPage: the signed-in member's orders, address book, profile, password, email address and
//! withdrawal.
//!
//! Every route needs a member ([`Member`] answers `303 /login?next=<this path>` otherwise) and is
//! `Cache-Control: no-store`. Every read and write goes through the gateway with a `mypage.*`
//! purpose; every change mails the member a notice naming when, from which address and which
//! browser it was made.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /mypage` | name and links |
//! | `GET /mypage/orders` | history: number, date (JST), total, state |
//! | `GET /mypage/orders/{order_number}` | one of the member's own orders (404 for anyone else's) |
//! | `GET/POST /mypage/addresses`, `POST /mypage/addresses/{id}/delete` | address book, with notices |
//! | `GET/POST /mypage/profile` | name, kana, phone, birth date, gender, with a notice |
//! | `GET/POST /mypage/password` | current password, new twice, with a notice |
//! | `GET/POST /mypage/email`, `GET /mypage/email/confirm?token=` | change of address confirmed from the new address; notice to the old one |
//! | `GET/POST /mypage/withdraw` | current password and a checkbox; completion mail, erasure, logout |
//! | `GET /withdrawn` | the goodbye page (no member needed) |
//!
//! The receipt link (`/mypage/orders/{order_number}/receipt`) is served by `receipt.rs`.

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    extract::{FromRequestParts, Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use chrono::{DateTime, NaiveDate};
use http::{request::Parts, HeaderMap, Uri};
use mamori_domain::{
    CustomerKind, CustomerProfile, DeliverySlot, Email, Gender, OrderState, PaymentMethod,
    Personal, Recipient, TaxRate, Yen,
};
use mamori_mail::account::{
    address_book_changed, email_change_confirmation, email_changed, password_changed,
    profile_changed, withdrawal_completed,
};
use mamori_store::{gateway::MailDraft, OrderHeader, StoreError};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::{
    ctx::Ctx,
    fail,
    forms::{prefectures, FormState},
    mail::draft,
    members::{
        change_context, check_login_limit, current_password, language, mail_link, message,
        new_password, notice_draft, optional_birth_date, optional_gender, optional_phone, LinkKind,
        Peer, TokenQuery,
    },
    state::{to_jst, ShopState},
};

/// Token purpose of the email-change link.
pub const PURPOSE_CHANGE_EMAIL: &str = "change_email";
/// Lifetime of the email-change link.
pub const CHANGE_EMAIL_TTL_SECS: i64 = 24 * 3600;

/// The email-change link, mailed to the new address (`/mypage/email/confirm`, 24 h); its token
/// carries the new address.
const CHANGE_EMAIL_LINK: LinkKind = LinkKind {
    purpose: PURPOSE_CHANGE_EMAIL,
    ttl_secs: CHANGE_EMAIL_TTL_SECS,
    path: "/mypage/email/confirm",
    mail_kind: "email-change-confirmation",
    template: email_change_confirmation,
};

/// MyPage's routes (each requires a member, each private).
pub fn routes(_state: &Arc<ShopState>) -> Router<Arc<ShopState>> {
    Router::new()
        .route("/mypage", get(home))
        .route("/mypage/orders", get(orders))
        .route("/mypage/orders/{number}", get(order_detail))
        .route("/mypage/addresses", get(addresses).post(address_add))
        .route("/mypage/addresses/{id}/delete", post(address_delete))
        .route("/mypage/profile", get(profile_form).post(profile_submit))
        .route("/mypage/password", get(password_form).post(password_submit))
        .route("/mypage/email", get(email_form).post(email_submit))
        .route("/mypage/email/confirm", get(email_confirm))
        .route("/mypage/withdraw", get(withdraw_form).post(withdraw_submit))
        .route("/withdrawn", get(withdrawn))
        .route_layer(PagePolicy::new().private().layer())
}

// ---------------------------------------------------------------------------------------------
// The member guard
// ---------------------------------------------------------------------------------------------

/// The signed-in member and the page context. Extracting it on a request without a member
/// answers `303 /login?next=<path and query>`.
#[derive(Debug, Clone)]
pub struct Member {
    /// Page context.
    pub c: Ctx,
    /// The member's customer id.
    pub id: String,
}

/// `/login?next=<uri>`.
pub fn login_redirect(uri: &Uri) -> String {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    format!(
        "/login?next={}",
        utf8_percent_encode(&target, NON_ALPHANUMERIC)
    )
}

impl FromRequestParts<Arc<ShopState>> for Member {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ShopState>,
    ) -> Result<Self, Self::Rejection> {
        let c = Ctx::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match c.member.clone() {
            Some(id) => Ok(Member { c, id }),
            None => Err(Redirect::to(&login_redirect(&parts.uri)).into_response()),
        }
    }
}

/// The member's profile; an erased member (withdrawn in another session) is signed out.
async fn profile_of(
    state: &ShopState,
    m: &Member,
    purpose: &str,
) -> Result<Result<CustomerProfile, Response>, AppError> {
    match state
        .gateway
        .customer_profile(&m.c.accessor(purpose), &m.id)
        .await
    {
        Ok(p) => Ok(Ok(p)),
        Err(StoreError::Erased(_)) | Err(StoreError::NotFound { .. }) => {
            m.c.session.destroy();
            Ok(Err(Redirect::to("/").into_response()))
        }
        Err(err) => Err(fail("member profile")(err)),
    }
}

/// Unwraps [`profile_of`] inside a handler returning `Result<Response, AppError>`.
macro_rules! profile_or_return {
    ($state:expr, $m:expr, $purpose:expr) => {
        match profile_of($state, &$m, $purpose).await? {
            Ok(p) => p,
            Err(res) => return Ok(res),
        }
    };
}

/// Checks the member's current password; limited per account like login (a stolen session must
/// not become a password oracle).
async fn verify_current(
    state: &ShopState,
    m: &Member,
    profile: &CustomerProfile,
    form: &mut FormState,
    field: &str,
) -> Result<bool, AppError> {
    let Some(pw) = current_password(form, field) else {
        return Ok(false);
    };
    check_login_limit(state, profile.email.expose())?;
    let ok = state
        .gateway
        .check_password(&m.id, &pw)
        .await
        .map_err(fail("check password"))?;
    if !ok {
        form.fail(
            field,
            "現在のパスワードが正しくありません。",
            "The current password is not correct.",
        );
    }
    Ok(ok)
}

// ---------------------------------------------------------------------------------------------
// Home and orders
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "mypage/home.html")]
struct HomePage {
    c: Ctx,
    name: String,
    email_masked: String,
}

/// `GET /mypage`.
async fn home(State(state): State<Arc<ShopState>>, m: Member) -> Result<Response, AppError> {
    let profile = profile_or_return!(&state, m, "mypage.home");
    Ok(render(&HomePage {
        name: profile.name.expose().full_name(),
        email_masked: profile.email.expose().masked(),
        c: m.c,
    }))
}

/// `2026年11月21日 14:05` (JST) from microseconds since the epoch.
fn jst_time(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|t| to_jst(t).format("%Y年%-m月%-d日 %H:%M").to_string())
        .unwrap_or_default()
}

/// One row of the history.
#[derive(Debug, Clone)]
pub struct OrderLine {
    /// Order number.
    pub number: String,
    /// When (JST).
    pub placed: String,
    /// Total, tax included.
    pub total: String,
    /// State label.
    pub state: String,
}

/// The state in words for the customer, as the payment method has it (store pickup is ready for
/// pickup rather than shipped).
fn state_label(c: &Ctx, state: &OrderState, method: PaymentMethod) -> String {
    state.label_for(method, language(c.lang())).to_owned()
}

#[derive(Template)]
#[template(path = "mypage/orders.html")]
struct OrdersPage {
    c: Ctx,
    orders: Vec<OrderLine>,
}

/// `GET /mypage/orders`.
async fn orders(State(state): State<Arc<ShopState>>, m: Member) -> Result<Response, AppError> {
    let rows = state
        .gateway
        .orders_of(&m.c.accessor("mypage.orders"), &m.id)
        .await
        .map_err(fail("orders of member"))?;
    let mut rows: Vec<OrderHeader> = rows;
    rows.sort_by_key(|r| std::cmp::Reverse(r.placed_at));
    let orders = rows
        .iter()
        .map(|r| OrderLine {
            number: r.order_number.clone(),
            placed: jst_time(r.placed_at),
            total: Yen(r.total).format_tax_included(),
            state: state_label(&m.c, &r.state, r.payment_method),
        })
        .collect();
    Ok(render(&OrdersPage { c: m.c, orders }))
}

/// One line of an order's detail.
/// No `Debug`: it holds the member's personal values in the clear, for the template only.
#[derive(Clone)]
pub struct ItemLine {
    /// Product name at order time.
    pub name: String,
    /// SKU.
    pub sku: String,
    /// Units.
    pub quantity: u32,
    /// Unit price.
    pub unit: String,
    /// Line total.
    pub total: String,
    /// At the reduced rate.
    pub reduced: bool,
    /// 名入れ: the text and date.
    pub personalisation: Option<String>,
    /// のし: purpose and name.
    pub noshi: Option<String>,
}

/// One delivery of an order's detail.
/// No `Debug`: it holds the member's personal values in the clear, for the template only.
#[derive(Clone)]
pub struct DeliveryLine {
    /// Recipient's name.
    pub name: String,
    /// Address label.
    pub address: String,
    /// Phone.
    pub phone: String,
    /// Requested date.
    pub date: String,
    /// Slot label.
    pub slot: String,
    /// What goes there (`name × quantity`), when the order has several deliveries.
    pub items: Vec<String>,
}

/// Tax per rate.
#[derive(Debug, Clone)]
pub struct TaxLine {
    /// `10%対象` / `8%対象（軽減税率）`.
    pub label: &'static str,
    /// [`TaxRate::as_str`] (the cell's id).
    pub code: &'static str,
    /// Amount at the rate, tax included.
    pub amount: String,
    /// Tax within it.
    pub tax: String,
}

#[derive(Template)]
#[template(path = "mypage/order.html")]
struct OrderPage {
    c: Ctx,
    number: String,
    placed: String,
    state: String,
    /// Money received: the receipt is offered.
    receipt: bool,
    payment: String,
    items: Vec<ItemLine>,
    deliveries: Vec<DeliveryLine>,
    taxes: Vec<TaxLine>,
    items_total: String,
    shipping_fee: String,
    cod_fee: Option<String>,
    total: String,
}

/// `GET /mypage/orders/{order_number}`: only the member's own orders.
async fn order_detail(
    State(state): State<Arc<ShopState>>,
    m: Member,
    Path(number): Path<String>,
) -> Result<Response, AppError> {
    let row = state
        .store
        .order_by_number(&number)
        .await
        .map_err(fail("order by number"))?
        .ok_or(AppError::NotFound)?;
    if row.customer_id != m.id {
        return Err(AppError::NotFound);
    }
    let view = state
        .gateway
        .order(&m.c.accessor("mypage.order"), &row.id)
        .await
        .map_err(fail("order view"))?;
    let c = m.c;
    let lang = language(c.lang());
    let items = view
        .items
        .iter()
        .map(|i| ItemLine {
            name: i.product_name.clone(),
            sku: i.sku.clone(),
            quantity: i.quantity,
            unit: i.unit_price_incl.format_tax_included(),
            total: i
                .line_total()
                .map(Yen::format_tax_included)
                .unwrap_or_default(),
            reduced: i.rate == TaxRate::Reduced,
            personalisation: i.personalisation.as_ref().map(|p| {
                let mut s = p.name().expose().clone();
                if let Some(b) = p.birth_date() {
                    s.push_str(" / ");
                    s.push_str(&crate::checkout::date_ja(b.expose().date()));
                }
                s
            }),
            noshi: i.noshi.as_ref().map(|n| {
                let mut s = n.purpose().label(lang).to_owned();
                if let Some(name) = n.name() {
                    s.push_str(" / ");
                    s.push_str(name.expose());
                }
                s
            }),
        })
        .collect();
    let several = view.shipments.len() > 1;
    let per_delivery =
        crate::checkout::items_by_delivery(&view.items, &view.item_shipments, view.shipments.len());
    let deliveries = view
        .shipments
        .iter()
        .zip(per_delivery)
        .map(|(s, items)| DeliveryLine {
            items: if several { items } else { Vec::new() },
            name: s.recipient.name.expose().full_name(),
            address: s.recipient.address.expose().to_label(),
            phone: s.recipient.phone.expose().to_string(),
            date: s
                .delivery_date
                .as_deref()
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map_or_else(|_| d.to_owned(), crate::checkout::date_label)
                })
                .unwrap_or_else(|| c.t("指定なし", "No preference").to_owned()),
            slot: DeliverySlot::parse(&s.slot)
                .map(|d| d.label(lang).to_owned())
                .unwrap_or_else(|_| s.slot.clone()),
        })
        .collect();
    let h = &view.header;
    let mut taxes = Vec::new();
    // Shipping and the 代引き fee are taxed at 10% with the items, as on the receipt and in the mail.
    if let Ok((_, quote)) = crate::checkout::stored_quote(&view) {
        for r in quote.totals.per_rate {
            taxes.push(TaxLine {
                label: match r.rate {
                    TaxRate::Reduced => c.t("8%対象（軽減税率）", "8% (reduced rate)"),
                    _ => c.t("10%対象", "10%"),
                },
                code: r.rate.as_str(),
                amount: r.amount_incl.format_tax_included(),
                tax: r.tax.format_grouped(),
            });
        }
    }
    let payment = h.payment_method.label(lang).to_owned();
    Ok(render(&OrderPage {
        number: h.order_number.clone(),
        placed: jst_time(h.placed_at),
        state: state_label(&c, &h.state, h.payment_method),
        receipt: h.state.is_paid_for(h.payment_method),
        payment,
        items,
        deliveries,
        taxes,
        items_total: Yen(h.items_total).format_tax_included(),
        shipping_fee: Yen(h.shipping_fee).format_tax_included(),
        cod_fee: (h.cod_fee > 0).then(|| Yen(h.cod_fee).format_tax_included()),
        total: Yen(h.total).format_tax_included(),
        c,
    }))
}

// ---------------------------------------------------------------------------------------------
// Address book
// ---------------------------------------------------------------------------------------------

/// An address-book entry as shown.
/// No `Debug`: it holds the member's personal values in the clear, for the template only.
#[derive(Clone)]
pub struct AddressLine {
    /// Entry id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address label.
    pub address: String,
    /// Phone.
    pub phone: String,
}

fn address_line(id: &str, r: &Recipient) -> AddressLine {
    AddressLine {
        id: id.to_owned(),
        name: r.name.expose().full_name(),
        address: r.address.expose().to_label(),
        phone: r.phone.expose().to_string(),
    }
}

#[derive(Template)]
#[template(path = "mypage/addresses.html")]
struct AddressesPage {
    c: Ctx,
    entries: Vec<AddressLine>,
    form: FormState,
    prefectures: Vec<(&'static str, &'static str)>,
}

async fn addresses_page(
    state: &ShopState,
    m: Member,
    form: FormState,
) -> Result<Response, AppError> {
    let entries = state
        .gateway
        .addresses(&m.c.accessor("mypage.addresses"), &m.id)
        .await
        .map_err(fail("address book"))?
        .iter()
        .map(|(id, r)| address_line(id, r))
        .collect();
    Ok(render(&AddressesPage {
        c: m.c,
        entries,
        form,
        prefectures: prefectures(),
    }))
}

/// `GET /mypage/addresses`.
async fn addresses(State(state): State<Arc<ShopState>>, m: Member) -> Result<Response, AppError> {
    let form = FormState::new(m.c.lang());
    addresses_page(&state, m, form).await
}

/// `POST /mypage/addresses`: adds an entry and mails a notice.
async fn address_add(
    State(state): State<Arc<ShopState>>,
    m: Member,
    headers: HeaderMap,
    peer: Peer,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let allowed = FormState::person_names("addr_");
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let mut form = FormState::from_submission(m.c.lang(), map, &allowed)?;
    let Some(recipient) = form.recipient("addr_") else {
        return addresses_page(&state, m, form).await;
    };
    let profile = profile_or_return!(&state, m, "mypage.notice");
    let context = change_context(&state, &headers, peer);
    let mail = notice_draft(&state, "address-book-changed", &profile, context, |n| {
        address_book_changed(n, true)
    })?;
    state
        .gateway
        .add_address_with_mail(
            &m.c.accessor("mypage.addresses").via("mypage/addresses"),
            &m.id,
            &recipient,
            Some(mail),
        )
        .await
        .map_err(fail("add address"))?;
    m.c.flash_next(m.c.t("お届け先を追加しました。", "The address was added."));
    Ok(Redirect::to("/mypage/addresses").into_response())
}

/// `POST /mypage/addresses/{id}/delete`.
async fn address_delete(
    State(state): State<Arc<ShopState>>,
    m: Member,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    FormState::from_submission(m.c.lang(), map, &[])?;
    if id.len() > 64 {
        return Err(AppError::NotFound);
    }
    let acc = m.c.accessor("mypage.addresses");
    let deleted = state
        .gateway
        .delete_address(&acc, &m.id, &id)
        .await
        .map_err(fail("delete address"))?;
    if !deleted {
        return Err(AppError::NotFound);
    }
    let profile = profile_or_return!(&state, m, "mypage.notice");
    let context = change_context(&state, &headers, peer);
    let mail = notice_draft(&state, "address-book-changed", &profile, context, |n| {
        address_book_changed(n, false)
    })?;
    queue(&state, &m, mail).await?;
    m.c.flash_next(m.c.t("お届け先を削除しました。", "The address was deleted."));
    Ok(Redirect::to("/mypage/addresses").into_response())
}

async fn queue(state: &ShopState, m: &Member, mail: MailDraft) -> Result<(), AppError> {
    state
        .gateway
        .queue_mail(&m.c.accessor("mypage.notice"), &m.id, mail)
        .await
        .map(|_| ())
        .map_err(fail("queue notice"))
}

// ---------------------------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------------------------

const PROFILE_FIELDS: &[&str] = &[
    "family",
    "given",
    "family_kana",
    "given_kana",
    "phone",
    "birth_date",
    "gender",
];

#[derive(Template)]
#[template(path = "mypage/profile.html")]
struct ProfilePage {
    c: Ctx,
    form: FormState,
    genders: Vec<(&'static str, &'static str)>,
}

fn genders(c: &Ctx) -> Vec<(&'static str, &'static str)> {
    let lang = language(c.lang());
    Gender::ALL
        .iter()
        .map(|g| (g.as_str(), g.label(lang)))
        .collect()
}

/// `GET /mypage/profile`.
async fn profile_form(
    State(state): State<Arc<ShopState>>,
    m: Member,
) -> Result<Response, AppError> {
    let profile = profile_or_return!(&state, m, "mypage.profile");
    let mut form = FormState::new(m.c.lang());
    let n = profile.name.expose();
    form.set("family", n.family());
    form.set("given", n.given());
    form.set("family_kana", n.family_kana().unwrap_or(""));
    form.set("given_kana", n.given_kana().unwrap_or(""));
    if let Some(p) = &profile.phone {
        form.set("phone", p.expose().digits());
    }
    if let Some(b) = &profile.birth_date {
        form.set(
            "birth_date",
            b.expose().date().format("%Y-%m-%d").to_string(),
        );
    }
    if let Some(g) = profile.gender {
        form.set("gender", g.as_str());
    }
    let genders = genders(&m.c);
    Ok(render(&ProfilePage {
        c: m.c,
        form,
        genders,
    }))
}

/// `POST /mypage/profile`.
async fn profile_submit(
    State(state): State<Arc<ShopState>>,
    m: Member,
    headers: HeaderMap,
    peer: Peer,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(m.c.lang(), map, PROFILE_FIELDS)?;
    let name = form.person_name("");
    let phone = optional_phone(&mut form, "phone");
    let birth_date = optional_birth_date(&mut form, "birth_date");
    let gender = optional_gender(&mut form, "gender");
    let (Some(name), Ok(phone), Ok(birth_date), Ok(gender), false) =
        (name, phone, birth_date, gender, form.has_errors())
    else {
        let genders = genders(&m.c);
        return Ok(render(&ProfilePage {
            c: m.c,
            form,
            genders,
        }));
    };
    let current = profile_or_return!(&state, m, "mypage.profile");
    let updated = CustomerProfile {
        kind: CustomerKind::Member,
        name,
        email: current.email.clone(),
        phone,
        birth_date,
        gender,
    };
    let context = change_context(&state, &headers, peer);
    let mail = notice_draft(
        &state,
        "profile-changed",
        &updated,
        context,
        profile_changed,
    )?;
    state
        .gateway
        .update_profile_with_mail(
            &m.c.accessor("mypage.profile").via("mypage/profile"),
            &m.id,
            &updated,
            Some(mail),
        )
        .await
        .map_err(fail("update profile"))?;
    m.c.flash_next(m.c.t("会員情報を更新しました。", "Your details were updated."));
    Ok(Redirect::to("/mypage/profile").into_response())
}

// ---------------------------------------------------------------------------------------------
// Password
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "mypage/password.html")]
struct PasswordPage {
    c: Ctx,
    form: FormState,
}

/// `GET /mypage/password`.
async fn password_form(m: Member) -> Response {
    let form = FormState::new(m.c.lang());
    render(&PasswordPage { c: m.c, form })
}

/// `POST /mypage/password`.
async fn password_submit(
    State(state): State<Arc<ShopState>>,
    m: Member,
    headers: HeaderMap,
    peer: Peer,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(
        m.c.lang(),
        map,
        &["current_password", "password", "password_confirm"],
    )?;
    let profile = profile_or_return!(&state, m, "mypage.password");
    let new = new_password(
        &mut form,
        "password",
        Some("password_confirm"),
        Some(profile.email.expose()),
    );
    let current_ok = verify_current(&state, &m, &profile, &mut form, "current_password").await?;
    let (Some(new), true) = (new, current_ok) else {
        return Ok(render(&PasswordPage { c: m.c, form }));
    };
    let context = change_context(&state, &headers, peer);
    let mail = notice_draft(
        &state,
        "password-changed",
        &profile,
        context,
        password_changed,
    )?;
    state
        .gateway
        .change_password(&m.c.accessor("mypage.password"), &m.id, &new, Some(mail))
        .await
        .map_err(fail("change password"))?;
    // A new session id after a change of credentials.
    m.c.session.renew();
    m.c.flash_next(m.c.t("パスワードを変更しました。", "Your password was changed."));
    Ok(Redirect::to("/mypage").into_response())
}

// ---------------------------------------------------------------------------------------------
// Email address
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "mypage/email.html")]
struct EmailPage {
    c: Ctx,
    form: FormState,
    current_masked: String,
}

/// `GET /mypage/email`.
async fn email_form(State(state): State<Arc<ShopState>>, m: Member) -> Result<Response, AppError> {
    let profile = profile_or_return!(&state, m, "mypage.email");
    let form = FormState::new(m.c.lang());
    Ok(render(&EmailPage {
        current_masked: profile.email.expose().masked(),
        c: m.c,
        form,
    }))
}

/// `POST /mypage/email`: mails a confirmation link to the new address. Whether the new address
/// is taken is told only to whoever opens that link (the owner of the address).
async fn email_submit(
    State(state): State<Arc<ShopState>>,
    m: Member,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(m.c.lang(), map, &["current_password", "email"])?;
    let profile = profile_or_return!(&state, m, "mypage.email");
    let new = form.email("email");
    if let Some(e) = &new {
        if e.expose().normalised_for_lookup() == profile.email.expose().normalised_for_lookup() {
            form.fail(
                "email",
                "現在と同じメールアドレスです。",
                "This is already your address.",
            );
        }
    }
    let current_ok = verify_current(&state, &m, &profile, &mut form, "current_password").await?;
    let (Some(new), true, false) = (new, current_ok, form.has_errors()) else {
        let current_masked = profile.email.expose().masked();
        return Ok(render(&EmailPage {
            c: m.c,
            form,
            current_masked,
        }));
    };
    let acc = m.c.accessor("mypage.email").via("mypage/email");
    let new = new.expose().as_str();
    mail_link(
        &state,
        &acc,
        &m.id,
        (new, profile.name.expose()),
        &CHANGE_EMAIL_LINK,
        Some(new.as_bytes()),
    )
    .await?;
    m.c.flash_next(m.c.t(
        "新しいメールアドレスに確認メールを送信しました。メール内のリンクを開くと変更が完了します。",
        "We have sent a confirmation mail to the new address. Open its link to complete the change.",
    ));
    Ok(Redirect::to("/mypage").into_response())
}

/// `GET /mypage/email/confirm?token=...`: the change happens here (the member must be signed in
/// as the account the link was made for).
async fn email_confirm(
    State(state): State<Arc<ShopState>>,
    m: Member,
    headers: HeaderMap,
    peer: Peer,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let acc = m.c.accessor("mypage.email_confirm").via("mypage/email");
    let consumed = match q.token.as_deref() {
        Some(t) if !t.is_empty() && t.len() <= 256 => state
            .gateway
            .consume_token(&acc, t, PURPOSE_CHANGE_EMAIL)
            .await
            .map_err(fail("consume email token"))?,
        _ => None,
    };
    let new = consumed
        .filter(|(id, _)| *id == m.id)
        .and_then(|(_, payload)| payload)
        .and_then(|p| {
            std::str::from_utf8(&p)
                .ok()
                .and_then(|s| Email::parse(s).ok())
        });
    let Some(new) = new else {
        return Ok(message(
            m.c,
            "link-invalid",
            ("リンクが無効です", "This link does not work"),
            (
                "このリンクは使用済みか、有効期限が切れているか、このアカウントのものではありません。お手数ですが、もう一度メールアドレスの変更をお申し込みください。",
                "This link has been used, has expired, or belongs to another account. Please ask for the change again.",
            ),
            Some(("/mypage/email", ("メールアドレスの変更", "Change email address"))),
        ));
    };
    let old = profile_or_return!(&state, m, "mypage.email_confirm");
    let context = change_context(&state, &headers, peer);
    let masked = new.masked();
    let mail = notice_draft(&state, "email-changed", &old, context, |n| {
        email_changed(n, &masked)
    })?;
    match state
        .gateway
        .change_email(&acc, &m.id, &Personal::new(new), Some(mail))
        .await
    {
        Ok(()) => {}
        Err(StoreError::DuplicateMember) => {
            return Ok(message(
                m.c,
                "email-taken",
                (
                    "このメールアドレスは使えません",
                    "This address cannot be used",
                ),
                (
                    "このメールアドレスはすでに別の会員アカウントで使われています。メールアドレスは変更されていません。",
                    "This address already belongs to another member account. Your address has not been changed.",
                ),
                Some(("/mypage", ("マイページへ", "Back to my page"))),
            ));
        }
        Err(err) => return Err(fail("change email")(err)),
    }
    m.c.flash_next(m.c.t(
        "メールアドレスを変更しました。",
        "Your email address was changed.",
    ));
    Ok(Redirect::to("/mypage").into_response())
}

// ---------------------------------------------------------------------------------------------
// Withdrawal
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "mypage/withdraw.html")]
struct WithdrawPage {
    c: Ctx,
    form: FormState,
}

/// `GET /mypage/withdraw`.
async fn withdraw_form(m: Member) -> Response {
    let form = FormState::new(m.c.lang());
    render(&WithdrawPage { c: m.c, form })
}

/// `POST /mypage/withdraw`: queues the completion mail, erases the member (their data key is
/// destroyed; orders keep their amounts), ends the session.
///
/// The completion mail is queued first, sealed under a system key
/// (`Gateway::queue_unlinked_mail`), so the erasure that follows does not make it unreadable.
async fn withdraw_submit(
    State(state): State<Arc<ShopState>>,
    m: Member,
    SafeForm(map): SafeForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let mut form = FormState::from_submission(m.c.lang(), map, &["current_password", "confirm"])?;
    let profile = profile_or_return!(&state, m, "mypage.withdraw");
    if !form.is("confirm", "yes") {
        form.fail(
            "confirm",
            "退会に同意するにはチェックを入れてください。",
            "Please tick the box to confirm.",
        );
    }
    let current_ok = verify_current(&state, &m, &profile, &mut form, "current_password").await?;
    if !current_ok || form.has_errors() {
        return Ok(render(&WithdrawPage { c: m.c, form }));
    }
    let name = profile.name.expose().full_name();
    let mail = draft(
        "withdrawal-completed",
        profile.email.expose().as_str(),
        Some(&name),
        withdrawal_completed(&state.config.mail_shop(), &name),
    )
    .map_err(fail("mail draft"))?;
    let acc = m.c.accessor("mypage.withdraw");
    state
        .gateway
        .queue_unlinked_mail(&acc, &m.id, mail)
        .await
        .map_err(fail("queue withdrawal mail"))?;
    state
        .gateway
        .erase_customer(&acc, &m.id)
        .await
        .map_err(fail("erase customer"))?;
    m.c.session.destroy();
    Ok(Redirect::to("/withdrawn").into_response())
}

/// `GET /withdrawn`.
async fn withdrawn(c: Ctx) -> Response {
    message(
        c,
        "withdrawn",
        ("退会手続きが完了しました", "You have left the shop"),
        (
            "ご利用ありがとうございました。会員情報は削除され、復元できません。ご注文の記録は法令で定められた期間、金額などの情報に限り保存されます。",
            "Thank you for shopping with us. Your member data has been erased and cannot be restored. Records of your orders are kept, for the period the law requires, without your personal details.",
        ),
        Some(("/", ("トップページへ", "Back to the shop"))),
    )
}
