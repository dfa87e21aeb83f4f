//! A panicking handler through the whole stack: a 500 page and a log line, neither with the panic's
//! text. Alone in its own test binary: the log is captured with a thread-local subscriber, and a
//! test running beside it on another thread can leave tracing's per-callsite interest cached as
//! "never" for the error line this test looks for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_error_page, harness, req, send};
use http::{Method, StatusCode};
use mamori_testkit::LogCapture as Captured;

#[tokio::test]
async fn a_panic_is_a_500_page_without_its_text_in_body_or_log() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = harness();
    let r = send(&h.app, req(Method::GET, "/panic")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error_page(
        &r.body,
        "システムエラーが発生しました",
        "Something went wrong",
    );
    assert!(!r.body.contains("taro"), "{}", r.body);
    let id = r.header("x-request-id");
    assert!(r.body.contains(id), "the page shows the request id");

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("a handler panicked"), "{logs}");
    assert!(
        logs.contains(id),
        "the log line carries the request id: {logs}"
    );
    assert!(!logs.contains("taro"), "{logs}");
    assert!(!logs.contains("example.jp"), "{logs}");
}
