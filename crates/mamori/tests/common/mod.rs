//! What the binary's process tests share: the `mamori` command with none of the caller's
//! environment that would point it at another database, key or configuration, and a run that must
//! succeed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

/// `mamori` in `dir`, on SQLite there or on the PostgreSQL at `db`.
pub fn mamori(dir: &Path, db: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mamori"));
    c.current_dir(dir)
        .env_remove("MAMORI_DATABASE_URL")
        .env_remove("MAMORI_MASTER_KEY")
        .env_remove("MAMORI_MASTER_KEY_FILE")
        .env_remove("MAMORI_CONFIG")
        .env_remove("MAMORI_DATA_DIR");
    if let Some(url) = db {
        c.env("MAMORI_DATABASE_URL", url);
    }
    c
}

/// Runs `mamori args`, which must succeed; its output.
pub fn run(dir: &Path, db: Option<&str>, args: &[&str]) -> Output {
    let out = mamori(dir, db).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mamori {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
