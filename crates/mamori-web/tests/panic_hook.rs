//! The panic hook logs where a panic happened, never what it said.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use mamori_testkit::LogCapture as Captured;

#[test]
fn the_hook_withholds_the_message() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    mamori_web::errors::install_panic_hook();
    let result = std::panic::catch_unwind(|| {
        let email = "hanako.suzuki@example.jp";
        std::panic::panic_any(format!("bad address {email}"));
    });
    let _ = std::panic::take_hook();
    assert!(result.is_err());
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("panic (message withheld)"), "{logs}");
    assert!(
        logs.contains("panic_hook.rs"),
        "the location is kept: {logs}"
    );
    assert!(!logs.contains("hanako"), "{logs}");
}
