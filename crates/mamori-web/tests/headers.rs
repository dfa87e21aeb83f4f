//! Security headers on every route of the demo router.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{harness, harness_with, open_form, req, send};
use http::{Method, StatusCode};
use mamori_web::{demo::demo_config, WebConfig};

/// Every route, by method and path, with the status it answers and whether it is private.
const ROUTES: &[(&str, &str, u16, bool)] = &[
    ("GET", "/", 200, false),
    ("GET", "/mypage", 200, true),
    ("GET", "/contact", 200, true), // sets a session cookie, so no-store
    ("GET", "/checkout", 200, true),
    ("GET", "/limited", 200, false),
    ("GET", "/panic", 500, true),
    ("GET", "/no/such/page", 404, true),
    ("POST", "/contact", 403, true),
    ("POST", "/webhook", 401, true),
    ("DELETE", "/", 403, true), // CSRF runs before routing
    ("PUT", "/webhook", 405, true),
];

const FIXED: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

#[tokio::test]
async fn every_route_carries_every_header() {
    for tls in [false, true] {
        let h = harness_with(WebConfig {
            tls,
            ..demo_config()
        });
        for (method, path, status, private) in ROUTES {
            let r = send(&h.app, req(method.parse().unwrap(), path)).await;
            let at = format!("{method} {path} (tls {tls})");
            assert_eq!(r.status.as_u16(), *status, "{at}: {}", r.body);
            for (name, value) in FIXED {
                assert_eq!(r.header(name), *value, "{at}: {name}");
            }
            let csp = r.header("content-security-policy");
            for part in [
                "default-src 'self'",
                "'strict-dynamic'",
                "style-src 'self' 'nonce-",
                "object-src 'none'",
                "base-uri 'none'",
                "frame-ancestors 'none'",
                "form-action 'self'",
                "report-uri /_mamori/csp-report",
            ] {
                assert!(csp.contains(part), "{at}: {part} missing from {csp}");
            }
            // The same policy, report-only, reports through the Reporting API.
            let report_only = r.header("content-security-policy-report-only");
            assert_eq!(
                report_only,
                csp.replace("report-uri /_mamori/csp-report", "report-to csp-endpoint"),
                "{at}"
            );
            assert!(csp.contains(&format!(
                "script-src 'nonce-{}' 'strict-dynamic'",
                r.csp_nonce()
            )));
            for forbidden in [
                "unsafe-inline",
                "unsafe-eval",
                "unsafe-hashes",
                "*",
                "data:",
            ] {
                assert!(!csp.contains(forbidden), "{at}: {forbidden} in {csp}");
            }
            let pp = r.header("permissions-policy");
            for feature in [
                "camera=()",
                "microphone=()",
                "geolocation=()",
                "usb=()",
                "serial=()",
            ] {
                assert!(pp.contains(feature), "{at}: {feature} not denied in {pp}");
            }
            assert!(
                r.header("reporting-endpoints")
                    .contains("/_mamori/csp-report"),
                "{at}"
            );
            assert_eq!(r.header("x-request-id").len(), 36, "{at}");
            assert_eq!(
                r.headers.contains_key("strict-transport-security"),
                tls,
                "{at}: HSTS only under TLS"
            );
            let cache = r.headers.get("cache-control").map(|v| v.to_str().unwrap());
            if *private {
                assert_eq!(cache, Some("no-store"), "{at}");
            } else {
                assert_ne!(cache, Some("no-store"), "{at}");
            }
        }
    }
}

#[tokio::test]
async fn nonces_are_fresh_and_match_the_page() {
    let h = harness();
    let a = send(&h.app, req(Method::GET, "/")).await;
    let b = send(&h.app, req(Method::GET, "/")).await;
    assert_ne!(a.csp_nonce(), b.csp_nonce());
    for r in [&a, &b] {
        let nonce = r.csp_nonce();
        assert_eq!(r.body.matches("<script").count(), 1, "{}", r.body);
        assert!(
            r.body.contains(&format!("<script nonce=\"{nonce}\" src=")),
            "{}",
            r.body
        );
        assert!(r.body.contains("<html lang=\"ja\">"));
        assert!(r.body.contains("ようこそ"));
    }
    let en = send(
        &h.app,
        req(Method::GET, "/").header("accept-language", "en-US"),
    )
    .await;
    assert!(en.body.contains("<html lang=\"en\">"));
    assert!(en.body.contains("Welcome"));
}

#[tokio::test]
async fn checkout_may_post_to_the_payment_provider_only() {
    let h = harness();
    let r = send(&h.app, req(Method::GET, "/checkout")).await;
    let csp = r.header("content-security-policy");
    assert!(
        csp.contains("form-action 'self' https://pay.example.jp;"),
        "{csp}"
    );
    assert!(r
        .header("permissions-policy")
        .contains("payment=(self \"https://pay.example.jp\")"));
    let other = send(&h.app, req(Method::GET, "/contact")).await;
    let csp = other.header("content-security-policy");
    assert!(csp.contains("form-action 'self';"), "{csp}");
    assert!(other.header("permissions-policy").contains("payment=()"));
}

#[tokio::test]
async fn the_stylesheet_is_linked_and_cached_long() {
    let h = harness();
    let page = send(&h.app, req(Method::GET, "/")).await;
    let marker = "<link rel=\"stylesheet\" href=\"";
    let start = page.body.find(marker).unwrap() + marker.len();
    let href = page.body[start..].split('"').next().unwrap().to_owned();
    assert!(
        href.starts_with("/assets/mamori-") && href.ends_with(".css"),
        "{href}"
    );
    let css = send(&h.app, req(Method::GET, &href)).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert_eq!(
        css.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(css.body.contains("--accent"));
    let stale = send(&h.app, req(Method::GET, "/assets/mamori-0000.css")).await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn request_ids_are_ours_and_unique() {
    let h = harness();
    let a = send(
        &h.app,
        req(Method::GET, "/").header("x-request-id", "injected-id"),
    )
    .await;
    let b = send(&h.app, req(Method::GET, "/")).await;
    let (ia, ib) = (a.header("x-request-id"), b.header("x-request-id"));
    assert_ne!(ia, "injected-id");
    assert_ne!(ia, ib);
    assert!(uuid::Uuid::parse_str(ia).is_ok());
}

#[tokio::test]
async fn csp_reports_reach_the_sink_without_a_csrf_token() {
    let h = harness();
    let body = r#"{"csp-report":{"document-uri":"http://shop.example/mypage?email=a%40b.jp",
        "blocked-uri":"https://evil.example/s.js","effective-directive":"script-src-elem",
        "disposition":"enforce"}}"#;
    let r = send(
        &h.app,
        req(Method::POST, "/_mamori/csp-report")
            .header("content-type", "application/csp-report")
            .header("sec-fetch-site", "same-origin")
            .body(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let reports = h.reports.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].document_uri, "http://shop.example/mypage");
    assert_eq!(reports[0].blocked_uri, "https://evil.example/s.js");

    let junk = send(
        &h.app,
        req(Method::POST, "/_mamori/csp-report")
            .header("content-type", "application/csp-report")
            .body("{"),
    )
    .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.reports.reports().len(), 1);
}

#[tokio::test]
async fn forms_carry_the_token_in_a_hidden_field() {
    let h = harness();
    let (cookie, token) = open_form(&h.app).await;
    assert_eq!(token.len(), 43);
    // The same session gets the same token on the next page view.
    let again = send(&h.app, req(Method::GET, "/contact").cookie(&cookie)).await;
    assert_eq!(again.csrf_field(), token);
    assert!(
        again.session_cookie().is_none(),
        "no new cookie for a live session"
    );
}
