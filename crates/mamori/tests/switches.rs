//! The incident desk's switches across processes: two real `mamori serve` processes on one
//! database, a switch turned by a third (`mamori incident switch`), seen by both within a second
//! (polled, with a generous bound; the time itself is a figure for BENCHMARKS.md, not asserted).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{mamori, run, serve};

/// How long a switch may take before the test fails (never a measurement).
const BOUND: Duration = Duration::from_secs(20);

/// Polls `url` until its status is `want`; panics past [`BOUND`]. Returns the last body.
async fn until_status(client: &reqwest::Client, url: &str, want: u16) -> (Duration, String) {
    let start = Instant::now();
    loop {
        if let Ok(res) = client.get(url).send().await {
            if res.status().as_u16() == want {
                let retry = res.headers().get("retry-after").is_some();
                let body = res.text().await.unwrap_or_default();
                if want == 503 {
                    assert!(retry, "a 503 carries Retry-After");
                }
                return (start.elapsed(), body);
            }
        }
        assert!(start.elapsed() < BOUND, "{url} never answered {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn two_processes(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("mamori.toml"),
        "data_dir = \"data\"\n[backoffice]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    std::fs::create_dir(p.join("data")).unwrap();
    run(p, db, &["keys", "init"]);
    run(p, db, &["db", "migrate"]);
    let a = serve(p, db);
    let b = serve(p, db);
    run(
        p,
        db,
        &[
            "incident",
            "open",
            "--kind",
            "other",
            "--known-at",
            "2027-01-08 09:30",
        ],
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    rt.block_on(async {
        until_status(&client, &a.shop, 200).await;
        until_status(&client, &b.shop, 200).await;
    });

    // Closed by a third process: both shops answer the maintenance page.
    run(
        p,
        db,
        &[
            "incident",
            "switch",
            "1",
            "shop",
            "on",
            "--reason",
            "決済画面の改ざん調査のため",
            "--notice-url",
            "https://shop.example.jp/news/2027-01-08",
        ],
    );
    rt.block_on(async {
        for s in [&a, &b] {
            let (_, body) = until_status(&client, &s.shop, 503).await;
            assert!(body.contains("ただいまメンテナンス中です"), "{body}");
            assert!(
                body.contains("href=\"https://shop.example.jp/news/2027-01-08\""),
                "{body}"
            );
        }
        // The provider's webhook still reaches its handler (an unsigned one is refused there,
        // not by the maintenance page).
        let hook = format!("{}payments/webhook", b.shop);
        let res = client.post(&hook).body("{}").send().await.unwrap();
        assert_ne!(res.status().as_u16(), 503);
    });

    // Lifted: both serve again.
    run(
        p,
        db,
        &[
            "incident",
            "switch",
            "1",
            "shop",
            "off",
            "--reason",
            "調査完了",
        ],
    );
    rt.block_on(async {
        until_status(&client, &a.shop, 200).await;
        until_status(&client, &b.shop, 200).await;
    });

    // No reason: refused, and nothing changes.
    let out = mamori(p, db)
        .args(["incident", "switch", "1", "shop", "on", "--reason", " "])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = run(p, db, &["incident", "show", "1"]);
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(shown.contains("ショップを閉鎖"), "{shown}");
    assert!(shown.contains("ショップを再開"), "{shown}");
    assert!(shown.contains("switch:shop:on"), "{shown}");
}

#[test]
fn two_serve_processes_apply_a_switch_within_a_second_sqlite() {
    two_processes(None);
}

#[test]
fn two_serve_processes_apply_a_switch_within_a_second_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(mamori_testkit::fresh_pg_database()).unwrap();
    drop(rt);
    two_processes(Some(&url));
}
