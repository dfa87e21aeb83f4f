//! Aggregated CSP reports on both databases: one row per page, directive and blocked origin,
//! counted; a new aggregate is reported as new once; the cap holds against a flood.

use mamori_store::{Backend, CspRecorded, NewCspReport};

use crate::both_backends;
use crate::common::*;

fn report(page: &str, directive: &str, origin: &str, at: i64) -> NewCspReport {
    NewCspReport {
        page: page.into(),
        directive: directive.into(),
        blocked_origin: origin.into(),
        document: format!("https://shop.example{page}"),
        at,
    }
}

async fn reports_aggregate_and_count(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let evil = report("/checkout", "script-src-elem", "https://evil.example", 10);
    assert_eq!(
        s.csp_report_record(&evil, 100).await.unwrap(),
        CspRecorded::New
    );
    let again = report("/checkout", "script-src-elem", "https://evil.example", 30);
    assert_eq!(
        s.csp_report_record(&again, 100).await.unwrap(),
        CspRecorded::Counted
    );
    // An older report arriving late does not move last-seen back.
    let late = report("/checkout", "script-src-elem", "https://evil.example", 20);
    assert_eq!(
        s.csp_report_record(&late, 100).await.unwrap(),
        CspRecorded::Counted
    );
    // Another directive, origin or page is another aggregate.
    for other in [
        report("/checkout", "img-src", "https://evil.example", 40),
        report("/checkout", "script-src-elem", "inline", 40),
        report("/mypage", "script-src-elem", "https://evil.example", 40),
    ] {
        assert_eq!(
            s.csp_report_record(&other, 100).await.unwrap(),
            CspRecorded::New
        );
    }
    let page = s.csp_reports_page(0, 10).await.unwrap();
    assert_eq!(page.total, 4);
    let row = page
        .items
        .iter()
        .find(|r| {
            r.page == "/checkout"
                && r.directive == "script-src-elem"
                && r.blocked_origin == "https://evil.example"
        })
        .unwrap();
    assert_eq!(row.report_count, 3);
    assert_eq!((row.first_seen, row.last_seen), (10, 30));
    assert_eq!(row.sample_document, "https://shop.example/checkout");
    // Most recently seen first; paging works.
    assert_eq!(page.items.last().unwrap().last_seen, 30);
    let second = s.csp_reports_page(3, 10).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.total, 4);
}

async fn the_cap_holds_but_known_aggregates_still_count(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    for i in 0..3 {
        let r = report(
            &format!("/checkout/x{i}"),
            "script-src-elem",
            "https://a.example",
            i,
        );
        assert_eq!(s.csp_report_record(&r, 3).await.unwrap(), CspRecorded::New);
    }
    let forged = report("/checkout/x9", "script-src-elem", "https://a.example", 9);
    assert_eq!(
        s.csp_report_record(&forged, 3).await.unwrap(),
        CspRecorded::Full
    );
    let known = report("/checkout/x1", "script-src-elem", "https://a.example", 9);
    assert_eq!(
        s.csp_report_record(&known, 3).await.unwrap(),
        CspRecorded::Counted
    );
    let page = s.csp_reports_page(0, 10).await.unwrap();
    assert_eq!(page.total, 3);
    assert!(page.items.iter().all(|r| r.page != "/checkout/x9"));
}

both_backends!(
    reports_aggregate_and_count,
    the_cap_holds_but_known_aggregates_still_count
);
