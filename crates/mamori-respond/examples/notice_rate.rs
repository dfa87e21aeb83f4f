//! Notices per second: a copied-database incident over `N` customers (default 20,000) on SQLite,
//! its scope computed, then the notice run timed (render, the address read on the ledger per
//! batch, seal, queue with the idempotency row), and the mail worker's part (compose and DKIM
//! sign with Ed25519) timed over the same number of notices.
//!
//! `cargo run -p mamori-respond --example notice_rate -- 20000`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::Utc;
use mamori_domain::{CustomerKind, CustomerProfile, Email, PersonName, Personal};
use mamori_mail::{Composer, DkimSigner, OutgoingMail, Recipient};
use mamori_respond::notices::{body, items_ja, subject, NoticeDraft, NoticeOptions};
use mamori_respond::{Desk, IncidentKind, NewIncident};
use mamori_store::{Accessor, Backend, Principal};
use mamori_testkit::env::Env;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let env = Env::start(Backend::Sqlite).await;
    let gw = env.gw.clone();

    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 32;
    for w in 0..workers {
        let gw = gw.clone();
        tasks.spawn(async move {
            let acc = Accessor::system("bench", "bench.populate");
            for i in (w..n).step_by(workers) {
                let profile = CustomerProfile {
                    kind: CustomerKind::Member,
                    name: Personal::new(PersonName::parse("山田", "太郎").unwrap()),
                    email: Personal::new(Email::parse(&format!("c{i}@example.jp")).unwrap()),
                    phone: None,
                    birth_date: None,
                    gender: None,
                };
                gw.register_customer(&acc, &profile, None).await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    println!(
        "{n} customers created in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let desk = Desk::new(gw.clone());
    let by = Principal::System("bench".into());
    let id = desk
        .open(
            &by,
            &NewIncident {
                kind: IncidentKind::DatabaseCopied,
                title: "bench".into(),
                known_at: Utc::now(),
                window_from: None,
                window_to: None,
                principal: None,
                malicious: true,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    let t = Instant::now();
    desk.compute_scope(id, &by).await.unwrap();
    println!("scope in {:.1} s", t.elapsed().as_secs_f64());

    let draft = NoticeDraft {
        overview: "当店のサーバーに不正アクセスがあり、データベースの複製が持ち出されました。"
            .into(),
        cause: "管理者アカウントの認証情報の窃取".into(),
        secondary_harm: "現時点で確認されていません。".into(),
        what_to_do: "不審な連絡にご注意ください。".into(),
        desk: "お客様相談窓口 0120-000-000".into(),
    };
    let opts = NoticeOptions {
        bounce_domain: Some("bounce.shop.example".into()),
        ..NoticeOptions::default()
    };
    let t = Instant::now();
    let r = desk
        .start_notices(id, &by, &draft, 1_000_000, &opts)
        .await
        .unwrap();
    let queue_secs = t.elapsed().as_secs_f64();
    assert_eq!(r.queued as usize, n);
    println!(
        "queued {} notices in {queue_secs:.2} s: {:.0} notices/s (render + ledger read per batch + seal + queue)",
        r.queued,
        r.queued as f64 / queue_secs
    );

    // The worker's share: compose and DKIM-sign each notice (Ed25519).
    let key = env.dir.path().join("dkim.key");
    DkimSigner::create_ed25519_key_file(&key).unwrap();
    let composer = Composer::new("守り商店 <shop@shop.example.jp>", "shop.example.jp")
        .unwrap()
        .with_dkim(DkimSigner::from_key_file("mamori", "shop.example.jp", &key).unwrap());
    let items = items_ja(&["customers.email".to_owned(), "customers.name".to_owned()]);
    let t = Instant::now();
    for i in 0..n {
        let mail = OutgoingMail::new(
            Recipient::new(format!("c{i}@example.jp"))
                .unwrap()
                .with_name("山田 太郎"),
            subject("守り商店"),
            body("守り商店", Some("山田 太郎"), &items, &draft),
        )
        .with_return_path(format!("n{i}@bounce.shop.example"));
        let prepared = composer.compose(&mail).unwrap();
        assert!(!prepared.bytes.is_empty());
    }
    let sign_secs = t.elapsed().as_secs_f64();
    println!(
        "composed and signed {n} in {sign_secs:.2} s: {:.0} notices/s",
        n as f64 / sign_secs
    );
    let total = queue_secs + sign_secs;
    println!(
        "together: {:.0} notices/s; 280,052 would take {:.0} s",
        n as f64 / total,
        280_052.0 * total / n as f64
    );
}
