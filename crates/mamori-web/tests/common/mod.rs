//! Shared helpers: a demo stack with a manual clock and in-memory stores, and a tiny client
//! over `tower::ServiceExt::oneshot`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, sync::Arc};

use axum::{body::Body, extract::ConnectInfo, Router};
use chrono::{TimeZone, Utc};
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mamori_web::{
    clock::ManualClock,
    demo::{demo_config, demo_router_with},
    security::MemoryCspReportSink,
    session::MemorySessionStore,
    WebConfig, WebStack,
};
use tower::ServiceExt;

pub struct Harness {
    pub app: Router,
    pub clock: ManualClock,
    pub sessions: Arc<MemorySessionStore>,
    pub reports: Arc<MemoryCspReportSink>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header on {}", self.status))
    }

    /// The session cookie's `name=value` from `Set-Cookie`, if one was set (not removed).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.contains("mamori_session=") && !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    /// The nonce of the CSP header.
    pub fn csp_nonce(&self) -> String {
        let csp = self.header("content-security-policy");
        let start = csp.find("'nonce-").unwrap() + 7;
        csp[start..].split('\'').next().unwrap().to_owned()
    }

    /// The value of the hidden `_csrf` field in the page.
    pub fn csrf_field(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self.body.find(marker).unwrap() + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

pub fn harness() -> Harness {
    harness_with(demo_config())
}

pub fn harness_with(config: WebConfig) -> Harness {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 4, 1, 9, 0, 0).unwrap());
    let sessions = Arc::new(MemorySessionStore::default());
    let reports = Arc::new(MemoryCspReportSink::default());
    let stack = WebStack::new(config)
        .with_clock(Arc::new(clock.clone()))
        .with_session_store(sessions.clone())
        .with_csp_sink(reports.clone());
    Harness {
        app: demo_router_with(&stack),
        clock,
        sessions,
        reports,
    }
}

pub struct Req {
    inner: Request<Body>,
}

pub fn req(method: Method, uri: &str) -> Req {
    let mut inner = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "shop.example")
        .body(Body::empty())
        .unwrap();
    inner
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 10], 40000))));
    Req { inner }
}

impl Req {
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.inner
            .headers_mut()
            .append(name, value.parse().unwrap());
        self
    }

    pub fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    pub fn peer(mut self, ip: [u8; 4]) -> Self {
        self.inner
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        self
    }

    pub fn form(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        *self.inner.body_mut() = Body::from(body.into());
        self
    }

    pub fn build(self) -> Request<Body> {
        self.inner
    }
}

pub async fn send(app: &Router, r: Req) -> Reply {
    let res = app.clone().oneshot(r.build()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// Opens the contact form: returns the session cookie and the form's token.
pub async fn open_form(app: &Router) -> (String, String) {
    let page = send(app, req(Method::GET, "/contact")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (page.session_cookie().unwrap(), page.csrf_field())
}

/// Asserts an error page: Japanese first, English second, and no internals.
pub fn assert_error_page(body: &str, ja: &str, en: &str) {
    let (j, e) = (body.find(ja), body.find(en));
    assert!(j.is_some() && e.is_some(), "{ja} / {en} missing:\n{body}");
    assert!(j < e, "Japanese comes first");
    for leak in [
        "panicked",
        "Error",
        "error:",
        "SQL",
        "serde",
        "unknown field",
        "Utf8",
        "invalid",
    ] {
        assert!(!body.contains(leak), "{leak} leaked into:\n{body}");
    }
}
