//! In headless Chromium: the storefront's `script-src` is the script inventory's digests and
//! nothing else (PCI DSS 6.4.3). The shop's own script runs while its bytes match the listed
//! digest; once the listed digest and the served bytes differ, the browser refuses the script and
//! reports it, and the report is stored; a retired script is allowed nowhere. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestShop};
use mamori_e2e::{Browser, Page, DEFAULT_TIMEOUT};
use mamori_guard::inventory::{shop_builtin, ScriptEntry};
use mamori_testkit::both_backends;
use mamori_web::security::ScriptHash;

/// Whether the shop's double-submit guard is live on the page: a submit event on the first form
/// marks it when the script runs (the event is synthetic, so nothing is sent).
async fn guard_runs(page: &Page) -> bool {
    let marked: String = page
        .eval(
            "(function () { var f = document.querySelector('form'); \
             f.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })); \
             return String(f.dataset.sent); })()",
        )
        .await
        .unwrap();
    marked == "1"
}

async fn scripts_run_only_as_the_inventory_lists_them(backend: Backend) {
    let shop = TestShop::start_with_script_inventory(backend).await;
    let inventory = shop.scripts.clone().unwrap();
    let builtin = shop_builtin();

    // The header: the listed digest only; no nonce, no host, no 'strict-dynamic'.
    let res = shop.client().get("/product/PT-1001").await;
    let csp = res.header("content-security-policy").unwrap();
    let script_src = csp
        .split("; ")
        .find(|d| d.starts_with("script-src "))
        .unwrap()
        .to_owned();
    assert_eq!(
        script_src,
        format!("script-src '{}'", builtin.sha384.source())
    );
    assert!(res
        .text
        .contains(&format!("integrity=\"{}\"", builtin.sha384.source())));

    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.goto(&shop.url("/product/PT-1001")).await.unwrap();
    page.wait_for("#add-to-cart button", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert!(guard_runs(&page).await, "the listed script did not run");
    assert!(
        !page
            .console_messages()
            .await
            .unwrap()
            .iter()
            .any(|m| m.is_csp_violation()),
        "a CSP violation with the script listed"
    );

    // The listed digest no longer matches the served bytes (as when an owner lists a new version
    // the server does not serve, or the server serves bytes nobody listed).
    let other = ScriptEntry {
        sha384: ScriptHash::of(b"document.title = 'not what is served';"),
        ..builtin.clone()
    };
    inventory
        .change("owner1", &other, false, Some(1), "新しい版を登録", "req-1")
        .await
        .unwrap();
    let start = Instant::now();
    let page = browser.new_page().await.unwrap();
    page.goto(&shop.url("/product/PT-1001")).await.unwrap();
    page.wait_for("#add-to-cart button", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert!(!guard_runs(&page).await, "a script not listed ran");
    let messages = page.console_messages().await.unwrap();
    assert!(
        messages.iter().any(|m| m.is_csp_violation()),
        "no CSP violation in the console: {:?}",
        messages.iter().map(|m| m.text.clone()).collect::<Vec<_>>()
    );
    // The browser's report reaches the store.
    let row = loop {
        let reports = shop.store().csp_reports_page(0, 10).await.unwrap();
        if let Some(r) = reports
            .items
            .into_iter()
            .find(|r| r.page == "/product/PT-1001" && r.directive.starts_with("script-src"))
        {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no CSP report within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(row.blocked_origin, shop.base_url);

    // Listed again with the served digest: it runs again. Retired: allowed nowhere.
    inventory
        .change("owner1", &builtin, false, Some(2), "元の版に戻す", "req-2")
        .await
        .unwrap();
    let page = browser.new_page().await.unwrap();
    page.goto(&shop.url("/product/PT-1001")).await.unwrap();
    page.wait_for("#add-to-cart button", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert!(guard_runs(&page).await, "the listed script did not run");
    inventory
        .change(
            "owner1",
            &builtin,
            true,
            Some(3),
            "二重送信防止を廃止",
            "req-3",
        )
        .await
        .unwrap();
    let res = shop.client().get("/cart").await;
    let csp = res.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'none';"), "{csp}");
    browser.close().await.unwrap();
}

both_backends!(scripts_run_only_as_the_inventory_lists_them);
