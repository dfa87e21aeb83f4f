//! Cost of the checks on the hot paths: verifying a webhook's signature
//! (every webhook) and parsing a typed card number (every form post).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_pay::card::CardNumber;
use mamori_pay::secrecy::SecretString;
use mamori_pay::webhook::signature_header;
use mamori_pay::{MemoryReplayGuard, WebhookVerifier};

fn webhook(c: &mut Criterion) {
    let v = WebhookVerifier::new(
        SecretString::from("whsec_bench_0123456789abcdef".to_owned()),
        Arc::new(MemoryReplayGuard::default()),
    );
    let body = vec![b'x'; 1024];
    let t = 1_775_000_000;
    let header = signature_header(&[b"whsec_bench_0123456789abcdef"], t, &body);
    let now = Utc.timestamp_opt(t, 0).unwrap();
    let mut g = c.benchmark_group("webhook");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_signature_1KiB", |b| {
        b.iter(|| {
            v.verify_signature(black_box(&header), black_box(&body), now)
                .unwrap()
        })
    });
    g.finish();
}

fn card(c: &mut Criterion) {
    let mut g = c.benchmark_group("card");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_ascii", |b| {
        b.iter(|| CardNumber::parse(black_box("4242 4242 4242 4242")).unwrap())
    });
    g.bench_function("parse_full_width", |b| {
        b.iter(|| CardNumber::parse(black_box("４２４２－４２４２－４２４２－４２４２")).unwrap())
    });
    g.finish();
}

criterion_group!(benches, webhook, card);
criterion_main!(benches);
