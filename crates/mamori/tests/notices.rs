//! Notices to individuals (issue 12): a scope of 2,000 people, `mamori incident notify` in a
//! real child process killed with SIGKILL three times at different moments and resumed, then
//! exactly 2,000 notices, each naming exactly that person's items, none twice; delivered by
//! `mamori serve`'s mail worker to a real SMTP catcher, DKIM-signed (checked by dkimpy's
//! `dkimverify`), each with its own VERP envelope sender. Then bounces to `mamori serve`'s
//! listener, and `mamori incident letters` writing the print files of the notices that bounced
//! for good. On SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{mamori, run, serve};

use mamori_mail::catcher::MailCatcher;
use mamori_respond::notices::{items_ja, saved_people, NOTICE_HEADER};

const PEOPLE: u64 = 2000;
/// How long a step may take before the test fails (never a measurement).
const BOUND: Duration = Duration::from_secs(600);
const BOUNCE_DOMAIN: &str = "bounce.shop.example";
const CANARY_DOMAIN: &str = "canary.shop.example";

/// The test's own view of the database (ids and counts only).
enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    async fn open(dir: &Path, db: Option<&str>) -> Db {
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

    async fn count(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Db::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    async fn strings(&self, sql: &str) -> Vec<(String, String)> {
        match self {
            Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
            Db::Pg(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        }
    }
}

/// Where to kill the run.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// As soon as the run is stored (before or during its first batch).
    Started,
    /// Once at least this many notices are queued.
    Queued(i64),
}

/// Starts `mamori incident notify` and kills it with SIGKILL at `moment`; the run must not be
/// complete then.
async fn kill_at(dir: &Path, db_url: Option<&str>, db: &Db, args: &[&str], moment: Moment) {
    let mut child = mamori(dir, db_url)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let reached = match moment {
            Moment::Started => db.count("SELECT COUNT(*) FROM notice_runs").await > 0,
            Moment::Queued(n) => db.count("SELECT COUNT(*) FROM incident_notices").await >= n,
        };
        if reached {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {moment:?}"
        );
        assert!(start.elapsed() < BOUND, "never reached {moment:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished ({moment:?})");
    let queued = db.count("SELECT COUNT(*) FROM incident_notices").await;
    let complete = db
        .count("SELECT COUNT(*) FROM notice_runs WHERE completed_at IS NOT NULL")
        .await;
    assert!(
        queued < PEOPLE as i64 && complete == 0,
        "killed mid-run at {moment:?}"
    );
}

/// Runs dkimpy's `dkimverify` on a message, its DNS lookup answered with `record` (there is
/// no DNS here): true when it says the signature verifies.
fn dkimverify(dir: &Path, message: &[u8], name: &str, record: &str) -> bool {
    use std::io::Write as _;
    let site = dir.join("dkim-site");
    if !site.exists() {
        std::fs::create_dir(&site).unwrap();
        std::fs::write(
            site.join("sitecustomize.py"),
            "import os, dkim\n\
             def _txt(name, timeout=5):\n\
             \x20   want = os.environ['DKIM_TEST_NAME'].encode()\n\
             \x20   return os.environ['DKIM_TEST_TXT'].encode() if name.rstrip(b'.') == want else None\n\
             dkim.DKIM.verify.__defaults__ = (0, _txt)\n",
        )
        .unwrap();
    }
    let mut child = Command::new("/usr/bin/dkimverify")
        .env("PYTHONPATH", &site)
        .env("DKIM_TEST_NAME", name)
        .env("DKIM_TEST_TXT", record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dkimverify (Debian's python3-dkim)");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains("signature ok")
}

/// The items a notice's body names (the lines of section 2).
fn items_in(body: &str) -> Vec<String> {
    let start = body.find("■ 2.").expect("section 2");
    let end = body.find("■ 3.").expect("section 3");
    body[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("・"))
        .map(|s| s.to_owned())
        .collect()
}

async fn notices_survive_kill9(db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // A free port for `mamori serve`'s bounce listener.
    let bounce_listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let base = format!(
        "data_dir = \"data\"\n\
         [backoffice]\nlisten = \"127.0.0.1:0\"\n\
         [guard]\ncanary_domain = \"{CANARY_DOMAIN}\"\n\
         [guard.read_budgets.roles.\"job:mail-worker\"]\n\
         per_minute = 100000\nper_hour = 1000000\nper_day = 3000000\n\
         [respond.notices]\nbounce_domain = \"{BOUNCE_DOMAIN}\"\n\
         bounce_listen = \"{bounce_listen}\"\n"
    );
    std::fs::write(p.join("mamori.toml"), &base).unwrap();
    std::fs::create_dir(p.join("data")).unwrap();
    run(p, db_url, &["keys", "init"]);
    run(p, db_url, &["db", "migrate"]);
    let people_arg = PEOPLE.to_string();
    run(
        p,
        db_url,
        &[
            "demo",
            "populate",
            "--customers",
            &people_arg,
            "--orders",
            "600",
            "--concurrency",
            "16",
            "--seed",
            "12",
        ],
    );
    run(p, db_url, &["guard", "canary", "plant", "3", "--seed", "5"]);
    run(
        p,
        db_url,
        &[
            "incident",
            "open",
            "--kind",
            "database_copied",
            "--known-at",
            &chrono::Utc::now().to_rfc3339(),
        ],
    );
    run(p, db_url, &["incident", "scope", "1"]);
    std::fs::write(
        p.join("draft.toml"),
        "overview = \"当店のサーバーに第三者による不正アクセスがあり、データベースの複製が持ち出されました。\"\n\
         cause = \"管理画面のアカウントの認証情報が窃取されたことによるものです。\"\n\
         secondary_harm = \"現時点で二次被害は確認されていません。\"\n\
         what_to_do = \"身に覚えのない連絡にご注意ください。\"\n\
         desk = \"守り商店 個人情報お問い合わせ窓口 0120-000-000（平日10時〜17時）\"\n",
    )
    .unwrap();

    let db = Db::open(p, db_url).await;
    let customers = db.count("SELECT COUNT(*) FROM customers").await;
    assert_eq!(customers, PEOPLE as i64 + 3, "2,000 people and 3 canaries");

    // Three kills at different moments: as soon as the run exists, then mid-way twice.
    let start = [
        "incident",
        "notify",
        "1",
        "--draft",
        "draft.toml",
        "--rate",
        "600000",
        "--batch",
        "50",
    ];
    let resume = ["incident", "notify", "1", "--resume", "--batch", "50"];
    kill_at(p, db_url, &db, &start, Moment::Started).await;
    kill_at(p, db_url, &db, &resume, Moment::Queued(600)).await;
    kill_at(p, db_url, &db, &resume, Moment::Queued(1400)).await;
    // A start again is refused (the run exists); the resume finishes it.
    let again = mamori(p, db_url).args(start).output().unwrap();
    assert!(!again.status.success(), "a second start is refused");
    let out = run(p, db_url, &resume);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2000/2000 queued"), "{text}");

    // Exactly one notice per person of the scope, none for a canary, one outbox row each.
    let scope_json = db
        .strings("SELECT id, content FROM incident_scopes")
        .await
        .pop()
        .unwrap()
        .1;
    let expected = saved_people(&scope_json).unwrap();
    assert_eq!(expected.len() as u64, PEOPLE, "the scope is 2,000 people");
    let notices: BTreeMap<String, String> = db
        .strings("SELECT id, customer_id FROM incident_notices")
        .await
        .into_iter()
        .collect();
    assert_eq!(notices.len() as u64, PEOPLE);
    let notified: BTreeSet<&String> = notices.values().collect();
    assert_eq!(notified, expected.keys().collect::<BTreeSet<_>>());
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM mail_outbox WHERE kind = 'incident-notice' \
             AND id IN (SELECT id FROM incident_notices)"
        )
        .await,
        PEOPLE as i64
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM mail_outbox WHERE kind = 'incident-notice'")
            .await,
        PEOPLE as i64,
        "no outbox row without its notice"
    );
    // The items differ between people (some have orders), so a mix-up would show.
    let distinct_items: HashSet<Vec<String>> = expected
        .values()
        .map(|f| items_ja(&f.iter().cloned().collect::<Vec<_>>()))
        .collect();
    assert!(distinct_items.len() > 1, "{distinct_items:?}");
    // Both the start and the completion are on the timeline.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM incident_timeline WHERE text LIKE '本人通知の送付を開始%'")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM incident_timeline WHERE text LIKE '本人通知の登録を完了%'")
            .await,
        1
    );

    // Delivery: `mamori serve`'s worker, DKIM-signed, to the catcher.
    let catcher = MailCatcher::start().await.unwrap();
    std::fs::write(
        p.join("mamori.toml"),
        format!(
            "{base}[shop]\nmail_from = \"守り商店 <shop@shop.example.jp>\"\n\
             [shop.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
            catcher.port()
        ),
    )
    .unwrap();
    let server = serve(p, db_url);
    let mails = catcher.wait_for(PEOPLE as usize, BOUND).await.unwrap();
    assert_eq!(mails.len() as u64, PEOPLE, "none sent twice");

    let signer = mamori_mail::DkimSigner::from_key_file(
        "mamori",
        "shop.example.jp",
        p.join("data").join("dkim.key"),
    )
    .unwrap();
    let rcpts: HashSet<&String> = mails.iter().flat_map(|m| &m.rcpt_to).collect();
    assert_eq!(rcpts.len() as u64, PEOPLE, "one address each");
    assert!(rcpts.iter().all(|r| !r.ends_with(CANARY_DOMAIN)));
    let mut seen = HashSet::new();
    let mut verp_of = BTreeMap::new();
    for (i, m) in mails.iter().enumerate() {
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.data)
            .unwrap();
        let id = parsed.header_raw(NOTICE_HEADER).unwrap().trim().to_owned();
        assert!(seen.insert(id.clone()), "notice {id} delivered twice");
        let customer = notices.get(&id).unwrap();
        let want: Vec<String> = items_ja(&expected[customer].iter().cloned().collect::<Vec<_>>());
        let body = parsed.body_text(0).unwrap();
        assert_eq!(
            items_in(&body),
            want,
            "notice {id}: exactly the person's items"
        );
        assert!(body.contains("0120-000-000") && body.contains("フィッシング"));
        // VERP: the envelope sender names this notice.
        let (local, domain) = m.mail_from.rsplit_once('@').unwrap();
        assert_eq!(domain, BOUNCE_DOMAIN);
        assert!(
            local.starts_with(&format!("n{}.", id.replace('-', ""))),
            "{local}"
        );
        verp_of.insert(id.clone(), m.mail_from.clone());
        // dkimpy on a spread sample (a Python start per message), and a tampered copy fails.
        if i % 100 == 0 {
            assert!(
                dkimverify(p, &m.data, &signer.dns_name(), &signer.dns_record()),
                "notice {id} does not verify"
            );
        }
    }
    let mut tampered = mails[0].data.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 0x01;
    assert!(!dkimverify(
        p,
        &tampered,
        &signer.dns_name(),
        &signer.dns_record()
    ));

    // Bounces, through `mamori serve`'s listener: two notices to people who ordered and one
    // to a person with neither an order nor an address book bounce for good, one more is only
    // delayed. `mamori incident letters` then writes letters to the two with an address.
    let with_order = db
        .strings(
            "SELECT id, customer_id FROM incident_notices WHERE customer_id IN \
             (SELECT customer_id FROM orders) ORDER BY position LIMIT 3",
        )
        .await;
    let without = db
        .strings(
            "SELECT id, customer_id FROM incident_notices WHERE customer_id NOT IN \
             (SELECT customer_id FROM orders) AND customer_id NOT IN \
             (SELECT customer_id FROM addresses) ORDER BY position LIMIT 1",
        )
        .await;
    assert_eq!((with_order.len(), without.len()), (3, 1));
    let dsns = [
        (&with_order[0].0, "failed", "5.1.1"),
        (&with_order[1].0, "failed", "5.1.1"),
        (&without[0].0, "failed", "5.1.1"),
        (&with_order[2].0, "delayed", "4.2.2"),
    ];
    for (notice, action, status) in dsns {
        let verp = &verp_of[notice];
        let dsn = mamori_testkit::mail::dsn(verp, action, status);
        let reply = mamori_testkit::mail::send_smtp(bounce_listen, verp, &dsn)
            .await
            .unwrap();
        assert!(reply.starts_with("250"), "{reply}");
    }
    drop(server);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM incident_notices WHERE bounce = 'permanent'")
            .await,
        3
    );

    let out = run(
        p,
        db_url,
        &[
            "incident",
            "letters",
            "1",
            "--out",
            "letters",
            "--batch-size",
            "2",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(1 without a postal address)") || text.contains("(1 notices)"),
        "{text}"
    );
    let letters = p.join("letters");
    let mut pdfs = 0;
    let mut referenced = BTreeSet::new();
    for entry in std::fs::read_dir(&letters).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("pdf") => {
                assert!(bytes.starts_with(b"%PDF"));
                pdfs += 1;
            }
            Some("csv") => {
                let text = std::str::from_utf8(&bytes[3..]).unwrap();
                // Reference numbers (the notices' ids) in the last column, after the header.
                for line in text.lines().skip(1) {
                    referenced.insert(line.trim().rsplit(',').next().unwrap().to_owned());
                }
            }
            other => panic!("unexpected file {other:?}"),
        }
    }
    assert!((1..=2).contains(&pdfs), "{pdfs} print files");
    let want: BTreeSet<String> = with_order[..2].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(
        referenced, want,
        "the letters are the two bounced notices with an address"
    );
    // Print files are never overwritten: a second run fails and leaves them as they were.
    let again = mamori(p, db_url)
        .args([
            "incident",
            "letters",
            "1",
            "--out",
            "letters",
            "--batch-size",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "an existing print file is not overwritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_survive_kill9_and_are_delivered_once_sqlite() {
    notices_survive_kill9(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_survive_kill9_and_are_delivered_once_postgres() {
    let url = mamori_testkit::fresh_pg_database().await.unwrap();
    notices_survive_kill9(Some(&url)).await;
}
