//! What the card-testing check adds to starting a card payment: the checkout's
//! `FraudWatch::card_check` (one statement, four indexed counts over `card_attempts`) against
//! the rest of the start, creating the payment at the provider (`POST /v1/payments` to the
//! sandbox over loopback HTTP, as the checkout does) and recording the attempt. The table holds
//! 100,000 attempts (one in five declined, spread over a day, 5,000 addresses, 20,000 sessions,
//! 30,000 cards) before timing; 2,000 starts are timed each way, on SQLite and PostgreSQL.
//!
//! Not a criterion bench: the figures are a median and a 99th percentile of single calls, with
//! and without the check, printed as a ratio.
//!
//! `cargo bench --profile dev -p mamori-shop --bench card_check`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use mamori_pay::{CreatePayment, PaymentConnector, SandboxConfig};
use mamori_store::fraud::{CardClient, FraudConfig, FraudWatch};
use mamori_store::Backend;
use mamori_testkit::{Bind, Env};
use secrecy::SecretString;

const ROWS: i64 = 100_000;
const STARTS: usize = 2_000;

fn stats(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (
        us(times[times.len() / 2]),
        us(times[times.len() * 99 / 100]),
    )
}

async fn run(backend: Backend) {
    let env = Env::start(backend).await;
    let now = chrono::Utc::now().timestamp();
    env.sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         INSERT INTO card_attempts (payment_id, ip_key, session_key, fingerprint, created_at, \
         declined_at) \
         SELECT 'pay_' || i, 'ip' || (i % 5000), 'ss' || (i % 20000), 'fp_' || (i % 30000), \
         $1 - (i % 86400), CASE WHEN i % 5 = 0 THEN $1 - (i % 86400) ELSE NULL END FROM n",
        vec![Bind::Int(now), Bind::Int(ROWS)],
    )
    .await;
    // As autovacuum (PostgreSQL) would after such an insert; SQLite takes the same statement.
    env.sql("ANALYZE card_attempts", vec![]).await;
    let watch = FraudWatch::new(env.gw.records(), FraudConfig::default());

    let api_key = SecretString::from("sk_bench_card_check_0123".to_owned());
    let (_sandbox, psp) =
        mamori_testkit::pay::start_sandbox(SandboxConfig::new(api_key.clone()), api_key).await;
    let create = |i: usize, tag: &str| CreatePayment {
        order_ref: format!("ORD-{tag}-{i}"),
        amount_jpy: 3300,
        description: "bench".into(),
        return_url: "http://127.0.0.1:9/checkout/return".parse().unwrap(),
        cancel_url: "http://127.0.0.1:9/checkout/cancel".parse().unwrap(),
        idempotency_key: format!("{tag}-{i}"),
    };
    let client = |i: usize| CardClient {
        ip_key: format!("ip{}", i % 5000),
        session_key: format!("ss-new-{i}"),
    };

    let mut without = Vec::with_capacity(STARTS);
    let mut with = Vec::with_capacity(STARTS);
    let mut check = Vec::with_capacity(STARTS);
    for i in 0..STARTS {
        // Without: create at the provider, record the attempt.
        let t = Instant::now();
        let p = psp.create_payment(&create(i, "off")).await.unwrap();
        watch.card_started(&p.payment_id, &client(i)).await.unwrap();
        without.push(t.elapsed());
        // With: the check first.
        let t = Instant::now();
        let c = Instant::now();
        let verdict = watch.card_check(&client(i)).await.unwrap();
        check.push(c.elapsed());
        std::hint::black_box(verdict);
        let p = psp.create_payment(&create(i, "on")).await.unwrap();
        watch.card_started(&p.payment_id, &client(i)).await.unwrap();
        with.push(t.elapsed());
    }
    let (off_med, off_p99) = stats(without);
    let (on_med, on_p99) = stats(with);
    let (chk_med, chk_p99) = stats(check);
    println!(
        "{backend:?}: start without check median {off_med:.0} µs (p99 {off_p99:.0}), \
         with check median {on_med:.0} µs (p99 {on_p99:.0}), ratio {:.2}; \
         the check alone median {chk_med:.0} µs (p99 {chk_p99:.0}); {ROWS} attempts in the table",
        on_med / off_med
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(Backend::Sqlite));
    rt.block_on(run(Backend::Postgres));
}
