//! Time from the end of a canary mail's DATA to its `canary.mail` alert being in the store,
//! through the real path: an SMTP session on loopback to the canary mail listener, the canary
//! found by its email blind index and the sealed marks, the message sealed and kept, the alert
//! stored with its owner mail queued and its ledger entry. Measured from the write of the
//! terminating "." line until the alert row is readable (polled every millisecond, not waiting
//! for the 250), 50 mails to 50 canaries, on SQLite and PostgreSQL. DKIM and SPF lookups are
//! off (no DNS on the bench machine; with it they add the resolver's round trips, at most
//! `auth_timeout`).
//!
//! Not a criterion bench, for the reason `time_to_alert` gives: this is the latency of an
//! asynchronous event, whose distribution (median, worst) is the figure.
//!
//! `cargo xtask bench -p mamori-guard --bench canary_mail`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_domain::{CustomerKind, CustomerProfile, Email, PersonName, Personal};
use mamori_guard::canary_mail::{CanaryMail, CanaryMailConfig};
use mamori_guard::{kinds, AlertConfig, Alerts};
use mamori_store::{Accessor, AlertFilter, Backend, Records, StaffRow};
use mamori_testkit::Env;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

const MAILS: usize = 50;
const DOMAIN: &str = "canary.mamori.example";

async fn alerted(records: &Arc<dyn Records>, subject: &str) -> bool {
    records
        .alerts_page(&AlertFilter::default(), 0, 200)
        .await
        .unwrap()
        .items
        .iter()
        .any(|a| a.kind == kinds::CANARY_MAIL && a.subject == subject)
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms, worst {:.1} ms, best {:.1} ms ({} mails)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        ms(times[0]),
        times.len()
    )
}

async fn expect(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert!(line.starts_with(code), "{line}");
        if line.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

async fn run(backend: Backend) {
    let env = Env::start(backend).await;
    env.store
        .staff_insert(&StaffRow {
            id: "owner1".into(),
            email: "owner1@shop.mamori.example".into(),
            display_name: "店主".into(),
            role: "owner".into(),
            state: "active".into(),
            password_hash: None,
            failed_logins: 0,
            locked_until: None,
            created_at: 1_000,
            updated_at: 1_000,
            last_login_at: None,
        })
        .await
        .unwrap();
    let acc = Accessor::system("bench", "bench.setup").via("bench");
    let mut canaries = Vec::new();
    for i in 0..MAILS {
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(PersonName::parse("佐藤", "花子").unwrap()),
            email: Personal::new(Email::parse(&format!("canary{i}@{DOMAIN}")).unwrap()),
            phone: None,
            birth_date: None,
            gender: None,
        };
        let id = env
            .gw
            .register_customer(&acc, &profile, None)
            .await
            .unwrap();
        env.gw.mark_canary(&id).await.unwrap();
        canaries.push(id);
    }
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let mut config = CanaryMailConfig::new("127.0.0.1:0".parse().unwrap(), DOMAIN);
    // No DNS here: the lookups would only measure their own timeout (`auth_timeout`, 3 s).
    config.auth_lookups = false;
    let handle = CanaryMail::new(config, env.gw.clone(), alerts)
        .start()
        .await
        .unwrap();
    let records = env.gw.records();

    let (r, mut w) = TcpStream::connect(handle.local_addr())
        .await
        .unwrap()
        .into_split();
    let mut r = BufReader::new(r);
    expect(&mut r, "220").await;
    w.write_all(b"EHLO mx.phish.example\r\n").await.unwrap();
    expect(&mut r, "250").await;
    let mut times = Vec::new();
    for (i, id) in canaries.iter().enumerate() {
        let head = format!(
            "MAIL FROM:<support@phish.example>\r\nRCPT TO:<canary{i}@{DOMAIN}>\r\nDATA\r\n"
        );
        w.write_all(head.as_bytes()).await.unwrap();
        expect(&mut r, "250").await;
        expect(&mut r, "250").await;
        expect(&mut r, "354").await;
        let body = format!(
            "From: Support <support@phish.example>\r\nTo: <canary{i}@{DOMAIN}>\r\n\
             Subject: Verify your account {i}\r\n\r\nhttps://login.phish.example/v?n={i}\r\n"
        );
        w.write_all(body.as_bytes()).await.unwrap();
        let subject = format!("customer:{id}");
        let start = Instant::now();
        w.write_all(b".\r\n").await.unwrap();
        while !alerted(&records, &subject).await {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(start.elapsed());
        expect(&mut r, "250").await;
    }
    println!(
        "{backend:?}: end of DATA → canary.mail alert stored: {}",
        summary(times)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(Backend::Sqlite));
    rt.block_on(run(Backend::Postgres));
}
