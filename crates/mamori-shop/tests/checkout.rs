//! Storefront, cart and checkout, on SQLite and PostgreSQL, against the real sandbox provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{path_of, place_sample_order, Backend, ShopClient, TestShop, WAIT};
use mamori_pay::webhook::signature_header;
use mamori_testkit::both_backends;
use mamori_testkit::web::pay_on_provider;
use secrecy::ExposeSecret as _;

both_backends!(
    storefront_lists_searches_and_prices,
    guest_bank_transfer_order_once_per_key,
    card_payment_on_the_provider_page_marks_paid_once,
    declined_card_leaves_the_order_unpaid,
    declined_card_is_recorded_declined_and_no_sale,
    product_images_reach_the_storefront,
    checkout_prefills_the_member_not_their_gift_recipient,
    pages_say_things_one_way,
    store_pickup_speaks_of_pickup,
    legal_and_privacy_pages_come_from_the_settings,
    category_pages_sort_filter_and_show_where_you_are,
    forged_and_mismatched_webhooks_change_nothing,
    a_partial_refund_leaves_the_payment_paid,
    form_errors_answer_next_to_the_field,
    guest_cart_merges_into_member_cart,
    receipt_is_a_qualified_invoice,
    pages_carry_strict_csp,
    bad_input_gets_4xx_and_changes_nothing,
    cached_catalogue_follows_the_shops_own_stock_changes,
    lines_go_to_two_addresses,
    back_office_settings_shape_the_storefront,
    shipping_follows_the_prefecture_and_the_order_keeps_it,
);

fn buyer(payment: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("buyer_family", "山田"),
        ("buyer_given", "太郎"),
        ("buyer_family_kana", "やまだ"),
        ("buyer_given_kana", "タロウ"),
        // Full-width digits and dash, as Japanese keyboards type them.
        ("buyer_postal_code", "１００－０００１"),
        ("buyer_prefecture", "東京都"),
        ("buyer_city", "千代田区"),
        ("buyer_line1", "千代田１－１"),
        ("buyer_line2", ""),
        ("buyer_phone", "０９０-１２３４-５６７８"),
        ("buyer_email", "taro.yamada@example.jp"),
        ("ship_to", "buyer"),
        ("delivery_date", ""),
        ("delivery_slot", "morning"),
        ("payment", payment),
    ]
}

async fn add_to_cart(c: &ShopClient, sku: &str, qty: &str) {
    c.get(&format!("/product/{sku}")).await.expect(200);
    c.post_form("/cart/add", &[("sku", sku), ("quantity", qty)])
        .await
        .expect_redirect("/cart");
}

/// Fills the checkout form and lands on the confirmation page; returns the idempotency key.
async fn to_confirmation(c: &ShopClient, fields: &[(&str, &str)]) -> String {
    c.get("/checkout").await.expect(200);
    c.post_form("/checkout", fields)
        .await
        .expect_redirect("/checkout/confirm");
    let page = c.get("/checkout/confirm").await;
    page.expect(200);
    page.input_value("key")
        .expect("confirmation carries the key")
}

async fn order_count(shop: &TestShop) -> i64 {
    shop.store()
        .orders_search(&mamori_store::OrderFilter::default(), 0, 1)
        .await
        .unwrap()
        .total
}

async fn storefront_lists_searches_and_prices(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    let home = c.get("/").await;
    home.expect(200);
    assert!(
        home.text.contains("健康食品"),
        "categories on the home page"
    );
    let product = c.get("/product/HL-2001").await;
    product.expect(200);
    assert_eq!(product.text_of("#price").unwrap(), "3,240円（税込）");
    assert!(
        product.has("#reduced-mark"),
        "8% items carry the reduced-rate mark"
    );
    let standard = c.get("/product/PT-1001").await;
    assert!(!standard.has("#reduced-mark"));
    assert_eq!(c.get("/product/NOPE-1").await.status, 404);

    // Pagination: 30 extra products in one category make three pages of 12.
    let store = shop.store();
    for i in 0..30 {
        let mut p = store.product_by_sku("PT-1001").await.unwrap().unwrap();
        p.id = format!("prod-extra-{i}");
        p.sku = format!("PX-{i:04}");
        p.name_ja = format!("追加部品 {i}");
        store.upsert_product(&p).await.unwrap();
    }
    let first = c.get("/category/parts").await;
    first.expect(200);
    assert!(first.has("#next-page"));
    let last = c.get("/category/parts?page=3").await;
    last.expect(200);
    assert!(!last.has("#next-page"));
    assert_eq!(c.get("/category/parts?page=99").await.status, 404);
    assert_eq!(c.get("/category/parts?page=abc").await.status, 400);
    assert_eq!(c.get("/category/nope").await.status, 404);

    // Search normalises full-width input: "ＰＸ－０００１" finds "PX-0001"? names are searched, so
    // search a name with full-width digits.
    let found = c
        .get("/search?q=%E8%BF%BD%E5%8A%A0%E9%83%A8%E5%93%81%20%EF%BC%91%EF%BC%95")
        .await;
    found.expect(200);
    assert!(
        found.text.contains("追加部品 15"),
        "full-width １５ matched 15"
    );
    let none = c.get("/search?q=zzzz-nothing").await;
    assert!(none.has("#no-results"));
}

async fn guest_bank_transfer_order_once_per_key(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "HL-2001", "2").await; // 3,240 × 2 at 8%
    add_to_cart(&c, "PT-1001", "1").await; // 1,320 at 10%
    let cart = c.get("/cart").await;
    assert_eq!(cart.text_of("#cart-total").unwrap(), "7,800円（税込）");
    let stock_before = shop
        .store()
        .product_by_sku("HL-2001")
        .await
        .unwrap()
        .unwrap()
        .stock;

    let key = to_confirmation(&c, &buyer("bank_transfer")).await;
    let confirm = c.get("/checkout/confirm").await;
    // Items 7,800 + shipping 880 (the harness's fee, under 10,000) = 8,680;
    // 8%: 6,480 → tax 480; 10%: 1,320 + 880 = 2,200 → tax 200 (once per rate, rounded down).
    assert_eq!(shop.state.config.shipping_fee, 880);
    assert_eq!(confirm.text_of("#total").unwrap(), "8,680円（税込）");
    assert_eq!(confirm.text_of("#tax-reduced").unwrap(), "480");
    assert_eq!(confirm.text_of("#tax-standard").unwrap(), "200");

    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    placed.expect_redirect("/checkout/complete/");
    // Submitting again (double click, back button, second tab) makes no second order.
    let again = c.post_form("/checkout/place", &[("key", &key)]).await;
    assert_eq!(again.status, 303);
    assert_eq!(order_count(&shop).await, 1);

    let done = c.follow(&placed).await;
    done.expect(200);
    let number = done.text_of("#order-number").unwrap();
    assert_eq!(done.text_of("#order-total").unwrap(), "8,680円（税込）");
    let stock_after = shop
        .store()
        .product_by_sku("HL-2001")
        .await
        .unwrap()
        .unwrap()
        .stock;
    assert_eq!(stock_before - stock_after, 2, "stock taken once");
    assert!(c.get("/cart").await.has("#cart-empty"), "cart emptied");

    let mail = shop.wait_for_mail("taro.yamada@example.jp", &number).await;
    assert!(mail.body.contains("山田"), "the order mail names the buyer");
    assert!(mail.body.contains("8,680"), "and the total");
    // Exactly one order mail even after the second submission.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(shop.mails_to("taro.yamada@example.jp").len(), 1);

    // The order's personal values are sealed: the database holds no plaintext of them.
    let bundle = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bundle.state.as_str(), "pending_payment");
    assert_eq!(bundle.payment_method.as_str(), "bank_transfer");
    assert_eq!(bundle.total, 8_680);
}

async fn card_payment_on_the_provider_page_marks_paid_once(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "BK-4001", "1").await;
    let key = to_confirmation(&c, &buyer("card")).await;
    let confirm = c.get("/checkout/confirm").await;
    let csp = confirm.header("content-security-policy").unwrap();
    assert!(
        csp.contains(shop.sandbox_url.trim_end_matches('/')),
        "the confirmation may post to the provider's origin: {csp}"
    );
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    assert_eq!(placed.status, 303);
    let pay_url = placed.location.clone().unwrap();
    assert!(
        pay_url.starts_with(&shop.sandbox_url),
        "the card is typed on the provider's origin, not the shop's: {pay_url}"
    );
    let back = pay_on_provider(&pay_url, "4242424242424242").await;
    assert!(back.starts_with(&shop.base_url), "{back}");
    let ret = c.get(&path_of(&back)).await;
    ret.expect_redirect("/checkout/complete/");
    let done = c.follow(&ret).await;
    let number = done.text_of("#order-number").unwrap();
    assert_eq!(done.text_of("#card").unwrap(), "VISA **** 4242");
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state.as_str(), "paid");
    let payment = shop
        .store()
        .payment_of_order(&order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.last4.as_deref(), Some("4242"));
    assert_eq!(payment.brand.as_deref(), Some("visa"));
    // The webhook also arrives; the order mail is sent exactly once.
    shop.wait_for_mail("taro.yamada@example.jp", &number).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(shop.mails_to("taro.yamada@example.jp").len(), 1);
    // Going back to the return URL again changes nothing.
    c.get(&path_of(&back))
        .await
        .expect_redirect("/checkout/complete/");
    assert_eq!(order_count(&shop).await, 1);
}

async fn declined_card_leaves_the_order_unpaid(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "BK-4001", "1").await;
    let key = to_confirmation(&c, &buyer("card")).await;
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    let back = pay_on_provider(placed.location.as_deref().unwrap(), "4000000000000002").await;
    let page = c.get(&path_of(&back)).await;
    assert_eq!(page.status, 200);
    assert!(page
        .text_of("#payment-error")
        .unwrap()
        .contains("承認されませんでした"));
    let number = page.input_value("number").unwrap();
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.state.as_str(), "pending_payment");
    // A retry goes to a fresh payment on the provider.
    let first_id = path_of(&back).rsplit('=').next().unwrap().to_owned();
    let retry = c.post_form("/checkout/retry", &[("number", &number)]).await;
    let again = retry.location.clone().unwrap();
    assert_ne!(again, placed.location.clone().unwrap());
    // The declined attempt's webhook arrives late, after the retry began: it updates that
    // attempt only, and the retry's return still finds its own payment.
    let now = chrono::Utc::now().timestamp();
    let first_url = placed.location.clone().unwrap();
    let late = webhook_body(&Event {
        id: "evt_late_declined_1",
        kind: "payment.failed",
        status: "failed",
        failure_reason: Some("card_declined"),
        last4: "0002",
        ..Event::of(&first_id, &number, order.total, &first_url, now)
    });
    let secret = shop.webhook_secret.expose_secret().to_owned();
    assert_eq!(post_webhook(&shop, &late, &secret, now).await, 200);
    // A good card then pays the order.
    let back = pay_on_provider(&again, "4242424242424242").await;
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
    let attempts = shop.store().payments_of_order(&order.id).await.unwrap();
    let states: Vec<(&str, &str)> = attempts
        .iter()
        .map(|p| (p.status.as_str(), p.last4.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(states, vec![("succeeded", "4242"), ("failed", "0002")]);
    assert_eq!(
        shop.store()
            .payment_of_order(&order.id)
            .await
            .unwrap()
            .unwrap()
            .payment_id,
        attempts[0].payment_id
    );
}

/// A provider event about one payment, as the sandbox's webhook sends it (see
/// `crates/mamori-pay/PROTOCOL.md`): [`Event::of`] is a card payment that succeeded.
#[derive(Clone, Copy)]
struct Event<'a> {
    id: &'a str,
    kind: &'a str,
    payment_id: &'a str,
    order_ref: &'a str,
    amount: i64,
    status: &'a str,
    failure_reason: Option<&'a str>,
    refunded: i64,
    last4: &'a str,
    redirect_url: &'a str,
    at: i64,
}

impl<'a> Event<'a> {
    fn of(
        payment_id: &'a str,
        order_ref: &'a str,
        amount: i64,
        redirect_url: &'a str,
        at: i64,
    ) -> Self {
        Event {
            id: "evt_test",
            kind: "payment.succeeded",
            payment_id,
            order_ref,
            amount,
            status: "succeeded",
            failure_reason: None,
            refunded: 0,
            last4: "4242",
            redirect_url,
            at,
        }
    }
}

/// The JSON body of `e`.
fn webhook_body(e: &Event<'_>) -> String {
    let mut payment = serde_json::json!({
        "id": e.payment_id, "order_ref": e.order_ref, "amount_jpy": e.amount,
        "currency": "jpy", "description": "x", "status": e.status,
        "refunded_jpy": e.refunded, "card": {"brand": "visa", "last4": e.last4},
        "redirect_url": e.redirect_url, "created": e.at
    });
    if let Some(reason) = e.failure_reason {
        payment["failure_reason"] = reason.into();
    }
    serde_json::json!({"id": e.id, "type": e.kind, "created": e.at, "payment": payment}).to_string()
}

async fn post_webhook(shop: &TestShop, body: &str, secret: &str, ts: i64) -> u16 {
    let sig = signature_header(&[secret.as_bytes()], ts, body.as_bytes());
    reqwest::Client::new()
        .post(shop.url(mamori_shop::WEBHOOK_PATH))
        .header("content-type", "application/json")
        .header(mamori_pay::SIGNATURE_HEADER, sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn forged_and_mismatched_webhooks_change_nothing(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "BK-4001", "1").await;
    let key = to_confirmation(&c, &buyer("card")).await;
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    let pay_url = placed.location.clone().unwrap();
    let payment_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let row = shop
        .store()
        .payment_by_provider_id(&payment_id)
        .await
        .unwrap()
        .unwrap();
    let order = shop
        .store()
        .order_header(&row.order_id)
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let event = |id: &str, amount: i64| {
        webhook_body(&Event {
            id,
            ..Event::of(&payment_id, &order.order_number, amount, &pay_url, now)
        })
    };
    // Forged: signed with a key the shop does not know.
    let forged = event("evt_forged_0001", order.total);
    assert_eq!(
        post_webhook(&shop, &forged, "whsec_attacker_key_123456", now).await,
        401
    );
    // Stale: the right key, a timestamp outside the window.
    let stale = event("evt_stale_0001", order.total);
    let secret = shop.webhook_secret.expose_secret().to_owned();
    assert_eq!(post_webhook(&shop, &stale, &secret, now - 3600).await, 401);
    // Correctly signed but for another amount: accepted as a message, never as a payment.
    let wrong = event("evt_wrong_amount_1", order.total + 1);
    assert_eq!(post_webhook(&shop, &wrong, &secret, now).await, 200);
    let after = shop
        .store()
        .order_header(&row.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state.as_str(), "pending_payment");
    // Replaying that signed event is refused as a duplicate and still changes nothing.
    assert_eq!(post_webhook(&shop, &wrong, &secret, now).await, 200);
    assert!(shop.mails_to("taro.yamada@example.jp").is_empty());
}

/// `payment.refunded` is sent for every refund: a partial one leaves the attempt paid (the order's
/// refunds record it), only a refund of the whole amount marks it refunded.
async fn a_partial_refund_leaves_the_payment_paid(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "BK-4001", "1").await;
    let key = to_confirmation(&c, &buyer("card")).await;
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    let pay_url = placed.location.clone().unwrap();
    let payment_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = pay_on_provider(&pay_url, "4242424242424242").await;
    c.get(&path_of(&back))
        .await
        .expect_redirect("/checkout/complete/");
    let row = shop
        .store()
        .payment_by_provider_id(&payment_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status.as_str(), "succeeded");
    let order = shop
        .store()
        .order_header(&row.order_id)
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let refunded = |id: &str, refunded: i64| {
        webhook_body(&Event {
            id,
            kind: "payment.refunded",
            status: "refunded",
            refunded,
            ..Event::of(&payment_id, &order.order_number, order.total, &pay_url, now)
        })
    };
    let secret = shop.webhook_secret.expose_secret().to_owned();
    let status = || async {
        shop.store()
            .payment_by_provider_id(&payment_id)
            .await
            .unwrap()
            .unwrap()
            .status
    };
    let part = refunded("evt_refund_part_1", 100);
    assert_eq!(post_webhook(&shop, &part, &secret, now).await, 200);
    assert_eq!(status().await.as_str(), "succeeded");
    let whole = refunded("evt_refund_whole_1", order.total);
    assert_eq!(post_webhook(&shop, &whole, &secret, now).await, 200);
    assert_eq!(status().await.as_str(), "refunded");
}

async fn form_errors_answer_next_to_the_field(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "PT-1001", "1").await;
    c.get("/checkout").await.expect(200);
    let mut fields = buyer("bank_transfer");
    for f in fields.iter_mut() {
        if f.0 == "buyer_postal_code" {
            f.1 = "12-345";
        }
        if f.0 == "buyer_phone" {
            f.1 = "abc";
        }
    }
    let page = c.post_form("/checkout", &fields).await;
    assert_eq!(page.status, 422);
    assert!(page.has("#buyer_postal_code-error"));
    assert!(page.has("#buyer_phone-error"));
    assert_eq!(
        page.input_value("buyer_postal_code").unwrap(),
        "12-345",
        "typed value kept"
    );
    assert_eq!(page.input_value("buyer_family").unwrap(), "山田");
    assert!(page.text.contains("郵便番号"), "the message is in Japanese");
    assert_eq!(order_count(&shop).await, 0);
}

async fn guest_cart_merges_into_member_cart(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let (member, _id) = shop.signed_in("hanako@example.jp", "鈴木", "花子").await;
    add_to_cart(&member, "PT-1002", "1").await;
    member.logout().await;
    // As a guest in the same browser, put something else in the cart, then sign in.
    add_to_cart(&member, "PT-1003", "2").await;
    member.login("hanako@example.jp", common::PASSWORD).await;
    let cart = member.get("/cart").await;
    assert!(
        cart.text.contains("PT-1002") && cart.text.contains("PT-1003"),
        "merged"
    );
    member.logout().await;
    assert!(
        member.get("/cart").await.has("#cart-empty"),
        "the guest cart was moved, not copied"
    );
}

async fn receipt_is_a_qualified_invoice(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let store = shop.store().clone();
    let put = |k: &'static str, v: &'static str| {
        let store = store.clone();
        async move { store.settings_put(k, v, 0, None).await.unwrap() }
    };
    put("shop.address", "\"東京都千代田区丸の内1-1-1\"").await;
    let c = shop.client();
    add_to_cart(&c, "HL-2004", "3").await; // 1,080 × 3 = 3,240 at 8%
    add_to_cart(&c, "BK-4001", "1").await;
    let key = to_confirmation(&c, &buyer("cash_on_delivery")).await;
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    let done = c.follow(&placed).await;
    let number = done.text_of("#order-number").unwrap();
    // Paid on delivery: no receipt before the money is collected.
    assert!(
        !done.has("#receipt-link"),
        "no receipt offered while unpaid"
    );
    assert_eq!(
        c.get(&format!("/orders/{number}/receipt")).await.status,
        404
    );
    let order = store.order_by_number(&number).await.unwrap().unwrap();
    assert!(store
        .transition_order(
            &order.id,
            &[mamori_domain::OrderState::PendingPayment],
            mamori_domain::OrderState::Delivered,
            1,
            &[]
        )
        .await
        .unwrap());
    assert!(c
        .get(&format!("/checkout/complete/{number}"))
        .await
        .has("#receipt-link"));

    let receipt = c.get(&format!("/orders/{number}/receipt")).await;
    receipt.expect(200);
    assert_eq!(
        receipt.text_of("#registration-number").unwrap(),
        shop.state.config.registration_number
    );
    assert_eq!(
        receipt.text_of("#shop-address").unwrap(),
        "東京都千代田区丸の内1-1-1"
    );
    assert_eq!(receipt.text_of("#red-amount").unwrap(), "3,240円");
    assert_eq!(receipt.text_of("#red-tax").unwrap(), "240円");
    let total = receipt.text_of("#receipt-total").unwrap();
    assert_eq!(
        total.matches("税込").count(),
        0,
        "said once, in the label: {total}"
    );
    assert!(receipt.text.contains("合計金額（税込）"));
    let issued = receipt.text_of("#issued-on").unwrap();
    assert!(
        issued.contains('年') && !issued.contains("年0"),
        "a Japanese date: {issued}"
    );
    assert!(receipt
        .text_of("#receipt-buyer")
        .unwrap()
        .contains("山田 太郎"));
    assert_eq!(
        receipt.header("cache-control").as_deref(),
        Some("no-store"),
        "a receipt with a name is a private page"
    );
    // The shop's settings change later: the issued receipt still says what it said.
    put("shop.registration_number", "\"T9999999999999\"").await;
    put("shop.address", "\"大阪府大阪市北区梅田1-1\"").await;
    put("shop.name", "\"新しい商店\"").await;
    let again = c.get(&format!("/orders/{number}/receipt")).await;
    assert_eq!(
        again.text_of("#registration-number").unwrap(),
        shop.state.config.registration_number
    );
    assert_eq!(
        again.text_of("#shop-address").unwrap(),
        "東京都千代田区丸の内1-1-1"
    );
    assert_eq!(again.text_of("#issued-on"), receipt.text_of("#issued-on"));
    // The legal notice follows the settings, with the address.
    let legal = c.get("/legal").await;
    assert_eq!(
        legal.text_of("#legal-address").unwrap(),
        "大阪府大阪市北区梅田1-1"
    );
    assert!(legal.text.contains("T9999999999999"));
    // Another browser cannot see it.
    assert_eq!(
        shop.client()
            .get(&format!("/orders/{number}/receipt"))
            .await
            .status,
        404
    );
}

async fn pages_carry_strict_csp(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "PT-1001", "1").await;
    for path in [
        "/",
        "/category/parts",
        "/product/PT-1001",
        "/cart",
        "/checkout",
        "/login",
        "/register",
        "/search?q=a",
    ] {
        let page = c.get(path).await;
        assert!(page.status < 400, "{path}: {}", page.status);
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("'nonce-") && csp.contains("'strict-dynamic'"),
            "{path}: {csp}"
        );
        assert!(csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!page.text.contains(" onclick=") && !page.text.contains(" onsubmit="));
        assert_eq!(
            page.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let _ = WAIT;
}

async fn bad_input_gets_4xx_and_changes_nothing(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    c.get("/").await;
    // Unknown parameter.
    let r = c
        .post_form(
            "/cart/add",
            &[("sku", "PT-1001"), ("quantity", "1"), ("evil", "1")],
        )
        .await;
    assert_eq!(r.status, 400);
    // Quantity out of range and not a number.
    assert_eq!(
        c.post_form("/cart/add", &[("sku", "PT-1001"), ("quantity", "1000")])
            .await
            .status,
        400
    );
    assert_eq!(
        c.post_form("/cart/add", &[("sku", "PT-1001"), ("quantity", "x")])
            .await
            .status,
        400
    );
    // Full-width quantity is fine.
    assert_eq!(
        c.post_form("/cart/add", &[("sku", "PT-1001"), ("quantity", "２")])
            .await
            .status,
        303
    );
    // Malformed UTF-8 in a form body.
    let token = c.csrf().await;
    let raw = reqwest::Client::new()
        .post(shop.url("/cart/add"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", shop.base_url.clone())
        .body(format!("_csrf={token}&sku=%FF%FE&quantity=1"))
        .send()
        .await
        .unwrap();
    assert!(raw.status().is_client_error());
    // Oversize body.
    let big = "a".repeat(200_000);
    let r = c.post_form("/checkout", &[("buyer_family", &big)]).await;
    assert_eq!(r.status, 413);
    let cart = c.get("/cart").await;
    assert!(cart.text.contains("PT-1001"));
    assert_eq!(order_count(&shop).await, 0);
}

async fn set_stock(shop: &TestShop, sku: &str, stock: i64) {
    let mut p = shop.store().product_by_sku(sku).await.unwrap().unwrap();
    p.stock = stock;
    shop.store().upsert_product(&p).await.unwrap();
}

async fn cached_catalogue_follows_the_shops_own_stock_changes(backend: Backend) {
    let shop = TestShop::start_with_cache_ttl(backend, std::time::Duration::from_secs(600)).await;
    let c = shop.client();
    set_stock(&shop, "HL-2001", 5).await;
    let stock = |page: &common::Resp| page.text_of("#stock").unwrap();
    assert_eq!(stock(&c.get("/product/HL-2001").await), "残りわずか（5）");

    // A change behind the shop's back shows only when the entry expires (here: not within the test).
    set_stock(&shop, "HL-2001", 9).await;
    assert_eq!(stock(&c.get("/product/HL-2001").await), "残りわずか（5）");

    // The shop's own sale drops the entry at once: 9 - 2.
    add_to_cart(&c, "HL-2001", "2").await;
    let key = to_confirmation(&c, &buyer("bank_transfer")).await;
    c.post_form("/checkout/place", &[("key", &key)])
        .await
        .expect_redirect("/checkout/complete/");
    assert_eq!(stock(&c.get("/product/HL-2001").await), "残りわずか（7）");
}

fn with(
    base: &[(&'static str, &'static str)],
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .copied()
        .collect();
    all.extend_from_slice(extra);
    all
}

const SECOND_ADDRESS: [(&str, &str); 9] = [
    ("ship2_family", "佐藤"),
    ("ship2_given", "次郎"),
    ("ship2_family_kana", "サトウ"),
    ("ship2_given_kana", "ジロウ"),
    ("ship2_postal_code", "530-0001"),
    ("ship2_prefecture", "大阪府"),
    ("ship2_city", "大阪市北区"),
    ("ship2_line1", "梅田1-1"),
    ("ship2_phone", "06-1234-5678"),
];

async fn lines_go_to_two_addresses(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "HL-2001", "1").await; // 3,240 at 8%
    add_to_cart(&c, "PT-1001", "1").await; // 1,320 at 10%
    let form = c.get("/checkout").await;
    assert_eq!(
        form.count("select[name^=dest_]"),
        2,
        "one delivery choice per line"
    );
    let second_name = shop
        .store()
        .product_by_sku("PT-1001")
        .await
        .unwrap()
        .unwrap()
        .name_ja;

    // A line sent to delivery 2 without its address: the address fields answer.
    let r = c
        .post_form(
            "/checkout",
            &with(&buyer("bank_transfer"), &[("dest_1", "2")]),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.has("#ship2_family-error"), "{}", r.text);
    // An address typed in but used by no line, or a delivery number out of range: refused too.
    let mut unused = with(&buyer("bank_transfer"), &[]);
    unused.extend_from_slice(&SECOND_ADDRESS);
    let r = c.post_form("/checkout", &unused).await;
    assert_eq!(r.status, 422);
    assert!(r.has("#ship2_family-error"));
    let r = c
        .post_form(
            "/checkout",
            &with(&buyer("bank_transfer"), &[("dest_0", "9")]),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(order_count(&shop).await, 0);

    let mut fields = with(&buyer("bank_transfer"), &[("dest_0", "1"), ("dest_1", "2")]);
    fields.extend_from_slice(&SECOND_ADDRESS);
    c.post_form("/checkout", &fields)
        .await
        .expect_redirect("/checkout/confirm");
    let confirm = c.get("/checkout/confirm").await;
    confirm.expect(200);
    // Each address under the free-shipping threshold pays its own fee: 880 × 2.
    assert_eq!(confirm.text_of("#shipping").unwrap(), "1,760円（税込）");
    assert_eq!(confirm.text_of("#total").unwrap(), "6,320円（税込）");
    assert!(confirm.text_of("#ship-to-2").unwrap().contains("佐藤 次郎"));
    let items2 = confirm.text_of("#delivery-items-2").unwrap();
    assert!(items2.contains(&second_name), "{items2}");
    let key = confirm.input_value("key").unwrap();
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    placed.expect_redirect("/checkout/complete/");
    let number = c.follow(&placed).await.text_of("#order-number").unwrap();

    let header = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header.shipping_fee, 1_760);
    let acc = mamori_store::Accessor::system("test", "test.read");
    let view = shop.gateway().order(&acc, &header.id).await.unwrap();
    assert_eq!(view.shipments.len(), 2);
    assert_eq!(view.item_shipments, vec![1, 2]);
    let second = view.shipments[1].recipient.name.expose().full_name();
    assert_eq!(second, "佐藤 次郎");

    let mail = shop.wait_for_mail("taro.yamada@example.jp", &number).await;
    let at = mail
        .body
        .find("■お届け先2（全2件）")
        .expect("second delivery in the mail");
    assert!(mail.body[at..].contains("佐藤 次郎"));
    assert!(mail.body[at..].contains(&second_name));
}

async fn back_office_settings_shape_the_storefront(backend: Backend) {
    use mamori_web::settings::keys;
    let shop = TestShop::start(backend).await;
    let put = |k: &'static str, v: &'static str| {
        let store = shop.store().clone();
        async move { store.settings_put(k, v, 0, None).await.unwrap() }
    };
    put(keys::NAME, r#""守り商店 本店""#).await;
    put(keys::REGISTRATION_NUMBER, r#""T1234567890123""#).await;
    put(keys::PAYMENT_METHODS, r#"["card", "cash_on_delivery"]"#).await;
    put(keys::DELIVERY_SLOTS, "false").await;

    let c = shop.client();
    assert_eq!(
        c.get("/").await.text_of("a.brand").unwrap(),
        "守り商店 本店"
    );
    assert!(c.get("/legal").await.text.contains("T1234567890123"));
    add_to_cart(&c, "PT-1001", "1").await;
    let form = c.get("/checkout").await;
    assert!(form.has("#payment_card"));
    assert!(
        !form.has("#payment_bank_transfer"),
        "a method switched off is not offered"
    );
    assert_eq!(form.count("#delivery_slot option"), 1, "only 指定なし");

    // A hand-made submission of what is switched off is refused next to the field.
    let r = c.post_form("/checkout", &buyer("bank_transfer")).await;
    assert_eq!(r.status, 422);
    assert!(
        r.text
            .contains("このお支払い方法は現在ご利用いただけません"),
        "{}",
        r.text
    );
    let mut slot = buyer("cash_on_delivery");
    slot.retain(|(k, _)| *k != "delivery_slot");
    slot.push(("delivery_slot", "morning"));
    assert_eq!(c.post_form("/checkout", &slot).await.status, 422);
    assert_eq!(order_count(&shop).await, 0);

    let mut ok = buyer("cash_on_delivery");
    ok.retain(|(k, _)| *k != "delivery_slot");
    ok.push(("delivery_slot", ""));
    c.post_form("/checkout", &ok)
        .await
        .expect_redirect("/checkout/confirm");
}

/// A declined attempt stays recorded as failed (placing again with the old confirmation's key does
/// not reopen it), the order is no sale while unpaid, and the session's next checkout is a new one.
async fn declined_card_is_recorded_declined_and_no_sale(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "BK-4004", "1").await;
    let key = to_confirmation(&c, &buyer("card")).await;
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    let back = pay_on_provider(placed.location.as_deref().unwrap(), "4000000000000002").await;
    let page = c.get(&path_of(&back)).await;
    let number = page.input_value("number").unwrap();
    let order = shop
        .store()
        .order_by_number(&number)
        .await
        .unwrap()
        .unwrap();
    let day = (
        order.placed_at - 86_400_000_000,
        order.placed_at + 86_400_000_000,
    );
    let sales = shop.store().sales_summary(day.0, day.1).await.unwrap();
    assert_eq!(
        (sales.orders, sales.total),
        (0, 0),
        "an unpaid card order is no sale"
    );

    // The old confirmation posted again (back button): the declined attempt stays declined.
    c.post_form("/checkout/place", &[("key", &key)]).await;
    let attempts = shop.store().payments_of_order(&order.id).await.unwrap();
    let states: Vec<&str> = attempts.iter().map(|p| p.status.as_str()).collect();
    assert_eq!(states, vec!["failed"]);

    // A new cart is a new order with a new key.
    add_to_cart(&c, "PT-1005", "1").await;
    let key2 = to_confirmation(&c, &buyer("cash_on_delivery")).await;
    assert_ne!(key2, key, "a new checkout key after an order was placed");
    let done = c
        .follow(&c.post_form("/checkout/place", &[("key", &key2)]).await)
        .await;
    let number2 = done.text_of("#order-number").unwrap();
    assert_ne!(number2, number);
    assert!(!done.has("#card"));
    assert_eq!(order_count(&shop).await, 2);
    let sales = shop.store().sales_summary(day.0, day.1).await.unwrap();
    assert_eq!(
        sales.orders, 1,
        "the COD order counts, the declined one not"
    );
}

/// A 4 × 3 PNG.
const PNG_4X3: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 3, 8, 2, 0,
    0, 0, 59, 150, 57, 145, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 56, 96, 96, 0, 71, 12, 56,
    57, 0, 14, 54, 13, 129, 134, 153, 75, 159, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

fn attr_of(page: &common::Resp, css: &str, name: &str) -> Option<String> {
    let sel = scraper::Selector::parse(css).unwrap();
    page.doc()
        .select(&sel)
        .next()
        .and_then(|e| e.value().attr(name).map(str::to_owned))
}

/// An image the back office stored shows on the product page and in listings, with the
/// product's name as its alt text, and is served with long caching and an ETag.
async fn product_images_reach_the_storefront(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let store = shop.store();
    let p = store.product_by_sku("BK-4004").await.unwrap().unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    store
        .product_image_insert(&mamori_store::model::ProductImageRow {
            id: id.clone(),
            product_id: p.id.clone(),
            content_type: "image/png".into(),
            bytes: PNG_4X3.to_vec(),
            width: 4,
            height: 3,
            sha256: vec![0xab; 32],
            created_at: 1,
        })
        .await
        .unwrap();
    let c = shop.client();
    let page = c.get("/product/BK-4004").await;
    page.expect(200);
    let src = format!("/images/{id}");
    assert_eq!(attr_of(&page, "#product-image", "src"), Some(src.clone()));
    assert_eq!(
        attr_of(&page, "#product-image", "alt"),
        Some(p.name_ja.clone())
    );
    let listing = c.get("/category/books").await;
    let sel = format!("img.thumb[src=\"{src}\"]");
    assert_eq!(attr_of(&listing, &sel, "alt"), Some(p.name_ja.clone()));
    assert!(!c.get("/product/BK-4001").await.has("#product-image"));

    let http = reqwest::Client::new();
    let res = http.get(shop.url(&src)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", "ab".repeat(32)));
    assert!(h.get("set-cookie").is_none(), "no session for an image");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG_4X3.as_slice());
    let again = http
        .get(shop.url(&src))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    for bad in ["/images/nope", "/images/..%2Fx", "/images/a%20b"] {
        assert_eq!(c.get(bad).await.status, 404, "{bad}");
    }
    // Off sale: its images go too.
    let mut off = p.clone();
    off.active = false;
    store.upsert_product(&off).await.unwrap();
    let gone = http.get(shop.url(&src)).send().await.unwrap();
    assert_eq!(gone.status(), 404);
}

/// A member's address book holds recipients (gifts): checkout's buyer is the member, with the
/// address they last gave as buyer, never the first address-book entry.
async fn checkout_prefills_the_member_not_their_gift_recipient(backend: Backend) {
    use mamori_domain::{Address, AddressParts, PersonName, Personal, PhoneNumber, Recipient};
    let shop = TestShop::start(backend).await;
    let (c, id) = shop.signed_in("buyer@example.jp", "鳩山", "花子").await;
    let gift = Recipient {
        name: Personal::new(PersonName::parse_with_kana("榊原", "健司", None, None).unwrap()),
        address: Personal::new(
            Address::parse(&AddressParts {
                postal_code: "5300001".into(),
                prefecture: "大阪府".into(),
                city: "大阪市北区".into(),
                line1: "梅田3-3-3".into(),
                line2: None,
            })
            .unwrap(),
        ),
        phone: Personal::new(PhoneNumber::parse("0612345678").unwrap()),
    };
    shop.gateway()
        .add_address(
            &mamori_store::Accessor::system("test", "test.setup"),
            &id,
            &gift,
        )
        .await
        .unwrap();
    add_to_cart(&c, "PT-1005", "1").await;
    let form = c.get("/checkout").await;
    form.expect(200);
    assert_eq!(form.input_value("buyer_family").as_deref(), Some("鳩山"));
    assert_ne!(
        form.input_value("buyer_city").as_deref(),
        Some("大阪市北区")
    );
    assert_ne!(
        form.input_value("buyer_phone").as_deref(),
        Some("0612345678")
    );
    assert_eq!(
        form.text_of("#buyer_prefecture option[selected]")
            .as_deref(),
        None,
        "no prefecture chosen for the member from a recipient"
    );
    // Once the member has ordered, their own address as buyer is offered again.
    place_sample_order(&shop, &id).await;
    let form = c.get("/checkout").await;
    assert_eq!(form.input_value("buyer_city").as_deref(), Some("千代田区"));
    assert_eq!(
        form.input_value("buyer_line2").as_deref(),
        Some("パークハイツ101")
    );

    // The gift recipient is offered as a delivery address to choose from the address book;
    // choosing it keeps what was typed and fills the delivery block.
    let entries = form.texts_of("#address-book button.book-entry");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].contains("榊原 健司") && entries[0].contains("大阪府大阪市北区梅田3-3-3"));
    let entry_id = {
        let sel = scraper::Selector::parse("#address-book button.book-entry").unwrap();
        form.doc()
            .select(&sel)
            .next()
            .and_then(|b| b.value().attr("value").map(str::to_owned))
            .unwrap()
    };
    let before = shop.store().ledger_size().await.unwrap();
    c.post_form(
        "/checkout/address",
        &[
            ("buyer_email", "typed@example.jp"),
            ("use_address", &entry_id),
        ],
    )
    .await
    .expect_redirect("/checkout#delivery");
    let form = c.get("/checkout").await;
    assert_eq!(form.input_value("ship_family").as_deref(), Some("榊原"));
    assert_eq!(form.input_value("ship_city").as_deref(), Some("大阪市北区"));
    assert!(form.has("#ship_to_other[checked]"));
    assert_eq!(
        form.input_value("buyer_email").as_deref(),
        Some("typed@example.jp")
    );
    let after = shop.store().ledger_size().await.unwrap();
    let purposes: Vec<String> = shop
        .store()
        .ledger_entries(before, after - before)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            mamori_store::access::AccessEvent::from_bytes(&e.event)
                .unwrap()
                .purpose
        })
        .collect();
    assert!(
        purposes.iter().any(|p| p == "checkout.address_book"),
        "the address book read is on the ledger: {purposes:?}"
    );
    // Another member's entry, or a made-up id, is not found.
    c.post_form("/checkout/address", &[("use_address", "no-such-entry")])
        .await
        .expect(404);
}

/// Small things said one way: no 8% line without 8% items, phones hyphenated, dates in Japanese,
/// 必須 on the checkout's required fields, and the terms registration asks to agree to.
async fn pages_say_things_one_way(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    add_to_cart(&c, "PT-1005", "1").await;
    let form = c.get("/checkout").await;
    for field in [
        "buyer_family",
        "buyer_given",
        "buyer_postal_code",
        "buyer_prefecture",
        "buyer_city",
        "buyer_line1",
        "buyer_phone",
        "buyer_email",
    ] {
        let mark = form.text_of(&format!("label[for={field}] .required"));
        assert_eq!(mark.as_deref(), Some("必須"), "{field} is marked required");
    }
    assert!(!form.has("label[for=buyer_line2] .required"));
    let _ = to_confirmation(&c, &buyer("bank_transfer")).await;
    let confirm = c.get("/checkout/confirm").await;
    assert!(confirm.has("#tax-standard"));
    assert!(!confirm.has("#tax-reduced"), "no 8% line without 8% items");
    assert!(confirm.text.contains("090-1234-5678"), "phone hyphenated");

    let (m, id) = shop.signed_in("dates@example.jp", "鳩山", "花子").await;
    let (_, number) = place_sample_order(&shop, &id).await;
    let detail = m.get(&format!("/mypage/orders/{number}")).await;
    detail.expect(200);
    assert!(detail.text.contains("090-1234-5678"), "phone hyphenated");
    assert!(
        detail.text.contains("2025年5月5日"),
        "名入れ date in Japanese"
    );
    assert!(!detail.text.contains("2025-05-05"));
    assert!(
        !detail.text.contains("年0"),
        "no zero-padded Japanese dates"
    );

    let terms = c.get("/terms").await;
    terms.expect(200);
    assert!(terms.text_of("h1").unwrap().contains("利用規約"));
    assert!(shop
        .client()
        .get("/register")
        .await
        .has("a[href=\"/terms\"]"));
}

/// A store-pickup order is ready for pickup, not shipped, and says where the store is.
async fn store_pickup_speaks_of_pickup(backend: Backend) {
    let shop = TestShop::start(backend).await;
    shop.store()
        .settings_put("shop.address", "\"東京都千代田区丸の内1-1-1\"", 0, None)
        .await
        .unwrap();
    let c = shop.client();
    add_to_cart(&c, "PT-1005", "1").await;
    let key = to_confirmation(&c, &buyer("store_pickup")).await;
    let done = c
        .follow(&c.post_form("/checkout/place", &[("key", &key)]).await)
        .await;
    assert_eq!(
        done.text_of("#pickup-address").as_deref(),
        Some("東京都千代田区丸の内1-1-1")
    );

    let (m, id) = shop.signed_in("pickup@example.jp", "鳩山", "花子").await;
    let mut order = common::sample_order(&id, "pickup-1");
    order.payment_method = mamori_domain::PaymentMethod::StorePickup;
    let placed = shop
        .gateway()
        .place_order(
            &mamori_store::Accessor::system("test", "test.setup"),
            &order,
            "P-1",
        )
        .await
        .unwrap();
    assert!(shop
        .store()
        .transition_order(
            &placed.order_id,
            &[mamori_domain::OrderState::PendingPayment],
            mamori_domain::OrderState::Shipped,
            1,
            &[]
        )
        .await
        .unwrap());
    let detail = m.get("/mypage/orders/P-1").await;
    detail.expect(200);
    assert!(detail.text.contains("受取準備完了"), "ready for pickup");
    assert!(!detail.text.contains("発送済み"));
    let list = m.get("/mypage/orders").await;
    assert!(list.text.contains("受取準備完了") && !list.text.contains("発送済み"));
    shop.store()
        .transition_order(
            &placed.order_id,
            &[mamori_domain::OrderState::Shipped],
            mamori_domain::OrderState::Delivered,
            2,
            &[],
        )
        .await
        .unwrap();
    let detail = m.get("/mypage/orders/P-1").await;
    assert!(detail.text.contains("お受け取り済み") && !detail.text.contains("配達完了"));
}

/// The 特定商取引法 page names the person responsible, the phone, the fees beyond the price, when
/// each offered method is paid, the delivery time and the returns policy; the privacy page its
/// purposes of use and the desk. Both follow the back office's settings.
async fn legal_and_privacy_pages_come_from_the_settings(backend: Backend) {
    use mamori_web::settings::keys;
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    let legal = c.get("/legal").await;
    legal.expect(200);
    assert!(legal.text_of("#legal-phone").unwrap().contains("開示"));
    assert!(legal
        .text_of("#legal-fees")
        .unwrap()
        .contains("代引き手数料"));
    assert!(legal.text_of("#legal-returns").unwrap().contains("8日以内"));
    let privacy = c.get("/privacy").await;
    assert!(privacy.texts_of("#privacy-purposes li").len() >= 3);

    for (k, v) in [
        (keys::REPRESENTATIVE, "守山 太郎"),
        (keys::PHONE, "03-1234-5678"),
        (keys::RETURNS, "名入れ商品のため返品はお受けできません。"),
        (keys::PRIVACY_PURPOSES, "商品の発送\nメールマガジンの配信"),
    ] {
        let value = serde_json::json!(v).to_string();
        shop.store().settings_put(k, &value, 0, None).await.unwrap();
    }
    let methods = serde_json::json!(["card", "bank_transfer"]).to_string();
    shop.store()
        .settings_put(keys::PAYMENT_METHODS, &methods, 0, None)
        .await
        .unwrap();
    let legal = c.get("/legal").await;
    assert_eq!(
        legal.text_of("#legal-representative").as_deref(),
        Some("守山 太郎")
    );
    assert_eq!(
        legal.text_of("#legal-phone").as_deref(),
        Some("03-1234-5678")
    );
    assert!(legal
        .text_of("#legal-returns")
        .unwrap()
        .contains("名入れ商品のため"));
    let fees = legal.text_of("#legal-fees").unwrap();
    assert!(
        !fees.contains("代引き") && fees.contains("振込手数料"),
        "{fees}"
    );
    let pay = legal.texts_of("#legal-payment li");
    assert_eq!(pay.len(), 2, "{pay:?}");
    assert!(
        pay.iter().any(|p| p.contains("日以内にお振り込み")),
        "{pay:?}"
    );
    let privacy = c.get("/privacy").await;
    assert_eq!(
        privacy.texts_of("#privacy-purposes li"),
        ["商品の発送", "メールマガジンの配信"]
    );
    assert!(privacy.text_of("#privacy-contact").unwrap().contains("@"));
}

/// Category pages sort by number, price or newest, filter to what is in stock, and pages show
/// where they are (breadcrumbs).
async fn category_pages_sort_filter_and_show_where_you_are(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    let skus = |page: &mamori_testkit::web::Resp| {
        let sel = scraper::Selector::parse(".card h3 a").unwrap();
        page.doc()
            .select(&sel)
            .filter_map(|a| {
                a.value()
                    .attr("href")
                    .map(|h| h.trim_start_matches("/product/").to_owned())
            })
            .collect::<Vec<_>>()
    };
    let price_of = |sku: &str| {
        let store = shop.store().clone();
        let sku = sku.to_owned();
        async move {
            store
                .product_by_sku(&sku)
                .await
                .unwrap()
                .unwrap()
                .price_incl
        }
    };
    let low = c.get("/category/parts?sort=price_low").await;
    low.expect(200);
    let low = skus(&low);
    assert!(low.len() >= 2, "{low:?}");
    let mut prices = Vec::new();
    for s in &low {
        prices.push(price_of(s).await);
    }
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let high = skus(&c.get("/category/parts?sort=price_high").await);
    let mut high_prices = Vec::new();
    for s in &high {
        high_prices.push(price_of(s).await);
    }
    assert!(
        high_prices.windows(2).all(|w| w[0] >= w[1]),
        "{high_prices:?}"
    );
    // Out of stock: gone with the filter, there without it.
    let gone = low[0].clone();
    assert!(shop.store().set_stock(&gone, 0).await.unwrap());
    let filtered = c.get("/category/parts?sort=price_low&stock=1").await;
    assert!(!skus(&filtered).contains(&gone));
    assert!(filtered.text_of("#in-stock").unwrap().contains("☑"));
    assert!(skus(&c.get("/category/parts?sort=price_low").await).contains(&gone));
    assert_eq!(c.get("/category/parts?sort=cheapest").await.status, 400);
    assert_eq!(c.get("/category/parts?stock=yes").await.status, 400);
    // Breadcrumbs: home › category on the listing, home › category › product on the product.
    let listing = c.get("/category/parts").await;
    assert_eq!(listing.texts_of("#breadcrumbs li").len(), 2);
    let product = c.get(&format!("/product/{}", low[1])).await;
    let crumbs = product.texts_of("#breadcrumbs li");
    assert_eq!(crumbs.len(), 3, "{crumbs:?}");
    assert_eq!(crumbs[0], "ホーム");
    assert!(product.has("#breadcrumbs a[href=\"/category/parts\"]"));
}

/// Shipping by the delivery's prefecture (its own rate over its region's over the base) and the
/// 代引き fee from the shop's table, on the confirmation, the order, its mail and its receipt; a
/// later change of the rates leaves the order as it was charged.
async fn shipping_follows_the_prefecture_and_the_order_keeps_it(backend: Backend) {
    use mamori_web::settings::keys;
    let shop = TestShop::start(backend).await;
    let store = shop.store().clone();
    let put = |k: &'static str, v: &'static str| {
        let store = store.clone();
        async move { store.settings_put(k, v, 0, None).await.unwrap() }
    };
    put(
        keys::SHIPPING_RATES,
        r#"{"base":880,"regions":{"hokkaido":1320},"prefectures":{"okinawa":2200},"free_from":10000}"#,
    )
    .await;
    put(keys::COD_FEES, r#"{"bands":[[10000,300]],"top":500}"#).await;
    let c = shop.client();
    let legal = c.get("/legal").await;
    let rates = legal.text_of("#legal-shipping-rates").unwrap();
    assert!(rates.contains("北海道 1,320円"), "{rates}");
    assert!(rates.contains("沖縄 2,200円"), "{rates}");
    assert!(rates.contains("関東 880円"), "{rates}");
    assert!(legal.text.contains("10,000円未満 300円"), "{}", legal.text);

    // To Tokyo: the base rate.
    add_to_cart(&c, "PT-1001", "1").await; // 1,320 at 10%
    c.post_form("/checkout", &buyer("cash_on_delivery"))
        .await
        .expect_redirect("/checkout/confirm");
    let confirm = c.get("/checkout/confirm").await;
    assert_eq!(confirm.text_of("#shipping").unwrap(), "880円（税込）");
    assert_eq!(confirm.text_of("#cod-fee").unwrap(), "300円（税込）");

    // To Hokkaido: the region's rate.
    let hokkaido = with(
        &buyer("cash_on_delivery"),
        &[
            ("buyer_postal_code", "060-0001"),
            ("buyer_prefecture", "北海道"),
            ("buyer_city", "札幌市中央区"),
            ("buyer_line1", "北一条西2-1"),
        ],
    );
    c.post_form("/checkout", &hokkaido)
        .await
        .expect_redirect("/checkout/confirm");
    let confirm = c.get("/checkout/confirm").await;
    assert_eq!(confirm.text_of("#shipping").unwrap(), "1,320円（税込）");
    assert_eq!(confirm.text_of("#cod-fee").unwrap(), "300円（税込）");
    assert_eq!(confirm.text_of("#total").unwrap(), "2,940円（税込）");
    let key = confirm.input_value("key").unwrap();
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    let done = c.follow(&placed).await;
    let number = done.text_of("#order-number").unwrap();
    assert_eq!(done.text_of("#order-total").unwrap(), "2,940円（税込）");
    let header = store.order_by_number(&number).await.unwrap().unwrap();
    assert_eq!(
        (header.shipping_fee, header.cod_fee, header.total),
        (1_320, 300, 2_940)
    );
    let mail = shop.wait_for_mail("taro.yamada@example.jp", &number).await;
    assert!(mail.body.contains("送料：1,320円"), "{}", mail.body);
    assert!(mail.body.contains("代引き手数料：300円"), "{}", mail.body);

    // The rates change: the order keeps what it was charged, on every page that shows it.
    put(
        keys::SHIPPING_RATES,
        r#"{"base":990,"regions":{"hokkaido":2000},"free_from":null}"#,
    )
    .await;
    put(keys::COD_FEES, r#"{"bands":[],"top":770}"#).await;
    assert!(store
        .transition_order(
            &header.id,
            &[mamori_domain::OrderState::PendingPayment],
            mamori_domain::OrderState::Delivered,
            1,
            &[]
        )
        .await
        .unwrap());
    let done = c.get(&format!("/checkout/complete/{number}")).await;
    assert_eq!(done.text_of("#order-total").unwrap(), "2,940円（税込）");
    let receipt = c.get(&format!("/orders/{number}/receipt")).await;
    receipt.expect(200);
    assert_eq!(receipt.text_of("#receipt-total").unwrap(), "2,940円");
    assert!(receipt.text.contains("1,320円") && receipt.text.contains("300円"));
    // New checkouts follow the new rates.
    let legal = c.get("/legal").await;
    assert!(legal
        .text_of("#legal-shipping-rates")
        .unwrap()
        .contains("北海道 2,000円"));
}
