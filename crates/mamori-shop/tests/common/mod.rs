//! The shop's test harness: a whole shop on loopback, on SQLite or PostgreSQL.
//!
//! [`TestShop::start`] builds, per test:
//! - a [`mamori_testkit::Env`] with the demo catalogue: a fresh, migrated database
//!   ([`Backend::Sqlite`] in a temp dir, [`Backend::Postgres`] cloned from the migrated
//!   template), a key ring with cheap Argon2 parameters, a running ledger and the gateway;
//! - the sandbox payment provider (`mamori_pay::spawn_sandbox`) whose webhooks go to the shop's
//!   [`mamori_shop::WEBHOOK_PATH`], and an `HttpConnector` to it;
//! - the shop (`mamori_shop::assemble`) served on `127.0.0.1:0` with connect info;
//! - the mail worker over `mamori_store::SqlOutbox`, delivering over real SMTP to a
//!   [`MailCatcher`], polling every 20 ms (`mamori_testkit::mail`).
//!
//! [`ShopClient`] is a browser-like client: a cookie jar, redirects not followed (use
//! [`ShopClient::follow`]), `Origin` set to the shop, and `_csrf` taken from the last page that had
//! one. [`TestShop::wait_for_mail`] decodes what the catcher got (RFC 2047 subjects,
//! base64/quoted-printable bodies) and [`link_in`] finds a link in it.
//!
//! Nothing here measures time; waits have generous limits and fail with what was seen.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_guard::inventory::ScriptInventory;
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine as _;
use mamori_domain::{CustomerKind, CustomerProfile, Email, PersonName, Personal};
use mamori_mail::catcher::{MailCatcher, ReceivedMessage};
use mamori_pay::{url::Url, SandboxConfig, SandboxHandle};
use mamori_shop::{Parts, ShopConfig, ShopState, WEBHOOK_PATH};
pub use mamori_store::Backend;
use mamori_store::{Accessor, Gateway, SqlOutbox};
use mamori_testkit::{mail::MailWorker, Env};
use secrecy::SecretString;
use tokio::task::JoinHandle;

/// The longest any wait in a test lasts before it fails (never a measurement).
pub const WAIT: Duration = Duration::from_secs(30);

/// A password every helper-made member has.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running shop with its provider, mail catcher and mail worker. Dropping it stops them.
pub struct TestShop {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base_url: String,
    /// The shop's state (gateway, store, config, limits).
    pub state: Arc<ShopState>,
    /// The script inventory, when started with it.
    #[allow(dead_code)]
    pub scripts: Option<ScriptInventory>,
    /// The shop's housekeeping (run by hand in tests).
    pub housekeeper: mamori_shop::housekeeping::Housekeeper,
    /// The SMTP server the mail worker delivers to.
    pub catcher: MailCatcher,
    /// The sandbox provider's base URL (`http://127.0.0.1:PORT/`).
    pub sandbox_url: String,
    /// The sandbox (kept running).
    pub sandbox: SandboxHandle,
    /// The provider's API key.
    pub api_key: SecretString,
    /// The webhook signing secret.
    pub webhook_secret: SecretString,
    /// Which database.
    pub backend: Backend,
    /// The database URL.
    pub db_url: String,
    /// Key file, ledger key, witness, SQLite file.
    pub dir: tempfile::TempDir,
    server: JoinHandle<()>,
    _mail_worker: MailWorker,
    requests: Arc<Mutex<Vec<u8>>>,
}

/// Records a request in `log` and passes it on unchanged.
async fn capture(
    log: Arc<Mutex<Vec<u8>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    {
        let mut l = log.lock().unwrap();
        l.extend_from_slice(format!("{} {}\n", parts.method, parts.uri).as_bytes());
        for (k, v) in &parts.headers {
            l.extend_from_slice(k.as_str().as_bytes());
            l.extend_from_slice(b": ");
            l.extend_from_slice(v.as_bytes());
            l.push(b'\n');
        }
        l.extend_from_slice(&bytes);
        l.push(b'\n');
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// Which of the guard's parts the shop runs with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guarded {
    /// None (CSP reports to the in-memory sink, scripts by nonce).
    No,
    /// CSP reports stored and alerted.
    Csp,
    /// And `script-src` from the script inventory.
    CspAndInventory,
}

impl Drop for TestShop {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestShop {
    /// Starts everything on `backend`.
    pub async fn start(backend: Backend) -> TestShop {
        // Catalogue cache off: tests change stock behind the shop's back.
        Self::start_with_cache_ttl(backend, std::time::Duration::ZERO).await
    }

    /// A shop whose catalogue reads are cached for `ttl`.
    pub async fn start_with_cache_ttl(backend: Backend, ttl: std::time::Duration) -> TestShop {
        Self::start_inner(backend, ttl, None, Guarded::No).await
    }

    /// A shop whose catalogue reads are cached for `ttl` and whose provider serves its card
    /// helper `card.js` from `script_dir` when given.
    #[allow(dead_code)]
    pub async fn start_with(
        backend: Backend,
        ttl: std::time::Duration,
        script_dir: Option<std::path::PathBuf>,
    ) -> TestShop {
        Self::start_inner(backend, ttl, script_dir, Guarded::No).await
    }

    /// A shop whose CSP reports go to the guard's sink (stored, alerted) as under `serve`.
    #[allow(dead_code)]
    pub async fn start_with_csp_guard(backend: Backend) -> TestShop {
        Self::start_inner(backend, std::time::Duration::ZERO, None, Guarded::Csp).await
    }

    /// A shop with the guard's CSP sink whose pages' `script-src` is built from the script
    /// inventory (seeded with the shop's own script), as under `serve`.
    #[allow(dead_code)]
    pub async fn start_with_script_inventory(backend: Backend) -> TestShop {
        Self::start_inner(
            backend,
            std::time::Duration::ZERO,
            None,
            Guarded::CspAndInventory,
        )
        .await
    }

    /// A shop whose card-testing and credential-stuffing thresholds are `fraud` (the guard's
    /// alarm raises what crosses them, as under `serve`).
    #[allow(dead_code)]
    pub async fn start_with_fraud(
        backend: Backend,
        fraud: mamori_store::fraud::FraudConfig,
    ) -> TestShop {
        Self::start_full(backend, std::time::Duration::ZERO, None, Guarded::No, fraud).await
    }

    async fn start_inner(
        backend: Backend,
        ttl: std::time::Duration,
        script_dir: Option<std::path::PathBuf>,
        guarded: Guarded,
    ) -> TestShop {
        Self::start_full(
            backend,
            ttl,
            script_dir,
            guarded,
            mamori_store::fraud::FraudConfig::default(),
        )
        .await
    }

    async fn start_full(
        backend: Backend,
        ttl: std::time::Duration,
        script_dir: Option<std::path::PathBuf>,
        guarded: Guarded,
        fraud: mamori_store::fraud::FraudConfig,
    ) -> TestShop {
        let Env {
            dir,
            url: db_url,
            gw: gateway,
            ..
        } = Env::with_demo_catalogue(backend).await;

        // The shop's address is needed before the provider starts (its webhook URL).
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let base_url = format!("http://{addr}");

        let api_key = SecretString::from("sk_test_shop_harness".to_owned());
        let webhook_secret = SecretString::from("whsec_test_shop_harness_0123456789".to_owned());
        let webhook_url = Url::parse(&format!("{base_url}{WEBHOOK_PATH}")).unwrap();
        let mut sandbox_config =
            SandboxConfig::new(api_key.clone()).with_webhook(webhook_url, webhook_secret.clone());
        sandbox_config.script_dir = script_dir;
        let (sandbox, psp) =
            mamori_testkit::pay::start_sandbox(sandbox_config, api_key.clone()).await;
        let sandbox_url = sandbox.base_url.to_string();

        let config = ShopConfig {
            shop_name: "守り商店".into(),
            public_url: Url::parse(&format!("{base_url}/")).unwrap(),
            registration_number: "T7000012050002".into(),
            legal_name: "守り商店株式会社".into(),
            support_email: "support@shop.mamori.example".into(),
            provider_origin: sandbox.base_url.clone(),
            bank_account: "守り銀行 本店 普通 1234567 モリシヨウテン".into(),
            shipping_fee: 880,
            free_shipping_from: 10_000,
            delivery_lead_days: 2,
            cache_ttl: ttl,
        };
        let assembly = mamori_shop::assemble(Parts {
            gateway: gateway.clone(),
            psp: Arc::new(psp),
            webhook_secret: webhook_secret.clone(),
            config,
            tls: false,
            clock: Arc::new(mamori_web::clock::SystemClock),
        });
        let alerts = mamori_guard::Alerts::new(
            gateway.clone(),
            mamori_guard::AlertConfig {
                shop_name: "守り商店".into(),
                backoffice_origin: None,
                webhook: None,
            },
        );
        let assembly = assembly.with_fraud(
            fraud,
            Some(Arc::new(mamori_guard::GuardFraudAlarm::new(alerts.clone()))),
        );
        let mut scripts = None;
        let assembly = match guarded {
            Guarded::No => assembly,
            Guarded::Csp => {
                assembly.with_csp_sink(Arc::new(mamori_guard::csp::GuardCspSink::new(alerts)))
            }
            Guarded::CspAndInventory => {
                let inventory = ScriptInventory::new(alerts.clone(), Arc::default());
                inventory
                    .seed(&[mamori_guard::inventory::shop_builtin()])
                    .await
                    .unwrap();
                let policy = inventory.policy();
                scripts = Some(inventory);
                assembly
                    .with_csp_sink(Arc::new(mamori_guard::csp::GuardCspSink::new(alerts)))
                    .with_script_policy(policy)
            }
        };
        let state = assembly.state.clone();
        let housekeeper = assembly.housekeeper();
        let requests: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let app = assembly
            .router()
            .layer(axum::middleware::from_fn(move |req, next| {
                capture(log.clone(), req, next)
            }))
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let (catcher, mail_worker) =
            mamori_testkit::mail::start_mail_worker(Arc::new(SqlOutbox::new(gateway))).await;

        TestShop {
            base_url,
            state,
            scripts,
            housekeeper,
            catcher,
            sandbox_url,
            sandbox,
            api_key,
            webhook_secret,
            backend,
            db_url,
            dir,
            server,
            _mail_worker: mail_worker,
            requests,
        }
    }

    /// Every request the shop received so far (method, URI, headers, body), concatenated: what
    /// mamori saw on the wire, for "this value never reached mamori" checks.
    pub fn captured_requests(&self) -> Vec<u8> {
        self.requests.lock().unwrap().clone()
    }

    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        &self.state.gateway
    }

    /// The store surface the shop holds (nothing personal on it).
    pub fn store(&self) -> &Arc<dyn mamori_store::Records> {
        &self.state.store
    }

    /// A fresh browser-like client (its own cookie jar).
    pub fn client(&self) -> ShopClient {
        ShopClient::new(&self.base_url)
    }

    /// An absolute URL on the shop.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Makes a confirmed member directly through the gateway (no mail); returns the customer id.
    pub async fn member(&self, email: &str, family: &str, given: &str) -> String {
        let acc = Accessor::system("test", "test.setup");
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(PersonName::parse(family, given).unwrap()),
            email: Personal::new(Email::parse(email).unwrap()),
            phone: None,
            birth_date: None,
            gender: None,
        };
        let id = self
            .gateway()
            .register_customer(
                &acc,
                &profile,
                Some(&SecretString::from(PASSWORD.to_owned())),
            )
            .await
            .unwrap();
        self.gateway().verify_email(&acc, &id).await.unwrap();
        id
    }

    /// A client signed in as a member made with [`TestShop::member`].
    pub async fn signed_in(&self, email: &str, family: &str, given: &str) -> (ShopClient, String) {
        let id = self.member(email, family, given).await;
        let client = self.client();
        client.login(email, PASSWORD).await;
        (client, id)
    }

    /// Every mail received so far, decoded.
    pub fn mails(&self) -> Vec<CaughtMail> {
        self.catcher.messages().into_iter().map(decode).collect()
    }

    /// The mails received so far for `to`.
    pub fn mails_to(&self, to: &str) -> Vec<CaughtMail> {
        self.mails().into_iter().filter(|m| m.is_to(to)).collect()
    }

    /// Waits for the `nth` (0-based) mail to `to` whose subject contains `subject_contains`.
    pub async fn wait_for_nth_mail(
        &self,
        to: &str,
        subject_contains: &str,
        nth: usize,
    ) -> CaughtMail {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found: Vec<CaughtMail> = self
                .mails_to(to)
                .into_iter()
                .filter(|m| m.subject.contains(subject_contains))
                .collect();
            if let Some(m) = found.into_iter().nth(nth) {
                return m;
            }
            if tokio::time::Instant::now() > deadline {
                let seen: Vec<String> = self.mails().iter().map(|m| m.subject.clone()).collect();
                panic!("no mail #{nth} with subject containing {subject_contains:?}; subjects seen: {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the first mail to `to` whose subject contains `subject_contains`.
    pub async fn wait_for_mail(&self, to: &str, subject_contains: &str) -> CaughtMail {
        self.wait_for_nth_mail(to, subject_contains, 0).await
    }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

pub use mamori_testkit::web::Resp;
use mamori_testkit::web::{Browser, Site};

/// A browser-like client of one shop: a [`Browser`] (its own cookie jar, `Origin` set to the
/// shop, redirects not followed) that signs in and out through the forms.
pub struct ShopClient(Browser);

/// The session cookie's name (no TLS in tests, so no `__Host-` prefix).
pub const SESSION_COOKIE: &str = "mamori_session";

impl std::ops::Deref for ShopClient {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.0
    }
}

impl ShopClient {
    /// A client of the shop at `base` with its own cookie jar.
    pub fn new(base: &str) -> ShopClient {
        ShopClient(Browser::new(Self::site(base)))
    }

    /// A client whose connections come from `local` (a loopback address other than 127.0.0.1:
    /// another client address as the shop sees it).
    pub fn from_address(base: &str, local: std::net::IpAddr) -> ShopClient {
        ShopClient(Browser::from_address(Self::site(base), local))
    }

    fn site(base: &str) -> Site<'_> {
        Site {
            base,
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            resolve: None,
            // Signed in, the header's logout form has a token; signed out, the login form has.
            csrf_pages: &["/", "/login"],
            session_cookie: SESSION_COOKIE,
        }
    }

    /// Logs in through the form; panics unless it succeeds.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.get("/login").await.expect(200);
        let res = self
            .post_form("/login", &[("email", email), ("password", password)])
            .await;
        res.expect_redirect("/mypage");
        res
    }

    /// Logs out.
    pub async fn logout(&self) -> Resp {
        self.get("/").await;
        let res = self.post_form("/logout", &[]).await;
        res.expect_redirect("/");
        self.forget_csrf();
        res
    }
}

// ---------------------------------------------------------------------------------------------
// Mail
// ---------------------------------------------------------------------------------------------

/// A caught mail, decoded.
#[derive(Clone)]
pub struct CaughtMail {
    /// As the catcher got it.
    pub message: ReceivedMessage,
    /// The decoded `Subject`.
    pub subject: String,
    /// The decoded plain-text body (LF line ends).
    pub body: String,
}

impl std::fmt::Debug for CaughtMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaughtMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl CaughtMail {
    /// True when `to` was a recipient (case-insensitive).
    pub fn is_to(&self, to: &str) -> bool {
        self.message
            .rcpt_to
            .iter()
            .any(|r| r.eq_ignore_ascii_case(to))
    }
}

/// The first link in `mail` on the shop whose path starts with `path_prefix`
/// (`/register/confirm`), as an absolute URL.
pub fn link_in(mail: &CaughtMail, path_prefix: &str) -> String {
    mail.body
        .split(|c: char| c.is_whitespace())
        .map(|w| w.trim_end_matches(['。', '、', ')', '）', '>', '.']))
        .find(|w| {
            w.starts_with("http")
                && Url::parse(w)
                    .map(|u| u.path().starts_with(path_prefix))
                    .unwrap_or(false)
        })
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no link to {path_prefix} in: {}", mail.body))
}

/// The path and query of an absolute URL (for [`ShopClient::get`] too, which takes either).
pub fn path_of(url: &str) -> String {
    let u = Url::parse(url).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

/// Decodes a received message: header folding, RFC 2047 words in the subject, and a single
/// text/plain body (or the text/plain part of a multipart) in base64, quoted-printable or 7/8 bit.
pub fn decode(message: ReceivedMessage) -> CaughtMail {
    let raw = message.data_str().replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let headers = unfold(head);
    let subject = header(&headers, "subject")
        .map(|s| decode_words(&s))
        .unwrap_or_default();
    let body = decode_body(&headers, body);
    CaughtMail {
        message,
        subject,
        body,
    }
}

fn unfold(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `=?utf-8?b?...?=` and `=?utf-8?q?...?=` words; whitespace between two words is dropped.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        match rest.find("=?") {
            Some(start) => {
                let before = &rest[..start];
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                let after = &rest[start + 2..];
                let parts: Vec<&str> = after.splitn(3, '?').collect();
                if parts.len() < 3 {
                    out.push_str(&rest[start..]);
                    break;
                }
                let (enc, tail) = (parts[1], parts[2]);
                let Some(end) = tail.find("?=") else {
                    out.push_str(&rest[start..]);
                    break;
                };
                let data = &tail[..end];
                let bytes = if enc.eq_ignore_ascii_case("b") {
                    base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .unwrap_or_default()
                } else {
                    quoted_printable(&data.replace('_', " "), false)
                };
                out.push_str(&String::from_utf8_lossy(&bytes));
                rest = &tail[end + 2..];
                last_was_word = true;
            }
            None => {
                out.push_str(rest);
                break;
            }
        }
    }
    out
}

fn quoted_printable(s: &str, soft_breaks: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if soft_breaks && bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let ctype = header(headers, "content-type").unwrap_or_default();
    if ctype.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = ctype
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .map(|b| b.trim_matches('"').to_owned())
            .unwrap_or_default();
        let delim = format!("--{boundary}");
        for part in body.split(delim.as_str()) {
            let part = part.trim_start_matches('\n');
            let (h, b) = part.split_once("\n\n").unwrap_or((part, ""));
            let hs = unfold(h);
            if header(&hs, "content-type")
                .unwrap_or_default()
                .to_ascii_lowercase()
                .starts_with("text/plain")
            {
                return decode_body(&hs, b);
            }
        }
        return String::new();
    }
    let cte = header(headers, "content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match cte.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap_or_default(),
        "quoted-printable" => quoted_printable(body, true),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

// ---------------------------------------------------------------------------------------------
// Both backends
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Orders made directly through the gateway
// ---------------------------------------------------------------------------------------------

/// An order for `customer_id` (cash on delivery) with a 名入れ item, a のし, a reduced-rate item
/// and one delivery; `key` is its idempotency key.
pub fn sample_order(customer_id: &str, key: &str) -> mamori_store::gateway::NewOrder {
    use mamori_domain::*;
    use mamori_store::gateway::{Buyer, NewOrder, NewShipment};
    let name =
        PersonName::parse_with_kana("鳩山", "花子", Some("ハトヤマ"), Some("ハナコ")).unwrap();
    let address = Address::parse(&AddressParts {
        postal_code: "1000001".into(),
        prefecture: "東京都".into(),
        city: "千代田区".into(),
        line1: "千代田1-1".into(),
        line2: Some("パークハイツ101".into()),
    })
    .unwrap();
    let phone = PhoneNumber::parse("09012345678").unwrap();
    let today = chrono::Utc::now().date_naive();
    NewOrder {
        customer_id: customer_id.into(),
        idempotency_key: key.into(),
        payment_method: PaymentMethod::CashOnDelivery,
        buyer: Buyer {
            name: Personal::new(name.clone()),
            email: Personal::new(Email::parse("hanako.hatoyama@example.jp").unwrap()),
            phone: Personal::new(phone.clone()),
            address: Personal::new(address.clone()),
        },
        items: vec![
            OrderItem {
                sku: "BANNER-01".into(),
                product_name: "名前旗 金襴 中".into(),
                unit_price_incl: Yen(16_500),
                rate: TaxRate::Standard,
                quantity: 1,
                personalisation: Some(
                    Personalisation::new(
                        "蒼太郎",
                        Some(BirthDate::parse("2025-05-05", today).unwrap()),
                    )
                    .unwrap(),
                ),
                noshi: Some(Noshi::new(NoshiPurpose::Oiwai, Some("鳩山")).unwrap()),
            },
            OrderItem {
                sku: "TEA-200".into(),
                product_name: "国産 緑茶 200g".into(),
                unit_price_incl: Yen(1_080),
                rate: TaxRate::Reduced,
                quantity: 3,
                personalisation: None,
                noshi: None,
            },
        ],
        shipments: vec![NewShipment {
            recipient: Recipient {
                name: Personal::new(name),
                address: Personal::new(address),
                phone: Personal::new(phone),
            },
            delivery_date: None,
            slot: DeliverySlot::Morning,
        }],
        shipping_fee: Yen(880),
        payment_fee: None,
    }
}

/// Places [`sample_order`] through the gateway; returns (order id, order number).
pub async fn place_sample_order(shop: &TestShop, customer_id: &str) -> (String, String) {
    let number = format!("T{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let placed = shop
        .gateway()
        .place_order(
            &Accessor::system("test", "test.setup"),
            &sample_order(customer_id, &uuid::Uuid::new_v4().to_string()),
            &number,
        )
        .await
        .unwrap();
    (placed.order_id, number)
}
