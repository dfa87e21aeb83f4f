//! The hosted pages a customer's browser sees on the sandbox's own origin:
//! the card form, the 3-D Secure challenge, and the end pages.
//!
//! One script, the provider's card helper `card.js` (groups the number as
//! typed, flags a wrong check digit; the form works without it), and one
//! stylesheet, both on the same origin; a strict CSP forbids everything
//! else. `card.js` is read from [`super::SandboxConfig::script_dir`] on every
//! request when one is set (so that a drill can alter it as an attacker
//! alters a vendor's file), else it is the built-in copy. In the same directory, a file `headers`
//! (one `Name: value` a line; an empty value drops the header; `#` starts a comment), read on
//! every request, overrides the card page's response headers, so that a drill can weaken its
//! CSP as an attacker with the vendor's server would. The card number and security code
//! are never written back into a page.

use std::sync::{Arc, MutexGuard};

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use mamori_domain::Yen;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;
use url::Url;
use zeroize::Zeroizing;

use super::state::{Book, Payment};
use super::{test_card_outcome, App, TestCardOutcome, CHALLENGE_CODE};
use crate::card::{cvv_valid, CardNumber, CardNumberError, Expiry, ExpiryError};
use crate::connector::FailureReason;
use crate::wire::{self, WireStatus};

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/pay/{id}", get(show).post(submit))
        .route(
            "/pay/{id}/challenge",
            get(show_challenge).post(submit_challenge),
        )
        .route("/pay/{id}/cancel", post(cancel))
        .route("/assets/pay.css", get(stylesheet))
        .route("/assets/card.js", get(card_script))
}

/// A message in Japanese, then English.
type Msg = (&'static str, &'static str);

const STYLE: &str = include_str!("pay.css");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLE,
    )
        .into_response()
}

/// The built-in copy of the card helper.
const CARD_JS: &str = include_str!("card.js");

/// The card helper: from the script directory when one is configured (read
/// on every request, never cached), else the built-in copy.
async fn card_script(State(app): State<Arc<App>>) -> Response {
    let body = match &app.script_dir {
        Some(dir) => match tokio::fs::read(dir.join("card.js")).await {
            Ok(bytes) => bytes,
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
        None => CARD_JS.as_bytes().to_vec(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Applies the drill's `headers` file of the script directory, when there is one, to the card
/// page's `headers` (a line that is not `Name: value` with a valid name and value is skipped;
/// an empty value removes the header). A `Location` line makes the card page a redirect there,
/// as an attacker who sends customers to a copy of the page would.
async fn override_headers(app: &App, headers: &mut axum::http::HeaderMap) {
    let Some(dir) = &app.script_dir else { return };
    let Ok(text) = tokio::fs::read_to_string(dir.join("headers")).await else {
        return;
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let Ok(name) = header::HeaderName::from_bytes(name.trim().as_bytes()) else {
            continue;
        };
        match value.trim() {
            "" => {
                headers.remove(&name);
            }
            value => {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
        }
    }
}

/// The CSP of every page. Scripts: only the provider's own origin (its
/// `card.js`). `form-action` also names the shop's origins:
/// browsers apply it to the redirect that follows a form post, and the
/// redirect after payment goes to the shop.
pub(crate) fn csp(form_origins: &[String]) -> String {
    let mut form_action = String::from("'self'");
    for o in form_origins {
        form_action.push(' ');
        form_action.push_str(o);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

fn page(status: StatusCode, markup: Markup, form_origins: &[String]) -> Response {
    let mut resp = (status, markup.into_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp(form_origins)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    security_headers(h);
    resp
}

fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
}

/// `target` with `?payment_id=` added: where the shop learns which
/// payment the customer comes back from.
fn with_payment_id(target: &Url, payment_id: &str) -> Url {
    let mut url = target.clone();
    url.query_pairs_mut().append_pair("payment_id", payment_id);
    url
}

/// 303 to `target` with `?payment_id=` added.
fn back_to_shop(target: &Url, payment_id: &str) -> Response {
    see_other(with_payment_id(target, payment_id).as_str())
}

fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    security_headers(h);
    resp
}

fn shop_origins(p: &Payment) -> Vec<String> {
    let mut v = Vec::new();
    for u in [&p.return_url, &p.cancel_url] {
        let o = u.origin().ascii_serialization();
        if o != "null" && !v.contains(&o) {
            v.push(o);
        }
    }
    v
}

fn link(base: &Url, path: &str) -> String {
    base.join(path)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("/{path}"))
}

fn layout(app: &App, title: Msg, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ja" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                meta name="robots" content="noindex, nofollow";
                title { (title.0) " / " (title.1) " — mamori サンドボックス決済" }
                link rel="stylesheet" href=(link(&app.base, "assets/pay.css"));
                script src=(link(&app.base, "assets/card.js")) defer {}
            }
            body {
                header.provider {
                    p.provider-name { "mamori サンドボックス決済" span.en lang="en" { "mamori sandbox payments" } }
                    p.sandbox-notice {
                        "これはテスト環境です。本物のカード番号は入力しないでください。"
                        span.en lang="en" { "This is a test environment. Do not enter a real card number." }
                    }
                }
                main { (body) }
                footer {
                    p {
                        "このページは決済代行会社のページです。カード番号とセキュリティコードはショップには送られません。"
                        span.en lang="en" { "This page belongs to the payment provider. The shop never receives your card number or security code." }
                    }
                }
            }
        }
    }
}

fn summary(p: &Payment) -> Markup {
    html! {
        dl.summary {
            dt { "ご注文番号" span.en lang="en" { "Order" } }
            dd { (p.order_ref) }
            @if !p.description.is_empty() {
                dt { "ご購入内容" span.en lang="en" { "Description" } }
                dd { (p.description) }
            }
            dt { "お支払い金額" span.en lang="en" { "Amount" } }
            dd.amount { (Yen(p.amount_jpy)) }
        }
    }
}

fn error_text(id: &str, msg: Option<Msg>) -> Markup {
    html! {
        @if let Some((ja, en)) = msg {
            p.error id={(id) "-error"} {
                (ja)
                span.en lang="en" { (en) }
            }
        }
    }
}

fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let mut parts = Vec::new();
    if hint {
        parts.push(format!("{id}-hint"));
    }
    if error {
        parts.push(format!("{id}-error"));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// What the form shows again after an error, and the errors per field.
#[derive(Default)]
struct FormView {
    expiry: String,
    name: String,
    number_error: Option<Msg>,
    expiry_error: Option<Msg>,
    cvv_error: Option<Msg>,
    name_error: Option<Msg>,
}

impl FormView {
    fn has_errors(&self) -> bool {
        self.number_error.is_some()
            || self.expiry_error.is_some()
            || self.cvv_error.is_some()
            || self.name_error.is_some()
    }
}

fn cancel_form(app: &App, p: &Payment) -> Markup {
    html! {
        form.cancel method="post" action=(link(&app.base, &format!("pay/{}/cancel", p.id))) {
            button.link type="submit" {
                "お支払いをやめてショップに戻る"
                span.en lang="en" { "Cancel and return to the shop" }
            }
        }
    }
}

fn card_form_page(app: &App, p: &Payment, view: &FormView) -> Markup {
    let action = link(&app.base, &format!("pay/{}", p.id));
    let body = html! {
        h1 { "クレジットカードでのお支払い" span.en lang="en" { "Pay by credit card" } }
        (summary(p))
        @if view.has_errors() {
            p.error-summary {
                "入力内容をご確認ください。"
                span.en lang="en" { "Please check the fields marked below." }
            }
        }
        form.card method="post" action=(action) autocomplete="on" novalidate {
            div.field.invalid[view.number_error.is_some()] {
                label for="number" { "カード番号" span.en lang="en" { "Card number" } }
                p.hint id="number-hint" {
                    "半角・全角の数字どちらでも入力できます。スペースやハイフンは不要です。"
                    span.en lang="en" { "Digits only; spaces and hyphens are ignored." }
                }
                input #number name="number" type="text" inputmode="numeric" autocomplete="cc-number"
                    maxlength="40" required value=""
                    aria-invalid=[view.number_error.map(|_| "true")]
                    aria-describedby=[described_by("number", true, view.number_error.is_some())];
                (error_text("number", view.number_error))
            }
            div.field.invalid[view.expiry_error.is_some()] {
                label for="expiry" { "有効期限（月/年）" span.en lang="en" { "Expiry (MM/YY)" } }
                input #expiry name="expiry" type="text" inputmode="numeric" autocomplete="cc-exp"
                    placeholder="MM/YY" maxlength="9" required value=(view.expiry)
                    aria-invalid=[view.expiry_error.map(|_| "true")]
                    aria-describedby=[described_by("expiry", false, view.expiry_error.is_some())];
                (error_text("expiry", view.expiry_error))
            }
            div.field.invalid[view.cvv_error.is_some()] {
                label for="cvv" { "セキュリティコード" span.en lang="en" { "Security code (CVV)" } }
                p.hint id="cvv-hint" {
                    "カード裏面の3桁の数字です（American Expressは表面の4桁）。"
                    span.en lang="en" { "The 3 digits on the back (4 on the front for American Express)." }
                }
                input #cvv name="cvv" type="password" inputmode="numeric" autocomplete="cc-csc"
                    maxlength="8" required value=""
                    aria-invalid=[view.cvv_error.map(|_| "true")]
                    aria-describedby=[described_by("cvv", true, view.cvv_error.is_some())];
                (error_text("cvv", view.cvv_error))
            }
            div.field.invalid[view.name_error.is_some()] {
                label for="name" { "カード名義（ローマ字）" span.en lang="en" { "Name on the card" } }
                input #name name="name" type="text" autocomplete="cc-name" maxlength="64"
                    required value=(view.name)
                    aria-invalid=[view.name_error.map(|_| "true")]
                    aria-describedby=[described_by("name", false, view.name_error.is_some())];
                (error_text("name", view.name_error))
            }
            button.pay type="submit" {
                (Yen(p.amount_jpy)) "を支払う"
                span.en lang="en" { "Pay " (Yen(p.amount_jpy).format_grouped()) " yen" }
            }
        }
        (cancel_form(app, p))
    };
    layout(app, ("お支払い", "Payment"), body)
}

fn challenge_page(app: &App, p: &Payment, error: Option<Msg>) -> Markup {
    let action = link(&app.base, &format!("pay/{}/challenge", p.id));
    let card = p
        .card
        .as_ref()
        .map(|(brand, last4, _)| format!("{} •••• {last4}", brand.display_name()));
    let body = html! {
        h1 { "本人認証（3-Dセキュア）" span.en lang="en" { "Verify it's you (3-D Secure)" } }
        (summary(p))
        @if let Some(card) = card {
            p { "ご利用のカード: " (card) span.en lang="en" { "Card: " (card) } }
        }
        p {
            "カード会社からのワンタイムパスワードを入力してください。テスト環境のパスワードは " code { (CHALLENGE_CODE) } " です。"
            span.en lang="en" { "Enter the one-time code from your card issuer. In this sandbox the code is " code { (CHALLENGE_CODE) } "." }
        }
        form.card method="post" action=(action) autocomplete="off" novalidate {
            div.field.invalid[error.is_some()] {
                label for="code" { "ワンタイムパスワード" span.en lang="en" { "One-time code" } }
                input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                    maxlength="12" required value=""
                    aria-invalid=[error.map(|_| "true")]
                    aria-describedby=[described_by("code", false, error.is_some())];
                (error_text("code", error))
            }
            button.pay type="submit" { "認証する" span.en lang="en" { "Verify" } }
        }
        (cancel_form(app, p))
    };
    layout(app, ("本人認証", "Verification"), body)
}

fn finished_page(app: &App, p: &Payment) -> Markup {
    let (title, text, target): (Msg, Msg, &Url) = match (p.status, p.failure_reason) {
        (WireStatus::Succeeded | WireStatus::Refunded, _) => (
            ("お支払い済み", "Paid"),
            (
                "このお支払いは完了しています。",
                "This payment is complete.",
            ),
            &p.return_url,
        ),
        (WireStatus::Canceled, _) => (
            ("キャンセル済み", "Canceled"),
            (
                "このお支払いはキャンセルされました。",
                "This payment was canceled.",
            ),
            &p.cancel_url,
        ),
        (_, reason) => {
            let r = reason.unwrap_or(FailureReason::Other);
            (
                ("お支払いできませんでした", "Payment failed"),
                (r.message_ja(), r.message_en()),
                &p.cancel_url,
            )
        }
    };
    let back = with_payment_id(target, &p.id);
    let body = html! {
        h1 { (title.0) span.en lang="en" { (title.1) } }
        (summary(p))
        p { (text.0) span.en lang="en" { (text.1) } }
        p { a href=(back.as_str()) { "ショップに戻る" span.en lang="en" { "Return to the shop" } } }
    };
    layout(app, title, body)
}

fn not_found(app: &App) -> Response {
    let body = html! {
        h1 { "お支払いが見つかりません" span.en lang="en" { "Payment not found" } }
        p {
            "URLをご確認のうえ、ショップからやり直してください。"
            span.en lang="en" { "Check the address, or start again from the shop." }
        }
    };
    page(
        StatusCode::NOT_FOUND,
        layout(app, ("見つかりません", "Not found"), body),
        &[],
    )
}

fn load(app: &App, id: &str) -> Option<Payment> {
    if !wire::is_valid_payment_id(id) {
        return None;
    }
    app.lock().payments.get(id).cloned()
}

fn challenge_url(app: &App, id: &str) -> String {
    link(&app.base, &format!("pay/{id}/challenge"))
}

async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(p) = load(&app, &id) else {
        return not_found(&app);
    };
    let origins = shop_origins(&p);
    match p.status {
        WireStatus::Pending => {
            let mut resp = page(
                StatusCode::OK,
                card_form_page(&app, &p, &FormView::default()),
                &origins,
            );
            override_headers(&app, resp.headers_mut()).await;
            if resp.headers().contains_key(header::LOCATION) {
                *resp.status_mut() = StatusCode::FOUND;
            }
            resp
        }
        WireStatus::RequiresAction => see_other(&challenge_url(&app, &p.id)),
        _ => page(StatusCode::OK, finished_page(&app, &p), &origins),
    }
}

/// The card form's fields. Missing fields read as empty, so that they get
/// a message next to them rather than a bare 4xx. Number and code are
/// wiped when dropped.
#[derive(Deserialize)]
struct CardForm {
    #[serde(default)]
    number: Zeroizing<String>,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvv: Zeroizing<String>,
    #[serde(default)]
    name: String,
}

const NAME_MAX_CHARS: usize = 64;

fn number_message(e: CardNumberError) -> Msg {
    match e {
        CardNumberError::Empty => ("カード番号を入力してください。", "Enter the card number."),
        CardNumberError::Format => (
            "カード番号は12〜19桁の数字で入力してください。",
            "The card number must be 12 to 19 digits.",
        ),
        CardNumberError::Luhn => (
            "カード番号に誤りがあります。もう一度ご確認ください。",
            "The card number is not valid. Please check it.",
        ),
        CardNumberError::UnknownBrand => (
            "このカードはご利用いただけません（Visa・Mastercard・JCB・American Express・Diners Club・Discover がご利用いただけます）。",
            "This card brand is not accepted (Visa, Mastercard, JCB, American Express, Diners Club, Discover are).",
        ),
    }
}

fn expiry_message(e: ExpiryError) -> Msg {
    match e {
        ExpiryError::Format => (
            "有効期限は「月/年」の形で入力してください（例: 04/28）。",
            "Enter the expiry as MM/YY (e.g. 04/28).",
        ),
        ExpiryError::Expired => (
            "有効期限が切れています。別のカードをご利用ください。",
            "This card has expired. Please use another card.",
        ),
        ExpiryError::TooFar => (
            "有効期限をご確認ください。",
            "Please check the expiry date.",
        ),
    }
}

/// Checks the form; on success returns the card number with its outcome.
fn validate(form: &CardForm, view: &mut FormView) -> Option<(CardNumber, TestCardOutcome)> {
    // Cards expire at the end of their month; the month is Japan's (UTC+9).
    let today = (Utc::now() + chrono::Duration::hours(9)).date_naive();
    let number = match CardNumber::parse(&form.number) {
        Ok(n) => Some(n),
        Err(e) => {
            view.number_error = Some(number_message(e));
            None
        }
    };
    match Expiry::parse(&form.expiry).and_then(|e| e.check_valid_on(today).map(|()| e)) {
        Ok(e) => view.expiry = e.to_mm_yy(),
        Err(e) => view.expiry_error = Some(expiry_message(e)),
    }
    if !cvv_valid(&form.cvv, number.as_ref().map(CardNumber::brand)) {
        view.cvv_error = Some((
            "セキュリティコードは3桁（American Expressは4桁）の数字で入力してください。",
            "The security code is 3 digits (4 for American Express).",
        ));
    }
    let name: String = form.name.nfkc().collect::<String>().trim().to_owned();
    if name.is_empty() {
        view.name_error = Some((
            "カード名義を入力してください。",
            "Enter the name on the card.",
        ));
    } else if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        view.name_error = Some((
            "カード名義は64文字以内で入力してください。",
            "The name must be at most 64 characters.",
        ));
    }
    let number = number?;
    let outcome = test_card_outcome(number.digits());
    if outcome.is_none() {
        view.number_error = Some((
            "このテスト環境ではテストカードのみご利用いただけます。",
            "Only test cards work in this sandbox.",
        ));
    }
    if view.has_errors() {
        return None;
    }
    outcome.map(|o| (number, o))
}

async fn submit(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    form: Result<Form<CardForm>, FormRejection>,
) -> Response {
    let Some(current) = load(&app, &id) else {
        return not_found(&app);
    };
    let origins = shop_origins(&current);
    let Ok(Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            card_form_page(&app, &current, &FormView::default()),
            &origins,
        );
    };
    // Shown back as typed (the name) or as parsed (the expiry): never the
    // number or the code.
    let mut view = FormView {
        expiry: form.expiry.chars().take(16).collect(),
        name: form.name.chars().take(NAME_MAX_CHARS).collect(),
        ..FormView::default()
    };
    let checked = validate(&form, &mut view);
    drop(form);

    let mut book = app.lock();
    let Some(p) = book.payments.get_mut(&id) else {
        drop(book);
        return not_found(&app);
    };
    if p.status != WireStatus::Pending {
        let p = p.clone();
        drop(book);
        return match p.status {
            WireStatus::RequiresAction => see_other(&challenge_url(&app, &p.id)),
            _ => page(StatusCode::OK, finished_page(&app, &p), &origins),
        };
    }
    let Some((card, outcome)) = checked else {
        let p = p.clone();
        drop(book);
        return page(StatusCode::OK, card_form_page(&app, &p, &view), &origins);
    };
    p.card = Some((card.brand(), card.last4(), app.fingerprint(card.digits())));
    drop(card);
    app.card_attempts
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match outcome {
        TestCardOutcome::Succeed => finish(&app, book, &id, Ending::Paid),
        TestCardOutcome::Decline(reason) => finish(&app, book, &id, Ending::Declined(reason)),
        TestCardOutcome::Challenge => {
            p.status = WireStatus::RequiresAction;
            drop(book);
            tracing::info!(payment = %id, "sandbox: 3-D Secure challenge");
            see_other(&challenge_url(&app, &id))
        }
    }
}

/// How a hosted page ends an open payment.
#[derive(Clone, Copy)]
enum Ending {
    /// The test card went through without a challenge.
    Paid,
    /// The test card was declined for this reason.
    Declined(FailureReason),
    /// The 3-D Secure code was right.
    ChallengePassed,
    /// The 3-D Secure code was wrong.
    ChallengeFailed,
    /// The customer canceled.
    Canceled,
}

impl Ending {
    fn status(self) -> WireStatus {
        match self {
            Ending::Paid | Ending::ChallengePassed => WireStatus::Succeeded,
            Ending::Declined(_) | Ending::ChallengeFailed => WireStatus::Failed,
            Ending::Canceled => WireStatus::Canceled,
        }
    }

    fn failure_reason(self) -> Option<FailureReason> {
        match self {
            Ending::Declined(reason) => Some(reason),
            Ending::ChallengeFailed => Some(FailureReason::AuthenticationFailed),
            Ending::Paid | Ending::ChallengePassed | Ending::Canceled => None,
        }
    }

    /// The webhook event it sends.
    fn event(self) -> &'static str {
        match self {
            Ending::Paid | Ending::ChallengePassed => "payment.succeeded",
            Ending::Declined(_) | Ending::ChallengeFailed => "payment.failed",
            Ending::Canceled => "payment.canceled",
        }
    }

    fn log(self, id: &str) {
        match self {
            Ending::Paid => tracing::info!(payment = %id, "sandbox: payment succeeded"),
            Ending::Declined(reason) => {
                tracing::info!(payment = %id, reason = reason.as_str(), "sandbox: payment failed");
            }
            Ending::ChallengePassed => {
                tracing::info!(payment = %id, "sandbox: 3-D Secure passed; payment succeeded");
            }
            Ending::ChallengeFailed => {
                tracing::info!(payment = %id, "sandbox: 3-D Secure failed; payment failed");
            }
            Ending::Canceled => tracing::info!(payment = %id, "sandbox: canceled by the customer"),
        }
    }
}

/// Ends payment `id` as `ending` under the lock the caller took (and checked
/// the payment is open under), then, with the lock released, logs, queues
/// the webhook and sends the browser back to the shop: to the return URL
/// when paid, the cancel URL otherwise.
fn finish(app: &App, mut book: MutexGuard<'_, Book>, id: &str, ending: Ending) -> Response {
    let Some(p) = book.payments.get_mut(id) else {
        drop(book);
        return not_found(app);
    };
    p.status = ending.status();
    if let Some(reason) = ending.failure_reason() {
        p.failure_reason = Some(reason);
    }
    let url = if p.status == WireStatus::Succeeded {
        p.return_url.clone()
    } else {
        p.cancel_url.clone()
    };
    let object = p.to_object(&app.base);
    drop(book);
    ending.log(id);
    app.emit(ending.event(), object);
    back_to_shop(&url, id)
}

async fn show_challenge(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(p) = load(&app, &id) else {
        return not_found(&app);
    };
    let origins = shop_origins(&p);
    match p.status {
        WireStatus::RequiresAction => {
            page(StatusCode::OK, challenge_page(&app, &p, None), &origins)
        }
        WireStatus::Pending => see_other(&link(&app.base, &format!("pay/{}", p.id))),
        _ => page(StatusCode::OK, finished_page(&app, &p), &origins),
    }
}

#[derive(Deserialize)]
struct ChallengeForm {
    #[serde(default)]
    code: String,
}

async fn submit_challenge(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    form: Result<Form<ChallengeForm>, FormRejection>,
) -> Response {
    let Some(current) = load(&app, &id) else {
        return not_found(&app);
    };
    let origins = shop_origins(&current);
    let code: String = match &form {
        Ok(Form(f)) => f.code.nfkc().filter(|c| !c.is_whitespace()).collect(),
        Err(_) => String::new(),
    };
    if code.is_empty() {
        // An empty submission is a slip, not a failed authentication.
        return page(
            StatusCode::OK,
            challenge_page(
                &app,
                &current,
                Some((
                    "ワンタイムパスワードを入力してください。",
                    "Enter the one-time code.",
                )),
            ),
            &origins,
        );
    }
    let mut book = app.lock();
    let Some(p) = book.payments.get_mut(&id) else {
        drop(book);
        return not_found(&app);
    };
    if p.status != WireStatus::RequiresAction {
        let p = p.clone();
        drop(book);
        return page(StatusCode::OK, finished_page(&app, &p), &origins);
    }
    let ending = if code == CHALLENGE_CODE {
        Ending::ChallengePassed
    } else {
        Ending::ChallengeFailed
    };
    finish(&app, book, &id, ending)
}

async fn cancel(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    if !wire::is_valid_payment_id(&id) {
        return not_found(&app);
    }
    let mut book = app.lock();
    let Some(p) = book.payments.get_mut(&id) else {
        drop(book);
        return not_found(&app);
    };
    if p.is_open() {
        return finish(&app, book, &id, Ending::Canceled);
    }
    let p = p.clone();
    drop(book);
    let origins = shop_origins(&p);
    page(StatusCode::OK, finished_page(&app, &p), &origins)
}
