//! No back-office path answers on the storefront's listener: the shop, assembled and served as
//! `mamori serve` does, answers 404 to every back-office route that is not also a shop route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use mamori_backoffice::{RouteMethod, ROUTES};
use mamori_pay::SandboxConfig;
use secrecy::SecretString;

/// Paths both sites have on purpose (the shop's own login, logout, language switch, home, icon).
const SHARED: &[&str] = &["/", "/login", "/logout", "/lang/{code}", "/favicon.ico"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_office_paths_are_not_on_the_storefront() {
    let env = mamori_testkit::Env::start(mamori_testkit::Backend::Sqlite).await;
    let gateway = env.gw.clone();
    let api_key = SecretString::from("sk_test_storefront".to_owned());
    let (sandbox, _psp) =
        mamori_testkit::pay::start_sandbox(SandboxConfig::new(api_key.clone()), api_key).await;
    let url = sandbox.base_url.clone();
    let shop =
        common::serve_storefront(gateway, &url, "sk_test_storefront", None, Some(sandbox)).await;
    let (base, server) = (shop.base(), shop.server);
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
