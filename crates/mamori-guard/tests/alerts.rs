//! The alert model on both databases: de-duplication, mail to owners and managers through the
//! real outbox worker to an SMTP catcher (DKIM-signed), the ledger entry, signed webhooks to a
//! real HTTP server on loopback (with a retry after a failure), and acknowledgement with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use mamori_guard::{
    kinds, webhook, Alert, AlertConfig, Alerts, GuardError, Severity, Subject, WebhookConfig,
    WebhookTarget, WebhookWorker,
};
use mamori_mail::catcher::MailCatcher;
use mamori_mail::{Composer, DkimSigner, SmtpSettings, SmtpTransport};
use mamori_store::{AlertFilter, Backend, SqlOutbox, StaffRow};
use mamori_testkit::{both_backends, Env};
use serde_json::json;

const SECRET: &str = "webhook-secret-for-tests";

fn staff(id: &str, role: &str, state: &str) -> StaffRow {
    StaffRow {
        id: id.into(),
        email: format!("{id}@shop.mamori.example"),
        display_name: format!("担当 {id}"),
        role: role.into(),
        state: state.into(),
        password_hash: None,
        failed_logins: 0,
        locked_until: None,
        created_at: 1_000,
        updated_at: 1_000,
        last_login_at: None,
    }
}

async fn with_staff(env: &Env) {
    for row in [
        staff("owner1", "owner", "active"),
        staff("manager1", "manager", "active"),
        staff("operator1", "operator", "active"),
        staff("auditor1", "auditor", "active"),
        staff("owner2", "owner", "disabled"),
    ] {
        env.store.staff_insert(&row).await.unwrap();
    }
}

/// The mail worker as `mamori serve` runs it, with a DKIM key, delivering to a catcher.
async fn mail_worker(env: &Env) -> (MailCatcher, tokio::task::JoinHandle<()>) {
    let catcher = MailCatcher::start().await.unwrap();
    let mut smtp = SmtpSettings::plaintext("127.0.0.1", catcher.port());
    smtp.hello_name = Some("shop.mamori.example".into());
    let transport = SmtpTransport::new(&smtp).unwrap();
    let dkim = DkimSigner::from_key_text(
        "sel",
        "shop.mamori.example",
        "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
    )
    .unwrap();
    let composer = Composer::new("守り商店 <shop@shop.mamori.example>", "shop.mamori.example")
        .unwrap()
        .with_dkim(dkim);
    let outbox = Arc::new(SqlOutbox::new(env.gw.clone()));
    let task = tokio::spawn(mamori_mail::run_worker(
        outbox,
        Arc::new(transport),
        Arc::new(composer),
        mamori_testkit::mail::fast_worker_config(),
        std::future::pending::<()>(),
    ));
    (catcher, task)
}

fn file_alert(path: &str) -> Alert {
    Alert::new(
        kinds::FILE_CHANGED,
        Severity::Critical,
        Subject::File(path.into()),
        json!({ "expected_sha256": "00", "found_sha256": "11" }),
    )
}

async fn same_condition_twice_is_one_alert_and_one_mail_each(backend: Backend) {
    let env = Env::start(backend).await;
    with_staff(&env).await;
    let (catcher, worker) = mail_worker(&env).await;
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: Some("https://admin.shop.mamori.example".into()),
            webhook: None,
        },
    );
    let ledger_before = env.store.ledger_size().await.unwrap();
    let first = alerts
        .raise(&file_alert("/srv/mamori/mamori.toml"))
        .await
        .unwrap();
    let second = alerts
        .raise(&file_alert("/srv/mamori/mamori.toml"))
        .await
        .unwrap();
    assert!(first.new);
    assert!(!second.new);
    assert_eq!(first.id, second.id);
    assert_eq!(second.seen_count, 2);
    let page = env
        .store
        .alerts_page(&AlertFilter::default(), 0, 50)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].seen_count, 2);
    assert_eq!(page.items[0].state, "open");
    assert_eq!(page.items[0].subject, "file:/srv/mamori/mamori.toml");

    // One mail to each active owner and manager, DKIM-signed; none for the repeat.
    let got = catcher.wait_for(2, Duration::from_secs(15)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = catcher.messages();
    assert_eq!(got_all.len(), 2, "one mail per owner and manager, once");
    let mut rcpts: Vec<String> = got.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        vec![
            "manager1@shop.mamori.example".to_owned(),
            "owner1@shop.mamori.example".to_owned()
        ]
    );
    for m in &got_all {
        let text = m.data_str();
        assert!(text.contains("DKIM-Signature:"), "signed");
        assert!(text.contains("X-Mamori-Kind: alert"));
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.data)
            .unwrap();
        let body = parsed.body_text(0).unwrap();
        assert!(body.contains(&first.id));
        assert!(body.contains("検知アラート"));
        assert!(body.contains("/srv/mamori/mamori.toml"));
        assert!(body.contains("https://admin.shop.mamori.example/alerts/"));
    }

    // One ledger entry (the repeat adds none), an alert action naming the subject.
    let size = env.store.ledger_size().await.unwrap();
    let entries = env.store.ledger_entries(ledger_before, 100).await.unwrap();
    let alert_events: Vec<_> = entries
        .iter()
        .map(|e| mamori_store::access::AccessEvent::from_bytes(&e.event).unwrap())
        .filter(|e| e.action == mamori_store::Action::Alert)
        .collect();
    assert_eq!(alert_events.len(), 1, "{size} entries");
    assert_eq!(alert_events[0].request_id, first.id);
    assert_eq!(alert_events[0].purpose, "alert:file.changed");
    assert_eq!(
        alert_events[0].channel.as_deref(),
        Some("file:/srv/mamori/mamori.toml")
    );

    // Another subject is another alert; so is the same one once closed.
    let other = alerts
        .raise(&file_alert("/srv/mamori/mamori"))
        .await
        .unwrap();
    assert!(other.new);
    env.store
        .alerts_close(
            kinds::FILE_CHANGED,
            "file:/srv/mamori/mamori.toml",
            "test",
            5,
        )
        .await
        .unwrap();
    let again = alerts
        .raise(&file_alert("/srv/mamori/mamori.toml"))
        .await
        .unwrap();
    assert!(again.new);
    assert_ne!(again.id, first.id);
    catcher.wait_for(6, Duration::from_secs(15)).await.unwrap();
    worker.abort();
}

async fn concurrent_raises_make_one_alert(backend: Backend) {
    let env = Env::start(backend).await;
    with_staff(&env).await;
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let a = alerts.clone();
        tasks.push(tokio::spawn(async move {
            a.raise(&file_alert("/srv/mamori/static/app.js"))
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for t in tasks {
        if t.await.unwrap().new {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    let page = env
        .store
        .alerts_page(&AlertFilter::default(), 0, 50)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].seen_count, 8);
    // Two mails queued (owner and manager), not sixteen.
    let queued = env
        .sql_i64("SELECT COUNT(*) FROM mail_outbox WHERE kind = 'guard_alert'")
        .await;
    assert_eq!(queued, 2);
}

#[derive(Clone, Default)]
struct Received {
    calls: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receiver(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut calls = r.calls.lock().unwrap();
    calls.push((headers, body));
    // The first delivery fails: the worker must retry.
    if calls.len() == 1 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn webhook_reaches_a_loopback_server_signed_after_a_retry(backend: Backend) {
    let env = Env::start(backend).await;
    with_staff(&env).await;
    let received = Received::default();
    let app = axum::Router::new()
        .route("/hook", post(receiver))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let target = WebhookTarget {
        url: format!("http://{addr}/hook"),
        secret: SECRET.to_owned().into(),
    };
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: Some(target.clone()),
        },
    );
    let raised = alerts
        .raise(&file_alert("/srv/mamori/mamori"))
        .await
        .unwrap();
    // The repeat queues no second delivery.
    alerts
        .raise(&file_alert("/srv/mamori/mamori"))
        .await
        .unwrap();
    let config = WebhookConfig {
        poll_interval: Duration::from_millis(50),
        backoff_base: Duration::from_secs(1),
        ..WebhookConfig::default()
    };
    let worker = WebhookWorker::new(env.store.clone(), target, config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows = env.store.alert_webhooks_of(&raised.id).await.unwrap();
        assert_eq!(rows.len(), 1);
        if rows[0].state == "sent" {
            assert_eq!(rows[0].attempts, 2);
            assert_eq!(rows[0].last_error.as_deref(), Some("status 500"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    task.await.unwrap();
    let calls = received.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    for (headers, body) in &calls {
        let sig = headers
            .get(webhook::SIGNATURE_HEADER)
            .unwrap()
            .to_str()
            .unwrap();
        let (t, v1) = sig.split_once(",v1=").unwrap();
        let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
        assert!((chrono::Utc::now().timestamp() - t).abs() < 60);
        let expected = hex::encode(webhook::mac(SECRET.as_bytes(), t, body));
        assert_eq!(v1, expected, "signature verifies");
        assert_ne!(
            v1,
            hex::encode(webhook::mac(b"another secret", t, body)),
            "and only under the shared secret"
        );
        assert!(headers.get(webhook::DELIVERY_HEADER).is_some());
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["id"], raised.id.as_str());
        assert_eq!(v["kind"], "file.changed");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["subject"], "file:/srv/mamori/mamori");
    }
    assert_eq!(calls[0].1, calls[1].1, "a retry sends the same body");
    server.abort();
}

async fn acknowledging_needs_a_reason(backend: Backend) {
    let env = Env::start(backend).await;
    with_staff(&env).await;
    let alerts = Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: None,
            webhook: None,
        },
    );
    let raised = alerts
        .raise(&file_alert("/srv/mamori/mamori"))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    for bad in ["", "   ", "two\nlines"] {
        assert!(matches!(
            alerts.acknowledge(&raised.id, "owner1", bad, now).await,
            Err(GuardError::Invalid(_))
        ));
    }
    assert!(matches!(
        alerts
            .acknowledge(&raised.id, "owner1", &"長".repeat(501), now)
            .await,
        Err(GuardError::Invalid(_))
    ));
    let row = alerts.get(&raised.id).await.unwrap().unwrap();
    assert_eq!(row.state, "open");
    assert!(alerts
        .acknowledge(
            &raised.id,
            "owner1",
            " 更新作業による変更（チケット42） ",
            now
        )
        .await
        .unwrap());
    let row = alerts.get(&raised.id).await.unwrap().unwrap();
    assert_eq!(row.state, "acknowledged");
    assert_eq!(row.acked_by.as_deref(), Some("owner1"));
    assert_eq!(
        row.ack_reason.as_deref(),
        Some("更新作業による変更（チケット42）")
    );
    // Once only; an unknown alert is not acknowledged either.
    assert!(!alerts
        .acknowledge(&raised.id, "manager1", "もう一度", now)
        .await
        .unwrap());
    assert!(!alerts
        .acknowledge("no-such-alert", "owner1", "理由", now)
        .await
        .unwrap());
    // While acknowledged, the condition is still the same alert (no new mail).
    let again = alerts
        .raise(&file_alert("/srv/mamori/mamori"))
        .await
        .unwrap();
    assert!(!again.new);
}

both_backends!(
    same_condition_twice_is_one_alert_and_one_mail_each,
    concurrent_raises_make_one_alert,
    webhook_reaches_a_loopback_server_signed_after_a_retry,
    acknowledging_needs_a_reason,
);
