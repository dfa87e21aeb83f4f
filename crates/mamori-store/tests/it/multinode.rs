//! Several processes on one database (migration 0025): back-office sessions apart from the
//! storefront's, and the leases of single-instance jobs.

use std::sync::Arc;

use mamori_store::{Backend, Store};

use crate::both_backends;
use crate::common::env;

/// Staff sessions round-trip and purge in their own table: a storefront session key is not
/// found there, nor a staff one among the storefront's, and each purge touches its own table.
async fn staff_sessions_are_apart_from_storefront_sessions(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    s.session_save(b"shop", b"sealed-shop", 100, 100)
        .await
        .unwrap();
    assert_eq!(s.staff_session_load(b"shop").await.unwrap(), None);
    s.staff_session_save(b"staff", b"sealed-staff", 100, 100)
        .await
        .unwrap();
    assert_eq!(s.session_load(b"staff").await.unwrap(), None);
    assert_eq!(
        s.staff_session_load(b"staff").await.unwrap().as_deref(),
        Some(&b"sealed-staff"[..])
    );
    // Saving again replaces the record and its times.
    s.staff_session_save(b"staff", b"sealed-staff-2", 100, 700)
        .await
        .unwrap();
    assert_eq!(
        s.staff_session_load(b"staff").await.unwrap().as_deref(),
        Some(&b"sealed-staff-2"[..])
    );
    s.staff_session_save(b"idle", b"x", 100, 200).await.unwrap();
    // The storefront's purge leaves staff sessions alone, and the other way round.
    assert_eq!(s.session_purge(1_000, 1_000).await.unwrap(), 1);
    assert!(s.staff_session_load(b"staff").await.unwrap().is_some());
    s.session_save(b"shop", b"sealed-shop", 100, 100)
        .await
        .unwrap();
    // Idle before 500: "idle" only ("staff" was seen at 700).
    assert_eq!(s.staff_session_purge(500, 0).await.unwrap(), 1);
    assert_eq!(s.staff_session_load(b"idle").await.unwrap(), None);
    assert!(s.staff_session_load(b"staff").await.unwrap().is_some());
    assert!(s.session_load(b"shop").await.unwrap().is_some());
    // Created before 200: "staff" goes too.
    assert_eq!(s.staff_session_purge(0, 200).await.unwrap(), 1);
    assert_eq!(s.staff_session_load(b"staff").await.unwrap(), None);
    s.staff_session_save(b"gone", b"x", 1, 1).await.unwrap();
    s.staff_session_delete(b"gone").await.unwrap();
    s.staff_session_delete(b"gone").await.unwrap();
    assert_eq!(s.staff_session_load(b"gone").await.unwrap(), None);
}

/// A lease is taken when free, renewed by its holder, refused to another until it expires, then
/// taken over; a release frees it at once and only by its holder.
async fn leases_take_renew_expire_release(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    assert_eq!(s.lease_of("housekeeping").await.unwrap(), None);
    assert!(s.lease_take("housekeeping", "a", 100, 130).await.unwrap());
    // Another process is refused while it runs, even a second before it ends.
    assert!(!s.lease_take("housekeeping", "b", 110, 140).await.unwrap());
    assert!(!s.lease_take("housekeeping", "b", 129, 159).await.unwrap());
    // The holder renews: taken_at stays, expires_at moves.
    assert!(s.lease_take("housekeeping", "a", 120, 150).await.unwrap());
    let row = s.lease_of("housekeeping").await.unwrap().unwrap();
    assert_eq!(
        (row.holder.as_str(), row.taken_at, row.expires_at),
        ("a", 100, 150)
    );
    assert!(!s.lease_take("housekeeping", "b", 149, 179).await.unwrap());
    // Another job's lease is its own.
    assert!(s.lease_take("monitor", "b", 149, 179).await.unwrap());
    // Expired: b takes it over, with its own taken_at, and a's renewal is refused.
    assert!(s.lease_take("housekeeping", "b", 150, 180).await.unwrap());
    let row = s.lease_of("housekeeping").await.unwrap().unwrap();
    assert_eq!(
        (row.holder.as_str(), row.taken_at, row.expires_at),
        ("b", 150, 180)
    );
    assert!(!s.lease_take("housekeeping", "a", 151, 181).await.unwrap());
    // Only the holder releases; after that anyone takes it at once.
    assert!(!s.lease_release("housekeeping", "a").await.unwrap());
    assert!(s.lease_release("housekeeping", "b").await.unwrap());
    assert_eq!(s.lease_of("housekeeping").await.unwrap(), None);
    assert!(s.lease_take("housekeeping", "a", 152, 182).await.unwrap());
    assert_eq!(
        s.lease_of("monitor").await.unwrap().unwrap().holder,
        "b",
        "a release names its job"
    );
}

/// Many processes asking at once for a free lease (and later for an expired one): exactly one
/// gets it each time.
async fn concurrent_takers_get_one_lease(backend: Backend) {
    let env = env(backend).await;
    for (now, round) in [(1_000, "free"), (2_000, "expired")] {
        let mut handles = Vec::new();
        for i in 0..8 {
            let store: Arc<dyn Store> = env.store.clone();
            let holder = format!("{round}-{i}");
            handles.push(tokio::spawn(async move {
                store
                    .lease_take("monitor", &holder, now, now + 30)
                    .await
                    .unwrap()
            }));
        }
        let mut won = 0;
        for h in handles {
            won += usize::from(h.await.unwrap());
        }
        assert_eq!(won, 1, "{round}");
        let row = env.store.lease_of("monitor").await.unwrap().unwrap();
        assert!(row.holder.starts_with(round), "{}", row.holder);
    }
}

both_backends!(
    staff_sessions_are_apart_from_storefront_sessions,
    leases_take_renew_expire_release,
    concurrent_takers_get_one_lease,
);
