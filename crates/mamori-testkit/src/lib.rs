//! Test support shared by every crate's integration tests.
//!
//! PostgreSQL is a real server, never a mock: `cargo xtask test` starts one throwaway cluster for the
//! whole run and exports its URL as `MAMORI_TEST_PG_URL`. A test binary started on its own (plain
//! `cargo test`) starts a cluster of its own instead, watched by a small shell loop that stops it when
//! the test process is gone, so nothing is left running and no test is skipped.
//!
//! Each test gets its own database, named at random, so tests run in parallel:
//! [`fresh_pg_database`] an empty one, [`migrated_pg_database`] (feature `env`) a clone of a
//! template that has every migration of the store already (see [`template`]).
//!
//! With the feature `env`: [`both_backends!`], which runs one async test on SQLite and on
//! PostgreSQL, and [`Env`], the store, key ring, ledger and gateway a test works with. With the
//! feature `mail`: a mail worker delivering to a real SMTP catcher ([`mail`]); `pay`: the sandbox
//! payment provider and a connector to it ([`pay`]); `web`: a browser-like client ([`web`]). The
//! cluster part alone (no feature) is what `xtask` uses, with [`LogCapture`] for tests that read
//! their own log lines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

#[cfg(feature = "env")]
pub mod env;
#[cfg(feature = "env")]
pub mod fixtures;
#[cfg(feature = "mail")]
pub mod mail;
#[cfg(feature = "pay")]
pub mod pay;
#[cfg(feature = "env")]
pub mod template;
#[cfg(feature = "web")]
pub mod web;

#[cfg(feature = "env")]
pub use env::{cheap_params, migrated_database, Bind, Env};
#[cfg(feature = "env")]
pub use mamori_store::Backend;
#[cfg(feature = "env")]
pub use template::migrated_pg_database;

/// Generates `sqlite` and `postgres` tests from async fns taking a [`Backend`]: for each `name`,
/// a module `name` holding the tests `sqlite` and `postgres`, which call `name` with each backend.
/// The calling crate needs `tokio` (with `macros` and the multi-threaded runtime).
#[cfg(feature = "env")]
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Environment variable holding the admin URL of a running throwaway PostgreSQL.
pub const PG_URL_VAR: &str = "MAMORI_TEST_PG_URL";

static CLUSTER_URL: OnceLock<std::result::Result<String, String>> = OnceLock::new();

/// The admin URL of the test PostgreSQL, starting a private cluster if none was given.
pub fn pg_admin_url() -> Result<String> {
    if let Ok(url) = std::env::var(PG_URL_VAR) {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    CLUSTER_URL
        .get_or_init(|| start_private_cluster().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// A fresh, empty PostgreSQL database for one test; returns its URL.
pub async fn fresh_pg_database() -> Result<String> {
    use sqlx::Connection;
    let admin = pg_admin_url()?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .with_context(|| "connecting to the test PostgreSQL")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(replace_database(&admin, &name))
}

pub(crate) fn replace_database(url: &str, name: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/{}", &url[..i], name),
        _ => format!("{url}/{name}"),
    }
}

/// Finds the directory holding `initdb` and `postgres` of the newest installed PostgreSQL.
pub fn pg_bin_dir() -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    match found.pop() {
        Some(p) => Ok(p),
        None => bail!(
            "PostgreSQL is not installed: run the test command from the README (`cargo xtask test`), \
             which installs it"
        ),
    }
}

/// Whether this process runs as root (PostgreSQL must then be run as the `postgres` user).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a command as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_pg_user(program: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A started cluster: where it lives and how to reach it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Data directory (also holds the unix socket).
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Admin URL (`postgres` superuser, trust authentication on loopback).
    pub url: String,
}

/// Initialises and starts a throwaway cluster in a new temporary directory.
///
/// `watch_pid`: when given, a shell loop stops the cluster as soon as that process has exited.
pub fn start_cluster(watch_pid: Option<u32>) -> Result<Cluster> {
    let bin = pg_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("mamori-pg-")
        .tempdir()?
        .keep();
    if is_root() {
        let st = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()?;
        if !st.success() {
            bail!("could not hand the cluster directory to the postgres user");
        }
    }
    let data = dir.join("data");
    let data_s = data.to_string_lossy().to_string();
    let out = as_pg_user(
        &bin.join("initdb"),
        &[
            "-D",
            &data_s,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
    )
    .output()
    .context("running initdb")?;
    if !out.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = free_port()?;
    let sock = dir.to_string_lossy().to_string();
    let opts = format!(
        "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300"
    );
    let log = dir.join("postgres.log").to_string_lossy().to_string();
    let out = as_pg_user(
        &bin.join("pg_ctl"),
        &[
            "-D", &data_s, "-o", &opts, "-l", &log, "-w", "-t", "60", "start",
        ],
    )
    .output()
    .context("running pg_ctl start")?;
    if !out.status.success() {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        bail!(
            "PostgreSQL did not start: {}\n{tail}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(pid) = watch_pid {
        // Stops the cluster once the process that started it is gone; detached from our stdio.
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             runuser -u postgres -- {pg_ctl} -D {data_s} -m immediate stop >/dev/null 2>&1 || \
             {pg_ctl} -D {data_s} -m immediate stop >/dev/null 2>&1; rm -rf {sock}",
            pg_ctl = bin.join("pg_ctl").display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting the cluster watchdog")?;
    }
    Ok(Cluster {
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        dir,
        port,
    })
}

/// Stops a cluster started by [`start_cluster`] and removes its directory.
pub fn stop_cluster(cluster: &Cluster) -> Result<()> {
    let bin = pg_bin_dir()?;
    let data = cluster.dir.join("data").to_string_lossy().to_string();
    let _ = as_pg_user(&bin.join("pg_ctl"), &["-D", &data, "-m", "fast", "stop"]).output();
    std::fs::remove_dir_all(&cluster.dir).ok();
    Ok(())
}

fn start_private_cluster() -> Result<String> {
    Ok(start_cluster(Some(std::process::id()))?.url)
}

/// A log writer that keeps what is written, for tests that read their log lines back (give
/// `tracing_subscriber` a `move || capture.clone()` as its writer).
#[derive(Clone, Default)]
pub struct LogCapture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log capture poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
