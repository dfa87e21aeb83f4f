//! Verifies a log of 1,000,000 entries of about 200 bytes through `LogVerifier`, with a signed
//! checkpoint every 10,000 entries in both the database and the witness list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mamori_ledger::{leaf_hash, Checkpoint, Frontier, Hash, LedgerSigner, LogVerifier};

const ENTRIES: usize = 1_000_000;
const ENTRY_LEN: usize = 200;
const CHECKPOINT_EVERY: usize = 10_000;

fn entry(buf: &mut [u8], i: usize) {
    let head = format!("{{\"seq\":{i},\"actor\":\"staff-7\",\"read\":\"customer\",\"pad\":\"");
    buf.fill(b'x');
    buf[..head.len()].copy_from_slice(head.as_bytes());
    buf[ENTRY_LEN - 2..].copy_from_slice(b"\"}");
}

fn bench_verify(c: &mut Criterion) {
    // All entries in one buffer, so the measurement is hashing, not allocation.
    let mut data = vec![0u8; ENTRIES * ENTRY_LEN];
    let mut leaves: Vec<Hash> = Vec::with_capacity(ENTRIES);
    let signer = LedgerSigner::generate("mamori-ledger");
    let mut frontier = Frontier::new();
    let mut notes = Vec::new();
    for (i, chunk) in data.chunks_exact_mut(ENTRY_LEN).enumerate() {
        entry(chunk, i);
        let leaf = leaf_hash(chunk);
        leaves.push(leaf);
        frontier.push(leaf);
        if (i + 1) % CHECKPOINT_EVERY == 0 {
            notes.push(
                Checkpoint {
                    origin: "mamori.example/ledger".to_owned(),
                    size: frontier.size(),
                    root: frontier.root(),
                }
                .sign(&signer),
            );
        }
    }
    let verifier = signer.verifier();

    let mut group = c.benchmark_group("log_verifier");
    // Each iteration takes a noticeable fraction of a second: flat sampling with the minimum
    // sample count keeps the whole run well under a minute.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("verify_1m_entries_200b_with_stored_leaves", |b| {
        b.iter(|| {
            let mut v = LogVerifier::new(verifier.clone(), &notes, &notes).unwrap();
            for (i, chunk) in data.chunks_exact(ENTRY_LEN).enumerate() {
                v.push(i as u64, chunk, Some(&leaves[i])).unwrap();
            }
            let report = v.finish().unwrap();
            assert_eq!(report.size, ENTRIES as u64);
            report
        })
    });
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
