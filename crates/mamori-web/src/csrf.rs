//! Cross-site request forgery defence.
//!
//! [`csrf_layer`] guards every `POST`, `PUT`, `PATCH` and `DELETE` except the paths the
//! configuration exempts (webhooks, which authenticate by signature, and the CSP report
//! endpoint). A guarded request passes only if all of these hold:
//!
//! 1. `Sec-Fetch-Site`, when sent, is `same-origin` or `none` (so `cross-site` and `same-site`
//!    fail even with a right token: a token can leak, the browser's word cannot be forged by a
//!    page);
//! 2. `Origin`, when sent, is one of the shop's origins;
//! 3. the session's token arrives in the `_csrf` form field or the `X-CSRF-Token` header and is
//!    equal to the session's, compared in constant time.
//!
//! So a request with neither header passes only on the token. Forms get the token from the
//! [`CsrfToken`] extractor and put it in a hidden field named [`CSRF_FIELD`].
//!
//! # Visitors without a session ([`CsrfConfig::visitor_cookie`])
//!
//! By default the token lives in the session, so the first page with a form creates one: for a
//! shop that is a database write (and a row) per page view of every new visitor and crawler. With
//! `visitor_cookie` on, a request without a session gets its token from a cookie of its own
//! instead (`<session cookie>_csrf`, HttpOnly, SameSite=Lax, `__Host-` and Secure under TLS): the
//! double-submit pattern. A guarded request is then checked against the session's token when the
//! session has one, and against that cookie only when it has none; so a planted cookie can never
//! stand in for a signed-in customer's token. When such a request creates the session (the
//! first "add to cart"), the cookie's token becomes the session's, and forms already open in other
//! tabs keep working.

use std::{fmt, sync::Arc};

use axum::{
    body::Body,
    extract::{FromRequestParts, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use http::{header, request::Parts, HeaderMap, Method};
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

use crate::{
    errors::{body_read_error, decode_pairs, is_form, AppError},
    security::CSP_REPORT_PATH,
    session::{Session, SessionError},
};

/// The hidden form field carrying the token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header carrying the token for `fetch` requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The session key of the token.
const SESSION_KEY: &str = "_csrf";

/// A fresh token: 256 random bits, base64url.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token as this module makes them (43 base64url characters); anything else in the cookie is
/// ignored rather than echoed into a page.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the layer and the extractor share about the visitor cookie during one request.
#[derive(Clone, Default)]
struct VisitorSlot(Arc<std::sync::Mutex<VisitorState>>);

#[derive(Default)]
struct VisitorState {
    /// The cookie as the browser sent it (well formed only).
    presented: Option<String>,
    /// A token made during this request, to be set as the cookie.
    issued: Option<String>,
}

impl VisitorSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, VisitorState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The visitor's token: the presented cookie, or one made now (and set on the response).
    fn token(&self) -> String {
        let mut s = self.lock();
        if let Some(t) = s.presented.clone().or_else(|| s.issued.clone()) {
            return t;
        }
        let t = new_token();
        s.issued = Some(t.clone());
        t
    }
}

/// The session's CSRF token (extractor): `<input type="hidden" name="_csrf" value="{{ csrf }}">`.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session's token, made (256 random bits) and stored on first use.
    pub fn for_session(session: &Session) -> Result<CsrfToken, SessionError> {
        if let Some(t) = session.get::<String>(SESSION_KEY) {
            return Ok(CsrfToken(t));
        }
        let token = new_token();
        session.insert(SESSION_KEY, &token)?;
        Ok(CsrfToken(token))
    }

    /// The token for this request: the session's when it has one or is established; otherwise,
    /// when the layer runs with [`CsrfConfig::visitor_cookie`], the visitor cookie's (no session
    /// is created); otherwise a new session token as [`CsrfToken::for_session`].
    pub fn for_request(parts: &Parts) -> Result<CsrfToken, AppError> {
        let session = parts.extensions.get::<Session>().ok_or_else(|| {
            tracing::error!("session missing: the session layer is not installed");
            AppError::Internal
        })?;
        if let Some(t) = session.get::<String>(SESSION_KEY) {
            return Ok(CsrfToken(t));
        }
        let slot = parts.extensions.get::<VisitorSlot>();
        let stored = match slot {
            Some(slot) if !session.is_established() && !session.has_data() => {
                return Ok(CsrfToken(slot.token()));
            }
            // A session without a token adopts the visitor's, so open forms stay valid.
            Some(slot) => {
                let token = slot.lock().presented.clone().unwrap_or_else(new_token);
                session
                    .insert(SESSION_KEY, &token)
                    .map(|()| CsrfToken(token))
            }
            None => CsrfToken::for_session(session),
        };
        stored.map_err(|err| {
            tracing::error!(error = %err, "could not store a CSRF token");
            AppError::Internal
        })
    }
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken([redacted])")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        CsrfToken::for_request(parts)
    }
}

/// CSRF settings.
#[derive(Debug, Clone)]
pub struct CsrfConfig {
    /// The shop's origins (`https://shop.example`). Empty: the origin is taken from the `Host`
    /// header and the scheme from `tls`.
    pub allowed_origins: Vec<String>,
    /// Served over TLS (for the derived origin).
    pub tls: bool,
    /// Exact paths that skip the check (webhooks authenticated by signature).
    pub exempt_paths: Vec<String>,
    /// Most bytes read from a form body to find the token.
    pub body_limit: usize,
    /// Visitors without a session get their token from a cookie of this name (see the module
    /// documentation) instead of a new session; None keeps every token in the session.
    pub visitor_cookie: Option<String>,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            tls: false,
            exempt_paths: vec![CSP_REPORT_PATH.to_owned()],
            body_limit: 64 * 1024,
            visitor_cookie: None,
        }
    }
}

impl CsrfConfig {
    /// Adds an exempt path.
    pub fn exempt(mut self, path: impl Into<String>) -> Self {
        self.exempt_paths.push(path.into());
        self
    }

    /// The `Set-Cookie` value carrying a visitor token.
    fn visitor_set_cookie(&self, name: &str, token: &str) -> String {
        crate::session::site_cookie(name.to_owned(), token.to_owned(), self.tls).to_string()
    }

    fn origin_allowed(&self, origin: &str, headers: &HeaderMap) -> bool {
        if self.allowed_origins.is_empty() {
            let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
                return false;
            };
            let scheme = if self.tls { "https" } else { "http" };
            return origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"));
        }
        self.allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
    }
}

fn is_guarded(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Why a request failed the check; logged (it names no value), never shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    FetchSite,
    Origin,
    NoSessionToken,
    NoToken,
    WrongToken,
}

/// Checks the headers alone (steps 1 and 2 of the module documentation).
fn check_headers(config: &CsrfConfig, headers: &HeaderMap) -> Result<(), Refusal> {
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.to_str().map(str::to_ascii_lowercase).as_deref() {
            Ok("same-origin") | Ok("none") => {}
            _ => return Err(Refusal::FetchSite),
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| config.origin_allowed(o, headers));
        if !ok {
            return Err(Refusal::Origin);
        }
    }
    Ok(())
}

fn tokens_equal(presented: &str, expected: &str) -> bool {
    // Lengths are public (every token has the same one); the bytes are compared in constant time.
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Middleware (`axum::middleware::from_fn_with_state`), inside the session layer.
pub async fn csrf_layer(
    State(config): State<Arc<CsrfConfig>>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = config.visitor_cookie.as_deref().map(|name| {
        let slot = VisitorSlot::default();
        slot.lock().presented = crate::session::cookie_values(req.headers(), name)
            .into_iter()
            .find(|v| well_formed(v));
        req.extensions_mut().insert(slot.clone());
        (name, slot)
    });
    let guarded =
        is_guarded(req.method()) && !config.exempt_paths.iter().any(|p| p == req.uri().path());
    let session = req.extensions().get::<Session>().cloned();
    let (req, via_visitor) = if guarded {
        match check(&config, req).await {
            Ok(passed) => passed,
            Err(Ok(refusal)) => {
                tracing::warn!(reason = ?refusal, "CSRF check refused a request");
                return AppError::Forbidden.into_response();
            }
            Err(Err(err)) => return err.into_response(),
        }
    } else {
        (req, false)
    };
    let mut res = next.run(req).await;
    if let Some((name, slot)) = slot {
        if via_visitor {
            adopt_visitor_token(session.as_ref(), &slot);
        }
        if let Some(token) = slot.lock().issued.take() {
            match http::HeaderValue::from_str(&config.visitor_set_cookie(name, &token)) {
                Ok(v) => {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
                Err(_) => tracing::error!("could not build the CSRF cookie header"),
            }
        }
    }
    res
}

/// After a request that passed on the visitor cookie: if it created a session, the session takes
/// the visitor's token (forms open in other tabs carry it).
fn adopt_visitor_token(session: Option<&Session>, slot: &VisitorSlot) {
    let Some(session) = session else { return };
    if session.get::<String>(SESSION_KEY).is_some() || !session.has_data() {
        return;
    }
    let Some(token) = slot.lock().presented.clone() else {
        return;
    };
    if let Err(err) = session.insert(SESSION_KEY, &token) {
        tracing::error!(error = %err, "could not store a CSRF token");
    }
}

/// Checks a guarded request; on success hands it back with whether it passed on the visitor
/// cookie (rather than the session's token).
async fn check(
    config: &CsrfConfig,
    req: Request,
) -> Result<(Request, bool), Result<Refusal, AppError>> {
    check_headers(config, req.headers()).map_err(Ok)?;
    let session = req.extensions().get::<Session>().cloned().ok_or_else(|| {
        tracing::error!("CSRF layer without the session layer");
        Err(AppError::Internal)
    })?;
    // The session's token when it has one; the visitor cookie's only when it has none.
    let (expected, via_visitor) = match session.get::<String>(SESSION_KEY) {
        Some(t) => (t, false),
        None => {
            let visitor = req
                .extensions()
                .get::<VisitorSlot>()
                .and_then(|slot| slot.lock().presented.clone());
            (visitor.ok_or(Ok(Refusal::NoSessionToken))?, true)
        }
    };

    if let Some(presented) = req.headers().get(CSRF_HEADER) {
        let presented = presented.to_str().unwrap_or_default();
        return if tokens_equal(presented, &expected) {
            Ok((req, via_visitor))
        } else {
            Err(Ok(Refusal::WrongToken))
        };
    }
    if !is_form(req.headers()) {
        return Err(Ok(Refusal::NoToken));
    }
    // The token is in the body: read it (bounded), look, and hand the same bytes on.
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, config.body_limit)
        .await
        .map_err(|e| Err(body_read_error(&e)))?;
    let pairs = decode_pairs(&bytes).map_err(Err)?;
    let mut tokens = pairs.iter().filter(|(k, _)| k == CSRF_FIELD);
    let presented = tokens.next().ok_or(Ok(Refusal::NoToken))?;
    if tokens.next().is_some() || !tokens_equal(&presented.1, &expected) {
        return Err(Ok(Refusal::WrongToken));
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), via_visitor))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn header_checks() {
        let derived = CsrfConfig::default();
        let fixed = CsrfConfig {
            allowed_origins: vec!["https://shop.example".into()],
            ..CsrfConfig::default()
        };
        let host = ("host", "shop.example");
        type Case<'a> = (
            &'a CsrfConfig,
            &'a [(&'a str, &'a str)],
            Result<(), Refusal>,
        );
        let cases: [Case; 9] = [
            (&derived, &[host], Ok(())),
            (&derived, &[host, ("sec-fetch-site", "same-origin")], Ok(())),
            (
                &derived,
                &[host, ("sec-fetch-site", "cross-site")],
                Err(Refusal::FetchSite),
            ),
            (
                &derived,
                &[host, ("sec-fetch-site", "same-site")],
                Err(Refusal::FetchSite),
            ),
            (&derived, &[host, ("origin", "http://shop.example")], Ok(())),
            (
                &derived,
                &[host, ("origin", "http://evil.example")],
                Err(Refusal::Origin),
            ),
            (&derived, &[host, ("origin", "null")], Err(Refusal::Origin)),
            (&fixed, &[host, ("origin", "https://shop.example")], Ok(())),
            (
                &fixed,
                &[host, ("origin", "http://shop.example")],
                Err(Refusal::Origin),
            ),
        ];
        for (config, pairs, want) in cases {
            assert_eq!(check_headers(config, &headers(pairs)), want, "{pairs:?}");
        }
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abd", "abc"));
        assert!(!tokens_equal("ab", "abc"));
        assert!(!tokens_equal("", "abc"));
    }
}
