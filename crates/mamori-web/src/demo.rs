//! A tiny router that exercises every defence; the tests and benchmarks run against it, and it
//! shows the lead how a shop route is written.
//!
//! | route | what it shows |
//! |---|---|
//! | `GET /` | a public page |
//! | `GET /mypage` | a private page (`no-store`) showing the logged-in account |
//! | `GET /contact`, `POST /contact` | a form with its CSRF token, parsed by [`SafeForm`] |
//! | `POST /login`, `POST /logout` | session renewal at login, destruction at logout |
//! | `GET /checkout` | a private page allowed to post to the payment provider's origin |
//! | `GET /limited` | 3 requests a minute per client IP |
//! | `GET /panic` | a handler that panics |
//! | `POST /webhook` | JSON, exempt from CSRF, authenticated by an HMAC signature |

use askama::Template;
use axum::{
    body::Bytes,
    middleware::from_fn_with_state,
    response::{IntoResponse, Response},
    routing::{get, post},
    Extension, Json, Router,
};
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sha2::Sha256;

use crate::{
    csrf::CsrfToken,
    errors::{AppError, KeepErrorBody, SafeForm},
    i18n::Msg,
    page::{render, Layout},
    ratelimit::{rate_limit, KeyKind, RateLimit, RateLimitRule},
    security::{CspOrigin, PagePolicy},
    session::{Session, ACCOUNT_KEY},
    WebStack,
};

/// The payment provider's origin on the demo checkout page.
pub const DEMO_PAYMENT_ORIGIN: &str = "https://pay.example.jp";
/// The demo webhook's signing secret (a real one comes from the key file).
pub const DEMO_WEBHOOK_SECRET: &[u8] = b"demo webhook secret";
/// The demo webhook's signature header: hex HMAC-SHA256 of the body.
pub const DEMO_SIGNATURE_HEADER: &str = "x-mamori-signature";
/// The demo webhook's path.
pub const DEMO_WEBHOOK_PATH: &str = "/webhook";

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "mypage.html")]
struct MyPage {
    layout: Layout,
    account: Option<String>,
}

#[derive(Template)]
#[template(path = "contact.html")]
struct Contact {
    layout: Layout,
    csrf: CsrfToken,
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    layout: Layout,
    heading: &'static str,
    text: &'static str,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct Checkout {
    layout: Layout,
    provider: &'static str,
}

/// The contact form. `deny_unknown_fields` turns a stray field into a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactForm {
    message: String,
}

/// The login form (demo: no password; the account id goes straight into the session).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginForm {
    account: String,
}

async fn home(layout: Layout) -> Response {
    render(&Home { layout })
}

async fn mypage(layout: Layout, session: Session) -> Response {
    let account = session.get::<String>(ACCOUNT_KEY);
    render(&MyPage { layout, account })
}

async fn contact_form(layout: Layout, csrf: CsrfToken) -> Response {
    render(&Contact { layout, csrf })
}

async fn contact_post(layout: Layout, SafeForm(form): SafeForm<ContactForm>) -> Response {
    if form.message.chars().count() > 2000 {
        return AppError::BadRequest.into_response();
    }
    render(&Message {
        heading: layout.msg(Msg::DemoFormTitle),
        text: layout.msg(Msg::DemoThanks),
        layout,
    })
}

async fn login(
    session: Session,
    SafeForm(form): SafeForm<LoginForm>,
) -> Result<Response, AppError> {
    // New id at the moment of privilege change: a session id planted before login is useless.
    session.renew();
    session.insert(ACCOUNT_KEY, &form.account).map_err(|err| {
        tracing::error!(error = %err, "could not store the account in the session");
        AppError::Internal
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn logout(session: Session) -> StatusCode {
    session.destroy();
    StatusCode::NO_CONTENT
}

async fn checkout(layout: Layout) -> Response {
    render(&Checkout {
        layout,
        provider: DEMO_PAYMENT_ORIGIN,
    })
}

async fn limited() -> &'static str {
    "ok"
}

// The one deliberate panic outside tests: the brief asks for a route that panics, so the tests
// can prove a panic whose text carries a personal value reaches neither the customer nor the log.
#[allow(clippy::panic)]
async fn panics() -> &'static str {
    std::panic::panic_any(String::from("failed for taro.yamada@example.jp"))
}

async fn webhook(headers: HeaderMap, body: Bytes) -> Response {
    let signed = headers
        .get(DEMO_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v).ok())
        .is_some_and(|sig| {
            Hmac::<Sha256>::new_from_slice(DEMO_WEBHOOK_SECRET)
                .map(|mut mac| {
                    mac.update(&body);
                    mac.verify_slice(&sig).is_ok()
                })
                .unwrap_or(false)
        });
    if !signed {
        return (
            StatusCode::UNAUTHORIZED,
            Extension(KeepErrorBody),
            Json(serde_json::json!({ "ok": false })),
        )
            .into_response();
    }
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            Extension(KeepErrorBody),
            Json(serde_json::json!({ "ok": false })),
        )
            .into_response();
    }
    Json(serde_json::json!({ "ok": true })).into_response()
}

/// The demo's routes, before the stack's layers (see [`demo_router_with`]).
pub fn demo_routes(stack: &WebStack) -> Router {
    let pay = CspOrigin::parse(DEMO_PAYMENT_ORIGIN);
    let checkout_policy = match pay {
        Ok(origin) => PagePolicy::new()
            .private()
            .allow_form_action(origin.clone())
            .allow_payment(origin),
        // The constant is a valid origin; if it were not, the page would stay at the strict
        // default rather than fail.
        Err(_) => PagePolicy::new().private(),
    };
    let limited_rule = RateLimitRule::new(
        RateLimit::per_minute(3),
        KeyKind::Ip,
        10_000,
        stack.clock.clone(),
    );
    let login_rule = RateLimitRule::new(
        RateLimit::per_minute(10),
        KeyKind::Ip,
        10_000,
        stack.clock.clone(),
    );
    Router::new()
        .route("/", get(home))
        .route(
            "/mypage",
            get(mypage).route_layer(PagePolicy::new().private().layer()),
        )
        .route("/contact", get(contact_form).post(contact_post))
        .route(
            "/login",
            post(login).route_layer(from_fn_with_state(login_rule, rate_limit)),
        )
        .route("/logout", post(logout))
        .route(
            "/checkout",
            get(checkout).route_layer(checkout_policy.layer()),
        )
        .route(
            "/limited",
            get(limited).route_layer(from_fn_with_state(limited_rule, rate_limit)),
        )
        .route("/panic", get(panics))
        .route(DEMO_WEBHOOK_PATH, post(webhook))
}

/// The demo router over `stack` (its stores and clock), with every layer.
pub fn demo_router_with(stack: &WebStack) -> Router {
    stack.wrap(demo_routes(stack))
}

/// The demo router with in-memory stores, no TLS and the webhook exempt from CSRF.
pub fn demo_router() -> Router {
    demo_router_with(&WebStack::new(demo_config()))
}

/// The configuration the demo runs with.
pub fn demo_config() -> crate::WebConfig {
    crate::WebConfig {
        csrf_exempt_paths: vec![DEMO_WEBHOOK_PATH.to_owned()],
        ..crate::WebConfig::default()
    }
}
