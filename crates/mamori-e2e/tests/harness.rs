//! The harness itself, against a small real server on loopback: forms with
//! Japanese text, redirects after POST, isolated pages, language, console
//! and CSP collection, and its errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use mamori_e2e::{Browser, Error};

type Posted = Arc<Mutex<Vec<(String, String)>>>;

const STRICT: &str = "default-src 'none'; form-action 'self'; base-uri 'none'";

fn html(csp: &str, body: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_SECURITY_POLICY, csp.to_owned()),
        ],
        format!(
            "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
             <title>fixture</title></head><body>{body}</body></html>"
        ),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn fixture() -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let posted: Posted = Arc::default();
    let app = Router::new()
        .route(
            "/form",
            get(|| async {
                html(
                    STRICT,
                    "<form method=\"post\" action=\"/submit\">\
                     <input id=\"name\" name=\"name\" value=\"消してください\">\
                     <select id=\"pref\" name=\"pref\"><option value=\"13\">東京都</option>\
                     <option value=\"27\">大阪府</option></select>\
                     <input id=\"agree\" name=\"agree\" type=\"checkbox\" value=\"yes\">\
                     <button id=\"send\" type=\"submit\">送信</button></form>",
                )
            }),
        )
        .route(
            "/submit",
            post(
                |State(p): State<Posted>, Form(f): Form<Vec<(String, String)>>| async move {
                    *p.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = f;
                    Redirect::to("/done")
                },
            ),
        )
        .route(
            "/done",
            get(|State(p): State<Posted>| async move {
                let lines: Vec<String> = p
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                html(
                    STRICT,
                    &format!("<pre id=\"got\">{}</pre>", esc(&lines.join("\n"))),
                )
            }),
        )
        .route(
            "/login",
            get(|| async {
                let mut r = html(STRICT, "<p id=\"in\">ログインしました</p>");
                r.headers_mut().insert(
                    header::SET_COOKIE,
                    header::HeaderValue::from_static(
                        "sid=customer-a; Path=/; HttpOnly; SameSite=Lax",
                    ),
                );
                r
            }),
        )
        .route(
            "/whoami",
            get(|h: HeaderMap| async move {
                let get = |n: header::HeaderName| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                html(
                    STRICT,
                    &format!(
                        "<p id=\"cookie\">{}</p><p id=\"lang\">{}</p>",
                        esc(&get(header::COOKIE)),
                        esc(&get(header::ACCEPT_LANGUAGE))
                    ),
                )
            }),
        )
        .route(
            "/csp-broken",
            get(|| async {
                html(
                    STRICT,
                    "<p style=\"color: red\">inline style</p>\
                     <script>document.title = 'ran';</script>",
                )
            }),
        )
        .route(
            "/throws",
            get(|| async {
                html(
                    "default-src 'none'; script-src 'nonce-e2etest'",
                    "<script nonce=\"e2etest\">console.error('boom-console'); \
                     throw new Error('boom-exception');</script>",
                )
            }),
        )
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(posted);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((base, server))
}

#[tokio::test]
async fn forms_redirects_and_japanese_text() -> anyhow::Result<()> {
    let (base, _server) = fixture().await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&format!("{base}/form")).await?;
    page.fill("#name", "山田 花子（ﾔﾏﾀﾞ）").await?;
    ensure!(page.value("#name").await? == "山田 花子（ﾔﾏﾀﾞ）");
    page.select("#pref", "27").await?;
    page.check("#agree").await?;
    page.check("#agree").await?; // stays ticked
    page.submit_and_wait("#send").await?;

    ensure!(page.url().await? == format!("{base}/done"));
    let got = page.text("#got").await?;
    ensure!(
        got == "name=山田 花子（ﾔﾏﾀﾞ）\npref=27\nagree=yes",
        "posted: {got:?}"
    );
    ensure!(page.console_errors().await?.is_empty());

    let missing = page.select("#pref-nope", "1").await;
    ensure!(
        matches!(missing, Err(Error::NoElement { .. })),
        "{missing:?}"
    );
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn pages_are_separate_customers_in_japanese() -> anyhow::Result<()> {
    let (base, _server) = fixture().await?;
    let browser = Browser::launch().await?;
    let a = browser.new_page().await?;
    let b = browser.new_page().await?;
    a.goto(&format!("{base}/login")).await?;
    a.goto(&format!("{base}/whoami")).await?;
    b.goto(&format!("{base}/whoami")).await?;
    ensure!(a.text("#cookie").await? == "sid=customer-a");
    ensure!(b.text("#cookie").await?.is_empty(), "cookie leaked to b");

    let lang = b.text("#lang").await?;
    ensure!(lang.starts_with("ja"), "Accept-Language: {lang:?}");
    let nav: String = b.eval("navigator.language").await?;
    ensure!(nav == "ja-JP", "navigator.language: {nav:?}");
    let size: (u32, u32) = b.eval("[window.innerWidth, window.innerHeight]").await?;
    ensure!(size == (1280, 900), "viewport: {size:?}");
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn console_collects_csp_violations_and_errors() -> anyhow::Result<()> {
    let (base, _server) = fixture().await?;
    let browser = Browser::launch().await?;

    let page = browser.new_page().await?;
    page.goto(&format!("{base}/csp-broken")).await?;
    let title: String = page.eval("document.title").await?;
    ensure!(title == "fixture", "the inline script ran");
    let errors = page.console_errors().await?;
    ensure!(
        errors
            .iter()
            .any(|e| e.is_csp_violation() && e.text.contains("script")),
        "{errors:?}"
    );
    ensure!(
        errors
            .iter()
            .any(|e| e.is_csp_violation() && e.text.contains("style")),
        "{errors:?}"
    );

    let page = browser.new_page().await?;
    page.goto(&format!("{base}/throws")).await?;
    let errors = page.console_errors().await?;
    ensure!(
        errors
            .iter()
            .any(|e| e.source == "console" && e.text == "boom-console"),
        "{errors:?}"
    );
    ensure!(
        errors
            .iter()
            .any(|e| e.source == "exception" && e.text.contains("boom-exception")),
        "{errors:?}"
    );
    browser.close().await?;
    Ok(())
}

#[tokio::test]
async fn errors_name_what_is_wrong() -> anyhow::Result<()> {
    let missing = Browser::launch_at("/nonexistent/chromium").await;
    let err = missing.err().context("launched a missing chromium")?;
    ensure!(matches!(err, Error::ChromiumNotFound { .. }));
    let text = err.to_string();
    ensure!(text.contains("/nonexistent/chromium") && text.contains("MAMORI_CHROMIUM"));

    let (base, server) = fixture().await?;
    let browser = Browser::launch().await?;
    let page = browser.new_page().await?;
    page.goto(&format!("{base}/form")).await?;
    let waited = page.wait_for("#never", Duration::from_millis(300)).await;
    ensure!(matches!(waited, Err(Error::Timeout { .. })), "{waited:?}");
    let shot = page.screenshot("../escape").await;
    ensure!(matches!(shot, Err(Error::ArtifactName(_))), "{shot:?}");

    // A port nobody listens on: the browser's error page is an error.
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?;
    let gone = page.goto(&format!("http://{closed}/")).await;
    ensure!(matches!(gone, Err(Error::Navigation { .. })), "{gone:?}");
    drop(server);
    browser.close().await?;
    Ok(())
}
