//! The incident desk's switches on both backends, across two "processes" (two gateways with
//! their own pools, ledger writers and key rings over one database, each with its own
//! switchboard refreshed as `mamori serve` does): a switch set through one reaches the other
//! within the refresh interval (polled with a generous bound, never timed), each change is on
//! the timeline and in the ledger, and a key rotation is picked up by the other process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use chrono::Utc;
use mamori_domain::*;
use mamori_respond::switches::REFRESH;
use mamori_respond::{
    Desk, IncidentKind, NewIncident, RespondError, Switch, SwitchChange, Switchboard,
};
use mamori_store::access::AccessEvent;
use mamori_store::store::alerts::CARD_PAYMENT;
use mamori_store::{switch_state, Accessor, Action, Backend, Principal};
use mamori_testkit::{both_backends, Env};

/// How long anything may take before the test fails (never a measurement).
const BOUND: Duration = Duration::from_secs(20);

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < BOUND, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn change(switch: Switch, on: bool, reason: &str) -> SwitchChange {
    SwitchChange {
        switch,
        on,
        reason: reason.into(),
        notice_url: None,
    }
}

async fn a_customer(env: &Env) -> String {
    let profile = CustomerProfile {
        kind: CustomerKind::Member,
        name: Personal::new(PersonName::parse("鳩山", "花子").unwrap()),
        email: Personal::new(Email::parse("hatoyama@example.jp").unwrap()),
        phone: None,
        birth_date: None,
        gender: None,
    };
    env.gw
        .register_customer(&Accessor::system("test", "test.setup"), &profile, None)
        .await
        .unwrap()
}

async fn switches_reach_a_second_process(backend: Backend) {
    let env = Env::start(backend).await;
    let gw_a = env.gw.clone().with_key_file(env.key_file.clone());
    let gw_b = env.another_process().await;
    let customer = a_customer(&env).await;
    let desk = Desk::new(gw_a.clone());
    let by = Principal::Staff("owner-1".into());
    let id = desk
        .open(
            &by,
            &NewIncident {
                kind: IncidentKind::PaymentPageAltered,
                title: "決済ページの改ざん".into(),
                known_at: Utc::now(),
                window_from: None,
                window_to: None,
                principal: None,
                malicious: true,
                alert_id: None,
            },
        )
        .await
        .unwrap();

    let board_a = Switchboard::new(Some("https://shop.example.jp/news".into()));
    let board_b = Switchboard::default();
    board_b.refresh(&gw_b).await.unwrap();
    let _refresh = board_b.spawn_refresh(gw_b.clone(), REFRESH);
    assert!(!board_b.shop_closed() && !board_b.card_stopped() && !board_b.staff_frozen());

    // No reason: refused, nothing stored, nothing on the timeline.
    let err = board_a
        .set(&desk, id, &by, &change(Switch::Shop, true, "  "))
        .await
        .unwrap_err();
    assert!(matches!(err, RespondError::Invalid(_)), "{err:?}");
    assert!(env.store.guard_switch("shop").await.unwrap().is_none());
    // Keys are an action: "off" is refused.
    let err = board_a
        .set(&desk, id, &by, &change(Switch::Keys, false, "理由"))
        .await
        .unwrap_err();
    assert!(matches!(err, RespondError::Invalid(_)), "{err:?}");
    // No such incident.
    let err = board_a
        .set(&desk, 999, &by, &change(Switch::Card, true, "理由"))
        .await
        .unwrap_err();
    assert!(matches!(err, RespondError::NotFound(999)), "{err:?}");

    // Each switch on through A: applied in A at once, in B within its refresh.
    let ledger_before = env.store.ledger_size().await.unwrap();
    for sw in [Switch::Shop, Switch::Card, Switch::Staff] {
        board_a
            .set(&desk, id, &by, &change(sw, true, "改ざんの調査"))
            .await
            .unwrap();
    }
    assert!(board_a.shop_closed() && board_a.card_stopped() && board_a.staff_frozen());
    eventually("B sees the shop closed", || board_b.shop_closed()).await;
    eventually("B sees card payment stopped", || board_b.card_stopped()).await;
    eventually("B sees staff frozen", || board_b.staff_frozen()).await;
    // The configured notice is linked; card payment is the guard's own switch.
    assert_eq!(
        board_b.maintenance().notice().as_deref(),
        Some("https://shop.example.jp/news")
    );
    let card = env.store.guard_switch(CARD_PAYMENT).await.unwrap().unwrap();
    assert_eq!(card.state, switch_state::CLOSED);
    assert_eq!(card.incident_id, Some(id));

    // Lifted through A: B opens again.
    for sw in [Switch::Shop, Switch::Card, Switch::Staff] {
        board_a
            .set(&desk, id, &by, &change(sw, false, "調査完了"))
            .await
            .unwrap();
    }
    eventually("B sees the shop open", || !board_b.shop_closed()).await;
    eventually("B sees card payment open", || !board_b.card_stopped()).await;
    eventually("B sees staff thawed", || !board_b.staff_frozen()).await;

    // Every change is on the timeline and in the ledger, in that order.
    let view = desk.show(id).await.unwrap();
    let switches: Vec<_> = view
        .timeline
        .iter()
        .filter(|e| e.kind == "switch")
        .collect();
    assert_eq!(switches.len(), 6);
    assert_eq!(switches[0].ref_id.as_deref(), Some("switch:shop:on"));
    assert!(switches[0].text.contains("改ざんの調査"));
    assert!(switches[0].text.contains("https://shop.example.jp/news"));
    assert_eq!(switches[5].ref_id.as_deref(), Some("switch:staff:off"));
    let size = env.store.ledger_size().await.unwrap();
    let events: Vec<AccessEvent> = env
        .store
        .ledger_entries(ledger_before, size)
        .await
        .unwrap()
        .iter()
        .map(|e| AccessEvent::from_bytes(&e.event).unwrap())
        .collect();
    let incident_events = events
        .iter()
        .filter(|e| e.action == Action::Incident && e.purpose == "incident.switch")
        .count();
    assert_eq!(incident_events, 6);

    // Keys: B reads the customer now (its ring has the old master key only).
    let read = |gw: &mamori_store::Gateway| {
        let gw = gw.clone();
        let customer = customer.clone();
        async move {
            gw.customer_masked(
                &Accessor::staff("staff-1", "backoffice.customers.detail", "r1"),
                &customer,
            )
            .await
        }
    };
    read(&gw_b).await.unwrap();
    let old = gw_b.active_master_key_id();
    let done = board_a
        .set(
            &desk,
            id,
            &by,
            &change(Switch::Keys, true, "鍵ファイル漏えいのおそれ"),
        )
        .await
        .unwrap();
    let (new, moved) = done.rotated.clone().unwrap();
    assert_ne!(new, old);
    assert_eq!(moved, 1, "the one customer's data key was re-wrapped");
    assert_eq!(gw_a.active_master_key_id(), new);
    // B reloads the key file within its refresh, and reads the re-wrapped key.
    eventually("B reloads the key ring", || {
        gw_b.active_master_key_id() == new
    })
    .await;
    read(&gw_b).await.unwrap();
    read(&gw_a).await.unwrap();
    let ring = env.store.guard_switch("key_ring").await.unwrap().unwrap();
    assert_eq!(ring.detail.as_deref(), Some(new.as_str()));
    let view = desk.show(id).await.unwrap();
    let last = view.timeline.last().unwrap();
    assert_eq!(last.ref_id.as_deref(), Some("switch:keys:on"));
}

both_backends!(switches_reach_a_second_process);

/// A process that has not refreshed yet still reads a key re-wrapped by another: meeting a
/// master key it does not know, the gateway reads the key file at once.
async fn an_unknown_master_key_reloads_the_key_file(backend: Backend) {
    let env = Env::start(backend).await;
    let gw_a = env.gw.clone().with_key_file(env.key_file.clone());
    let gw_b = env.another_process().await;
    let customer = a_customer(&env).await;
    let old = gw_b.active_master_key_id();
    let (new, _) = gw_a
        .rotate_master_key(&Accessor::system("test", "keys.rotate"))
        .await
        .unwrap();
    assert_eq!(gw_b.active_master_key_id(), old, "no refresher runs here");
    gw_b.customer_masked(
        &Accessor::staff("staff-1", "backoffice.customers.detail", "r1"),
        &customer,
    )
    .await
    .unwrap();
    assert_eq!(gw_b.active_master_key_id(), new);
}

both_backends!(an_unknown_master_key_reloads_the_key_file);
