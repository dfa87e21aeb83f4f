//! The script inventory's page: staff who read alerts read it; only an owner with a fresh second
//! factor and a reason adds or changes an entry, over the version they saw; the change reaches
//! the shop's allow-list at once and is in the staff log. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestBackoffice;
use mamori_guard::inventory::{shop_builtin, ScriptInventory};
use mamori_guard::{AlertConfig, Alerts};
use mamori_staff::Role;
use mamori_store::{model::StaffLogFilter, Backend};
use mamori_testkit::both_backends;
use mamori_web::security::ScriptHash;

async fn an_owner_lists_a_script_with_a_fresh_factor_and_a_reason(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let alerts = Alerts::new(
        bo.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let inventory = ScriptInventory::new(alerts, std::sync::Arc::default());
    inventory.seed(&[shop_builtin()]).await.unwrap();
    bo.state.scripts.set(inventory.clone()).unwrap();
    let builtin = shop_builtin();

    let (owner, client) = bo.member(Role::Owner).await;
    let page = client.get("/scripts").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("/assets/mamori.js"));
    assert!(page.text.contains(&builtin.sha384.source()));
    assert!(page.text.contains("id=\"script-form\""));

    // A manager and an auditor read it; neither may change it.
    let digest = ScriptHash::of(b"address();").source();
    let form = [
        ("url", "/assets/address.js"),
        ("site", "shop"),
        ("sha384", digest.as_str()),
        ("pages", "/checkout*"),
        ("justification", "住所の自動入力"),
        ("version", ""),
        ("reason", "住所入力の補助を追加"),
    ];
    let (_, manager) = bo.member(Role::Manager).await;
    let page = manager.get("/scripts").await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("script-form"));
    assert_eq!(manager.post_form("/scripts", &form).await.status, 403);
    let (_, auditor) = bo.member(Role::Auditor).await;
    assert_eq!(auditor.get("/scripts").await.status, 200);

    // A stale second factor: to the step-up page, nothing written.
    bo.advance(bo.state.config.step_up_window.as_secs() + 60);
    let res = client.post_form("/scripts", &form).await;
    assert_eq!(res.location.as_deref(), Some("/step-up"));
    assert!(bo
        .store()
        .script_get("/assets/address.js")
        .await
        .unwrap()
        .is_none());
    client.get("/step-up").await.expect(200);
    let code = common::totp_code(&owner.totp_secret, bo.now());
    client
        .post_form("/step-up/totp", &[("code", &code)])
        .await
        .expect_redirect("/");

    // A bad digest or no reason: refused with a message, nothing written.
    let mut bad = form;
    bad[2] = ("sha384", "sha256-abc");
    assert_eq!(client.post_form("/scripts", &bad).await.status, 303);
    let mut no_reason = form;
    no_reason[6] = ("reason", "");
    assert_eq!(client.post_form("/scripts", &no_reason).await.status, 303);
    assert!(bo
        .store()
        .script_get("/assets/address.js")
        .await
        .unwrap()
        .is_none());
    assert!(client.get("/scripts").await.text.contains("sha384-"));

    // Listed: in the shop's allow-list for the checkout at once, and in the staff log.
    let res = client.post_form("/scripts", &form).await;
    assert_eq!(res.status, 303, "{}", res.text);
    let row = bo
        .store()
        .script_get("/assets/address.js")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.version, 1);
    assert_eq!(row.changed_by, format!("staff:{}", owner.id));
    let allow = inventory.policy().current().unwrap();
    assert_eq!(allow.hashes_for("/checkout/confirm").len(), 2);
    assert_eq!(allow.hashes_for("/cart").len(), 1);

    // Retired over the version seen; a second try over the same version is refused.
    let retire = [
        ("url", "/assets/address.js"),
        ("site", "shop"),
        ("sha384", digest.as_str()),
        ("pages", "/checkout*"),
        ("justification", "住所の自動入力"),
        ("version", "1"),
        ("retire", "on"),
        ("reason", "利用を終了"),
    ];
    assert_eq!(client.post_form("/scripts", &retire).await.status, 303);
    assert_eq!(client.post_form("/scripts", &retire).await.status, 303);
    let row = bo
        .store()
        .script_get("/assets/address.js")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.version, row.state.as_str()), (2, "retired"));
    assert_eq!(
        inventory
            .policy()
            .current()
            .unwrap()
            .hashes_for("/checkout")
            .len(),
        1
    );
    let history = client.get("/scripts?history=%2Fassets%2Faddress.js").await;
    assert_eq!(history.text.matches("class=\"history-row\"").count(), 2);

    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(owner.id.clone()),
                action_prefix: Some("scripts.".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(log.items.len(), 2);
}

both_backends!(an_owner_lists_a_script_with_a_fresh_factor_and_a_reason);
