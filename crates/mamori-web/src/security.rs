//! Security headers in one place, with a fresh CSP nonce for every response.
//!
//! [`security_headers`] is a middleware (`axum::middleware::from_fn_with_state`) that:
//!
//! - makes a 128-bit random nonce and puts it in the request's extensions as [`CspNonce`] for
//!   handlers and templates (the [`crate::page::Layout`] extractor picks it up);
//! - sets on every response a strict `Content-Security-Policy` using that nonce, with
//!   `report-uri` pointing at the report endpoint, the same policy as
//!   `Content-Security-Policy-Report-Only` with `report-to` (and `Reporting-Endpoints`), so that
//!   both report formats are sent: Chromium ignores `report-uri` in a policy that has `report-to`,
//!   and delivers Reporting API reports in batches (a minute or more), while `report-uri`
//!   reports leave at once;
//! - sets `X-Content-Type-Options`, `Referrer-Policy`, `Permissions-Policy`,
//!   `Cross-Origin-Opener-Policy`, `Cross-Origin-Resource-Policy`, `X-Frame-Options`, and
//!   `Strict-Transport-Security` when TLS is on;
//! - sets `Cache-Control: no-store` on private pages, on every response that sets a cookie and
//!   on every error.
//!
//! Routes widen or tighten the policy with a [`PagePolicy`] in the response's extensions: as a
//! route layer ([`PagePolicy::layer`]) or returned from a handler (it implements
//! `IntoResponseParts`). The policy never allows `unsafe-inline` or `unsafe-eval`, and
//! [`CspOrigin`] accepts only plain `scheme://host[:port]` origins so a route cannot inject a
//! directive.

use std::{fmt, sync::Arc};

use axum::{
    extract::{FromRequestParts, Request, State},
    middleware::Next,
    response::{IntoResponseParts, Response, ResponseParts},
};
use base64::Engine as _;
use http::{header, request::Parts, HeaderName, HeaderValue};
use rand::RngCore as _;
use tower::util::MapResponseLayer;

use crate::errors::AppError;

pub use crate::csp_report::{
    csp_report_handler, parse_csp_reports, CspReport, CspReportSink, CspSinkError,
    MemoryCspReportSink, CSP_REPORT_PATH,
};

/// The `report-to` group name used in the CSP and `Reporting-Endpoints`.
pub const CSP_REPORT_GROUP: &str = "csp-endpoint";

/// The nonce of the current response, for `<script nonce="...">`.
#[derive(Clone, PartialEq, Eq)]
pub struct CspNonce(String);

impl CspNonce {
    /// 128 random bits from the OS generator, base64-encoded (the CSP grammar allows `+/=`).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        CspNonce(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// The nonce as it goes into the header and the HTML attribute.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A nonce in a log line is harmless after the response, but there is no reason to.
        f.write_str("CspNonce([redacted])")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CspNonce>().cloned().ok_or_else(|| {
            tracing::error!("CSP nonce missing: the security headers layer is not installed");
            AppError::Internal
        })
    }
}

/// An error in the security configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    /// An origin that is not a plain `http(s)://host[:port]`.
    #[error("not a plain origin (scheme://host[:port]): {0:?}")]
    BadOrigin(String),
    /// Not a SHA-384 digest (`sha384-` and 64 base64 characters).
    #[error("not a SHA-384 digest (sha384-<base64 of 48 bytes>): {0:?}")]
    BadHash(String),
    /// Not a page pattern (`*`, `/path` or `/prefix*`).
    #[error("not a page pattern (*, /path or /prefix*): {0:?}")]
    BadPagePattern(String),
}

/// An origin that may appear in a CSP source list: `https://host[:port]` (or `http://` for a
/// local test server), lowercase, with nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CspOrigin(String);

impl CspOrigin {
    /// Parses and checks an origin. Anything with a path, query, quote, space, semicolon or
    /// wildcard is refused, since it would change the policy's meaning.
    pub fn parse(origin: &str) -> Result<Self, SecurityError> {
        let bad = || SecurityError::BadOrigin(origin.to_owned());
        let lower = origin.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && !host.starts_with(['.', '-'])
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
        if host_ok && port_ok {
            Ok(CspOrigin(lower))
        } else {
            Err(bad())
        }
    }

    /// The origin's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A script's SHA-384 digest, as a CSP hash source and an SRI `integrity` value both spell it
/// (`sha384-` and the standard base64 of the 48 bytes).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ScriptHash(String);

impl ScriptHash {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::{Digest, Sha384};
        ScriptHash(base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes)))
    }

    /// Parses `sha384-<base64>` or bare base64 of exactly 48 bytes; anything else (another
    /// algorithm, a quote, a space) is refused, since it would change the policy's meaning.
    pub fn parse(text: &str) -> Result<Self, SecurityError> {
        let bad = || SecurityError::BadHash(text.chars().take(80).collect());
        let b64 = text.trim().strip_prefix("sha384-").unwrap_or(text.trim());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        if bytes.len() != 48 {
            return Err(bad());
        }
        Ok(ScriptHash(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }

    /// The base64 digest alone.
    pub fn base64(&self) -> &str {
        &self.0
    }

    /// `sha384-<base64>`: the `integrity` attribute's value.
    pub fn source(&self) -> String {
        format!("sha384-{}", self.0)
    }
}

impl fmt::Debug for ScriptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScriptHash(sha384-{})", self.0)
    }
}

/// Which pages a script may run on: `*` (every page), `/path` (that page) or `/prefix*` (every
/// page whose path starts with the prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagePattern(String);

impl PagePattern {
    /// Parses a pattern; it must be `*` or start with `/`, hold no space, quote or semicolon, and
    /// may have one `*`, at its end.
    pub fn parse(text: &str) -> Result<Self, SecurityError> {
        let t = text.trim();
        let star_ok = match t.find('*') {
            None => true,
            Some(i) => i == t.len() - 1,
        };
        let ok = (t == "*" || t.starts_with('/'))
            && star_ok
            && t.len() <= 200
            && !t
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | ';' | ','));
        if ok {
            Ok(PagePattern(t.to_owned()))
        } else {
            Err(SecurityError::BadPagePattern(t.chars().take(80).collect()))
        }
    }

    /// `*`: every page.
    pub fn all() -> Self {
        PagePattern("*".to_owned())
    }

    /// True if the page at `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.0,
        }
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The scripts each page may run, by hash: built from the script inventory (PCI DSS 6.4.3) by
/// whoever owns it (`mamori-guard`). With an allow-list installed, a page's `script-src` is
/// exactly the hashes of the entries whose pages match it, or `'none'`: no nonce, no host, no
/// `'strict-dynamic'`. A script tag needs the matching `integrity` attribute to run, and a
/// script whose bytes differ from its inventory hash does not run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptAllowList {
    rules: Vec<(PagePattern, ScriptHash)>,
}

impl ScriptAllowList {
    /// An empty list: every page gets `script-src 'none'`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the script with `hash` on the pages `pattern` matches.
    pub fn allow(mut self, pattern: PagePattern, hash: ScriptHash) -> Self {
        self.rules.push((pattern, hash));
        self
    }

    /// The hashes allowed on the page at `path`, without repeats, in the list's order.
    pub fn hashes_for(&self, path: &str) -> Vec<&ScriptHash> {
        let mut out: Vec<&ScriptHash> = Vec::new();
        for (pattern, hash) in &self.rules {
            if pattern.matches(path) && !out.contains(&hash) {
                out.push(hash);
            }
        }
        out
    }
}

/// The allow-list a running stack reads on every response, replaced whole when the inventory
/// changes (the reads take a read lock held only while the header is built).
#[derive(Debug, Default)]
pub struct ScriptPolicy {
    current: std::sync::RwLock<Option<Arc<ScriptAllowList>>>,
}

impl ScriptPolicy {
    /// A policy with `list` installed.
    pub fn with(list: ScriptAllowList) -> Self {
        let p = Self::default();
        p.install(list);
        p
    }

    /// Replaces the allow-list.
    pub fn install(&self, list: ScriptAllowList) {
        let list = Some(Arc::new(list));
        match self.current.write() {
            Ok(mut g) => *g = list,
            Err(poisoned) => *poisoned.into_inner() = list,
        }
    }

    /// The allow-list now, if one is installed.
    pub fn current(&self) -> Option<Arc<ScriptAllowList>> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Per-route widening or tightening of the headers.
///
/// Several policies on one response (a route layer and the handler's own) are merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagePolicy {
    private: bool,
    form_action: Vec<CspOrigin>,
    payment: Vec<CspOrigin>,
}

impl PagePolicy {
    /// A policy that changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the page private: `Cache-Control: no-store` (MyPage, checkout, anything per
    /// customer).
    pub fn private(mut self) -> Self {
        self.private = true;
        self
    }

    /// Allows forms on the page to post to `origin` as well as to the shop (`form-action`), for
    /// the payment provider on checkout.
    pub fn allow_form_action(mut self, origin: CspOrigin) -> Self {
        if !self.form_action.contains(&origin) {
            self.form_action.push(origin);
        }
        self
    }

    /// Allows the Payment Request API for the shop and for `origin` (`Permissions-Policy:
    /// payment`), which is otherwise denied.
    pub fn allow_payment(mut self, origin: CspOrigin) -> Self {
        if !self.payment.contains(&origin) {
            self.payment.push(origin);
        }
        self
    }

    /// True if the page is private.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// Adds everything `other` allows or requires.
    pub fn merge(&mut self, other: &PagePolicy) {
        self.private |= other.private;
        for o in &other.form_action {
            if !self.form_action.contains(o) {
                self.form_action.push(o.clone());
            }
        }
        for o in &other.payment {
            if !self.payment.contains(o) {
                self.payment.push(o.clone());
            }
        }
    }

    /// A route layer that puts this policy on the route's responses:
    /// `.route("/checkout", get(h).route_layer(PagePolicy::new().private().layer()))`.
    pub fn layer(self) -> MapResponseLayer<impl FnMut(Response) -> Response + Clone> {
        MapResponseLayer::new(move |mut res: Response| {
            add_policy(res.extensions_mut(), &self);
            res
        })
    }
}

fn add_policy(ext: &mut http::Extensions, policy: &PagePolicy) {
    match ext.get_mut::<PagePolicy>() {
        Some(existing) => existing.merge(policy),
        None => {
            ext.insert(policy.clone());
        }
    }
}

impl IntoResponseParts for PagePolicy {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        add_policy(res.extensions_mut(), &self);
        Ok(res)
    }
}

/// Settings of the security headers middleware.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// The shop is served over TLS (directly or by a terminating proxy): adds HSTS.
    pub tls: bool,
    /// `max-age` of HSTS in seconds.
    pub hsts_max_age_secs: u64,
    /// Where browsers send CSP violation reports.
    pub report_path: String,
    /// The script inventory's allow-list; without one installed, scripts are allowed by the
    /// response's nonce (and what they load, `'strict-dynamic'`).
    pub scripts: Option<Arc<ScriptPolicy>>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            tls: false,
            hsts_max_age_secs: 63_072_000,
            report_path: CSP_REPORT_PATH.to_owned(),
            scripts: None,
        }
    }
}

/// The scripts a page may run: by the response's nonce, or exactly the inventory's hashes.
#[derive(Clone, Copy, Debug)]
pub enum ScriptSources<'a> {
    /// `'nonce-…' 'strict-dynamic'` (no inventory installed).
    Nonce,
    /// These hashes only (`'none'` if empty).
    Hashes(&'a [&'a ScriptHash]),
}

/// Builds the CSP for one response (reports by `report-uri`).
pub fn content_security_policy(
    nonce: &CspNonce,
    policy: &PagePolicy,
    scripts: ScriptSources<'_>,
    report_path: &str,
) -> String {
    format!(
        "{}; report-uri {report_path}",
        csp_directives(nonce, policy, scripts)
    )
}

/// Builds the report-only copy of the CSP for one response (reports by `report-to`): every
/// violation of the enforced policy is also reported through the Reporting API.
pub fn content_security_policy_report_only(
    nonce: &CspNonce,
    policy: &PagePolicy,
    scripts: ScriptSources<'_>,
) -> String {
    format!(
        "{}; report-to {CSP_REPORT_GROUP}",
        csp_directives(nonce, policy, scripts)
    )
}

fn csp_directives(nonce: &CspNonce, policy: &PagePolicy, scripts: ScriptSources<'_>) -> String {
    let mut form_action = String::from("'self'");
    for o in &policy.form_action {
        form_action.push(' ');
        form_action.push_str(o.as_str());
    }
    let n = nonce.as_str();
    let script_src = match scripts {
        ScriptSources::Nonce => format!("'nonce-{n}' 'strict-dynamic'"),
        ScriptSources::Hashes([]) => "'none'".to_owned(),
        ScriptSources::Hashes(hashes) => hashes
            .iter()
            .map(|h| format!("'sha384-{}'", h.base64()))
            .collect::<Vec<_>>()
            .join(" "),
    };
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self' 'nonce-{n}'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action {form_action}"
    )
}

/// Builds the `Permissions-Policy`: every powerful feature off, payment only where allowed.
pub fn permissions_policy(policy: &PagePolicy) -> String {
    let payment = if policy.payment.is_empty() {
        "payment=()".to_owned()
    } else {
        let list: Vec<String> = policy
            .payment
            .iter()
            .map(|o| format!("\"{}\"", o.as_str()))
            .collect();
        format!("payment=(self {})", list.join(" "))
    };
    format!(
        "accelerometer=(), ambient-light-sensor=(), autoplay=(), bluetooth=(), browsing-topics=(), \
         camera=(), display-capture=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), \
         magnetometer=(), microphone=(), midi=(), {payment}, publickey-credentials-get=(self), \
         screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
    )
}

fn set(headers: &mut http::HeaderMap, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(name, v);
        }
        // Every value is built from checked parts; this is only reachable through a bug.
        Err(_) => tracing::error!(header = %name, "could not build a security header"),
    }
}

/// The middleware: see the module documentation.
pub async fn security_headers(
    State(config): State<Arc<SecurityConfig>>,
    mut req: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::generate();
    req.extensions_mut().insert(nonce.clone());
    // The path is kept only when an inventory decides the page's scripts.
    let allow = config.scripts.as_ref().and_then(|p| p.current());
    let path = allow.as_ref().map(|_| req.uri().path().to_owned());
    let mut res = next.run(req).await;
    let policy = res
        .extensions()
        .get::<PagePolicy>()
        .cloned()
        .unwrap_or_default();
    // Error answers are per request (they carry its id) and must not be stored either.
    let no_store = policy.private
        || res.headers().contains_key(header::SET_COOKIE)
        || res.status().as_u16() >= 400;
    let hashes = allow
        .as_ref()
        .zip(path.as_deref())
        .map(|(a, p)| a.hashes_for(p));
    let scripts = match &hashes {
        Some(h) => ScriptSources::Hashes(h),
        None => ScriptSources::Nonce,
    };
    let h = res.headers_mut();
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        &content_security_policy(&nonce, &policy, scripts, &config.report_path),
    );
    set(
        h,
        header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
        &content_security_policy_report_only(&nonce, &policy, scripts),
    );
    set(
        h,
        HeaderName::from_static("reporting-endpoints"),
        &format!("{CSP_REPORT_GROUP}=\"{}\"", config.report_path),
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        &permissions_policy(&policy),
    );
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    if config.tls {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            &format!("max-age={}; includeSubDomains", config.hsts_max_age_secs),
        );
    } else {
        // HSTS over plain HTTP is ignored by browsers and would be wrong for a local shop.
        h.remove(header::STRICT_TRANSPORT_SECURITY);
    }
    if no_store {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn origins_are_checked() {
        for ok in [
            "https://pay.example.jp",
            "https://PAY.example.jp:8443",
            "http://127.0.0.1:3000",
        ] {
            assert!(CspOrigin::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "pay.example.jp",
            "https://",
            "https://pay.example.jp/",
            "https://pay.example.jp; script-src *",
            "https://pay.example.jp 'unsafe-inline'",
            "https://*.example.jp",
            "https://a'b",
            "javascript://x",
            "https://x:",
            "https://x:123456",
            "https://-x",
        ] {
            assert!(CspOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonces_are_fresh_and_long() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 24);
        assert_eq!(format!("{a:?}"), "CspNonce([redacted])");
    }

    #[test]
    fn policies_merge_and_render() {
        let pay = CspOrigin::parse("https://pay.example.jp").unwrap();
        let mut p = PagePolicy::new().allow_form_action(pay.clone());
        p.merge(&PagePolicy::new().private().allow_form_action(pay.clone()));
        assert!(p.is_private());
        let csp = content_security_policy(
            &CspNonce::generate(),
            &p,
            ScriptSources::Nonce,
            CSP_REPORT_PATH,
        );
        assert!(
            csp.contains("form-action 'self' https://pay.example.jp;"),
            "{csp}"
        );
        assert_eq!(csp.matches("pay.example.jp").count(), 1);
        let pp = permissions_policy(&PagePolicy::new().allow_payment(pay));
        assert!(
            pp.contains("payment=(self \"https://pay.example.jp\")"),
            "{pp}"
        );
        assert!(permissions_policy(&PagePolicy::new()).contains("payment=()"));
    }

    #[test]
    fn the_inventory_allows_scripts_by_hash_only_on_their_pages() {
        let a = ScriptHash::of(b"a();");
        let b = ScriptHash::of(b"b();");
        assert_eq!(ScriptHash::parse(&a.source()).unwrap(), a);
        assert_eq!(ScriptHash::parse(a.base64()).unwrap(), a);
        for bad in ["sha256-abc", "sha384-AAAA", "sha384-' 'unsafe-inline", ""] {
            assert!(ScriptHash::parse(bad).is_err(), "{bad}");
        }
        for bad in ["checkout", "/a b", "/a*b", "/x;script-src *", "/'x'"] {
            assert!(PagePattern::parse(bad).is_err(), "{bad}");
        }
        let list = ScriptAllowList::new()
            .allow(PagePattern::parse("*").unwrap(), a.clone())
            .allow(PagePattern::parse("/checkout*").unwrap(), b.clone())
            .allow(PagePattern::parse("/").unwrap(), a.clone());
        assert_eq!(list.hashes_for("/"), vec![&a]);
        assert_eq!(list.hashes_for("/checkout/confirm"), vec![&a, &b]);
        let hashes = list.hashes_for("/checkout");
        let csp = content_security_policy(
            &CspNonce::generate(),
            &PagePolicy::new(),
            ScriptSources::Hashes(&hashes),
            CSP_REPORT_PATH,
        );
        let script_src = csp
            .split("; ")
            .find(|d| d.starts_with("script-src "))
            .unwrap();
        assert_eq!(
            script_src,
            format!("script-src 'sha384-{}' 'sha384-{}'", a.base64(), b.base64())
        );
        let none = content_security_policy(
            &CspNonce::generate(),
            &PagePolicy::new(),
            ScriptSources::Hashes(&[]),
            CSP_REPORT_PATH,
        );
        assert!(none.contains("script-src 'none';"), "{none}");
    }
}
