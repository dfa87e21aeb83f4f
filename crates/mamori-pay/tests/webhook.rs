//! Webhook verification over real HTTP: the sandbox signs and delivers, a
//! shop-like receiver verifies; forged, re-signed, stale, future, replayed
//! and malformed deliveries are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{world, WEBHOOK_SECRET};
use mamori_pay::webhook::signature_header;
use mamori_pay::SIGNATURE_HEADER;
use reqwest::StatusCode;

async fn post(
    url: &mamori_pay::url::Url,
    signature: Option<&str>,
    body: &[u8],
) -> (StatusCode, String) {
    let mut req = reqwest::Client::new()
        .post(url.clone())
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header(SIGNATURE_HEADER, s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

/// A body like the sandbox's, with a fresh event id, so that only the
/// property under test can make it fail.
fn fresh_body(delivered: &[u8], event_id: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(delivered).unwrap();
    v["id"] = serde_json::Value::String(event_id.to_owned());
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn forged_replayed_stale_and_malformed_webhooks_are_refused() {
    let mut w = world().await;
    let created = w.create("ORD-WH", 5000).await;
    w.pay(&created, "4242424242424242", "12/34", "123", "TARO")
        .await;
    let real = w.receiver.next().await;
    let url = &w.receiver.url.clone();
    let now = chrono::Utc::now().timestamp();
    let secret = WEBHOOK_SECRET.as_bytes();

    // The valid delivery was accepted (it reached `next`). Replaying the
    // very same request, signature and all, is a duplicate.
    assert_eq!(
        post(url, Some(&real.signature), &real.body).await,
        (StatusCode::OK, "duplicate".into())
    );

    // A fresh, correctly signed event is accepted.
    let body = fresh_body(&real.body, "evt_fresh_1");
    let sig = signature_header(&[secret], now, &body);
    assert_eq!(
        post(url, Some(&sig), &body).await,
        (StatusCode::OK, "accepted".into())
    );
    assert_eq!(w.receiver.next().await.event.id, "evt_fresh_1");
    // The same event id again, even re-signed with a new timestamp.
    let sig = signature_header(&[secret], now + 1, &body);
    assert_eq!(
        post(url, Some(&sig), &body).await,
        (StatusCode::OK, "duplicate".into())
    );

    // Forged: the body changed after signing (a failed payment made to look paid).
    let forged = fresh_body(&real.body, "evt_forged");
    let sig_for_other = signature_header(&[secret], now, &fresh_body(&real.body, "evt_other"));
    assert_eq!(
        post(url, Some(&sig_for_other), &forged).await,
        (StatusCode::BAD_REQUEST, "bad_signature".into())
    );
    let tampered = String::from_utf8(real.body.clone())
        .unwrap()
        .replace("\"amount_jpy\":5000", "\"amount_jpy\":5")
        .replace(&real.event.id, "evt_tampered");
    assert_ne!(tampered.as_bytes(), &real.body[..]);
    let old_sig_new_body = real.signature.clone();
    assert_eq!(
        post(url, Some(&old_sig_new_body), tampered.as_bytes()).await,
        (StatusCode::BAD_REQUEST, "bad_signature".into())
    );

    // Signed with another secret.
    let body = fresh_body(&real.body, "evt_other_secret");
    let sig = signature_header(&[b"whsec_someone_else_000000"], now, &body);
    assert_eq!(
        post(url, Some(&sig), &body).await,
        (StatusCode::BAD_REQUEST, "bad_signature".into())
    );

    // Stale and from the future, though correctly signed.
    let body = fresh_body(&real.body, "evt_stale");
    let sig = signature_header(&[secret], now - 3600, &body);
    assert_eq!(
        post(url, Some(&sig), &body).await,
        (StatusCode::BAD_REQUEST, "stale".into())
    );
    let body = fresh_body(&real.body, "evt_future");
    let sig = signature_header(&[secret], now + 3600, &body);
    assert_eq!(
        post(url, Some(&sig), &body).await,
        (StatusCode::BAD_REQUEST, "future".into())
    );

    // Malformed or missing header.
    let body = fresh_body(&real.body, "evt_malformed");
    for bad in [
        "v1=abc",
        "t=now,v1=00",
        &format!("t={now}"),
        &format!("t={now},v1=zz"),
        "nonsense",
    ] {
        assert_eq!(
            post(url, Some(bad), &body).await,
            (StatusCode::BAD_REQUEST, "malformed".into()),
            "{bad}"
        );
    }
    assert_eq!(
        post(url, None, &body).await,
        (StatusCode::BAD_REQUEST, "missing".into())
    );

    // Signed, but not an event.
    let junk = br#"{"hello":"world"}"#;
    let sig = signature_header(&[secret], now, junk);
    assert_eq!(
        post(url, Some(&sig), junk).await,
        (StatusCode::BAD_REQUEST, "malformed_body".into())
    );

    // None of the refused ones got through.
    assert!(w.receiver.accepted.try_recv().is_err());
}

#[tokio::test]
async fn refusal_messages_do_not_echo_the_body() {
    use std::sync::Arc;
    let v = mamori_pay::WebhookVerifier::new(
        mamori_pay::secrecy::SecretString::from(WEBHOOK_SECRET.to_owned()),
        Arc::new(mamori_pay::MemoryReplayGuard::default()),
    );
    let now = chrono::Utc::now();
    let body = br#"{"id":"evt_1","type":"payment.succeeded","created":1,"payment":{"order_ref":"TARO-YAMADA-SECRET"}}"#;
    let sig = signature_header(&[WEBHOOK_SECRET.as_bytes()], now.timestamp(), body);
    let err = v.verify(&sig, body, now).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("TARO"), "{text}");
    let err = v.verify("t=1,v1=00", body, now).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("TARO"));
}
