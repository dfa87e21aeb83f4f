//! The script inventory on both databases: each change is a new version written only over the
//! version the writer saw, and every version stays in the history.

use mamori_store::{script_site, script_state, Backend, ScriptRow};

use crate::both_backends;
use crate::common::*;

fn row(url: &str, sha: &str, by: &str, at: i64) -> ScriptRow {
    ScriptRow {
        url: url.into(),
        site: script_site::SHOP.into(),
        sha384: sha.into(),
        pages: "*".into(),
        justification: "double-submit guard".into(),
        state: script_state::ACTIVE.into(),
        version: 0,
        changed_by: by.into(),
        reason: "first".into(),
        changed_at: at,
    }
}

async fn changes_are_versions_over_what_the_writer_saw(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    assert!(s
        .script_put(&row("/a.js", "h1", "system", 1), None)
        .await
        .unwrap());
    // A second "new" entry under the same URL is refused, not merged.
    assert!(!s
        .script_put(&row("/a.js", "h9", "system", 2), None)
        .await
        .unwrap());
    let first = s.script_get("/a.js").await.unwrap().unwrap();
    assert_eq!((first.version, first.sha384.as_str()), (1, "h1"));

    assert!(s
        .script_put(&row("/a.js", "h2", "staff:1", 3), Some(1))
        .await
        .unwrap());
    // A writer that saw version 1 loses to the one that wrote version 2.
    assert!(!s
        .script_put(&row("/a.js", "h3", "staff:2", 4), Some(1))
        .await
        .unwrap());
    let now = s.script_get("/a.js").await.unwrap().unwrap();
    assert_eq!((now.version, now.sha384.as_str()), (2, "h2"));
    assert_eq!(now.changed_by, "staff:1");

    let history = s.script_history("/a.js").await.unwrap();
    let seen: Vec<(i64, &str)> = history
        .iter()
        .map(|r| (r.version, r.sha384.as_str()))
        .collect();
    assert_eq!(seen, vec![(2, "h2"), (1, "h1")]);

    assert!(s
        .script_put(&row("/b.js", "hb", "system", 5), None)
        .await
        .unwrap());
    let urls: Vec<String> = s
        .scripts_list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.url)
        .collect();
    assert_eq!(urls, vec!["/a.js", "/b.js"]);
    assert!(s.script_get("/none.js").await.unwrap().is_none());
}
both_backends!(changes_are_versions_over_what_the_writer_saw);
