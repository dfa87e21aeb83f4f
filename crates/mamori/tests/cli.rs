//! The `mamori` command line as a shop owner uses it: exit codes and messages on good and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use mamori_ledger::LedgerSigner;
use mamori_store::access::{AccessEvent, Action};
use mamori_store::{open_store, Accessor, Ledger, LedgerConfig};

fn mamori(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mamori"))
        .current_dir(dir)
        .args(args)
        .env_remove("MAMORI_DATABASE_URL")
        .env_remove("MAMORI_MASTER_KEY")
        .env_remove("MAMORI_MASTER_KEY_FILE")
        .env_remove("MAMORI_CONFIG")
        .env_remove("MAMORI_DATA_DIR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Appends `n` events through the library, as the shop would, into the data directory's store.
async fn append_events(dir: &Path, url: &str, n: usize) {
    let store = open_store(url).await.unwrap();
    let signer = LedgerSigner::load_key_file(&dir.join("data/ledger.key")).unwrap();
    let ledger = Ledger::start(
        store,
        signer,
        LedgerConfig::new(dir.join("data/ledger-witness.jsonl")),
    );
    for i in 0..n {
        let acc = Accessor::system("cli-test", &format!("p{i}"));
        ledger
            .record(&AccessEvent::new(
                &acc,
                Action::Read,
                vec![format!("c{i}")],
                &["customers.name"],
            ))
            .await
            .unwrap();
    }
    ledger.checkpoint().await.unwrap();
}

#[test]
fn keys_init_then_ledger_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = mamori(dir.path(), &["keys", "init"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("ledger public key: mamori-ledger+"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("data/master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let out = mamori(dir.path(), &["ledger", "verify"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("ledger OK: 0 entries"));
    // A second init refuses to overwrite the keys.
    let out = mamori(dir.path(), &["keys", "init"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("exists already"), "{}", text(&out));
}

/// Canaries are planted through the gateway: customers with orders, as many sealed marks and no
/// flag, their addresses nowhere in the clear, their orders outside the sales figures.
#[test]
fn guard_canary_plant_needs_a_domain_and_plants_sealed_customers() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    let out = mamori(dir.path(), &["guard", "canary", "plant", "3"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("guard.canary_domain"), "{}", text(&out));
    std::fs::write(
        dir.path().join("mamori.toml"),
        "[guard]\ncanary_domain = \"kanari.shop.example\"\n",
    )
    .unwrap();
    // The demo catalogue, no customers.
    let out = mamori(
        dir.path(),
        &["demo", "populate", "--customers", "0", "--orders", "0"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(
        dir.path(),
        &["guard", "canary", "plant", "3", "--seed", "7"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("planted 3 canary customers"),
        "{}",
        text(&out)
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("data/mamori.db").display());
    rt.block_on(async {
        let store = mamori_store::SqliteStore::open(&url).await.unwrap();
        let count = |sql: &'static str| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM customers").await, 3);
        assert_eq!(count("SELECT COUNT(*) FROM canary_marks").await, 3);
        assert!(count("SELECT COUNT(*) FROM orders").await >= 3);
        // No sale: their card payments never went through.
        let sales = mamori_store::BackofficeStore::sales_summary(&store, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(sales.orders, 0);
    });
    // The canary domain is nowhere in the database in the clear.
    for f in ["mamori.db", "mamori.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("data").join(f)) {
            assert!(
                !bytes.windows(b"kanari".len()).any(|w| w == b"kanari"),
                "{f} holds the canary domain"
            );
        }
    }
}

#[test]
fn missing_key_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["ledger", "verify"][..],
        &["keys", "show"][..],
        &["keys", "rotate"][..],
    ] {
        let out = mamori(dir.path(), args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("mamori keys init"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn wrong_or_corrupt_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    let key = dir.path().join("data/master.key");
    std::fs::write(&key, "this is not a key file").unwrap();
    let out = mamori(dir.path(), &["keys", "show"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("master.key"), "{}", text(&out));
    assert!(
        !text(&out).contains("this is not a key file"),
        "the file's content is not echoed"
    );
    // Both ways of passing the key at once are ambiguous.
    let out = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .current_dir(dir.path())
        .args(["keys", "show"])
        .env("MAMORI_MASTER_KEY", "x")
        .env("MAMORI_MASTER_KEY_FILE", "y")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("MAMORI_MASTER_KEY"), "{}", text(&out));
}

#[test]
fn corrupt_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    std::fs::write(dir.path().join("data/mamori.db"), vec![0x5au8; 8192]).unwrap();
    let out = mamori(dir.path(), &["db", "migrate"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("database"), "{}", text(&out));
}

#[test]
fn verify_says_where_a_tampered_ledger_breaks_and_prove_gives_json() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    assert_eq!(code(&mamori(dir.path(), &["db", "migrate"])), 0);
    let url = format!("sqlite://{}", dir.path().join("data/mamori.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(append_events(dir.path(), &url, 30));
    let out = mamori(dir.path(), &["ledger", "verify"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("30 entries"));

    let out = mamori(dir.path(), &["ledger", "prove", "7"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let proof: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(proof["index"], 7);
    assert_eq!(proof["event"]["purpose"], "p7");
    assert!(proof["checkpoint"]
        .as_str()
        .unwrap()
        .contains("— mamori-ledger "));
    let out = mamori(dir.path(), &["ledger", "prove", "30"]);
    assert_eq!(code(&out), 2);

    rt.block_on(async {
        let s = mamori_store::SqliteStore::open(&url).await.unwrap();
        sqlx::query("DELETE FROM ledger_entries WHERE seq = 12")
            .execute(s.pool())
            .await
            .unwrap();
    });
    let out = mamori(dir.path(), &["ledger", "verify"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("BROKEN") && text(&out).contains("12"),
        "{}",
        text(&out)
    );
}

#[test]
fn configuration_layers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mamori.toml"), "data_dir = \"shopdata\"\n").unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    assert!(
        dir.path().join("shopdata/master.key").exists(),
        "the TOML file's data_dir is used"
    );
    // The environment overrides the file, the flag overrides both.
    let out = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .current_dir(dir.path())
        .args(["keys", "init"])
        .env("MAMORI_DATA_DIR", "fromenv")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(dir.path().join("fromenv/master.key").exists());
    assert_eq!(
        code(&mamori(
            dir.path(),
            &["--data-dir", "fromflag", "keys", "init"]
        )),
        0
    );
    assert!(dir.path().join("fromflag/ledger.key").exists());
    // A misspelt setting is an error, not silently ignored.
    std::fs::write(dir.path().join("mamori.toml"), "data_dri = \"x\"\n").unwrap();
    let out = mamori(dir.path(), &["ledger", "verify"]);
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("mamori.toml"), "{}", text(&out));
}

#[test]
fn postgres_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(mamori_testkit::fresh_pg_database()).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mamori"))
            .current_dir(dir.path())
            .args(args)
            .env("MAMORI_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(&["keys", "init"])), 0);
    let out = run(&["db", "migrate"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("Postgres"));
    rt.block_on(append_events(dir.path(), &url, 10));
    let out = run(&["ledger", "verify"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("10 entries"));
    let out = run(&["keys", "rotate", "--retire"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("retired master key"));
}

#[test]
fn staff_create_prints_a_one_time_enrolment_link() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    let args = [
        "staff",
        "create",
        "--role",
        "owner",
        "--email",
        "Owner@Shop.example.jp",
        "--name",
        "店主 太郎",
    ];
    let out = mamori(dir.path(), &args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let link = stdout
        .lines()
        .find(|l| l.starts_with("http://localhost:8082/enrol?token="))
        .unwrap_or_else(|| panic!("no link in {stdout}"));
    let token = link.trim_start_matches("http://localhost:8082/enrol?token=");
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        stdout.contains("owner@shop.example.jp as owner"),
        "{stdout}"
    );
    // The same address again is refused; so is an unknown role.
    let again = mamori(dir.path(), &args);
    assert_eq!(code(&again), 2, "{}", text(&again));
    let bad = mamori(
        dir.path(),
        &[
            "staff",
            "create",
            "--role",
            "king",
            "--email",
            "k@shop.example.jp",
            "--name",
            "K",
        ],
    );
    assert_eq!(code(&bad), 2);
    assert!(text(&bad).contains("unknown role"), "{}", text(&bad));
}

/// The guard's baseline from the command line: recorded and signed, verified, every kind of
/// change named (and whether it touches payment), a tampered baseline refused.
#[test]
fn guard_baseline_and_verify_name_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("checkout")).unwrap();
    std::fs::write(p.join("checkout/pay.js"), "pay();\n").unwrap();
    let config = "data_dir = \"data\"\n[shop]\nname = \"守り商店\"\n[guard]\ncheckout_dirs = [\"checkout\"]\n";
    std::fs::write(p.join("mamori.toml"), config).unwrap();
    assert_eq!(code(&mamori(p, &["keys", "init"])), 0);

    let out = mamori(p, &["guard", "verify"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = mamori(p, &["guard", "baseline"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("baseline of"), "{}", text(&out));
    let out = mamori(p, &["guard", "baseline"]);
    assert_eq!(
        code(&out),
        2,
        "an existing baseline is not replaced silently"
    );
    assert!(text(&out).contains("--replace"), "{}", text(&out));
    let out = mamori(p, &["guard", "verify"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // A setting that does not touch payment: a change, not a payment change.
    std::fs::write(
        p.join("mamori.toml"),
        config.replace("守り商店", "山田商店"),
    )
    .unwrap();
    let out = mamori(p, &["guard", "verify"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let line = text(&out);
    assert!(
        line.contains("file.changed") && line.contains("mamori.toml"),
        "{line}"
    );
    assert!(!line.contains("touches payment"), "{line}");
    // The payment provider's URL: a payment change.
    std::fs::write(
        p.join("mamori.toml"),
        config.replace(
            "[shop]\n",
            "[shop]\npsp_url = \"https://pay.evil.example/\"\n",
        ),
    )
    .unwrap();
    let line = text(&mamori(p, &["guard", "verify"]));
    assert!(line.contains("mamori.toml (touches payment)"), "{line}");
    std::fs::write(p.join("mamori.toml"), config).unwrap();

    // The checkout's script, a file added beside it, a key file's permissions.
    std::fs::write(p.join("checkout/pay.js"), "pay();skim();\n").unwrap();
    std::fs::write(p.join("checkout/extra.js"), "skim();\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            p.join("data/master.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = mamori(p, &["guard", "verify"]);
    assert_eq!(code(&out), 1);
    let found = text(&out);
    assert!(
        found.contains("file.changed") && found.contains("pay.js (touches payment)"),
        "{found}"
    );
    assert!(
        found.contains("file.added") && found.contains("extra.js"),
        "{found}"
    );
    #[cfg(unix)]
    assert!(
        found.contains("file.mode") && found.contains("master.key"),
        "{found}"
    );

    // Recorded again, then the baseline itself altered: refused.
    assert_eq!(code(&mamori(p, &["guard", "baseline", "--replace"])), 0);
    assert_eq!(code(&mamori(p, &["guard", "verify"])), 0);
    let path = p.join("data/guard-baseline.json");
    let signed = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, signed.replace("pay.js", "pay.jz")).unwrap();
    let out = mamori(p, &["guard", "verify"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("does not verify"), "{}", text(&out));
}

/// `mamori serve` watches its own binary: replacing it (as an attacker would, by renaming a new
/// file over it) raises the alert and closes card payment while the shop keeps running.
#[test]
fn serve_alerts_and_closes_card_payment_when_its_binary_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // The shop runs from its own copy of the binary, which the test may replace.
    std::fs::create_dir(p.join("bin")).unwrap();
    let bin = p.join("bin/mamori");
    std::fs::copy(env!("CARGO_BIN_EXE_mamori"), &bin).unwrap();
    std::fs::write(
        p.join("mamori.toml"),
        "data_dir = \"data\"\n[backoffice]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let server = common::serve_with(common::mamori_at(&bin, p, None));
    let seen = &server.lines;
    assert!(
        seen.iter()
            .any(|l| l.starts_with("file guard:") && l.contains("watching")),
        "{seen:?}"
    );
    // Its mail is DKIM-signed from the first start: the key is created and its DNS record shown.
    assert!(
        seen.iter()
            .any(|l| l.contains("dkim.key") && l.contains("mamori._domainkey.shop.example.jp")),
        "{seen:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(p.join("data/dkim.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", p.join("data/mamori.db").display());
    let store = rt.block_on(open_store(&url)).unwrap();
    let card_closed = || {
        rt.block_on(store.guard_switch("card_payment"))
            .unwrap()
            .is_some_and(|s| s.state == "closed")
    };
    assert!(!card_closed(), "card payment is open on a clean start");

    let mut replaced = std::fs::read(&bin).unwrap();
    replaced.extend_from_slice(b"\nskimmer");
    std::fs::write(p.join("bin/mamori.new"), &replaced).unwrap();
    std::fs::rename(p.join("bin/mamori.new"), &bin).unwrap();
    let start = std::time::Instant::now();
    let alert = loop {
        let page = rt
            .block_on(store.alerts_page(&mamori_store::AlertFilter::default(), 0, 10))
            .unwrap();
        if let Some(a) = page.items.into_iter().find(|a| a.kind == "file.changed") {
            break a;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no alert for the replaced binary"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(alert.subject.ends_with("bin/mamori"), "{}", alert.subject);
    assert_eq!(alert.severity, "critical");
    assert!(card_closed(), "replacing the binary closes card payment");

    // The browser monitor is on by default and walks a real product page of the demo catalogue:
    // its first observation of that page becomes the known-good one.
    let monitor = seen
        .iter()
        .find(|l| l.starts_with("page monitor:"))
        .unwrap_or_else(|| panic!("no monitor line: {seen:?}"));
    assert!(monitor.contains("every 30 s"), "{monitor}");
    let product = monitor
        .split_whitespace()
        .find(|w| w.starts_with("/product/"))
        .unwrap_or_else(|| panic!("the monitor walks no product page: {monitor}"))
        .to_owned();
    let start = std::time::Instant::now();
    while rt
        .block_on(store.observation(&product, mamori_store::observation_state::GOOD))
        .unwrap()
        .is_none()
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "the monitor never observed {product}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn incident_open_note_show_scope_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = mamori(dir.path(), &["keys", "init"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // A Friday before 成人の日 (Monday 2027-01-11).
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "open",
            "--kind",
            "staff_misuse",
            "--known-at",
            "2027-01-08 10:00",
            "--from",
            "2027-01-01",
            "--to",
            "2027-01-08 10:00",
            "--principal",
            "staff-1",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("incident 1 opened"), "{t}");
    assert!(
        t.contains("個人情報保護委員会への速報: 2027-01-11 – 2027-01-13"),
        "{t}"
    );
    assert!(t.contains("個人情報保護委員会への確報: 2027-02-08"), "{t}");

    let out = mamori(
        dir.path(),
        &["incident", "note", "1", "アカウントを停止した"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "scope", "1"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("ledger tree head: size 2"), "{t}");
    assert!(t.contains("customers"), "{t}");

    let out = mamori(dir.path(), &["incident", "show", "1"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    for want in [
        "起票",
        "メモ",
        "アカウントを停止した",
        "影響範囲の算出",
        "days",
    ] {
        assert!(t.contains(want), "{want}: {t}");
    }
    let out = mamori(dir.path(), &["incident", "state", "1", "contained"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "state", "1", "forgotten"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "list"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("スタッフアカウントの不正利用"));
    assert!(text(&out).contains("contained"));

    // The ledger still verifies, with the desk's entries in it.
    let out = mamori(dir.path(), &["ledger", "verify"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Bad input is refused with exit status 2.
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "open",
            "--kind",
            "meteor",
            "--known-at",
            "2027-01-08",
        ],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("unknown kind"));
    let out = mamori(dir.path(), &["incident", "show", "99"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

/// A card-data incident takes `mamori scan`'s findings (a saved JSON Lines report, or a scan run
/// by the command) and keeps brands, files and masked numbers only; a copied-database incident
/// takes the key-leak answer and says whether a report is owed.
#[test]
fn incident_scope_takes_a_scan_and_the_key_leak_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = mamori(dir.path(), &["keys", "init"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let files = dir.path().join("srv");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(
        files.join("app.log"),
        "card 4111111111111111 ok\ncard 5555555555554444 ok\n",
    )
    .unwrap();
    let pans = ["4111111111111111", "5555555555554444"];

    let out = mamori(
        dir.path(),
        &[
            "incident",
            "open",
            "--kind",
            "card_data_found",
            "--known-at",
            "2027-01-08",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(
        dir.path(),
        &["incident", "scope", "1", "--scan", files.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("card numbers found: 2 (2 distinct)"), "{t}");
    assert!(t.contains("411111******1111"), "{t}");
    for pan in pans {
        assert!(!t.contains(pan), "a full card number was printed");
    }

    // The same from a saved report of the real `mamori scan`.
    let out = mamori(
        dir.path(),
        &["scan", "--format", "jsonl", files.to_str().unwrap()],
    );
    let report = dir.path().join("scan.jsonl");
    std::fs::write(&report, &out.stdout).unwrap();
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "scope",
            "1",
            "--scan-report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("Mastercard"), "{t}");
    assert!(t.contains("Visa"), "{t}");

    // A copied database: unanswered means owed; "no" means not.
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "open",
            "--kind",
            "database_copied",
            "--known-at",
            "2027-01-08",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "scope", "2"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("report owed: yes"), "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "key-leak", "2", "no"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "scope", "2"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("report owed: no"), "{}", text(&out));
    let out = mamori(dir.path(), &["incident", "key-leak", "2", "perhaps"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

/// `mamori serve` with `[guard.canary_mail]` listens for the canary domain: mail to an address
/// there is taken (a made-up one is kept without an alert), a recipient at
/// another domain is refused with 550. (Mail to a planted canary: mamori-guard's tests.)
#[test]
fn serve_listens_for_the_canary_domain() {
    use std::io::{BufRead as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("mamori.toml"),
        "data_dir = \"data\"\n[backoffice]\nlisten = \"127.0.0.1:0\"\n\
         [guard]\ncanary_domain = \"kanari.shop.example\"\n\
         [guard.canary_mail]\nlisten = \"127.0.0.1:0\"\nauth_lookups = false\n",
    )
    .unwrap();
    let server = common::serve_with(common::mamori(p, None));
    let seen = &server.lines;
    let addr = seen
        .iter()
        .find_map(|l| {
            l.strip_prefix("canary mail:")?
                .trim()
                .strip_prefix("SMTP on ")?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no canary mail listener: {seen:?}"));

    let stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = std::io::BufReader::new(stream);
    let mut reply = || loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let last = line.trim_end().to_owned();
        if last.as_bytes().get(3) != Some(&b'-') {
            return last;
        }
    };
    assert!(reply().starts_with("220 "));
    let mut say = |cmd: &str| {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
    };
    say("EHLO mx.phish.example");
    assert!(reply().starts_with("250"));
    say("MAIL FROM:<x@phish.example>");
    assert!(reply().starts_with("250"));
    say("RCPT TO:<victim@elsewhere.example>");
    assert!(reply().starts_with("550"), "relaying refused");
    say("RCPT TO:<nobody1@kanari.shop.example>");
    assert!(reply().starts_with("250"));
    say("DATA");
    assert!(reply().starts_with("354"));
    say("From: <x@phish.example>\r\nSubject: hello\r\n\r\nhttps://phish.example/a\r\n.");
    assert!(reply().starts_with("250"));
    say("QUIT");
    assert!(reply().starts_with("221"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", p.join("data/mamori.db").display());
    let store = rt.block_on(open_store(&url)).unwrap();
    let page = rt
        .block_on(store.alerts_page(&mamori_store::AlertFilter::default(), 0, 10))
        .unwrap();
    // Taken and kept, but no canary was mailed: no alert.
    assert!(
        page.items.iter().all(|a| !a.kind.starts_with("canary.")),
        "{:?}",
        page.items
    );
}

#[test]
fn incident_report_and_card_csv_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = mamori(dir.path(), &["keys", "init"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "open",
            "--kind",
            "payment_page_altered",
            "--known-at",
            "2027-01-08 10:00",
            "--from",
            "2027-01-01",
            "--to",
            "2027-01-08 10:00",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    // The card companies' CSV needs the scope first.
    let csv = dir.path().join("card.csv");
    let csv_arg = csv.to_str().unwrap();
    let out = mamori(dir.path(), &["incident", "card-csv", "1", "--out", csv_arg]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("compute the incident's scope first"));
    let out = mamori(dir.path(), &["incident", "scope", "1"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    let txt = dir.path().join("sokuho.txt");
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "report",
            "1",
            "--kind",
            "sokuho",
            "--format",
            "text",
            "--out",
            txt.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = std::fs::read_to_string(&txt).unwrap();
    for want in [
        "個人情報保護委員会への報告（速報）",
        "■ 漏えい等が発生し又は発生したおそれがある個人データの項目",
        "■ その他参考となる事項",
        "2027年1月11日（月）から2027年1月13日（水）まで",
        "対象期間の決済件数：0件",
    ] {
        assert!(t.contains(want), "{want}: {t}");
    }

    let pdf = dir.path().join("kakuho.pdf");
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "report",
            "1",
            "--kind",
            "kakuho",
            "--format",
            "pdf",
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let extracted = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let extracted: String = String::from_utf8(extracted.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(
        extracted.contains("個人情報保護委員会への報告（確報）"),
        "{extracted}"
    );
    assert!(extracted.contains("再発防止のための措置"), "{extracted}");

    let out = mamori(dir.path(), &["incident", "card-csv", "1", "--out", csv_arg]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with("\u{feff}決済ID,".as_bytes()));

    // Bad input is refused with exit status 2.
    let out = mamori(
        dir.path(),
        &[
            "incident", "report", "1", "--kind", "draft", "--out", csv_arg,
        ],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
}

/// `mamori incident evidence` writes a pack (0600, never overwritten) that `mamori evidence
/// verify` accepts with the public key alone (given as printed, or in a file); a copy with one
/// byte of one ledger entry changed, or another key, is refused naming the file and the entry.
#[test]
fn incident_evidence_then_verify_and_a_tampered_copy_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&mamori(dir.path(), &["keys", "init"])), 0);
    assert_eq!(code(&mamori(dir.path(), &["db", "migrate"])), 0);
    let url = format!("sqlite://{}", dir.path().join("data/mamori.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(append_events(dir.path(), &url, 30));
    let out = mamori(
        dir.path(),
        &[
            "incident",
            "open",
            "--kind",
            "staff_misuse",
            "--known-at",
            "2027-01-08 10:00",
            "--from",
            "2020-01-01",
            "--principal",
            "staff-1",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));

    let pack = dir.path().join("incident-1.tar.zst");
    let pack_arg = pack.to_str().unwrap();
    let out = mamori(
        dir.path(),
        &["incident", "evidence", "1", "--out", pack_arg],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("ledger entries 0.."), "{}", text(&out));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&pack).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let out = mamori(
        dir.path(),
        &["incident", "evidence", "1", "--out", pack_arg],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("never overwritten"), "{}", text(&out));

    let shown = text(&mamori(dir.path(), &["keys", "show"]));
    let vkey = shown
        .lines()
        .find_map(|l| l.strip_prefix("ledger public key: "))
        .unwrap()
        .trim()
        .to_owned();
    // Verified elsewhere: an empty directory, no configuration, no database.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = mamori(
        elsewhere.path(),
        &["evidence", "verify", pack_arg, "--public-key", &vkey],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("evidence pack OK: incident 1"),
        "{}",
        text(&out)
    );
    let key_file = elsewhere.path().join("ledger.pub");
    std::fs::write(&key_file, format!("ledger public key: {vkey}\n")).unwrap();
    let out = mamori(
        elsewhere.path(),
        &[
            "evidence",
            "verify",
            pack_arg,
            "--public-key",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));

    // One byte of entry 7 (its purpose `p7` becomes `p8`).
    use mamori_respond::evidence;
    let mut files = evidence::unpack(&std::fs::read(&pack).unwrap()).unwrap();
    let (_, entries) = files
        .iter_mut()
        .find(|(n, _)| n == evidence::ENTRIES)
        .unwrap();
    let needle = br#"\"purpose\":\"p7\""#;
    let at = entries
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&entries[..600])));
    entries[at + needle.len() - 3] = b'8';
    let bad = elsewhere.path().join("tampered.tar.zst");
    std::fs::write(&bad, evidence::pack(&files, 0).unwrap()).unwrap();
    let out = mamori(
        elsewhere.path(),
        &[
            "evidence",
            "verify",
            bad.to_str().unwrap(),
            "--public-key",
            &vkey,
        ],
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("BROKEN: entries.jsonl: entry 7:"),
        "{}",
        text(&out)
    );

    // Another key.
    let other = LedgerSigner::generate("mamori-ledger").verifier().to_vkey();
    let out = mamori(
        elsewhere.path(),
        &["evidence", "verify", pack_arg, "--public-key", &other],
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("manifest.sig"), "{}", text(&out));
}
