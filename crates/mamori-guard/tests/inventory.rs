//! The script inventory on both databases: mamori's own scripts listed once at start (on the
//! ledger), the allow-list built from the shop's active entries, an owner's change checked,
//! written over the version they saw and reaching a second process, and a built-in script whose
//! bytes differ from its entry alerted, not re-listed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use mamori_guard::inventory::{shop_builtin, ScriptEntry, ScriptInventory};
use mamori_guard::{kinds, AlertConfig, Alerts, GuardError};
use mamori_store::{access::AccessEvent, Action, AlertFilter, Backend};
use mamori_testkit::{both_backends, Env};
use mamori_web::security::ScriptHash;

fn inventory(env: &Env) -> ScriptInventory {
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    ScriptInventory::new(alerts, Arc::default())
}

async fn inventory_events(env: &Env, from: u64) -> Vec<AccessEvent> {
    env.store
        .ledger_entries(from, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| AccessEvent::from_bytes(&e.event).unwrap())
        .filter(|e| e.action == Action::Approve && e.purpose == "guard.script_inventory")
        .collect()
}

async fn the_inventory_lists_checks_and_builds_the_allow_list(backend: Backend) {
    let env = Env::start(backend).await;
    let inv = inventory(&env);
    let builtin = shop_builtin();
    let before = env.store.ledger_size().await.unwrap();

    // Listed once, on the ledger, and allowed on every page.
    let seeded = inv.seed(std::slice::from_ref(&builtin)).await.unwrap();
    assert_eq!(seeded.listed, vec![builtin.url.clone()]);
    assert!(inv
        .seed(std::slice::from_ref(&builtin))
        .await
        .unwrap()
        .listed
        .is_empty());
    let events = inventory_events(&env, before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].channel.as_deref(), Some(builtin.url.as_str()));
    let allow = inv.policy().current().unwrap();
    assert_eq!(allow.hashes_for("/"), vec![&builtin.sha384]);
    assert_eq!(allow.hashes_for("/checkout/confirm"), vec![&builtin.sha384]);

    // An owner lists a script for the checkout only.
    let extra = ScriptEntry::parse(
        "/assets/address.js",
        "shop",
        &ScriptHash::of(b"address();").source(),
        "/checkout /checkout/*",
        "住所の自動入力",
    )
    .unwrap();
    assert!(matches!(
        inv.change("owner1", &extra, false, None, "  ", "req-0")
            .await,
        Err(GuardError::Invalid(_))
    ));
    let row = inv
        .change("owner1", &extra, false, None, "住所入力の補助", "req-1")
        .await
        .unwrap();
    assert_eq!((row.version, row.changed_by.as_str()), (1, "staff:owner1"));
    let allow = inv.policy().current().unwrap();
    let checkout = allow.hashes_for("/checkout");
    assert_eq!(checkout.len(), 2);
    assert!(checkout.contains(&&builtin.sha384) && checkout.contains(&&extra.sha384));
    assert_eq!(allow.hashes_for("/cart"), vec![&builtin.sha384]);
    let events = inventory_events(&env, before).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].reason.as_deref(), Some("住所入力の補助"));
    assert_eq!(events[1].channel.as_deref(), Some("/assets/address.js"));

    // A second process sees the change on its next reload; a writer that saw an old version
    // loses; retiring removes the script from every page.
    let other = inventory(&env);
    other.reload().await.unwrap();
    assert_eq!(
        other
            .policy()
            .current()
            .unwrap()
            .hashes_for("/checkout")
            .len(),
        2
    );
    assert!(matches!(
        other
            .change("owner2", &extra, true, None, "重複登録", "req-2")
            .await,
        Err(GuardError::Invalid(_))
    ));
    other
        .change("owner2", &extra, true, Some(1), "不要になった", "req-3")
        .await
        .unwrap();
    inv.reload().await.unwrap();
    assert_eq!(
        inv.policy().current().unwrap().hashes_for("/checkout"),
        vec![&builtin.sha384]
    );
    let history = inv.history("/assets/address.js").await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.state.as_str()).collect::<Vec<_>>(),
        vec!["retired", "active"]
    );

    // Values that would change the policy's meaning are refused.
    for (url, sha, pages, why) in [
        ("/a.js", "sha256-abc", "*", "x"),
        ("/a.js' 'unsafe-inline", &builtin.sha384.source(), "*", "x"),
        ("/a.js", &builtin.sha384.source(), "/x;script-src *", "x"),
        ("/a.js", &builtin.sha384.source(), "", "x"),
        ("/a.js", &builtin.sha384.source(), "*", " "),
    ] {
        assert!(
            ScriptEntry::parse(url, "shop", sha, pages, why).is_err(),
            "{url} {pages}"
        );
    }
    assert!(ScriptEntry::parse("/a.js", "cdn", &builtin.sha384.source(), "*", "x").is_err());
}

async fn a_built_in_script_that_differs_is_alerted_not_relisted(backend: Backend) {
    let env = Env::start(backend).await;
    let inv = inventory(&env);
    let builtin = shop_builtin();
    inv.seed(std::slice::from_ref(&builtin)).await.unwrap();

    // The next start serves other bytes under the same URL (an altered build).
    let altered = ScriptEntry {
        sha384: ScriptHash::of(b"skim();"),
        ..builtin.clone()
    };
    let seeded = inv.seed(std::slice::from_ref(&altered)).await.unwrap();
    assert_eq!(seeded.differing, vec![builtin.url.clone()]);
    inv.seed(&[altered]).await.unwrap();
    let alerts = env
        .store
        .alerts_page(
            &AlertFilter {
                state: None,
                kind: Some(kinds::SCRIPT_NOT_LISTED.to_owned()),
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        alerts.items.len(),
        1,
        "one ongoing alert, not one per start"
    );
    assert_eq!(alerts.items[0].severity, "critical");
    assert_eq!(alerts.items[0].subject, format!("page:{}", builtin.url));
    // The entry keeps the digest an owner approved: the altered bytes stay blocked.
    assert_eq!(
        inv.policy().current().unwrap().hashes_for("/"),
        vec![&builtin.sha384]
    );
}

both_backends!(
    the_inventory_lists_checks_and_builds_the_allow_list,
    a_built_in_script_that_differs_is_alerted_not_relisted
);
