//! Signing in: the allow-list, lockout, per-IP throttling, recovery codes once, session renewal,
//! idle timeout, disabled accounts, step-up, the new-device mail, and enrolment through the pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{totp_code, TestBackoffice, PASSWORD};
use mamori_staff::Role;
use mamori_store::Backend;
use mamori_testkit::both_backends;

/// A peer outside the allow-list gets 403 on every path, before sessions or handlers.
async fn outside_the_allow_list_is_refused(backend: Backend) {
    let bo = TestBackoffice::start_with(backend, |c| {
        c.allowed_cidrs = vec!["10.0.0.0/8".parse().unwrap(), "::2/128".parse().unwrap()];
    })
    .await;
    let client = bo.client();
    for path in ["/login", "/static/x.js", "/", "/orders", "/enrol?token=x"] {
        let res = client.get(path).await;
        assert_eq!(res.status, 403, "{path}");
        assert!(
            res.header("set-cookie").is_none(),
            "{path}: a session was started"
        );
    }
    let res = client
        .post_raw("/login", &[("email", "a@b.jp"), ("password", "x")])
        .await;
    assert_eq!(res.status, 403);
}

/// Wrong passwords lock the account; while locked even the right password fails; the lock ends.
async fn lockout_after_repeated_failures(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let staff = bo.staff(Role::Support, "lock@staff.example.jp").await;
    let client = bo.client();
    client.get("/login").await.expect(200);
    for _ in 0..5 {
        let res = client
            .post_form(
                "/login",
                &[("email", &staff.email), ("password", "wrong password 123")],
            )
            .await;
        res.expect(200);
        assert!(res.text_of("#error").is_some());
    }
    let res = client
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await;
    res.expect(200);
    assert!(
        res.text_of("#error").unwrap().contains("ロック"),
        "{}",
        res.text_of("#error").unwrap()
    );
    // An unknown address answers like a wrong password.
    let unknown = client
        .post_form(
            "/login",
            &[("email", "nobody@staff.example.jp"), ("password", PASSWORD)],
        )
        .await;
    let wrong = bo.client();
    let other = bo.staff(Role::Support, "other@staff.example.jp").await;
    wrong.get("/login").await;
    let wrong = wrong
        .post_form(
            "/login",
            &[("email", &other.email), ("password", "not the password 1")],
        )
        .await;
    assert_eq!(unknown.text_of("#error"), wrong.text_of("#error"));
    // After the lock period the right password works again.
    bo.advance(16 * 60);
    client
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await
        .expect_redirect("/login/factor");
    // Wrong second factors count too.
    for _ in 0..5 {
        client.post_form("/login/totp", &[("code", "000000")]).await;
    }
    let res = client
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await;
    assert!(res.text_of("#error").unwrap_or_default().contains("ロック"));
}

/// The per-IP throttle answers 429 past its limit, whatever the account.
async fn logins_are_throttled_per_ip(backend: Backend) {
    let bo = TestBackoffice::start_with(backend, |c| c.logins_per_minute = 3).await;
    let client = bo.client();
    client.get("/login").await.expect(200);
    let mut statuses = Vec::new();
    for i in 0..5 {
        let email = format!("n{i}@staff.example.jp");
        let res = client
            .post_form(
                "/login",
                &[("email", &email), ("password", "whatever pass 1")],
            )
            .await;
        statuses.push(res.status);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
}

/// A recovery code signs in once; the same code a second time is refused.
async fn recovery_codes_work_once(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let staff = bo.staff(Role::Manager, "recover@staff.example.jp").await;
    let code = staff.codes[0].clone();
    let first = bo.client();
    first.get("/login").await;
    first
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await
        .expect_redirect("/login/factor");
    first
        .post_form("/login/recovery", &[("code", &code)])
        .await
        .expect_redirect("/");
    first.get("/account").await.expect(200);
    assert_eq!(
        first
            .get("/account")
            .await
            .text_of("#recovery-remaining")
            .unwrap(),
        "9"
    );

    let second = bo.client();
    second.get("/login").await;
    second
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await
        .expect_redirect("/login/factor");
    let res = second
        .post_form("/login/recovery", &[("code", &code)])
        .await;
    res.expect(200);
    assert!(res.text_of("#error").is_some());
    // Still not signed in.
    second.get("/account").await.expect_redirect("/login");
    // A code typed in lower case with spaces is the same code (another unused one).
    let typed = staff.codes[1].to_lowercase().replace('-', " - ");
    second
        .post_form("/login/recovery", &[("code", &typed)])
        .await
        .expect_redirect("/");
}

/// The session id changes at sign-in; the old one is worthless. Idle sessions end.
async fn sessions_renew_and_expire(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let staff = bo.staff(Role::Operator, "sess@staff.example.jp").await;
    let client = bo.client();
    let first = client.get("/login").await;
    let before = first.cookie("mamori_staff").unwrap_or_default();
    assert!(before.starts_with("mamori_staff="), "{before}");
    client
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await;
    let code = bo.fresh_code(&staff);
    let done = client.post_form("/login/totp", &[("code", &code)]).await;
    done.expect_redirect("/");
    let after = done.cookie("mamori_staff").unwrap_or_default();
    assert!(after.starts_with("mamori_staff="));
    assert_ne!(before.split(';').next(), after.split(';').next());
    client.get("/orders").await.expect(200);
    bo.advance(31 * 60);
    client.get("/orders").await.expect_redirect("/login");
}

/// A disabled account's open session stops working at its next request; a role change counts at
/// once.
async fn disabled_and_demoted_at_once(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (owner, _owner_client) = bo.member(Role::Owner).await;
    let (staff, client) = bo.member(Role::Manager).await;
    client.get("/customers").await.expect(200);
    bo.state
        .auth
        .change_role(&owner.id, &staff.id, Role::Auditor)
        .await
        .unwrap();
    client.get("/customers").await.expect(403);
    client.get("/ledger").await.expect(200);
    bo.state.auth.disable(&owner.id, &staff.id).await.unwrap();
    client.get("/ledger").await.expect_redirect("/login");
    let again = bo.client();
    again.get("/login").await;
    let res = again
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await;
    assert!(res.text_of("#error").unwrap().contains("停止"));
}

/// The first sign-in from a browser mails the member of staff; the next one from it does not.
async fn new_device_mail(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let staff = bo.staff(Role::Support, "device@staff.example.jp").await;
    let client = bo.signed_in(&staff).await;
    let subject = bo.wait_for_mail(&staff.email, "新しい端末").await;
    assert!(subject.contains("New sign-in"), "{subject}");
    assert_eq!(bo.mails_to(&staff.email), 1);
    // Same browser (the device cookie is kept), after logging out.
    client
        .post_form("/logout", &[])
        .await
        .expect_redirect("/login");
    client.forget_csrf();
    client.login(&bo, &staff).await;
    // Another browser is new again.
    let _other = bo.signed_in(&staff).await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while bo.mails_to(&staff.email) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(bo.mails_to(&staff.email), 2);
}

/// Enrolment through the pages: the link works once, a password and TOTP, the recovery codes
/// shown once, then a sign-in.
async fn enrolment_through_the_pages(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (_owner, owner_client) = bo.member(Role::Owner).await;
    owner_client.get("/staff").await.expect(200);
    let res = owner_client
        .post_form(
            "/staff/invite",
            &[
                ("email", "new.support@staff.example.jp"),
                ("display_name", "佐藤 サポート"),
                ("role", "support"),
            ],
        )
        .await;
    res.expect(200);
    let link = res.text_of("#invite-link").unwrap();
    assert!(
        link.starts_with(&format!("{}/enrol?token=", bo.base_url)),
        "{link}"
    );
    let path = link.trim_start_matches(&bo.base_url).to_owned();

    let new = bo.client();
    let landing = new.get(&path).await;
    landing.expect(200);
    let token = landing.input_value("token").unwrap();
    // Opening the page used nothing up; posting does.
    new.post_form("/enrol", &[("token", &token)])
        .await
        .expect_redirect("/enrol/password");
    let weak = new
        .post_form(
            "/enrol/password",
            &[("password", "short"), ("password2", "short")],
        )
        .await;
    weak.expect(200);
    assert!(weak.text_of("#error").is_some());
    new.post_form(
        "/enrol/password",
        &[("password", PASSWORD), ("password2", PASSWORD)],
    )
    .await
    .expect_redirect("/enrol/factor");
    let factor = new.get("/enrol/factor").await;
    factor.expect(200);
    let secret = factor.text_of("#totp-secret").unwrap();
    let wrong = new.post_form("/enrol/totp", &[("code", "000000")]).await;
    wrong.expect(200);
    assert_eq!(
        wrong.text_of("#totp-secret").unwrap(),
        secret,
        "a wrong code keeps the secret"
    );
    let code = totp_code(&secret, bo.now());
    new.post_form("/enrol/totp", &[("code", &code)])
        .await
        .expect_redirect("/enrol/done");
    let done = new.get("/enrol/done").await;
    done.expect(200);
    let codes = done.texts_of("#recovery-codes li");
    assert_eq!(codes.len(), 10);
    // Shown once.
    new.get("/enrol/done").await.expect_redirect("/login");
    // The link cannot be used again.
    let reuse = bo.client();
    reuse.get(&path).await;
    let res = reuse.post_form("/enrol", &[("token", &token)]).await;
    res.expect(200);
    assert!(res.text_of("#error").is_some());
    // Sign in with the new account.
    bo.advance(30);
    new.get("/login").await;
    new.post_form(
        "/login",
        &[
            ("email", "new.support@staff.example.jp"),
            ("password", PASSWORD),
        ],
    )
    .await
    .expect_redirect("/login/factor");
    let code = totp_code(&secret, bo.now());
    new.post_form("/login/totp", &[("code", &code)])
        .await
        .expect_redirect("/");
    let home = new.follow(&new.get("/").await).await;
    home.expect(200);
    assert_eq!(home.text_of("#staff-role").unwrap(), "サポート");
    // Support sees no staff, settings or ledger in the menu.
    assert!(home.has("#nav-customers"));
    for hidden in [
        "#nav-staff",
        "#nav-settings",
        "#nav-ledger",
        "#nav-products",
    ] {
        assert!(!home.has(hidden), "{hidden}");
    }
}

/// A sensitive action after the step-up window sends to the step-up page and back.
async fn step_up_for_sensitive_actions(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (staff, client) = bo.member(Role::Owner).await;
    client.get("/staff").await.expect(200);
    bo.advance(6 * 60);
    client.get("/staff").await.expect(200);
    let res = client.get("/customers/export").await;
    res.expect_redirect("/step-up");
    let page = client.get("/step-up").await;
    page.expect(200);
    assert!(page.has("#totp-form"));
    let bad = client
        .post_form("/step-up/totp", &[("code", "000000")])
        .await;
    bad.expect(200);
    assert!(bad.text_of("#error").is_some());
    let code = totp_code(&staff.totp_secret, bo.now());
    client
        .post_form("/step-up/totp", &[("code", &code)])
        .await
        .expect_redirect("/customers/export");
    client.get("/customers/export").await.expect(200);
}

/// Failed sign-ins to many staff accounts from one address raise one `login.stuffing` alert
/// (counts and keyed hashes only) and that address is refused, even with a right password.
async fn staff_sign_in_stuffing_raises_one_alert(backend: Backend) {
    use mamori_guard::{kinds, AlertConfig, Alerts, GuardFraudAlarm};
    use mamori_store::fraud::{FraudConfig, FraudWatch, StuffingConfig};

    let bo = TestBackoffice::start(backend).await;
    let alarm = GuardFraudAlarm::new(Alerts::new(
        bo.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    ));
    let config = FraudConfig {
        stuffing: StuffingConfig {
            accounts: 3,
            window_secs: 3600,
        },
        ..FraudConfig::default()
    };
    let watch = FraudWatch::new(bo.store().clone(), config).with_alarm(std::sync::Arc::new(alarm));
    assert!(bo.state.fraud.set(watch).is_ok());
    let staff = bo.staff(Role::Support, "stuffed@staff.example.jp").await;
    let client = bo.client();
    client.get("/login").await.expect(200);
    for email in [
        "stuffed@staff.example.jp",
        "owner@staff.example.jp",
        "manager@staff.example.jp",
    ] {
        let res = client
            .post_form("/login", &[("email", email), ("password", "Summer2026!!")])
            .await;
        res.expect(200);
    }
    let alerts = bo
        .store()
        .alerts_page(
            &mamori_store::AlertFilter {
                state: None,
                kind: Some(kinds::LOGIN_STUFFING.to_owned()),
            },
            0,
            10,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].subject.starts_with("principal:login-staff:"));
    assert!(!alerts[0].evidence.contains('@') && !alerts[0].subject.contains("staff.example"));
    let refused = client
        .post_form("/login", &[("email", &staff.email), ("password", PASSWORD)])
        .await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
}

both_backends!(
    staff_sign_in_stuffing_raises_one_alert,
    outside_the_allow_list_is_refused,
    lockout_after_repeated_failures,
    logins_are_throttled_per_ip,
    recovery_codes_work_once,
    sessions_renew_and_expire,
    disabled_and_demoted_at_once,
    new_device_mail,
    enrolment_through_the_pages,
    step_up_for_sensitive_actions,
);
