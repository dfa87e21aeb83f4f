//! The guard's area on both databases: de-duplication by the partial index, the webhook queue's
//! claims and retries, switches, and an approval that reopens a switch and closes alerts at once.

use mamori_store::{
    alert_state, switch_state, AlertFilter, Backend, GuardSwitchRow, NewAlertRow, OutboxRow,
};

use crate::both_backends;
use crate::common::*;

fn occurrence(id: &str, kind: &str, subject: &str, at: i64) -> NewAlertRow {
    NewAlertRow {
        id: id.into(),
        kind: kind.into(),
        severity: "critical".into(),
        subject: subject.into(),
        evidence: format!("{{\"at\":{at}}}"),
        at,
    }
}

fn mail(id: &str) -> OutboxRow {
    OutboxRow {
        id: id.into(),
        customer_id: None,
        kind: "guard_alert".into(),
        payload_ct: vec![1, 2, 3],
        created_at: 10,
        next_attempt_at: 10,
    }
}

async fn repeats_count_and_queue_nothing(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let a = s
        .alert_raise(
            &occurrence("a1", "file.changed", "file:/x", 10),
            &[mail("m1"), mail("m2")],
            Some("{\"id\":\"a1\"}"),
        )
        .await
        .unwrap();
    assert!(a.new);
    assert_eq!(a.id, "a1");
    let b = s
        .alert_raise(
            &occurrence("a2", "file.changed", "file:/x", 20),
            &[mail("m3")],
            Some("{\"id\":\"a2\"}"),
        )
        .await
        .unwrap();
    assert!(!b.new);
    assert_eq!(b.id, "a1");
    assert_eq!(b.seen_count, 2);
    let row = s.alert_by_id("a1").await.unwrap().unwrap();
    assert_eq!((row.first_seen, row.last_seen), (10, 20));
    assert_eq!(row.evidence, "{\"at\":20}");
    assert_eq!(
        env.sql_i64("SELECT COUNT(*) FROM mail_outbox").await,
        2,
        "only the new alert's mail"
    );
    assert_eq!(s.alert_webhooks_of("a1").await.unwrap().len(), 1);
    assert!(s.alert_by_id("a2").await.unwrap().is_none());

    // Acknowledged is still ongoing; closed is not.
    assert!(s
        .alert_acknowledge("a1", "st1", "調査中", 30)
        .await
        .unwrap());
    assert!(!s
        .alert_acknowledge("a1", "st1", "二度目", 31)
        .await
        .unwrap());
    let c = s
        .alert_raise(&occurrence("a3", "file.changed", "file:/x", 40), &[], None)
        .await
        .unwrap();
    assert!(!c.new);
    assert_eq!(
        s.alerts_close("file.changed", "file:/", "st1", 50)
            .await
            .unwrap(),
        1
    );
    let d = s
        .alert_raise(&occurrence("a4", "file.changed", "file:/x", 60), &[], None)
        .await
        .unwrap();
    assert!(d.new);
    assert_eq!(d.id, "a4");

    let open = s
        .alerts_page(
            &AlertFilter {
                state: Some(alert_state::OPEN.into()),
                kind: None,
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(open.total, 1);
    assert_eq!(open.items[0].id, "a4");
    let all = s.alerts_page(&AlertFilter::default(), 0, 10).await.unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].id, "a4", "most recently seen first");
    let closed = s.alert_by_id("a1").await.unwrap().unwrap();
    assert_eq!(closed.state, alert_state::CLOSED);
    assert_eq!(closed.closed_by.as_deref(), Some("st1"));
    assert_eq!(closed.ack_reason.as_deref(), Some("調査中"));
}

/// A repeat that is more severe than the ongoing alert escalates it: the higher severity, open
/// again, and its mail and webhook queued; a less severe repeat changes neither. (A file written
/// in two steps can first be seen half-written, as a warning, then whole, as a critical change.)
async fn a_more_severe_repeat_escalates(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let at = |id: &str, severity: &str, at: i64| NewAlertRow {
        severity: severity.into(),
        ..occurrence(id, "file.changed", "file:/etc/mamori.toml", at)
    };
    let a = s
        .alert_raise(&at("w1", "warning", 10), &[mail("m1")], Some("{}"))
        .await
        .unwrap();
    assert!(a.new && !a.escalated);
    assert!(s
        .alert_acknowledge("w1", "st1", "確認中", 11)
        .await
        .unwrap());
    let b = s
        .alert_raise(&at("c1", "critical", 12), &[mail("m2")], Some("{}"))
        .await
        .unwrap();
    assert!(!b.new && b.escalated);
    assert_eq!(b.id, "w1");
    let row = s.alert_by_id("w1").await.unwrap().unwrap();
    assert_eq!(row.severity, "critical");
    assert_eq!(row.state, alert_state::OPEN, "escalation opens it again");
    assert_eq!(row.seen_count, 2);
    // Repeats at the same or a lower severity: no escalation, nothing queued, still critical.
    for (id, severity) in [("c2", "critical"), ("w2", "warning"), ("i1", "info")] {
        let r = s
            .alert_raise(
                &at(id, severity, 13),
                &[mail(&format!("m-{id}"))],
                Some("{}"),
            )
            .await
            .unwrap();
        assert!(!r.new && !r.escalated, "{severity}");
    }
    let row = s.alert_by_id("w1").await.unwrap().unwrap();
    assert_eq!((row.severity.as_str(), row.seen_count), ("critical", 5));
    assert_eq!(
        env.sql_i64("SELECT COUNT(*) FROM mail_outbox").await,
        2,
        "the new alert's mail and the escalation's"
    );
    assert_eq!(s.alert_webhooks_of("w1").await.unwrap().len(), 2);
}

async fn webhook_claims_retries_and_dead(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    s.alert_raise(&occurrence("a1", "k", "page:/p", 100), &[], Some("{}"))
        .await
        .unwrap();
    let claimed = s.alert_webhook_claim(10, 60, 100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    // Under lease: not claimed again.
    assert!(s.alert_webhook_claim(10, 60, 101).await.unwrap().is_empty());
    let id = claimed[0].id.clone();
    s.alert_webhook_failed(&id, Some(200), "status 500")
        .await
        .unwrap();
    assert!(s.alert_webhook_claim(10, 60, 150).await.unwrap().is_empty());
    let again = s.alert_webhook_claim(10, 60, 200).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("status 500"));
    s.alert_webhook_failed(&id, None, "status 410")
        .await
        .unwrap();
    assert!(s
        .alert_webhook_claim(10, 60, 10_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.alert_webhooks_of("a1").await.unwrap()[0].state, "dead");

    s.alert_raise(&occurrence("a2", "k", "page:/q", 100), &[], Some("{}"))
        .await
        .unwrap();
    let c = s.alert_webhook_claim(10, 60, 300).await.unwrap();
    s.alert_webhook_sent(&c[0].id, 301).await.unwrap();
    let rows = s.alert_webhooks_of("a2").await.unwrap();
    assert_eq!(
        (rows[0].state.as_str(), rows[0].sent_at),
        ("sent", Some(301))
    );
}

async fn approval_reopens_the_switch_and_closes_alerts(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    assert!(s.guard_switch("card_payment").await.unwrap().is_none());
    s.alert_raise(
        &occurrence("a1", "file.changed", "file:/bin", 10),
        &[],
        None,
    )
    .await
    .unwrap();
    s.alert_raise(&occurrence("a2", "file.mode", "file:/key", 10), &[], None)
        .await
        .unwrap();
    s.alert_raise(&occurrence("a3", "csp.report", "page:/", 10), &[], None)
        .await
        .unwrap();
    s.guard_switch_set(&GuardSwitchRow {
        name: "card_payment".into(),
        state: switch_state::CLOSED.into(),
        reason: "file.changed".into(),
        alert_id: Some("a1".into()),
        changed_by: Some("guard".into()),
        changed_at: 11,
        ..Default::default()
    })
    .await
    .unwrap();
    let sw = s.guard_switch("card_payment").await.unwrap().unwrap();
    assert_eq!(sw.state, switch_state::CLOSED);
    let closed = s
        .guard_approve(
            &GuardSwitchRow {
                name: "card_payment".into(),
                state: switch_state::OPEN.into(),
                reason: "更新の確認済み".into(),
                alert_id: None,
                changed_by: Some("owner1".into()),
                changed_at: 20,
                ..Default::default()
            },
            &["file.changed", "file.mode"],
        )
        .await
        .unwrap();
    assert_eq!(closed, 2);
    let sw = s.guard_switch("card_payment").await.unwrap().unwrap();
    assert_eq!(sw.state, switch_state::OPEN);
    assert_eq!(sw.changed_by.as_deref(), Some("owner1"));
    assert_eq!(s.alert_by_id("a3").await.unwrap().unwrap().state, "open");
    assert_eq!(s.alert_by_id("a1").await.unwrap().unwrap().state, "closed");
}

both_backends!(
    repeats_count_and_queue_nothing,
    a_more_severe_repeat_escalates,
    webhook_claims_retries_and_dead,
    approval_reopens_the_switch_and_closes_alerts,
);
