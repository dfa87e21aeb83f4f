//! Sessions through the whole stack, with a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{harness, harness_with, open_form, req, send, Harness};
use http::{header, Method, StatusCode};
use mamori_web::{demo::demo_config, session::SessionConfig, WebConfig};

async fn login(h: &Harness, cookie: &str, token: &str, account: &str) -> common::Reply {
    send(
        &h.app,
        req(Method::POST, "/login")
            .cookie(cookie)
            .form(format!("account={account}&_csrf={token}")),
    )
    .await
}

async fn whoami(h: &Harness, cookie: &str) -> common::Reply {
    send(&h.app, req(Method::GET, "/mypage").cookie(cookie)).await
}

#[tokio::test]
async fn cookie_attributes_with_and_without_tls() {
    for tls in [false, true] {
        let h = harness_with(WebConfig {
            tls,
            ..demo_config()
        });
        let page = send(&h.app, req(Method::GET, "/contact")).await;
        let set = page.header("set-cookie").to_owned();
        let name = if tls {
            "__Host-mamori_session="
        } else {
            "mamori_session="
        };
        assert!(set.starts_with(name), "{set}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attr), "{set}");
        }
        assert_eq!(set.contains("Secure"), tls, "{set}");
        assert!(!set.contains("Domain="), "{set}");
        let value = set.split(';').next().unwrap().split('=').nth(1).unwrap();
        assert_eq!(value.len(), 43, "256 bits in base64url");
    }
    // A page that writes nothing to the session sets no cookie.
    let h = harness();
    let r = send(&h.app, req(Method::GET, "/")).await;
    assert!(!r.headers.contains_key(header::SET_COOKIE));
    assert!(h.sessions.is_empty());
}

#[tokio::test]
async fn renew_at_login_changes_the_id_keeps_the_data_and_kills_the_old_id() {
    let h = harness();
    let (before, token) = open_form(&h.app).await;
    let r = login(&h, &before, &token, "acct-42").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let after = r.session_cookie().expect("login sets a new cookie");
    assert_ne!(after, before);
    assert_eq!(h.sessions.len(), 1, "the old record is gone");

    // Same data: the account is there, and the form token made before login still works.
    assert!(whoami(&h, &after).await.body.contains("acct-42"));
    let post = send(
        &h.app,
        req(Method::POST, "/contact")
            .cookie(&after)
            .form(format!("message=hi&_csrf={token}")),
    )
    .await;
    assert_eq!(post.status, StatusCode::OK);

    // The old id is dead: no account, and the browser is told to drop it.
    let old = whoami(&h, &before).await;
    assert!(!old.body.contains("acct-42"));
    assert!(old.header("set-cookie").contains("Max-Age=0"));
}

#[tokio::test]
async fn logout_destroys_the_session() {
    let h = harness();
    let (cookie, token) = open_form(&h.app).await;
    let after = login(&h, &cookie, &token, "acct-7")
        .await
        .session_cookie()
        .unwrap();
    let out = send(
        &h.app,
        req(Method::POST, "/logout")
            .cookie(&after)
            .header("x-csrf-token", &token)
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert!(h.sessions.is_empty());
    assert!(!whoami(&h, &after).await.body.contains("acct-7"));
}

#[tokio::test]
async fn idle_expiry() {
    let h = harness_with(WebConfig {
        session: SessionConfig {
            idle_timeout: Duration::from_secs(600),
            absolute_timeout: Duration::from_secs(3600),
            touch_interval: Duration::from_secs(60),
            ..SessionConfig::default()
        },
        ..demo_config()
    });
    let (cookie, token) = open_form(&h.app).await;
    let cookie = login(&h, &cookie, &token, "acct-1")
        .await
        .session_cookie()
        .unwrap();
    // Used every 9 minutes, it lives on past the idle timeout.
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(540));
        assert!(whoami(&h, &cookie).await.body.contains("acct-1"));
    }
    // Left alone for 10 minutes, it dies.
    h.clock.advance(Duration::from_secs(600));
    let r = whoami(&h, &cookie).await;
    assert!(!r.body.contains("acct-1"));
    assert!(h.sessions.is_empty(), "the expired record is deleted");
}

#[tokio::test]
async fn absolute_expiry() {
    let h = harness_with(WebConfig {
        session: SessionConfig {
            idle_timeout: Duration::from_secs(600),
            absolute_timeout: Duration::from_secs(1800),
            touch_interval: Duration::from_secs(60),
            ..SessionConfig::default()
        },
        ..demo_config()
    });
    let (cookie, token) = open_form(&h.app).await;
    let cookie = login(&h, &cookie, &token, "acct-2")
        .await
        .session_cookie()
        .unwrap();
    // Busy all along, yet it ends at 30 minutes after it began (renewal does not reset it).
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(300));
        assert!(whoami(&h, &cookie).await.body.contains("acct-2"));
    }
    h.clock.advance(Duration::from_secs(300));
    assert!(!whoami(&h, &cookie).await.body.contains("acct-2"));
}

#[tokio::test]
async fn forged_and_unknown_cookies_get_no_session() {
    let h = harness();
    for cookie in [
        "mamori_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "mamori_session=short",
        "mamori_session=../../etc/passwd",
    ] {
        let r = whoami(&h, cookie).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("<p class=\"account\">-</p>"), "{cookie}");
        assert!(r.header("set-cookie").contains("Max-Age=0"), "{cookie}");
    }
    assert!(h.sessions.is_empty());
}
