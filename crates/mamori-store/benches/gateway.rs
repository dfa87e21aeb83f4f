//! The cost of the invariant: a profile read through the gateway (ledger event durable before
//! decryption, group-committed) against the same read and decryption with no ledger; and the
//! cost of the mass-read limits: the same gateway read with its principal's distinct-customer
//! counts checked and written in the append transaction (`gateway_counters_on`) and without
//! (`gateway_counters_off`). Each of the 64 readers is its own principal (a system job with a
//! budget it never reaches), so every read runs the whole check: the principal's stop, the
//! customer's last open, the counts of the three windows, the upsert.
//!
//! `cargo bench -p mamori-store --bench gateway`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_domain::*;
use mamori_ledger::LedgerSigner;
use mamori_store::{
    open_store, Accessor, Gateway, Ledger, LedgerConfig, ReadBudgets, RoleBudget, Store,
};
use mamori_vault::{FieldPlace, KeyRing, WrappedKey};

const CUSTOMERS: usize = 500;
const READERS: usize = 64;
const READS_PER_ITER: usize = 5_000;

fn profile(i: usize) -> CustomerProfile {
    CustomerProfile {
        kind: CustomerKind::Guest,
        name: Personal::new(PersonName::parse("山田", "太郎").unwrap()),
        email: Personal::new(Email::parse(&format!("user{i}@example.jp")).unwrap()),
        phone: Some(Personal::new(PhoneNumber::parse("090-1234-5678").unwrap())),
        birth_date: None,
        gender: Some(Gender::Male),
    }
}

/// The same work as `Gateway::customer_profile` minus the ledger: fetch, unwrap, open the fields.
async fn plain_read(store: &dyn Store, keys: &KeyRing, id: &str) -> usize {
    let row = store.customer(id).await.unwrap().unwrap();
    let key_row = store.customer_key(id).await.unwrap().unwrap();
    let key = keys
        .unwrap_data_key(
            &format!("customer:{id}"),
            &WrappedKey::from_bytes(&key_row.wrapped).unwrap(),
        )
        .unwrap();
    let mut n = 0;
    for (col, ct) in [
        ("name", &row.name_ct),
        ("email", &row.email_ct),
        ("phone", &row.phone_ct),
        ("gender", &row.gender_ct),
    ] {
        if let Some(ct) = ct {
            n += key
                .open(
                    &FieldPlace {
                        table: "customers",
                        column: col,
                        row_id: id,
                    },
                    ct,
                )
                .unwrap()
                .len();
        }
    }
    n
}

/// Budgets the benchmark's readers never reach (the check and the counting still run).
fn never_reached() -> ReadBudgets {
    let mut b = ReadBudgets::default();
    b.roles.insert(
        "system".into(),
        RoleBudget::new(i64::MAX / 4, i64::MAX / 4, i64::MAX / 4),
    );
    b.approved_jobs = (0..READERS).map(|r| format!("bench-{r}")).collect();
    b
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    CountersOn,
    CountersOff,
    Plain,
}

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let keys = Arc::new(KeyRing::generate().unwrap());
    let (store, gw, gw_off, ids) = rt.block_on(async {
        let store = open_store(&url).await.unwrap();
        store.migrate().await.unwrap();
        let ledger = Ledger::start(
            store.clone(),
            LedgerSigner::generate("bench"),
            LedgerConfig::new(dir.path().join("w.jsonl")),
        );
        let gw = Gateway::new(store.clone(), keys.clone(), ledger.clone())
            .with_read_budgets(never_reached());
        let gw_off =
            Gateway::new(store.clone(), keys.clone(), ledger).with_read_budgets(ReadBudgets::off());
        let acc = Accessor::system("bench", "populate");
        let mut ids = Vec::new();
        for i in 0..CUSTOMERS {
            ids.push(gw.register_customer(&acc, &profile(i), None).await.unwrap());
        }
        (store, gw, gw_off, Arc::new(ids))
    });
    let mut g = c.benchmark_group("profile_read");
    g.sample_size(10)
        .throughput(Throughput::Elements(READS_PER_ITER as u64));
    for variant in [Variant::CountersOn, Variant::CountersOff, Variant::Plain] {
        let name = match variant {
            Variant::CountersOn => "gateway_counters_on",
            Variant::CountersOff => "gateway_counters_off",
            Variant::Plain => "plain_no_ledger",
        };
        g.bench_function(format!("{name}_{READERS}_readers"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let mut tasks = Vec::new();
                        for r in 0..READERS {
                            let gw = if variant == Variant::CountersOn {
                                gw.clone()
                            } else {
                                gw_off.clone()
                            };
                            let (store, keys, ids) = (store.clone(), keys.clone(), ids.clone());
                            tasks.push(tokio::spawn(async move {
                                let acc = Accessor::system(&format!("bench-{r}"), "mypage.profile");
                                for i in (r..READS_PER_ITER).step_by(READERS) {
                                    let id = &ids[i % ids.len()];
                                    if variant != Variant::Plain {
                                        gw.customer_profile(&acc, id).await.unwrap();
                                    } else {
                                        plain_read(store.as_ref(), &keys, id).await;
                                    }
                                }
                            }));
                        }
                        for t in tasks {
                            t.await.unwrap();
                        }
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
