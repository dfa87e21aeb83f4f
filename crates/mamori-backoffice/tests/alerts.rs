//! The alert pages: owners and managers list, read and acknowledge (with a reason, recorded in
//! the staff log); auditors read only; other roles see nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestBackoffice;
use mamori_guard::{kinds, Alert, AlertConfig, Alerts, Severity, Subject};
use mamori_staff::Role;
use mamori_store::{model::StaffLogFilter, Backend};
use mamori_testkit::both_backends;
use serde_json::json;

fn ids_on(res: &mamori_testkit::web::Resp) -> Vec<(String, String)> {
    let sel = scraper::Selector::parse("tr.alert-row").unwrap();
    res.doc()
        .select(&sel)
        .map(|e| {
            (
                e.value().attr("data-id").unwrap().to_owned(),
                e.value().attr("data-state").unwrap().to_owned(),
            )
        })
        .collect()
}

async fn alerts_are_listed_read_and_acknowledged_with_a_reason(backend: Backend) {
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
            kinds::FILE_CHANGED,
            Severity::Critical,
            Subject::File("/srv/mamori/mamori.toml".into()),
            json!({ "expected_sha256": "aa", "found_sha256": "bb" }),
        ))
        .await
        .unwrap();
    alerts
        .raise(&Alert::new(
            kinds::FILE_MODE,
            Severity::Warning,
            Subject::File("/srv/mamori/master.key".into()),
            json!({ "expected_mode": "600", "found_mode": "644" }),
        ))
        .await
        .unwrap();

    let (manager, client) = bo.member(Role::Manager).await;
    let list = client.get("/alerts").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains("検知アラート"));
    assert!(list.text.contains("ファイルの変更"));
    assert_eq!(ids_on(&list).len(), 2);
    let open = client.get("/alerts?state=open").await;
    assert_eq!(ids_on(&open).len(), 2);

    let page = client.get(&format!("/alerts/{}", raised.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("/srv/mamori/mamori.toml"));
    assert!(page.text.contains("expected_sha256"));
    assert!(page.text.contains("id=\"ack-form\""));

    // No reason, no acknowledgement.
    let res = client
        .post_form(
            &format!("/alerts/{}/acknowledge", raised.id),
            &[("reason", " ")],
        )
        .await;
    assert_eq!(res.status, 303);
    let after = client
        .get_following(&format!("/alerts/{}", raised.id))
        .await;
    assert!(after.text.contains("理由を"), "{}", after.text);
    assert_eq!(alerts.get(&raised.id).await.unwrap().unwrap().state, "open");

    let res = client
        .post_form(
            &format!("/alerts/{}/acknowledge", raised.id),
            &[("reason", "設定変更の作業によるもの（作業票 12）")],
        )
        .await;
    assert_eq!(res.status, 303);
    let row = alerts.get(&raised.id).await.unwrap().unwrap();
    assert_eq!(row.state, "acknowledged");
    assert_eq!(row.acked_by.as_deref(), Some(manager.id.as_str()));
    let page = client.get(&format!("/alerts/{}", raised.id)).await;
    assert!(page.text.contains("設定変更の作業によるもの（作業票 12）"));
    assert!(!page.text.contains("id=\"ack-form\""));
    let acked = client.get("/alerts?state=acknowledged").await;
    assert_eq!(
        ids_on(&acked),
        vec![(raised.id.clone(), "acknowledged".into())]
    );

    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(manager.id.clone()),
                action_prefix: Some("alerts.".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(log.total, 1);
    assert_eq!(log.items[0].action, "alerts.acknowledge");
    assert_eq!(log.items[0].target, raised.id);

    // The auditor reads but cannot acknowledge; support sees no alerts.
    let (_, auditor) = bo.member(Role::Auditor).await;
    assert_eq!(auditor.get("/alerts").await.status, 200);
    let page = auditor.get(&format!("/alerts/{}", raised.id)).await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("id=\"ack-form\""));
    let other = ids_on(&auditor.get("/alerts?state=open").await);
    assert_eq!(other.len(), 1);
    let res = auditor
        .post_form(
            &format!("/alerts/{}/acknowledge", other[0].0),
            &[("reason", "監査のため")],
        )
        .await;
    assert_eq!(res.status, 403);
    let (_, support) = bo.member(Role::Support).await;
    assert_eq!(support.get("/alerts").await.status, 403);
    assert_eq!(
        bo.client().get("/alerts/nope").await.status,
        303,
        "to login"
    );
    let (_, owner) = bo.member(Role::Owner).await;
    assert_eq!(owner.get("/alerts/no-such-alert").await.status, 404);
}

both_backends!(alerts_are_listed_read_and_acknowledged_with_a_reason);
