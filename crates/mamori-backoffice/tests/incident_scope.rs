//! The "database copied" incident page: the key-leak question (施行規則7条 括弧書き) answered
//! on the page goes on the timeline, and the scope computed after it says what is owed; auditors
//! see the answer but cannot give it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use common::TestBackoffice;
use mamori_staff::Role;
use mamori_store::Backend;
use mamori_testkit::both_backends;

fn jst_local(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .with_timezone(&mamori_domain::time::jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

async fn key_leak_answer_changes_what_is_owed(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    bo.customer("kaori@example.jp").await;
    let (_, client) = bo.member(Role::Owner).await;
    let now = Utc::now().timestamp();
    let res = client
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
    let detail = client.get(&page).await;
    assert!(detail.has("#key-leak-form"), "{}", detail.text);
    assert!(detail
        .text_of("#key-leak-answer")
        .unwrap()
        .contains("未回答"));

    // Unanswered: the scope counts the customer and says a report is owed.
    client
        .post_form(&format!("{page}/scope"), &[])
        .await
        .expect_redirect(&page);
    let detail = client.get(&page).await;
    assert!(detail.has("#appi-outcomes"), "{}", detail.text);
    assert_eq!(detail.count("#appi-outcomes tr[data-answer]"), 3);
    assert!(
        detail.has("#appi-conclusion[data-owed=true]"),
        "{}",
        detail.text
    );
    assert!(detail.has("#scope-stored-at"));
    assert!(!detail.text.contains("kaori@example.jp"));

    // "No": on the timeline; the next scope owes nothing.
    client
        .post_form(&format!("{page}/key-leak"), &[("answer", "no")])
        .await
        .expect_redirect(&page);
    let detail = client.get(&page).await;
    assert!(detail
        .text_of("#key-leak-answer")
        .unwrap()
        .contains("漏えいしていない"));
    assert!(detail.text.contains("key_leak:no"), "on the timeline");
    client
        .post_form(&format!("{page}/scope"), &[])
        .await
        .expect_redirect(&page);
    let detail = client.get(&page).await;
    assert!(
        detail.has("#appi-conclusion[data-owed=false]"),
        "{}",
        detail.text
    );

    // Not an answer: refused.
    let res = client
        .post_form(&format!("{page}/key-leak"), &[("answer", "maybe")])
        .await;
    assert_eq!(res.status, 400);

    // The auditor sees the answer, not the form.
    let (_, auditor) = bo.member(Role::Auditor).await;
    let detail = auditor.get(&page).await;
    assert!(detail.has("#key-leak-answer") && !detail.has("#key-leak-form"));
}

both_backends!(key_leak_answer_changes_what_is_owed);
