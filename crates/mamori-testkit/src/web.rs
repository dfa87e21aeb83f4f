//! A browser-like HTTP client for the tests of the shop and the back office: its own cookie jar,
//! redirects not followed (use [`Browser::follow`]), `Origin` set to the site, and `_csrf` taken
//! from the last HTML page that had one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

/// The longest a request lasts before it fails (never a measurement).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One response, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// `Location`, if any.
    pub location: Option<String>,
    /// All headers.
    pub headers: HeaderMap,
    /// The body as text (lossy for binary bodies).
    pub text: String,
    /// The body's bytes.
    pub bytes: Vec<u8>,
}

impl Resp {
    /// Reads `res` whole.
    pub async fn read(res: reqwest::Response) -> Resp {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res.bytes().await.unwrap().to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Resp {
            status,
            location,
            headers,
            text,
            bytes,
        }
    }

    /// The parsed page.
    pub fn doc(&self) -> scraper::Html {
        scraper::Html::parse_document(&self.text)
    }

    /// The text of the first element matching `css` (whitespace-trimmed).
    pub fn text_of(&self, css: &str) -> Option<String> {
        self.texts_of(css).into_iter().next()
    }

    /// The texts of every element matching `css` (whitespace-trimmed).
    pub fn texts_of(&self, css: &str) -> Vec<String> {
        let sel = scraper::Selector::parse(css).unwrap();
        self.doc()
            .select(&sel)
            .map(|e| e.text().collect::<String>().trim().to_owned())
            .collect()
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        let sel = scraper::Selector::parse(css).unwrap();
        self.doc().select(&sel).count()
    }

    /// True when an element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        self.count(css) > 0
    }

    /// The `value` of the first element named `name` (None when absent or without a value).
    pub fn input_value(&self, name: &str) -> Option<String> {
        let sel = scraper::Selector::parse(&format!("[name=\"{name}\"]")).unwrap();
        self.doc()
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("value").map(str::to_owned))
    }

    /// The `Set-Cookie` value that sets cookie `name`, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Panics unless the status is `status`, showing the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; location {:?}; body: {}",
            self.location, self.text
        );
        self
    }

    /// Panics unless this is a 303 to a location starting with `prefix`.
    #[track_caller]
    pub fn expect_redirect(&self, prefix: &str) -> &Self {
        assert_eq!(
            self.status, 303,
            "expected a 303 to {prefix}; body: {}",
            self.text
        );
        let loc = self.location.clone().unwrap_or_default();
        assert!(
            loc.starts_with(prefix),
            "redirect to {loc:?}, expected {prefix:?}"
        );
        self
    }
}

/// The site a [`Browser`] talks to.
pub struct Site<'a> {
    /// `http://HOST:PORT`, no trailing slash; also the `Origin` of every request.
    pub base: &'a str,
    /// The `User-Agent` sent.
    pub user_agent: &'static str,
    /// A host name to resolve to a listener's address (WebAuthn wants a name, not an IP).
    pub resolve: Option<(&'a str, SocketAddr)>,
    /// Pages fetched, in order, for a CSRF token when none was seen yet.
    pub csrf_pages: &'static [&'static str],
    /// The session cookie's name, whose last value [`Browser::session_cookie`] gives.
    pub session_cookie: &'static str,
}

/// A browser-like client of one site.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    csrf_pages: &'static [&'static str],
    session_cookie: &'static str,
    csrf: Mutex<Option<String>>,
    session: Mutex<Option<String>>,
}

impl Browser {
    /// A client of `site` with its own cookie jar.
    pub fn new(site: Site<'_>) -> Browser {
        Self::build(site, None)
    }

    /// A client of `site` whose connections come from `local` (e.g. `127.0.0.7`: Linux answers
    /// the whole 127.0.0.0/8 on loopback), so that a server sees several client addresses.
    pub fn from_address(site: Site<'_>, local: std::net::IpAddr) -> Browser {
        Self::build(site, Some(local))
    }

    fn build(site: Site<'_>, local: Option<std::net::IpAddr>) -> Browser {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ORIGIN,
            HeaderValue::from_str(site.base).unwrap(),
        );
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(site.user_agent),
        );
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT);
        if let Some((host, addr)) = site.resolve {
            builder = builder.resolve(host, addr);
        }
        if let Some(local) = local {
            builder = builder.local_address(local);
        }
        Browser {
            http: builder.build().unwrap(),
            base: site.base.to_owned(),
            csrf_pages: site.csrf_pages,
            session_cookie: site.session_cookie,
            csrf: Mutex::new(None),
            session: Mutex::new(None),
        }
    }

    /// `path` on the site, or `path` itself when it is an absolute URL.
    pub fn abs(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Reads `res`, keeping its CSRF token (HTML pages) and its session cookie.
    async fn read(&self, res: reqwest::Response) -> Resp {
        let resp = Resp::read(res).await;
        let is_html = resp
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"));
        if is_html {
            if let Some(token) = resp.input_value("_csrf") {
                *self.csrf.lock().unwrap() = Some(token);
            }
        }
        if let Some(set) = resp.cookie(self.session_cookie) {
            let value = set[self.session_cookie.len() + 1..]
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            *self.session.lock().unwrap() = (!value.is_empty()).then_some(value);
        }
        resp
    }

    /// `GET path` (or an absolute URL).
    pub async fn get(&self, path: &str) -> Resp {
        let res = self.http.get(self.abs(path)).send().await.unwrap();
        self.read(res).await
    }

    /// Follows `resp`'s redirects (GET) until a non-redirect answer.
    pub async fn follow(&self, resp: &Resp) -> Resp {
        let mut current = resp.clone();
        for _ in 0..10 {
            let Some(loc) = current
                .location
                .clone()
                .filter(|_| (300..400).contains(&current.status))
            else {
                return current;
            };
            current = self.get(&loc).await;
        }
        panic!("too many redirects");
    }

    /// `GET path`, following redirects.
    pub async fn get_following(&self, path: &str) -> Resp {
        let first = self.get(path).await;
        self.follow(&first).await
    }

    /// The CSRF token of the last page that had one (fetching the site's CSRF pages if none
    /// was seen).
    pub async fn csrf(&self) -> String {
        if let Some(t) = self.csrf.lock().unwrap().clone() {
            return t;
        }
        for page in self.csrf_pages {
            self.get(page).await;
            if let Some(t) = self.csrf.lock().unwrap().clone() {
                return t;
            }
        }
        panic!("no page carried a CSRF token")
    }

    /// Forgets the remembered CSRF token (after a session change).
    pub fn forget_csrf(&self) {
        *self.csrf.lock().unwrap() = None;
    }

    /// `POST path` as a form, with `_csrf` from the last page.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// `POST path` as a form with exactly `fields` (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let res = self
            .http
            .post(self.abs(path))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    /// `POST path` with raw `body` of `content_type`, the CSRF token in its header.
    pub async fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let token = self.csrf().await;
        let res = self
            .http
            .post(self.abs(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header("x-csrf-token", token)
            .body(body)
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    /// The session cookie's value as last set by the site (None after removal).
    pub fn session_cookie(&self) -> Option<String> {
        self.session.lock().unwrap().clone()
    }

    /// `GET path` presenting `session` as the session cookie, outside this client's jar (to
    /// check that an old session id no longer works).
    pub async fn get_with_session(&self, path: &str, session: &str) -> Resp {
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(self.abs(path))
            .header(
                reqwest::header::COOKIE,
                format!("{}={session}", self.session_cookie),
            )
            .send()
            .await
            .unwrap();
        Resp::read(res).await
    }
}

/// Pays on the sandbox provider's hosted page at `pay_url` as a browser would (its own origin,
/// its own form: the page, then the card `card` posted with a fixed expiry, code and name) and
/// returns where the provider sends the browser back to.
pub async fn pay_on_provider(pay_url: &str, card: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    assert_eq!(http.get(pay_url).send().await.unwrap().status(), 200);
    let res = http
        .post(pay_url)
        .form(&[
            ("number", card),
            ("expiry", "12/34"),
            ("cvv", "123"),
            ("name", "TARO YAMADA"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the provider redirects back");
    res.headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}
