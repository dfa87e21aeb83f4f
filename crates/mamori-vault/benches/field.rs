//! Per-operation cost of the vault's hot paths: sealing and opening one 64-byte field, and
//! unwrapping a customer's data key; for scale, one blind index and one Argon2id verification
//! with the default (OWASP minimum) parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use mamori_vault::{FieldPlace, KeyRing, SecretString};

fn field(c: &mut Criterion) {
    let ring = KeyRing::generate().unwrap();
    let (key, wrapped) = ring.new_data_key("customer:42").unwrap();
    let place = FieldPlace::new("customers", "address", "42");
    let value = [0x5au8; 64];
    let sealed = key.seal(&place, &value).unwrap();

    c.bench_function("seal 64-byte field", |b| {
        b.iter(|| key.seal(black_box(&place), black_box(&value)).unwrap())
    });
    c.bench_function("open 64-byte field", |b| {
        b.iter(|| key.open(black_box(&place), black_box(&sealed)).unwrap())
    });
    c.bench_function("seal+open 64-byte field", |b| {
        b.iter(|| {
            let s = key.seal(black_box(&place), black_box(&value)).unwrap();
            key.open(&place, &s).unwrap()
        })
    });
    c.bench_function("unwrap data key", |b| {
        b.iter(|| {
            ring.unwrap_data_key(black_box("customer:42"), black_box(&wrapped))
                .unwrap()
        })
    });
    c.bench_function("blind index", |b| {
        b.iter(|| ring.blind_index(black_box("customer.email"), black_box("hanako@example.jp")))
    });
}

fn password(c: &mut Criterion) {
    let ring = KeyRing::generate().unwrap();
    let pw = SecretString::from("correct horse battery staple");
    let phc = ring.hash_password(&pw).unwrap();
    let mut group = c.benchmark_group("argon2id default params");
    group.sample_size(10);
    group.bench_function("verify password", |b| {
        b.iter(|| {
            ring.verify_password(black_box(&pw), black_box(&phc))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, field, password);
criterion_main!(benches);
