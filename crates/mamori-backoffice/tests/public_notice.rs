//! The public notice (公表, お詫びとお知らせ) of an incident, end to end: staff make a draft from
//! the incident's scope, edit it, save versions (all kept) and publish one, with a step-up and a
//! reason; the storefront shows the published version at `/oshirase/{id}` under its strict CSP
//! with no personal value, a banner on every page while it is published, and MyPage answers
//! "was my data affected?" from the latest scope; unpublishing ends the banner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::TestBackoffice;
use mamori_staff::Role;
use mamori_store::{scope_summary, Backend};
use mamori_testkit::both_backends;
use mamori_testkit::web::{Browser, Site};

fn jst_local(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .with_timezone(&mamori_domain::time::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn shop_client(base: &str) -> Browser {
    Browser::new(Site {
        base,
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        resolve: None,
        csrf_pages: &["/", "/login"],
        session_cookie: "mamori_session",
    })
}

/// A member with a confirmed address (as after the confirmation link).
async fn member(bo: &TestBackoffice, email: &str) -> String {
    let id = bo.customer(email).await;
    bo.gateway()
        .verify_email(&mamori_store::Accessor::system("test", "test.setup"), &id)
        .await
        .unwrap();
    id
}

async fn member_login(c: &Browser, email: &str) {
    c.get("/login").await.expect(200);
    c.post_form(
        "/login",
        &[("email", email), ("password", "customer password 1")],
    )
    .await
    .expect_redirect("/mypage");
    c.forget_csrf();
}

/// No personal value of the test customers on a page.
fn assert_no_personal_value(text: &str, ids: &[&str]) {
    for value in [
        "山田",
        "花子",
        "kaori@example.jp",
        "outside@example.jp",
        "09012345678",
        "090-1234-5678",
    ]
    .iter()
    .chain(ids)
    {
        assert!(!text.contains(value), "a personal value or id on the page");
    }
}

fn assert_strict_csp(csp: &str) {
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert!(csp.contains("'nonce-") && csp.contains("'strict-dynamic'"));
    assert!(csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"));
    assert!(csp.contains("frame-ancestors 'none'"));
}

async fn public_notice_from_draft_to_unpublish(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let inside = member(&bo, "kaori@example.jp").await;
    let (_, staff) = bo.member(Role::Owner).await;
    let (_, auditor) = bo.member(Role::Auditor).await;
    let now = Utc::now().timestamp();
    let res = staff
        .post_form(
            "/incidents",
            &[
                ("kind", "database_copied"),
                ("title", "バックアップの持ち出し"),
                ("known_at", &jst_local(now + 7200)),
                ("window_from", ""),
                ("window_to", &jst_local(now + 3600)),
                ("principal", ""),
            ],
        )
        .await;
    res.expect_redirect("/incidents/");
    let page = res.location.clone().unwrap();
    let id: i64 = page.trim_start_matches("/incidents/").parse().unwrap();
    staff
        .post_form(&format!("{page}/scope"), &[])
        .await
        .expect_redirect(&page);
    // Registered after the scope was computed: outside it.
    let outside = member(&bo, "outside@example.jp").await;
    let detail = staff.get(&page).await;
    assert!(detail.has("#public-notice-link"), "{}", detail.text);

    // The draft: counts and kinds of items from the latest scope, no personal value.
    let np = format!("{page}/public-notice");
    let form = staff.get(&np).await;
    form.expect(200);
    assert!(form.has("#from-draft"));
    assert!(form.has("#not-published"));
    let body_ja = form.text_of("#body_ja").unwrap();
    let scope = bo.store().incident_scopes(id).await.unwrap().pop().unwrap();
    let (people, _) = scope_summary(&scope.content);
    assert!(people >= 1);
    assert!(body_ja.contains(&format!("{people}名")), "{body_ja}");
    for kind in [
        "氏名",
        "メールアドレス",
        "フィッシング",
        "お問い合わせ窓口",
        "よくあるご質問",
    ] {
        assert!(body_ja.contains(kind), "{kind} missing from the draft");
    }
    assert_no_personal_value(&form.text, &[&inside, &outside]);
    let title_ja = form.input_value("title_ja").unwrap();
    let title_en = form.input_value("title_en").unwrap();
    let body_en = form.text_of("#body_en").unwrap();
    assert!(body_en.contains("phishing"));

    // Saved without a reason: refused, nothing kept.
    staff
        .post_form(
            &np,
            &[
                ("title_ja", &title_ja),
                ("body_ja", &body_ja),
                ("title_en", &title_en),
                ("body_en", &body_en),
                ("reason", " "),
            ],
        )
        .await
        .expect_redirect(&np);
    assert!(bo
        .store()
        .public_notice_versions(id)
        .await
        .unwrap()
        .is_empty());
    // An auditor reads but cannot save.
    auditor.get(&np).await.expect(200);
    let denied = auditor
        .post_form(
            &np,
            &[
                ("title_ja", &title_ja),
                ("body_ja", &body_ja),
                ("title_en", &title_en),
                ("body_en", &body_en),
                ("reason", "監査"),
            ],
        )
        .await;
    assert_eq!(denied.status, 403);

    // Version 1 as drafted, version 2 edited.
    for (body, reason) in [
        (body_ja.clone(), "初版"),
        (
            format!("{body_ja}\n\n追記：調査の結果を更新しました。"),
            "調査結果の追記",
        ),
    ] {
        staff
            .post_form(
                &np,
                &[
                    ("title_ja", &title_ja),
                    ("body_ja", &body),
                    ("title_en", &title_en),
                    ("body_en", &body_en),
                    ("reason", reason),
                ],
            )
            .await
            .expect_redirect(&np);
    }
    let versions = bo.store().public_notice_versions(id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].reason, "調査結果の追記");

    // Nothing on the storefront yet.
    let front = bo.storefront(None).await;
    let shop = front.base();
    let visitor = shop_client(&shop);
    visitor.get(&format!("/oshirase/{id}")).await.expect(404);
    assert!(!visitor.get("/").await.has("#notice-banner"));

    staff
        .post_form(
            &format!("{np}/publish"),
            &[("version", "2"), ("reason", "公表")],
        )
        .await
        .expect_redirect(&np);
    // The storefront reads the banner at its next poll (`mamori serve`: every 500 ms).
    front.notices.refresh().await.unwrap();
    let shown = staff.get(&np).await;
    assert!(shown.has("#published[data-version='2']"), "{}", shown.text);
    let detail = staff.get(&page).await;
    assert!(detail.text.contains("第2版を公開") && detail.text.contains("公表"));
    // Closing the shop links the published notice from the maintenance page by default.
    let notice_url = detail
        .doc()
        .select(&scraper::Selector::parse("#switch-shop input[name=notice_url]").unwrap())
        .next()
        .and_then(|i| i.value().attr("value").map(str::to_owned))
        .unwrap();
    assert!(
        notice_url.ends_with(&format!("/oshirase/{id}")),
        "{notice_url}"
    );

    // The public page: the published version, its counts, strict CSP, no personal value.
    let notice = visitor.get(&format!("/oshirase/{id}")).await;
    notice.expect(200);
    assert!(notice.has("#public-notice[data-version='2']"));
    let text = notice.text_of("#notice-body").unwrap();
    assert!(text.contains("追記：調査の結果を更新しました。"));
    assert!(text.contains(&format!("{people}名")));
    assert!(notice
        .text_of("#notice-other-body")
        .unwrap()
        .contains("phishing"));
    assert_strict_csp(&notice.header("content-security-policy").unwrap());
    assert!(!notice.text.contains("<script>") && !notice.text.contains(" style="));
    assert_no_personal_value(&notice.text, &[&inside, &outside]);

    // The banner on other pages.
    for path in ["/", "/product/PT-1001", "/legal", "/login"] {
        let p = visitor.get(path).await;
        assert!(
            p.has(&format!("#notice-banner a[href='/oshirase/{id}']")),
            "{path}: no banner"
        );
    }

    // MyPage: the member in the scope sees "yes" with their kinds of items; the one outside "no".
    let before = bo.ledger_len().await;
    let m1 = shop_client(&shop);
    member_login(&m1, "kaori@example.jp").await;
    assert!(m1.get("/mypage").await.has("#link-affected"));
    let yes = m1.get("/mypage/affected").await;
    yes.expect(200);
    assert!(
        yes.has(&format!("#affected-{id}[data-affected='true']")),
        "{}",
        yes.text
    );
    let kinds = yes.texts_of(&format!("#kinds-{id} li"));
    assert!(kinds.contains(&"氏名".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"メールアドレス".to_owned()), "{kinds:?}");
    assert!(
        yes.header("cache-control").unwrap().contains("no-store"),
        "a member's answer is private"
    );
    let reads = bo.ledger_events_since(before).await;
    assert!(reads.iter().any(|e| e.purpose == "mypage.affected"
        && e.customers == vec![inside.clone()]
        && e.principal == mamori_store::Principal::Customer(inside.clone())));

    let m2 = shop_client(&shop);
    member_login(&m2, "outside@example.jp").await;
    let no = m2.get("/mypage/affected").await;
    assert!(
        no.has(&format!("#affected-{id}[data-affected='false']")),
        "{}",
        no.text
    );
    assert!(!no.has(&format!("#kinds-{id}")));
    // Signed out: to the login page.
    visitor
        .get("/mypage/affected")
        .await
        .expect_redirect("/login");

    // Unpublished: the banner ends, the page is gone, the versions stay.
    staff
        .post_form(&format!("{np}/unpublish"), &[("reason", "対応完了")])
        .await
        .expect_redirect(&np);
    front.notices.refresh().await.unwrap();
    assert!(!visitor.get("/").await.has("#notice-banner"));
    assert!(!visitor.get("/product/PT-1001").await.has("#notice-banner"));
    visitor.get(&format!("/oshirase/{id}")).await.expect(404);
    assert_eq!(
        bo.store().public_notice_versions(id).await.unwrap(),
        versions
    );
    assert!(staff.get(&np).await.has("#not-published"));
    assert_eq!(staff.get(&np).await.count("#versions tr.version"), 2);
}
both_backends!(public_notice_from_draft_to_unpublish);

/// The storefront keeps the banner in memory: a notice published (and then withdrawn) in the
/// database shows on two running storefronts, standing for two processes, at their next refresh,
/// without a restart; until then each serves the banner it last read.
async fn a_publish_shows_on_running_storefronts_after_a_refresh(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (one, two) = (bo.storefront(None).await, bo.storefront(None).await);
    let (a, b) = (shop_client(&one.base()), shop_client(&two.base()));
    assert!(!a.get("/").await.has("#notice-banner"));
    assert!(!b.get("/").await.has("#notice-banner"));
    let store = bo.store();
    let now = Utc::now().timestamp();
    let id = mamori_testkit::fixtures::open_incident(store.as_ref(), "database_copied", now).await;
    let version = store
        .public_notice_save(&mamori_testkit::fixtures::notice_version(id, "本文"))
        .await
        .unwrap();
    assert!(store
        .public_notice_set_shown(id, Some(version), now, "staff:owner")
        .await
        .unwrap());
    let banner = format!("#notice-banner a[href='/oshirase/{id}']");
    // Not read yet: the page is served from memory.
    assert!(!a.get("/").await.has("#notice-banner"));
    one.notices.refresh().await.unwrap();
    assert!(a.get("/").await.has(&banner));
    assert!(!b.get("/").await.has("#notice-banner"));
    two.notices.refresh().await.unwrap();
    assert!(b.get("/").await.has(&banner));
    // Withdrawn: gone from each at its refresh.
    assert!(store
        .public_notice_set_shown(id, None, now, "staff:owner")
        .await
        .unwrap());
    assert!(a.get("/").await.has(&banner));
    one.notices.refresh().await.unwrap();
    two.notices.refresh().await.unwrap();
    assert!(!a.get("/").await.has("#notice-banner"));
    assert!(!b.get("/").await.has("#notice-banner"));
}
both_backends!(a_publish_shows_on_running_storefronts_after_a_refresh);
