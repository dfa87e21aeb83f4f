//! What the binary's process tests share: the `mamori` command with none of the caller's
//! environment that would point it at another database, key or configuration, a run that must
//! succeed, a running `mamori serve` (its printed lines and its log kept, killed when dropped),
//! the test's own view of the database and gateway, and the drills' figures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A running `mamori serve` (started by [`serve`], [`serve_with`] or [`serve_on`]), killed when
/// dropped.
pub struct Serve {
    pub child: Child,
    /// The shop's URL as it printed it (`http://127.0.0.1:PORT/`, with its trailing slash).
    pub shop: String,
    /// What it printed before it said it serves.
    pub lines: Vec<String>,
    /// Its standard error so far (the log, at `MAMORI_LOG`).
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// The rest of the first printed line that starts with `prefix`, trimmed.
    pub fn line(&self, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    }

    /// The shop's `host:port`.
    pub fn shop_addr(&self) -> std::net::SocketAddr {
        self.shop
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap()
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    /// Waits for the process to end, at most `bound`; its exit status.
    pub fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < bound,
                "mamori serve still running after {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its log so far, one string.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The lines of its log so far that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }
}

/// `mamori serve` in `dir` on free ports, started and serving.
pub fn serve(dir: &Path, db: Option<&str>) -> Serve {
    serve_with(mamori(dir, db))
}

/// `cmd` (a `mamori` command: its environment and global options such as `--config`, no
/// subcommand) as `mamori serve` on free ports, started and serving.
pub fn serve_with(cmd: Command) -> Serve {
    serve_on(cmd, "127.0.0.1:0")
}

/// [`serve_with`] with the shop on `listen` (e.g. the same port across restarts). The log goes
/// to [`Serve::stderr`], at `MAMORI_LOG=mamori=info` unless `cmd` sets `MAMORI_LOG`.
pub fn serve_on(mut cmd: Command, listen: &str) -> Serve {
    if !cmd
        .get_envs()
        .any(|(k, v)| k == "MAMORI_LOG" && v.is_some())
    {
        cmd.env("MAMORI_LOG", "mamori=info");
    }
    let mut child = cmd
        .args(["serve", "--listen", listen, "--psp-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    let mut serve = Serve {
        child,
        shop: String::new(),
        lines: Vec::new(),
        stderr: log,
    };
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve stopped: {:?} {}", serve.lines, serve.log()))
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

/// `mamori ledger verify` must succeed: the number of entries, and whether every one of them
/// is covered by a signed checkpoint.
pub fn ledger_verify(dir: &Path, db: Option<&str>) -> (u64, bool) {
    let out = run(dir, db, &["ledger", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let size = text
        .split("ledger OK: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    (size, !text.contains("not covered by a signed checkpoint"))
}

/// The test's own view of the database (ids, counts and states only).
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    /// The database of `mamori` in `dir` (SQLite in `dir/data`, or `db`).
    pub async fn open(dir: &Path, db: Option<&str>) -> Db {
        match db {
            Some(url) => Db::Pg(sqlx::PgPool::connect(url).await.unwrap()),
            None => {
                let path = dir.join("data").join("mamori.db");
                assert!(path.exists(), "the SQLite file {path:?}");
                let url = format!("sqlite://{}", path.display());
                Db::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap())
            }
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Db::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    pub async fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Db::Pg(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        }
    }

    pub async fn execute(&self, sql: &str) -> u64 {
        match self {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.unwrap().rows_affected(),
            Db::Pg(p) => sqlx::query(sql).execute(p).await.unwrap().rows_affected(),
        }
    }
}

/// The shop's gateway in the test process, on the keys in `dir/data` (as `mamori` opens it);
/// its ledger too, to sign what the test itself appended.
pub async fn gateway(
    dir: &Path,
    db: Option<&str>,
) -> (mamori_store::Gateway, mamori_store::Ledger) {
    let data = dir.join("data");
    let url = db.map_or_else(
        || format!("sqlite://{}", data.join("mamori.db").display()),
        str::to_owned,
    );
    let store = mamori_store::open_store(&url).await.unwrap();
    let signer = mamori_ledger::LedgerSigner::load_key_file(&data.join("ledger.key")).unwrap();
    let ledger = mamori_store::Ledger::start(
        store.clone(),
        signer,
        mamori_store::LedgerConfig::new(data.join("ledger-witness.jsonl")),
    );
    let keys = mamori_vault::KeyRing::load(&data.join("master.key")).unwrap();
    let gateway = mamori_store::Gateway::new(store, Arc::new(keys), ledger.clone());
    (gateway, ledger)
}

/// The header that numbers the test's mails.
pub const SEQ_HEADER: &str = "X-Mamori-Test-Seq";

/// Queues `n` mails, numbered 0..n in [`SEQ_HEADER`], sealed with the keys of the customers in
/// the database in turn (at least one must exist); the ledger's entries of it are signed.
pub async fn queue_mails(dir: &Path, db: Option<&str>, n: usize) {
    let view = Db::open(dir, db).await;
    let customers = view.strings("SELECT id FROM customers ORDER BY id").await;
    assert!(!customers.is_empty(), "no customer to seal mail with");
    let (gateway, ledger) = gateway(dir, db).await;
    let acc = mamori_store::Accessor::system("test:queue", "test.mail");
    for i in 0..n {
        let to = mamori_mail::message::Recipient::new(format!("buyer{i}@example.jp")).unwrap();
        let mail = mamori_mail::OutgoingMail::new(to, format!("テスト {i}"), "本文")
            .with_header(SEQ_HEADER, i.to_string());
        let draft = mamori_store::MailDraft::new("test", mail.to_payload().to_vec());
        gateway
            .queue_mail(&acc, &customers[i % customers.len()], draft)
            .await
            .unwrap();
    }
    ledger.checkpoint().await.unwrap();
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

/// The TOTP code of `secret` (base32) at `unix` seconds, as an authenticator app computes it.
pub fn totp_code(secret: &str, unix: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("mamori".into()),
        "test".into(),
    )
    .unwrap()
    .generate(u64::try_from(unix).unwrap())
}

/// Seconds since the epoch now.
pub fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// `mamori [args] staff create --role owner`: the enrolment token it prints.
pub fn create_owner(dir: &Path, db: Option<&str>, args: &[&str], email: &str) -> String {
    create_staff(dir, db, args, "owner", email)
}

/// `mamori [args] staff create --role ROLE`: the enrolment token it prints.
pub fn create_staff(
    dir: &Path,
    db: Option<&str>,
    args: &[&str],
    role: &str,
    email: &str,
) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "staff",
        "create",
        "--role",
        role,
        "--email",
        email,
        "--name",
        "試験 担当",
    ]);
    let out = run(dir, db, &all);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    stdout
        .lines()
        .find_map(|l| l.split("enrol?token=").nth(1))
        .unwrap_or_else(|| panic!("no enrolment link: {stdout}"))
        .trim()
        .to_owned()
}

/// Enrols the member of staff of `token` through the back office at `base` (password, then a
/// TOTP factor) and signs them in, as they would in a browser; `staff` keeps the session.
pub async fn enrol_and_sign_in(
    staff: &mamori_testkit::web::Browser,
    base: &str,
    token: &str,
    email: &str,
    password: &str,
) {
    staff
        .get(&format!("{base}/enrol?token={token}"))
        .await
        .expect(200);
    staff
        .post_form(&format!("{base}/enrol"), &[("token", token)])
        .await
        .expect_redirect("/enrol/password");
    staff
        .post_form(
            &format!("{base}/enrol/password"),
            &[("password", password), ("password2", password)],
        )
        .await
        .expect_redirect("/enrol/factor");
    let factor = staff.get(&format!("{base}/enrol/factor")).await;
    factor.expect(200);
    let secret = factor.text_of("#totp-secret").unwrap();
    let step = unix_now();
    staff
        .post_form(
            &format!("{base}/enrol/totp"),
            &[("code", &totp_code(&secret, step))],
        )
        .await
        .expect_redirect("/enrol/done");
    staff.get(&format!("{base}/enrol/done")).await.expect(200);
    staff.get(&format!("{base}/login")).await.expect(200);
    staff
        .post_form(
            &format!("{base}/login"),
            &[("email", email), ("password", password)],
        )
        .await
        .expect_redirect("/login/factor");
    // The next step's code (one step of skew is accepted; a used step is not).
    staff
        .post_form(
            &format!("{base}/login/totp"),
            &[("code", &totp_code(&secret, step + 30))],
        )
        .await
        .expect_redirect("/");
    staff.forget_csrf();
}
