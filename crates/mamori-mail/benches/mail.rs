//! Composition, DKIM signing and SMTP delivery to the loopback catcher.
//!
//! `cargo bench -p mamori-mail --bench mail`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mamori_mail::catcher::MailCatcher;
use mamori_mail::{
    Composer, DkimSigner, MailTransport, OutgoingMail, Recipient, SmtpSettings, SmtpTransport,
};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn mail() -> OutgoingMail {
    OutgoingMail::new(
        Recipient::new("taro@example.jp").unwrap(),
        "【守り商店】ご注文ありがとうございます（注文番号 MA-2025-000123）/ Order confirmation",
        "山田 太郎 様\n\nこのたびはご注文いただき、誠にありがとうございます。\n".repeat(40),
    )
}

fn compose(c: &mut Criterion) {
    let m = mail();
    let plain = Composer::new("守り商店 <shop@mamori.example>", "mamori.example").unwrap();
    let ed = Composer::new("shop@mamori.example", "mamori.example")
        .unwrap()
        .with_dkim(
            DkimSigner::from_key_file("ed", "mamori.example", fixture("dkim-test-ed25519.pem"))
                .unwrap(),
        );
    let rsa = Composer::new("shop@mamori.example", "mamori.example")
        .unwrap()
        .with_dkim(
            DkimSigner::from_key_file("rsa", "mamori.example", fixture("dkim-test-rsa.pem"))
                .unwrap(),
        );
    let mut g = c.benchmark_group("compose");
    g.throughput(Throughput::Elements(1));
    g.bench_function("unsigned", |b| b.iter(|| plain.compose(&m).unwrap()));
    g.bench_function("dkim_ed25519", |b| b.iter(|| ed.compose(&m).unwrap()));
    g.bench_function("dkim_rsa2048", |b| b.iter(|| rsa.compose(&m).unwrap()));
    g.finish();
}

fn smtp(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // lettre's pool spawns tasks when the transport is built and dropped: keep both inside
    // the runtime.
    let _guard = rt.enter();
    let catcher = rt.block_on(MailCatcher::start()).unwrap();
    let transport = Arc::new(
        SmtpTransport::new(&SmtpSettings::plaintext("127.0.0.1", catcher.port())).unwrap(),
    );
    let prepared = Composer::new("shop@mamori.example", "mamori.example")
        .unwrap()
        .compose(&mail())
        .unwrap();
    let mut g = c.benchmark_group("smtp_loopback");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("send_pooled", |b| {
        b.to_async(&rt)
            .iter(|| async { transport.send(&prepared).await.unwrap() })
    });
    g.finish();
    drop(transport);
    drop(catcher);
}

criterion_group!(benches, compose, smtp);
criterion_main!(benches);
