//! mamori's back office: where staff run the shop, on its own listener, behind an IP allow-list,
//! with two factors for everyone and every look at customer data on the record.
//!
//! The app is a set of axum routes over a [`BackofficeState`], mounted in `mamori-web`'s hardened
//! stack (CSP with a nonce, security headers, CSRF, server-side sessions, error pages, body
//! limit) by [`assemble`]. Customer values are reached only through `mamori_store::Gateway`
//! (masked lists, reveals with a reason, exports), so each look is an access event on the ledger
//! naming the member of staff; every change a member of staff makes goes to the staff log.
//!
//! # Layers, from the outside in
//!
//! 1. [`allow_list`]: a peer outside [`BackofficeConfig::allowed_cidrs`] gets 403 before anything
//!    else runs (no session is loaded, no handler is reached);
//! 2. `mamori_web::WebStack::wrap`: request ids, security headers (strict CSP, a fresh nonce per
//!    response), error pages, sessions (cookie `mamori_staff`, `__Host-` under TLS; in the
//!    database's `staff_sessions`, apart from the storefront's, sealed under a key of their own
//!    and filed under the id's hash, so every process behind a load balancer shares them and a
//!    copy of the database yields no usable session ([`sessions`]); idle 30 min, absolute 12 h),
//!    CSRF (token and `Origin` = the public URL), body limit;
//! 3. per route, [`routes::guard`] with that route's [`routes::RouteSpec`]: sign-in, the role's
//!    permission (403, recorded in the staff log), and a fresh second factor where the route
//!    needs a step-up.
//!
//! # Routes ([`routes::ROUTES`], the single table the router and the permission test use)
//!
//! | area | routes | access |
//! |---|---|---|
//! | files | `GET /static/{file}` (script, stylesheet), `/favicon.ico`, `/lang/{code}` | public |
//! | sign-in | `GET/POST /login`, `GET /login/factor`, `POST /login/totp`, `/login/recovery`, `/login/passkey/{begin,finish}` | public (rate-limited per IP) |
//! | enrolment | `GET/POST /enrol`, `GET/POST /enrol/password`, `GET /enrol/factor`, `POST /enrol/totp`, `/enrol/passkey/{begin,finish}`, `GET /enrol/done` | public (the one-time link) |
//! | session | `GET /`, `POST /logout`, `GET /step-up`, `POST /step-up/{totp,recovery,passkey/begin,passkey/finish}` | signed in |
//! | own account | `GET /account`; password, passkeys, TOTP, recovery codes | `own_account` (+ step-up for changes) |
//! | dashboard | `GET /dashboard` (today's orders and sales, JST; the last 30 days' sales as an SVG plot and a table) | `dashboard` |
//! | orders | `GET /orders` (filters, number search), `GET /orders/{id}` (recipients masked; 名入れ and のし for `orders_manage`, a recorded read), `POST /orders/{id}/{transition,cancel}` (the customer is mailed; shipping takes tracking numbers) | `orders_view`, `orders_manage` |
//! | refunds | `GET /orders/{id}/refund` (confirmation; what earlier partial refunds left), `POST /orders/{id}/refund` (card: through the payment connector), `GET/POST /orders/{id}/partial-refund` (an amount below what is left and a reason, then a confirmation with a fresh key; the customer is mailed, the order keeps its state) | `orders_manage` + step-up |
//! | shipping CSV | `GET/POST /orders/export` (reason, rate limit; standard UTF-8 layout, or ヤマト B2クラウド / 佐川 e飛伝 in Shift_JIS, [`carrier_csv`]) | `orders_export` + step-up |
//! | customers | `GET /customers` (masked; exact email or id search), `GET /customers/{id}` | `customers_view` |
//! | reveal | `POST /customers/{id}/reveal` (one field, a reason; shown once) | `customers_reveal` |
//! | customer CSV | `GET/POST /customers/export` (reason, rate limit, never empty) | `customers_export` + step-up |
//! | products | `GET /products` (inactive too), `GET /products/new`, `POST /products`, `GET/POST /products/{id}`, `POST /products/{id}/stock`, `POST /products/{id}/images`, `GET /products/{id}/images/{image}` | `products_view`, `products_manage` |
//! | staff | `GET /staff`, `POST /staff/invite`, `POST /staff/{id}/{link,role,disable,enable}` | `staff_manage` (owner) + step-up |
//! | settings | `GET/POST /settings` (shop name, address, invoice number, slots, payment methods), `GET/POST /settings/shipping` (rates by region and prefecture, free-shipping threshold, 代引き fee table; orders keep what they were charged) | `settings_manage` |
//! | audit | `GET /ledger` (filter by customer; never a value), `GET /staff-log` (staff, action, dates) | `ledger_view`, `staff_log_view` |
//! | security | `GET /security` (dashboard: counts over 24 h or 7 days as SVG), `GET /security/self-check` (live evidence), `GET /canaries` (ids to owners only) | `alerts_view` |
//! | canaries | `POST /canaries` (plant N, a reason), `POST /canaries/mail/{id}/open` (a reason; on the ledger) | `canaries_manage` (owner) + step-up |
//! | inquiries | `GET /inquiries` (incidents with inquiries, counts), `GET /incidents/{id}/inquiries` (reception numbers, times, status, in the latest scope or not; nothing opened), `GET /incidents/{id}/inquiries/{inquiry}` (the values, on the ledger), `POST …/answered` ([`incident_inquiries`]) | `customers_view`, `customers_reveal` |
//!
//! # Roles
//!
//! The matrix lives in `mamori_staff::roles`: owner everything; manager all but staff
//! management; operator orders and products; support orders and customers (masked, reveal with a
//! reason); auditor the ledger and the staff log only. The side menu shows only what the role
//! may do ([`ctx::MENU`]); the guard enforces it on the server whatever the menu shows.
//!
//! # Flows
//!
//! - **Enrolment**: `mamori staff create --role owner` (or an owner's invitation on `/staff`)
//!   prints a one-time link `/enrol?token=…` (72 h) → the page posts the token (a prefetching mail
//!   scanner cannot use it up) → set a password → add a passkey (WebAuthn, first choice) or TOTP
//!   → the account becomes active and ten recovery codes are shown once → sign in.
//! - **Sign-in**: email and password (throttled per IP; the account locks after repeated
//!   failures, which count second-factor failures too) → passkey, TOTP or a recovery code → the
//!   session id is renewed; a sign-in from a browser without the long-lived device cookie
//!   (`mamori_staff_device`) mails the member of staff.
//! - **Step-up**: sensitive routes need a second factor given within
//!   [`BackofficeConfig::step_up_window`]; otherwise `/step-up` asks for one and returns.
//! - **Reveal**: the support member picks a field and writes why → `Gateway::reveal` records a
//!   read of exactly that customer and field with the reason before decrypting → the value is
//!   shown on that one response (`no-store`) and the reveal goes to the staff log.
//! - **Exports**: permission, a reason, a step-up and a rate limit; an empty selection is
//!   refused; the gateway records exactly the ids and fields exported.
//!
//! - **New device**: the sign-in sets a long-lived random cookie (`mamori_staff_device`,
//!   HttpOnly, SameSite=Strict); `mamori-staff` keeps only its hash. A sign-in without a known
//!   cookie queues a bilingual mail to the member of staff in the outbox (sealed under the
//!   outbox's system key for mail not tied to a customer; the mail worker sends it).
//!
//! # Tests (`tests/`, on SQLite and PostgreSQL through `tests/common`'s `TestBackoffice`)
//!
//! - `permissions.rs`: generated from [`ROUTES`]: every route × every role is refused (403,
//!   logged) exactly when the role lacks the permission; visitors go to the login page.
//! - `auth.rs`: allow-list, lockout, per-IP throttle, recovery codes once, session renewal and
//!   idle expiry, disabled and demoted accounts, the new-device mail, enrolment through the
//!   pages, step-up.
//! - `work.rs`: reveals and exports on the ledger (exact ids, fields, reason), orders and the
//!   state machine, card refund and cancel through the sandbox provider, products and images,
//!   settings, the staff log as the auditor filters it; bad input changes nothing.
//! - `storefront.rs`: no back-office path answers on the shop's listener.
//! - `inquiry.rs`: the inquiry desk from the storefront's form to the incident's list and an
//!   opening on the ledger; the limits per address and shop-wide; no value in the raw database.
//! - `e2e.rs`: Chromium with a virtual passkey authenticator and TOTP (see the file).
//!
//! # Modules
//!
//! | module | what lives there |
//! |---|---|
//! | [`config`] | [`BackofficeConfig`] |
//! | [`routes`] | the route table, the router, the guard |
//! | [`ctx`] | [`ctx::Ctx`] (page context), session keys, the menu |
//! | [`auth`] | sign-in, second factors, enrolment, step-up, logout, the new-device mail |
//! | [`account`] | own password, passkeys, TOTP, recovery codes |
//! | [`dashboard`], [`orders`], [`customers`], [`products`], [`staff_admin`], [`settings`], [`audit`] | the work pages |
//! | [`security`] | the security dashboard (SVG plots of counts), the self-check with live evidence, the canary customers' page |
//! | [`images`] | product images: decoded, limited, re-encoded to PNG |
//! | [`forms`] | dates in JST, yen, reasons, paging |
//! | [`order_mail`] | the mails an order's steps send the customer (paid, shipped with tracking numbers, cancelled, refunded), in the customer's language |
//! | [`labels`] | labels for stored codes (ledger actions and fields, staff-log actions and details, payment states) |
//! | [`sessions`] | staff sessions in the database (sealed, apart from the storefront's), their purge |
//! | [`state`] | [`BackofficeState`], rate limits, times shown in JST |
//! | [`stafflog`] | appending to the staff log |
//! | [`assets`] | the back office's script and stylesheet |

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod account;
pub mod alerts;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod carrier_csv;
pub mod config;
pub mod csp_reports;
pub mod ctx;
pub mod customers;
pub mod dashboard;
pub mod forms;
pub mod guard;
pub mod images;
pub mod incident_inquiries;
pub mod incident_notices;
pub mod incident_public_notice;
pub mod incident_reports;
pub mod incident_scope;
pub mod incidents;
pub mod labels;
pub mod order_mail;
pub mod orders;
pub mod products;
pub mod routes;
pub mod sales_chart;
pub mod scripts;
pub mod security;
pub mod sessions;
pub mod settings;
pub mod staff_admin;
pub mod stafflog;
pub mod state;

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, DefaultBodyLimit, Request, State},
    middleware::{from_fn_with_state, Next},
    response::{IntoResponse, Response},
    Router,
};
use mamori_web::{
    clock::Clock,
    errors::AppError,
    ratelimit::{KeyKind, RateLimit, RateLimitRule},
    session::{SessionConfig, SessionStore},
    WebConfig, WebStack,
};

pub use config::BackofficeConfig;
pub use routes::{Access, RouteMethod, RouteSpec, ROUTES};
pub use state::BackofficeState;

/// The session cookie's name (without the `__Host-` prefix used under TLS).
pub const SESSION_COOKIE: &str = "mamori_staff";

/// Largest form body (every route but the image upload, which reads its own bounded body).
pub const FORM_LIMIT: usize = 64 * 1024;

/// Maps a store or other internal failure to the 500 page, logging what failed (a fixed text and
/// the error's kind, never a personal value).
pub(crate) fn fail<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> AppError {
    move |err| {
        tracing::error!(what, error = %err, "request failed");
        AppError::Internal
    }
}

/// The TCP peer of a request (set by `into_make_service_with_connect_info`).
pub(crate) fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The request id the stack gave the request.
pub(crate) fn request_id(req: &Request) -> String {
    req.headers()
        .get(mamori_web::errors::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Middleware: answers 403 to a peer outside the allow-list, before any other layer runs. A
/// request without a known peer (served without connect info) is refused too.
pub async fn allow_list(
    State(config): State<Arc<BackofficeConfig>>,
    req: Request,
    next: Next,
) -> Response {
    match peer_ip(&req) {
        Some(ip) if config.allows(ip) => next.run(req).await,
        peer => {
            tracing::warn!(peer = ?peer, "back-office request from outside the allow-list refused");
            AppError::Forbidden.into_response()
        }
    }
}

/// What the back office is assembled from.
pub struct Parts {
    /// The gateway over the store, key ring and ledger.
    pub gateway: mamori_store::Gateway,
    /// The payment provider (cancel and refund of card orders).
    pub psp: Arc<dyn mamori_pay::PaymentConnector>,
    /// Settings.
    pub config: BackofficeConfig,
    /// Clock for sessions, rate limits, lockout and step-up.
    pub clock: Arc<dyn Clock>,
}

/// A back office ready to serve.
pub struct Assembly {
    /// The shared state.
    pub state: Arc<BackofficeState>,
    /// The web stack.
    pub stack: WebStack,
    /// Purges expired staff sessions ([`Assembly::session_purger`]).
    purger: sessions::StaffSessionPurger,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly").finish_non_exhaustive()
    }
}

impl Assembly {
    /// What removes expired staff sessions from the database (run it on one process, now and
    /// then: `mamori serve` does so with its housekeeping).
    pub fn session_purger(&self) -> sessions::StaffSessionPurger {
        self.purger.clone()
    }

    /// The whole app: allow-list, stack, routes. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` (the allow-list needs the peer).
    pub fn router(&self) -> Router {
        let routes = routes::router(self.state.clone()).layer(DefaultBodyLimit::max(FORM_LIMIT));
        self.stack
            .wrap(routes)
            .layer(from_fn_with_state(self.state.config.clone(), allow_list))
    }
}

/// Builds the state and stack from `parts`.
pub fn assemble(parts: Parts) -> Result<Assembly, mamori_staff::StaffError> {
    let Parts {
        gateway,
        psp,
        config,
        clock,
    } = parts;
    let store = gateway.records();
    let rule =
        |limit: RateLimit, key: KeyKind| RateLimitRule::new(limit, key, 100_000, clock.clone());
    let hour = |n: u32| RateLimit::per_hour(n);
    let limits = state::Limits {
        login_ip: rule(RateLimit::per_minute(config.logins_per_minute), KeyKind::Ip),
        export: rule(hour(config.exports_per_hour), KeyKind::Account),
        reveal: rule(hour(config.reveals_per_hour), KeyKind::Account),
    };
    let auth = auth::build_staff_auth(&gateway, &config, &clock)?;
    // In the database, so that every process behind a load balancer knows every session.
    let sessions: Arc<dyn SessionStore> = Arc::new(mamori_store::gateway::SqlSessionStore::new(
        &gateway,
        mamori_store::gateway::SessionTable::Staff,
    ));
    let stack = WebStack::new(WebConfig {
        tls: config.tls,
        allowed_origins: vec![config.origin()],
        body_limit: config.image_max_bytes + FORM_LIMIT,
        session: SessionConfig {
            tls: config.tls,
            cookie_name: SESSION_COOKIE.to_owned(),
            idle_timeout: config.idle_timeout,
            absolute_timeout: config.absolute_lifetime,
            ..SessionConfig::default()
        },
        ..WebConfig::default()
    })
    .with_session_store(sessions.clone())
    .with_clock(clock.clone());
    let purger = sessions::StaffSessionPurger {
        sessions,
        idle_timeout: config.idle_timeout,
        absolute_timeout: config.absolute_lifetime,
        clock: clock.clone(),
    };
    let state = Arc::new(BackofficeState {
        gateway,
        store,
        auth: Arc::new(auth),
        psp,
        config: Arc::new(config),
        limits,
        clock,
        guard: Arc::default(),
        scripts: Arc::default(),
        switches: mamori_respond::Switchboard::default(),
        fraud: Arc::default(),
    });
    Ok(Assembly {
        state,
        stack,
        purger,
    })
}
