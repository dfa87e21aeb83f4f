//! Throughput of the input parsers on typical full-width form input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use mamori_domain::{
    invoice_totals, normalize_input, BirthDate, Email, InvoiceLine, PhoneNumber, PostalCode,
    Prefecture, TaxRate, Yen,
};

fn parsers(c: &mut Criterion) {
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    c.bench_function("normalize_input", |b| {
        b.iter(|| normalize_input(black_box("　東京都千代田区千代田１ー１　　コーポ１０１　")))
    });
    c.bench_function("PostalCode::parse", |b| {
        b.iter(|| PostalCode::parse(black_box("〒１００ー０００１")))
    });
    c.bench_function("PhoneNumber::parse", |b| {
        b.iter(|| PhoneNumber::parse(black_box("０９０ー１２３４ー５６７８")))
    });
    c.bench_function("Email::parse", |b| {
        b.iter(|| {
            Email::parse(black_box(
                "ｙａｍａｄａ．ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ",
            ))
        })
    });
    c.bench_function("BirthDate::parse wareki", |b| {
        b.iter(|| BirthDate::parse(black_box("平成２年１月２日"), today))
    });
    c.bench_function("Prefecture::parse romaji", |b| {
        b.iter(|| Prefecture::parse(black_box("Kagoshima")))
    });
    let lines: Vec<InvoiceLine> = (0..100)
        .map(|i| InvoiceLine {
            rate: if i % 3 == 0 {
                TaxRate::Standard
            } else {
                TaxRate::Reduced
            },
            amount_incl: Yen(1_000 + i),
        })
        .collect();
    c.bench_function("invoice_totals 100 lines", |b| {
        b.iter(|| invoice_totals(black_box(&lines)))
    });
}

criterion_group!(benches, parsers);
criterion_main!(benches);
