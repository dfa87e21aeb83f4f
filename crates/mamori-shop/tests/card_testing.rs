//! Card testing (クレジットマスター) and credential stuffing, through the real shop over HTTP
//! and the real sandbox provider, on SQLite and PostgreSQL. Several client addresses are real
//! loopback addresses (127.0.0.2, 127.0.0.3, ...), so the shop counts them as it would count
//! clients on the internet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{path_of, Backend, ShopClient, TestShop};
use mamori_guard::kinds;
use mamori_store::fraud::{FraudConfig, StuffingConfig, Window};
use mamori_store::AlertFilter;
use mamori_testkit::both_backends;
use mamori_testkit::web::pay_on_provider;

both_backends!(
    twenty_declines_from_one_client_stop_it_before_the_provider,
    an_honest_customer_with_two_declines_pays,
    a_card_declined_from_several_addresses_stops_them,
    shop_wide_declines_add_a_step_to_every_card_attempt,
    many_accounts_failed_from_one_source_raise_one_alert,
    a_member_mistyping_their_password_raises_nothing,
);

fn buyer() -> Vec<(&'static str, &'static str)> {
    vec![
        ("buyer_family", "山田"),
        ("buyer_given", "太郎"),
        ("buyer_family_kana", "やまだ"),
        ("buyer_given_kana", "タロウ"),
        ("buyer_postal_code", "100-0001"),
        ("buyer_prefecture", "東京都"),
        ("buyer_city", "千代田区"),
        ("buyer_line1", "千代田1-1"),
        ("buyer_line2", ""),
        ("buyer_phone", "090-1234-5678"),
        ("buyer_email", "taro.yamada@example.jp"),
        ("ship_to", "buyer"),
        ("delivery_date", ""),
        ("delivery_slot", ""),
        ("payment", "card"),
    ]
}

fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A card order up to its confirmation; returns the placement's answer.
async fn place_card_order(c: &ShopClient) -> common::Resp {
    c.get("/product/BK-4001").await.expect(200);
    c.post_form("/cart/add", &[("sku", "BK-4001"), ("quantity", "1")])
        .await
        .expect_redirect("/cart");
    c.get("/checkout").await.expect(200);
    c.post_form("/checkout", &buyer())
        .await
        .expect_redirect("/checkout/confirm");
    let key = c.get("/checkout/confirm").await.input_value("key").unwrap();
    c.post_form("/checkout/place", &[("key", &key)]).await
}

/// Pays at `pay_url` with a declining `card` and follows the provider back to the shop (which
/// looks the payment up and records the decline); returns the order number from the page.
async fn decline(c: &ShopClient, pay_url: &str, card: &str) -> String {
    assert!(
        pay_url.starts_with("http") && pay_url.contains("/pay/"),
        "to the provider: {pay_url}"
    );
    let back = pay_on_provider(pay_url, card).await;
    let page = c.get(&path_of(&back)).await;
    page.expect(200);
    assert!(page.has("#payment-error"));
    page.input_value("number").unwrap()
}

async fn alerts_of(shop: &TestShop, kind: &str) -> Vec<mamori_store::AlertRow> {
    shop.store()
        .alerts_page(
            &AlertFilter {
                state: None,
                kind: Some(kind.to_owned()),
            },
            0,
            100,
        )
        .await
        .unwrap()
        .items
}

/// Waits until `n` alerts of `kind` are stored (a decline learnt through the provider's webhook
/// raises in that request, beside the test's own), then checks there are exactly `n`.
async fn wait_for_alerts(shop: &TestShop, kind: &str, n: usize) -> Vec<mamori_store::AlertRow> {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let alerts = alerts_of(shop, kind).await;
        if alerts.len() >= n || tokio::time::Instant::now() > deadline {
            assert_eq!(alerts.len(), n, "{alerts:?}");
            return alerts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn order_count(shop: &TestShop) -> i64 {
    shop.store()
        .orders_search(&mamori_store::OrderFilter::default(), 0, 1)
        .await
        .unwrap()
        .total
}

/// The card form is gone and the stop is explained in Japanese; another method is offered.
async fn assert_card_stopped(c: &ShopClient) {
    let form = c.get("/checkout").await;
    form.expect(200);
    assert!(form.has("#card-stopped"), "the stop is explained");
    assert!(form.text.contains("カード決済を一時的に停止しています"));
    assert!(!form.has("#payment_card"), "card is not offered");
    assert!(
        form.has("#payment_bank_transfer"),
        "the other methods remain"
    );
}

async fn twenty_declines_from_one_client_stop_it_before_the_provider(backend: Backend) {
    let shop = TestShop::start_with_fraud(backend, FraudConfig::default()).await;
    // One address, five sessions of four distinct declined cards each (a script rotating its
    // cookies, under the per-session limits).
    let mut card = 0u16;
    for _ in 0..5 {
        let c = ShopClient::from_address(&shop.base_url, loopback(2));
        let placed = place_card_order(&c).await;
        let number = decline(
            &c,
            placed.location.as_deref().unwrap(),
            &mamori_pay::declining_card(card),
        )
        .await;
        card += 1;
        for _ in 0..3 {
            let retry = c.post_form("/checkout/retry", &[("number", &number)]).await;
            decline(
                &c,
                retry.location.as_deref().unwrap(),
                &mamori_pay::declining_card(card),
            )
            .await;
            card += 1;
        }
    }
    assert_eq!(shop.sandbox.card_attempts(), 20);
    let orders = order_count(&shop).await;
    wait_for_alerts(&shop, kinds::CARD_TESTING, 1).await;

    // The twenty-first attempt, from a fresh session on the same address: no order, no payment.
    let c = ShopClient::from_address(&shop.base_url, loopback(2));
    let refused = place_card_order(&c).await;
    assert_eq!(refused.location.as_deref(), Some("/checkout"));
    assert_card_stopped(&c).await;
    assert_eq!(order_count(&shop).await, orders, "no order was written");
    let alerts = alerts_of(&shop, kinds::CARD_TESTING).await;
    assert_eq!(alerts.len(), 1, "one alert for the one condition");
    let alert = &alerts[0];
    assert!(
        alert.subject.starts_with("principal:card-ip:"),
        "{}",
        alert.subject
    );
    assert!(
        alert.seen_count >= 2,
        "the refusal was seen on the same alert"
    );
    assert!(
        !alert.subject.contains("127.0.0"),
        "no address in the alert"
    );
    assert!(
        !alert.evidence.contains("127.0.0"),
        "no address in the alert"
    );
    assert!(
        alert.evidence.contains("\"declines\":20"),
        "{}",
        alert.evidence
    );

    assert_eq!(
        shop.sandbox.card_attempts(),
        20,
        "the provider saw exactly 20"
    );

    // Another address is not stopped, and the stopped one may still pay another way.
    let other = ShopClient::from_address(&shop.base_url, loopback(3));
    let placed = place_card_order(&other).await;
    assert!(placed.location.as_deref().unwrap().contains("/pay/"));
    let form = c.get("/checkout").await;
    assert!(form.has("#payment_bank_transfer"));
    let mut fields = buyer();
    fields.retain(|(k, _)| *k != "payment");
    fields.push(("payment", "bank_transfer"));
    c.post_form("/checkout", &fields)
        .await
        .expect_redirect("/checkout/confirm");
}

async fn an_honest_customer_with_two_declines_pays(backend: Backend) {
    let shop = TestShop::start_with_fraud(backend, FraudConfig::default()).await;
    let c = ShopClient::from_address(&shop.base_url, loopback(4));
    let placed = place_card_order(&c).await;
    let number = decline(&c, placed.location.as_deref().unwrap(), "4000000000000002").await;
    let retry = c.post_form("/checkout/retry", &[("number", &number)]).await;
    decline(&c, retry.location.as_deref().unwrap(), "4000000000009995").await;
    let retry = c.post_form("/checkout/retry", &[("number", &number)]).await;
    let back = pay_on_provider(retry.location.as_deref().unwrap(), "4242424242424242").await;
    c.get(&path_of(&back))
        .await
        .expect_redirect("/checkout/complete/");
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state.as_str(), "paid");
    assert!(alerts_of(&shop, kinds::CARD_TESTING).await.is_empty());
    // Two declines this hour, as the dashboard will count them.
    let hour = chrono::Utc::now().timestamp() - 3600;
    let per_hour = shop.store().card_declines_per_hour(hour).await.unwrap();
    assert_eq!(per_hour.iter().map(|h| h.count).sum::<i64>(), 2);
    // The fingerprint came with the provider's answer, and is no card number.
    let attempts = shop.store().payments_of_order(&order.id).await.unwrap();
    assert_eq!(attempts.len(), 3);
    for a in &attempts {
        let row = shop
            .store()
            .card_attempt_outcome(&a.payment_id, None, None)
            .await
            .unwrap()
            .unwrap()
            .0;
        let fp = row.fingerprint.expect("a fingerprint per attempt");
        assert!(mamori_pay::is_valid_fingerprint(&fp), "{fp}");
        // A hex digest holds any four given digits now and then, so look for eight: the
        // number's first eight (the issuer range) or last eight never show in it.
        for pan in ["4000000000000002", "4000000000009995", "4242424242424242"] {
            assert!(!fp.contains(&pan[..8]) && !fp.contains(&pan[8..]), "{fp}");
        }
    }
}

async fn a_card_declined_from_several_addresses_stops_them(backend: Backend) {
    let config = FraudConfig::default(); // five declines of one card a day
    let shop = TestShop::start_with_fraud(backend, config).await;
    // The same card, declined once from each of five addresses: no address and no session
    // reaches its own threshold.
    for n in 10..15 {
        let c = ShopClient::from_address(&shop.base_url, loopback(n));
        let placed = place_card_order(&c).await;
        decline(&c, placed.location.as_deref().unwrap(), "4000000000000002").await;
    }
    assert_eq!(shop.sandbox.card_attempts(), 5);
    let alerts = wait_for_alerts(&shop, kinds::CARD_TESTING, 1).await;
    assert!(alerts[0]
        .subject
        .starts_with("principal:card-fingerprint:fp_"));
    assert!(!alerts[0].subject.contains("00000002"));

    // Every address that tried the card is stopped, in a fresh session too.
    for n in [10, 14] {
        let c = ShopClient::from_address(&shop.base_url, loopback(n));
        let refused = place_card_order(&c).await;
        assert_eq!(refused.location.as_deref(), Some("/checkout"));
        assert_card_stopped(&c).await;
    }
    assert_eq!(shop.sandbox.card_attempts(), 5);
    assert_eq!(alerts_of(&shop, kinds::CARD_TESTING).await.len(), 1);
    // An address that never tried it goes to the provider.
    let c = ShopClient::from_address(&shop.base_url, loopback(20));
    let placed = place_card_order(&c).await;
    assert!(placed.location.as_deref().unwrap().contains("/pay/"));
}

async fn shop_wide_declines_add_a_step_to_every_card_attempt(backend: Backend) {
    let mut config = FraudConfig::default();
    config.card.shop = Window { max: 3, secs: 600 };
    config.card.shop_delay_secs = 1;
    let shop = TestShop::start_with_fraud(backend, config).await;
    // Three declines of three cards from three addresses: each client is far from its own
    // thresholds, the shop is at its own.
    for n in 0..3u8 {
        let c = ShopClient::from_address(&shop.base_url, loopback(30 + n));
        let placed = place_card_order(&c).await;
        decline(
            &c,
            placed.location.as_deref().unwrap(),
            &mamori_pay::declining_card(u16::from(n)),
        )
        .await;
    }
    let alerts = wait_for_alerts(&shop, kinds::CARD_TESTING, 1).await;
    assert_eq!(alerts[0].subject, "principal:card-shop");
    assert_eq!(alerts[0].severity, "critical");

    // A new customer's card order: placed, then a confirmation page instead of the provider.
    let c = ShopClient::from_address(&shop.base_url, loopback(40));
    let placed = place_card_order(&c).await;
    placed.expect(200);
    assert!(placed.has("#card-step-notice"));
    let number = placed.input_value("number").unwrap();
    let token = placed.input_value("token").unwrap();
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert!(
        shop.store()
            .payments_of_order(&order.id)
            .await
            .unwrap()
            .is_empty(),
        "no payment at the provider before the step"
    );
    // Confirmed: after the delay, to the provider.
    let go = c
        .post_form(
            "/checkout/card-step",
            &[("number", &number), ("token", &token)],
        )
        .await;
    assert!(go.location.as_deref().unwrap().contains("/pay/"));
    assert_eq!(
        shop.store()
            .payments_of_order(&order.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // The token is used up: posting it again creates nothing.
    let again = c
        .post_form(
            "/checkout/card-step",
            &[("number", &number), ("token", &token)],
        )
        .await;
    assert_eq!(
        again.location.as_deref(),
        Some(format!("/checkout/complete/{number}").as_str())
    );
    assert_eq!(
        shop.store()
            .payments_of_order(&order.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // A retry takes the step again, with a fresh token.
    let retry = c.post_form("/checkout/retry", &[("number", &number)]).await;
    retry.expect(200);
    let fresh = retry.input_value("token").unwrap();
    assert_ne!(fresh, token);
    assert_eq!(alerts_of(&shop, kinds::CARD_TESTING).await.len(), 1);
}

fn stuffing_config() -> FraudConfig {
    FraudConfig {
        stuffing: StuffingConfig {
            accounts: 5,
            window_secs: 3600,
        },
        ..FraudConfig::default()
    }
}

async fn login_attempt(c: &ShopClient, email: &str, password: &str) -> common::Resp {
    c.get("/login").await.expect(200);
    c.post_form(
        "/login",
        &[("email", email), ("password", password), ("next", "")],
    )
    .await
}

async fn many_accounts_failed_from_one_source_raise_one_alert(backend: Backend) {
    let shop = TestShop::start_with_fraud(backend, stuffing_config()).await;
    shop.member("hanako@example.jp", "佐藤", "花子").await;
    let c = ShopClient::from_address(&shop.base_url, loopback(50));
    // A leaked list: one password tried against many addresses (one of them a real member).
    let list = [
        "hanako@example.jp",
        "a.ito@example.jp",
        "k.suzuki@example.jp",
        "m.tanaka@example.jp",
        "y.watanabe@example.jp",
    ];
    for email in list {
        let res = login_attempt(&c, email, "password123456").await;
        res.expect(200);
        assert!(res.text.contains("正しくありません"));
    }
    let alerts = wait_for_alerts(&shop, kinds::LOGIN_STUFFING, 1).await;
    let alert = &alerts[0];
    assert!(alert.subject.starts_with("principal:login-member:"));
    assert!(
        alert.evidence.contains("\"distinct_accounts\":5"),
        "{}",
        alert.evidence
    );
    for email in list {
        let local = email.split('@').next().unwrap();
        assert!(!alert.subject.contains(local) && !alert.evidence.contains(local));
    }
    assert!(!alert.evidence.contains('@') && !alert.subject.contains("127.0.0"));

    // The source is refused now, even with the right password of a real member.
    let refused = login_attempt(&c, "hanako@example.jp", common::PASSWORD).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    let alerts = alerts_of(&shop, kinds::LOGIN_STUFFING).await;
    assert_eq!(alerts.len(), 1, "still one alert");
    assert!(alerts[0].seen_count >= 2);
    // Another address signs in normally.
    let other = ShopClient::from_address(&shop.base_url, loopback(51));
    other.login("hanako@example.jp", common::PASSWORD).await;
    let hour = chrono::Utc::now().timestamp() - 3600;
    let per_hour = shop
        .store()
        .login_failures_per_hour("member", hour)
        .await
        .unwrap();
    assert_eq!(per_hour.iter().map(|h| h.count).sum::<i64>(), 5);
}

async fn a_member_mistyping_their_password_raises_nothing(backend: Backend) {
    let shop = TestShop::start_with_fraud(backend, stuffing_config()).await;
    shop.member("jiro@example.jp", "鈴木", "次郎").await;
    let c = ShopClient::from_address(&shop.base_url, loopback(60));
    for typo in [
        "correct horse battery stapel",
        "Correct horse battery staple",
        "correcthorsebatterystaple",
        "correct horse battery",
        "correct horse battery staples",
        "correct horse batery staple",
    ] {
        let res = login_attempt(&c, "jiro@example.jp", typo).await;
        res.expect(200);
    }
    c.login("jiro@example.jp", common::PASSWORD).await;
    assert!(alerts_of(&shop, kinds::LOGIN_STUFFING).await.is_empty());
}
