//! CSRF: token, Sec-Fetch-Site and Origin on the demo router.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{harness, open_form, req, send};
use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use mamori_web::demo::{DEMO_SIGNATURE_HEADER, DEMO_WEBHOOK_SECRET};
use sha2::Sha256;

#[tokio::test]
async fn the_contact_form_is_guarded() {
    let h = harness();
    let (cookie, token) = open_form(&h.app).await;
    let post = |body: String| {
        req(Method::POST, "/contact")
            .cookie(&cookie)
            .form(body.into_bytes())
    };
    // (what, request, status)
    let cases = vec![
        ("no token", post("message=hi".into()), 403),
        (
            "wrong token",
            post(format!("message=hi&_csrf={}x", &token[1..])),
            403,
        ),
        ("empty token", post("message=hi&_csrf=".into()), 403),
        (
            "two tokens",
            post(format!("message=hi&_csrf={token}&_csrf={token}")),
            403,
        ),
        (
            "cross-site with the right token",
            post(format!("message=hi&_csrf={token}")).header("sec-fetch-site", "cross-site"),
            403,
        ),
        (
            "same-site with the right token",
            post(format!("message=hi&_csrf={token}")).header("sec-fetch-site", "same-site"),
            403,
        ),
        (
            "foreign origin with the right token",
            post(format!("message=hi&_csrf={token}")).header("origin", "https://evil.example"),
            403,
        ),
        (
            "right token, same origin",
            post(format!("message=hi&_csrf={token}"))
                .header("sec-fetch-site", "same-origin")
                .header("origin", "http://shop.example"),
            200,
        ),
        (
            "right token, no fetch metadata",
            post(format!("message=hi&_csrf={token}")),
            200,
        ),
        (
            "right token in the header",
            req(Method::POST, "/contact")
                .cookie(&cookie)
                .header("x-csrf-token", &token)
                .form("message=hi"),
            200,
        ),
    ];
    for (what, request, status) in cases {
        let r = send(&h.app, request).await;
        assert_eq!(r.status.as_u16(), status, "{what}");
        if status == 403 {
            assert!(r.body.contains("この操作は許可されていません"), "{what}");
            assert!(r.body.contains("This action is not allowed"), "{what}");
        } else {
            assert!(r.body.contains("送信しました"), "{what}");
        }
    }
}

#[tokio::test]
async fn a_token_from_another_session_fails() {
    let h = harness();
    let (_mine, my_token) = open_form(&h.app).await;
    let (theirs, _their_token) = open_form(&h.app).await;
    let r = send(
        &h.app,
        req(Method::POST, "/contact")
            .cookie(&theirs)
            .form(format!("message=hi&_csrf={my_token}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Without any session there is no token to match.
    let r = send(
        &h.app,
        req(Method::POST, "/contact").form(format!("message=hi&_csrf={my_token}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(DEMO_WEBHOOK_SECRET).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn the_webhook_takes_cross_site_posts_and_checks_its_signature() {
    let h = harness();
    let body = br#"{"event":"payment.succeeded","id":"pay_123"}"#;
    let r = send(
        &h.app,
        req(Method::POST, "/webhook")
            .header("content-type", "application/json")
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://pay.example.jp")
            .header(DEMO_SIGNATURE_HEADER, &sign(body))
            .body(body.to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, r#"{"ok":true}"#);

    let forged = send(
        &h.app,
        req(Method::POST, "/webhook")
            .header("content-type", "application/json")
            .header(DEMO_SIGNATURE_HEADER, &sign(b"something else"))
            .body(body.to_vec()),
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        forged.body, r#"{"ok":false}"#,
        "the webhook keeps its JSON error"
    );
}
