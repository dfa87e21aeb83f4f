//! The browser monitor (PCI DSS 11.6.1): what the pages a customer walks actually execute, as a
//! browser sees them, compared with a known-good observation.
//!
//! Every interval a headless Chromium (a fresh profile per walk, a fresh browser context per page,
//! the user agent of Chrome on Japanese Windows and `Accept-Language: ja`) opens each target and
//! records every script it parsed (DevTools' `Debugger.scriptParsed`; an inline script has the
//! document's URL and is keyed `inline#n`), each script's source hashed with SHA-384 as SRI writes
//! it (`sha384-<base64>`), and the origins the page's forms post to. The targets are the shop's
//! plain GET pages and the provider's hosted card page, reached through a payment the monitor
//! creates for itself (1 yen, never paid).
//!
//! The first observation of a page is its known-good one (`guard_observations`). A later
//! difference raises an alert ([`kinds::SCRIPT_CHANGED`], [`kinds::SCRIPT_ADDED`],
//! [`kinds::SCRIPT_REMOVED`], [`kinds::FORM_ACTION`]) with the page as subject and the script's
//! key and hashes as evidence, and is kept as the page's pending observation. On a payment page
//! (the checkout, the provider's page) an added or changed script or a new form target closes card
//! payment first. Restoring the page does not reopen payment: an owner's approval
//! ([`crate::files::FileGuard::approve`]) accepts the pending observations as known-good, closes
//! the monitor's alerts and reopens payment.
//!
//! Each observation also records the main document's security headers ([`SECURITY_HEADERS`],
//! a CSP's nonces masked) and the origin the document ended on after redirects. A header added,
//! removed or changed raises [`kinds::PAGE_HEADERS`] (a removed or weakened CSP closes card
//! payment on a payment page), another final origin [`kinds::PAGE_REDIRECT`] (closing card
//! payment on a payment page). A known-good observation stored before headers were recorded
//! adopts the next walk's silently. Every walk's observation of every page is appended to the
//! page's history (the newest [`HISTORY_KEEP`] kept), listed in the back office's guard page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::network::{
    EnableParams as NetworkEnableParams, EventResponseReceived, ResourceType,
    SetUserAgentOverrideParams,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::cdp::js_protocol::debugger::{
    EnableParams, EventScriptParsed, GetScriptSourceParams,
};
use futures_util::{FutureExt as _, StreamExt as _};
use mamori_pay::{CreatePayment, PaymentConnector};
use mamori_store::{observation_state, ObservationRow};
use serde_json::json;
use sha2::{Digest as _, Sha384};
use url::Url;

use crate::alert::{kinds, Alert, Alerts, GuardError, Severity, Subject};

/// The user agent the monitor presents: Chrome on Windows, as a Japanese customer's browser.
pub const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// The default interval between two walks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// Where Debian's package `chromium` puts its launcher.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How many observations of a page its history keeps (the newest).
pub const HISTORY_KEEP: i64 = 100;

/// How long a page may take to load.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long scripts loaded after the load event (deferred, dynamic) are waited for.
const SETTLE: Duration = Duration::from_millis(500);

/// The Chromium switches besides chromiumoxide's `--headless`, the profile and the window.
const SWITCHES: &[&str] = &[
    "no-sandbox",
    "disable-gpu",
    "no-first-run",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "disable-dev-shm-usage",
];

/// One page the monitor walks.
#[derive(Clone, Debug)]
pub struct Target {
    /// Its stable name: the alert's subject and the key of its observations (`/checkout`).
    pub page: String,
    /// Where it is.
    pub url: Url,
    /// Whether it is a payment page (a change there closes card payment).
    pub payment: bool,
}

impl Target {
    /// The shop's plain GET pages a customer walks: the home page, `product_path`, the cart and
    /// the checkout form (a payment page), under `shop`.
    pub fn shop_pages(shop: &Url, product_path: &str) -> Vec<Target> {
        let mut out = Vec::new();
        for (path, payment) in [
            ("/", false),
            (product_path, false),
            ("/cart", false),
            ("/checkout", true),
        ] {
            if let Ok(url) = shop.join(path) {
                out.push(Target {
                    page: path.to_owned(),
                    url,
                    payment,
                });
            }
        }
        out
    }
}

/// How the monitor reaches the provider's hosted card page: through a payment of its own.
#[derive(Clone)]
pub struct ProviderProbe {
    /// The connector the shop uses.
    pub connector: Arc<dyn PaymentConnector>,
    /// Where the provider would send the browser back (the shop's).
    pub return_url: Url,
    /// Where the provider would send the browser back on cancel (the shop's).
    pub cancel_url: Url,
}

impl std::fmt::Debug for ProviderProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderProbe")
            .field("return_url", &self.return_url.as_str())
            .finish_non_exhaustive()
    }
}

/// What the monitor watches and how often.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// The shop's pages.
    pub targets: Vec<Target>,
    /// The provider's hosted card page, when there is a provider.
    pub provider: Option<ProviderProbe>,
    /// Time between two walks.
    pub interval: Duration,
    /// The Chromium binary.
    pub chromium: PathBuf,
}

impl MonitorConfig {
    /// A configuration walking `targets` every [`DEFAULT_INTERVAL`] with [`DEFAULT_CHROMIUM`].
    pub fn new(targets: Vec<Target>, provider: Option<ProviderProbe>) -> Self {
        Self {
            targets,
            provider,
            interval: DEFAULT_INTERVAL,
            chromium: PathBuf::from(DEFAULT_CHROMIUM),
        }
    }
}

/// The response headers of the main document the monitor records (lowercase): those that
/// decide what a payment page may load, frame or leak.
pub const SECURITY_HEADERS: &[&str] = &[
    "content-security-policy",
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
];

/// What a page executed, where its forms post, its security headers and where it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// Script key (URL, `inline#n`, `URL#n` for a repeat) to `sha384-<base64>`.
    pub scripts: BTreeMap<String, String>,
    /// Origins the page's forms post to.
    pub form_origins: BTreeSet<String>,
    /// The main document's [`SECURITY_HEADERS`] as sent (name lowercased); `None` when not
    /// recorded (an observation stored before the monitor recorded headers).
    pub headers: Option<BTreeMap<String, String>>,
    /// The document's origin after redirects; `None` when not recorded.
    pub final_origin: Option<String>,
}

impl Observation {
    fn from_row(row: &ObservationRow) -> Self {
        Self {
            scripts: serde_json::from_str(&row.scripts).unwrap_or_default(),
            form_origins: serde_json::from_str(&row.form_origins).unwrap_or_default(),
            headers: row
                .headers
                .as_deref()
                .and_then(|h| serde_json::from_str(h).ok()),
            final_origin: row.final_origin.clone().filter(|o| !o.is_empty()),
        }
    }

    fn to_row(&self, page: &str, state: &str) -> ObservationRow {
        ObservationRow {
            id: uuid::Uuid::now_v7().to_string(),
            page: page.to_owned(),
            state: state.to_owned(),
            scripts: serde_json::to_string(&self.scripts).unwrap_or_else(|_| "{}".into()),
            form_origins: serde_json::to_string(&self.form_origins).unwrap_or_else(|_| "[]".into()),
            headers: self
                .headers
                .as_ref()
                .and_then(|h| serde_json::to_string(h).ok()),
            final_origin: self.final_origin.clone(),
            observed_at: chrono::Utc::now().timestamp(),
        }
    }

    /// Whether `self` (a stored known-good observation) lacks what `now` records: the headers
    /// or the final origin were not recorded yet (a row from before migration 0023).
    fn lacks_what(&self, now: &Observation) -> bool {
        (self.headers.is_none() && now.headers.is_some())
            || (self.final_origin.is_none() && now.final_origin.is_some())
    }
}

/// What a CSP's per-response nonce is recorded as: `'nonce-<random>'` differs on every response,
/// so the value is masked (a nonce is still told apart from a digest or a host).
const NONCE_MASK: &str = "'nonce-*'";

/// `policy` with each `'nonce-…'` source replaced by [`NONCE_MASK`], the rest as sent.
fn mask_nonces(policy: &str) -> String {
    let mut out = String::with_capacity(policy.len());
    let mut rest = policy;
    while let Some(at) = rest.find("'nonce-") {
        out.push_str(&rest[..at]);
        out.push_str(NONCE_MASK);
        let after = &rest[at + "'nonce-".len()..];
        rest = after.find('\'').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}

/// The main document's [`SECURITY_HEADERS`] out of a CDP `Network.Headers` object (the CSP's
/// nonces masked).
fn security_headers(headers: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(map) = headers.as_object() {
        for (name, value) in map {
            let name = name.to_ascii_lowercase();
            if let (true, Some(value)) = (SECURITY_HEADERS.contains(&name.as_str()), value.as_str())
            {
                let value = if name == "content-security-policy" {
                    mask_nonces(value)
                } else {
                    value.to_owned()
                };
                out.insert(name, value);
            }
        }
    }
    out
}

/// A CSP as directive name to its source tokens (the last policy wins on a repeated
/// directive; several policies CDP joins with a newline are read as one). Hand-written: the
/// comparison needs only the tokens, not a policy evaluator.
fn csp_directives(policy: &str) -> BTreeMap<String, BTreeSet<String>> {
    policy
        .split([';', '\n', ','])
        .filter_map(|d| {
            let mut tokens = d.split_ascii_whitespace();
            let name = tokens.next()?.to_ascii_lowercase();
            Some((name, tokens.map(str::to_owned).collect()))
        })
        .collect()
}

/// Whether a source is a digest or a nonce.
fn is_digest(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    t.starts_with("'sha256-")
        || t.starts_with("'sha384-")
        || t.starts_with("'sha512-")
        || t.starts_with("'nonce-")
}

/// Whether two CSPs differ only in their digests: the script inventory decides those (an
/// owner's change to it changes the page's `script-src` digests, and every executed script is
/// checked against it on its own), so such a change is not a header change.
fn same_but_digests(good: &str, now: &str) -> bool {
    let strip = |p: &str| {
        csp_directives(p)
            .into_iter()
            .map(|(name, sources)| {
                let kept: BTreeSet<String> =
                    sources.into_iter().filter(|t| !is_digest(t)).collect();
                (name, kept)
            })
            .collect::<BTreeMap<_, _>>()
    };
    strip(good) == strip(now)
}

/// Whether `now` permits something `good` did not, besides a hash or nonce: a directive dropped
/// (reporting aside) or a source added that is not a digest (a host, a scheme, `*`,
/// `'unsafe-inline'`, ...). A removed policy is weaker too.
fn csp_weakened(good: &str, now: Option<&str>) -> bool {
    let Some(now) = now else { return true };
    let (good, now) = (csp_directives(good), csp_directives(now));
    good.iter().any(|(name, sources)| {
        if name == "report-uri" || name == "report-to" {
            return false;
        }
        match now.get(name) {
            None => true,
            Some(found) => found.difference(sources).any(|t| !is_digest(t)),
        }
    })
}

/// `sha384-<base64>` of `bytes`, as Subresource Integrity writes it.
pub fn sri_sha384(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// One difference between a page's known-good observation and the latest.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Alert kind ([`kinds`]).
    pub kind: &'static str,
    /// The page.
    pub page: String,
    /// Whether it closes card payment.
    pub payment: bool,
    /// Evidence: the script's key and hashes, or the form's origin.
    pub evidence: serde_json::Value,
}

/// The differences between `good` and `now` on `target`.
pub fn compare(target: &Target, good: &Observation, now: &Observation) -> Vec<Change> {
    let mut out = Vec::new();
    let change = |kind: &'static str, closes: bool, evidence: serde_json::Value| Change {
        kind,
        page: target.page.clone(),
        payment: target.payment && closes,
        evidence,
    };
    for (script, expected) in &good.scripts {
        match now.scripts.get(script) {
            None => out.push(change(
                kinds::SCRIPT_REMOVED,
                false,
                json!({ "script": script, "expected_sha384": expected, "found_sha384": null }),
            )),
            Some(found) if found != expected => out.push(change(
                kinds::SCRIPT_CHANGED,
                true,
                json!({ "script": script, "expected_sha384": expected, "found_sha384": found }),
            )),
            Some(_) => {}
        }
    }
    for (script, found) in &now.scripts {
        if !good.scripts.contains_key(script) {
            out.push(change(
                kinds::SCRIPT_ADDED,
                true,
                json!({ "script": script, "expected_sha384": null, "found_sha384": found }),
            ));
        }
    }
    for origin in now.form_origins.difference(&good.form_origins) {
        out.push(change(
            kinds::FORM_ACTION,
            true,
            json!({ "form_origin": origin, "expected_origins": good.form_origins }),
        ));
    }
    // Headers and the final origin not recorded in the known-good observation are adopted, not
    // compared (see `BrowserMonitor::judge`).
    if let (Some(good_h), Some(now_h)) = (&good.headers, &now.headers) {
        for name in SECURITY_HEADERS {
            let (expected, found) = (good_h.get(*name), now_h.get(*name));
            if expected == found
                || (*name == "content-security-policy"
                    && expected
                        .zip(found)
                        .is_some_and(|(e, f)| same_but_digests(e, f)))
            {
                continue;
            }
            // On a payment page a removed or weakened CSP closes card payment.
            let closes = *name == "content-security-policy"
                && expected.is_some_and(|e| csp_weakened(e, found.map(String::as_str)));
            out.push(change(
                kinds::PAGE_HEADERS,
                closes,
                json!({ "header": name, "expected": expected, "found": found }),
            ));
        }
    }
    if let (Some(expected), Some(found)) = (&good.final_origin, &now.final_origin) {
        if expected != found {
            out.push(change(
                kinds::PAGE_REDIRECT,
                true,
                json!({ "expected_origin": expected, "found_origin": found }),
            ));
        }
    }
    out
}

fn browser_err(what: &'static str) -> impl FnOnce(chromiumoxide::error::CdpError) -> GuardError {
    move |e| GuardError::Browser(format!("{what}: {e}"))
}

/// A headless Chromium with a profile of its own, closed (and the profile deleted) by
/// [`Chromium::close`].
struct Chromium {
    browser: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    async fn launch(executable: &std::path::Path) -> Result<Self, GuardError> {
        if !executable.is_file() {
            return Err(GuardError::Browser(format!(
                "no chromium at {}",
                executable.display()
            )));
        }
        let profile = tempfile::Builder::new()
            .prefix("mamori-monitor-")
            .tempdir()
            .map_err(|source| GuardError::Io {
                what: "creating the monitor's browser profile",
                source,
            })?;
        let mut builder = BrowserConfig::builder()
            .chrome_executable(executable)
            .disable_default_args()
            // Headless is chromiumoxide's default.
            .no_sandbox()
            .user_data_dir(profile.path())
            .launch_timeout(PAGE_TIMEOUT)
            .request_timeout(PAGE_TIMEOUT);
        for s in SWITCHES {
            builder = builder.arg(*s);
        }
        let config = builder
            .build()
            .map_err(|e| GuardError::Browser(format!("browser configuration: {e}")))?;
        let (browser, mut handler) = chromiumoxide::Browser::launch(config)
            .await
            .map_err(browser_err("chromium did not start"))?;
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(error = %e, "monitor: CDP handler message");
                }
            }
        });
        Ok(Self {
            browser,
            handler,
            _profile: profile,
        })
    }

    async fn close(mut self) {
        if self.browser.close().await.is_err() {
            let _ = self.browser.kill().await;
        }
        let _ = self.browser.wait().await;
        self.handler.abort();
    }

    /// Opens `url` in a fresh browser context as a Japanese Windows Chrome and observes it.
    async fn observe(&self, url: &Url) -> Result<Observation, GuardError> {
        let context = self
            .browser
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .map_err(browser_err("new browser context"))?;
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context)
            .build()
            .map_err(GuardError::Browser)?;
        let page = self
            .browser
            .new_page(params)
            .await
            .map_err(browser_err("new page"))?;
        let observed = tokio::time::timeout(PAGE_TIMEOUT, observe_page(&page, url))
            .await
            .unwrap_or_else(|_| Err(GuardError::Browser("the page did not load in time".into())));
        let _ = page.close().await;
        observed
    }
}

async fn observe_page(page: &chromiumoxide::Page, url: &Url) -> Result<Observation, GuardError> {
    let mut ua = SetUserAgentOverrideParams::new(USER_AGENT);
    ua.accept_language = Some("ja".into());
    ua.platform = Some("Win32".into());
    page.set_user_agent(ua)
        .await
        .map_err(browser_err("user agent"))?;
    let mut parsed = page
        .event_listener::<EventScriptParsed>()
        .await
        .map_err(browser_err("script events"))?;
    let mut responses = page
        .event_listener::<EventResponseReceived>()
        .await
        .map_err(browser_err("network events"))?;
    page.execute(NetworkEnableParams::default())
        .await
        .map_err(browser_err("network"))?;
    page.execute(EnableParams::default())
        .await
        .map_err(browser_err("debugger"))?;
    page.goto(url.as_str())
        .await
        .map_err(browser_err("navigation"))?;
    tokio::time::sleep(SETTLE).await;
    // Every script parsed so far, before anything of ours runs in the page.
    let mut events = Vec::new();
    while let Some(Some(ev)) = parsed.next().now_or_never() {
        events.push(ev);
    }
    let document = page
        .url()
        .await
        .map_err(browser_err("document URL"))?
        .unwrap_or_default();
    // The main document's response (a redirect's hops are not responses of their own): the last
    // document response of the page's main frame.
    let main_frame = page.mainframe().await.map_err(browser_err("main frame"))?;
    let mut headers = BTreeMap::new();
    while let Some(Some(ev)) = responses.next().now_or_never() {
        if ev.r#type == ResourceType::Document && ev.frame_id.is_some() && ev.frame_id == main_frame
        {
            headers = security_headers(ev.response.headers.inner());
        }
    }
    let final_origin = Url::parse(&document)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    let mut scripts = BTreeMap::new();
    let mut inline = 0usize;
    for ev in events {
        // Code without a URL is evaluated code (ours included), not a script of the page; an
        // isolated world (the driver's own utility world) is not the page either.
        let isolated = ev
            .execution_context_aux_data
            .as_ref()
            .and_then(|d| d.get("isDefault"))
            .and_then(serde_json::Value::as_bool)
            == Some(false);
        if ev.url.is_empty() || isolated {
            continue;
        }
        let source = page
            .execute(GetScriptSourceParams::new(ev.script_id.clone()))
            .await
            .map_err(browser_err("script source"))?;
        let hash = sri_sha384(source.result.script_source.as_bytes());
        let mut key = if ev.url == document {
            inline += 1;
            format!("inline#{inline}")
        } else {
            ev.url.clone()
        };
        let mut n = 1;
        while scripts.contains_key(&key) {
            n += 1;
            key = format!("{}#{n}", ev.url);
        }
        scripts.insert(key, hash);
    }
    let actions: Vec<String> = page
        .evaluate("Array.from(document.forms, (f) => String(f.action))")
        .await
        .map_err(browser_err("form actions"))?
        .into_value()
        .map_err(|_| GuardError::Browser("form actions: unexpected value".into()))?;
    let form_origins = actions
        .iter()
        .filter_map(|a| Url::parse(a).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    Ok(Observation {
        scripts,
        form_origins,
        headers: Some(headers),
        final_origin,
    })
}

/// The monitor. Shared (`Arc`) by its loop.
pub struct BrowserMonitor {
    config: MonitorConfig,
    alerts: Alerts,
    inventory: Option<crate::inventory::ScriptInventory>,
}

impl std::fmt::Debug for BrowserMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserMonitor")
            .field("targets", &self.config.targets.len())
            .field("provider", &self.config.provider.is_some())
            .finish()
    }
}

/// The provider's card page's name: its URL with the payment's id replaced by `{payment}`.
fn provider_page_name(redirect: &Url, payment_id: &str) -> String {
    redirect.as_str().replace(payment_id, "{payment}")
}

impl BrowserMonitor {
    /// A monitor of `config`'s pages raising through `alerts`.
    pub fn new(config: MonitorConfig, alerts: Alerts) -> Self {
        Self {
            config,
            alerts,
            inventory: None,
        }
    }

    /// Also checks every executed script against the script inventory: one that no active entry
    /// lists for the page (by digest) raises [`kinds::SCRIPT_NOT_LISTED`], closing card payment on
    /// a payment page. The provider's card page's scripts are listed at its first observation.
    pub fn with_inventory(mut self, inventory: crate::inventory::ScriptInventory) -> Self {
        self.inventory = Some(inventory);
        self
    }

    /// The inventory's verdict on `now`: the scripts not listed for `target`.
    async fn unlisted(
        &self,
        target: &Target,
        now: &Observation,
        first: bool,
    ) -> Result<Vec<Change>, GuardError> {
        use mamori_store::script_site;
        let Some(inventory) = &self.inventory else {
            return Ok(Vec::new());
        };
        // Shop pages are named by their path; the provider's by its URL.
        let (site, path) = if target.page.starts_with('/') {
            (script_site::SHOP, target.page.clone())
        } else {
            let path = Url::parse(&target.page)
                .map(|u| u.path().replace("%7Bpayment%7D", "{payment}"))
                .unwrap_or_else(|_| target.url.path().to_owned());
            (script_site::PROVIDER, path)
        };
        if first && site == script_site::PROVIDER {
            let origin = target.url.origin().ascii_serialization();
            inventory
                .list_first_seen(&origin, &path, &now.scripts)
                .await?;
        }
        Ok(inventory
            .unlisted(site, &path, &now.scripts)
            .await?
            .into_iter()
            .map(|(script, found)| Change {
                kind: kinds::SCRIPT_NOT_LISTED,
                page: target.page.clone(),
                payment: target.payment,
                evidence: json!({ "script": script, "found_sha384": found, "page_path": path }),
            })
            .collect())
    }

    /// The provider's card page now: a payment of the monitor's own, never paid (cancelled after
    /// the walk), and its id.
    async fn provider_target(&self, probe: &ProviderProbe) -> Result<(Target, String), GuardError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let created = probe
            .connector
            .create_payment(&CreatePayment {
                order_ref: format!("MONITOR-{id}"),
                amount_jpy: 1,
                description:
                    "ページ監視による確認（支払われません）/ Page monitor check, never paid".into(),
                return_url: probe.return_url.clone(),
                cancel_url: probe.cancel_url.clone(),
                idempotency_key: format!("monitor-{id}"),
            })
            .await
            .map_err(|e| GuardError::Browser(format!("monitor payment: {e}")))?;
        Ok((
            Target {
                page: provider_page_name(&created.redirect_url, &created.payment_id),
                url: created.redirect_url,
                payment: true,
            },
            created.payment_id,
        ))
    }

    /// One walk over every target: observes each, records the first observation of a page as its
    /// known-good one, and raises what differs from it (closing card payment first when it
    /// should). A page that cannot be observed is logged and skipped. Returns the changes.
    pub async fn walk(&self) -> Result<Vec<Change>, GuardError> {
        let chromium = Chromium::launch(&self.config.chromium).await?;
        let result = self.walk_with(&chromium).await;
        chromium.close().await;
        result
    }

    async fn walk_with(&self, chromium: &Chromium) -> Result<Vec<Change>, GuardError> {
        let mut targets = self.config.targets.clone();
        let mut probe_payment = None;
        if let Some(probe) = &self.config.provider {
            match self.provider_target(probe).await {
                Ok((t, id)) => {
                    targets.push(t);
                    probe_payment = Some((probe, id));
                }
                Err(err) => {
                    tracing::error!(error = %err, "monitor: the provider's page is unreachable")
                }
            }
        }
        let walked = self.observe_all(chromium, &targets).await;
        // The monitor's own payment is never paid: cancel it, so the provider's list holds no
        // open 1-yen payments from it (whatever the walk found).
        if let Some((probe, id)) = probe_payment {
            if let Err(err) = probe.connector.cancel(&id).await {
                tracing::warn!(error = %err, "monitor: its payment could not be cancelled");
            }
        }
        walked
    }

    async fn observe_all(
        &self,
        chromium: &Chromium,
        targets: &[Target],
    ) -> Result<Vec<Change>, GuardError> {
        let mut all = Vec::new();
        for target in targets {
            match chromium.observe(&target.url).await {
                Ok(now) => all.extend(self.judge(target, &now).await?),
                Err(err) => {
                    tracing::error!(page = %target.page, error = %err, "monitor: page not observed");
                }
            }
        }
        Ok(all)
    }

    /// Compares `now` with `target`'s known-good observation, records it, raises what differs.
    async fn judge(&self, target: &Target, now: &Observation) -> Result<Vec<Change>, GuardError> {
        let records = self.alerts.records();
        records
            .observation_history_add(
                &now.to_row(&target.page, observation_state::SEEN),
                HISTORY_KEEP,
            )
            .await?;
        let Some(good) = records
            .observation(&target.page, observation_state::GOOD)
            .await?
        else {
            records
                .observation_put(&now.to_row(&target.page, observation_state::GOOD))
                .await?;
            tracing::info!(page = %target.page, scripts = now.scripts.len(),
                "monitor: first observation recorded as known-good");
            let unlisted = self.unlisted(target, now, true).await?;
            self.raise_changes(target, &unlisted).await?;
            return Ok(unlisted);
        };
        let good = Observation::from_row(&good);
        let mut changes = compare(target, &good, now);
        let differs = !changes.is_empty();
        if good.lacks_what(now) {
            // Recorded before the monitor kept headers and the final origin: adopt what is seen
            // now into the known-good row, silently (the scripts and forms stay as approved).
            let adopted = Observation {
                headers: good.headers.clone().or_else(|| now.headers.clone()),
                final_origin: good
                    .final_origin
                    .clone()
                    .or_else(|| now.final_origin.clone()),
                ..good.clone()
            };
            records
                .observation_put(&adopted.to_row(&target.page, observation_state::GOOD))
                .await?;
        }
        changes.extend(self.unlisted(target, now, false).await?);
        // Raised (card payment closed) before the page as seen becomes the pending observation
        // an owner's approval adopts: an approval that finds it has come after the closing, so
        // this walk cannot close card payment again right after the owner reopened it.
        self.raise_changes(target, &changes).await?;
        if !differs {
            records.observation_clear_pending(&target.page).await?;
        } else {
            records
                .observation_put(&now.to_row(&target.page, observation_state::PENDING))
                .await?;
        }
        Ok(changes)
    }

    /// Closes card payment first when a change should, then raises each change.
    async fn raise_changes(&self, target: &Target, changes: &[Change]) -> Result<(), GuardError> {
        // Payment first: card payment is closed before anything else is done.
        if let Some(c) = changes.iter().find(|c| c.payment) {
            crate::files::close_card_payment(&self.alerts, c.kind).await?;
        }
        for c in changes {
            let severity = if c.payment || target.payment {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut evidence = c.evidence.clone();
            evidence["url"] = json!(target.url.origin().ascii_serialization());
            evidence["closes_card_payment"] = json!(c.payment);
            self.alerts
                .raise(&Alert::new(
                    c.kind,
                    severity,
                    Subject::Page(c.page.clone()),
                    evidence,
                ))
                .await?;
        }
        Ok(())
    }

    /// Walks every [`MonitorConfig::interval`] (the first walk at once) until the returned handle
    /// is dropped. A failed walk is logged; the next one tries again.
    pub fn spawn(self: &Arc<Self>) -> MonitorHandle {
        let monitor = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(monitor.config.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = monitor.walk().await {
                    tracing::error!(error = %err, "monitor: walk failed");
                }
            }
        });
        MonitorHandle { task }
    }
}

/// Keeps the monitor running; dropping it stops it.
#[derive(Debug)]
pub struct MonitorHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn target(payment: bool) -> Target {
        Target {
            page: "/checkout".into(),
            url: Url::parse("https://shop.example/checkout").unwrap(),
            payment,
        }
    }

    fn obs(scripts: &[(&str, &str)], forms: &[&str]) -> Observation {
        Observation {
            scripts: scripts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            form_origins: forms.iter().map(|f| (*f).to_owned()).collect(),
            headers: None,
            final_origin: None,
        }
    }

    fn with(headers: &[(&str, &str)], origin: &str) -> Observation {
        Observation {
            headers: Some(
                headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            final_origin: Some(origin.to_owned()),
            ..Observation::default()
        }
    }

    const CSP: &str = "default-src 'none'; script-src 'sha384-A'; form-action 'self'";

    fn seen(good: &Observation, now: &Observation, payment: bool) -> Vec<(&'static str, bool)> {
        compare(&target(payment), good, now)
            .iter()
            .map(|c| (c.kind, c.payment))
            .collect()
    }

    #[test]
    fn a_removed_or_weakened_csp_closes_payment_a_stronger_one_only_alerts() {
        let good = with(
            &[
                ("content-security-policy", CSP),
                ("x-frame-options", "DENY"),
            ],
            "https://shop.example",
        );
        // Removed.
        let now = with(&[("x-frame-options", "DENY")], "https://shop.example");
        assert_eq!(seen(&good, &now, true), vec![(kinds::PAGE_HEADERS, true)]);
        let got = compare(&target(true), &good, &now);
        assert_eq!(got[0].evidence["header"], "content-security-policy");
        assert_eq!(got[0].evidence["found"], serde_json::Value::Null);
        // Weakened: a host allowed for scripts, or a directive dropped.
        for weaker in [
            "default-src 'none'; script-src 'sha384-A' https://cdn.example; form-action 'self'",
            "default-src 'none'; script-src 'sha384-A' 'unsafe-inline'; form-action 'self'",
            "default-src 'none'; script-src 'sha384-A'",
        ] {
            let now = with(
                &[
                    ("content-security-policy", weaker),
                    ("x-frame-options", "DENY"),
                ],
                "https://shop.example",
            );
            assert_eq!(
                seen(&good, &now, true),
                vec![(kinds::PAGE_HEADERS, true)],
                "{weaker}"
            );
            assert_eq!(seen(&good, &now, false), vec![(kinds::PAGE_HEADERS, false)]);
        }
        // Only the digests differ (an owner changed the script inventory): the inventory
        // check covers it, no header change.
        for digests in [
            "default-src 'none'; script-src 'sha384-A' 'sha384-B'; form-action 'self'",
            "default-src 'none'; script-src 'sha384-B'; form-action 'self'",
        ] {
            let now = with(
                &[
                    ("content-security-policy", digests),
                    ("x-frame-options", "DENY"),
                ],
                "https://shop.example",
            );
            assert!(seen(&good, &now, true).is_empty(), "{digests}");
        }
        // Another digest with a directive more: alerted, payment stays open.
        let other = "default-src 'none'; script-src 'sha384-B'; form-action 'self'; report-uri /r";
        let now = with(
            &[
                ("content-security-policy", other),
                ("x-frame-options", "DENY"),
            ],
            "https://shop.example",
        );
        assert_eq!(seen(&good, &now, true), vec![(kinds::PAGE_HEADERS, false)]);
        // Another header added, removed or changed: alerted, payment stays open.
        let now = with(
            &[
                ("content-security-policy", CSP),
                ("x-frame-options", "SAMEORIGIN"),
                ("referrer-policy", "no-referrer"),
            ],
            "https://shop.example",
        );
        let got = compare(&target(true), &good, &now);
        assert_eq!(
            got.iter().map(|c| (c.kind, c.payment)).collect::<Vec<_>>(),
            vec![(kinds::PAGE_HEADERS, false), (kinds::PAGE_HEADERS, false)]
        );
        assert_eq!(got[0].evidence["header"], "x-frame-options");
        assert_eq!(got[0].evidence["expected"], "DENY");
        assert_eq!(got[1].evidence["header"], "referrer-policy");
        assert!(compare(&target(true), &good, &good).is_empty());
    }

    #[test]
    fn another_final_origin_closes_payment_on_a_payment_page() {
        let good = with(&[], "https://shop.example");
        let now = with(&[], "https://evil.example");
        assert_eq!(seen(&good, &now, true), vec![(kinds::PAGE_REDIRECT, true)]);
        assert_eq!(
            seen(&good, &now, false),
            vec![(kinds::PAGE_REDIRECT, false)]
        );
        let got = compare(&target(true), &good, &now);
        assert_eq!(got[0].evidence["expected_origin"], "https://shop.example");
        assert_eq!(got[0].evidence["found_origin"], "https://evil.example");
    }

    #[test]
    fn what_the_known_good_observation_did_not_record_is_adopted_not_alerted() {
        // A row from before migration 0023: no headers, no final origin.
        let old = Observation::from_row(&ObservationRow {
            scripts: "{}".into(),
            form_origins: "[]".into(),
            ..ObservationRow::default()
        });
        let now = with(&[("content-security-policy", CSP)], "https://evil.example");
        assert_eq!(
            (old.headers.as_ref(), old.final_origin.as_ref()),
            (None, None)
        );
        assert!(compare(&target(true), &old, &now).is_empty());
        assert!(old.lacks_what(&now));
        assert!(!now.lacks_what(&now));
        // Stored and read back, the headers and origin survive.
        let back = Observation::from_row(&now.to_row("/checkout", observation_state::GOOD));
        assert_eq!(back, now);
    }

    #[test]
    fn only_the_security_headers_are_kept_lowercased() {
        let got = security_headers(&json!({
            "Content-Security-Policy": "script-src 'nonce-AbC+/=' 'strict-dynamic'; style-src 'nonce-x'",
            "Strict-Transport-Security": "max-age=63072000",
            "Set-Cookie": "sid=x",
            "content-type": "text/html",
        }));
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            vec![
                (
                    "content-security-policy".to_owned(),
                    "script-src 'nonce-*' 'strict-dynamic'; style-src 'nonce-*'".to_owned()
                ),
                (
                    "strict-transport-security".to_owned(),
                    "max-age=63072000".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn sri_hash_is_base64_sha384() {
        // printf 'alert(1)' | openssl dgst -sha384 -binary | base64
        assert_eq!(
            sri_sha384(b"alert(1)"),
            "sha384-HT2E9NfWiuQ/w1PRai+hTyqW16NIoCGA/m8VQDUopfAtcz6YQjtsMmQd5uRbVDpW"
        );
    }

    #[test]
    fn changes_on_a_payment_page_close_payment_except_a_removal() {
        let good = obs(
            &[
                ("https://psp.example/card.js", "sha384-A"),
                ("inline#1", "sha384-I"),
            ],
            &["https://shop.example"],
        );
        let now = obs(
            &[
                ("https://psp.example/card.js", "sha384-B"),
                ("https://evil.example/x.js", "sha384-X"),
            ],
            &["https://shop.example", "https://evil.example"],
        );
        let got = compare(&target(true), &good, &now);
        let kinds_seen: Vec<(&str, bool)> = got.iter().map(|c| (c.kind, c.payment)).collect();
        assert_eq!(
            kinds_seen,
            vec![
                (kinds::SCRIPT_CHANGED, true),
                (kinds::SCRIPT_REMOVED, false),
                (kinds::SCRIPT_ADDED, true),
                (kinds::FORM_ACTION, true),
            ]
        );
        assert_eq!(got[0].evidence["expected_sha384"], "sha384-A");
        assert_eq!(got[0].evidence["found_sha384"], "sha384-B");
        // Elsewhere the same changes alert without closing payment.
        assert!(compare(&target(false), &good, &now)
            .iter()
            .all(|c| !c.payment));
        assert!(compare(&target(true), &good, &good).is_empty());
    }

    #[test]
    fn the_providers_page_is_named_without_the_payment() {
        let u = Url::parse("http://127.0.0.1:9/pay/pay_abc123").unwrap();
        assert_eq!(
            provider_page_name(&u, "pay_abc123"),
            "http://127.0.0.1:9/pay/{payment}"
        );
    }
}
