//! Staff sessions in the database (`staff_sessions`), as several processes share them: a signed-in
//! session is a sealed row under the id's hash, never in the storefront's table; a storefront
//! record (sealed under the storefront's key) is no staff session even under the right key; a
//! sign-out deletes the row; expired rows are purged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestBackoffice;
use mamori_staff::Role;
use mamori_store::{Backend, SystemPurpose};
use mamori_testkit::both_backends;
use mamori_web::session::SessionId;

async fn staff_sessions_live_apart_in_the_database(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let (staff, client) = bo.member(Role::Manager).await;
    let cookie = client.session_cookie().unwrap();
    let key = SessionId::parse(&cookie).unwrap().storage_key();
    let store = bo.store();
    let sealed = store.staff_session_load(&key.0).await.unwrap().unwrap();
    assert_eq!(store.session_load(&key.0).await.unwrap(), None);
    // The row is sealed: the cookie's value and the staff id are not in it.
    let id = staff.id.as_bytes();
    assert!(!sealed.windows(id.len()).any(|w| w == id));

    // The same record in the storefront's table only: no session for the back office.
    store.staff_session_delete(&key.0).await.unwrap();
    store.session_save(&key.0, &sealed, 0, 0).await.unwrap();
    client.get("/account").await.expect_redirect("/login");

    // A storefront-sealed record of the same staff session under the right key: it does not
    // open with the staff-session key, so it is no session either.
    let staff_sealer = bo.gateway().system_sealer(SystemPurpose::StaffSessions);
    let shop_sealer = bo.gateway().system_sealer(SystemPurpose::Sessions);
    let hex = key.to_hex();
    let plain = staff_sealer.open("record", &hex, &sealed).unwrap();
    let as_shop = shop_sealer.seal("record", &hex, &plain).unwrap();
    store
        .staff_session_save(&key.0, &as_shop, bo.now(), bo.now())
        .await
        .unwrap();
    client
        .get_with_session("/account", &cookie)
        .await
        .expect_redirect("/login");
    // Put back as the back office sealed it, it is a session again (the control).
    store
        .staff_session_save(&key.0, &sealed, bo.now(), bo.now())
        .await
        .unwrap();
    client
        .get_with_session("/account", &cookie)
        .await
        .expect(200);

    // A sign-out deletes the row.
    let (_other, second) = bo.member(Role::Support).await;
    let cookie = second.session_cookie().unwrap();
    let key = SessionId::parse(&cookie).unwrap().storage_key();
    assert!(store.staff_session_load(&key.0).await.unwrap().is_some());
    second
        .post_form("/logout", &[])
        .await
        .expect_redirect("/login");
    assert_eq!(store.staff_session_load(&key.0).await.unwrap(), None);

    // Nothing is purged while the sessions are fresh; past the idle timeout they go.
    let (_third, third) = bo.member(Role::Auditor).await;
    let cookie = third.session_cookie().unwrap();
    let key = SessionId::parse(&cookie).unwrap().storage_key();
    assert_eq!(bo.session_purger.run_once().await.unwrap(), 0);
    bo.advance(31 * 60);
    assert_eq!(bo.session_purger.run_once().await.unwrap(), 2);
    assert_eq!(store.staff_session_load(&key.0).await.unwrap(), None);
}

both_backends!(staff_sessions_live_apart_in_the_database);
