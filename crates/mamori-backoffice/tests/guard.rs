//! The file guard's page and the owner's approval: a change on disk closes card payment; only an
//! owner with a fresh second factor and a reason reopens it, which writes the new baseline in the
//! same step and is recorded in the staff log and the ledger. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestBackoffice;
use mamori_guard::files::{
    Baseline, Check, FileGuard, FileRole, GuardKey, PaymentRule, WatchItem, WatchSpec, CARD_PAYMENT,
};
use mamori_guard::{AlertConfig, Alerts};
use mamori_staff::Role;
use mamori_store::{model::StaffLogFilter, Backend};
use mamori_testkit::both_backends;

fn guard_of(bo: &TestBackoffice) -> Arc<FileGuard> {
    bo.state.guard.get().unwrap().clone()
}

async fn closed(bo: &TestBackoffice) -> bool {
    bo.store()
        .guard_switch(CARD_PAYMENT)
        .await
        .unwrap()
        .is_some_and(|s| s.state == "closed")
}

async fn an_owner_approves_the_new_baseline_with_a_fresh_factor_and_a_reason(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("mamori");
    std::fs::write(&bin, b"v1").unwrap();
    let spec = WatchSpec {
        items: vec![WatchItem {
            path: bin.clone(),
            role: FileRole::Binary,
            check: Check::Content,
            payment: PaymentRule::Any,
        }],
    };
    let key_path = dir.path().join("guard.key");
    let key = GuardKey::create(&key_path).unwrap();
    let baseline = dir.path().join("guard-baseline.json");
    Baseline::observe(&spec)
        .write_signed(&key, &baseline)
        .unwrap();
    let alerts = Alerts::new(
        bo.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let guard = Arc::new(FileGuard::open(spec, baseline.clone(), key, alerts).unwrap());
    let _watch = guard.watch(Duration::from_secs(300)).unwrap();
    bo.state.guard.set(guard).unwrap();

    let (owner, client) = bo.member(Role::Owner).await;
    let page = client.get("/guard").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("id=\"card-open\""));
    assert!(page.text.contains("id=\"no-findings\""));

    std::fs::write(&bin, b"v2 with a skimmer").unwrap();
    let start = Instant::now();
    while !closed(&bo).await {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not closed in 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let page = client.get("/guard").await;
    assert!(page.text.contains("id=\"card-closed\""));
    assert!(page.text.contains(&bin.display().to_string()));
    assert!(page.text.contains("id=\"approve-form\""));

    // A manager reads the page but may not approve; an auditor reads it too.
    let (_, manager) = bo.member(Role::Manager).await;
    assert!(!manager.get("/guard").await.text.contains("approve-form"));
    assert_eq!(
        manager
            .post_form("/guard/approve", &[("reason", "更新の確認")])
            .await
            .status,
        403
    );
    let (_, auditor) = bo.member(Role::Auditor).await;
    assert_eq!(auditor.get("/guard").await.status, 200);

    // No reason: nothing changes.
    let res = client.post_form("/guard/approve", &[("reason", "")]).await;
    assert_eq!(res.status, 303);
    assert!(closed(&bo).await);

    // A second factor older than the step-up window: to the step-up page first.
    bo.advance(bo.state.config.step_up_window.as_secs() + 60);
    let res = client
        .post_form("/guard/approve", &[("reason", "更新の確認（作業票 3）")])
        .await;
    assert_eq!(res.location.as_deref(), Some("/step-up"));
    assert!(closed(&bo).await);

    // With a fresh factor and a reason: the new baseline is written and card payment reopens.
    client.get("/step-up").await.expect(200);
    let code = common::totp_code(&owner.totp_secret, bo.now());
    client
        .post_form("/step-up/totp", &[("code", &code)])
        .await
        .expect_redirect("/");
    let res = client
        .post_form("/guard/approve", &[("reason", "更新の確認（作業票 3）")])
        .await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert!(!closed(&bo).await);
    let key = GuardKey::load(&key_path).unwrap();
    let written = Baseline::read_verified(&baseline, &key).unwrap();
    assert_eq!(written.files.len(), 1);
    assert!(written.files.values().all(|e| e.sha256.is_some()));
    assert!(
        guard_of(&bo).pending().await.unwrap().is_empty(),
        "the disk is the baseline"
    );
    let page = client.get("/guard").await;
    assert!(page.text.contains("id=\"card-open\""));
    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(owner.id.clone()),
                action_prefix: Some("guard.".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(log.total, 1);
    assert!(log.items[0].detail.contains("更新の確認（作業票 3）"));
}

both_backends!(an_owner_approves_the_new_baseline_with_a_fresh_factor_and_a_reason);

/// The browser monitor's history as stored by its walks: the guard page lists each page's latest
/// observations, newest first, with the script count, a digest of the headers and the final
/// origin (an old row without headers shows `-`).
async fn the_guard_page_lists_the_monitors_latest_observations(backend: Backend) {
    use mamori_store::{observation_state, ObservationRow};
    use sha2::Digest as _;
    let bo = TestBackoffice::start(backend).await;
    let store = bo.store();
    let headers = r#"{"content-security-policy":"default-src 'self'","x-frame-options":"DENY"}"#;
    let row = |id: &str, state: &str, at: i64, recorded: bool| ObservationRow {
        id: id.into(),
        page: "/checkout".into(),
        state: state.into(),
        scripts: r#"{"https://shop.example/a.js":"sha384-A","inline#1":"sha384-I"}"#.into(),
        form_origins: r#"["https://shop.example"]"#.into(),
        headers: recorded.then(|| headers.to_owned()),
        final_origin: recorded.then(|| "https://shop.example".to_owned()),
        observed_at: at,
    };
    store
        .observation_put(&row("g", observation_state::GOOD, 1_700_000_000, true))
        .await
        .unwrap();
    store
        .observation_history_add(
            &row("h1", observation_state::SEEN, 1_700_000_000, false),
            100,
        )
        .await
        .unwrap();
    store
        .observation_history_add(
            &row("h2", observation_state::SEEN, 1_700_000_030, true),
            100,
        )
        .await
        .unwrap();

    let (_, auditor) = bo.member(Role::Auditor).await;
    let page = auditor.get("/guard").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("id=\"no-history\""));
    assert!(page.text.contains("<h3 class=\"page\">/checkout</h3>"));
    let digest = &hex::encode(sha2::Sha256::digest(headers.as_bytes()))[..12];
    let newest = page
        .text
        .find(digest)
        .expect("the newest observation's header digest");
    let oldest = page
        .text
        .find("<td class=\"headers\">-</td>")
        .expect("the old row without headers");
    assert!(newest < oldest, "newest first");
    assert_eq!(page.text.matches("<tr class=\"seen\">").count(), 2);
    assert_eq!(page.text.matches("<td class=\"scripts\">2</td>").count(), 2);
    assert!(page
        .text
        .contains("<td class=\"origin\">https://shop.example</td>"));
}

both_backends!(the_guard_page_lists_the_monitors_latest_observations);
