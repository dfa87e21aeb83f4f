//! kill -9, then restart on the same database (issue 13): nothing lost, nothing done twice
//! beyond the one window that cannot be closed. On SQLite and on PostgreSQL.
//!
//! - Mail: `mamori serve` killed twice while its worker delivers to a real SMTP catcher, then
//!   restarted: every mail arrives, and at most one per kill arrives twice (the at-least-once
//!   window: the SMTP server accepted the mail, the process died before the row was marked
//!   sent).
//! - Key rotation (`mamori incident switch N keys on`): the rotating process killed as soon as
//!   the key file changed and again with the data keys half re-wrapped; every customer's sealed
//!   profile still opens (with the key file on disk), a restarted `mamori serve` delivers mail
//!   sealed before the rotation, and a rotation run again leaves every data key under the
//!   active master key.
//! - Checkout, against the sandbox provider in a process of its own: the shop killed after an
//!   order was placed and before it was paid (the provider's webhook finds no shop, retries,
//!   and the restarted shop takes it), and killed right after the webhook marked an order paid
//!   (the customer's return lands on the completed order): two orders, each with one payment,
//!   succeeded, and paid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{gateway, mamori, queue_mails, run, serve, Db, SEQ_HEADER};
use mamori_mail::catcher::MailCatcher;
use rustix::process::Signal;

/// How long a step may take before the test fails (never a measurement).
const BOUND: Duration = Duration::from_secs(300);

fn config(p: &Path, extra: &str) {
    std::fs::write(
        p.join("mamori.toml"),
        format!(
            "data_dir = \"data\"\n[backoffice]\nlisten = \"127.0.0.1:0\"\n\
             [guard.read_budgets.roles.\"job:mail-worker\"]\n\
             per_minute = 100000\nper_hour = 1000000\nper_day = 3000000\n{extra}"
        ),
    )
    .unwrap();
}

fn setup(p: &Path, db: Option<&str>, customers: u32) {
    std::fs::create_dir(p.join("data")).unwrap();
    run(p, db, &["keys", "init"]);
    run(p, db, &["db", "migrate"]);
    let customers = customers.to_string();
    run(
        p,
        db,
        &[
            "demo",
            "populate",
            "--customers",
            &customers,
            "--orders",
            "5",
            "--concurrency",
            "8",
        ],
    );
}

/// Polls `cond` until it holds; panics past [`BOUND`].
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < BOUND, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The rows a killed worker had claimed keep their lease (10 minutes) so that a live worker of
/// another process is never doubled; the test ends the leases instead of waiting them out.
/// Returns how many there were.
async fn end_leases(db: &Db) -> u64 {
    db.execute(
        "UPDATE mail_outbox SET lease_until = 0 WHERE claim_token IS NOT NULL AND state = 'pending'",
    )
    .await
}

const MAILS: usize = 300;
const KILLS: usize = 2;

async fn mail_survives_kill9(db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let catcher = MailCatcher::start().await.unwrap();
    config(
        p,
        &format!(
            "[shop]\nmail_from = \"守り商店 <shop@shop.example.jp>\"\n\
             [shop.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
            catcher.port()
        ),
    );
    setup(p, db_url, 20);
    let db = Db::open(p, db_url).await;
    queue_mails(p, db_url, MAILS).await;

    // Killed twice mid-way, each time once the catcher has more.
    let mut leased = Vec::new();
    for k in 1..=KILLS {
        let mut server = serve(p, db_url);
        let want = k * MAILS / (KILLS + 1);
        until("mail delivered", || async {
            catcher.messages().len() >= want
        })
        .await;
        server.signal(Signal::KILL);
        let status = server.wait_exit(BOUND);
        assert!(!status.success(), "killed, not finished");
        let sent = db
            .count("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'")
            .await;
        assert!(sent < MAILS as i64, "killed mid-way ({sent} sent)");
        leased.push(end_leases(&db).await);
    }
    // Restarted: the rest goes out.
    let server = serve(p, db_url);
    until("every mail marked sent", || async {
        db.count("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'")
            .await
            == MAILS as i64
    })
    .await;
    drop(server);

    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for m in catcher.messages() {
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.data)
            .unwrap();
        let seq: usize = parsed
            .header_raw(SEQ_HEADER)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        *seen.entry(seq).or_default() += 1;
    }
    // None lost.
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..MAILS).collect::<Vec<_>>(),
        "every mail delivered"
    );
    // At most the mail in flight at each kill twice.
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "mail: {} delivered twice after {KILLS} kills; claims ended after each kill: {leased:?}",
        twice.len()
    );
    assert!(
        twice.len() <= KILLS && twice.iter().all(|(_, n)| **n == 2),
        "more than the at-least-once window: {twice:?} (claims ended: {leased:?})"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM mail_outbox WHERE state <> 'sent'")
            .await,
        0
    );
}

/// Every customer's sealed profile opens with the key file on disk (a fresh process's view).
async fn all_profiles_open(p: &Path, db_url: Option<&str>, db: &Db) {
    let ids = db.strings("SELECT id FROM customers").await;
    assert!(!ids.is_empty());
    let (gw, ledger) = gateway(p, db_url).await;
    // The test reads everyone at once: no mass-read stop for it.
    let gw = gw.with_read_budgets(mamori_store::ReadBudgets {
        enabled: false,
        ..Default::default()
    });
    let acc = mamori_store::Accessor::system("test:crash", "test.read");
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in ids.chunks(ids.len().div_ceil(8)) {
        let (gw, acc, chunk) = (gw.clone(), acc.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for id in chunk {
                if let Err(e) = gw.customer_profile(&acc, &id).await {
                    panic!("a customer's profile does not open: {e}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    ledger.checkpoint().await.unwrap();
}

/// Where to kill the rotation.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// The key file has the new master key; no data key is re-wrapped yet (or only some).
    KeyFileChanged,
    /// Some data keys are under the new master key, others not yet.
    HalfRewrapped,
}

/// Runs `mamori incident switch 1 keys on` and kills it at `moment`; true when the kill came
/// before the rotation was complete.
async fn kill_rotation(p: &Path, db_url: Option<&str>, db: &Db, moment: Moment) -> bool {
    let key_file = p.join("data").join("master.key");
    let before = std::fs::read(&key_file).unwrap();
    let mut child = mamori(p, db_url)
        .args([
            "incident",
            "switch",
            "1",
            "keys",
            "on",
            "--reason",
            "鍵の漏えい対応",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let reached = match moment {
            Moment::KeyFileChanged => std::fs::read(&key_file).is_ok_and(|k| k != before),
            Moment::HalfRewrapped => {
                db.count("SELECT COUNT(DISTINCT master_key_id) FROM customer_keys")
                    .await
                    > 1
            }
        };
        if reached || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(start.elapsed() < BOUND, "never reached {moment:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    !status.success()
}

async fn key_rotation_survives_kill9(db_url: Option<&str>) {
    const CUSTOMERS: u32 = 2500;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    config(p, "");
    setup(p, db_url, CUSTOMERS);
    let db = Db::open(p, db_url).await;
    // Mail sealed before the rotation, delivered after it.
    queue_mails(p, db_url, 50).await;
    run(
        p,
        db_url,
        &[
            "incident",
            "open",
            "--kind",
            "other",
            "--known-at",
            &chrono::Utc::now().to_rfc3339(),
        ],
    );

    let mut mid_way = 0;
    for moment in [
        Moment::KeyFileChanged,
        Moment::HalfRewrapped,
        Moment::HalfRewrapped,
    ] {
        if kill_rotation(p, db_url, &db, moment).await {
            mid_way += 1;
        }
        all_profiles_open(p, db_url, &db).await;
    }
    eprintln!("rotation: {mid_way} of 3 kills came before the rotation was complete");
    assert!(mid_way > 0, "no kill came before a rotation was complete");

    // Restarted: the server opens the mail sealed before the rotations.
    let server = serve(p, db_url);
    until("the mail sealed before the rotation is sent", || async {
        db.count("SELECT COUNT(*) FROM mail_outbox WHERE kind = 'test' AND state = 'sent'")
            .await
            == 50
    })
    .await;
    drop(server);

    // The rotation run again completes: every data key under the active master key.
    run(
        p,
        db_url,
        &[
            "incident",
            "switch",
            "1",
            "keys",
            "on",
            "--reason",
            "鍵の漏えい対応（再実行）",
        ],
    );
    let out = run(p, db_url, &["keys", "show"]);
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!shown.contains("NOT in the key file"), "{shown}");
    let active = shown
        .lines()
        .find(|l| l.contains("(active)"))
        .unwrap_or_else(|| panic!("{shown}"));
    let all = db.count("SELECT COUNT(*) FROM customer_keys").await;
    assert!(
        active.ends_with(&format!("wraps {all} data keys")),
        "{shown}"
    );
    all_profiles_open(p, db_url, &db).await;
    let (_, covered) = common::ledger_verify(p, db_url);
    assert!(covered);
}

/// A free port on the loopback (bound and released: the shop's URL must stay the same across
/// restarts, since the provider's webhooks go there).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The sandbox provider in a process of its own (it outlives the shop's kills), sending its
/// webhooks to `shop_port`, and its URL.
struct Provider(std::process::Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PSP_KEY: &str = "sk_sandbox_crash_test_key_0123456789";
const PSP_SECRET: &str = "whsec_crash_test_secret_0123456789";

async fn provider(p: &Path, port: u16, shop_port: u16) -> Provider {
    let child = mamori(p, None)
        .args([
            "psp-sandbox",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--api-key",
            PSP_KEY,
            "--webhook-url",
            &format!("http://127.0.0.1:{shop_port}/payments/webhook"),
            "--webhook-secret",
            PSP_SECRET,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let provider = Provider(child);
    until("the provider listens", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    provider
}

/// A customer's browser on the shop at `port`.
fn customer(port: u16) -> mamori_testkit::web::Browser {
    let base = format!("http://127.0.0.1:{port}");
    mamori_testkit::web::Browser::new(mamori_testkit::web::Site {
        base: &base,
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        resolve: None,
        csrf_pages: &["/", "/login"],
        session_cookie: "mamori_session",
    })
}

/// Cart, checkout form, confirmation, "place": the provider's card page to pay on.
async fn place_card_order(c: &mamori_testkit::web::Browser) -> String {
    c.get("/product/BK-4001").await.expect(200);
    c.post_form("/cart/add", &[("sku", "BK-4001"), ("quantity", "1")])
        .await
        .expect_redirect("/cart");
    c.get("/checkout").await.expect(200);
    let fields = [
        ("buyer_family", "山田"),
        ("buyer_given", "太郎"),
        ("buyer_family_kana", "やまだ"),
        ("buyer_given_kana", "タロウ"),
        ("buyer_postal_code", "100-0001"),
        ("buyer_prefecture", "東京都"),
        ("buyer_city", "千代田区"),
        ("buyer_line1", "千代田1-1"),
        ("buyer_line2", ""),
        ("buyer_phone", "090-1234-5678"),
        ("buyer_email", "taro.yamada@example.jp"),
        ("ship_to", "buyer"),
        ("delivery_date", ""),
        ("delivery_slot", "morning"),
        ("payment", "card"),
    ];
    c.post_form("/checkout", &fields)
        .await
        .expect_redirect("/checkout/confirm");
    let page = c.get("/checkout/confirm").await;
    page.expect(200);
    let key = page.input_value("key").expect("the confirmation's key");
    let placed = c.post_form("/checkout/place", &[("key", &key)]).await;
    assert_eq!(placed.status, 303);
    placed.location.clone().unwrap()
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

async fn paid_orders(db: &Db) -> i64 {
    db.count("SELECT COUNT(*) FROM orders WHERE state = 'paid'")
        .await
}

async fn checkout_survives_kill9(db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let (shop_port, psp_port) = (free_port(), free_port());
    config(
        p,
        &format!(
            "[shop]\npsp_url = \"http://127.0.0.1:{psp_port}/\"\n\
             public_url = \"http://127.0.0.1:{shop_port}/\"\n"
        ),
    );
    std::fs::create_dir(p.join("data")).unwrap();
    run(p, db_url, &["keys", "init"]);
    run(p, db_url, &["db", "migrate"]);
    let _provider = provider(p, psp_port, shop_port).await;
    let listen = format!("127.0.0.1:{shop_port}");
    // The same port across restarts, so that the provider's retried webhook finds the shop.
    let start_shop = || {
        let mut cmd = mamori(p, db_url);
        cmd.env("MAMORI_PSP_API_KEY", PSP_KEY)
            .env("MAMORI_PSP_WEBHOOK_SECRET", PSP_SECRET);
        common::serve_on(cmd, &listen)
    };
    let db_view = || Db::open(p, db_url);

    // 1. Killed after the order was placed, before the customer paid: the provider's webhook
    //    finds no shop, retries, and the restarted shop takes it.
    let mut shop = start_shop();
    let db = db_view().await;
    let c = customer(shop_port);
    let pay_url = place_card_order(&c).await;
    shop.signal(Signal::KILL);
    shop.wait_exit(BOUND);
    let back = mamori_testkit::web::pay_on_provider(&pay_url, "4242424242424242").await;
    assert_eq!(paid_orders(&db).await, 0, "nobody told the shop yet");
    let shop = start_shop();
    until("the retried webhook marks the order paid", || async {
        paid_orders(&db).await == 1
    })
    .await;
    c.get(&path_of(&back))
        .await
        .expect_redirect("/checkout/complete/");

    // 2. Killed right after the webhook marked the order paid, before the customer came back.
    let c2 = customer(shop_port);
    let pay_url = place_card_order(&c2).await;
    let back = mamori_testkit::web::pay_on_provider(&pay_url, "4242424242424242").await;
    until("the webhook marks the order paid", || async {
        paid_orders(&db).await == 2
    })
    .await;
    let mut shop = shop;
    shop.signal(Signal::KILL);
    shop.wait_exit(BOUND);
    let _shop = start_shop();
    c2.get(&path_of(&back))
        .await
        .expect_redirect("/checkout/complete/");
    // Returning again changes nothing.
    c2.get(&path_of(&back))
        .await
        .expect_redirect("/checkout/complete/");

    // Two orders, each paid once: one payment (attempt) per order, succeeded.
    assert_eq!(db.count("SELECT COUNT(*) FROM orders").await, 2);
    assert_eq!(paid_orders(&db).await, 2);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'")
            .await,
        2,
        "{:?}",
        db.strings("SELECT status FROM payments").await
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM payments").await,
        2,
        "one payment per order at the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_delivered_after_kill9_none_lost_sqlite() {
    mail_survives_kill9(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_delivered_after_kill9_none_lost_postgres() {
    let url = mamori_testkit::fresh_pg_database().await.unwrap();
    mail_survives_kill9(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_values_open_after_a_rotation_killed_sqlite() {
    key_rotation_survives_kill9(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_values_open_after_a_rotation_killed_postgres() {
    let url = mamori_testkit::fresh_pg_database().await.unwrap();
    key_rotation_survives_kill9(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_killed_before_and_after_the_webhook_pays_once_sqlite() {
    checkout_survives_kill9(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_killed_before_and_after_the_webhook_pays_once_postgres() {
    let url = mamori_testkit::fresh_pg_database().await.unwrap();
    checkout_survives_kill9(Some(&url)).await;
}
