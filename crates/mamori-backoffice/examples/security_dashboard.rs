//! Times the security dashboard and the self-check on a populated shop (BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p mamori-backoffice --example security_dashboard -- [customers] [reads]
//! ```
//!
//! On a fresh SQLite database (the test kit's, with the demo catalogue): `customers` members
//! (default 2,000) written through the gateway, one order each, `reads` access events
//! (default 200,000) of 40 members of staff and 4 jobs reading those customers, appended through
//! the ledger writer, 200 alerts, failed payments and staff sign-ins. Then each page's figures
//! are computed (everything but the HTML) 21 times: the median and the extremes are printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{sync::Arc, time::Instant};

use mamori_backoffice::{
    security::{dashboard, selfcheck, Window, Words},
    BackofficeConfig, Parts,
};
use mamori_domain::{CustomerKind, CustomerProfile, Email, Personal, PhoneNumber};
use mamori_guard::{kinds, Alert, AlertConfig, Alerts, Severity, Subject};
use mamori_pay::SandboxConfig;
use mamori_store::{
    access::{AccessEvent, Action},
    model::StaffLogRow,
    Accessor, Backend,
};
use secrecy::SecretString;

const RUNS: usize = 21;

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let customers = args.first().copied().unwrap_or(2_000);
    let reads = args.get(1).copied().unwrap_or(200_000);
    let env = mamori_testkit::Env::with_demo_catalogue(Backend::Sqlite).await;
    let gw = env.gw.clone();

    let started = Instant::now();
    let acc = Accessor::system("bench", "bench.populate");
    let mut ids = Vec::new();
    for i in 0..customers {
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(mamori_domain::PersonName::parse("山田", "花子").unwrap()),
            email: Personal::new(Email::parse(&format!("member{i}@example.jp")).unwrap()),
            phone: Some(Personal::new(PhoneNumber::parse("09012345678").unwrap())),
            birth_date: None,
            gender: None,
        };
        ids.push(gw.register_customer(&acc, &profile, None).await.unwrap());
    }
    // Staff and jobs reading customers, appended concurrently (group commit).
    let principals: Vec<mamori_store::Principal> = (0..40)
        .map(|i| mamori_store::Principal::Staff(format!("staff-{i}")))
        .chain((0..4).map(|i| mamori_store::Principal::System(format!("job-{i}"))))
        .collect();
    let ids = Arc::new(ids);
    let mut tasks = tokio::task::JoinSet::new();
    let per = reads / 256;
    for t in 0..256u64 {
        let ledger = gw.ledger().clone();
        let ids = ids.clone();
        let principals = principals.clone();
        tasks.spawn(async move {
            for k in 0..per {
                let n = (t * per + k) as usize;
                let acc = Accessor {
                    principal: principals[n % principals.len()].clone(),
                    purpose: "bench.read".into(),
                    request_id: format!("r{n}"),
                    channel: None,
                    reason: None,
                };
                let action = if n.is_multiple_of(3) {
                    Action::Read
                } else {
                    Action::ReadMasked
                };
                let ev = AccessEvent::new(
                    &acc,
                    action,
                    vec![ids[n % ids.len()].clone()],
                    &["customers.name"],
                );
                ledger.record(&ev).await.unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    gw.ledger().checkpoint().await.unwrap();
    let alerts = Alerts::new(
        gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    for i in 0..200u32 {
        alerts
            .raise(&Alert::new(
                kinds::FILE_CHANGED,
                if i.is_multiple_of(4) {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                Subject::File(format!("/srv/mamori/file-{i}")),
                serde_json::json!({}),
            ))
            .await
            .unwrap();
    }
    let records = gw.records();
    let now = chrono::Utc::now().timestamp();
    for i in 0..2_000u32 {
        records
            .staff_log_append(&StaffLogRow {
                seq: 0,
                at: now - i64::from(i * 37 % 86_400),
                staff_id: Some(format!("staff-{}", i % 40)),
                action: if i.is_multiple_of(5) {
                    "auth.login_failed"
                } else {
                    "auth.login"
                }
                .into(),
                target: "-".into(),
                detail: "{}".into(),
                request_id: format!("s{i}"),
                ip: None,
            })
            .await
            .unwrap();
    }
    println!(
        "populated: {customers} customers, {} ledger events, 200 alerts, 2000 sign-ins in {:.1} s",
        records.ledger_size().await.unwrap(),
        started.elapsed().as_secs_f64()
    );

    let api_key = SecretString::from("sk_test_security_dashboard_bench".to_owned());
    let (_sandbox, psp) =
        mamori_testkit::pay::start_sandbox(SandboxConfig::new(api_key.clone()), api_key).await;
    let assembly = mamori_backoffice::assemble(Parts {
        gateway: gw.clone(),
        psp: Arc::new(psp),
        config: BackofficeConfig::default(),
        clock: Arc::new(mamori_web::clock::SystemClock),
    })
    .unwrap();
    let state = assembly.state.clone();
    let words = Words { en: false };
    for window in [Window::Day, Window::Week] {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let (plots, _) = dashboard::build(&state, words, window, dashboard::now(&state))
                .await
                .unwrap();
            assert_eq!(plots.len(), 6);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (m, lo, hi) = median(times);
        println!(
            "dashboard {}: median {m:.1} ms (min {lo:.1}, max {hi:.1}) over {RUNS} runs",
            window.as_str()
        );
    }
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        selfcheck::build(&state, words).await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (m, lo, hi) = median(times);
    println!("self-check: median {m:.1} ms (min {lo:.1}, max {hi:.1}) over {RUNS} runs");
}
