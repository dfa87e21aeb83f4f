//! Plain-text throughput over in-memory 64 MiB slices of the generated logs, so the figure can be
//! reproduced without a 1 GB file on disk.
//!
//! `cargo bench -p mamori-scan --bench throughput`. Groups:
//! * `finder`: the ASCII and full-width passes alone (candidates after Luhn and issuer checks);
//! * `scan`: the whole library path of `mamori scan` on one thread (`Scanner::scan_bytes`:
//!   streaming, scoring, line numbers, the report), which is what the CLI does per file.
//!
//! Each on two corpora: `orders` is the digit-dense order log of `gen_corpus log` (several
//! look-alike numbers on every line), `access` the access and application logs of
//! `gen_corpus access`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mamori_scan::corpus::ShopData;
use mamori_scan::finder::{ascii_pass, fullwidth_pass, RunBuilder};
use mamori_scan::{ScanOptions, Scanner};

const SIZE: usize = 64 << 20;

fn corpora() -> Vec<(&'static str, Vec<u8>)> {
    let (orders, _) = ShopData::new(1).log_block(SIZE, 5000);
    let (access, _) = ShopData::new(1).access_block(SIZE, 5000);
    vec![("orders", orders), ("access", access)]
}

fn bench(c: &mut Criterion) {
    let scanner = Scanner::new(ScanOptions {
        threads: 1,
        ..ScanOptions::default()
    });
    for (name, data) in corpora() {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("finder", |b| {
            let mut rb = RunBuilder::default();
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                ascii_pass(&data, 0, true, &mut rb, &mut out);
                fullwidth_pass(&data, 0, true, &mut rb, &mut out);
                black_box(out.len())
            })
        });
        g.bench_function("scan", |b| {
            b.iter(|| black_box(scanner.scan_bytes("bench.log", &data).summary.findings))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
