//! Saved versions of an incident's reports on both databases: numbered per incident and kind,
//! every version kept as saved, the table refusing updates and deletes.

use mamori_store::{Backend, ReportVersionRow};

use crate::both_backends;
use crate::common::*;

fn version(incident_id: i64, kind: &str, content: &str, seq: i64) -> ReportVersionRow {
    ReportVersionRow {
        id: uuid::Uuid::now_v7().to_string(),
        incident_id,
        kind: kind.into(),
        version: 99,
        saved_at: 1_800_000_000 + seq,
        saved_by: "staff:owner".into(),
        scope_id: None,
        content: content.into(),
        content_sha256: format!("sha-of-{content}"),
        timeline_seq: seq,
    }
}

async fn report_versions_are_numbered_and_kept(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let id = open_incident(s.as_ref(), "payment_page_altered", 1_800_000_000).await;
    let first = version(id, "sokuho", "{\"a\":1}", 1);
    assert_eq!(s.incident_report_save(&first).await.unwrap(), 1);
    assert_eq!(
        s.incident_report_save(&version(id, "sokuho", "{\"a\":2}", 2))
            .await
            .unwrap(),
        2
    );
    // The 確報 counts on its own.
    assert_eq!(
        s.incident_report_save(&version(id, "kakuho", "{\"b\":1}", 3))
            .await
            .unwrap(),
        1
    );
    // A kind outside the schema's list is refused.
    assert!(s
        .incident_report_save(&version(id, "draft", "{}", 4))
        .await
        .is_err());

    let all = s.incident_reports(id).await.unwrap();
    let seen: Vec<(String, i64, String)> = all
        .iter()
        .map(|r| (r.kind.clone(), r.version, r.content.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("sokuho".to_owned(), 1, "{\"a\":1}".to_owned()),
            ("sokuho".to_owned(), 2, "{\"a\":2}".to_owned()),
            ("kakuho".to_owned(), 1, "{\"b\":1}".to_owned()),
        ]
    );
    // The first version is exactly as saved.
    let mut expected = first.clone();
    expected.version = 1;
    assert_eq!(all[0], expected);
    assert!(s.incident_reports(id + 1).await.unwrap().is_empty());

    // Neither changed nor removed.
    for sql in [
        "UPDATE incident_reports SET content = 'changed'",
        "DELETE FROM incident_reports",
    ] {
        assert!(refuses(&env.url, sql).await, "{sql} must be refused");
    }
    assert_eq!(s.incident_reports(id).await.unwrap(), all);
}
both_backends!(report_versions_are_numbered_and_kept);
