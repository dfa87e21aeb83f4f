//! The storefront's maintenance switch: while it is on, every page answers a Japanese maintenance
//! page (503 with `Retry-After`), except the paths the shop names as exempt (the provider's
//! webhook and the payment return, so that no payment made before the switch is lost).
//!
//! The state lives in memory and is shared by clones ([`Maintenance`]); whoever owns the switch
//! (the incident desk's refresher) sets it. Checking it costs an atomic load per request, never
//! a database query.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, RwLock,
};

use askama::Template;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use http::{header, HeaderValue, StatusCode};

use crate::errors::KeepErrorBody;

/// Seconds a client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 600;

#[derive(Default)]
struct Inner {
    closed: AtomicBool,
    notice: RwLock<Option<String>>,
}

/// The switch's in-memory state. Cheap to clone; clones share it.
#[derive(Clone, Default)]
pub struct Maintenance {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Maintenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maintenance")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Only `http(s)` URLs become the notice link (the page must not carry a `javascript:` URL).
fn safe_notice(url: Option<String>) -> Option<String> {
    url.map(|u| u.trim().to_owned())
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
}

impl Maintenance {
    /// Open (not in maintenance).
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns maintenance on or off, with the public notice's URL to link (http or https only;
    /// anything else is dropped).
    pub fn set(&self, closed: bool, notice: Option<String>) {
        let notice = safe_notice(notice);
        match self.inner.notice.write() {
            Ok(mut n) => *n = notice,
            Err(p) => *p.into_inner() = notice,
        }
        self.inner.closed.store(closed, Ordering::Release);
    }

    /// Whether the shop is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// The notice URL linked from the page.
    pub fn notice(&self) -> Option<String> {
        match self.inner.notice.read() {
            Ok(n) => n.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The layer's state: this switch and the paths that keep working while it is on.
    pub fn gate(&self, exempt_paths: Vec<String>) -> MaintenanceGate {
        MaintenanceGate {
            switch: self.clone(),
            exempt: exempt_paths.into(),
        }
    }
}

/// The state of [`maintenance_layer`].
#[derive(Clone, Debug)]
pub struct MaintenanceGate {
    switch: Maintenance,
    exempt: Arc<[String]>,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct Page {
    notice: Option<String>,
}

/// The maintenance page itself (503, `Retry-After`, not cached, its own security headers, kept
/// by the error pages when served inside the stack).
pub fn maintenance_page(notice: Option<String>) -> Response {
    let body = Page { notice }.render().unwrap_or_else(|_| {
        "<!doctype html><html lang=\"ja\"><title>メンテナンス中</title><p>ただいまメンテナンス中です。</p></html>"
            .to_owned()
    });
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, Html(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Served outside the stack's layers: the page's own headers, as strict as it allows.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res.extensions_mut().insert(KeepErrorBody);
    res
}

/// Whether `path` stays open: an exempt entry is a path, or a prefix when it ends with `/`
/// (`/oshirase/`: every public notice and its inquiry form).
fn is_exempt(exempt: &[String], path: &str) -> bool {
    exempt
        .iter()
        .any(|p| p == path || (p.ends_with('/') && path.starts_with(p.as_str())))
}

/// Middleware (`axum::middleware::from_fn_with_state` with a [`MaintenanceGate`]): while the
/// switch is on, any request to a path not exempt gets the maintenance page.
pub async fn maintenance_layer(
    State(gate): State<MaintenanceGate>,
    req: Request,
    next: Next,
) -> Response {
    if gate.switch.is_closed() && !is_exempt(&gate.exempt, req.uri().path()) {
        return maintenance_page(gate.switch.notice());
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exempt_entry_ending_in_a_slash_is_a_prefix() {
        let exempt = ["/payments/webhook".to_owned(), "/oshirase/".to_owned()];
        assert!(is_exempt(&exempt, "/payments/webhook"));
        assert!(!is_exempt(&exempt, "/payments/webhook/x"));
        assert!(is_exempt(&exempt, "/oshirase/3"));
        assert!(is_exempt(&exempt, "/oshirase/3/inquiry"));
        assert!(!is_exempt(&exempt, "/oshirase"));
        assert!(!is_exempt(&exempt, "/cart"));
    }

    #[test]
    fn only_web_urls_are_linked() {
        let m = Maintenance::new();
        m.set(true, Some("javascript:alert(1)".into()));
        assert_eq!(m.notice(), None);
        m.set(true, Some(" https://example.jp/notice ".into()));
        assert_eq!(m.notice().as_deref(), Some("https://example.jp/notice"));
        assert!(m.is_closed());
        m.set(false, None);
        assert!(!m.is_closed());
    }
}
