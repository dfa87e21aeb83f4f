//! CSP reports through the guard's sink: stored aggregated without query or full URL, a script
//! from a new origin on a payment page alerts (critical), on a personal-data page warns, anything
//! else only counts; the back office lists the aggregates to those who read alerts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestBackoffice;
use mamori_guard::{csp::GuardCspSink, kinds, AlertConfig, Alerts};
use mamori_staff::Role;
use mamori_store::{AlertFilter, Backend, CspRecorded};
use mamori_testkit::both_backends;
use mamori_web::security::{parse_csp_reports, CspReport};

const EMAIL: &str = "taro.yamada@example.jp";

fn report(document: &str, blocked: &str, directive: &str) -> CspReport {
    let body = serde_json::json!({ "csp-report": {
        "document-uri": document,
        "blocked-uri": blocked,
        "effective-directive": directive,
        "disposition": "enforce",
    }});
    parse_csp_reports(body.to_string().as_bytes(), chrono::Utc::now())
        .unwrap()
        .remove(0)
}

async fn reports_are_stored_alerted_and_listed(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let alerts = Alerts::new(
        bo.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let sink = GuardCspSink::new(alerts);
    let checkout = format!("https://shop.example/checkout/confirm?email={EMAIL}");
    let skimmer = format!("https://Evil.example:8443/skim.js?who={EMAIL}");

    // A new script origin on a payment page: stored and alerted.
    let r = sink
        .handle(&report(&checkout, &skimmer, "script-src-elem"))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::New, true));
    // The same again only counts.
    let r = sink
        .handle(&report(&checkout, &skimmer, "script-src-elem"))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::Counted, false));
    // An image on the checkout, or a script on a product page: stored, no alert.
    let r = sink
        .handle(&report(&checkout, "https://img.example/a.png", "img-src"))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::New, false));
    let r = sink
        .handle(&report(
            "https://shop.example/product/PT-1001",
            &skimmer,
            "script-src-elem",
        ))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::New, false));
    // A script on a personal-data page: a warning.
    let r = sink
        .handle(&report(
            "https://shop.example/mypage",
            "inline",
            "script-src-attr",
        ))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::New, true));

    let store = bo.gateway().records();
    let filter = AlertFilter {
        state: None,
        kind: Some(kinds::CSP_SCRIPT_BLOCKED.to_owned()),
    };
    let raised = store.alerts_page(&filter, 0, 10).await.unwrap();
    assert_eq!(raised.total, 2);
    let on = |subject: &str| {
        raised
            .items
            .iter()
            .find(|a| a.subject == subject)
            .unwrap()
            .clone()
    };
    let pay = on("page:/checkout");
    assert_eq!(pay.severity, "critical");
    let evidence: serde_json::Value = serde_json::from_str(&pay.evidence).unwrap();
    assert_eq!(evidence["page"], "/checkout/confirm");
    assert_eq!(evidence["blocked_origin"], "https://evil.example:8443");
    assert_eq!(evidence["directive"], "script-src-elem");
    assert_eq!(on("page:/mypage").severity, "warning");

    let rows = store.csp_reports_page(0, 10).await.unwrap();
    assert_eq!(rows.total, 4);
    let row = rows
        .items
        .iter()
        .find(|r| r.page == "/checkout/confirm" && r.directive == "script-src-elem")
        .unwrap();
    assert_eq!(row.report_count, 2);
    assert_eq!(row.sample_document, "https://shop.example/checkout/confirm");
    for r in &rows.items {
        for text in [&r.page, &r.blocked_origin, &r.sample_document] {
            assert!(!text.contains(EMAIL) && !text.contains('?'), "{text}");
        }
    }
    for a in &raised.items {
        assert!(!a.evidence.contains(EMAIL) && !a.evidence.contains("skim.js"));
    }

    // The back office lists them to those who read alerts.
    let (_, manager) = bo.member(Role::Manager).await;
    let page = manager.get("/csp-reports").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("CSP違反レポート"));
    assert!(page.text.contains("/checkout/confirm"));
    assert!(page.text.contains("https://evil.example:8443"));
    assert!(!page.text.contains(EMAIL));
    assert!(!page.text.contains("skim.js"));
    let sel = scraper::Selector::parse("tr.csp-row").unwrap();
    assert_eq!(page.doc().select(&sel).count(), 4);
    let list = manager.get("/alerts").await;
    assert!(list.text.contains("スクリプトの読み込み拒否（CSP）"));
    let (_, auditor) = bo.member(Role::Auditor).await;
    assert_eq!(auditor.get("/csp-reports").await.status, 200);
    let (_, support) = bo.member(Role::Support).await;
    assert_eq!(support.get("/csp-reports").await.status, 403);
}

/// The back office's own reports: kept under `backoffice:` (its `/orders` is not the shop's), and
/// a blocked script on any of its pages is critical.
async fn the_back_offices_reports_are_kept_apart_and_critical(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let alerts = Alerts::new(
        bo.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let sink = GuardCspSink::for_backoffice(alerts);
    let page = format!("https://admin.shop.example/orders/MR-1?q={EMAIL}");
    let r = sink
        .handle(&report(
            &page,
            "https://evil.example/x.js",
            "script-src-elem",
        ))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::New, true));
    let store = bo.gateway().records();
    let rows = store.csp_reports_page(0, 10).await.unwrap();
    assert_eq!(rows.items.len(), 1);
    assert_eq!(rows.items[0].page, "backoffice:/orders/MR-1");
    assert!(!rows.items[0].sample_document.contains(EMAIL));
    let raised = store
        .alerts_page(
            &AlertFilter {
                state: None,
                kind: Some(kinds::CSP_SCRIPT_BLOCKED.to_owned()),
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(raised.items.len(), 1);
    assert_eq!(raised.items[0].subject, "page:backoffice");
    assert_eq!(raised.items[0].severity, "critical");
    // Even a back-office page that is not "personal" in the shop's sense.
    let r = sink
        .handle(&report(
            "https://admin.shop.example/dashboard",
            "inline",
            "script-src-elem",
        ))
        .await
        .unwrap();
    assert_eq!(r, (CspRecorded::New, true));
}

both_backends!(
    reports_are_stored_alerted_and_listed,
    the_back_offices_reports_are_kept_apart_and_critical
);
