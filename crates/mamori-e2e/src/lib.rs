//! End-to-end tests of mamori in a real browser: Debian's headless Chromium,
//! driven from Rust over the DevTools protocol (CDP) through
//! [chromiumoxide](https://docs.rs/chromiumoxide).
//!
//! Nothing is mocked: the servers under test run for real on `127.0.0.1:0`
//! and Chromium talks to them over loopback. No browser is ever downloaded;
//! the harness starts `/usr/bin/chromium` (Debian's package `chromium`) or
//! the binary named by `MAMORI_CHROMIUM`. When neither can be started,
//! [`Browser::launch`] fails with an error that names what is missing: an
//! end-to-end test never skips itself.
//!
//! # Parts
//!
//! - [`Browser`]: one Chromium process with its own temporary profile
//!   (deleted when the browser is closed or dropped), 1280×900, Japanese
//!   locale. It drives chromiumoxide's CDP handler task itself.
//! - [`Page`]: one tab in a **fresh browser context** (its own cookies and
//!   storage, like an incognito window), so two pages of one browser act as
//!   two customers. It navigates, fills forms, clicks, waits, reads text,
//!   takes screenshots and collects what the page printed to the console
//!   (JavaScript errors, CSP violations: [`Page::console_errors`]). With
//!   [`Page::add_virtual_authenticator`] it gets a virtual passkey
//!   authenticator (DevTools' WebAuthn domain) for sign-in tests.
//! - [`ReturnCatcher`]: a tiny axum server standing in for the shop's
//!   `return_url` / `cancel_url`, recording each [`Visit`], so the payment
//!   provider's redirects can be checked without the shop.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mamori_e2e::{Browser, ReturnCatcher, DEFAULT_TIMEOUT};
//!
//! let browser = Browser::launch().await?;
//! let page = browser.new_page().await?;
//! page.goto("http://127.0.0.1:8080/").await?;
//! page.fill("#email", "hanako@example.jp").await?;
//! page.fill("#name", "山田 花子").await?;
//! page.select("#prefecture", "13").await?;
//! page.check("#agree").await?;
//! page.submit_and_wait("button[type=submit]").await?;
//! page.wait_for(".flash", DEFAULT_TIMEOUT).await?;
//! assert!(page.text("h1").await?.contains("ご注文"));
//! page.screenshot("checkout_done").await?;
//! assert!(page.console_errors().await?.is_empty());
//! browser.close().await?;
//! # let _ = ReturnCatcher::spawn;
//! # Ok(()) }
//! ```
//!
//! # How waiting works
//!
//! Every wait polls (every 50 ms) until its condition holds or its timeout
//! ([`DEFAULT_TIMEOUT`], 30 s, unless one is passed) runs out, then fails
//! with [`Error::Timeout`] naming what it waited for. Tests never assert on
//! how long anything took.
//!
//! - A navigation ([`Page::goto`], [`Page::submit_and_wait`]) is finished
//!   when the main frame's **loader id** differs from the one before (a new
//!   document was committed, whatever redirects came in between, such as
//!   POST → 303 → GET) and that document's `readyState` is `complete`. It
//!   fails with [`Error::Navigation`] if the browser shows its own error
//!   page instead (connection refused, …). chromiumoxide's own
//!   `wait_for_navigation` is not used: it returns at once when the old
//!   page is still loaded, which races a click.
//! - [`Page::wait_for`] waits for a CSS selector to match;
//!   [`Page::wait_for_url_prefix`] for the main frame's URL to start with
//!   a prefix and its document to be loaded.
//!
//! # Interaction
//!
//! DOM access runs as small scripts through `Runtime.evaluate`, which the
//! DevTools protocol exempts from the page's CSP, so pages under test keep
//! their strict CSP (no `Page.setBypassCSP`). Text goes in with
//! `Input.insertText` (what an IME or a paste does: any Unicode, kanji and
//! full-width digits included) after the field was focused and cleared;
//! clicks are real mouse presses at the element's centre after scrolling it
//! into view.
//!
//! # Console and CSP
//!
//! Each page records, from its creation on, `Runtime.exceptionThrown`,
//! `console.error` / `console.assert` (`Runtime.consoleAPICalled`) and
//! `Log.entryAdded` (where Chromium reports CSP violations, failed
//! resource loads and other browser-side errors). [`Page::console_errors`]
//! returns the errors among them; [`ConsoleMessage::is_csp_violation`] picks
//! out CSP refusals.
//!
//! # Artifacts
//!
//! [`Page::screenshot`] writes `<workspace>/target/e2e-artifacts/<name>.png`
//! (or under `MAMORI_E2E_ARTIFACTS`). Artifacts may be published: take them
//! of empty forms and of results, **never of a page with a typed card
//! number or password**.
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::cdp::browser_protocol::log::EventEntryAdded;
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, FrameTree, GetFrameTreeParams, NavigateParams,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EvaluateParams, EventConsoleApiCalled, EventExceptionThrown, RemoteObject,
};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::layout::Point;
use chromiumoxide::listeners::EventStream;
use chromiumoxide::page::ScreenshotParams;
use futures_util::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use chromiumoxide;

/// How long waits last unless told otherwise: generous, because tests
/// never assert on time and CI machines are small.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Debian's package `chromium` puts its launcher.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The environment variable naming another Chromium binary.
pub const CHROMIUM_ENV: &str = "MAMORI_CHROMIUM";

/// The environment variable naming another folder for screenshots.
pub const ARTIFACTS_ENV: &str = "MAMORI_E2E_ARTIFACTS";

/// The window and viewport size.
pub const WINDOW: (u32, u32) = (1280, 900);

const POLL: Duration = Duration::from_millis(50);

/// Errors of the harness. Messages name the selector, URL or file concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Chromium binary where one was expected.
    #[error(
        "chromium not found at {path} (install Debian's package `chromium`, \
         or set {CHROMIUM_ENV} to a Chromium binary)"
    )]
    ChromiumNotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Chromium was found but did not start or did not open its DevTools
    /// socket.
    #[error("chromium at {path} did not start: {source}")]
    Launch {
        /// The binary.
        path: PathBuf,
        /// The cause (with Chromium's stderr when chromiumoxide has it).
        #[source]
        source: Box<chromiumoxide::error::CdpError>,
    },
    /// A DevTools protocol call failed.
    #[error("devtools protocol: {0}")]
    Cdp(#[from] chromiumoxide::error::CdpError),
    /// Nothing matches the selector.
    #[error("no element matches `{selector}`")]
    NoElement {
        /// The CSS selector.
        selector: String,
    },
    /// The element cannot take this action (not a select, no such option, …).
    #[error("`{selector}`: {message}")]
    Element {
        /// The CSS selector.
        selector: String,
        /// What is wrong.
        message: String,
    },
    /// A script run in the page threw.
    #[error("script in the page failed: {0}")]
    Script(String),
    /// A navigation ended on the browser's error page or was refused.
    #[error("navigation to {url} failed: {reason}")]
    Navigation {
        /// Where it went.
        url: String,
        /// Why.
        reason: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The timeout.
        after: Duration,
    },
    /// A screenshot name that is not a plain file name.
    #[error("invalid artifact name {0:?}: use letters, digits, `-`, `_` and `.`")]
    ArtifactName(String),
    /// Reading or writing a file, or binding a socket, failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A value from the browser did not have the expected shape.
    #[error("unexpected value from the browser: {0}")]
    Decode(String),
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The Chromium binary to start: `MAMORI_CHROMIUM` if set and not empty,
/// else [`DEFAULT_CHROMIUM`].
#[must_use]
pub fn chromium_path() -> PathBuf {
    match std::env::var_os(CHROMIUM_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CHROMIUM),
    }
}

/// The command-line switches the harness gives Chromium besides the ones
/// chromiumoxide adds itself (`--remote-debugging-port=0`,
/// `--user-data-dir`, `--window-size`, `--headless`, `--hide-scrollbars`,
/// `--mute-audio`, `--no-sandbox`, `--disable-setuid-sandbox`,
/// `--disable-extensions`).
pub const CHROMIUM_SWITCHES: &[(&str, Option<&str>)] = &[
    ("disable-gpu", None),
    ("no-first-run", None),
    ("no-default-browser-check", None),
    ("disable-background-networking", None),
    ("disable-component-update", None),
    ("disable-sync", None),
    ("disable-quic", None),
    ("disable-default-apps", None),
    ("disable-breakpad", None),
    ("disable-domain-reliability", None),
    ("disable-client-side-phishing-detection", None),
    // Several tabs act at once; none may be throttled as a background tab.
    ("disable-background-timer-throttling", None),
    ("disable-backgrounding-occluded-windows", None),
    ("disable-renderer-backgrounding", None),
    // Containers often have a small /dev/shm.
    ("disable-dev-shm-usage", None),
    ("password-store", Some("basic")),
    ("use-mock-keychain", None),
    ("metrics-recording-only", None),
    ("force-color-profile", Some("srgb")),
    (
        "disable-features",
        Some("Translate,MediaRouter,OptimizationHints,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
    ),
    ("lang", Some("ja-JP")),
    ("accept-lang", Some("ja-JP,ja,en-US,en")),
];

/// One headless Chromium process with a temporary profile.
///
/// Close it with [`Browser::close`] at the end of a test; dropping it also
/// kills the process and deletes the profile, less tidily.
pub struct Browser {
    inner: chromiumoxide::Browser,
    handler: JoinHandle<()>,
    executable: PathBuf,
    // Declared last: dropped after the process was killed.
    profile: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("executable", &self.executable)
            .field(
                "profile",
                &self.profile.as_ref().map(tempfile::TempDir::path),
            )
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts Chromium ([`chromium_path`]) headless, without sandbox (tests
    /// run as root in containers), with a fresh profile in a temporary
    /// folder, a 1280×900 window and viewport, Japanese as its language
    /// (`navigator.language` is `ja-JP`, `Accept-Language` starts with
    /// `ja-JP`), and the switches in [`CHROMIUM_SWITCHES`].
    ///
    /// Fails with [`Error::ChromiumNotFound`] when there is no binary, and
    /// with [`Error::Launch`] (Chromium's stderr included) when it does not
    /// start.
    pub async fn launch() -> Result<Browser> {
        Browser::launch_at(chromium_path()).await
    }

    /// [`Browser::launch`] with this Chromium binary instead of
    /// [`chromium_path`].
    pub async fn launch_at(executable: impl Into<PathBuf>) -> Result<Browser> {
        let executable: PathBuf = executable.into();
        if !executable.is_file() {
            return Err(Error::ChromiumNotFound { path: executable });
        }
        let profile = tempfile::Builder::new()
            .prefix("mamori-e2e-chromium-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "creating a temporary Chromium profile".into(),
                source,
            })?;
        let mut builder = BrowserConfig::builder()
            .chrome_executable(&executable)
            .disable_default_args()
            // Headless is chromiumoxide's default: `--headless`.
            .no_sandbox()
            .window_size(WINDOW.0, WINDOW.1)
            .viewport(Viewport {
                width: WINDOW.0,
                height: WINDOW.1,
                device_scale_factor: Some(1.0),
                emulating_mobile: false,
                is_landscape: true,
                has_touch: false,
            })
            .user_data_dir(profile.path())
            .launch_timeout(DEFAULT_TIMEOUT)
            .request_timeout(DEFAULT_TIMEOUT);
        for (key, value) in CHROMIUM_SWITCHES {
            builder = match value {
                Some(v) => builder.arg((*key, *v)),
                None => builder.arg(*key),
            };
        }
        let config = builder.build().map_err(|message| Error::Launch {
            path: executable.clone(),
            source: Box::new(chromiumoxide::error::CdpError::ChromeMessage(message)),
        })?;
        let (inner, mut handler) =
            chromiumoxide::Browser::launch(config)
                .await
                .map_err(|source| Error::Launch {
                    path: executable.clone(),
                    source: Box::new(source),
                })?;
        // The handler is the CDP event loop: it must be polled for anything
        // to happen. Errors are single messages it could not read (a newer
        // Chromium's events this CDP version does not know); go on.
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(error = %e, "chromium: CDP handler message");
                }
            }
        });
        Ok(Browser {
            inner,
            handler,
            executable,
            profile: Some(profile),
        })
    }

    /// Opens a blank page in a new browser context of its own (cookies,
    /// storage and cache apart from every other page), with console
    /// collection running.
    pub async fn new_page(&self) -> Result<Page> {
        let context = self
            .inner
            .create_browser_context(CreateBrowserContextParams::default())
            .await?;
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context)
            .build()
            .map_err(Error::Decode)?;
        let inner = self.inner.new_page(params).await?;
        Page::attach(inner).await
    }

    /// The chromiumoxide browser, for what the harness does not cover.
    #[must_use]
    pub fn inner(&self) -> &chromiumoxide::Browser {
        &self.inner
    }

    /// Closes Chromium (`Browser.close`), waits until its processes have
    /// ended (the network service writes into the profile while it shuts
    /// down), and deletes the profile.
    pub async fn close(mut self) -> Result<()> {
        let family = self.process_family();
        let closed = self.inner.close().await;
        if closed.is_err() {
            let _ = self.inner.kill().await;
        }
        let _ = self.inner.wait().await;
        self.handler.abort();
        let deadline = tokio::time::Instant::now() + DEFAULT_TIMEOUT;
        while family.iter().any(|p| process_alive(*p)) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        if let Some(dir) = self.profile.take() {
            dir.close().map_err(|source| Error::Io {
                what: "deleting the temporary Chromium profile".into(),
                source,
            })?;
        }
        closed.map(|_| ()).map_err(Error::from)
    }

    /// The browser process and its descendants (Linux: from `/proc`).
    fn process_family(&mut self) -> Vec<u32> {
        self.inner
            .get_mut_child()
            .and_then(|c| c.inner.id())
            .map(descendants)
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.handler.abort();
        let family = self.process_family();
        if let Some(child) = self.inner.get_mut_child() {
            // SIGKILL now; Chromium's helpers follow their parent.
            let _ = child.inner.start_kill();
            let _ = child.inner.try_wait();
        }
        // Delete the profile once every process is gone, without blocking
        // the runtime (best effort: the test process may end first).
        if let Some(dir) = self.profile.take() {
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + DEFAULT_TIMEOUT;
                while family.iter().any(|p| process_alive(*p))
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(POLL);
                }
                let _ = dir.close();
            });
        }
    }
}

/// `root` and every process descending from it, read from `/proc` (empty
/// elsewhere but `root`).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, _)) = proc_stat(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut family = vec![root];
    let mut i = 0;
    while i < family.len() {
        let p = family[i];
        family.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    family
}

/// Parent pid and state of a process, from `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(u32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Whether a process still runs (a zombie does not: in a container nobody
/// may reap it).
fn process_alive(pid: u32) -> bool {
    matches!(proc_stat(pid), Some((_, state)) if state != 'Z' && state != 'X')
}

/// What a page printed to its console, or a browser-side message about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleMessage {
    /// Where it came from: `"exception"`, `"console"` (`console.*`), or the
    /// `Log` domain's source (`"security"`, `"network"`, `"javascript"`,
    /// `"violation"`, …).
    pub source: String,
    /// `"error"`, `"warning"`, `"info"`, `"verbose"`, or a console call's
    /// type (`"error"`, `"assert"`, `"warning"`, `"log"`, …).
    pub level: String,
    /// The message.
    pub text: String,
    /// The resource concerned, if known.
    pub url: Option<String>,
}

impl ConsoleMessage {
    /// Whether this is an error (an exception, `console.error`,
    /// `console.assert`, or a browser message of level error).
    #[must_use]
    pub fn is_error(&self) -> bool {
        matches!(self.level.as_str(), "error" | "assert")
    }

    /// Whether this is the failure of the request for `/favicon.ico` that
    /// Chromium makes by itself, after the page loaded, when a page names
    /// no icon. It is no error of the page's, and arrives at no fixed time.
    #[must_use]
    pub fn is_favicon_miss(&self) -> bool {
        self.source == "network"
            && self
                .url
                .as_deref()
                .and_then(|u| Url::parse(u).ok())
                .is_some_and(|u| u.path() == "/favicon.ico")
    }

    /// Whether this reports a Content Security Policy refusal.
    #[must_use]
    pub fn is_csp_violation(&self) -> bool {
        self.text.contains("Content Security Policy")
    }
}

impl std::fmt::Display for ConsoleMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} {}] {}", self.source, self.level, self.text)?;
        if let Some(url) = &self.url {
            write!(f, " ({url})")?;
        }
        Ok(())
    }
}

struct ConsoleStreams {
    log: EventStream<EventEntryAdded>,
    console: EventStream<EventConsoleApiCalled>,
    exceptions: EventStream<EventExceptionThrown>,
}

#[derive(Default)]
struct Console {
    streams: Option<ConsoleStreams>,
    seen: Vec<ConsoleMessage>,
}

impl Console {
    /// Moves every event already received into `seen`.
    fn drain(&mut self) {
        let Some(s) = self.streams.as_mut() else {
            return;
        };
        while let Some(Some(ev)) = s.log.next().now_or_never() {
            let e = &ev.entry;
            self.seen.push(ConsoleMessage {
                source: e.source.as_ref().to_owned(),
                level: e.level.as_ref().to_owned(),
                text: e.text.clone(),
                url: e.url.clone(),
            });
        }
        while let Some(Some(ev)) = s.console.next().now_or_never() {
            let text = ev
                .args
                .iter()
                .map(remote_text)
                .collect::<Vec<_>>()
                .join(" ");
            let level = match ev.r#type {
                ConsoleApiCalledType::Error => "error".to_owned(),
                ConsoleApiCalledType::Assert => "assert".to_owned(),
                ref t => t.as_ref().to_owned(),
            };
            self.seen.push(ConsoleMessage {
                source: "console".into(),
                level,
                text,
                url: None,
            });
        }
        while let Some(Some(ev)) = s.exceptions.next().now_or_never() {
            let d = &ev.exception_details;
            let text = d
                .exception
                .as_ref()
                .and_then(|o| o.description.clone())
                .unwrap_or_else(|| d.text.clone());
            self.seen.push(ConsoleMessage {
                source: "exception".into(),
                level: "error".into(),
                text,
                url: d.url.clone(),
            });
        }
    }
}

fn remote_text(o: &RemoteObject) -> String {
    match (&o.value, &o.description) {
        (Some(serde_json::Value::String(s)), _) => s.clone(),
        (Some(v), _) => v.to_string(),
        (None, Some(d)) => d.clone(),
        (None, None) => o.r#type.as_ref().to_owned(),
    }
}

/// One tab, in a browser context of its own (see [`Browser::new_page`]).
///
/// All waits use [`DEFAULT_TIMEOUT`] unless they take a timeout.
pub struct Page {
    inner: chromiumoxide::Page,
    console: Mutex<Console>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("target", self.inner.target_id())
            .finish_non_exhaustive()
    }
}

/// JSON text of `s`, which is also a JavaScript string literal.
fn js(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

impl Page {
    async fn attach(inner: chromiumoxide::Page) -> Result<Page> {
        // Listen before enabling `Log`, so that nothing is missed.
        let log = inner.event_listener::<EventEntryAdded>().await?;
        let console = inner.event_listener::<EventConsoleApiCalled>().await?;
        let exceptions = inner.event_listener::<EventExceptionThrown>().await?;
        inner.enable_runtime().await?;
        inner.enable_log().await?;
        Ok(Page {
            inner,
            console: Mutex::new(Console {
                streams: Some(ConsoleStreams {
                    log,
                    console,
                    exceptions,
                }),
                seen: Vec::new(),
            }),
        })
    }

    /// The chromiumoxide page, for what the harness does not cover.
    #[must_use]
    pub fn inner(&self) -> &chromiumoxide::Page {
        &self.inner
    }

    /// Evaluates a JavaScript expression in the page (promises awaited) and
    /// returns its value, deserialized. Runs as DevTools code: the page's
    /// CSP does not apply to it.
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> Result<T> {
        let params = EvaluateParams::builder()
            .expression(expression)
            .return_by_value(true)
            .await_promise(true)
            .build()
            .map_err(Error::Decode)?;
        let resp = self.inner.execute(params).await?;
        if let Some(ex) = &resp.result.exception_details {
            let text = ex
                .exception
                .as_ref()
                .and_then(|o| o.description.clone())
                .unwrap_or_else(|| ex.text.clone());
            return Err(Error::Script(text));
        }
        let value = resp
            .result
            .result
            .value
            .clone()
            .unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Runs `body` (a function body using `el`) on the first element
    /// matching `css`; fails with [`Error::NoElement`] when none does, and
    /// with [`Error::Element`] when `body` returns a string.
    async fn on_element<T: DeserializeOwned>(&self, css: &str, body: &str) -> Result<T> {
        #[derive(serde::Deserialize)]
        #[serde(tag = "t", content = "v")]
        enum Outcome<T> {
            Missing,
            Refused(String),
            Ok(T),
        }
        let expr = format!(
            "(() => {{ const el = document.querySelector({sel}); \
               if (!el) return {{ t: 'Missing' }}; \
               const r = (() => {{ {body} }})(); \
               if (r && r.refused !== undefined) return {{ t: 'Refused', v: r.refused }}; \
               return {{ t: 'Ok', v: r === undefined ? null : r }}; }})()",
            sel = js(css),
        );
        match self.eval::<Outcome<T>>(&expr).await? {
            Outcome::Missing => Err(Error::NoElement {
                selector: css.to_owned(),
            }),
            Outcome::Refused(message) => Err(Error::Element {
                selector: css.to_owned(),
                message,
            }),
            Outcome::Ok(v) => Ok(v),
        }
    }

    async fn main_frame(&self) -> Result<FrameTree> {
        Ok(self
            .inner
            .execute(GetFrameTreeParams::default())
            .await?
            .result
            .frame_tree)
    }

    /// Waits until the main frame holds a document accepted by `done` (given
    /// its loader id) whose `readyState` is `complete`.
    async fn wait_loaded(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&FrameTree) -> bool,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let step = async {
                let tree = self.main_frame().await?;
                if !done(&tree) {
                    return Ok::<_, Error>(false);
                }
                if let Some(unreachable) = &tree.frame.unreachable_url {
                    return Err(Error::Navigation {
                        url: unreachable.clone(),
                        reason: "the browser shows its error page".into(),
                    });
                }
                // A failed evaluation here means the document is being
                // replaced: try again.
                Ok(matches!(
                    self.eval::<String>("document.readyState").await.as_deref(),
                    Ok("complete")
                ))
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, step).await {
                Ok(Ok(true)) => return Ok(()),
                Ok(Ok(false)) => {}
                Ok(Err(e @ Error::Navigation { .. })) => return Err(e),
                Ok(Err(e)) => tracing::debug!(error = %e, "e2e: polling a navigation"),
                Err(_) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    after: timeout,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Goes to `url` and waits until its document is loaded. A network
    /// failure (refused, DNS) is [`Error::Navigation`]; an HTTP error status
    /// is not (the page shows it: check its text).
    pub async fn goto(&self, url: &str) -> Result<()> {
        let resp = self.inner.execute(NavigateParams::new(url)).await?;
        if let Some(reason) = resp.result.error_text.clone() {
            return Err(Error::Navigation {
                url: url.to_owned(),
                reason,
            });
        }
        let loader = resp.result.loader_id.clone();
        self.wait_loaded(&format!("{url} to load"), DEFAULT_TIMEOUT, |t| {
            loader.as_ref().is_none_or(|l| &t.frame.loader_id == l)
        })
        .await
    }

    /// The main frame's URL (with its fragment).
    pub async fn url(&self) -> Result<String> {
        let f = self.main_frame().await?.frame;
        Ok(match f.url_fragment {
            Some(frag) => format!("{}{frag}", f.url),
            None => f.url,
        })
    }

    /// Types `value` into the field `css`: focuses it, clears it, inserts
    /// the text (as an IME or a paste would, so any Unicode works and
    /// `maxlength` applies), then fires `change`.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        self.on_element::<()>(
            css,
            "if (!('value' in el)) return { refused: 'not a form field' }; \
             el.scrollIntoView({ block: 'center' }); el.focus(); \
             if (document.activeElement !== el) return { refused: 'cannot take the focus (disabled?)' }; \
             if (typeof el.select === 'function') el.select(); \
             el.value = ''; el.dispatchEvent(new Event('input', { bubbles: true }));",
        )
        .await?;
        if !value.is_empty() {
            self.inner.execute(InsertTextParams::new(value)).await?;
        }
        self.on_element::<()>(
            css,
            "el.dispatchEvent(new Event('change', { bubbles: true }));",
        )
        .await
    }

    /// The current value of the form field `css`.
    pub async fn value(&self, css: &str) -> Result<String> {
        self.on_element(
            css,
            "if (!('value' in el)) return { refused: 'not a form field' }; return String(el.value);",
        )
        .await
    }

    /// Chooses the option whose `value` is `value` in the `<select>` `css`
    /// and fires `input` and `change`.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        let body = format!(
            "if (!(el instanceof HTMLSelectElement)) return {{ refused: 'not a <select>' }}; \
             const v = {v}; \
             if (![...el.options].some(o => o.value === v)) return {{ refused: 'no option with value ' + v }}; \
             el.value = v; \
             el.dispatchEvent(new Event('input', {{ bubbles: true }})); \
             el.dispatchEvent(new Event('change', {{ bubbles: true }}));",
            v = js(value)
        );
        self.on_element::<()>(css, &body).await
    }

    /// Ticks the checkbox or radio `css` with a click, unless it is ticked.
    pub async fn check(&self, css: &str) -> Result<()> {
        let checked: bool = self
            .on_element(
                css,
                "if (!('checked' in el)) return { refused: 'not a checkbox or radio' }; return el.checked;",
            )
            .await?;
        if !checked {
            self.click(css).await?;
        }
        let checked: bool = self.on_element(css, "return el.checked;").await?;
        if checked {
            Ok(())
        } else {
            Err(Error::Element {
                selector: css.to_owned(),
                message: "still not checked after a click".into(),
            })
        }
    }

    /// Clicks the element `css` with the mouse, at its centre, after
    /// scrolling it into view. Does not wait for anything it triggers (see
    /// [`Page::submit_and_wait`]).
    pub async fn click(&self, css: &str) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Centre {
            x: f64,
            y: f64,
        }
        let c: Centre = self
            .on_element(
                css,
                "el.scrollIntoView({ block: 'center', inline: 'center' }); \
                 const r = el.getBoundingClientRect(); \
                 if (r.width === 0 || r.height === 0) return { refused: 'not visible' }; \
                 return { x: r.left + r.width / 2, y: r.top + r.height / 2 };",
            )
            .await?;
        self.inner.click(Point { x: c.x, y: c.y }).await?;
        Ok(())
    }

    /// Clicks `css` (a submit button or a link) and waits until the
    /// navigation it starts has ended on a loaded document, through any
    /// redirects.
    pub async fn submit_and_wait(&self, css: &str) -> Result<()> {
        let before = self.main_frame().await?.frame.loader_id;
        self.click(css).await?;
        self.wait_loaded(
            &format!("the navigation after clicking `{css}`"),
            DEFAULT_TIMEOUT,
            |t| t.frame.loader_id != before,
        )
        .await
    }

    /// Waits until some element matches `css`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let expr = format!("document.querySelector({}) !== null", js(css));
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Ok(Ok(true)) = tokio::time::timeout(left, self.eval::<bool>(&expr)).await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("`{css}` to appear"),
                    after: timeout,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the main frame's URL starts with `prefix` and its
    /// document is loaded; returns the URL.
    pub async fn wait_for_url_prefix(&self, prefix: &str, timeout: Duration) -> Result<String> {
        self.wait_loaded(&format!("a URL starting with {prefix}"), timeout, |t| {
            t.frame.url.starts_with(prefix)
        })
        .await?;
        self.url().await
    }

    /// Whether some element matches `css` now.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        self.eval(&format!("document.querySelector({}) !== null", js(css)))
            .await
    }

    /// The rendered text (`innerText`) of the first element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String> {
        self.on_element(css, "return String(el.innerText);").await
    }

    /// An attribute of the first element matching `css`, if present.
    pub async fn attribute(&self, css: &str, name: &str) -> Result<Option<String>> {
        self.on_element(css, &format!("return el.getAttribute({});", js(name)))
            .await
    }

    /// The whole document as HTML.
    pub async fn content(&self) -> Result<String> {
        self.eval(
            "(document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '') \
             + (document.documentElement ? document.documentElement.outerHTML : '')",
        )
        .await
    }

    /// Saves a PNG of the viewport as `<artifacts>/<name>.png` (see
    /// [`artifacts_dir`]) and returns its path. `name` is a plain file
    /// name: letters, digits, `-`, `_`, `.`. Never take one of a page with a
    /// typed card number or password on it.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(Error::ArtifactName(name.to_owned()));
        }
        let png = self
            .inner
            .screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .build(),
            )
            .await?;
        let dir = artifacts_dir();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| Error::Io {
                what: format!("creating {}", dir.display()),
                source,
            })?;
        let path = dir.join(format!("{name}.png"));
        tokio::fs::write(&path, png)
            .await
            .map_err(|source| Error::Io {
                what: format!("writing {}", path.display()),
                source,
            })?;
        Ok(path)
    }

    /// Everything recorded so far (see [`ConsoleMessage`]), in the order of
    /// each kind's arrival. Makes one round trip to the browser first, so
    /// that what the page logged before the call is included.
    pub async fn console_messages(&self) -> Result<Vec<ConsoleMessage>> {
        // Events are forwarded before the answer to a later command.
        let _: serde_json::Value = self.eval("0").await?;
        let mut c = lock(&self.console);
        c.drain();
        Ok(c.seen.clone())
    }

    /// The errors among [`Page::console_messages`]: exceptions,
    /// `console.error`, failed assertions, CSP violations, failed loads,
    /// except the browser's own favicon request
    /// ([`ConsoleMessage::is_favicon_miss`]). A page of the shop must have
    /// none.
    pub async fn console_errors(&self) -> Result<Vec<ConsoleMessage>> {
        Ok(self
            .console_messages()
            .await?
            .into_iter()
            .filter(|m| m.is_error() && !m.is_favicon_miss())
            .collect())
    }

    /// Gives this page a virtual WebAuthn authenticator (DevTools' WebAuthn domain): a platform
    /// authenticator speaking CTAP2 over the `internal` transport, with resident keys and user
    /// verification, that verifies the user and answers at once. Pages then create and use
    /// passkeys through `navigator.credentials` as with a real device; the credentials live in
    /// the authenticator until the browser closes. See [`VirtualAuthenticator`].
    pub async fn add_virtual_authenticator(&self) -> Result<VirtualAuthenticator> {
        use chromiumoxide::cdp::browser_protocol::web_authn::{
            AddVirtualAuthenticatorParams, AuthenticatorProtocol, AuthenticatorTransport,
            EnableParams, VirtualAuthenticatorOptions,
        };
        self.inner.execute(EnableParams::default()).await?;
        let options = VirtualAuthenticatorOptions::builder()
            .protocol(AuthenticatorProtocol::Ctap2)
            .transport(AuthenticatorTransport::Internal)
            .has_resident_key(true)
            .has_user_verification(true)
            .is_user_verified(true)
            .automatic_presence_simulation(true)
            .build()
            .map_err(Error::Script)?;
        let added = self
            .inner
            .execute(AddVirtualAuthenticatorParams::new(options))
            .await?;
        Ok(VirtualAuthenticator {
            id: added.result.authenticator_id,
        })
    }

    /// How many credentials (passkeys) `authenticator` holds now.
    pub async fn virtual_credentials(&self, authenticator: &VirtualAuthenticator) -> Result<usize> {
        use chromiumoxide::cdp::browser_protocol::web_authn::GetCredentialsParams;
        let got = self
            .inner
            .execute(GetCredentialsParams::new(authenticator.id.clone()))
            .await?;
        Ok(got.result.credentials.len())
    }

    /// Closes the tab. Its browser context goes with the browser.
    pub async fn close(self) -> Result<()> {
        self.inner.close().await?;
        Ok(())
    }
}

/// A virtual WebAuthn authenticator attached to a [`Page`] by
/// [`Page::add_virtual_authenticator`].
#[derive(Debug, Clone)]
pub struct VirtualAuthenticator {
    id: chromiumoxide::cdp::browser_protocol::web_authn::AuthenticatorId,
}

impl VirtualAuthenticator {
    /// The authenticator's id in the DevTools protocol.
    #[must_use]
    pub fn id(&self) -> &str {
        self.id.inner()
    }
}

/// Where screenshots go: `MAMORI_E2E_ARTIFACTS` if set, else
/// `<workspace>/target/e2e-artifacts`.
#[must_use]
pub fn artifacts_dir() -> PathBuf {
    match std::env::var_os(ARTIFACTS_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")))
            .join("target")
            .join("e2e-artifacts"),
    }
}

/// Which of the [`ReturnCatcher`]'s two addresses was visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    /// `GET /return`.
    Return,
    /// `GET /cancel`.
    Cancel,
}

/// One request the [`ReturnCatcher`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Which address.
    pub kind: VisitKind,
    /// The `payment_id` query parameter, if there was one.
    pub payment_id: Option<String>,
    /// The whole query, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The browser's `Accept-Language`.
    pub accept_language: Option<String>,
}

type Visits = Arc<Mutex<Vec<Visit>>>;

/// A stand-in for the shop's return and cancel pages: an axum server on
/// `127.0.0.1:0` answering `GET /return` with a page whose `#result` reads
/// `ok` and `GET /cancel` with one reading `cancel` (`#payment-id` shows
/// the payment id), recording every [`Visit`]. Its pages carry a strict
/// CSP and no script, so they add nothing to the console.
///
/// Stops when dropped.
pub struct ReturnCatcher {
    base_url: Url,
    local_addr: SocketAddr,
    visits: Visits,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for ReturnCatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReturnCatcher")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn catch(
    kind: VisitKind,
    visits: Visits,
    query: Vec<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let payment_id = query
        .iter()
        .find(|(k, _)| k == "payment_id")
        .map(|(_, v)| v.clone());
    let (result, ja, en) = match kind {
        VisitKind::Return => (
            "ok",
            "お支払い手続きから戻りました。",
            "Back from the payment.",
        ),
        VisitKind::Cancel => (
            "cancel",
            "お支払いは完了していません。",
            "The payment was not completed.",
        ),
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <title>{result}</title></head><body>\
         <h1 id=\"result\">{result}</h1><p>{ja} <span lang=\"en\">{en}</span></p>\
         <p id=\"payment-id\">{pid}</p></body></html>",
        pid = escape_html(payment_id.as_deref().unwrap_or("")),
    );
    lock(&visits).push(Visit {
        kind,
        payment_id,
        query,
        accept_language: headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl ReturnCatcher {
    /// Starts the server on `127.0.0.1:0`; it accepts connections when this
    /// returns.
    pub async fn spawn() -> Result<ReturnCatcher> {
        let visits: Visits = Arc::default();
        let app = Router::new()
            .route(
                "/return",
                get(
                    |State(v): State<Visits>,
                     Query(q): Query<Vec<(String, String)>>,
                     h: HeaderMap| catch(VisitKind::Return, v, q, h),
                ),
            )
            .route(
                "/cancel",
                get(
                    |State(v): State<Visits>,
                     Query(q): Query<Vec<(String, String)>>,
                     h: HeaderMap| catch(VisitKind::Cancel, v, q, h),
                ),
            )
            // No 404 in the console for the browser's own favicon request.
            .route(
                "/favicon.ico",
                get(|| async { axum::http::StatusCode::NO_CONTENT }),
            )
            .with_state(visits.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| Error::Io {
                what: "binding the return catcher".into(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Io {
            what: "reading the return catcher's address".into(),
            source,
        })?;
        let base_url = Url::parse(&format!("http://{local_addr}/"))
            .map_err(|e| Error::Decode(e.to_string()))?;
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "return catcher stopped");
            }
        });
        Ok(ReturnCatcher {
            base_url,
            local_addr,
            visits,
            shutdown: Some(tx),
            server,
        })
    }

    /// `http://127.0.0.1:PORT/`.
    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The address bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT/return`: give it as the payment's `return_url`.
    #[must_use]
    pub fn return_url(&self) -> Url {
        let mut u = self.base_url.clone();
        u.set_path("/return");
        u
    }

    /// `http://127.0.0.1:PORT/cancel`: give it as the payment's `cancel_url`.
    #[must_use]
    pub fn cancel_url(&self) -> Url {
        let mut u = self.base_url.clone();
        u.set_path("/cancel");
        u
    }

    /// Every visit so far, oldest first.
    #[must_use]
    pub fn visits(&self) -> Vec<Visit> {
        lock(&self.visits).clone()
    }

    /// The latest visit, if any.
    #[must_use]
    pub fn last_visit(&self) -> Option<Visit> {
        lock(&self.visits).last().cloned()
    }
}

impl Drop for ReturnCatcher {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_literals_are_json_strings() {
        assert_eq!(js("a\"b'c\\"), r#""a\"b'c\\""#);
        assert_eq!(js("山田"), "\"山田\"");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href='x'>&"),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
    }

    #[test]
    fn artifacts_live_in_the_workspace_target() {
        if std::env::var_os(ARTIFACTS_ENV).is_none() {
            let d = artifacts_dir();
            assert!(d.ends_with("target/e2e-artifacts"));
            assert!(d
                .parent()
                .and_then(Path::parent)
                .is_some_and(|w| w.join("Cargo.toml").is_file()));
        }
    }
}
