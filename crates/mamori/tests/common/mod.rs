//! What the binary's process tests share: the `mamori` command with none of the caller's
//! environment that would point it at another database, key or configuration, a run that must
//! succeed, a running `mamori serve` (killed when dropped), and the drills' figures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `mamori` in `dir`, on SQLite there or on the PostgreSQL at `db`.
pub fn mamori(dir: &Path, db: Option<&str>) -> Command {
    mamori_at(Path::new(env!("CARGO_BIN_EXE_mamori")), dir, db)
}

/// The `mamori` binary at `bin` (e.g. a copy the test may replace) in `dir`, on SQLite there or
/// on the PostgreSQL at `db`.
pub fn mamori_at(bin: &Path, dir: &Path, db: Option<&str>) -> Command {
    let mut c = Command::new(bin);
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
    succeed(mamori(dir, db).args(args), args)
}

/// Runs `cmd` (a `mamori` command with `args`), which must succeed; its output.
pub fn succeed(cmd: &mut Command, args: &[&str]) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "mamori {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running `mamori serve`, killed when dropped.
pub struct Serve {
    child: Child,
    /// The shop's URL as it printed it (`http://127.0.0.1:PORT/`).
    pub shop: String,
    /// What it printed before it said it serves.
    pub lines: Vec<String>,
}

impl Serve {
    /// The rest of the first printed line that starts with `prefix`, trimmed.
    pub fn line(&self, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mamori serve` in `dir` on free ports, started and serving.
pub fn serve(dir: &Path, db: Option<&str>) -> Serve {
    serve_with(mamori(dir, db))
}

/// `cmd` (a `mamori` command, without arguments) as `mamori serve` on free ports, started and
/// serving.
pub fn serve_with(mut cmd: Command) -> Serve {
    let mut child = cmd
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--psp-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut serve = Serve {
        child,
        shop: String::new(),
        lines: Vec::new(),
    };
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve stopped: {:?}", serve.lines))
            .unwrap();
        if let Some(url) = line.strip_prefix("shop:") {
            serve.shop = url.trim().to_owned();
        }
        if line.contains("press Ctrl-C") {
            break;
        }
        serve.lines.push(line);
    }
    assert!(!serve.shop.is_empty(), "{:?}", serve.lines);
    // Keep reading its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    serve
}

/// Where the drills append their figures (JSON Lines), when set (`cargo xtask drill` sets it).
pub const DRILL_REPORT_VAR: &str = "MAMORI_DRILL_REPORT";

/// One figure of a drill: a time or a count. Never a personal value.
pub enum Figure {
    /// How long a step took.
    Time(Duration),
    /// How many (customers, values checked...).
    Count(u64),
}

/// Prints one figure of a drill and appends it to the drill report when one is asked for.
pub fn figure(drill: &str, backend: &str, step: &str, value: Figure) {
    use std::io::Write as _;
    let (shown, json) = match value {
        Figure::Time(d) => {
            let ms = d.as_secs_f64() * 1000.0;
            (
                format!("{ms:.0} ms"),
                serde_json::json!({"drill": drill, "backend": backend, "step": step, "ms": ms}),
            )
        }
        Figure::Count(n) => (
            n.to_string(),
            serde_json::json!({"drill": drill, "backend": backend, "step": step, "count": n}),
        ),
    };
    println!("drill {drill} [{backend}] {step}: {shown}");
    if let Some(path) = std::env::var_os(DRILL_REPORT_VAR).filter(|p| !p.is_empty()) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{json}").unwrap();
    }
}
