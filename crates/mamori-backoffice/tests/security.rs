//! The security pages through real HTTP to the back office, on both databases: who may see
//! them, the dashboard's counts after real reads, sign-ins and alerts (its SVG parsed as XML, no
//! script anywhere in it), the self-check's "back office reachable from the storefront" computed
//! by a real request to a real storefront, and canaries planted from the page that no export
//! holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{TestBackoffice, PASSWORD};
use mamori_guard::{AlertConfig, GuardReadAlarm};
use mamori_pay::{url::Url, SandboxConfig};
use mamori_staff::Role;
use mamori_store::Backend;
use mamori_testkit::{both_backends, web::Resp};
use secrecy::SecretString;

const PAGES: &[&str] = &[
    "/security",
    "/security?w=7d",
    "/security/self-check",
    "/canaries",
];

/// The total of `series` (its name contains `name`) in the plot `plot` of the dashboard.
fn total(res: &Resp, plot: &str, name: &str) -> Option<i64> {
    let doc = res.doc();
    let row = scraper::Selector::parse(&format!("#{plot} tr.total")).unwrap();
    let td = scraper::Selector::parse("td").unwrap();
    doc.select(&row).find_map(|r| {
        let cells: Vec<String> = r.select(&td).map(|c| c.text().collect()).collect();
        (cells.len() == 2 && cells[0].contains(name)).then(|| cells[1].trim().parse().unwrap())
    })
}

/// Every inline SVG of the page, each parsed as XML: well-formed, no script element, no event
/// handler attribute, no inline style (the CSP would refuse it); returns how many.
fn check_svgs(res: &Resp) -> usize {
    let mut n = 0;
    let mut rest = res.text.as_str();
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("a closed svg") + start + "</svg>".len();
        let svg = &rest[start..end];
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        for node in doc.descendants().filter(|d| d.is_element()) {
            let tag = node.tag_name().name().to_ascii_lowercase();
            assert!(tag != "script" && tag != "foreignobject", "{tag} in {svg}");
            for a in node.attributes() {
                let name = a.name().to_ascii_lowercase();
                assert!(
                    !name.starts_with("on") && name != "style",
                    "{name} in {svg}"
                );
                assert!(!a.value().contains("javascript:"), "{svg}");
            }
        }
        n += 1;
        rest = &rest[end..];
    }
    n
}

/// The state of a self-check item.
fn check_state(res: &Resp, id: &str) -> (String, String) {
    let doc = res.doc();
    let sel = scraper::Selector::parse(&format!("#check-{id}")).unwrap();
    let row = doc.select(&sel).next().unwrap_or_else(|| panic!("no {id}"));
    let ev = scraper::Selector::parse("td.evidence").unwrap();
    (
        row.value().attr("data-state").unwrap().to_owned(),
        row.select(&ev).next().unwrap().text().collect(),
    )
}

/// Owners, managers and auditors read the security pages; operators and support are refused
/// (403, in the staff log). Only owners see which customers are canaries or may plant them.
async fn security_pages_by_role(backend: Backend) {
    let bo = TestBackoffice::start_with(backend, |c| {
        c.canary_domain = Some("canary.shop.example".into());
    })
    .await;
    for role in [Role::Owner, Role::Manager, Role::Auditor] {
        let (_s, client) = bo.member(role).await;
        for page in PAGES {
            let res = client.get(page).await;
            assert_eq!(res.status, 200, "{role} {page}: {}", res.text);
        }
        let canaries = client.get("/canaries").await;
        assert_eq!(canaries.has("#plant-form"), role == Role::Owner, "{role}");
        assert_eq!(canaries.has("#ids-hidden"), role != Role::Owner, "{role}");
        let nav = client.get("/security").await;
        assert!(nav.has("nav a[href='/security']"), "{role}: menu");
    }
    for role in [Role::Support, Role::Operator] {
        let (_s, client) = bo.member(role).await;
        for page in PAGES {
            assert_eq!(client.get(page).await.status, 403, "{role} {page}");
        }
        client
            .post_form("/canaries", &[("count", "1"), ("reason", "試験のため")])
            .await
            .expect(403);
    }
    // A manager may look but not plant.
    let (_m, manager) = bo.member(Role::Manager).await;
    manager
        .post_form("/canaries", &[("count", "1"), ("reason", "試験のため")])
        .await
        .expect(403);
    assert!(bo.gateway().canaries_planted().await.unwrap().is_empty());
}

/// The dashboard counts what really happened: a support member's reveal (reads by role, by
/// principal, and customers opened today), sign-ins and a failed one, and the alert a canary
/// read raises. The plots are well-formed SVG without script, under the strict CSP.
async fn the_dashboard_counts_real_reads_sign_ins_and_alerts(backend: Backend) {
    let bo = TestBackoffice::start_with(backend, |c| {
        c.canary_domain = Some("canary.shop.example".into());
    })
    .await;
    // As `mamori serve` does: the gateway's detections are raised as alerts.
    assert!(bo
        .gateway()
        .set_read_alarm(Arc::new(GuardReadAlarm::new(AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        }))));
    let customer = bo.customer("hanako.dashboard@example.jp").await;
    let (_a, auditor) = bo.member(Role::Auditor).await;

    let before = auditor.get("/security").await;
    before.expect(200);
    assert!(before.has("#no-openers"), "{}", before.text);
    let failed_before = total(&before, "sign-ins", "サインイン失敗").unwrap_or(0);

    // A support member signs in (after one wrong password) and reveals one field.
    let (support, client) = bo.member(Role::Support).await;
    let stranger = bo.client();
    stranger.get("/login").await.expect(200);
    stranger
        .post_form(
            "/login",
            &[
                ("email", &support.email),
                ("password", "not the password at all"),
            ],
        )
        .await
        .expect(200);
    client
        .post_form(
            &format!("/customers/{customer}/reveal"),
            &[("field", "phone"), ("reason", "電話での本人確認のため")],
        )
        .await
        .expect(200);

    let res = auditor.get("/security").await;
    res.expect(200);
    let key = format!("staff:{}", support.id);
    let opener = res
        .doc()
        .select(&scraper::Selector::parse("#top-openers tr.opener").unwrap())
        .map(|r| {
            (
                r.value().attr("data-principal").unwrap().to_owned(),
                r.text().collect::<String>(),
            )
        })
        .find(|(k, _)| *k == key)
        .expect("the support member among today's openers");
    assert!(opener.1.contains("サポート"), "{}", opener.1);
    let count = res
        .texts_of(&format!("#top-openers tr[data-principal='{key}'] td.count"))
        .pop()
        .unwrap();
    assert_eq!(count, "1");
    // The reveal is one plaintext read; the customer page before it one masked read.
    assert!(total(&res, "reads-by-role", "スタッフ：サポート").unwrap() >= 1);
    assert!(total(&res, "reads-by-principal", "サポート").unwrap() >= 1);
    assert!(total(&res, "sign-ins", "サインイン成功").unwrap() >= 2);
    assert_eq!(
        total(&res, "sign-ins", "サインイン失敗").unwrap(),
        failed_before + 1
    );
    assert_eq!(total(&res, "alerts", "重大"), None, "no alert yet");

    // A canary read raises canary.read (critical): the alerts plot counts it.
    let (_o, owner) = bo.member(Role::Owner).await;
    owner
        .post_form(
            "/canaries",
            &[("count", "1"), ("reason", "漏えい検知のため")],
        )
        .await
        .expect_redirect("/canaries");
    let canary = bo.gateway().canaries_planted().await.unwrap()[0].0.clone();
    client
        .post_form(
            &format!("/customers/{canary}/reveal"),
            &[("field", "phone"), ("reason", "問い合わせ対応のため")],
        )
        .await;
    let res = auditor.get("/security").await;
    assert_eq!(total(&res, "alerts", "重大"), Some(1), "{}", res.text);
    assert_eq!(
        res.texts_of(&format!("#top-openers tr[data-principal='{key}'] td.count"))
            .pop()
            .unwrap(),
        "2"
    );

    // Six plots, each well-formed SVG; no script but the back office's own file.
    assert_eq!(check_svgs(&res), 6);
    let week = auditor.get("/security?w=7d").await;
    assert_eq!(check_svgs(&week), 6);
    assert!(total(&week, "reads-by-principal", "サポート").unwrap() >= 2);
    for page in [&res, &week] {
        let scripts = page.count("script");
        assert_eq!(scripts, 1, "only the layout's script");
        assert!(page.has("script[src^='/static/'][integrity]"));
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(!page.text.contains("花子") && !page.text.contains("090-1234-5678"));
    }
}

/// A storefront assembled and served as `mamori serve` does, on loopback.
async fn storefront(backend: Backend) -> (Url, tokio::task::JoinHandle<()>, mamori_testkit::Env) {
    let env = mamori_testkit::Env::start(backend).await;
    let api_key = SecretString::from("sk_test_selfcheck".to_owned());
    let (sandbox, _psp) =
        mamori_testkit::pay::start_sandbox(SandboxConfig::new(api_key.clone()), api_key).await;
    let url = sandbox.base_url.clone();
    let shop = common::serve_storefront(
        env.gw.clone(),
        &url,
        "sk_test_selfcheck",
        None,
        Some(sandbox),
    )
    .await;
    (shop.url, shop.server, env)
}

/// "Back office reachable from the storefront" is asked of the storefront's listener at each
/// look: a real storefront answers 404 (OK); a listener that serves a back office (here a
/// second one, standing for a storefront that mounts it) answers, and the item says so.
async fn the_self_check_asks_the_storefront_for_back_office_paths(backend: Backend) {
    let (shop_url, shop, _env) = storefront(backend).await;
    let bo =
        TestBackoffice::start_with(backend, |c| c.storefront_url = Some(shop_url.clone())).await;
    let (_a, auditor) = bo.member(Role::Auditor).await;
    let res = auditor.get("/security/self-check").await;
    res.expect(200);
    let (state, evidence) = check_state(&res, "backoffice-not-on-storefront");
    assert_eq!(state, "ok", "{evidence}");
    assert!(
        evidence.contains("404") && evidence.contains(shop_url.as_str()),
        "{evidence}"
    );
    // Every staff member here has TOTP; the allow-list is loopback.
    assert_eq!(check_state(&res, "second-factor").0, "ok");
    assert_eq!(check_state(&res, "allow-list").0, "ok");
    // Measure 4 is outside mamori, measure 5 waits for card-testing thresholds.
    assert_eq!(check_state(&res, "antivirus").0, "unknown");
    assert_eq!(check_state(&res, "card-testing").0, "unknown");
    // The ledger matches its newest signed checkpoint once there is one.
    bo.gateway().ledger().checkpoint().await.unwrap();
    let res = auditor.get("/security/self-check").await;
    let (state, evidence) = check_state(&res, "ledger");
    assert_eq!(state, "ok", "{evidence}");
    assert_eq!(check_state(&res, "read-limits").0, "ok");
    assert_eq!(check_state(&res, "canaries").0, "todo", "none planted");
    assert!(!res.text.contains("<script>"));

    // The storefront stops: the item cannot be checked.
    shop.abort();
    let _ = shop.await;
    let res = auditor.get("/security/self-check").await;
    assert_eq!(
        check_state(&res, "backoffice-not-on-storefront").0,
        "unknown"
    );

    // A listener that serves back-office paths.
    let other = TestBackoffice::start(backend).await;
    let exposed = Url::parse(&format!("http://{}/", other.addr)).unwrap();
    let bo2 = TestBackoffice::start_with(backend, |c| c.storefront_url = Some(exposed)).await;
    let (_a2, auditor2) = bo2.member(Role::Auditor).await;
    let res = auditor2.get("/security/self-check").await;
    let (state, evidence) = check_state(&res, "backoffice-not-on-storefront");
    assert_eq!(state, "todo", "{evidence}");
    assert!(evidence.contains("/dashboard → 303"), "{evidence}");
    // A member of staff without a second factor shows too.
    let (row, token) = bo2
        .state
        .auth
        .invite(
            Role::Support,
            "nofactor@staff.example.jp",
            "二要素なし",
            None,
        )
        .await
        .unwrap();
    let _ = token;
    let mut staff = bo2.store().staff_by_id(&row.id).await.unwrap().unwrap();
    staff.state = mamori_staff::state::ACTIVE.to_owned();
    bo2.store().staff_update(&staff).await.unwrap();
    let res = auditor2.get("/security/self-check").await;
    let (state, evidence) = check_state(&res, "second-factor");
    assert_eq!(state, "todo");
    assert!(evidence.contains(": 1 /"), "{evidence}");
    let _ = PASSWORD;
}

/// An owner plants canaries from the page (a fresh second factor and a reason, on the staff log
/// and the ledger): they are listed by id and time, never opened, and no export holds them.
async fn canaries_planted_from_the_page_are_in_no_export(backend: Backend) {
    let bo = TestBackoffice::start_with(backend, |c| {
        c.canary_domain = Some("canary.shop.example".into());
    })
    .await;
    let real = bo.customer("real.customer@example.jp").await;
    let (owner, client) = bo.member(Role::Owner).await;
    client.get("/canaries").await.expect(200);
    // Refused: no reason, a count out of range.
    for fields in [
        [("count", "2"), ("reason", "")],
        [("count", "0"), ("reason", "漏えい検知のため")],
        [("count", "51"), ("reason", "漏えい検知のため")],
    ] {
        client
            .post_form("/canaries", &fields)
            .await
            .expect_redirect("/canaries");
    }
    assert!(bo.gateway().canaries_planted().await.unwrap().is_empty());
    // Past the step-up window it asks for a second factor first.
    bo.advance(6 * 60);
    client
        .post_form(
            "/canaries",
            &[("count", "3"), ("reason", "漏えい検知のため")],
        )
        .await
        .expect_redirect("/step-up");
    assert!(bo.gateway().canaries_planted().await.unwrap().is_empty());
    let code = bo.fresh_code(&owner);
    client.get("/step-up").await.expect(200);
    client.post_form("/step-up/totp", &[("code", &code)]).await;
    let before = bo.ledger_len().await;
    client
        .post_form(
            "/canaries",
            &[("count", "3"), ("reason", "漏えい検知のため")],
        )
        .await
        .expect_redirect("/canaries");
    let planted = bo.gateway().canaries_planted().await.unwrap();
    assert_eq!(planted.len(), 3);
    // Written as the owner with the reason; nothing read in plaintext (no canary.read).
    // The mail worker delivers the earlier mails meanwhile (its reads of their recipients are
    // on the ledger too): those are not the planting's.
    let mut events = bo.ledger_events_since(before).await;
    events.retain(|e| e.principal != mamori_store::Principal::System("mail-worker".into()));
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!(
            e.principal,
            mamori_store::Principal::Staff(owner.id.clone())
        );
        assert_ne!(e.action, mamori_store::Action::Read, "{e:?}");
    }
    assert!(events
        .iter()
        .all(|e| e.reason.as_deref() == Some("漏えい検知のため")));

    let page = client.get("/canaries").await;
    assert_eq!(page.text_of("#canary-count").unwrap(), "3");
    let listed = page.texts_of("#canaries td.id");
    for (id, _) in &planted {
        assert!(listed.contains(id), "{listed:?}");
    }
    assert!(!page.text.contains("canary.shop.example\""));

    // An export of every customer holds the real one only.
    let mut all: Vec<String> = planted.iter().map(|(id, _)| id.clone()).collect();
    all.push(real.clone());
    let res = client
        .post_form(
            "/customers/export",
            &[
                ("ids", &all.join("\n")),
                ("reason", "全顧客の確認（監査）"),
                ("f_name", "1"),
                ("f_email", "1"),
            ],
        )
        .await;
    res.expect(200);
    let lines: Vec<&str> = res.text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].contains("real.customer@example.jp"));
    assert!(!res.text.contains("canary.shop.example"));

    // The auditor sees the count and times, not the ids.
    let (_a, auditor) = bo.member(Role::Auditor).await;
    let page = auditor.get("/canaries").await;
    assert_eq!(page.text_of("#canary-count").unwrap(), "3");
    for (id, _) in &planted {
        assert!(!page.text.contains(id.as_str()));
    }
}

both_backends!(
    security_pages_by_role,
    the_dashboard_counts_real_reads_sign_ins_and_alerts,
    the_self_check_asks_the_storefront_for_back_office_paths,
    canaries_planted_from_the_page_are_in_no_export
);
