//! The order mail through the whole shop (checkout, the outbox, the worker, a real SMTP
//! catcher), on SQLite and PostgreSQL: in the customer's language only; the postal code once;
//! the 代引き fee apart from shipping; 名入れ and のし under their line; the bank account and
//! deadline of a bank transfer (from the shop's settings); store pickup speaks of the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, ShopClient, TestShop};
use mamori_testkit::both_backends;

both_backends!(
    cash_on_delivery_mail_with_gifts_in_japanese,
    bank_transfer_mail_in_english_names_account_and_deadline,
    store_pickup_mail_speaks_of_the_store,
);

fn buyer(payment: &'static str, email: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("buyer_family", "山田"),
        ("buyer_given", "太郎"),
        ("buyer_family_kana", "やまだ"),
        ("buyer_given_kana", "タロウ"),
        ("buyer_postal_code", "１００－０００１"),
        ("buyer_prefecture", "東京都"),
        ("buyer_city", "千代田区"),
        ("buyer_line1", "千代田１－１"),
        ("buyer_line2", ""),
        ("buyer_phone", "０９０-１２３４-５６７８"),
        ("buyer_email", email),
        ("ship_to", "buyer"),
        ("delivery_date", ""),
        ("delivery_slot", "morning"),
        ("payment", payment),
    ]
}

/// Puts `sku` in the cart, checks out with `fields`, places the order; returns its number.
async fn order(c: &ShopClient, sku: &str, fields: &[(&str, &str)]) -> String {
    c.get(&format!("/product/{sku}")).await.expect(200);
    c.post_form("/cart/add", &[("sku", sku), ("quantity", "1")])
        .await
        .expect_redirect("/cart");
    c.get("/checkout").await.expect(200);
    c.post_form("/checkout", fields)
        .await
        .expect_redirect("/checkout/confirm");
    let key = c.get("/checkout/confirm").await.input_value("key").unwrap();
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    placed.expect_redirect("/checkout/complete/");
    c.follow(&placed).await.text_of("#order-number").unwrap()
}

async fn cash_on_delivery_mail_with_gifts_in_japanese(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    let mut fields = buyer("cash_on_delivery", "cod.buyer@example.jp");
    fields.extend([
        ("name_0", "蒼太郎"),
        ("birth_0", ""),
        ("noshi_0", "oiwai"),
        ("noshi_name_0", "山田"),
    ]);
    let number = order(&c, "BN-3001", &fields).await;
    let mail = shop.wait_for_mail("cod.buyer@example.jp", &number).await;
    assert_eq!(
        mail.subject.replace(' ', ""),
        format!("【守り商店】ご注文ありがとうございます（注文番号{number}）")
    );
    let t = &mail.body;
    assert!(!t.contains("Dear") && !t.contains("Order number"), "{t}");
    assert_eq!(t.matches("100-0001").count(), 1, "postal code once: {t}");
    assert!(t.contains("〒100-0001\n東京都千代田区千代田1-1\n"), "{t}");
    // The banner ships free (over 10,000 yen): before, the 代引き fee showed as shipping.
    let shipping = t.lines().find(|l| l.starts_with("送料：")).unwrap();
    assert_eq!(
        shipping, "送料：0円",
        "the fee is not folded into shipping: {t}"
    );
    let fee = t.lines().find(|l| l.starts_with("代引き手数料：")).unwrap();
    assert_ne!(fee, "代引き手数料：0円", "{t}");
    assert!(t.contains("　名入れ：蒼太郎\n"), "{t}");
    assert!(t.contains("　のし：御祝 / 山田\n"), "{t}");
}

async fn bank_transfer_mail_in_english_names_account_and_deadline(backend: Backend) {
    use mamori_web::settings::keys;
    let shop = TestShop::start(backend).await;
    shop.store()
        .settings_put(
            keys::BANK_ACCOUNT,
            r#""守り銀行 丸の内支店 普通 7654321 モリシヨウテン""#,
            0,
            None,
        )
        .await
        .unwrap();
    shop.store()
        .settings_put(keys::BANK_TRANSFER_DAYS, "5", 0, None)
        .await
        .unwrap();
    let c = shop.client();
    c.get("/lang/en").await;
    let number = order(
        &c,
        "HL-2001",
        &buyer("bank_transfer", "bank.buyer@example.jp"),
    )
    .await;
    let mail = shop.wait_for_mail("bank.buyer@example.jp", &number).await;
    assert_eq!(
        mail.subject.replace(' ', ""),
        format!("[守り商店]Thankyouforyourorder(order{number})")
    );
    let t = &mail.body;
    assert!(t.starts_with("Dear 山田 太郎,"), "{t}");
    assert!(!t.contains("ご注文") && !t.contains("様\n"), "{t}");
    assert!(
        t.contains(
            "Please pay by bank transfer to:\n守り銀行 丸の内支店 普通 7654321 モリシヨウテン\n"
        ),
        "{t}"
    );
    let today = (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive();
    let deadline = today + chrono::Days::new(5);
    assert!(
        t.contains(&format!("Pay by: {}", deadline.format("%a %-d %b %Y"))),
        "{t}"
    );
    assert_eq!(t.matches("100-0001").count(), 1, "{t}");
}

async fn store_pickup_mail_speaks_of_the_store(backend: Backend) {
    use mamori_web::settings::keys;
    let shop = TestShop::start(backend).await;
    shop.store()
        .settings_put(keys::ADDRESS, r#""東京都千代田区丸の内1-1""#, 0, None)
        .await
        .unwrap();
    let c = shop.client();
    let number = order(
        &c,
        "PT-1001",
        &buyer("store_pickup", "pickup.buyer@example.jp"),
    )
    .await;
    let mail = shop.wait_for_mail("pickup.buyer@example.jp", &number).await;
    let t = &mail.body;
    assert!(
        t.contains("■店頭でのお受け取り\n守り商店\n東京都千代田区丸の内1-1\n"),
        "{t}"
    );
    for delivery in ["お届け", "配送", "〒", "時間帯"] {
        assert!(!t.contains(delivery), "{delivery} in a pickup mail: {t}");
    }
}
