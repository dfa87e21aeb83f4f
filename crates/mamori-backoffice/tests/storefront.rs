//! No back-office path answers on the storefront's listener: the shop, assembled and served as
//! `mamori serve` does, answers 404 to every back-office route that is not also a shop route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, sync::Arc};

use mamori_backoffice::{RouteMethod, ROUTES};
use mamori_pay::{url::Url, SandboxConfig};
use mamori_shop::ShopConfig;
use secrecy::SecretString;

/// Paths both sites have on purpose (the shop's own login, logout, language switch, home, icon).
const SHARED: &[&str] = &["/", "/login", "/logout", "/lang/{code}", "/favicon.ico"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_office_paths_are_not_on_the_storefront() {
    let env = mamori_testkit::Env::start(mamori_testkit::Backend::Sqlite).await;
    let gateway = env.gw.clone();
    let api_key = SecretString::from("sk_test_storefront".to_owned());
    let (sandbox, psp) =
        mamori_testkit::pay::start_sandbox(SandboxConfig::new(api_key.clone()), api_key).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let shop = mamori_shop::assemble(mamori_shop::Parts {
        gateway,
        psp: Arc::new(psp),
        webhook_secret: SecretString::from("whsec_storefront_test_0123456789".to_owned()),
        config: ShopConfig {
            shop_name: "守り商店".into(),
            public_url: Url::parse(&format!("{base}/")).unwrap(),
            registration_number: "T7000012050002".into(),
            legal_name: "守り商店株式会社".into(),
            support_email: "support@shop.mamori.example".into(),
            provider_origin: sandbox.base_url.clone(),
            bank_account: "守り銀行 本店 普通 1234567".into(),
            shipping_fee: 880,
            free_shipping_from: 10_000,
            delivery_lead_days: 2,
            cache_ttl: std::time::Duration::from_secs(1),
        },
        tls: false,
        clock: Arc::new(mamori_web::clock::SystemClock),
    });
    let app = shop
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut checked = 0;
    for spec in ROUTES.iter().filter(|s| !SHARED.contains(&s.path)) {
        let path = spec
            .path
            .replace("{id}", "0190a0a0-0000-7000-8000-000000000000")
            .replace("{image}", "0190a0a0-0000-7000-8000-000000000001")
            .replace("{file}", "backoffice-0000000000000000.js");
        // Only GETs: a POST without the shop's CSRF token is refused before routing, which would
        // prove nothing about the route table.
        if spec.method != RouteMethod::Get {
            continue;
        }
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(
            res.status().as_u16(),
            404,
            "{path} answered on the storefront"
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
    server.abort();
}
