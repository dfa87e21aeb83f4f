//! The inquiry desk of an incident (issue 12), end to end on both backends: the storefront's
//! form under a published public notice (404 without one), field errors that keep the values,
//! the thank-you page with a reception number that says nothing about the scope, the limits per
//! client address and for the whole shop (429 with a Japanese page), the back office's list
//! (in the latest scope or not, by blind index, nothing opened) and the detail page that opens
//! the values on the ledger; the raw database holds none of the values typed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use common::TestBackoffice;
use mamori_staff::Role;
use mamori_store::{access::Action, Backend, Principal};
use mamori_testkit::both_backends;
use mamori_testkit::web::{Browser, Site};
use mamori_web::ratelimit::RateLimit;

const NAME: &str = "問合 太郎";
const OUTSIDE_EMAIL: &str = "toiawase.sender@example.net";
const PHONE: &str = "080-2468-1357";
const PHONE_DIGITS: &str = "08024681357";
const MESSAGE: &str = "身に覚えのない請求メールが届きました。照会番号ゼットキュー七七";

fn site(base: &str) -> Site<'_> {
    Site {
        base,
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        resolve: None,
        csrf_pages: &["/", "/login"],
        session_cookie: "mamori_session",
    }
}

/// A shop client whose connections come from `127.0.0.<n>`.
fn client_from(base: &str, n: u8) -> Browser {
    let ip: IpAddr = format!("127.0.0.{n}").parse().unwrap();
    Browser::from_address(site(base), ip)
}

fn jst_local(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .with_timezone(&mamori_domain::time::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn assert_strict_csp(csp: &str) {
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert!(csp.contains("'nonce-") && csp.contains("'strict-dynamic'"));
    assert!(csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"));
    assert!(csp.contains("frame-ancestors 'none'"));
}

/// Every byte the database holds (SQLite's files, or a `pg_dump` with its hex runs decoded).
fn raw_database(bo: &TestBackoffice) -> Vec<u8> {
    match bo.backend {
        Backend::Sqlite => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(bo.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("mamori.db") {
                    all.extend(std::fs::read(&path).unwrap());
                }
            }
            assert!(all.len() > 4096, "the database files were read");
            all
        }
        Backend::Postgres => {
            let bin = mamori_testkit::pg_bin_dir().unwrap();
            let out = std::process::Command::new(bin.join("pg_dump"))
                .arg("--no-owner")
                .arg(&bo.db_url)
                .output()
                .unwrap();
            assert!(out.status.success(), "pg_dump failed");
            let mut all = out.stdout.clone();
            // BYTEA columns are dumped as `\x` and hex: decode them too.
            let dump = &out.stdout;
            let mut i = 0;
            while i + 1 < dump.len() {
                if dump[i] == b'\\' && dump[i + 1] == b'x' {
                    let start = i + 2;
                    let mut end = start;
                    while end < dump.len() && dump[end].is_ascii_hexdigit() {
                        end += 1;
                    }
                    let run = &dump[start..end - (end - start) % 2];
                    all.extend(hex::decode(run).unwrap_or_default());
                    i = end;
                } else {
                    i += 1;
                }
            }
            all
        }
    }
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    haystack.windows(n.len()).any(|w| w == n)
}

/// The fields of a valid inquiry from `email`.
fn fields(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", NAME.to_owned()),
        ("email", email.to_owned()),
        ("phone", PHONE.to_owned()),
        ("message", MESSAGE.to_owned()),
    ]
}

async fn post(
    c: &Browser,
    path: &str,
    fields: &[(&'static str, String)],
) -> mamori_testkit::web::Resp {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post_form(path, &pairs).await
}

async fn inquiry_from_storefront_to_the_desk(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    // A member in the scope (found by the email the inquiry gives) and one outside it.
    let inside = bo.customer("kaori@example.jp").await;
    bo.gateway()
        .verify_email(
            &mamori_store::Accessor::system("test", "test.setup"),
            &inside,
        )
        .await
        .unwrap();
    let (_, owner) = bo.member(Role::Owner).await;
    let now = Utc::now().timestamp();
    let res = owner
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
    owner
        .post_form(&format!("{page}/scope"), &[])
        .await
        .expect_redirect(&page);
    let outside = bo.customer("outside@example.jp").await;
    bo.gateway()
        .verify_email(
            &mamori_store::Accessor::system("test", "test.setup"),
            &outside,
        )
        .await
        .unwrap();

    // Per address 3 an hour, the whole shop 6: small enough to reach here.
    let front = bo
        .storefront_with(None, |shop| {
            shop.with_inquiry_limits(
                RateLimit {
                    burst: 3,
                    per: Duration::from_secs(3600),
                },
                RateLimit {
                    burst: 6,
                    per: Duration::from_secs(3600),
                },
            )
        })
        .await;
    let shop = front.base();
    let form_path = format!("/oshirase/{id}/inquiry");

    // No notice published: no form, and a post stores nothing.
    let a = client_from(&shop, 1);
    a.get(&form_path).await.expect(404);
    a.get("/").await.expect(200);
    assert_eq!(
        post(&a, &form_path, &fields(OUTSIDE_EMAIL)).await.status,
        404
    );
    assert!(bo.gateway().inquiry_heads(id).await.unwrap().is_empty());

    // Published: the notice links the form; the form passes the strict CSP.
    let store = bo.store();
    let version = store
        .public_notice_save(&mamori_testkit::fixtures::notice_version(id, "本文"))
        .await
        .unwrap();
    assert!(store
        .public_notice_set_shown(id, Some(version), now, "staff:owner")
        .await
        .unwrap());
    front.notices.refresh().await.unwrap();
    let notice = a.get(&format!("/oshirase/{id}")).await;
    assert!(
        notice.has(&format!("#inquiry-link[href='{form_path}']")),
        "{}",
        notice.text
    );
    let form = a.get(&form_path).await;
    form.expect(200);
    assert!(form.has("#inquiry-form textarea[name=message]"));
    assert_strict_csp(&form.header("content-security-policy").unwrap());
    assert!(!form.text.contains("<script>") && !form.text.contains(" style="));
    assert!(form.header("cache-control").unwrap().contains("no-store"));

    // Bad input: each field's message, every value kept, nothing stored (1st sending of a).
    let long = "あ".repeat(2001);
    let bad = post(
        &a,
        &form_path,
        &[
            ("name", " ".to_owned()),
            ("email", "not-an-address".to_owned()),
            ("phone", "12".to_owned()),
            ("message", long.clone()),
        ],
    )
    .await;
    bad.expect(422);
    for field in ["name", "email", "phone", "message"] {
        assert!(bad.has(&format!("#{field}-error")), "{field}: no message");
    }
    assert!(bad.text_of("#message-error").unwrap().contains("2,000"));
    assert_eq!(bad.input_value("email").unwrap(), "not-an-address");
    assert_eq!(bad.input_value("phone").unwrap(), "12");
    assert_eq!(bad.text_of("#message").unwrap(), long);
    assert_strict_csp(&bad.header("content-security-policy").unwrap());
    assert!(bo.gateway().inquiry_heads(id).await.unwrap().is_empty());

    // Two sendings (2nd and 3rd of a): one from the scope's member's address, one from an
    // address nobody has. The pages are the same but for the reception number: no oracle.
    let before = bo.ledger_len().await;
    let in_scope = post(&a, &form_path, &fields("kaori@example.jp")).await;
    in_scope.expect(200);
    let no_scope = post(&a, &form_path, &fields(OUTSIDE_EMAIL)).await;
    no_scope.expect(200);
    let r1 = in_scope.text_of("#reception").unwrap();
    let r2 = no_scope.text_of("#reception").unwrap();
    for r in [&r1, &r2] {
        assert_eq!(r.len(), 11, "{r}");
        assert_eq!(&r[5..6], "-");
    }
    assert_ne!(r1, r2);
    assert_eq!(
        in_scope.text_of("#inquiry-done").unwrap().replace(&r1, "N"),
        no_scope.text_of("#inquiry-done").unwrap().replace(&r2, "N")
    );
    for page in [&in_scope, &no_scope] {
        assert!(!page.text.contains(NAME) && !page.text.contains("kaori@example.jp"));
    }
    let writes: Vec<_> = bo
        .ledger_events_since(before)
        .await
        .into_iter()
        .filter(|e| e.purpose == "oshirase.inquiry")
        .collect();
    assert_eq!(writes.len(), 2);
    assert!(writes.iter().all(|e| e.action == Action::Write
        && e.customers.is_empty()
        && matches!(e.principal, Principal::Guest(_))
        && e.fields.contains(&"incident_inquiries.message".to_owned())));

    // The 4th sending from a: 429 with the Japanese page, nothing stored.
    let limited = post(&a, &form_path, &fields(OUTSIDE_EMAIL)).await;
    limited.expect(429);
    assert!(limited.has("#inquiry-limited"));
    assert!(limited.text.contains("受付を一時的に止めています"));
    assert!(
        limited
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_strict_csp(&limited.header("content-security-policy").unwrap());
    assert_eq!(bo.gateway().inquiry_heads(id).await.unwrap().len(), 2);

    // Another address still gets through (4th of the shop).
    let b = client_from(&shop, 2);
    b.get(&form_path).await.expect(200);
    post(&b, &form_path, &fields(OUTSIDE_EMAIL))
        .await
        .expect(200);

    // A signed-in member's inquiry is tied to their id (5th of the shop).
    let m = client_from(&shop, 3);
    m.get("/login").await.expect(200);
    m.post_form(
        "/login",
        &[
            ("email", "outside@example.jp"),
            ("password", "customer password 1"),
        ],
    )
    .await
    .expect_redirect("/mypage");
    m.forget_csrf();
    m.get(&form_path).await.expect(200);
    let before = bo.ledger_len().await;
    let member_sent = post(&m, &form_path, &fields("outside@example.jp")).await;
    member_sent.expect(200);
    let rm = member_sent.text_of("#reception").unwrap();
    let events = bo.ledger_events_since(before).await;
    assert!(events.iter().any(|e| e.purpose == "oshirase.inquiry"
        && e.action == Action::Write
        && e.customers == vec![outside.clone()]
        && e.principal == Principal::Customer(outside.clone())));

    // The shop-wide limit: a 6th address passes, a 7th is refused.
    let c6 = client_from(&shop, 4);
    c6.get(&form_path).await.expect(200);
    post(&c6, &form_path, &fields(OUTSIDE_EMAIL))
        .await
        .expect(200);
    let c7 = client_from(&shop, 5);
    c7.get(&form_path).await.expect(200);
    let refused = post(&c7, &form_path, &fields(OUTSIDE_EMAIL)).await;
    refused.expect(429);
    assert!(refused.has("#inquiry-limited"));

    // The database holds none of the values typed.
    let raw = raw_database(&bo);
    for value in [
        NAME,
        OUTSIDE_EMAIL,
        "kaori@example.jp",
        PHONE,
        PHONE_DIGITS,
        MESSAGE,
    ] {
        assert!(!holds(&raw, value), "a value in the clear in the database");
    }
    assert!(holds(&raw, &r1), "the reception numbers are stored");

    // The back office's list: five inquiries, open, in the scope only for the member's address.
    let heads = bo.gateway().inquiry_heads(id).await.unwrap();
    assert_eq!(heads.len(), 5);
    let detail = owner.get(&page).await;
    assert!(detail.has(&format!(
        "#inquiries-link[href='/incidents/{id}/inquiries']"
    )));
    let before = bo.ledger_len().await;
    let list = owner.get(&format!("/incidents/{id}/inquiries")).await;
    list.expect(200);
    assert_eq!(list.count("#inquiries tr.inquiry"), 5);
    assert!(list.has(&format!(
        "#inquiry-{r1}[data-in-scope='true'][data-status='open']"
    )));
    assert!(list.has(&format!("#inquiry-{r2}[data-in-scope='false']")));
    assert!(list.has(&format!(
        "#inquiry-{rm}[data-member='true'][data-in-scope='false']"
    )));
    for value in [
        NAME,
        OUTSIDE_EMAIL,
        "kaori@example.jp",
        PHONE_DIGITS,
        MESSAGE,
    ] {
        assert!(!list.text.contains(value), "a value on the list");
    }
    assert!(
        bo.ledger_events_since(before)
            .await
            .iter()
            .all(|e| e.purpose != "incident.inquiry"),
        "the list opens nothing"
    );

    // Opening one: a read on the ledger by the member of staff, before the values are shown.
    let head = heads.iter().find(|h| h.reception == r1).unwrap();
    let path = format!("/incidents/{id}/inquiries/{}", head.id);
    let before = bo.ledger_len().await;
    let opened = owner.get(&path).await;
    opened.expect(200);
    assert_eq!(opened.text_of("#inquiry-name").unwrap(), NAME);
    assert_eq!(
        opened.text_of("#inquiry-email").unwrap(),
        "kaori@example.jp"
    );
    assert_eq!(opened.text_of("#inquiry-phone").unwrap(), PHONE_DIGITS);
    assert_eq!(opened.text_of("#inquiry-message").unwrap(), MESSAGE);
    assert!(opened.header("cache-control").unwrap().contains("no-store"));
    let reads: Vec<_> = bo
        .ledger_events_since(before)
        .await
        .into_iter()
        .filter(|e| e.purpose == "incident.inquiry")
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].action, Action::Read);
    assert!(matches!(&reads[0].principal, Principal::Staff(_)));
    assert!(reads[0]
        .fields
        .contains(&"incident_inquiries.email".to_owned()));
    // The member's inquiry names the member in its read.
    let member_head = heads.iter().find(|h| h.reception == rm).unwrap();
    let before = bo.ledger_len().await;
    owner
        .get(&format!("/incidents/{id}/inquiries/{}", member_head.id))
        .await
        .expect(200);
    assert!(bo
        .ledger_events_since(before)
        .await
        .iter()
        .any(|e| e.purpose == "incident.inquiry" && e.customers == vec![outside.clone()]));

    // Marked answered (CSRF-checked form); a second time says so and changes nothing.
    owner.get(&path).await.expect(200);
    owner
        .post_form(&format!("{path}/answered"), &[])
        .await
        .expect_redirect(&format!("/incidents/{id}/inquiries"));
    let list = owner.get(&format!("/incidents/{id}/inquiries")).await;
    assert!(list.has(&format!("#inquiry-{r1}[data-status='answered']")));
    assert!(owner
        .get(&path)
        .await
        .has("#inquiry[data-status='answered']"));
    assert!(!owner.get(&path).await.has("#answered-form"));
    // Without the CSRF token: refused.
    let r2_head = heads.iter().find(|h| h.reception == r2).unwrap();
    let forged = owner
        .post_raw(
            &format!("/incidents/{id}/inquiries/{}/answered", r2_head.id),
            &[],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(bo
        .gateway()
        .inquiry_heads(id)
        .await
        .unwrap()
        .iter()
        .any(|h| h.reception == r2 && h.status == "open"));

    // Roles: support reads and opens; an auditor neither lists nor opens; no such inquiry: 404.
    let (_, support) = bo.member(Role::Support).await;
    let desks = support.get("/inquiries").await;
    desks.expect(200);
    assert!(desks.has("#nav-inquiries"));
    assert!(
        desks.has(&format!(
            "#desk-{id}[data-total='5'][data-open='4'] a[href='/incidents/{id}/inquiries']"
        )),
        "{}",
        desks.text
    );
    support
        .get(&format!("/incidents/{id}/inquiries"))
        .await
        .expect(200);
    support.get(&path).await.expect(200);
    let (_, auditor) = bo.member(Role::Auditor).await;
    assert_eq!(
        auditor
            .get(&format!("/incidents/{id}/inquiries"))
            .await
            .status,
        403
    );
    assert_eq!(auditor.get(&path).await.status, 403);
    assert_eq!(auditor.get("/inquiries").await.status, 403);
    assert!(!auditor.get(&page).await.has("#nav-inquiries"));
    assert!(!auditor.get(&page).await.has("#inquiries-link"));
    owner
        .get(&format!(
            "/incidents/{id}/inquiries/{}",
            uuid::Uuid::now_v7()
        ))
        .await
        .expect(404);
    owner
        .get(&format!("/incidents/{}/inquiries/{}", id + 1000, head.id))
        .await
        .expect(404);

    // Unpublished: the form is gone again.
    assert!(store
        .public_notice_set_shown(id, None, now, "staff:owner")
        .await
        .unwrap());
    front.notices.refresh().await.unwrap();
    client_from(&shop, 6).get(&form_path).await.expect(404);
}
both_backends!(inquiry_from_storefront_to_the_desk);
