//! Request limits and error pages through the stack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_error_page, harness, open_form, req, send};
use http::{Method, StatusCode};

#[tokio::test]
async fn oversize_malformed_and_unknown_bodies() {
    let h = harness();
    let (cookie, token) = open_form(&h.app).await;
    let post = |body: Vec<u8>| req(Method::POST, "/contact").cookie(&cookie).form(body);

    let mut big = format!("_csrf={token}&message=").into_bytes();
    big.resize(70 * 1024, b'a');
    let r = send(&h.app, post(big.clone())).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_page(
        &r.body,
        "送信されたデータが大きすぎます",
        "What you sent is too large",
    );

    // Over the limit with the token in a header too (the body is read by the handler then).
    let r = send(
        &h.app,
        req(Method::POST, "/contact")
            .cookie(&cookie)
            .header("x-csrf-token", &token)
            .form(big),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    let cases: [(&str, Vec<u8>); 4] = [
        (
            "percent-encoded invalid UTF-8",
            format!("_csrf={token}&message=%C3%28").into_bytes(),
        ),
        (
            "unknown field",
            format!("_csrf={token}&message=hi&admin=1").into_bytes(),
        ),
        ("missing field", format!("_csrf={token}").into_bytes()),
        (
            "an encoded NUL in a value (PostgreSQL refuses it in text)",
            format!("_csrf={token}&message=a%00b").into_bytes(),
        ),
    ];
    for (what, body) in cases {
        let r = send(&h.app, post(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
        assert_error_page(
            &r.body,
            "リクエストの内容に誤りがあります",
            "could not be understood",
        );
    }
    // Raw invalid UTF-8 (bytes, not text, so built by hand).
    let mut raw = format!("_csrf={token}&message=").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe]);
    assert_eq!(
        send(&h.app, post(raw)).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// An encoded NUL anywhere in the path or query is a 400 page before any handler (a search or
/// an identifier with one reached PostgreSQL, which refuses it, and came back as a 500).
#[tokio::test]
async fn an_encoded_nul_in_the_path_or_query_is_a_400() {
    let h = harness();
    for uri in ["/?q=a%00", "/contact?x=%00", "/product/PT%00-1", "/%00"] {
        let r = send(&h.app, req(Method::GET, uri)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_error_page(
            &r.body,
            "リクエストの内容に誤りがあります",
            "could not be understood",
        );
    }
    // A percent sign followed by other digits is not a NUL.
    assert_eq!(
        send(&h.app, req(Method::GET, "/?q=%2500")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn not_found_and_wrong_method_pages() {
    let h = harness();
    let r = send(&h.app, req(Method::GET, "/nothing?email=a@b.jp")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_error_page(&r.body, "ページが見つかりません", "Page not found");
    assert!(!r.body.contains("a@b.jp"));
    assert!(r.body.contains(r.header("x-request-id")));

    let r = send(&h.app, req(Method::PUT, "/webhook")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_page(
        &r.body,
        "リクエストを処理できませんでした",
        "could not be processed",
    );

    let r = send(
        &h.app,
        req(Method::POST, "/contact")
            .header("content-type", "text/plain")
            .body("x"),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "no token: refused before parsing"
    );
}
