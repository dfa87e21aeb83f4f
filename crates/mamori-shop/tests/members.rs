//! Members and MyPage against a real shop on loopback (real HTTP, real SMTP to the catcher, real
//! database), each test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{link_in, path_of, place_sample_order, Backend, TestShop, PASSWORD};
use mamori_store::{Accessor, StoreError};
use mamori_testkit::both_backends;

both_backends!(
    registration_confirms_by_mail_and_signs_in,
    duplicate_registration_is_not_revealed,
    wrong_password_and_unknown_email_look_the_same,
    login_is_rate_limited_per_account,
    password_reset_works_once_and_expires,
    password_change_needs_the_current_one,
    email_change_is_confirmed_from_the_new_address,
    address_book_add_and_delete_send_notices,
    profile_change_sends_a_notice,
    order_history_shows_only_own_orders,
    withdrawal_erases_the_member_but_keeps_orders,
    mypage_requires_login,
    login_renews_the_session_merges_the_cart_and_logout_ends_it,
    member_pages_are_not_cached,
    form_errors_keep_values_but_never_passwords,
    unknown_form_fields_are_refused,
    housekeeping_ends_expired_sessions_and_old_mail,
);

const JA_SUBJECT_REGISTER: &str = "会員登録のご確認";

async fn register(client: &common::ShopClient, email: &str, password: &str) -> common::Resp {
    client.get("/register").await.expect(200);
    client
        .post_form(
            "/register",
            &[
                ("email", email),
                ("password", password),
                ("family", "山田"),
                ("given", "太郎"),
                ("family_kana", "ヤマダ"),
                ("given_kana", "タロウ"),
                ("phone", ""),
                ("birth_date", "平成2年1月2日"),
                ("consent", "yes"),
            ],
        )
        .await
        .expect_redirect("/register/sent");
    client.get("/register/sent").await
}

async fn registration_confirms_by_mail_and_signs_in(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let client = shop.client();
    let email = "taro.yamada@example.jp";
    let sent = register(&client, email, "a long passphrase 1").await;
    sent.expect(200);
    assert!(sent.has("#register-sent"));

    // Not confirmed yet: logging in says so and sends the link again (the first one is revoked).
    let first = shop.wait_for_mail(email, JA_SUBJECT_REGISTER).await;
    assert!(first.subject.contains("Please confirm your registration"));
    assert!(first.body.contains("山田 太郎"));
    client.get("/login").await;
    let unverified = client
        .post_form(
            "/login",
            &[("email", email), ("password", "a long passphrase 1")],
        )
        .await;
    unverified.expect(200);
    assert!(unverified
        .text_of("#login-notice")
        .unwrap()
        .contains("確認"));
    let second = shop.wait_for_nth_mail(email, JA_SUBJECT_REGISTER, 1).await;
    let old_link = link_in(&first, "/register/confirm");
    let new_link = link_in(&second, "/register/confirm");
    assert_ne!(old_link, new_link);
    let stale = client.get(&path_of(&old_link)).await;
    stale.expect(200);
    assert!(stale.has("#link-invalid"), "a revoked link does nothing");
    assert_eq!(client.get("/mypage").await.status, 303, "still signed out");

    // The link signs in with a new session id.
    let confirmed = client.get(&path_of(&new_link)).await;
    confirmed.expect_redirect("/mypage");
    let set_cookie = confirmed.header("set-cookie").unwrap_or_default();
    assert!(!set_cookie.is_empty(), "login issues a new session cookie");
    let page = client.get("/mypage").await;
    page.expect(200);
    assert_eq!(page.text_of("#member-name").unwrap(), "山田 太郎 様");

    // The link is single use.
    let again = shop.client().get(&path_of(&new_link)).await;
    again.expect(200);
    assert!(again.has("#link-invalid"));

    // And the password works from another browser.
    shop.client().login(email, "a long passphrase 1").await;
}

async fn duplicate_registration_is_not_revealed(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "hanako@example.jp";
    shop.member(email, "鳩山", "花子").await;
    let stranger = shop.client();
    let page = register(&stranger, email, "another passphrase").await;
    page.expect(200);
    assert!(
        page.has("#register-sent"),
        "the same page as a new registration"
    );
    let notice = shop
        .wait_for_mail(email, "会員登録のお申し込みについて")
        .await;
    assert!(notice.body.contains("/password/forgot"));
    assert!(
        shop.mails_to(email)
            .iter()
            .all(|m| !m.subject.contains(JA_SUBJECT_REGISTER)),
        "no confirmation link for a taken address"
    );
    // The owner's password still works; the stranger's does not.
    shop.client().login(email, PASSWORD).await;
    let c = shop.client();
    c.get("/login").await;
    let r = c
        .post_form(
            "/login",
            &[("email", email), ("password", "another passphrase")],
        )
        .await;
    r.expect(200);
}

/// The `<main>` of a page with the typed address blanked and the nonce-bearing parts outside
/// `<main>` ignored.
fn main_of(resp: &common::Resp, typed: &str) -> String {
    let doc = resp.doc();
    let sel = scraper::Selector::parse("main").unwrap();
    let html = doc.select(&sel).next().unwrap().html();
    html.replace(typed, "<typed>")
}

async fn wrong_password_and_unknown_email_look_the_same(backend: Backend) {
    let shop = TestShop::start(backend).await;
    shop.member("member@example.jp", "佐藤", "一郎").await;
    let c = shop.client();
    c.get("/login").await.expect(200);
    let wrong = c
        .post_form(
            "/login",
            &[
                ("email", "member@example.jp"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown = c
        .post_form(
            "/login",
            &[
                ("email", "nobody@example.jp"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert_eq!(unknown.status, 200);
    assert_eq!(
        wrong.text_of("#login-notice").unwrap(),
        "メールアドレスまたはパスワードが正しくありません。"
    );
    assert_eq!(
        main_of(&wrong, "member@example.jp"),
        main_of(&unknown, "nobody@example.jp"),
        "the two answers differ only in the address typed"
    );
    assert!(!wrong.text.contains("not the password"));
    assert_eq!(c.get("/mypage").await.status, 303);
}

async fn login_is_rate_limited_per_account(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "target@example.jp";
    shop.member(email, "高橋", "次郎").await;
    shop.member("other@example.jp", "田中", "三郎").await;
    let c = shop.client();
    c.get("/login").await;
    for i in 0..10 {
        let r = c
            .post_form(
                "/login",
                &[("email", email), ("password", "guess guess guess")],
            )
            .await;
        assert_eq!(r.status, 200, "attempt {i} is answered normally");
    }
    let limited = c
        .post_form("/login", &[("email", email), ("password", PASSWORD)])
        .await;
    limited.expect(429);
    assert!(limited.header("retry-after").is_some());
    // Another account from the same address is not affected.
    shop.client().login("other@example.jp", PASSWORD).await;
}

async fn password_reset_works_once_and_expires(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "reset@example.jp";
    shop.member(email, "伊藤", "幸子").await;
    let c = shop.client();
    c.get("/password/forgot").await.expect(200);
    c.post_form("/password/forgot", &[("email", email)])
        .await
        .expect_redirect("/password/forgot/sent");
    // A stranger's address gets the very same answer (and no mail).
    c.get("/password/forgot").await;
    c.post_form("/password/forgot", &[("email", "stranger@example.jp")])
        .await
        .expect_redirect("/password/forgot/sent");

    let mail = shop.wait_for_mail(email, "パスワード再設定").await;
    let link = link_in(&mail, "/password/reset");
    let form = c.get(&path_of(&link)).await;
    form.expect(200);
    let token = form.input_value("token").unwrap();

    // An invalid submission does not use the token up.
    let mismatch = c
        .post_form(
            "/password/reset",
            &[
                ("token", &token),
                ("password", "brand new passphrase"),
                ("password_confirm", "something else entirely"),
            ],
        )
        .await;
    mismatch.expect(200);
    assert!(mismatch.has("#password_confirm-error"));
    assert!(!mismatch.text.contains("brand new passphrase"));

    let done = c
        .post_form(
            "/password/reset",
            &[
                ("token", &token),
                ("password", "brand new passphrase"),
                ("password_confirm", "brand new passphrase"),
            ],
        )
        .await;
    done.expect_redirect("/login");
    let notice = shop.wait_for_mail(email, "パスワード変更のお知らせ").await;
    assert!(
        notice.body.contains("127.0.0.1"),
        "the notice names the address"
    );
    assert!(
        notice.body.contains("Chrome (Windows)"),
        "the notice names the browser"
    );
    assert!(notice.body.contains("日時："), "the notice names the time");

    // Single use.
    c.get(&path_of(&link)).await;
    let reused = c
        .post_form(
            "/password/reset",
            &[
                ("token", &token),
                ("password", "yet another passphrase"),
                ("password_confirm", "yet another passphrase"),
            ],
        )
        .await;
    reused.expect(200);
    assert!(reused.has("#link-invalid"));

    // Old password out, new one in.
    let old = shop.client();
    old.get("/login").await;
    old.post_form("/login", &[("email", email), ("password", PASSWORD)])
        .await
        .expect(200);
    shop.client().login(email, "brand new passphrase").await;

    // An expired token does nothing, whatever the state of the account.
    let id = shop
        .gateway()
        .find_member(&mamori_domain::Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let expired = shop
        .gateway()
        .issue_token(
            &Accessor::system("test", "test.setup"),
            &id,
            mamori_shop::members::PURPOSE_RESET_PASSWORD,
            -1,
            None,
        )
        .await
        .unwrap();
    use secrecy::ExposeSecret as _;
    let c2 = shop.client();
    c2.get(&format!(
        "/password/reset?token={}",
        expired.expose_secret()
    ))
    .await
    .expect(200);
    let late = c2
        .post_form(
            "/password/reset",
            &[
                ("token", expired.expose_secret()),
                ("password", "too late passphrase"),
                ("password_confirm", "too late passphrase"),
            ],
        )
        .await;
    late.expect(200);
    assert!(late.has("#link-invalid"));

    // A reset link works for a member who never confirmed their registration: its own 1 h
    // lifetime, not the registration's.
    let fresh = shop.client();
    register(&fresh, "unconfirmed@example.jp", "first passphrase!").await;
    fresh.get("/password/forgot").await;
    fresh
        .post_form("/password/forgot", &[("email", "unconfirmed@example.jp")])
        .await
        .expect_redirect("/password/forgot/sent");
    let m = shop
        .wait_for_mail("unconfirmed@example.jp", "パスワード再設定")
        .await;
    let l = link_in(&m, "/password/reset");
    let f = fresh.get(&path_of(&l)).await;
    let t = f.input_value("token").unwrap();
    fresh
        .post_form(
            "/password/reset",
            &[
                ("token", &t),
                ("password", "second passphrase!"),
                ("password_confirm", "second passphrase!"),
            ],
        )
        .await
        .expect_redirect("/login");
    shop.client()
        .login("unconfirmed@example.jp", "second passphrase!")
        .await;
}

async fn password_change_needs_the_current_one(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "change@example.jp";
    let (c, _) = shop.signed_in(email, "渡辺", "健").await;
    c.get("/mypage/password").await.expect(200);
    let wrong = c
        .post_form(
            "/mypage/password",
            &[
                ("current_password", "not my password"),
                ("password", "a fresh passphrase"),
                ("password_confirm", "a fresh passphrase"),
            ],
        )
        .await;
    wrong.expect(200);
    assert!(wrong.has("#current_password-error"));
    assert!(!wrong.text.contains("not my password"));
    assert!(!wrong.text.contains("a fresh passphrase"));
    assert_eq!(wrong.input_value("password"), None);

    let ok = c
        .post_form(
            "/mypage/password",
            &[
                ("current_password", PASSWORD),
                ("password", "a fresh passphrase"),
                ("password_confirm", "a fresh passphrase"),
            ],
        )
        .await;
    ok.expect_redirect("/mypage");
    let notice = shop.wait_for_mail(email, "パスワード変更のお知らせ").await;
    assert!(notice.body.contains("Chrome (Windows)"));
    assert!(notice.body.contains("127.0.0.1"));
    assert!(notice.body.contains("日時："));
    assert!(!notice.body.contains("a fresh passphrase"));

    c.logout().await;
    let old = shop.client();
    old.get("/login").await;
    old.post_form("/login", &[("email", email), ("password", PASSWORD)])
        .await
        .expect(200);
    shop.client().login(email, "a fresh passphrase").await;
}

async fn email_change_is_confirmed_from_the_new_address(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let old = "old.address@example.jp";
    let new = "new.address@example.jp";
    let (c, _) = shop.signed_in(old, "小林", "明").await;
    shop.member("taken@example.jp", "加藤", "恵").await;

    c.get("/mypage/email").await.expect(200);
    let wrong = c
        .post_form(
            "/mypage/email",
            &[("email", new), ("current_password", "wrong password!")],
        )
        .await;
    wrong.expect(200);
    assert!(wrong.has("#current_password-error"));
    assert_eq!(wrong.input_value("email").as_deref(), Some(new));

    c.post_form(
        "/mypage/email",
        &[("email", new), ("current_password", PASSWORD)],
    )
    .await
    .expect_redirect("/mypage");
    let confirm = shop.wait_for_mail(new, "メールアドレス変更のご確認").await;
    let link = link_in(&confirm, "/mypage/email/confirm");
    // Nothing changed yet.
    assert!(shop
        .gateway()
        .find_member(&mamori_domain::Email::parse(old).unwrap())
        .await
        .unwrap()
        .is_some());
    c.get(&path_of(&link)).await.expect_redirect("/mypage");
    let notice = shop
        .wait_for_mail(old, "メールアドレス変更のお知らせ")
        .await;
    assert!(
        notice.body.contains("n***@example.jp"),
        "masked new address"
    );
    assert!(!notice.body.contains(new), "never the whole new address");
    assert!(notice.body.contains("Chrome (Windows)"));

    c.logout().await;
    let o = shop.client();
    o.get("/login").await;
    o.post_form("/login", &[("email", old), ("password", PASSWORD)])
        .await
        .expect(200);
    let n = shop.client();
    n.login(new, PASSWORD).await;

    // A taken address is refused when the link is opened, and nothing changes.
    n.get("/mypage/email").await;
    n.post_form(
        "/mypage/email",
        &[
            ("email", "taken@example.jp"),
            ("current_password", PASSWORD),
        ],
    )
    .await
    .expect_redirect("/mypage");
    let m = shop
        .wait_for_mail("taken@example.jp", "メールアドレス変更のご確認")
        .await;
    let refused = n.get(&path_of(&link_in(&m, "/mypage/email/confirm"))).await;
    refused.expect(200);
    assert!(refused.has("#email-taken"));
    shop.client().login(new, PASSWORD).await;
    shop.client().login("taken@example.jp", PASSWORD).await;
}

async fn address_book_add_and_delete_send_notices(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "book@example.jp";
    let (c, _) = shop.signed_in(email, "山本", "優子").await;
    c.get("/mypage/addresses").await.expect(200);
    let fields = [
        ("addr_family", "山本"),
        ("addr_given", "一郎"),
        ("addr_family_kana", "ヤマモト"),
        ("addr_given_kana", "イチロウ"),
        ("addr_postal_code", "530-0001"),
        ("addr_prefecture", "大阪府"),
        ("addr_city", "大阪市北区"),
        ("addr_line1", "梅田3-3-3"),
        ("addr_line2", ""),
        ("addr_phone", "06-1234-5678"),
    ];
    c.post_form("/mypage/addresses", &fields)
        .await
        .expect_redirect("/mypage/addresses");
    let page = c.get("/mypage/addresses").await;
    page.expect(200);
    assert!(page.text.contains("梅田3-3-3"));
    let added = shop.wait_for_mail(email, "お届け先追加のお知らせ").await;
    assert!(added.body.contains("Chrome (Windows)"));

    let doc = page.doc();
    let sel = scraper::Selector::parse("#addresses form").unwrap();
    let action = doc
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("action")
        .unwrap()
        .to_owned();
    // Someone else cannot delete it.
    let (other, _) = shop.signed_in("other@example.jp", "中村", "翔").await;
    other.get("/mypage").await;
    other.post_form(&action, &[]).await.expect(404);

    c.post_form(&action, &[])
        .await
        .expect_redirect("/mypage/addresses");
    let after = c.get("/mypage/addresses").await;
    assert!(after.has("#addresses-empty"));
    let removed = shop.wait_for_mail(email, "お届け先変更のお知らせ").await;
    assert!(removed.body.contains("127.0.0.1"));
}

async fn profile_change_sends_a_notice(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "profile@example.jp";
    let (c, id) = shop.signed_in(email, "斎藤", "学").await;
    let form = c.get("/mypage/profile").await;
    form.expect(200);
    assert_eq!(form.input_value("family").as_deref(), Some("斎藤"));
    c.post_form(
        "/mypage/profile",
        &[
            ("family", "斎藤"),
            ("given", "学"),
            ("family_kana", "サイトウ"),
            ("given_kana", "マナブ"),
            ("phone", "090-1111-2222"),
            ("birth_date", "昭和60年4月12日"),
            ("gender", "male"),
        ],
    )
    .await
    .expect_redirect("/mypage/profile");
    let notice = shop.wait_for_mail(email, "会員情報変更のお知らせ").await;
    assert!(notice.body.contains("Chrome (Windows)"));
    let p = shop
        .gateway()
        .customer_profile(&Accessor::system("test", "test.check"), &id)
        .await
        .unwrap();
    assert_eq!(p.phone.unwrap().expose().digits(), "09011112222");
    assert_eq!(
        p.birth_date.unwrap().expose().date().to_string(),
        "1985-04-12"
    );
    assert_eq!(
        p.name.expose().full_kana().as_deref(),
        Some("サイトウ マナブ")
    );
}

async fn order_history_shows_only_own_orders(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let (c, id) = shop.signed_in("buyer@example.jp", "鳩山", "花子").await;
    let (_, number) = place_sample_order(&shop, &id).await;
    let list = c.get("/mypage/orders").await;
    list.expect(200);
    assert!(list.text.contains(&number));
    assert!(list.text.contains("入金待ち"));
    let detail = c.get(&format!("/mypage/orders/{number}")).await;
    detail.expect(200);
    assert!(detail.text.contains("蒼太郎"), "名入れ shown");
    assert!(detail.text.contains("御祝"), "のし shown");
    assert!(detail.text.contains("代金引換"));
    assert!(detail.text.contains("8%対象"));
    // The amounts per rate add up to the total: shipping and the 代引き fee are in the 10% line.
    let yen = |sel: &str| -> i64 {
        let t = detail.text_of(sel).unwrap();
        t.split('円')
            .next()
            .unwrap()
            .replace(',', "")
            .parse()
            .unwrap()
    };
    assert_eq!(yen("#tax-reduced"), 3_240);
    assert_eq!(
        yen("#tax-reduced") + yen("#tax-standard"),
        yen("#order-total")
    );
    assert!(
        yen("#tax-standard") > 16_500 + 880,
        "items, shipping and fee"
    );
    assert!(
        !detail.has(&format!("a[href=\"/mypage/orders/{number}/receipt\"]")),
        "no receipt for an order not paid yet"
    );
    c.get(&format!("/mypage/orders/{number}/receipt"))
        .await
        .expect(404);

    let (other, _) = shop.signed_in("other@example.jp", "中村", "翔").await;
    other
        .get(&format!("/mypage/orders/{number}"))
        .await
        .expect(404);
    assert!(!other.get("/mypage/orders").await.text.contains(&number));
}

async fn withdrawal_erases_the_member_but_keeps_orders(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "leaving@example.jp";
    let (c, id) = shop.signed_in(email, "松本", "潤").await;
    let (order_id, _) = place_sample_order(&shop, &id).await;

    c.get("/mypage/withdraw").await.expect(200);
    let unticked = c
        .post_form("/mypage/withdraw", &[("current_password", PASSWORD)])
        .await;
    unticked.expect(200);
    assert!(unticked.has("#confirm-error"));
    let wrong = c
        .post_form(
            "/mypage/withdraw",
            &[("current_password", "wrong password!"), ("confirm", "yes")],
        )
        .await;
    wrong.expect(200);
    assert!(wrong.has("#current_password-error"));

    c.post_form(
        "/mypage/withdraw",
        &[("current_password", PASSWORD), ("confirm", "yes")],
    )
    .await
    .expect_redirect("/withdrawn");
    assert!(c.get("/withdrawn").await.has("#withdrawn"));
    c.get("/mypage").await.expect_redirect("/login");

    let acc = Accessor::system("test", "test.check");
    match shop.gateway().customer_profile(&acc, &id).await {
        Err(StoreError::Erased(_)) => {}
        other => panic!("expected Erased, got {:?}", other.map(|_| ())),
    }
    let orders = shop.gateway().orders_of(&acc, &id).await.unwrap();
    assert_eq!(orders.len(), 1, "the order stays (amounts only)");
    assert_eq!(orders[0].id, order_id);
    let relogin = shop.client();
    relogin.get("/login").await;
    relogin
        .post_form("/login", &[("email", email), ("password", PASSWORD)])
        .await
        .expect(200);
    // The confirmation outlives the data key: it was sealed under a system key.
    let bye = shop.wait_for_mail(email, "退会").await;
    assert!(bye.body.contains("退会"));
}

async fn mypage_requires_login(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    for path in [
        "/mypage",
        "/mypage/orders",
        "/mypage/orders/20260101-000001",
        "/mypage/addresses",
        "/mypage/profile",
        "/mypage/password",
        "/mypage/email",
        "/mypage/email/confirm?token=abc",
        "/mypage/withdraw",
    ] {
        let r = c.get(path).await;
        r.expect_redirect("/login?next=");
        assert!(r.header("cache-control").unwrap().contains("no-store"));
    }
    c.get("/").await;
    for path in [
        "/mypage/addresses",
        "/mypage/profile",
        "/mypage/password",
        "/mypage/email",
        "/mypage/withdraw",
        "/mypage/addresses/x/delete",
    ] {
        c.post_form(path, &[]).await.expect_redirect("/login?next=");
    }
    // And the login page brings them back.
    shop.member("back@example.jp", "森", "花").await;
    let login = c.get("/mypage/orders").await;
    let to_login = login.location.unwrap();
    c.get(&to_login).await.expect(200);
    c.post_form(
        "/login",
        &[
            ("email", "back@example.jp"),
            ("password", PASSWORD),
            ("next", "/mypage/orders"),
        ],
    )
    .await
    .expect_redirect("/mypage/orders");
    // An off-site `next` is ignored.
    let c2 = shop.client();
    c2.get("/login?next=//evil.example/").await.expect(200);
    c2.post_form(
        "/login",
        &[
            ("email", "back@example.jp"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ],
    )
    .await
    .expect_redirect("/mypage");
}

async fn member_pages_are_not_cached(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let anon = shop.client();
    for path in ["/login", "/register", "/password/forgot"] {
        let r = anon.get(path).await;
        r.expect(200);
        assert!(
            r.header("cache-control")
                .unwrap_or_default()
                .contains("no-store"),
            "{path}"
        );
    }
    let (c, _) = shop.signed_in("cache@example.jp", "林", "誠").await;
    for path in [
        "/mypage",
        "/mypage/orders",
        "/mypage/addresses",
        "/mypage/profile",
        "/mypage/password",
        "/mypage/email",
        "/mypage/withdraw",
    ] {
        let r = c.get(path).await;
        r.expect(200);
        assert!(
            r.header("cache-control")
                .unwrap_or_default()
                .contains("no-store"),
            "{path}"
        );
    }
}

async fn form_errors_keep_values_but_never_passwords(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    c.get("/register").await.expect(200);
    let secret = "SecretPw-9f8e7d";
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "typed@example.jp"),
                ("password", secret),
                ("family", "清水"),
                ("given", "大地"),
                ("family_kana", ""),
                ("given_kana", ""),
                ("phone", "12"),
                ("birth_date", "2999-01-01"),
            ],
        )
        .await;
    r.expect(200);
    assert_eq!(r.input_value("email").as_deref(), Some("typed@example.jp"));
    assert_eq!(r.input_value("family").as_deref(), Some("清水"));
    assert_eq!(r.input_value("phone").as_deref(), Some("12"));
    assert_eq!(r.input_value("password"), None);
    assert!(!r.text.contains(secret));
    assert!(r.has("#phone-error"));
    assert!(r.has("#birth_date-error"));
    assert!(r.has("#consent-error"));
    let short = c
        .post_form(
            "/register",
            &[
                ("email", "typed@example.jp"),
                ("password", "short"),
                ("family", "清水"),
                ("given", "大地"),
                ("consent", "yes"),
            ],
        )
        .await;
    short.expect(200);
    assert!(short.has("#password-error"));
    assert!(shop
        .gateway()
        .find_member(&mamori_domain::Email::parse("typed@example.jp").unwrap())
        .await
        .unwrap()
        .is_none());
    let login = c
        .post_form(
            "/login",
            &[("email", "not-an-address"), ("password", secret)],
        )
        .await;
    login.expect(200);
    assert_eq!(
        login.input_value("email").as_deref(),
        Some("not-an-address")
    );
    assert!(!login.text.contains(secret));
}

async fn unknown_form_fields_are_refused(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let c = shop.client();
    c.get("/login").await;
    c.post_form(
        "/login",
        &[
            ("email", "a@example.jp"),
            ("password", "whatever pass"),
            ("is_admin", "1"),
        ],
    )
    .await
    .expect(400);
    c.post_form("/register", &[("email", "a@example.jp"), ("role", "staff")])
        .await
        .expect(400);
    let (m, _) = shop.signed_in("fields@example.jp", "石井", "彩").await;
    m.get("/mypage/profile").await;
    m.post_form(
        "/mypage/profile",
        &[
            ("family", "石井"),
            ("given", "彩"),
            ("email", "x@example.jp"),
        ],
    )
    .await
    .expect(400);
    m.get("/").await;
    m.post_form("/logout", &[("everywhere", "1")])
        .await
        .expect(400);
}

async fn login_renews_the_session_merges_the_cart_and_logout_ends_it(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "cart@example.jp";
    let id = shop.member(email, "井上", "真央").await;
    let cat = shop.store().categories().await.unwrap().remove(0);
    let product = shop
        .store()
        .products_in_category(&cat.id, 0, 1)
        .await
        .unwrap()
        .items
        .remove(0);

    let c = shop.client();
    c.get(&format!("/product/{}", product.sku))
        .await
        .expect(200);
    c.post_form("/cart/add", &[("sku", &product.sku), ("quantity", "2")])
        .await
        .expect_redirect("/cart");
    let guest_session = c.session_cookie().expect("a guest session exists");

    c.login(email, PASSWORD).await;
    let member_session = c.session_cookie().unwrap();
    assert_ne!(guest_session, member_session, "a new session id at login");
    c.get_with_session("/mypage", &guest_session)
        .await
        .expect_redirect("/login");
    c.get_with_session("/mypage", &member_session)
        .await
        .expect(200);

    let lines = shop.store().cart_lines(&id).await.unwrap();
    assert_eq!(
        lines,
        vec![(product.sku.clone(), 2)],
        "the guest cart is the member's now"
    );
    assert!(c.get("/cart").await.text.contains(&product.sku));

    c.logout().await;
    c.get("/mypage").await.expect_redirect("/login");
    c.get_with_session("/mypage", &member_session)
        .await
        .expect_redirect("/login");
    // The stored cart waits for the next login.
    assert_eq!(shop.store().cart_lines(&id).await.unwrap().len(), 1);
}

/// Housekeeping removes sessions past their idle timeout (they hold sealed carts and drafts) and
/// mail sent more than 30 days ago; nothing younger.
async fn housekeeping_ends_expired_sessions_and_old_mail(backend: Backend) {
    let shop = TestShop::start(backend).await;
    let email = "tidy@example.jp";
    let (c, _) = shop.signed_in(email, "片付", "花子").await;
    // One mail sent (a reset link, asked for by another browser).
    let other = shop.client();
    other.get("/password/forgot").await.expect(200);
    other
        .post_form("/password/forgot", &[("email", email)])
        .await
        .expect_redirect("/password/forgot/sent");
    shop.wait_for_mail(email, "").await;
    let now = chrono::Utc::now();
    let done = shop.housekeeper.run_once(now).await.unwrap();
    assert_eq!(done.sessions, 0);
    assert_eq!(done.sent_mail, 0);
    assert_eq!(done.tokens, 0, "the reset link is still valid");
    c.get("/mypage").await.expect(200);

    let later = now + chrono::TimeDelta::minutes(31);
    let done = shop.housekeeper.run_once(later).await.unwrap();
    assert!(done.sessions >= 1, "the idle session went");
    assert_eq!(done.sent_mail, 0, "mail is kept 30 days");
    c.get("/mypage").await.expect_redirect("/login?next=");

    // The reset mail, once marked sent, goes after 30 days.
    let much_later = now + chrono::TimeDelta::days(31);
    let (mut purged, mut tokens) = (0, 0);
    for _ in 0..50 {
        let done = shop.housekeeper.run_once(much_later).await.unwrap();
        purged += done.sent_mail;
        tokens += done.tokens;
        if purged > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(purged >= 1);
    assert_eq!(tokens, 1, "the expired reset link went");
}
