//! The browser monitor's area on both databases: one known-good and at most one pending
//! observation per page, and an approval that makes the pending ones good.

use mamori_store::{observation_state, Backend, ObservationRow};

use crate::both_backends;
use crate::common::*;

fn seen(id: &str, page: &str, state: &str, hash: &str, at: i64) -> ObservationRow {
    ObservationRow {
        id: id.into(),
        page: page.into(),
        state: state.into(),
        scripts: format!("{{\"https://psp.example/assets/card.js\":\"sha384-{hash}\"}}"),
        form_origins: "[\"https://psp.example\"]".into(),
        headers: Some(format!(
            "{{\"content-security-policy\":\"script-src 'sha384-{hash}'\"}}"
        )),
        final_origin: Some("https://psp.example".into()),
        observed_at: at,
    }
}

async fn good_and_pending_per_page(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let (good, pending) = (observation_state::GOOD, observation_state::PENDING);
    assert_eq!(s.observation("/checkout", good).await.unwrap(), None);
    let first = seen("o1", "/checkout", good, "AAA", 10);
    s.observation_put(&first).await.unwrap();
    s.observation_put(&seen("o2", "/cart", good, "CCC", 10))
        .await
        .unwrap();
    assert_eq!(
        s.observation("/checkout", good).await.unwrap(),
        Some(first.clone())
    );

    // A later difference is kept as the one pending observation: a newer one replaces it.
    s.observation_put(&seen("o3", "/checkout", pending, "BBB", 20))
        .await
        .unwrap();
    let newer = seen("o4", "/checkout", pending, "DDD", 30);
    s.observation_put(&newer).await.unwrap();
    assert_eq!(
        s.observation("/checkout", pending).await.unwrap(),
        Some(newer)
    );
    assert_eq!(
        s.observation("/checkout", good).await.unwrap(),
        Some(first.clone())
    );

    // The page went back to its known-good state: nothing pending any more.
    assert_eq!(s.observation_clear_pending("/checkout").await.unwrap(), 1);
    assert_eq!(s.observation("/checkout", pending).await.unwrap(), None);
    assert_eq!(s.observations_approve().await.unwrap(), 0);
    assert_eq!(s.observation("/checkout", good).await.unwrap(), Some(first));

    // An approval makes what is pending the known-good state; other pages keep theirs.
    s.observation_put(&seen("o5", "/checkout", pending, "EEE", 40))
        .await
        .unwrap();
    assert_eq!(s.observations_approve().await.unwrap(), 1);
    let now = s.observation("/checkout", good).await.unwrap().unwrap();
    assert_eq!((now.id.as_str(), now.state.as_str()), ("o5", good));
    assert!(now.scripts.contains("sha384-EEE"));
    assert!(now.headers.unwrap().contains("sha384-EEE"));
    assert_eq!(now.final_origin.as_deref(), Some("https://psp.example"));
    assert_eq!(s.observation("/checkout", pending).await.unwrap(), None);
    assert_eq!(
        s.observation("/cart", good).await.unwrap().unwrap().id,
        "o2"
    );
}

// A row from before migration 0023 has no headers and no final origin: they read as `None`.
async fn a_row_without_headers_reads_as_not_recorded(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let mut old = seen("o1", "/cart", observation_state::GOOD, "AAA", 10);
    old.headers = None;
    old.final_origin = None;
    s.observation_put(&old).await.unwrap();
    let got = s
        .observation("/cart", observation_state::GOOD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.headers, got.final_origin), (None, None));
}

// Every walk's observation is kept in the page's history, newest first, pruned to the newest
// `keep`; another page's history is its own.
async fn the_history_keeps_the_newest_per_page(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    for (i, at) in [10, 20, 30, 40].into_iter().enumerate() {
        let row = seen(
            &format!("h{i}"),
            "/checkout",
            observation_state::SEEN,
            &format!("H{i}"),
            at,
        );
        s.observation_history_add(&row, 3).await.unwrap();
    }
    s.observation_history_add(&seen("c1", "/cart", observation_state::SEEN, "C", 5), 3)
        .await
        .unwrap();
    let got = s.observation_history("/checkout", 10).await.unwrap();
    assert_eq!(
        got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["h3", "h2", "h1"]
    );
    assert!(got.iter().all(|r| r.state == observation_state::SEEN));
    assert!(got[0].scripts.contains("sha384-H3"));
    assert!(got[0].headers.as_deref().unwrap().contains("sha384-H3"));
    assert_eq!(got[0].final_origin.as_deref(), Some("https://psp.example"));
    assert_eq!(
        s.observation_history("/checkout", 1).await.unwrap().len(),
        1
    );
    assert_eq!(s.observation_history("/cart", 10).await.unwrap().len(), 1);
    assert!(s.observation_history("/", 10).await.unwrap().is_empty());
}

both_backends!(good_and_pending_per_page);
both_backends!(the_history_keeps_the_newest_per_page);
both_backends!(a_row_without_headers_reads_as_not_recorded);
