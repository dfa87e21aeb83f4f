//! In headless Chromium: a script injected into the checkout page is refused by the CSP, the
//! browser reports it, the report is stored aggregated and an alert is raised for the checkout
//! page within 60 seconds. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use std::time::{Duration, Instant};

use common::{Backend, TestShop};
use mamori_e2e::{Browser, DEFAULT_TIMEOUT};
use mamori_guard::kinds;
use mamori_store::AlertFilter;
use mamori_testkit::both_backends;

/// A server on another origin serving a script that would mark the page if it ran; counts the
/// requests it gets.
async fn evil_origin() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/evil.js",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (
                    [(axum::http::header::CONTENT_TYPE, "text/javascript")],
                    "window.__mamoriSkimmer = 'ran';",
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (origin, hits)
}

async fn an_injected_script_on_checkout_is_refused_reported_and_alerted(backend: Backend) {
    let shop = TestShop::start_with_csp_guard(backend).await;
    let (evil, hits) = evil_origin().await;
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();

    page.goto(&shop.url("/product/PT-1001")).await.unwrap();
    page.submit_and_wait("#add-to-cart button").await.unwrap();
    page.goto(&shop.url("/checkout")).await.unwrap();
    page.wait_for("#buyer_family", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert!(page.console_errors().await.unwrap().is_empty());

    // What an HTML injection does: markup with a script tag from another origin, put in by the
    // page's own parser (a parser-inserted script, without the page's nonce).
    let injected = format!(
        "document.write('<p id=\"injected\">x</p><script src=\"{evil}/evil.js\"></' + 'script>'); \
         document.close(); true"
    );
    let start = Instant::now();
    assert!(page.eval::<bool>(&injected).await.unwrap());
    page.wait_for("#injected", DEFAULT_TIMEOUT).await.unwrap();

    // Refused: never fetched, never run, and the browser says why.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ran: String = page.eval("typeof window.__mamoriSkimmer").await.unwrap();
    assert_eq!(ran, "undefined", "the injected script ran");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the injected script was fetched"
    );
    let messages = page.console_messages().await.unwrap();
    assert!(
        messages.iter().any(|m| m.is_csp_violation()),
        "no CSP violation in the console: {:?}",
        messages.iter().map(|m| m.text.clone()).collect::<Vec<_>>()
    );

    // Reported, stored and alerted within 60 s.
    let store = shop.store().clone();
    let filter = AlertFilter {
        state: None,
        kind: Some(kinds::CSP_SCRIPT_BLOCKED.to_owned()),
    };
    let alert = loop {
        let alerts = store.alerts_page(&filter, 0, 10).await.unwrap();
        if let Some(a) = alerts.items.into_iter().next() {
            break a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no alert within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("alert after {:?}", start.elapsed());
    assert_eq!(alert.subject, "page:/checkout");
    assert_eq!(alert.severity, "critical");
    assert_eq!(alert.state, "open");
    let evidence: serde_json::Value = serde_json::from_str(&alert.evidence).unwrap();
    assert_eq!(evidence["page"], "/checkout");
    assert_eq!(evidence["blocked_origin"], evil.as_str());
    assert!(evidence["directive"]
        .as_str()
        .unwrap()
        .starts_with("script-src"));

    let reports = store.csp_reports_page(0, 10).await.unwrap();
    let row = reports
        .items
        .iter()
        .find(|r| r.blocked_origin == evil)
        .expect("the report is stored");
    assert_eq!(row.page, "/checkout");
    assert!(row.directive.starts_with("script-src"));
    assert!(row.report_count >= 1);
    assert_eq!(row.sample_document, shop.url("/checkout"));

    // The staff are told: one alert mail queued per owner or manager is the alert model's job;
    // here there is exactly one alert however often the browser reports.
    let again = store.alerts_page(&filter, 0, 10).await.unwrap();
    assert_eq!(again.total, 1);

    page.close().await.unwrap();
    browser.close().await.unwrap();
}

both_backends!(an_injected_script_on_checkout_is_refused_reported_and_alerted);
