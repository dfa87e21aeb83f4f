//! CSRF: token, Sec-Fetch-Site and Origin on the demo router.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{harness, harness_with, open_form, req, send, Reply};
use hmac::{Hmac, Mac};
use http::{Method, StatusCode};
use mamori_web::demo::{demo_config, DEMO_SIGNATURE_HEADER, DEMO_WEBHOOK_SECRET};
use mamori_web::WebConfig;
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

const VISITOR_COOKIE: &str = "mamori_session_csrf";

fn visitor_harness() -> common::Harness {
    harness_with(WebConfig {
        csrf_visitor_cookie: true,
        ..demo_config()
    })
}

/// The visitor cookie's `name=value`, if the reply set one.
fn visitor_cookie(r: &Reply) -> Option<String> {
    r.headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{VISITOR_COOKIE}=")))
        .map(|c| {
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
            c.split(';').next().unwrap().to_owned()
        })
}

#[tokio::test]
async fn a_visitor_gets_a_token_without_a_session() {
    let h = visitor_harness();
    let page = send(&h.app, req(Method::GET, "/contact")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.session_cookie(), None, "browsing creates no session");
    assert!(h.sessions.is_empty());
    let cookie = visitor_cookie(&page).expect("a visitor cookie");
    let token = page.csrf_field();
    assert_eq!(cookie, format!("{VISITOR_COOKIE}={token}"), "double submit");

    // The same visitor coming back keeps its token and gets no new cookie.
    let again = send(&h.app, req(Method::GET, "/contact").cookie(&cookie)).await;
    assert_eq!(again.csrf_field(), token);
    assert_eq!(visitor_cookie(&again), None);

    let post = |cookie: Option<&str>, token: &str| {
        let r = req(Method::POST, "/contact").form(format!("message=hi&_csrf={token}"));
        match cookie {
            Some(c) => r.cookie(c),
            None => r,
        }
    };
    let ok = send(&h.app, post(Some(&cookie), &token)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("送信しました"));
    assert!(
        h.sessions.is_empty(),
        "a post that stores nothing makes no session"
    );

    // Without the cookie, with another visitor's token, or a malformed cookie: refused.
    let other = send(&h.app, req(Method::GET, "/contact")).await;
    let other_token = other.csrf_field();
    assert_ne!(other_token, token);
    for (what, r) in [
        ("no cookie", post(None, &token)),
        ("another visitor's token", post(Some(&cookie), &other_token)),
        (
            "cookie and field both forged but short",
            post(Some(&format!("{VISITOR_COOKIE}=abc")), "abc"),
        ),
    ] {
        assert_eq!(
            send(&h.app, r).await.status,
            StatusCode::FORBIDDEN,
            "{what}"
        );
    }
    // Cross-site with the right pair is still refused.
    let cross = send(
        &h.app,
        post(Some(&cookie), &token).header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_session_adopts_the_visitor_token_and_then_only_its_own_counts() {
    let h = visitor_harness();
    let page = send(&h.app, req(Method::GET, "/contact")).await;
    let visitor = visitor_cookie(&page).unwrap();
    let token = page.csrf_field();

    // Logging in creates the session; it takes the visitor's token, so open forms keep working.
    let login = send(
        &h.app,
        req(Method::POST, "/login")
            .cookie(&visitor)
            .form(format!("account=taro&_csrf={token}")),
    )
    .await;
    assert_eq!(login.status, StatusCode::NO_CONTENT, "{}", login.body);
    let session = login.session_cookie().expect("a session");
    let both = format!("{session}; {visitor}");
    let form = send(&h.app, req(Method::GET, "/contact").cookie(&both)).await;
    assert_eq!(form.csrf_field(), token);
    let ok = send(
        &h.app,
        req(Method::POST, "/contact")
            .cookie(&both)
            .form(format!("message=hi&_csrf={token}")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);

    // A planted visitor cookie with a matching field does not stand in for the session's token.
    let planted = "A".repeat(43);
    let r = send(
        &h.app,
        req(Method::POST, "/contact")
            .cookie(&format!("{session}; {VISITOR_COOKIE}={planted}"))
            .form(format!("message=hi&_csrf={planted}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
