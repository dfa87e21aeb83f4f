//! Time from a change on disk to its alert, through the real path: a file is rewritten, inotify
//! reports it, the guard re-hashes and compares, stores the alert (and, for a payment file,
//! closes card payment first). Measured from the write until the alert row is readable, polled
//! every millisecond, 20 tries per kind, on SQLite and PostgreSQL.
//!
//! Not a criterion bench: criterion times a closure it can call in a loop, and this is the
//! latency of an asynchronous event, whose distribution (median, worst) is the figure.
//!
//! `cargo xtask bench -p mamori-guard --bench time_to_alert`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_guard::files::{
    Baseline, Check, FileGuard, FileRole, GuardKey, PaymentRule, WatchItem, WatchSpec, CARD_PAYMENT,
};
use mamori_guard::{AlertConfig, Alerts};
use mamori_store::{AlertFilter, Backend, Records};
use mamori_testkit::Env;

const TRIES: usize = 20;

async fn alerted(records: &Arc<dyn Records>, path: &Path) -> bool {
    let subject = format!("file:{}", path.display());
    records
        .alerts_page(&AlertFilter::default(), 0, 200)
        .await
        .unwrap()
        .items
        .iter()
        .any(|a| a.subject == subject && a.state != "closed")
}

async fn card_closed(records: &Arc<dyn Records>) -> bool {
    records
        .guard_switch(CARD_PAYMENT)
        .await
        .unwrap()
        .is_some_and(|s| s.state == "closed")
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms, worst {:.1} ms, best {:.1} ms ({} tries)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        ms(times[0]),
        times.len()
    )
}

async fn run(backend: Backend) {
    let env = Env::start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["assets", "checkout"] {
        std::fs::create_dir(root.join(sub)).unwrap();
        for i in 0..TRIES {
            std::fs::write(root.join(format!("{sub}/f{i}.js")), b"/* v1 */").unwrap();
        }
    }
    let spec = WatchSpec {
        items: vec![
            WatchItem {
                path: root.join("assets"),
                role: FileRole::Assets,
                check: Check::Tree,
                payment: PaymentRule::No,
            },
            WatchItem {
                path: root.join("checkout"),
                role: FileRole::Assets,
                check: Check::Tree,
                payment: PaymentRule::Any,
            },
        ],
    };
    let key = GuardKey::create(&root.join("guard.key")).unwrap();
    let baseline = root.join("guard-baseline.json");
    Baseline::observe(&spec)
        .write_signed(&key, &baseline)
        .unwrap();
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let records = env.gw.records();
    let guard = Arc::new(FileGuard::open(spec, baseline, key, alerts).unwrap());
    let _watch = guard.watch(Duration::from_secs(300)).unwrap();

    let mut asset = Vec::new();
    for i in 0..TRIES {
        let path = root.join(format!("assets/f{i}.js"));
        let start = Instant::now();
        std::fs::write(&path, b"/* v2 */").unwrap();
        while !alerted(&records, &path).await {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        asset.push(start.elapsed());
    }

    let mut closed = Vec::new();
    let mut payment = Vec::new();
    for i in 0..TRIES {
        let path = root.join(format!("checkout/f{i}.js"));
        let start = Instant::now();
        std::fs::write(&path, b"/* skimmer */").unwrap();
        let mut closed_at = None;
        loop {
            if closed_at.is_none() && card_closed(&records).await {
                closed_at = Some(start.elapsed());
            }
            if closed_at.is_some() && alerted(&records, &path).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        payment.push(start.elapsed());
        closed.extend(closed_at);
        // The owner approves; card payment reopens and the file alerts close.
        guard
            .approve("bench-owner", "ベンチマークの変更を承認", "bench")
            .await
            .unwrap();
    }
    println!(
        "{backend:?}: asset file changed → alert: {}",
        summary(asset)
    );
    println!(
        "{backend:?}: checkout file changed → card payment closed: {}",
        summary(closed)
    );
    println!(
        "{backend:?}: checkout file changed → alert: {}",
        summary(payment)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(Backend::Sqlite));
    rt.block_on(run(Backend::Postgres));
}
