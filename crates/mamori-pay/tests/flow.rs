//! The payment flow end to end, against a real sandbox on loopback: the
//! connector speaks to its API, a browser-like client posts its hosted
//! form, and a shop-like receiver verifies its webhooks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{location, order, query_payment_id, world, world_with};
use mamori_pay::secrecy::SecretString;
use mamori_pay::{
    FailureReason, HttpConnector, PayError, PaymentConnector, PaymentStatus, SandboxConfig,
    WebhookEventKind,
};
use reqwest::StatusCode;

#[tokio::test]
async fn visa_payment_succeeds_and_the_webhook_verifies() {
    let mut w = world().await;
    let created = w.create("ORD-1", 3300).await;
    assert!(created.payment_id.starts_with("pay_"));
    assert_eq!(
        created.redirect_url.origin(),
        w.sandbox.base_url.origin(),
        "the card page is on the provider's origin"
    );
    assert_eq!(
        w.psp.lookup(&created.payment_id).await.unwrap().status,
        PaymentStatus::Pending
    );

    // The page first, as a browser would.
    let page = w
        .browser
        .get(created.redirect_url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("カード番号"));
    assert!(html.contains("3,300円"));

    let resp = w
        .pay(
            &created,
            "4242 4242 4242 4242",
            "12/34",
            "123",
            "TARO YAMADA",
        )
        .await;
    let to = location(&resp);
    assert_eq!(to.host_str(), Some("shop.example"));
    assert_eq!(to.path(), "/checkout/return");
    assert_eq!(query_payment_id(&to), created.payment_id);

    let info = w.psp.lookup(&created.payment_id).await.unwrap();
    assert_eq!(info.status, PaymentStatus::Succeeded);
    assert_eq!(info.brand.as_deref(), Some("visa"));
    assert_eq!(info.last4.as_deref(), Some("4242"));
    assert!(info.settles("ORD-1", 3300));
    assert!(!info.settles("ORD-1", 3301));

    let got = w.receiver.next().await;
    assert_eq!(got.event.kind, WebhookEventKind::PaymentSucceeded);
    assert_eq!(got.event.payment, info);
    assert!(got.event.id.starts_with("evt_"));
    // Nothing of the card but brand and last four travels to the shop.
    let body = String::from_utf8(got.body).unwrap();
    assert!(!body.contains("42424242"));
    assert!(!body.contains("TARO"));
    assert!(!body.contains("\"123\""));

    // Paying again is refused: the page now says it is paid.
    let again = w
        .pay(&created, "4242424242424242", "12/34", "123", "TARO YAMADA")
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("このお支払いは完了しています"));
}

#[tokio::test]
async fn jcb_and_mastercard_typed_with_full_width_digits_and_hyphens() {
    let mut w = world().await;
    for (i, (number, brand, last4)) in [
        ("３５６６－００２０－２０３６－０５０５", "jcb", "0505"),
        ("5555-5555-5555-4444", "mastercard", "4444"),
        ("４２４２　４２４２　４２４２　４２４２", "visa", "4242"),
    ]
    .into_iter()
    .enumerate()
    {
        let created = w.create(&format!("ORD-FW-{i}"), 1000).await;
        let resp = w
            .pay(&created, number, "０１／４０", "１２３", "HANAKO SATO")
            .await;
        assert_eq!(location(&resp).path(), "/checkout/return", "{number}");
        let info = w.psp.lookup(&created.payment_id).await.unwrap();
        assert_eq!(info.status, PaymentStatus::Succeeded);
        assert_eq!(info.brand.as_deref(), Some(brand));
        assert_eq!(info.last4.as_deref(), Some(last4));
        let got = w.receiver.next().await;
        assert_eq!(got.event.payment.payment_id, created.payment_id);
    }
}

#[tokio::test]
async fn declined_and_insufficient_funds_fail_with_their_reason() {
    let mut w = world().await;
    for (i, (number, reason)) in [
        ("4000 0000 0000 0002", FailureReason::CardDeclined),
        ("4000 0000 0000 9995", FailureReason::InsufficientFunds),
    ]
    .into_iter()
    .enumerate()
    {
        let created = w.create(&format!("ORD-D-{i}"), 500).await;
        let resp = w.pay(&created, number, "12/34", "123", "TARO YAMADA").await;
        let to = location(&resp);
        assert_eq!(to.path(), "/checkout/cancel");
        assert_eq!(query_payment_id(&to), created.payment_id);
        let info = w.psp.lookup(&created.payment_id).await.unwrap();
        assert_eq!(info.status, PaymentStatus::Failed { reason });
        assert!(!info.settles(&format!("ORD-D-{i}"), 500));
        let got = w.receiver.next().await;
        assert_eq!(got.event.kind, WebhookEventKind::PaymentFailed);
        assert_eq!(got.event.payment.status, PaymentStatus::Failed { reason });
    }
}

#[tokio::test]
async fn three_d_secure_right_code_succeeds_wrong_code_fails() {
    let mut w = world().await;

    let ok = w.create("ORD-3DS-OK", 12000).await;
    let resp = w
        .pay(&ok, "4000000000003220", "12/34", "123", "TARO YAMADA")
        .await;
    let challenge = location(&resp);
    assert_eq!(challenge.origin(), w.sandbox.base_url.origin());
    assert!(challenge.path().ends_with("/challenge"));
    assert_eq!(
        w.psp.lookup(&ok.payment_id).await.unwrap().status,
        PaymentStatus::RequiresAction
    );
    let page = w.browser.get(challenge.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("本人認証"));
    assert!(html.contains("ワンタイムパスワード"));
    // The card page now sends the browser on to the challenge.
    let back = w.browser.get(ok.redirect_url.clone()).send().await.unwrap();
    assert_eq!(location(&back), challenge);

    let done = w
        .browser
        .post(challenge.clone())
        .form(&[("code", "１２３４５６")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done).path(), "/checkout/return");
    let info = w.psp.lookup(&ok.payment_id).await.unwrap();
    assert_eq!(info.status, PaymentStatus::Succeeded);
    assert_eq!(info.last4.as_deref(), Some("3220"));
    assert_eq!(
        w.receiver.next().await.event.kind,
        WebhookEventKind::PaymentSucceeded
    );

    let bad = w.create("ORD-3DS-BAD", 12000).await;
    let resp = w
        .pay(&bad, "4000000000003220", "12/34", "123", "TARO YAMADA")
        .await;
    let challenge = location(&resp);
    let done = w
        .browser
        .post(challenge)
        .form(&[("code", "654321")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done).path(), "/checkout/cancel");
    assert_eq!(
        w.psp.lookup(&bad.payment_id).await.unwrap().status,
        PaymentStatus::Failed {
            reason: FailureReason::AuthenticationFailed
        }
    );
    let got = w.receiver.next().await;
    assert_eq!(got.event.kind, WebhookEventKind::PaymentFailed);
    assert_eq!(got.event.payment.payment_id, bad.payment_id);
}

async fn form_error(
    w: &common::World,
    order_ref: &str,
    number: &str,
    expiry: &str,
    cvv: &str,
    name: &str,
) -> String {
    let created = w.create(order_ref, 800).await;
    let resp = w.pay(&created, number, expiry, cvv, name).await;
    assert_eq!(resp.status(), StatusCode::OK, "{order_ref}");
    assert!(resp.headers().get("location").is_none());
    let html = resp.text().await.unwrap();
    assert_eq!(
        w.psp.lookup(&created.payment_id).await.unwrap().status,
        PaymentStatus::Pending,
        "{order_ref}"
    );
    assert!(html.contains("入力内容をご確認ください"), "{order_ref}");
    // Never the number or the code back into the page.
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 8 {
        assert!(!html.contains(&digits), "{order_ref}: number echoed");
    }
    assert!(
        !html.contains(&format!("value=\"{cvv}\"")),
        "{order_ref}: cvv echoed"
    );
    html
}

#[tokio::test]
async fn invalid_fields_show_the_form_again_with_japanese_errors() {
    let w = world().await;

    let html = form_error(
        &w,
        "ORD-V-1",
        "4242 4242 4242 4241",
        "12/34",
        "123",
        "TARO YAMADA",
    )
    .await;
    assert!(html.contains("カード番号に誤りがあります"));
    assert!(html.contains(r#"id="number-error""#));
    assert!(html.contains(r#"value="12/34""#), "expiry kept");
    assert!(html.contains(r#"value="TARO YAMADA""#), "name kept");

    let html = form_error(
        &w,
        "ORD-V-2",
        "4242424242424242",
        "01/20",
        "123",
        "TARO YAMADA",
    )
    .await;
    assert!(html.contains("有効期限が切れています"));
    assert!(html.contains(r#"id="expiry-error""#));
    assert!(!html.contains(r#"id="number-error""#));

    let html = form_error(
        &w,
        "ORD-V-3",
        "4242424242424242",
        "12/34",
        "12",
        "TARO YAMADA",
    )
    .await;
    assert!(html.contains("セキュリティコードは3桁"));
    assert!(html.contains(r#"id="cvv-error""#));

    let html = form_error(&w, "ORD-V-4", "4242424242424242", "12/34", "1234", "").await;
    assert!(
        html.contains(r#"id="cvv-error""#),
        "4 digits is for Amex only"
    );
    assert!(html.contains("カード名義を入力してください"));

    let html = form_error(&w, "ORD-V-5", "", "13/34", "abc", "TARO").await;
    assert!(html.contains("カード番号を入力してください"));
    assert!(html.contains("有効期限は「月/年」の形で"));

    // A valid number that is not a test card is refused, not charged.
    let html = form_error(&w, "ORD-V-6", "4111 1111 1111 1111", "12/34", "123", "TARO").await;
    assert!(html.contains("テストカードのみ"));

    // The name is shown back escaped.
    let html = form_error(&w, "ORD-V-7", "4242", "12/34", "123", "<b>\"x\"</b>").await;
    assert!(!html.contains("<b>\"x\"</b>"));
    assert!(html.contains("&lt;b&gt;"));
}

#[tokio::test]
async fn hosted_page_has_a_strict_csp_and_only_the_providers_script() {
    let w = world().await;
    let created = w.create("ORD-CSP", 2200).await;
    let check = |resp: &reqwest::Response| {
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{part} missing in {csp}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert!(
            csp.contains("script-src 'self';"),
            "scripts only from the provider's origin: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    };
    let assert_clean = |html: &str| {
        let lower = html.to_ascii_lowercase();
        // One script: the provider's own card helper, from its origin, no inline code.
        assert_eq!(lower.matches("<script").count(), 1, "exactly one script");
        let i = lower.find("<script").unwrap();
        let tag_end = lower[i..].find('>').unwrap() + i;
        assert!(lower[i..tag_end].contains("/assets/card.js\""));
        assert!(
            lower[tag_end + 1..].starts_with("</script>"),
            "no inline code"
        );
        assert!(!lower.contains("javascript:"));
        assert!(!lower.contains(" style="), "no inline style attribute");
        // No inline event handler attribute (onclick=, onload=, ...).
        let bytes = lower.as_bytes();
        for (i, _) in lower.match_indices(" on") {
            let rest = &bytes[i + 3..];
            let name_len = rest.iter().take_while(|b| b.is_ascii_lowercase()).count();
            assert!(
                !(name_len > 0 && rest.get(name_len) == Some(&b'=')),
                "inline handler at {i}"
            );
        }
        assert!(lower.starts_with("<!doctype html>"));
        assert!(lower.contains(r#"<html lang="ja">"#));
    };

    let page = w
        .browser
        .get(created.redirect_url.clone())
        .send()
        .await
        .unwrap();
    check(&page);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("https://shop.example"),
        "shop origin allowed as a redirect target"
    );
    let html = page.text().await.unwrap();
    assert_clean(&html);
    // Japanese first on the page.
    let ja = html.find("カード番号").unwrap();
    let en = html.find("Card number").unwrap();
    assert!(ja < en);

    let with_errors = w.pay(&created, "1", "x", "x", "").await;
    check(&with_errors);
    assert_clean(&with_errors.text().await.unwrap());

    let css = w
        .browser
        .get(w.sandbox.base_url.join("assets/pay.css").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));

    let js = w
        .browser
        .get(w.sandbox.base_url.join("assets/card.js").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(
        js.text().await.unwrap().contains("luhnOk"),
        "the built-in copy"
    );

    let missing = w
        .browser
        .get(w.sandbox.base_url.join("pay/pay_doesnotexist").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    check(&missing);
    assert!(missing
        .text()
        .await
        .unwrap()
        .contains("お支払いが見つかりません"));
}

#[tokio::test]
async fn create_is_idempotent_per_key() {
    let w = world().await;
    let req = order("ORD-IDEM", 4400, "idem-key-1");
    let a = w.psp.create_payment(&req).await.unwrap();
    let b = w.psp.create_payment(&req).await.unwrap();
    assert_eq!(a, b);
    let other = w
        .psp
        .create_payment(&order("ORD-IDEM", 4400, "idem-key-2"))
        .await
        .unwrap();
    assert_ne!(a.payment_id, other.payment_id);
    let conflict = w
        .psp
        .create_payment(&order("ORD-IDEM", 9999, "idem-key-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(conflict, PayError::IdempotencyConflict),
        "{conflict:?}"
    );
}

#[tokio::test]
async fn refunds_are_idempotent_partial_and_bounded() {
    let mut w = world().await;
    let created = w.create("ORD-REF", 10000).await;
    let refused = w
        .psp
        .refund(&created.payment_id, 100, "r-0")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PayError::InvalidState),
        "unpaid: {refused:?}"
    );

    w.pay(&created, "4242424242424242", "12/34", "123", "TARO")
        .await;
    assert_eq!(
        w.receiver.next().await.event.kind,
        WebhookEventKind::PaymentSucceeded
    );

    let r1 = w
        .psp
        .refund(&created.payment_id, 3000, "r-1")
        .await
        .unwrap();
    let r1_again = w
        .psp
        .refund(&created.payment_id, 3000, "r-1")
        .await
        .unwrap();
    assert_eq!(r1, r1_again, "same key, same refund");
    assert_eq!(r1.refunded_total_jpy, 3000);
    assert_eq!(
        w.psp.lookup(&created.payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: 3000 },
        "refunded once, not twice"
    );
    let got = w.receiver.next().await;
    assert_eq!(got.event.kind, WebhookEventKind::PaymentRefunded);
    assert_eq!(
        got.event.payment.status,
        PaymentStatus::Refunded { amount: 3000 }
    );

    let conflict = w
        .psp
        .refund(&created.payment_id, 1, "r-1")
        .await
        .unwrap_err();
    assert!(matches!(conflict, PayError::IdempotencyConflict));

    let too_much = w
        .psp
        .refund(&created.payment_id, 7001, "r-2")
        .await
        .unwrap_err();
    assert!(
        matches!(too_much, PayError::Api { status: 400, ref code } if code == "invalid_amount"),
        "{too_much:?}"
    );
    let rest = w
        .psp
        .refund(&created.payment_id, 7000, "r-3")
        .await
        .unwrap();
    assert_eq!(rest.refunded_total_jpy, 10000);
    assert_ne!(rest.refund_id, r1.refund_id);
    assert_eq!(
        w.psp.lookup(&created.payment_id).await.unwrap().status,
        PaymentStatus::Refunded { amount: 10000 }
    );
    let more = w
        .psp
        .refund(&created.payment_id, 1, "r-4")
        .await
        .unwrap_err();
    assert!(matches!(more, PayError::Api { status: 400, .. }));
}

#[tokio::test]
async fn cancel_from_the_page_and_from_the_api() {
    let mut w = world().await;

    let by_customer = w.create("ORD-C-1", 1500).await;
    let html = w
        .browser
        .get(by_customer.redirect_url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("/cancel\""));
    let resp = w
        .browser
        .post(format!("{}/cancel", by_customer.redirect_url))
        .send()
        .await
        .unwrap();
    let to = location(&resp);
    assert_eq!(to.path(), "/checkout/cancel");
    assert_eq!(query_payment_id(&to), by_customer.payment_id);
    assert_eq!(
        w.psp.lookup(&by_customer.payment_id).await.unwrap().status,
        PaymentStatus::Canceled
    );
    assert_eq!(
        w.receiver.next().await.event.kind,
        WebhookEventKind::PaymentCanceled
    );

    let by_shop = w.create("ORD-C-2", 1500).await;
    let info = w.psp.cancel(&by_shop.payment_id).await.unwrap();
    assert_eq!(info.status, PaymentStatus::Canceled);
    assert_eq!(
        w.receiver.next().await.event.kind,
        WebhookEventKind::PaymentCanceled
    );
    // A canceled payment's page no longer takes a card.
    let resp = w
        .pay(&by_shop, "4242424242424242", "12/34", "123", "TARO")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("キャンセルされました"));
    assert_eq!(
        w.psp.lookup(&by_shop.payment_id).await.unwrap().status,
        PaymentStatus::Canceled
    );

    let paid = w.create("ORD-C-3", 1500).await;
    w.pay(&paid, "4242424242424242", "12/34", "123", "TARO")
        .await;
    let err = w.psp.cancel(&paid.payment_id).await.unwrap_err();
    assert!(matches!(err, PayError::InvalidState), "{err:?}");
}

#[tokio::test]
async fn api_refuses_a_wrong_key_and_unknown_or_malformed_ids() {
    let w = world().await;
    let intruder = HttpConnector::new(
        w.sandbox.base_url.clone(),
        SecretString::from("sk_wrong_key_000000000000".to_owned()),
    )
    .unwrap();
    let err = intruder
        .create_payment(&order("ORD-X", 100, "k"))
        .await
        .unwrap_err();
    assert!(matches!(err, PayError::Api { status: 401, .. }), "{err:?}");

    let created = w.create("ORD-X", 100).await;
    let err = intruder.lookup(&created.payment_id).await.unwrap_err();
    assert!(matches!(err, PayError::Api { status: 401, .. }), "{err:?}");

    let none = w.psp.lookup("pay_0000000000000000").await.unwrap_err();
    assert!(matches!(none, PayError::NotFound));
    let bad = w.psp.lookup("pay_../../v1/payments").await.unwrap_err();
    assert!(matches!(bad, PayError::InvalidRequest(_)));

    // Raw requests: a body the API cannot read gets a fixed message that
    // does not repeat it.
    let raw = reqwest::Client::new()
        .post(w.sandbox.base_url.join("v1/payments").unwrap())
        .bearer_auth(common::API_KEY)
        .header("Idempotency-Key", "raw-1")
        .header("content-type", "application/json")
        .body(r#"{"order_ref":"SECRET-VALUE-123","amount_jpy":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let text = raw.text().await.unwrap();
    assert!(text.contains("invalid_request"));
    assert!(!text.contains("SECRET-VALUE-123"));

    let no_key = reqwest::Client::new()
        .post(w.sandbox.base_url.join("v1/payments").unwrap())
        .bearer_auth(common::API_KEY)
        .json(&serde_json::json!({
            "order_ref": "ORD-Y", "amount_jpy": 100, "description": "",
            "return_url": "https://shop.example/r", "cancel_url": "https://shop.example/c"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_key.status(),
        StatusCode::BAD_REQUEST,
        "Idempotency-Key is required"
    );

    let js = w
        .psp
        .create_payment(&mamori_pay::CreatePayment {
            return_url: mamori_pay::url::Url::parse("javascript:alert(1)").unwrap(),
            ..order("ORD-Z", 100, "k-z")
        })
        .await
        .unwrap_err();
    assert!(matches!(js, PayError::InvalidRequest(_)));
}

#[tokio::test]
async fn webhooks_are_retried_until_the_shop_accepts() {
    let mut w = world_with(2).await;
    let created = w.create("ORD-RETRY", 700).await;
    w.pay(&created, "4242424242424242", "12/34", "123", "TARO")
        .await;
    let got = w.receiver.next().await;
    assert_eq!(got.event.kind, WebhookEventKind::PaymentSucceeded);
    assert_eq!(got.event.payment.payment_id, created.payment_id);
    assert_eq!(
        w.receiver
            .attempts
            .load(std::sync::atomic::Ordering::SeqCst),
        3,
        "two refusals, then the accepted attempt"
    );
}

#[tokio::test]
async fn shutdown_stops_the_sandbox() {
    let w = world().await;
    let base = w.sandbox.base_url.clone();
    w.sandbox.shutdown().await.unwrap();
    let err = reqwest::Client::new()
        .get(base.join("assets/pay.css").unwrap())
        .send()
        .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn card_js_is_read_from_the_script_dir_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.js");
    std::fs::write(&path, "// vendor helper v1\n").unwrap();
    let mut config = SandboxConfig::new(SecretString::from("sandbox-key-0123456789".to_owned()));
    config.script_dir = Some(dir.path().to_path_buf());
    let sandbox = mamori_pay::spawn_sandbox(config).await.unwrap();
    let url = sandbox.base_url.join("assets/card.js").unwrap();
    let get = || async {
        let resp = reqwest::get(url.clone()).await.unwrap();
        if resp.status() == StatusCode::OK {
            assert_eq!(resp.headers()["cache-control"], "no-store");
        }
        (resp.status(), resp.text().await.unwrap())
    };
    assert_eq!(
        get().await,
        (StatusCode::OK, "// vendor helper v1\n".to_owned())
    );
    std::fs::write(&path, "// vendor helper v2\n").unwrap();
    assert_eq!(get().await.1, "// vendor helper v2\n", "no copy is kept");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get().await.0, StatusCode::NOT_FOUND);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_card_fingerprint_is_stable_per_card_and_reveals_nothing() {
    let mut w = world().await;
    let mut seen = Vec::new();
    for (i, number) in [
        "4242 4242 4242 4242",
        "４２４２－４２４２－４２４２－４２４２",
        "4000 0000 0000 0002",
    ]
    .into_iter()
    .enumerate()
    {
        let created = w.create(&format!("ORD-FP-{i}"), 1000).await;
        w.pay(&created, number, "12/34", "123", "TARO YAMADA").await;
        let info = w.psp.lookup(&created.payment_id).await.unwrap();
        let fp = info
            .fingerprint
            .clone()
            .expect("a fingerprint once a card was typed");
        assert!(mamori_pay::is_valid_fingerprint(&fp), "{fp}");
        // A hex digest holds any four given digits now and then: look for eight.
        assert!(!fp.contains("42424242") && !fp.contains("00000002"), "{fp}");
        // The webhook carries the same value.
        let got = w.receiver.next().await;
        assert_eq!(got.event.payment.fingerprint.as_deref(), Some(fp.as_str()));
        seen.push(fp);
    }
    assert_eq!(seen[0], seen[1], "the same card typed two ways");
    assert_ne!(seen[0], seen[2], "another card");
    assert_eq!(w.sandbox.card_attempts(), 3);
    // A payment with no card typed yet has none.
    let open = w.create("ORD-FP-open", 1000).await;
    assert_eq!(
        w.psp.lookup(&open.payment_id).await.unwrap().fingerprint,
        None
    );
}

#[tokio::test]
async fn the_declining_range_gives_distinct_declined_cards() {
    let mut w = world().await;
    let mut fps = std::collections::HashSet::new();
    for n in [0u16, 1, 9_999] {
        let number = mamori_pay::declining_card(n);
        assert_eq!(number.len(), 16);
        let created = w.create(&format!("ORD-DR-{n}"), 1000).await;
        w.pay(&created, &number, "12/34", "123", "TARO YAMADA")
            .await;
        let info = w.psp.lookup(&created.payment_id).await.unwrap();
        assert_eq!(
            info.status,
            PaymentStatus::Failed {
                reason: FailureReason::CardDeclined
            }
        );
        fps.insert(info.fingerprint.unwrap());
        w.receiver.next().await;
    }
    assert_eq!(fps.len(), 3);
}
