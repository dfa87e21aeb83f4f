//! Time from a switch set through one process to its effect on another: two gateways over one
//! database (own pools, own ledger writers), each with its own switchboard; the second refreshes
//! every 500 ms as `mamori serve` does. Prints the median and the worst of 20 runs (on then off,
//! each timed from the call that sets it to the moment the other board shows it).
//!
//! `cargo run -p mamori-respond --example switch_latency` (SQLite), add `-- postgres`
//! for PostgreSQL (the test cluster of `mamori-testkit`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use chrono::Utc;
use mamori_respond::switches::REFRESH;
use mamori_respond::{Desk, IncidentKind, NewIncident, Switch, SwitchChange, Switchboard};
use mamori_store::{Backend, Principal};
use mamori_testkit::Env;

const RUNS: usize = 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = if std::env::args().any(|a| a == "postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let env = Env::start(backend).await;
    let other = env.another_process().await;
    let desk = Desk::new(env.gw.clone());
    let by = Principal::System("bench".into());
    let id = desk
        .open(
            &by,
            &NewIncident {
                kind: IncidentKind::Other,
                title: "bench".into(),
                known_at: Utc::now(),
                window_from: None,
                window_to: None,
                principal: None,
                malicious: false,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    let here = Switchboard::default();
    let there = Switchboard::default();
    let _refresh = there.spawn_refresh(other, REFRESH);
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let on = i % 2 == 0;
        let start = Instant::now();
        here.set(
            &desk,
            id,
            &by,
            &SwitchChange {
                switch: Switch::Shop,
                on,
                reason: "bench".into(),
                notice_url: None,
            },
        )
        .await
        .unwrap();
        while there.shop_closed() != on {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(start.elapsed());
        // Start the next run at a different point of the other's refresh cycle (a fixed pause
        // would lock onto its phase and measure one point of it).
        let pause = 20 + (i as u64 * 137) % 480;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{backend:?}: switch set -> effect on the other process, {RUNS} runs: median {:.0} ms, best {:.0} ms, worst {:.0} ms",
        ms(times[RUNS / 2]),
        ms(times[0]),
        ms(times[RUNS - 1])
    );
}
