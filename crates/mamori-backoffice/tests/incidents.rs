//! The incident pages: owners and managers open an incident (by hand or from an alert), add
//! notes and compute the scope; the detail shows deadlines with days left, the timeline and the
//! scope's counts; auditors read only; other roles see nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::TestBackoffice;
use mamori_guard::{kinds, Alert, AlertConfig, Alerts, Severity, Subject};
use mamori_staff::Role;
use mamori_store::{model::StaffLogFilter, Accessor, Backend};
use mamori_testkit::both_backends;
use serde_json::json;

fn jst_local(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .with_timezone(&mamori_domain::time::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

async fn incidents_are_opened_noted_scoped_and_read(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let alerts = Alerts::new(
        bo.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let raised = alerts
        .raise(&Alert::new(
            kinds::SCRIPT_CHANGED,
            Severity::Critical,
            Subject::Page("/checkout/confirm".into()),
            json!({ "script": "https://psp.example/card.js" }),
        ))
        .await
        .unwrap();

    let (manager, client) = bo.member(Role::Manager).await;
    // The alert's page offers to open an incident from it; the form carries the alert.
    let page = client.get(&format!("/alerts/{}", raised.id)).await;
    assert!(page.has("#open-incident"), "{}", page.text);
    let form = client
        .get(&format!("/incidents/new?alert={}", raised.id))
        .await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(form.has("#from-alert"));
    assert_eq!(
        form.input_value("alert").as_deref(),
        Some(raised.id.as_str())
    );
    let res = client
        .post_form(
            "/incidents",
            &[
                ("alert", raised.id.as_str()),
                ("kind", "card_script_altered"),
                ("title", "カード入力ページのスクリプト変更"),
                ("known_at", "2027-01-08T09:30"),
                ("window_from", "2027-01-01T00:00"),
                ("window_to", "2027-01-08T09:30"),
                ("principal", ""),
            ],
        )
        .await;
    res.expect_redirect("/incidents/");
    let first = res.location.clone().unwrap();
    let detail = client.get(&first).await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.count("tr.deadline"), 4, "PPC and card companies");
    assert!(detail.text.contains("個人情報保護委員会への速報"));
    assert!(detail.text.contains("2027-01-11 – 2027-01-13"));
    assert!(detail.text.contains("2027-02-08"), "確報 after the weekend");
    assert!(
        detail.text.contains("2027-01-14"),
        "3 business days past 成人の日"
    );
    assert_eq!(detail.count("tr.entry"), 2, "opened, alert");
    assert!(detail.has("#alert-link"));

    // A note goes on the timeline; an empty one is refused.
    let res = client
        .post_form(
            &format!("{first}/note"),
            &[("text", "決済代行会社に連絡した")],
        )
        .await;
    res.expect_redirect(&first);
    let res = client
        .post_form(&format!("{first}/note"), &[("text", "  ")])
        .await;
    res.expect_redirect(&first);
    let detail = client.get(&first).await;
    assert_eq!(detail.count("tr.entry"), 3);
    assert!(detail.text.contains("決済代行会社に連絡した"));

    // The scope of a card-page incident: nobody paid in that window.
    assert!(detail.has("#no-scope"));
    let res = client.post_form(&format!("{first}/scope"), &[]).await;
    res.expect_redirect(&first);
    let detail = client.get(&first).await;
    assert!(detail.has("#scope-categories"), "{}", detail.text);
    assert_eq!(
        detail
            .text_of("tr.category[data-code=members] td.n")
            .as_deref(),
        Some("0")
    );

    // Staff misuse opened by hand: the scope counts the one customer that account opened.
    let customer = bo.customer("kaori@example.jp").await;
    bo.gateway()
        .customer_masked(
            &Accessor::staff("staff-suspect", "backoffice.customers.detail", "r1"),
            &customer,
        )
        .await
        .unwrap();
    let now = Utc::now().timestamp();
    let res = client
        .post_form(
            "/incidents",
            &[
                ("kind", "staff_misuse"),
                ("title", "退職予定者による閲覧"),
                ("known_at", &jst_local(now)),
                ("window_from", &jst_local(now - 3600)),
                ("window_to", &jst_local(now + 3600)),
                ("principal", "staff-suspect"),
                ("malicious", "1"),
            ],
        )
        .await;
    res.expect_redirect("/incidents/");
    let second = res.location.clone().unwrap();
    assert_ne!(second, first);
    client
        .post_form(&format!("{second}/scope"), &[])
        .await
        .expect_redirect(&second);
    let detail = client.get(&second).await;
    assert_eq!(
        detail
            .text_of("tr.category[data-code=customers] td.n")
            .as_deref(),
        Some("1"),
        "{}",
        detail.text
    );
    assert_eq!(
        detail
            .text_of("tr.item[data-code=\"customers.email\"] td.n")
            .as_deref(),
        Some("1")
    );
    assert!(!detail.text.contains("kaori@example.jp"));
    assert!(!detail.text.contains("山田"));

    // The list shows both; the staff log has the manager's steps.
    let list = client.get("/incidents").await;
    assert_eq!(list.count("tr.incident-row"), 2);
    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(manager.id.clone()),
                action_prefix: Some("incidents.".into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    let mut actions: Vec<String> = log.items.iter().map(|r| r.action.clone()).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "incidents.note",
            "incidents.open",
            "incidents.open",
            "incidents.scope",
            "incidents.scope"
        ]
    );

    // The auditor reads but cannot act; support sees nothing.
    let (_, auditor) = bo.member(Role::Auditor).await;
    assert_eq!(auditor.get("/incidents").await.status, 200);
    let page = auditor.get(&first).await;
    assert_eq!(page.status, 200);
    assert!(!page.has("#note-form") && !page.has("#scope-form"));
    assert!(!auditor
        .get(&format!("/alerts/{}", raised.id))
        .await
        .has("#open-incident"));
    let res = auditor
        .post_form(&format!("{first}/note"), &[("text", "監査メモ")])
        .await;
    assert_eq!(res.status, 403);
    let (_, support) = bo.member(Role::Support).await;
    assert_eq!(support.get("/incidents").await.status, 403);
    let (_, owner) = bo.member(Role::Owner).await;
    assert_eq!(owner.get("/incidents/999").await.status, 404);
}

both_backends!(incidents_are_opened_noted_scoped_and_read);
