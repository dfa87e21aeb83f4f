//! The sandbox payment provider's hosted page in a real headless Chromium:
//! a real sandbox (`spawn_sandbox`), a real return page (`ReturnCatcher`),
//! payments created over HTTP with `HttpConnector`. Each test has its own
//! browser, sandbox and catcher, so the tests run in parallel.
//!
//! Screenshots are taken of the empty form and of results, never of a page
//! with a typed card number.

use anyhow::{ensure, Context};
use mamori_e2e::{Browser, Page, ReturnCatcher, VisitKind, DEFAULT_TIMEOUT};
use mamori_pay::secrecy::SecretString;
use mamori_pay::{
    spawn_sandbox, CreatePayment, CreatedPayment, FailureReason, HttpConnector, PaymentConnector,
    PaymentStatus, SandboxConfig, SandboxHandle,
};

const API_KEY: &str = "sk_sandbox_e2e_0123456789abcdef";

struct World {
    sandbox: SandboxHandle,
    psp: HttpConnector,
    catcher: ReturnCatcher,
    browser: Browser,
}

impl World {
    async fn start() -> anyhow::Result<World> {
        let sandbox =
            spawn_sandbox(SandboxConfig::new(SecretString::from(API_KEY.to_owned()))).await?;
        let psp = HttpConnector::new(
            sandbox.base_url.clone(),
            SecretString::from(API_KEY.to_owned()),
        )?;
        let catcher = ReturnCatcher::spawn().await?;
        let browser = Browser::launch().await?;
        Ok(World {
            sandbox,
            psp,
            catcher,
            browser,
        })
    }

    async fn pay(&self, order_ref: &str, amount_jpy: i64) -> anyhow::Result<CreatedPayment> {
        Ok(self
            .psp
            .create_payment(&CreatePayment {
                order_ref: order_ref.to_owned(),
                amount_jpy,
                description: "mamori 茶舗 ご注文".to_owned(),
                return_url: self.catcher.return_url(),
                cancel_url: self.catcher.cancel_url(),
                idempotency_key: format!("e2e-{order_ref}"),
            })
            .await?)
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.browser.close().await?;
        self.sandbox.shutdown().await?;
        Ok(())
    }
}

/// Opens the hosted card form and checks it is the empty form, in Japanese
/// first, with nothing in the console.
async fn open_form(page: &Page, created: &CreatedPayment) -> anyhow::Result<()> {
    page.goto(created.redirect_url.as_str()).await?;
    page.wait_for("form.card #number", DEFAULT_TIMEOUT).await?;
    let h1 = page.text("h1").await?;
    ensure!(
        h1.starts_with("クレジットカードでのお支払い"),
        "heading: {h1:?}"
    );
    ensure!(page.attribute("html", "lang").await?.as_deref() == Some("ja"));
    for field in ["#number", "#expiry", "#cvv", "#name"] {
        ensure!(page.value(field).await?.is_empty(), "{field} is not empty");
    }
    let errors = page.console_errors().await?;
    ensure!(errors.is_empty(), "console errors on the form: {errors:?}");
    Ok(())
}

async fn fill_card(page: &Page, number: &str) -> anyhow::Result<()> {
    page.fill("#number", number).await?;
    page.fill("#expiry", "12/39").await?;
    page.fill("#cvv", "123").await?;
    page.fill("#name", "HANAKO YAMADA").await?;
    Ok(())
}

#[tokio::test]
async fn success_card_pays_and_returns_to_the_shop() -> anyhow::Result<()> {
    let w = World::start().await?;
    let created = w.pay("ORD-E2E-SUCCESS", 3_300).await?;
    let page = w.browser.new_page().await?;

    open_form(&page, &created).await?;
    let summary = page.text("dl.summary").await?;
    ensure!(summary.contains("ORD-E2E-SUCCESS"), "summary: {summary:?}");
    ensure!(summary.contains("3,300"), "summary: {summary:?}");
    page.screenshot("sandbox_success_form_empty").await?;

    fill_card(&page, "4242 4242 4242 4242").await?;
    page.submit_and_wait("form.card button.pay").await?;

    let url = page
        .wait_for_url_prefix(w.catcher.return_url().as_str(), DEFAULT_TIMEOUT)
        .await?;
    ensure!(page.text("#result").await? == "ok");
    // Eight digits, not four: a random payment id holds "4242" now and then.
    ensure!(
        !url.contains("42424242"),
        "the card number leaked into {url}"
    );
    let visit = w.catcher.last_visit().context("no visit to the shop")?;
    ensure!(visit.kind == VisitKind::Return);
    ensure!(visit.payment_id.as_deref() == Some(created.payment_id.as_str()));
    ensure!(
        visit.query.len() == 1,
        "only payment_id goes back: {:?}",
        visit.query
    );
    let lang = visit.accept_language.unwrap_or_default();
    ensure!(lang.starts_with("ja"), "Accept-Language: {lang:?}");

    let info = w.psp.lookup(&created.payment_id).await?;
    ensure!(info.status == PaymentStatus::Succeeded, "{info:?}");
    ensure!(info.brand.as_deref() == Some("visa"), "{info:?}");
    ensure!(info.last4.as_deref() == Some("4242"), "{info:?}");
    ensure!(info.settles("ORD-E2E-SUCCESS", 3_300));

    // The provider's page now shows the payment as done.
    page.goto(created.redirect_url.as_str()).await?;
    ensure!(page.text("h1").await?.starts_with("お支払い済み"));
    ensure!(!page.exists("#number").await?);
    page.screenshot("sandbox_success_paid").await?;
    let errors = page.console_errors().await?;
    ensure!(errors.is_empty(), "console errors: {errors:?}");
    w.stop().await
}

#[tokio::test]
async fn three_d_secure_challenge_passes_with_the_code() -> anyhow::Result<()> {
    let w = World::start().await?;
    let created = w.pay("ORD-E2E-3DS", 5_500).await?;
    let page = w.browser.new_page().await?;

    open_form(&page, &created).await?;
    fill_card(&page, "4000 0000 0000 3220").await?;
    page.submit_and_wait("form.card button.pay").await?;

    let url = page.url().await?;
    ensure!(url.ends_with("/challenge"), "not on the challenge: {url}");
    ensure!(page
        .text("h1")
        .await?
        .starts_with("本人認証（3-Dセキュア）"));
    ensure!(page.value("#code").await?.is_empty());
    let pending = w.psp.lookup(&created.payment_id).await?;
    ensure!(
        pending.status == PaymentStatus::RequiresAction,
        "{pending:?}"
    );
    page.screenshot("sandbox_3ds_challenge").await?;

    page.fill("#code", "123456").await?;
    page.submit_and_wait("form.card button.pay").await?;
    page.wait_for_url_prefix(w.catcher.return_url().as_str(), DEFAULT_TIMEOUT)
        .await?;
    ensure!(page.text("#result").await? == "ok");
    let visit = w.catcher.last_visit().context("no visit to the shop")?;
    ensure!(visit.payment_id.as_deref() == Some(created.payment_id.as_str()));

    let info = w.psp.lookup(&created.payment_id).await?;
    ensure!(info.status == PaymentStatus::Succeeded, "{info:?}");
    ensure!(info.last4.as_deref() == Some("3220"), "{info:?}");
    let errors = page.console_errors().await?;
    ensure!(errors.is_empty(), "console errors: {errors:?}");
    w.stop().await
}

#[tokio::test]
async fn three_d_secure_wrong_code_fails() -> anyhow::Result<()> {
    let w = World::start().await?;
    let created = w.pay("ORD-E2E-3DS-BAD", 1_100).await?;
    let page = w.browser.new_page().await?;

    open_form(&page, &created).await?;
    fill_card(&page, "4000000000003220").await?;
    page.submit_and_wait("form.card button.pay").await?;
    page.fill("#code", "000000").await?;
    page.submit_and_wait("form.card button.pay").await?;

    page.wait_for_url_prefix(w.catcher.cancel_url().as_str(), DEFAULT_TIMEOUT)
        .await?;
    ensure!(page.text("#result").await? == "cancel");
    let info = w.psp.lookup(&created.payment_id).await?;
    ensure!(
        info.status
            == PaymentStatus::Failed {
                reason: FailureReason::AuthenticationFailed
            },
        "{info:?}"
    );
    page.goto(created.redirect_url.as_str()).await?;
    let text = page.text("main").await?;
    ensure!(
        text.contains("本人認証（3-Dセキュア）に失敗しました。"),
        "{text:?}"
    );
    w.stop().await
}

#[tokio::test]
async fn declined_cards_fail_with_a_japanese_message() -> anyhow::Result<()> {
    let w = World::start().await?;
    let cases = [
        (
            "4000 0000 0000 0002",
            FailureReason::CardDeclined,
            "カード会社によりお支払いが承認されませんでした。",
            "sandbox_declined",
        ),
        (
            "4000 0000 0000 9995",
            FailureReason::InsufficientFunds,
            "ご利用可能額が不足しています。",
            "sandbox_insufficient_funds",
        ),
    ];
    for (i, (number, reason, message, shot)) in cases.into_iter().enumerate() {
        let order = format!("ORD-E2E-DECLINE-{i}");
        let created = w.pay(&order, 2_200).await?;
        let page = w.browser.new_page().await?;
        open_form(&page, &created).await?;
        fill_card(&page, number).await?;
        page.submit_and_wait("form.card button.pay").await?;

        // Back at the shop's cancel address, never at the return address.
        page.wait_for_url_prefix(w.catcher.cancel_url().as_str(), DEFAULT_TIMEOUT)
            .await?;
        ensure!(page.text("#result").await? == "cancel");
        let visits = w.catcher.visits();
        ensure!(
            visits.iter().all(|v| v.kind == VisitKind::Cancel),
            "{visits:?}"
        );
        let visit = visits.last().context("no visit to the shop")?;
        ensure!(visit.payment_id.as_deref() == Some(created.payment_id.as_str()));

        let info = w.psp.lookup(&created.payment_id).await?;
        ensure!(info.status == PaymentStatus::Failed { reason }, "{info:?}");
        ensure!(!info.settles(&order, 2_200));

        // The provider's page says why, in Japanese first.
        page.goto(created.redirect_url.as_str()).await?;
        let h1 = page.text("h1").await?;
        ensure!(h1.starts_with("お支払いできませんでした"), "{h1:?}");
        let text = page.text("main").await?;
        ensure!(text.contains(message), "{text:?}");
        ensure!(!text.contains("お支払い済み"));
        ensure!(!page.exists("#number").await?);
        page.screenshot(shot).await?;
        let errors = page.console_errors().await?;
        ensure!(errors.is_empty(), "console errors: {errors:?}");
        page.close().await?;
    }
    w.stop().await
}

#[tokio::test]
async fn a_wrong_number_comes_back_empty_with_a_message() -> anyhow::Result<()> {
    let w = World::start().await?;
    let created = w.pay("ORD-E2E-TYPO", 3_300).await?;
    let page = w.browser.new_page().await?;
    open_form(&page, &created).await?;
    // Fails the Luhn check; typed in full-width digits with hyphens.
    fill_card(&page, "４２４２－４２４２－４２４２－４２４１").await?;
    page.submit_and_wait("form.card button.pay").await?;

    ensure!(page.exists("#number-error").await?);
    let msg = page.text("#number-error").await?;
    ensure!(!msg.is_ascii(), "message not in Japanese first: {msg:?}");
    // The number and the code are never written back; the name is.
    ensure!(page.value("#number").await?.is_empty());
    ensure!(page.value("#cvv").await?.is_empty());
    ensure!(page.value("#name").await? == "HANAKO YAMADA");
    let html = page.content().await?;
    // Eight digits, not four: a random nonce or token holds "4241" now and then.
    ensure!(!html.contains("42424241") && !html.contains("４２４１"));
    page.screenshot("sandbox_number_error").await?;
    let info = w.psp.lookup(&created.payment_id).await?;
    ensure!(info.status == PaymentStatus::Pending, "{info:?}");
    ensure!(w.catcher.visits().is_empty());
    w.stop().await
}

#[tokio::test]
async fn hosted_page_cannot_be_framed_and_has_a_clean_console() -> anyhow::Result<()> {
    let w = World::start().await?;
    let created = w.pay("ORD-E2E-CSP", 3_300).await?;

    // The headers, read by a plain HTTP client.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(created.redirect_url.as_str())
        .send()
        .await?;
    ensure!(resp.status() == reqwest::StatusCode::OK);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    ensure!(
        directives.contains(&"frame-ancestors 'none'"),
        "CSP: {csp:?}"
    );
    ensure!(directives.contains(&"default-src 'none'"), "CSP: {csp:?}");
    ensure!(
        directives.contains(&"script-src 'self'"),
        "scripts only from the provider's own origin: {csp:?}"
    );
    ensure!(!csp.contains("unsafe-"), "CSP: {csp:?}");
    ensure!(header("x-frame-options") == "DENY");
    ensure!(header("referrer-policy") == "no-referrer");
    ensure!(header("cache-control") == "no-store");

    // The page itself: one script (the provider's card helper, from its own origin, no inline
    // code), no inline style, nothing in the console.
    let page = w.browser.new_page().await?;
    open_form(&page, &created).await?;
    let scripts: Vec<String> = page
        .eval("Array.from(document.scripts, (s) => s.src + '|' + s.text.length)")
        .await?;
    ensure!(
        scripts.len() == 1 && scripts[0].ends_with("/assets/card.js|0"),
        "scripts: {scripts:?}"
    );
    // It ran under the CSP: the number is grouped in fours as typed.
    page.fill("#number", "4242424242424242").await?;
    let grouped = page.value("#number").await?;
    ensure!(grouped == "4242 4242 4242 4242", "grouping: {grouped:?}");
    page.fill("#number", "").await?;
    ensure!(!page.exists("style").await?);
    ensure!(!page.exists("[style]").await?);
    ensure!(!page.exists("iframe").await?);
    // The stylesheet was allowed and applied (Japanese text, styled).
    let sheets: usize = page.eval("document.styleSheets.length").await?;
    ensure!(sheets == 1, "stylesheets: {sheets}");
    let messages = page.console_messages().await?;
    ensure!(
        messages
            .iter()
            .all(|m| !m.is_error() || m.is_favicon_miss()),
        "console: {messages:?}"
    );
    ensure!(messages.iter().all(|m| !m.is_csp_violation()));

    // A page elsewhere that tries to frame it is refused by the browser.
    let framer = framing_page(created.redirect_url.as_str()).await?;
    let evil = w.browser.new_page().await?;
    evil.goto(framer.url.as_str()).await?;
    evil.wait_for("iframe", DEFAULT_TIMEOUT).await?;
    let errors = evil.console_errors().await?;
    ensure!(
        errors
            .iter()
            .any(|e| e.is_csp_violation() && e.text.contains("frame-ancestors")),
        "no frame-ancestors refusal reported: {errors:?}"
    );
    // Nothing of the card form reached the framing page.
    let framed_form: bool = evil
        .eval(
            "(() => { try { const d = document.querySelector('iframe').contentDocument; \
             return !!(d && d.querySelector('#number')); } catch (e) { return false; } })()",
        )
        .await?;
    ensure!(!framed_form);
    w.stop().await
}

/// A page on another origin that puts `target` in an iframe.
struct Framer {
    url: String,
    _server: tokio::task::JoinHandle<()>,
}

async fn framing_page(target: &str) -> anyhow::Result<Framer> {
    let html = format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>framer</title></head>\
         <body><h1>よそのページ</h1><iframe src=\"{target}\" width=\"600\" height=\"400\"></iframe></body></html>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = html.clone();
            async move { axum::response::Html(html) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Framer {
        url: format!("http://{addr}/"),
        _server: server,
    })
}
