//! Ledger figures for BENCHMARKS.md: sustained append rate with group commit (SQLite, PostgreSQL)
//! and verification of a 1,000,000-entry log.
//!
//! `cargo xtask bench -p mamori-store --bench ledger` (the xtask starts the throwaway PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_ledger::LedgerSigner;
use mamori_store::access::{AccessEvent, Action};
use mamori_store::store::CheckpointSigner;
use mamori_store::{open_store, Accessor, Ledger, LedgerConfig, PendingEvent, Store};

const EVENTS_PER_ITER: usize = 20_000;

fn event(i: usize) -> AccessEvent {
    let acc = Accessor::system("bench", "mypage.orders");
    AccessEvent::new(
        &acc,
        Action::Read,
        vec![format!("0190a7f3-0000-7000-8000-{i:012}")],
        &["customers.name", "customers.email", "customers.phone"],
    )
}

async fn setup(url: &str, dir: &std::path::Path) -> (Arc<dyn Store>, Ledger) {
    let store = open_store(url).await.unwrap();
    store.migrate().await.unwrap();
    let signer = LedgerSigner::generate("bench");
    let ledger = Ledger::start(
        store.clone(),
        signer,
        LedgerConfig::new(dir.join("witness.jsonl")),
    );
    (store, ledger)
}

async fn append_many(ledger: &Ledger, writers: usize, n: usize) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(writers) {
                ledger.record(&event(i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn appends(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![(
        "sqlite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
    )];
    if let Ok(admin) = mamori_testkit::pg_admin_url() {
        let _ = admin;
        backends.push((
            "postgres",
            rt.block_on(mamori_testkit::fresh_pg_database()).unwrap(),
        ));
    }
    let mut g = c.benchmark_group("ledger_append");
    g.sample_size(10)
        .throughput(Throughput::Elements(EVENTS_PER_ITER as u64));
    for (name, url) in backends {
        let (_store, ledger) = rt.block_on(setup(&url, dir.path()));
        // Each writer is one request waiting for its event: the batch can be no larger than the
        // number of requests in flight, so the rate is shown for a quiet and a busy shop.
        for writers in [64usize, 1024] {
            g.bench_function(format!("{name}_{writers}_writers"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += append_many(&ledger, writers, EVENTS_PER_ITER).await;
                        }
                        total
                    })
                })
            });
        }
    }
    g.finish();
}

const VERIFY_SIZE: usize = 1_000_000;

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("verify.db").display());
    let witness = dir.path().join("witness.jsonl");
    let signer = LedgerSigner::generate("bench");
    let verifier = signer.verifier();
    let cs = CheckpointSigner {
        origin: "mamori/access-ledger".into(),
        signer,
    };
    let store = rt.block_on(async {
        let store = open_store(&url).await.unwrap();
        store.migrate().await.unwrap();
        // Built directly through the store in large batches: this bench measures verification.
        for chunk in (0..VERIFY_SIZE).collect::<Vec<_>>().chunks(10_000) {
            let events: Vec<PendingEvent> = chunk
                .iter()
                .map(|&i| {
                    let ev = event(i);
                    let bytes = ev.to_bytes();
                    PendingEvent {
                        leaf_hash: mamori_ledger::leaf_hash(&bytes),
                        event: bytes,
                        subjects: ev.customers,
                        budget: None,
                    }
                })
                .collect();
            let sign = (chunk[0] + 10_000) % 100_000 == 0;
            let (_, note) = store
                .ledger_append(&events, sign.then_some(&cs))
                .await
                .unwrap();
            if let Some(n) = note {
                mamori_ledger::WitnessFile::open(&witness)
                    .append(&n)
                    .unwrap();
            }
        }
        store
    });
    let mut g = c.benchmark_group("ledger_verify");
    g.sample_size(10)
        .throughput(Throughput::Elements(VERIFY_SIZE as u64));
    g.bench_function("sqlite_1M_entries", |b| {
        b.iter(|| {
            let r = rt
                .block_on(mamori_store::ledger::verify(
                    store.as_ref(),
                    &verifier,
                    &witness,
                ))
                .unwrap()
                .unwrap();
            assert_eq!(r.size, VERIFY_SIZE as u64);
        })
    });
    g.finish();
}

criterion_group!(benches, appends, verify);
criterion_main!(benches);
