//! The back office's test harness: a whole back office on loopback, on SQLite or PostgreSQL.
//!
//! [`TestBackoffice::start`] builds, per test:
//! - a [`mamori_testkit::Env`] with the demo catalogue: a fresh, migrated database (SQLite in a
//!   temp dir, PostgreSQL cloned from the migrated template), a key ring with cheap Argon2
//!   parameters, a running ledger and the gateway;
//! - the sandbox payment provider and an `HttpConnector` to it;
//! - the back office (`mamori_backoffice::assemble`) on `127.0.0.1:0` with connect info, its
//!   public URL `http://localhost:PORT` (WebAuthn needs a host name), and a [`ManualClock`] that
//!   tests move (TOTP steps, step-up windows, idle timeouts) instead of sleeping;
//! - the mail worker over the shop's outbox adapter, delivering over SMTP to a [`MailCatcher`]
//!   (`mamori_testkit::mail`).
//!
//! [`BoClient`] is a browser-like client: a cookie jar, no automatic redirects, `Origin` set to
//! the back office, and `_csrf` taken from the last page that had one.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use mamori_backoffice::{BackofficeConfig, BackofficeState, Parts};
use mamori_mail::catcher::MailCatcher;
use mamori_pay::{url::Url, SandboxConfig, SandboxHandle};
use mamori_staff::Role;
pub use mamori_store::Backend;
use mamori_store::{
    access::{AccessEvent, Action},
    Gateway, SqlOutbox,
};
use mamori_testkit::{mail::MailWorker, Env};
use mamori_web::clock::ManualClock;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;

/// The longest any wait lasts before it fails (never a measurement).
pub const WAIT: Duration = Duration::from_secs(30);

/// The password every helper-made member of staff has.
pub const PASSWORD: &str = "long enough staff password 2026";

/// A running back office with its provider, mail catcher and mail worker.
pub struct TestBackoffice {
    /// `http://localhost:PORT`.
    pub base_url: String,
    /// The listener's address.
    pub addr: SocketAddr,
    /// The shared state.
    pub state: Arc<BackofficeState>,
    /// The clock the back office reads.
    pub clock: ManualClock,
    /// The SMTP server the worker delivers to.
    pub catcher: MailCatcher,
    /// The sandbox provider.
    pub sandbox: SandboxHandle,
    /// Which database.
    pub backend: Backend,
    /// Key file, ledger key, witness, SQLite file.
    pub dir: tempfile::TempDir,
    /// The database's URL (`sqlite://…` in `dir`, or the PostgreSQL database's).
    pub db_url: String,
    /// What purges expired staff sessions (as `mamori serve`'s housekeeping runs it).
    pub session_purger: mamori_backoffice::sessions::StaffSessionPurger,
    server: JoinHandle<()>,
    _mail_worker: MailWorker,
}

impl Drop for TestBackoffice {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A member of staff made by [`TestBackoffice::staff`].
#[derive(Clone, Debug)]
pub struct TestStaff {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// The TOTP secret (base32).
    pub totp_secret: String,
    /// The recovery codes shown at activation.
    pub codes: Vec<String>,
}

/// The TOTP code of `secret` (base32) at `unix` seconds, as an authenticator app computes it.
pub fn totp_code(secret: &str, unix: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("mamori".into()),
        "test".into(),
    )
    .unwrap();
    totp.generate(u64::try_from(unix).unwrap())
}

impl TestBackoffice {
    /// A storefront over this back office's gateway (the same database, as `mamori serve` runs
    /// both) and its sandbox.
    pub async fn storefront(
        &self,
        maintenance: Option<mamori_web::maintenance::Maintenance>,
    ) -> Storefront {
        self.storefront_with(maintenance, |shop| shop).await
    }

    /// [`TestBackoffice::storefront`] with `tweak` applied to the shop's assembly (e.g. other
    /// rate limits).
    pub async fn storefront_with(
        &self,
        maintenance: Option<mamori_web::maintenance::Maintenance>,
        tweak: impl FnOnce(mamori_shop::Assembly) -> mamori_shop::Assembly,
    ) -> Storefront {
        serve_storefront_with(
            self.gateway().clone(),
            &self.sandbox.base_url,
            "sk_test_backoffice_harness",
            maintenance,
            None,
            tweak,
        )
        .await
    }
}

impl TestBackoffice {
    /// Starts everything on `backend` with test-friendly settings.
    pub async fn start(backend: Backend) -> TestBackoffice {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts everything on `backend`, letting `tweak` change the configuration first.
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut BackofficeConfig),
    ) -> TestBackoffice {
        let Env {
            dir,
            gw: gateway,
            key_file,
            url: db_url,
            ..
        } = Env::with_demo_catalogue(backend).await;
        // As `mamori serve` does: a key rotation writes and reloads this file.
        let gateway = gateway.with_key_file(key_file);

        let api_key = SecretString::from("sk_test_backoffice_harness".to_owned());
        let (sandbox, psp) =
            mamori_testkit::pay::start_sandbox(SandboxConfig::new(api_key.clone()), api_key).await;

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let base_url = format!("http://localhost:{}", addr.port());
        let mut config = BackofficeConfig {
            listen: addr,
            public_url: Url::parse(&format!("{base_url}/")).unwrap(),
            logins_per_minute: 1000,
            ..BackofficeConfig::default()
        };
        tweak(&mut config);
        let clock = ManualClock::new(chrono::Utc::now());
        let assembly = mamori_backoffice::assemble(Parts {
            gateway: gateway.clone(),
            psp: Arc::new(psp),
            config,
            clock: Arc::new(clock.clone()),
        })
        .unwrap();
        let state = assembly.state.clone();
        let session_purger = assembly.session_purger();
        let app = assembly
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let (catcher, mail_worker) =
            mamori_testkit::mail::start_mail_worker(Arc::new(SqlOutbox::new(gateway))).await;

        TestBackoffice {
            base_url,
            addr,
            state,
            clock,
            catcher,
            sandbox,
            backend,
            dir,
            db_url,
            session_purger,
            server,
            _mail_worker: mail_worker,
        }
    }

    /// The store surface the back office holds (nothing personal on it).
    pub fn store(&self) -> &Arc<dyn mamori_store::Records> {
        &self.state.store
    }

    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        &self.state.gateway
    }

    /// Now by the back office's clock (Unix seconds).
    pub fn now(&self) -> i64 {
        self.state.now()
    }

    /// Moves the clock by `secs`.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// A fresh client.
    pub fn client(&self) -> BoClient {
        BoClient::new(&self.base_url, self.addr)
    }

    /// An active member of staff with a password, TOTP and recovery codes, made through the
    /// staff service (the enrolment pages have their own test). The clock is moved past the
    /// TOTP step used to confirm the app.
    pub async fn staff(&self, role: Role, email: &str) -> TestStaff {
        let auth = &self.state.auth;
        let name = format!(
            "{} {}",
            role.label_ja(),
            email.split('@').next().unwrap_or("")
        );
        let (row, token) = auth.invite(role, email, &name, None).await.unwrap();
        let row2 = auth
            .begin_enrolment(token.secret.expose_secret())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.id, row2.id);
        auth.set_enrolment_password(&row.id, &SecretString::from(PASSWORD.to_owned()))
            .await
            .unwrap();
        let t = auth.totp_begin(&row.id).await.unwrap();
        let secret = t.secret_base32.expose_secret().to_owned();
        let code = totp_code(&secret, self.now());
        auth.totp_confirm(&row.id, &t.pending, &SecretString::from(code))
            .await
            .unwrap();
        let codes = auth
            .activate(&row.id)
            .await
            .unwrap()
            .codes
            .iter()
            .map(|c| c.expose_secret().to_owned())
            .collect();
        self.advance(30);
        TestStaff {
            id: row.id,
            email: email.to_owned(),
            role,
            totp_secret: secret,
            codes,
        }
    }

    /// A TOTP code for `staff` that has not been used: the clock moves one step first.
    pub fn fresh_code(&self, staff: &TestStaff) -> String {
        self.advance(30);
        totp_code(&staff.totp_secret, self.now())
    }

    /// A client signed in as `staff` (password, then TOTP).
    pub async fn signed_in(&self, staff: &TestStaff) -> BoClient {
        let client = self.client();
        client.login(self, staff).await;
        client
    }

    /// A member of staff of `role` and a client signed in as them.
    pub async fn member(&self, role: Role) -> (TestStaff, BoClient) {
        let email = format!(
            "{}-{}@staff.example.jp",
            role.as_str(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let staff = self.staff(role, &email).await;
        let client = self.signed_in(&staff).await;
        (staff, client)
    }

    /// Every ledger event, in order.
    pub async fn ledger_events(&self) -> Vec<AccessEvent> {
        let size = self.store().ledger_size().await.unwrap();
        self.store()
            .ledger_entries(0, size)
            .await
            .unwrap()
            .iter()
            .map(|e| AccessEvent::from_bytes(&e.event).unwrap())
            .collect()
    }

    /// The events after the first `from`.
    pub async fn ledger_events_since(&self, from: usize) -> Vec<AccessEvent> {
        self.ledger_events().await.into_iter().skip(from).collect()
    }

    /// Waits until the ledger holds at least `n` events (the writer commits in the background).
    pub async fn ledger_len(&self) -> usize {
        self.ledger_events().await.len()
    }

    /// A member customer with a name, email and phone, plus an address, made through the gateway.
    pub async fn customer(&self, email: &str) -> String {
        use mamori_domain::*;
        let acc = mamori_store::Accessor::system("test", "test.setup");
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(PersonName::parse("山田", "花子").unwrap()),
            email: Personal::new(Email::parse(email).unwrap()),
            phone: Some(Personal::new(PhoneNumber::parse("09012345678").unwrap())),
            birth_date: None,
            gender: None,
        };
        let id = self
            .gateway()
            .register_customer(
                &acc,
                &profile,
                Some(&SecretString::from("customer password 1".to_owned())),
            )
            .await
            .unwrap();
        id
    }

    /// Places a cash-on-delivery order for `customer_id` through the gateway (a 名入れ line, a
    /// reduced-rate line and a のし line, one delivery to 鳩山 花子); returns (order id, order
    /// number).
    pub async fn order(&self, customer_id: &str) -> (String, String) {
        self.order_paid_by(customer_id, mamori_domain::PaymentMethod::CashOnDelivery)
            .await
    }

    /// A payment of `total` yen for order `number` created at the sandbox provider and, with
    /// `card`, that card number typed on its page (posted as a customer's browser would, with a
    /// valid expiry, code and name); the payment's id.
    pub async fn sandbox_payment(&self, number: &str, total: i64, card: Option<&str>) -> String {
        let back = mamori_pay::url::Url::parse(&format!("{}/", self.base_url)).unwrap();
        let created = self
            .state
            .psp
            .create_payment(&mamori_pay::CreatePayment {
                order_ref: number.to_owned(),
                amount_jpy: total,
                description: "守り商店".into(),
                return_url: back.clone(),
                cancel_url: back,
                idempotency_key: format!("pay-{number}"),
            })
            .await
            .unwrap();
        if let Some(card) = card {
            mamori_testkit::web::pay_on_provider(created.redirect_url.as_str(), card).await;
        }
        created.payment_id
    }

    /// The shop's record of a payment attempt of `order` at the sandbox, in `status`.
    pub async fn record_payment(
        &self,
        order: &str,
        payment_id: &str,
        total: i64,
        status: mamori_domain::PaymentAttemptState,
    ) {
        self.store()
            .payment_upsert(&mamori_store::model::PaymentRow {
                order_id: order.to_owned(),
                provider: "sandbox".into(),
                payment_id: payment_id.to_owned(),
                status,
                amount: total,
                brand: None,
                last4: None,
                created_at: 1,
                updated_at: 1,
            })
            .await
            .unwrap();
    }

    /// Moves `order` from awaiting payment to paid, as the provider's confirmation would.
    pub async fn mark_paid(&self, order: &str) {
        assert!(self
            .store()
            .transition_order(
                order,
                &[mamori_domain::OrderState::PendingPayment],
                mamori_domain::OrderState::Paid,
                self.now(),
                &[]
            )
            .await
            .unwrap());
    }

    /// [`TestBackoffice::order`] with another payment method.
    pub async fn order_paid_by(
        &self,
        customer_id: &str,
        method: mamori_domain::PaymentMethod,
    ) -> (String, String) {
        use mamori_domain::*;
        use mamori_store::gateway::{Buyer, NewOrder, NewShipment};
        let name = PersonName::parse("鳩山", "花子").unwrap();
        let address = Address::parse(&AddressParts {
            postal_code: "1000001".into(),
            prefecture: "東京都".into(),
            city: "千代田区".into(),
            line1: "千代田1-1".into(),
            line2: Some("パークハイツ101".into()),
        })
        .unwrap();
        let phone = PhoneNumber::parse("09012345678").unwrap();
        let order = NewOrder {
            customer_id: customer_id.into(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            payment_method: method,
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
                    personalisation: Some(Personalisation::new("蒼太郎", None).unwrap()),
                    noshi: None,
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
                OrderItem {
                    sku: "TOWEL-SET".into(),
                    product_name: "今治タオル ギフトセット".into(),
                    unit_price_incl: Yen(3_300),
                    rate: TaxRate::Standard,
                    quantity: 1,
                    personalisation: None,
                    noshi: Some(Noshi::new(NoshiPurpose::Uchiiwai, Some("鳩山")).unwrap()),
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
        };
        let number = format!("T{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let placed = self
            .gateway()
            .place_order(
                &mamori_store::Accessor::system("test", "test.setup"),
                &order,
                &number,
            )
            .await
            .unwrap();
        (placed.order_id, number)
    }

    /// Waits for a mail to `to` whose subject contains `subject`; returns its subject.
    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            for m in self.catcher.messages() {
                if m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to)) {
                    let raw = m.data_str();
                    if raw.contains(subject) || decoded_subject(&raw).contains(subject) {
                        return decoded_subject(&raw);
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("no mail to {to} about {subject:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The text of the mail to `to` whose subject contains `subject` (waits for it).
    pub async fn mail_text(&self, to: &str, subject: &str) -> String {
        self.wait_for_mail(to, subject).await;
        for m in self.catcher.messages() {
            if m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to))
                && decoded_subject(&m.data_str()).contains(subject)
            {
                let raw = m.data_str();
                let parsed = mail_parser::MessageParser::default()
                    .parse(raw.as_bytes())
                    .unwrap();
                return parsed.body_text(0).unwrap().replace("\r\n", "\n");
            }
        }
        panic!("no mail to {to} about {subject:?}");
    }

    /// How many mails `to` received so far.
    pub fn mails_to(&self, to: &str) -> usize {
        self.catcher
            .messages()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to)))
            .count()
    }
}

/// The subject with RFC 2047 base64 words decoded (enough for the mails this crate sends).
pub fn decoded_subject(raw: &str) -> String {
    use base64::Engine as _;
    let unfolded = raw.replace("\r\n ", " ").replace("\r\n\t", " ");
    let Some(line) = unfolded
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
    else {
        return String::new();
    };
    let mut out = String::new();
    for word in line["subject:".len()..].split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            let data = &word[10..word.len() - 2];
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap_or_default();
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// Events whose action is `action`.
pub fn of_action(events: &[AccessEvent], action: Action) -> Vec<AccessEvent> {
    events
        .iter()
        .filter(|e| e.action == action)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

use mamori_testkit::web::{Browser, Site};

/// A browser-like client of one back office: a [`Browser`] (its own cookie jar, `Origin` set
/// to the back office, redirects not followed, `localhost` resolving to the listener) that signs
/// in with a password and TOTP.
pub struct BoClient(Browser);

impl std::ops::Deref for BoClient {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.0
    }
}

impl BoClient {
    /// A client of the back office at `base` (`http://localhost:PORT`) listening on `addr`.
    pub fn new(base: &str, addr: SocketAddr) -> BoClient {
        BoClient(Browser::new(Site {
            base,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            resolve: Some(("localhost", addr)),
            csrf_pages: &["/login"],
            session_cookie: mamori_backoffice::SESSION_COOKIE,
        }))
    }

    /// Signs in as `staff` with the password and a fresh TOTP code; panics unless it works.
    pub async fn login(&self, bo: &TestBackoffice, staff: &TestStaff) {
        self.get("/login").await.expect(200);
        self.post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
            .await
            .expect_redirect("/login/factor");
        self.get("/login/factor").await.expect(200);
        let code = bo.fresh_code(staff);
        self.post_form("/login/totp", &[("code", &code)])
            .await
            .expect_redirect("/");
        // The session id changed: the next page carries the token.
        self.forget_csrf();
        self.get("/account").await.expect(200);
    }
}

/// A storefront served on loopback as `mamori serve` serves it: the shop's assembly over a
/// gateway, paying at a sandbox provider, optionally behind the incident desk's maintenance
/// switch. See [`serve_storefront`] and [`TestBackoffice::storefront`].
pub struct Storefront {
    /// Its base URL (`http://127.0.0.1:PORT/`).
    pub url: Url,
    /// Its public-notice banner as the shop keeps it in memory (refresh it after a publish, as
    /// `mamori serve`'s poll does).
    pub notices: mamori_shop::oshirase::NoticeBoard,
    /// The server task.
    pub server: tokio::task::JoinHandle<()>,
}

impl Storefront {
    /// Its base URL without the trailing slash (what [`mamori_testkit::web::Site`] takes).
    pub fn base(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_owned()
    }
}

/// A storefront over `gateway` paying at the sandbox at `sandbox_url` with `api_key`; `keep`
/// (a sandbox started for it) lives as long as the server.
pub async fn serve_storefront(
    gateway: Gateway,
    sandbox_url: &Url,
    api_key: &str,
    maintenance: Option<mamori_web::maintenance::Maintenance>,
    keep: Option<SandboxHandle>,
) -> Storefront {
    serve_storefront_with(gateway, sandbox_url, api_key, maintenance, keep, |shop| {
        shop
    })
    .await
}

/// [`serve_storefront`] with `tweak` applied to the shop's assembly before it listens.
pub async fn serve_storefront_with(
    gateway: Gateway,
    sandbox_url: &Url,
    api_key: &str,
    maintenance: Option<mamori_web::maintenance::Maintenance>,
    keep: Option<SandboxHandle>,
    tweak: impl FnOnce(mamori_shop::Assembly) -> mamori_shop::Assembly,
) -> Storefront {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let psp =
        mamori_pay::HttpConnector::new(sandbox_url.clone(), SecretString::from(api_key.to_owned()))
            .unwrap();
    let mut shop = mamori_shop::assemble(mamori_shop::Parts {
        gateway,
        psp: Arc::new(psp),
        webhook_secret: SecretString::from("whsec_storefront_test_0123456789".to_owned()),
        config: mamori_shop::ShopConfig {
            shop_name: "守り商店".into(),
            public_url: url.clone(),
            registration_number: "T7000012050002".into(),
            legal_name: "守り商店株式会社".into(),
            support_email: "support@shop.mamori.example".into(),
            provider_origin: sandbox_url.clone(),
            bank_account: "守り銀行 本店 普通 1234567".into(),
            shipping_fee: 880,
            free_shipping_from: 10_000,
            delivery_lead_days: 2,
            cache_ttl: std::time::Duration::from_secs(1),
        },
        tls: false,
        clock: Arc::new(mamori_web::clock::SystemClock),
    });
    if let Some(m) = maintenance {
        shop = shop.with_maintenance(m);
    }
    let shop = tweak(shop);
    let notices = shop.notices();
    let app = shop
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        let _keep = keep;
        let _ = axum::serve(listener, app).await;
    });
    Storefront {
        url,
        notices,
        server,
    }
}
