//! mamori's web layer: the defences every page carries.
//!
//! No storefront handlers live here yet; this crate gives the shop a hardened stack to mount its
//! routes on. Everything is built on axum 0.8 and tower; templates are askama.
//!
//! # Using it
//!
//! ```no_run
//! use std::{net::SocketAddr, sync::Arc};
//! use axum::{routing::get, Router};
//! use mamori_web::{session::MemorySessionStore, WebConfig, WebStack};
//!
//! # async fn run() -> std::io::Result<()> {
//! let stack = WebStack::new(WebConfig { tls: true, ..WebConfig::default() })
//!     .with_session_store(Arc::new(MemorySessionStore::default()));
//! let shop: Router = Router::new().route("/", get(|| async { "トップ" }));
//! let app = stack.wrap(shop);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // Connect info gives the rate limiter the client's address.
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
//!
//! [`WebStack::wrap`] adds, from the outside in:
//!
//! 1. request ids: an inbound `X-Request-Id` is dropped, a UUIDv7 is made, put on the response
//!    and in the tracing span of the request (with method and path, never the query);
//! 2. [`security::security_headers`]: CSP with a per-response nonce, and every other header;
//! 3. [`errors::error_pages`]: every status ≥ 400 becomes a Japanese/English page;
//! 4. `CatchPanicLayer`: a panic becomes a 500 page and a log line without the panic text;
//! 5. [`errors::refuse_nul`]: 400 for an encoded NUL (`%00`) in the path or query;
//! 6. [`session::session_layer`]: server-side sessions;
//! 7. [`csrf::csrf_layer`]: token and `Sec-Fetch-Site`/`Origin` checks on unsafe methods;
//! 8. `RequestBodyLimitLayer`: 413 past [`WebConfig::body_limit`];
//!
//! and the routes `POST /_mamori/csp-report` (to the [`security::CspReportSink`]),
//! `GET /assets/{file}` (the stylesheet) and a 404 fallback.
//!
//! # Public API in brief
//!
//! - [`WebConfig`], [`WebStack`] (`new`, `with_session_store`, `with_csp_sink`, `with_clock`,
//!   `wrap`).
//! - [`security`]: [`security::CspNonce`] (extractor), [`security::PagePolicy`]
//!   (`private`, `allow_form_action`, `allow_payment`, `layer`; also a response part),
//!   [`security::CspOrigin`], [`security::CspReportSink`], [`security::MemoryCspReportSink`].
//! - [`session`]: [`session::Session`] (extractor: `get`, `insert`, `remove`, `renew`,
//!   `destroy`), [`session::SessionStore`] (`load`, `save`, `delete`, `purge_expired` by
//!   [`session::StorageKey`]), [`session::MemorySessionStore`], [`session::SessionConfig`].
//! - [`csrf`]: [`csrf::CsrfToken`] (extractor; put it in a hidden field named `_csrf`),
//!   [`csrf::CsrfConfig`] (`exempt` paths for webhooks).
//! - [`ratelimit`]: [`ratelimit::RateLimitRule`] with [`ratelimit::RateLimit`] and
//!   [`ratelimit::KeyKind`] (`Ip`, `Account`, `Session`); mount with
//!   `route_layer(axum::middleware::from_fn_with_state(rule, ratelimit::rate_limit))`.
//! - [`errors`]: [`errors::AppError`] (handlers return it), [`errors::SafeForm`] (strict form
//!   extractor), [`errors::RequestId`] (extractor), [`errors::KeepErrorBody`],
//!   [`errors::install_panic_hook`] (call once at start-up).
//! - [`i18n`]: [`i18n::Lang`] (extractor), [`i18n::Msg`] (the catalogue).
//! - [`page`]: [`page::Layout`] (extractor for templates extending `base.html`),
//!   [`page::render`].
//! - [`clock`]: [`clock::Clock`], [`clock::SystemClock`], [`clock::ManualClock`].
//! - [`settings`]: [`settings::ShopSettings`], the shop's settings over their stored rows.
//! - [`labels`]: words for stored codes that several page sets show.
//! - [`poll`]: [`poll::spawn_every`], state kept in memory and read again every interval.
//! - [`demo`]: [`demo::demo_router`], the routes the tests run against.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clock;
mod csp_report;
pub mod csrf;
/// Test fixture routes (one of them panics on purpose), so only built for tests and benches.
#[cfg(feature = "demo")]
pub mod demo;
pub mod errors;
pub mod i18n;
pub mod labels;
pub mod maintenance;
pub mod page;
pub mod poll;
pub mod ratelimit;
pub mod security;
pub mod session;
pub mod settings;

use std::sync::Arc;

use axum::{
    body::Body,
    middleware::{from_fn, from_fn_with_state},
    routing::{get, post},
    Router,
};
use tower::{util::MapRequestLayer, ServiceBuilder};
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{
    clock::{Clock, SystemClock},
    csrf::{csrf_layer, CsrfConfig},
    errors::{
        error_pages, not_found, panic_response, refuse_nul, strip_inbound_request_id,
        MakeRequestUuidV7, REQUEST_ID_HEADER,
    },
    page::serve_asset,
    security::{
        csp_report_handler, security_headers, CspReportSink, MemoryCspReportSink, ScriptPolicy,
        SecurityConfig, CSP_REPORT_PATH,
    },
    session::{session_layer, MemorySessionStore, SessionConfig, SessionLayerState, SessionStore},
};

#[cfg(feature = "demo")]
pub use demo::demo_router;

/// Settings of the whole stack.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The shop is reached over HTTPS (directly or through a terminating proxy): `__Host-`
    /// cookies, `Secure`, HSTS, `https` in the derived origin.
    pub tls: bool,
    /// The shop's public origins for the `Origin` check; empty derives it from `Host`.
    pub allowed_origins: Vec<String>,
    /// Largest request body in bytes (forms: 64 KiB).
    pub body_limit: usize,
    /// Session lifetimes and cookie name (its `tls` is taken from [`WebConfig::tls`]).
    pub session: SessionConfig,
    /// HSTS `max-age` in seconds.
    pub hsts_max_age_secs: u64,
    /// Paths exempt from CSRF checks (webhooks that authenticate by signature). The CSP report
    /// endpoint is always exempt.
    pub csrf_exempt_paths: Vec<String>,
    /// Visitors without a session get their CSRF token from a cookie instead of a new session
    /// (see [`csrf`]); a shop turns this on so that browsing creates no session rows.
    pub csrf_visitor_cookie: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            tls: false,
            allowed_origins: Vec::new(),
            body_limit: 64 * 1024,
            session: SessionConfig::default(),
            hsts_max_age_secs: 63_072_000,
            csrf_exempt_paths: Vec::new(),
            csrf_visitor_cookie: false,
        }
    }
}

/// The stack: configuration plus the stores and clock the layers share.
#[derive(Clone)]
pub struct WebStack {
    /// Settings.
    pub config: WebConfig,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// CSP reports.
    pub csp_reports: Arc<dyn CspReportSink>,
    /// Time, for sessions and rate limits.
    pub clock: Arc<dyn Clock>,
    /// The script inventory's allow-list for the CSP (`None`: scripts by nonce).
    pub scripts: Option<Arc<ScriptPolicy>>,
}

impl std::fmt::Debug for WebStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebStack")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebStack {
    /// A stack with in-memory stores and the system clock.
    pub fn new(config: WebConfig) -> Self {
        Self {
            config,
            sessions: Arc::new(MemorySessionStore::default()),
            csp_reports: Arc::new(MemoryCspReportSink::default()),
            clock: Arc::new(SystemClock),
            scripts: None,
        }
    }

    /// Builds each page's `script-src` from `policy` (the script inventory's hashes).
    pub fn with_script_policy(mut self, policy: Arc<ScriptPolicy>) -> Self {
        self.scripts = Some(policy);
        self
    }

    /// Uses `store` for sessions.
    pub fn with_session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = store;
        self
    }

    /// Sends CSP reports to `sink`.
    pub fn with_csp_sink(mut self, sink: Arc<dyn CspReportSink>) -> Self {
        self.csp_reports = sink;
        self
    }

    /// Uses `clock` for sessions and the rate limits made from this stack.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Mounts `app` in the stack: see the crate documentation for the layers and routes added.
    pub fn wrap(&self, app: Router) -> Router {
        let c = &self.config;
        let security = Arc::new(SecurityConfig {
            tls: c.tls,
            hsts_max_age_secs: c.hsts_max_age_secs,
            report_path: CSP_REPORT_PATH.to_owned(),
            scripts: self.scripts.clone(),
        });
        let session_config = Arc::new(SessionConfig {
            tls: c.tls,
            ..c.session.clone()
        });
        let visitor_cookie = c
            .csrf_visitor_cookie
            .then(|| format!("{}_csrf", session_config.full_cookie_name()));
        let sessions = SessionLayerState {
            config: session_config,
            store: self.sessions.clone(),
            clock: self.clock.clone(),
        };
        let mut exempt = c.csrf_exempt_paths.clone();
        exempt.push(CSP_REPORT_PATH.to_owned());
        let csrf = Arc::new(CsrfConfig {
            allowed_origins: c.allowed_origins.clone(),
            tls: c.tls,
            exempt_paths: exempt,
            body_limit: c.body_limit,
            visitor_cookie,
        });
        let reports = Router::new()
            .route(CSP_REPORT_PATH, post(csp_report_handler))
            .with_state(self.csp_reports.clone());

        app.merge(reports)
            .route("/assets/{file}", get(serve_asset))
            .fallback(not_found)
            .layer(
                ServiceBuilder::new()
                    .layer(MapRequestLayer::new(strip_inbound_request_id))
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuidV7))
                    .layer(PropagateRequestIdLayer::x_request_id())
                    .layer(TraceLayer::new_for_http().make_span_with(request_span))
                    .layer(from_fn_with_state(security, security_headers))
                    .layer(from_fn(error_pages))
                    .layer(CatchPanicLayer::custom(panic_response))
                    .layer(from_fn(refuse_nul))
                    .layer(from_fn_with_state(sessions, session_layer))
                    .layer(from_fn_with_state(csrf, csrf_layer))
                    .layer(RequestBodyLimitLayer::new(c.body_limit)),
            )
    }
}

/// The span every request's log lines carry: request id, method and path (no query string,
/// which can hold personal values; no headers, which hold cookies).
fn request_span(req: &http::Request<Body>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}
