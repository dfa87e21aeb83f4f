//! Errors, error pages, request limits, the form extractor, panics and request ids.
//!
//! Every response with a status of 400 or above leaves the stack as one of the crate's pages
//! (Japanese first, English below): whatever body a handler or a framework layer put there is
//! dropped, so no error chain, SQL or panic text can reach a customer. A handler that must answer
//! a machine with its own error body (a webhook) adds the [`KeepErrorBody`] marker.

use std::any::Any;

use askama::Template;
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use percent_encoding::percent_decode;
use serde::de::DeserializeOwned;
use tower_http::request_id::{MakeRequestId, RequestId as TowerRequestId};

use crate::{
    csrf::CSRF_FIELD,
    i18n::{Lang, Msg},
    page::Layout,
    security::CspNonce,
};

/// The request id header, set on every response and recorded in every log span.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// An error a handler or middleware answers with; each becomes its error page.
///
/// The variants carry no detail on purpose: the detail goes to the log (without personal data)
/// at the place the error happens, and the customer sees only the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// 400: malformed or unexpected input.
    #[error("bad request")]
    BadRequest,
    /// 403: CSRF or origin check failed, or not allowed.
    #[error("forbidden")]
    Forbidden,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 413: the body is over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: a form route got another content type.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429 with `Retry-After`.
    #[error("too many requests")]
    TooManyRequests {
        /// Whole seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// 500.
    #[error("internal error")]
    Internal,
}

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps a framework rejection's status to an error.
    pub fn from_status(status: StatusCode) -> AppError {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
            StatusCode::FORBIDDEN => AppError::Forbidden,
            StatusCode::NOT_FOUND => AppError::NotFound,
            s if s.is_server_error() => AppError::Internal,
            _ => AppError::BadRequest,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let retry_after = match self {
            AppError::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        let mut res = error_page(self.status(), retry_after, None, None);
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Put in a response's extensions to keep an error body as the handler wrote it (for machine
/// clients such as webhooks). Such a body must hold no internals either.
#[derive(Debug, Clone, Copy)]
pub struct KeepErrorBody;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    title_ja: &'static str,
    title_en: &'static str,
    body_ja: &'static str,
    body_en: &'static str,
    retry_after: Option<u64>,
    request_id: Option<String>,
}

fn texts(status: StatusCode) -> (Msg, Msg) {
    match status {
        StatusCode::BAD_REQUEST => (Msg::BadRequestTitle, Msg::BadRequestBody),
        StatusCode::FORBIDDEN => (Msg::ForbiddenTitle, Msg::ForbiddenBody),
        StatusCode::NOT_FOUND => (Msg::NotFoundTitle, Msg::NotFoundBody),
        StatusCode::PAYLOAD_TOO_LARGE => (Msg::PayloadTooLargeTitle, Msg::PayloadTooLargeBody),
        StatusCode::TOO_MANY_REQUESTS => (Msg::TooManyRequestsTitle, Msg::TooManyRequestsBody),
        s if s.is_server_error() => (Msg::InternalTitle, Msg::InternalBody),
        _ => (Msg::OtherErrorTitle, Msg::OtherErrorBody),
    }
}

/// The error page for `status`, in Japanese with English below.
pub fn error_page(
    status: StatusCode,
    retry_after: Option<u64>,
    request_id: Option<String>,
    nonce: Option<CspNonce>,
) -> Response {
    let (title, body) = texts(status);
    let page = ErrorPage {
        layout: Layout::new(Lang::Ja, nonce),
        status: status.as_u16(),
        title_ja: title.ja(),
        title_en: title.en(),
        body_ja: body.ja(),
        body_en: body.en(),
        retry_after,
        request_id,
    };
    // The page has no input but fixed texts and numbers, so rendering cannot fail in practice;
    // if it ever does, a plain text fallback still says nothing about internals.
    let html = page
        .render()
        .unwrap_or_else(|_| format!("{} / {}", Msg::InternalTitle.ja(), Msg::InternalTitle.en()));
    let mut res = (status, html).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Middleware (`axum::middleware::from_fn`): a 400 for a request whose path or query holds an
/// encoded NUL (`%00`). No page, search or identifier has one, PostgreSQL refuses it in text, and
/// without this check it would reach a handler's query and fail there as a 500 (found by the
/// injection probe of drill 000). Bodies are checked by [`SafeForm`].
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    let encoded_nul = req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"));
    if encoded_nul {
        return AppError::BadRequest.into_response();
    }
    next.run(req).await
}

/// Middleware (`axum::middleware::from_fn`) that turns every response of status 400 or above
/// into the crate's error page, keeping its status and headers (such as `Retry-After`) and
/// adding the request id. Place it inside the security headers layer so the page gets the nonce.
pub async fn error_pages(req: Request, next: Next) -> Response {
    let request_id = req
        .extensions()
        .get::<TowerRequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .map(str::to_owned);
    let nonce = req.extensions().get::<CspNonce>().cloned();
    let res = next.run(req).await;
    if res.status().as_u16() < 400 || res.extensions().get::<KeepErrorBody>().is_some() {
        return res;
    }
    let (mut parts, _dropped_body) = res.into_parts();
    let retry_after = parts
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let page = error_page(parts.status, retry_after, request_id, nonce);
    let (page_parts, body) = page.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    for name in [header::CONTENT_TYPE, header::CACHE_CONTROL] {
        if let Some(v) = page_parts.headers.get(&name) {
            parts.headers.insert(name, v.clone());
        }
    }
    Response::from_parts(parts, body)
}

/// The 404 page, as the router's fallback.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// The response for a panicking handler (give it to `tower_http::catch_panic::CatchPanicLayer::custom`).
///
/// The panic payload is dropped unread: its text may carry personal data. The log line is
/// written inside the request's span, so it carries the request id.
pub fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked (panic text withheld)");
    AppError::Internal.into_response()
}

/// Replaces the process's panic hook with one that logs only the panic's location.
///
/// The default hook prints the panic message to stderr, and a message built from a value (an
/// `expect` on a parsed email, say) would put personal data in the log. Call once at start-up.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic (message withheld)");
    }));
}

/// Makes request ids: UUIDv7, like the rest of mamori's ids, so that they sort by time.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<TowerRequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(TowerRequestId::new)
    }
}

/// Removes any `X-Request-Id` the client sent, so that ids in our logs are always ours (a client
/// could otherwise write arbitrary text into log lines or collide with another request's id).
pub fn strip_inbound_request_id(mut req: Request) -> Request {
    req.headers_mut().remove(REQUEST_ID_HEADER);
    req
}

/// The request's id, for handlers (the gateway's `Accessor` wants it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<TowerRequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .map(|id| RequestId(id.to_owned()))
            .ok_or_else(|| {
                tracing::error!("request id missing: the request id layer is not installed");
                AppError::Internal
            })
    }
}

/// A form body (`application/x-www-form-urlencoded`) parsed strictly:
///
/// - the body must be valid UTF-8, and so must every percent-decoded key and value (a lenient
///   parser would turn `%FF` into U+FFFD silently);
/// - the CSRF field is removed before deserializing (the CSRF layer has checked it);
/// - `T` should carry `#[serde(deny_unknown_fields)]`, so unknown fields are a 400;
/// - any failure is a 400 page (413 over the body limit, 415 for another content type), and the
///   parser's message, which could quote a value, is not logged.
///
/// `Debug` prints `SafeForm([redacted])`: a form carries what the visitor typed.
#[derive(Clone)]
pub struct SafeForm<T>(pub T);

impl<T> std::fmt::Debug for SafeForm<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SafeForm")
            .field(&format_args!("[redacted]"))
            .finish()
    }
}

impl<T, S> FromRequest<S> for SafeForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(req.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| AppError::from_status(rejection.status()))?;
        parse_form(&bytes).map(SafeForm)
    }
}

/// True if the request says its body is an URL-encoded form.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Decodes a URL-encoded body into pairs, failing on any invalid UTF-8 and on U+0000 (no form
/// field holds it, and PostgreSQL refuses it in text: it would fail deep in the store instead).
pub(crate) fn decode_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let text = std::str::from_utf8(body).map_err(|_| AppError::BadRequest)?;
    let decode = |s: &str| -> Result<String, AppError> {
        let plus_as_space = s.replace('+', " ");
        percent_decode(plus_as_space.as_bytes())
            .decode_utf8()
            .map_err(|_| AppError::BadRequest)
            .and_then(|c| {
                if c.contains('\0') {
                    Err(AppError::BadRequest)
                } else {
                    Ok(c.into_owned())
                }
            })
    };
    text.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// Parses a form body into `T` as [`SafeForm`] does.
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let pairs: Vec<(String, String)> = decode_pairs(body)?
        .into_iter()
        .filter(|(k, _)| k != CSRF_FIELD)
        .collect();
    // Re-encoding the checked pairs lets serde_urlencoded do the typed deserialization (numbers,
    // booleans, options) that it already does well.
    let clean = serde_urlencoded::to_string(&pairs).map_err(|_| AppError::BadRequest)?;
    serde_urlencoded::from_str(&clean).map_err(|_| {
        tracing::debug!("form body rejected by its type");
        AppError::BadRequest
    })
}

/// Builds the response for a body that was read up to a limit, telling 413 from 400.
pub(crate) fn body_read_error(err: &axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return AppError::PayloadTooLarge;
        }
        source = e.source();
    }
    AppError::BadRequest
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Contact {
        name: String,
        qty: u32,
    }

    #[test]
    fn strict_form_parsing() {
        let ok: Contact = parse_form(b"name=%E5%AE%88%E3%82%8A+mamori&qty=3&_csrf=abc").unwrap();
        assert_eq!(
            ok,
            Contact {
                name: "守り mamori".into(),
                qty: 3
            }
        );
        let bad: [&[u8]; 6] = [
            b"name=a&qty=1&evil=1", // unknown field
            b"name=%FF&qty=1",      // percent-encoded invalid UTF-8
            b"name=\xff\xfe&qty=1", // raw invalid UTF-8
            b"name=a",              // missing field
            b"name=a&qty=x",        // wrong type
            b"name=a&qty=1&qty=2",  // duplicate field
        ];
        for body in bad {
            assert_eq!(
                parse_form::<Contact>(body),
                Err(AppError::BadRequest),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn every_error_has_its_status() {
        let cases = [
            (AppError::BadRequest, 400),
            (AppError::Forbidden, 403),
            (AppError::NotFound, 404),
            (AppError::PayloadTooLarge, 413),
            (AppError::UnsupportedMediaType, 415),
            (
                AppError::TooManyRequests {
                    retry_after_secs: 3,
                },
                429,
            ),
            (AppError::Internal, 500),
        ];
        for (err, code) in cases {
            let res = err.clone().into_response();
            assert_eq!(res.status().as_u16(), code);
            assert_eq!(AppError::from_status(err.status()), err_for_roundtrip(&err));
        }
    }

    fn err_for_roundtrip(err: &AppError) -> AppError {
        match err {
            // 429 carries a value the status alone cannot give back.
            AppError::TooManyRequests { .. } => AppError::BadRequest,
            other => other.clone(),
        }
    }

    #[test]
    fn safe_form_debug_hides_the_values() {
        let form = SafeForm(Contact {
            name: "山田花子".to_owned(),
            qty: 2,
        });
        let shown = format!("{form:?}");
        assert_eq!(shown, "SafeForm([redacted])");
    }
}
