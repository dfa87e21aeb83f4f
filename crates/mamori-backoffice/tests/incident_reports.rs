//! The report pages of an incident: the PPC report's form pre-filled from the incident, its
//! scope and the shop settings; saving versions (owners and managers); the downloads (PDF, text,
//! the card companies' CSVs) which auditors may read too; other roles see nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestBackoffice;
use mamori_staff::Role;
use mamori_store::{model::StaffLogFilter, Backend};
use mamori_testkit::both_backends;

async fn reports_are_drafted_saved_kept_and_downloaded(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    bo.store()
        .settings_put("shop.name", "\"守り商店\"", 1, None)
        .await
        .unwrap();
    let (manager, client) = bo.member(Role::Manager).await;
    let res = client
        .post_form(
            "/incidents",
            &[
                ("kind", "payment_page_altered"),
                ("title", "決済ページの改ざん"),
                ("known_at", "2027-01-08T10:00"),
                ("window_from", "2027-01-01T00:00"),
                ("window_to", "2027-01-08T10:00"),
                ("principal", ""),
            ],
        )
        .await;
    res.expect_redirect("/incidents/");
    let incident = res.location.clone().unwrap();
    client
        .post_form(&format!("{incident}/scope"), &[])
        .await
        .expect_redirect(&incident);
    assert!(client.get(&incident).await.has("#report-link"));

    // The draft: every item of 規則8条1項, the reporter from the settings, no version yet.
    let page = client.get(&format!("{incident}/report")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.has("#report-form") && page.has("#draft") && page.has("#no-versions"));
    assert_eq!(page.count("#report-form textarea"), 9);
    assert_eq!(
        page.input_value("business_name").as_deref(),
        Some("守り商店")
    );
    assert!(page.text.contains("再発防止のための措置"));
    assert!(
        page.text.contains("2027年1月13日（水）"),
        "the 速報's last day"
    );

    // Saved twice: two versions, the first still as it was.
    let mut fields = vec![
        ("kind", "sokuho"),
        ("business_name", "守り商店"),
        ("overview", "決済ページが改ざんされた。"),
        ("cause", "第一版の原因"),
    ];
    let res = client
        .post_form(&format!("{incident}/report"), &fields)
        .await;
    res.expect_redirect(&format!("{incident}/report?kind=sokuho&version="));
    let first = res.location.clone().unwrap();
    fields[3] = ("cause", "第二版の原因");
    client
        .post_form(&format!("{incident}/report"), &fields)
        .await
        .expect_redirect(&format!("{incident}/report?kind=sokuho&version="));
    let page = client.get(&format!("{incident}/report")).await;
    assert_eq!(page.count("tr.version"), 2);
    assert!(page.text.contains("第二版の原因"));
    let old = client.get(&first).await;
    assert!(old.has("#shown-version") && !old.has("#report-form"));
    assert!(old.text.contains("第一版の原因") && !old.text.contains("第二版の原因"));

    // The downloads.
    let version = first.rsplit('=').next().unwrap().to_owned();
    let pdf = client
        .get(&format!(
            "{incident}/report/pdf?kind=sokuho&version={version}"
        ))
        .await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    let text = client
        .get(&format!(
            "{incident}/report/text?kind=sokuho&version={version}"
        ))
        .await;
    assert!(text.text.contains("■ 概要\n決済ページが改ざんされた。"));
    assert!(text.text.contains("第一版の原因"));
    let csv = client.get(&format!("{incident}/report/card.csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.bytes.starts_with("\u{feff}決済ID,".as_bytes()));
    let timeline = client.get(&format!("{incident}/report/timeline.csv")).await;
    assert!(timeline.text.contains("影響範囲の算出"));

    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(manager.id.clone()),
                action_prefix: Some("incidents.report".into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        log.items
            .iter()
            .filter(|r| r.action == "incidents.report_save")
            .count(),
        2
    );
    assert_eq!(
        log.items
            .iter()
            .filter(|r| r.action == "incidents.report_download")
            .count(),
        4
    );

    // The auditor reads and downloads but cannot save; support sees nothing.
    let (_, auditor) = bo.member(Role::Auditor).await;
    let page = auditor.get(&format!("{incident}/report")).await;
    assert_eq!(page.status, 200);
    assert!(!page.has("#report-form"));
    assert_eq!(
        auditor.get(&format!("{incident}/report/text")).await.status,
        200
    );
    let res = auditor
        .post_form(&format!("{incident}/report"), &fields)
        .await;
    assert_eq!(res.status, 403);
    let (_, support) = bo.member(Role::Support).await;
    assert_eq!(support.get(&format!("{incident}/report")).await.status, 403);
    assert_eq!(client.get("/incidents/999/report").await.status, 404);
}

both_backends!(reports_are_drafted_saved_kept_and_downloaded);
