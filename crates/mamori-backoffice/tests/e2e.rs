//! End to end in headless Chromium (SQLite): the first owner enrols a passkey through Chromium's
//! virtual authenticator (DevTools' WebAuthn domain) and signs in with it; the owner invites a
//! support member, who enrols and signs in with TOTP (codes computed here from the secret shown
//! at enrolment), sees masked data and reveals one field with a reason; the ledger then holds
//! exactly that reveal. Screenshots go to `target/e2e-artifacts/`; every page is checked for
//! console errors and CSP violations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{totp_code, TestBackoffice, PASSWORD};
use mamori_e2e::{Browser, Page, DEFAULT_TIMEOUT};
use mamori_staff::Role;
use mamori_store::{
    access::{Action, Principal},
    Backend,
};
use secrecy::ExposeSecret;

async fn assert_clean_console(page: &Page, what: &str) {
    let errors = page.console_errors().await.unwrap();
    assert!(
        errors.is_empty(),
        "{what}: console errors or CSP violations: {:?}",
        errors.iter().map(|e| e.text.clone()).collect::<Vec<_>>()
    );
}

async fn sign_in_with_password(page: &Page, bo: &TestBackoffice, email: &str) {
    page.goto(&format!("{}/login", bo.base_url)).await.unwrap();
    page.fill("#email", email).await.unwrap();
    page.fill("#password", PASSWORD).await.unwrap();
    page.submit_and_wait("#login").await.unwrap();
    assert!(page.url().await.unwrap().ends_with("/login/factor"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_owner_and_totp_support_reveal_on_the_record() {
    let bo = TestBackoffice::start(Backend::Sqlite).await;
    let customer = bo.customer("hanako.yamada@example.jp").await;
    let browser = Browser::launch().await.unwrap();

    // The first owner, as `mamori staff create --role owner` makes them.
    let (_row, token) = bo
        .state
        .auth
        .invite(Role::Owner, "owner@staff.example.jp", "店主 太郎", None)
        .await
        .unwrap();
    let link = bo
        .state
        .config
        .link(&format!("/enrol?token={}", token.secret.expose_secret()));

    let owner = browser.new_page().await.unwrap();
    let authenticator = owner.add_virtual_authenticator().await.unwrap();
    owner.goto(&link).await.unwrap();
    owner.screenshot("backoffice_enrol").await.unwrap();
    owner.submit_and_wait("#enrol-start").await.unwrap();
    owner.fill("#password", PASSWORD).await.unwrap();
    owner.fill("#password2", PASSWORD).await.unwrap();
    owner.submit_and_wait("#password-submit").await.unwrap();
    owner
        .wait_for("#passkey-register", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    owner.screenshot("backoffice_enrol_factor").await.unwrap();
    assert_clean_console(&owner, "enrolment factor page").await;
    owner
        .fill("#passkey-label", "e2e virtual authenticator")
        .await
        .unwrap();
    owner.click("#passkey-register").await.unwrap();
    owner
        .wait_for_url_prefix(&format!("{}/enrol/done", bo.base_url), DEFAULT_TIMEOUT)
        .await
        .unwrap();
    owner
        .wait_for("#recovery-codes", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(owner.virtual_credentials(&authenticator).await.unwrap(), 1);
    assert_clean_console(&owner, "recovery codes").await;

    // Sign in: password, then the passkey.
    sign_in_with_password(&owner, &bo, "owner@staff.example.jp").await;
    owner.screenshot("backoffice_second_factor").await.unwrap();
    owner.click("#passkey").await.unwrap();
    owner
        .wait_for_url_prefix(&format!("{}/dashboard", bo.base_url), DEFAULT_TIMEOUT)
        .await
        .unwrap();
    owner
        .wait_for("#orders-today", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(owner.text("#staff-role").await.unwrap(), "オーナー");
    owner.screenshot("backoffice_dashboard").await.unwrap();
    assert_clean_console(&owner, "dashboard").await;

    // The owner invites a support member.
    owner.goto(&format!("{}/staff", bo.base_url)).await.unwrap();
    owner
        .fill("#email", "support@staff.example.jp")
        .await
        .unwrap();
    owner.fill("#display_name", "佐藤 花").await.unwrap();
    owner.select("#role", "support").await.unwrap();
    owner.submit_and_wait("#invite").await.unwrap();
    let invite = owner.text("#invite-link").await.unwrap();
    assert!(
        invite.starts_with(&format!("{}/enrol?token=", bo.base_url)),
        "{invite}"
    );
    assert_clean_console(&owner, "staff").await;

    // The support member enrols with an authenticator app, in a browser context of their own.
    let support = browser.new_page().await.unwrap();
    support.goto(&invite).await.unwrap();
    support.submit_and_wait("#enrol-start").await.unwrap();
    support.fill("#password", PASSWORD).await.unwrap();
    support.fill("#password2", PASSWORD).await.unwrap();
    support.submit_and_wait("#password-submit").await.unwrap();
    support
        .wait_for("#totp-secret", DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert_clean_console(&support, "TOTP set-up with its QR code").await;
    let secret = support.text("#totp-secret").await.unwrap();
    support
        .fill("#totp-code", &totp_code(&secret, bo.now()))
        .await
        .unwrap();
    support.submit_and_wait("#totp-submit").await.unwrap();
    support
        .wait_for("#recovery-codes", DEFAULT_TIMEOUT)
        .await
        .unwrap();

    // ... signs in with a TOTP code ...
    sign_in_with_password(&support, &bo, "support@staff.example.jp").await;
    bo.advance(30);
    support
        .fill("#totp-code", &totp_code(&secret, bo.now()))
        .await
        .unwrap();
    support.submit_and_wait("#totp-submit").await.unwrap();
    assert!(support.url().await.unwrap().ends_with("/dashboard"));
    assert_eq!(support.text("#staff-role").await.unwrap(), "サポート");
    assert!(!support.exists("#nav-staff").await.unwrap());

    // ... sees customers masked ...
    support
        .goto(&format!("{}/customers", bo.base_url))
        .await
        .unwrap();
    let listing = support.text("#customers").await.unwrap();
    assert!(listing.contains("山田 **"), "{listing}");
    assert!(!listing.contains("花子") && !listing.contains("hanako.yamada"));
    support
        .screenshot("backoffice_customers_masked")
        .await
        .unwrap();
    support
        .goto(&format!("{}/customers/{customer}", bo.base_url))
        .await
        .unwrap();
    assert_eq!(
        support.text("#masked-phone").await.unwrap(),
        "090-****-5678"
    );
    support
        .screenshot("backoffice_customer_masked")
        .await
        .unwrap();

    // ... and reveals one field, giving a reason.
    let reads_before: usize = bo
        .ledger_events()
        .await
        .iter()
        .filter(|e| e.action == Action::Read && e.customers.contains(&customer))
        .count();
    assert_eq!(reads_before, 0);
    // Without a reason: a clear error, the form kept as it was, nothing read.
    support.select("#field", "phone").await.unwrap();
    support.fill("#reason", "").await.unwrap();
    support.submit_and_wait("#reveal").await.unwrap();
    let problem = support.text("#problem").await.unwrap();
    assert!(problem.contains("理由を"), "{problem}");
    assert_eq!(support.value("#field").await.unwrap(), "phone");
    assert!(support.exists("#reveal-form").await.unwrap());
    assert!(!support.exists("#revealed").await.unwrap());
    support
        .screenshot("backoffice_reveal_without_reason")
        .await
        .unwrap();
    assert_clean_console(&support, "reveal without a reason").await;

    let reason = "電話でのお問い合わせに折り返すため";
    support.select("#field", "phone").await.unwrap();
    support.fill("#reason", reason).await.unwrap();
    support.submit_and_wait("#reveal").await.unwrap();
    assert_eq!(support.text("#revealed").await.unwrap(), "090-1234-5678");
    support.screenshot("backoffice_revealed").await.unwrap();
    assert_clean_console(&support, "reveal").await;

    // The ledger holds exactly that reveal: one read of that customer's phone by that member,
    // with the reason.
    let support_id = bo
        .store()
        .staff_by_email("support@staff.example.jp")
        .await
        .unwrap()
        .unwrap()
        .id;
    let reads: Vec<_> = bo
        .ledger_events()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Read && e.customers.contains(&customer))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0].principal, Principal::Staff(support_id));
    assert_eq!(reads[0].customers, vec![customer.clone()]);
    assert_eq!(reads[0].fields, vec!["customers.phone".to_owned()]);
    assert_eq!(reads[0].reason.as_deref(), Some(reason));

    // The owner sees it in the ledger view.
    owner
        .goto(&format!("{}/ledger?customer={customer}", bo.base_url))
        .await
        .unwrap();
    let ledger = owner.text("#ledger").await.unwrap();
    assert!(ledger.contains(reason), "{ledger}");
    assert!(!ledger.contains("090-1234-5678"));
    owner.screenshot("backoffice_ledger").await.unwrap();
    assert_clean_console(&owner, "ledger").await;

    browser.close().await.unwrap();
}
