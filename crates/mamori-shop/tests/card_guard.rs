//! Fail closed: a change to the payment path on disk (here the binary) closes card payment
//! within a second; the checkout then offers the other methods with a Japanese notice and
//! refuses a card order, until an owner approves the new baseline. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, TestShop};
use mamori_guard::files::{
    Baseline, Check, FileGuard, FileRole, GuardKey, PaymentRule, WatchItem, WatchSpec,
};
use mamori_guard::{AlertConfig, Alerts};
use mamori_testkit::both_backends;

fn buyer(payment: &'static str) -> Vec<(&'static str, &'static str)> {
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
        ("payment", payment),
    ]
}

async fn a_changed_binary_closes_card_payment_until_approved(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("mamori");
    std::fs::write(&bin, b"\x7fELF v1").unwrap();
    let spec = WatchSpec {
        items: vec![WatchItem {
            path: bin.clone(),
            role: FileRole::Binary,
            check: Check::Content,
            payment: PaymentRule::Any,
        }],
    };
    let key = GuardKey::create(&dir.path().join("guard.key")).unwrap();
    let baseline = dir.path().join("guard-baseline.json");
    Baseline::observe(&spec)
        .write_signed(&key, &baseline)
        .unwrap();
    let alerts = Alerts::new(
        shop.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let guard = Arc::new(FileGuard::open(spec, baseline, key, alerts).unwrap());
    let _watch = guard.watch(Duration::from_secs(300)).unwrap();

    let c = shop.client();
    c.get("/product/PT-1001").await.expect(200);
    c.post_form("/cart/add", &[("sku", "PT-1001"), ("quantity", "1")])
        .await
        .expect_redirect("/cart");
    let form = c.get("/checkout").await;
    assert!(form.has("#payment_card"));
    assert!(!form.has("#card-closed"));
    // A card order confirmed before the change.
    c.post_form("/checkout", &buyer("card"))
        .await
        .expect_redirect("/checkout/confirm");
    let key = c.get("/checkout/confirm").await.input_value("key").unwrap();

    std::fs::write(&bin, b"\x7fELF v2 with a skimmer").unwrap();
    let start = Instant::now();
    loop {
        let form = c.get("/checkout").await;
        if !form.has("#payment_card") {
            assert!(form.has("#card-closed"));
            assert!(form
                .text
                .contains("クレジットカードでのお支払いを一時停止しております"));
            assert!(
                form.has("#payment_bank_transfer"),
                "the other methods remain"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not closed within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The card order confirmed earlier is not placed, and no card form is accepted.
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    assert_eq!(placed.location.as_deref(), Some("/checkout"));
    let refused = c.post_form("/checkout", &buyer("card")).await;
    assert_eq!(refused.status, 422);
    let orders = shop
        .store()
        .orders_search(&mamori_store::OrderFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(orders.total, 0);

    // Putting the file back is not enough; the owner's approval is.
    std::fs::write(&bin, b"\x7fELF v1").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!c.get("/checkout").await.has("#payment_card"));
    guard
        .approve("owner-1", "更新を確認しました（作業票 9）", "req-1")
        .await
        .unwrap();
    let form = c.get("/checkout").await;
    assert!(form.has("#payment_card"));
    assert!(!form.has("#card-closed"));
}

both_backends!(a_changed_binary_closes_card_payment_until_approved);
