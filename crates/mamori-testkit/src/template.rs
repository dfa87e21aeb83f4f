//! A migrated PostgreSQL template database, cloned for each test.
//!
//! Running every migration for every test costs more than copying a database that already has
//! them, so the first test of a cluster builds `mamori_tpl_<hash>` (the store's own `migrate()`
//! on an empty database) and every test after it gets `CREATE DATABASE t_… TEMPLATE
//! mamori_tpl_<hash>`, as crates.io's test suite does. The hash is taken over the names and
//! contents of the store's PostgreSQL migration files, so a changed or added migration gets a
//! template of its own. Test processes sharing one cluster (`cargo xtask test`) build it once: an
//! advisory lock lets one build while the others wait, and the template gets its name only when
//! it is complete. It accepts no connections once built, since a database that someone is
//! connected to cannot be cloned.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use mamori_store::Store as _;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

use crate::{pg_admin_url, replace_database};

/// The store's PostgreSQL migrations, whose contents name the template.
const MIGRATIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mamori-store/migrations/postgres"
);

/// Advisory-lock key under which one process of a cluster builds the template ("mamoritp").
const BUILD_LOCK: i64 = 0x6d61_6d6f_7269_7470;

/// The template of this process's cluster, once built or found.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A fresh PostgreSQL database with every migration of the store applied, cloned from the
/// template; returns its URL. The store's `migrate()` on it has nothing left to do.
pub async fn migrated_pg_database() -> Result<String> {
    let admin = pg_admin_url()?;
    let template = TEMPLATE.get_or_try_init(|| ensure_template(&admin)).await?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .context("connecting to the test PostgreSQL")?;
    let sql = format!("CREATE DATABASE {name} TEMPLATE {template}");
    // The template takes no connections, but a builder's session may still be ending when the
    // first clone is asked for; PostgreSQL then answers "being accessed by other users".
    let mut tries = 0;
    loop {
        match sqlx::query(&sql).execute(&mut conn).await {
            Ok(_) => break,
            Err(e) if is_object_in_use(&e) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("cloning {template}")),
        }
    }
    conn.close().await?;
    Ok(replace_database(&admin, &name))
}

fn is_object_in_use(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55006")
}

/// `mamori_tpl_` and the first 16 hex digits of SHA-256 over the migration files, in order.
fn template_name() -> Result<String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(MIGRATIONS)
        .with_context(|| format!("reading the store's migrations in {MIGRATIONS}"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.sort();
    let mut hash = Sha256::new();
    for f in &files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        hash.update(name.unwrap_or_default().as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?);
        hash.update([0]);
    }
    if files.is_empty() {
        bail!("no migrations in {MIGRATIONS}");
    }
    Ok(format!(
        "mamori_tpl_{}",
        &hex::encode(hash.finalize())[..16]
    ))
}

async fn exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Finds the template of the current migrations in the cluster, or builds it.
async fn ensure_template(admin: &str) -> Result<String> {
    let name = template_name()?;
    let mut conn = PgConnection::connect(admin)
        .await
        .context("connecting to the test PostgreSQL")?;
    if !exists(&mut conn, &name).await? {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(BUILD_LOCK)
            .execute(&mut conn)
            .await?;
        let built = build_template(admin, &mut conn, &name).await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(BUILD_LOCK)
            .execute(&mut conn)
            .await?;
        built?;
    }
    conn.close().await?;
    Ok(name)
}

/// Under the build lock: migrates `<name>_build` with the store's `migrate()`, closes it to
/// connections, ends any session left on it, marks it a template and renames it to `name`.
async fn build_template(admin: &str, conn: &mut PgConnection, name: &str) -> Result<()> {
    if exists(conn, name).await? {
        return Ok(()); // another process built it while this one waited for the lock
    }
    let building = format!("{name}_build");
    // A build that died half-way left this behind; it never got the template's name.
    sqlx::query(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {building}"))
        .execute(&mut *conn)
        .await?;
    let store = mamori_store::PgStore::open(&replace_database(admin, &building))
        .await
        .context("opening the template database")?;
    store
        .migrate()
        .await
        .context("migrating the template database")?;
    store.pool().close().await;
    drop(store);
    // No one may connect from now on; a session the pool left behind (seen: one idle
    // connection outlives `close()`) is ended, since renaming and cloning need the database
    // to have no sessions at all. It is this builder's own database, under the build lock.
    sqlx::query(&format!(
        "ALTER DATABASE {building} WITH ALLOW_CONNECTIONS false"
    ))
    .execute(&mut *conn)
    .await?;
    for _ in 0..100 {
        let left: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&building)
        .fetch_all(&mut *conn)
        .await?;
        if left.is_empty() {
            break;
        }
        for pid in left {
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(&mut *conn)
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::query(&format!("ALTER DATABASE {building} WITH IS_TEMPLATE true"))
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {name}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
