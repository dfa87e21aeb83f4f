//! Public notice versions on both databases: numbered per incident, every version kept as
//! saved (the table refuses updates and deletes), one version shown at a time, unpublishing
//! keeps the first publication's date and shows none.

use mamori_store::Backend;

use crate::both_backends;
use crate::common::*;

async fn public_notice_versions_are_kept_and_shown_one_at_a_time(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let id = open_incident(s.as_ref(), "database_copied", 1_800_000_000).await;
    assert!(s.public_notices_published().await.unwrap().is_empty());
    // Nothing to unpublish, no version to publish.
    assert!(!s
        .public_notice_set_shown(id, None, 1, "staff:a")
        .await
        .unwrap());
    assert!(!s
        .public_notice_set_shown(id, Some(1), 1, "staff:a")
        .await
        .unwrap());

    assert_eq!(
        s.public_notice_save(&notice_version(id, "第一版"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.public_notice_save(&notice_version(id, "第二版"))
            .await
            .unwrap(),
        2
    );
    assert!(s
        .public_notice_set_shown(id, Some(1), 100, "staff:a")
        .await
        .unwrap());
    let shown = s.public_notices_published().await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!((shown[0].version, shown[0].body_ja.as_str()), (1, "第一版"));

    assert!(s
        .public_notice_set_shown(id, Some(2), 200, "staff:b")
        .await
        .unwrap());
    let shown = s.public_notices_published().await.unwrap();
    assert_eq!((shown[0].version, shown[0].body_ja.as_str()), (2, "第二版"));
    assert_eq!(
        (shown[0].changed_at, shown[0].first_published_at),
        (200, 100)
    );

    assert!(s
        .public_notice_set_shown(id, None, 300, "staff:b")
        .await
        .unwrap());
    assert!(s.public_notices_published().await.unwrap().is_empty());
    let state = s.public_notice_state(id).await.unwrap().unwrap();
    assert_eq!((state.version, state.first_published_at), (None, 100));

    let all = s.public_notice_versions(id).await.unwrap();
    let mut expected = notice_version(id, "第一版");
    expected.version = 1;
    assert_eq!(all[0], expected);
    assert_eq!(all.len(), 2);
    for sql in [
        "UPDATE public_notice_versions SET body_ja = 'changed'",
        "DELETE FROM public_notice_versions",
    ] {
        assert!(refuses(&env.url, sql).await, "{sql} must be refused");
    }
    assert_eq!(s.public_notice_versions(id).await.unwrap(), all);
}
both_backends!(public_notice_versions_are_kept_and_shown_one_at_a_time);
