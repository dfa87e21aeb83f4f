//! The migrated template: a clone has every migration of the store, the store's `migrate()` on it
//! has nothing to do, clones are independent of each other, and the template itself takes no
//! connections (so nothing can hold it open and block the next clone).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_store::{PgStore, Store as _};
use sqlx::{Connection, PgConnection};

/// How many migrations the store's PostgreSQL backend has (its `.sql` files).
fn migration_files() -> i64 {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mamori-store/migrations/postgres"
    );
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count() as i64
}

async fn applied(url: &str) -> i64 {
    let mut c = PgConnection::connect(url).await.unwrap();
    let n = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_are_migrated_independent_and_the_template_stays_closed() {
    let (a, b) = tokio::join!(
        mamori_testkit::migrated_pg_database(),
        mamori_testkit::migrated_pg_database()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a, b);
    assert_eq!(applied(&a).await, migration_files());

    // The store's own migrate() finds nothing left to apply.
    let store = PgStore::open(&a).await.unwrap();
    store.migrate().await.unwrap();
    store.pool().close().await;
    assert_eq!(applied(&a).await, migration_files());

    // A change in one clone is not in the other.
    let mut ca = PgConnection::connect(&a).await.unwrap();
    sqlx::query("CREATE TABLE only_in_a (x int)")
        .execute(&mut ca)
        .await
        .unwrap();
    ca.close().await.unwrap();
    let mut cb = PgConnection::connect(&b).await.unwrap();
    let there: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 'only_in_a')",
    )
    .fetch_one(&mut cb)
    .await
    .unwrap();
    cb.close().await.unwrap();
    assert!(!there, "a clone saw another clone's table");

    // The template is marked as one and refuses connections.
    let mut admin = PgConnection::connect(&mamori_testkit::pg_admin_url().unwrap())
        .await
        .unwrap();
    let templates: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT datname, datistemplate, datallowconn FROM pg_database \
         WHERE datname LIKE 'mamori\\_tpl\\_%' AND datname NOT LIKE '%\\_build'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    assert!(!templates.is_empty(), "no template database was made");
    for (name, is_template, allows) in templates {
        assert!(is_template, "{name} is not marked as a template");
        assert!(!allows, "{name} accepts connections");
    }
}
