//! The incident desk's switches in the back office, with real staff sign-ins: each needs the
//! incident permission, a fresh second factor and a reason; freezing staff is for owners; each
//! is on the timeline, in the ledger and in the staff log; closing the shop puts the storefront
//! (assembled with this back office's switchboard, as `mamori serve` does) behind a Japanese
//! maintenance page while the webhook and the payment return keep working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::{totp_code, TestBackoffice, TestStaff};
use mamori_respond::{Desk, IncidentKind, NewIncident};
use mamori_staff::Role;
use mamori_store::access::Action;
use mamori_store::model::StaffLogFilter;
use mamori_store::store::alerts::CARD_PAYMENT;
use mamori_store::{switch_state, Accessor, Backend, Principal};
use mamori_testkit::both_backends;

/// Lets the second factor age past the step-up window, then steps up with a fresh TOTP code.
async fn step_up(bo: &TestBackoffice, client: &common::BoClient, staff: &TestStaff) {
    bo.advance(bo.state.config.step_up_window.as_secs() + 60);
    client.get("/step-up").await.expect(200);
    bo.advance(30);
    let code = totp_code(&staff.totp_secret, bo.now());
    client
        .post_form("/step-up/totp", &[("code", &code)])
        .await
        .expect_redirect("/");
}

async fn each_switch_through_the_back_office(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let id = Desk::new(bo.gateway().clone())
        .open(
            &Principal::System("test".into()),
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
    let detail = format!("/incidents/{id}");
    let post = format!("{detail}/switch");
    let shop = bo.storefront(Some(bo.state.switches.maintenance())).await;
    let (shop, _server) = (shop.base(), shop.server);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(http.get(&shop).send().await.unwrap().status(), 200);

    let (manager, client) = bo.member(Role::Manager).await;
    let page = client.get(&detail).await;
    assert_eq!(
        page.count("form.switch-form"),
        3,
        "a manager cannot freeze staff"
    );

    // A second factor older than the step-up window: to the step-up page, nothing changes.
    bo.advance(bo.state.config.step_up_window.as_secs() + 60);
    let res = client
        .post_form(
            &post,
            &[("switch", "shop"), ("to", "on"), ("reason", "改ざん調査")],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/step-up"));
    assert!(!bo.state.switches.shop_closed());
    assert!(bo.store().guard_switch("shop").await.unwrap().is_none());
    step_up(&bo, &client, &manager).await;

    // No reason: back to the page, nothing changes.
    client.get(&detail).await.expect(200);
    let res = client
        .post_form(&post, &[("switch", "shop"), ("to", "on"), ("reason", " ")])
        .await;
    res.expect_redirect(&detail);
    assert!(!bo.state.switches.shop_closed());
    assert!(bo.store().guard_switch("shop").await.unwrap().is_none());

    // Closing the shop, with the public notice.
    let ledger_before = bo.ledger_len().await;
    let res = client
        .post_form(
            &post,
            &[
                ("switch", "shop"),
                ("to", "on"),
                ("reason", "決済ページ改ざんの調査"),
                ("notice_url", "https://shop.example.jp/news/2027-01-08"),
            ],
        )
        .await;
    res.expect_redirect(&detail);
    assert!(bo.state.switches.shop_closed());
    let res = http.get(&shop).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let body = res.text().await.unwrap();
    assert!(body.contains("ただいまメンテナンス中です"), "{body}");
    assert!(body.contains("href=\"https://shop.example.jp/news/2027-01-08\""));
    for path in ["/cart", "/login", "/no-such-page"] {
        let res = http.get(format!("{shop}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 503, "{path}");
    }
    // The provider's webhook reaches its handler (unsigned: refused there, not by maintenance);
    // so does the customer's return from the provider.
    let res = http
        .post(format!("{shop}/payments/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 503);
    let res = http
        .get(format!("{shop}/checkout/return?payment_id=pay_unknown"))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 503);
    // So do the public notices with their inquiry forms (the maintenance page links one; none
    // is published here, so they answer 404 themselves) and the stylesheet their pages use.
    for path in [
        "/oshirase/1".to_owned(),
        "/oshirase/1/inquiry".to_owned(),
        mamori_web::page::STYLESHEET_PATH.clone(),
    ] {
        let res = http.get(format!("{shop}{path}")).send().await.unwrap();
        assert_ne!(res.status(), 503, "{path}");
    }
    // The back office stays reachable.
    let page = client.get(&detail).await;
    assert_eq!(page.status, 200);
    assert!(
        page.has("tr.switch[data-switch=shop][data-on=true]"),
        "{}",
        page.text
    );
    assert_eq!(page.count("tr.entry[data-kind=switch]"), 1);
    let events = bo.ledger_events_since(ledger_before).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == Action::Incident && e.purpose == "incident.switch"),
        "on the ledger"
    );

    // Card payment only: the guard's own switch.
    client
        .post_form(
            &post,
            &[
                ("switch", "card"),
                ("to", "on"),
                ("reason", "カード決済の停止"),
            ],
        )
        .await
        .expect_redirect(&detail);
    let card = bo
        .store()
        .guard_switch(CARD_PAYMENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.state, switch_state::CLOSED);
    assert!(bo.state.switches.card_stopped());
    client.get(&detail).await.expect(200);
    client
        .post_form(
            &post,
            &[("switch", "shop"), ("to", "off"), ("reason", "調査完了")],
        )
        .await
        .expect_redirect(&detail);
    assert_eq!(http.get(&shop).send().await.unwrap().status(), 200);
    client.get(&detail).await.expect(200);
    client
        .post_form(
            &post,
            &[("switch", "card"), ("to", "off"), ("reason", "調査完了")],
        )
        .await
        .expect_redirect(&detail);
    let card = bo
        .store()
        .guard_switch(CARD_PAYMENT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.state, switch_state::OPEN);

    // Freezing staff is for owners: the manager is refused.
    client.get(&detail).await.expect(200);
    let res = client
        .post_form(
            &post,
            &[
                ("switch", "staff"),
                ("to", "on"),
                ("reason", "不正利用の疑い"),
            ],
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(!bo.state.switches.staff_frozen());

    // The owner freezes: the manager's session ends, the owner works on.
    let (owner, oclient) = bo.member(Role::Owner).await;
    let page = oclient.get(&detail).await;
    assert_eq!(page.count("form.switch-form"), 4);
    oclient
        .post_form(
            &post,
            &[
                ("switch", "staff"),
                ("to", "on"),
                ("reason", "不正利用の疑い"),
            ],
        )
        .await
        .expect_redirect(&detail);
    assert!(bo.state.switches.staff_frozen());
    let res = client.get(&detail).await;
    assert_eq!(res.status, 303);
    assert!(res.location.as_deref().unwrap().starts_with("/login"));
    assert_eq!(
        client.get("/incidents").await.status,
        303,
        "the session ended"
    );
    oclient.get(&detail).await.expect(200);
    // Lifted: the manager signs in again and works.
    oclient
        .post_form(
            &post,
            &[("switch", "staff"), ("to", "off"), ("reason", "調査完了")],
        )
        .await
        .expect_redirect(&detail);
    let again = bo.signed_in(&manager).await;
    again.get(&detail).await.expect(200);

    // Keys: rotated while serving; the customer's data still opens.
    let customer = bo.customer("kaori@example.jp").await;
    let old = bo.gateway().active_master_key_id();
    step_up(&bo, &oclient, &owner).await;
    oclient.get(&detail).await.expect(200);
    oclient
        .post_form(
            &post,
            &[
                ("switch", "keys"),
                ("to", "on"),
                ("reason", "鍵ファイル漏えいのおそれ"),
            ],
        )
        .await
        .expect_redirect(&detail);
    let new = bo.gateway().active_master_key_id();
    assert_ne!(new, old);
    bo.gateway()
        .customer_masked(
            &Accessor::staff(&owner.id, "backoffice.customers.detail", "r1"),
            &customer,
        )
        .await
        .unwrap();
    let rewrapped = bo
        .ledger_events()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Rewrap)
        .count();
    assert_eq!(rewrapped, 1, "the data keys were re-wrapped, on the ledger");

    // The timeline, the staff log.
    let page = oclient.get(&detail).await;
    assert_eq!(page.count("tr.entry[data-kind=switch]"), 7, "{}", page.text);
    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                action_prefix: Some("incidents.switch".into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(log.items.len(), 7);

    // The auditor reads, with no switch to turn.
    let (_, auditor) = bo.member(Role::Auditor).await;
    let page = auditor.get(&detail).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.count("form.switch-form"), 0);
    let res = auditor
        .post_form(
            &post,
            &[("switch", "shop"), ("to", "on"), ("reason", "監査")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(!bo.state.switches.shop_closed());
}

both_backends!(each_switch_through_the_back_office);

/// The maintenance page as a customer's browser shows it (headless Chromium, SQLite): the
/// Japanese text, the link to the notice, no CSP refusal under its strict policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maintenance_page_in_chromium() {
    let bo = TestBackoffice::start(Backend::Sqlite).await;
    let desk = Desk::new(bo.gateway().clone());
    let id = desk
        .open(
            &Principal::System("test".into()),
            &NewIncident {
                kind: IncidentKind::Other,
                title: "メンテナンス表示の確認".into(),
                known_at: Utc::now(),
                window_from: None,
                window_to: None,
                principal: None,
                malicious: false,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    let shop = bo.storefront(Some(bo.state.switches.maintenance())).await;
    let (shop, _server) = (shop.base(), shop.server);
    bo.state
        .switches
        .set(
            &desk,
            id,
            &Principal::Staff("owner-1".into()),
            &mamori_respond::SwitchChange {
                switch: mamori_respond::Switch::Shop,
                on: true,
                reason: "調査のため".into(),
                notice_url: Some("https://shop.example.jp/news/1".into()),
            },
        )
        .await
        .unwrap();
    let browser = mamori_e2e::Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.goto(&format!("{shop}/")).await.unwrap();
    assert_eq!(
        page.text("h1").await.unwrap().trim(),
        "ただいまメンテナンス中です"
    );
    assert_eq!(
        page.attribute("main a", "href").await.unwrap().as_deref(),
        Some("https://shop.example.jp/news/1")
    );
    page.screenshot("shop_maintenance").await.unwrap();
    let messages = page.console_messages().await.unwrap();
    assert!(
        !messages.iter().any(|m| m.is_csp_violation()),
        "{:?}",
        messages.iter().map(|m| m.to_string()).collect::<Vec<_>>()
    );
    browser.close().await.unwrap();
}
