//! End to end over real SMTP: outbox → worker → lettre → the catcher on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mail_auth::DkimResult;
use mail_parser::MessageParser;
use mamori_mail::catcher::MailCatcher;
use mamori_mail::template::order_confirmation;
use mamori_mail::{
    run_worker, FailureKind, MailState, MailTransport, MemoryOutbox, OutboxStore, OutgoingMail,
    Recipient, SmtpSecurity, SmtpSettings, SmtpTransport, TransportConfigError, Worker,
};
use tokio::sync::oneshot;

struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap();
    }
}

fn spawn_worker(
    store: Arc<MemoryOutbox>,
    port: u16,
    composer: mamori_mail::Composer,
    config: mamori_mail::WorkerConfig,
) -> Running {
    let transport: Arc<dyn MailTransport> =
        Arc::new(SmtpTransport::new(&common::smtp_to(port)).unwrap());
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run_worker(
        store,
        transport,
        Arc::new(composer),
        config,
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        stop: Some(stop),
        task,
    }
}

fn japanese_mail(to: &str, n: usize) -> OutgoingMail {
    OutgoingMail::new(
        Recipient::new(to).unwrap(),
        format!("【守り商店】会員情報変更のお知らせ {n} / Account updated"),
        format!("ご登録のメールアドレスが変更されました。（{n}）\n.\n..先頭のドット\n\nYour address was changed.\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_delivers_three_mails_once_each_with_japanese_intact_and_dkim_valid() {
    let catcher = MailCatcher::start().await.unwrap();
    let store = Arc::new(MemoryOutbox::new());
    let mut sent = Vec::new();
    for (i, to) in ["a@example.jp", "b@example.jp"].iter().enumerate() {
        let m = japanese_mail(to, i);
        store.enqueue(m.clone()).unwrap();
        sent.push(m);
    }
    let order = OutgoingMail::from_content(
        Recipient::new("hanako@example.jp").unwrap(),
        order_confirmation(&common::sample_order()).unwrap(),
    );
    store.enqueue(order.clone()).unwrap();
    sent.push(order);

    let composer = common::composer().with_dkim(common::ed25519_signer());
    let worker = spawn_worker(
        store.clone(),
        catcher.port(),
        composer,
        common::fast_config(),
    );
    let received = catcher.wait_for(3, common::WAIT).await.unwrap();
    for m in &sent {
        let status = store
            .wait_for_state(m.id, MailState::Sent, common::WAIT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.state, MailState::Sent);
        assert_eq!(status.attempts, 1);
    }
    // The worker keeps polling; nothing more may arrive for rows already sent.
    let again = Worker::new(
        store.clone(),
        Arc::new(SmtpTransport::new(&common::smtp_to(catcher.port())).unwrap()),
        Arc::new(common::composer()),
        common::fast_config(),
    )
    .run_once()
    .await
    .unwrap();
    assert_eq!(again.claimed, 0);
    worker.stop().await;

    let received = {
        assert_eq!(received.len(), 3);
        catcher.messages()
    };
    assert_eq!(received.len(), 3, "each mail exactly once");
    let signer = common::ed25519_signer();
    let mut ids = HashSet::new();
    for m in &sent {
        let expected_id = format!("{}@{}", m.id.as_hyphenated(), common::DOMAIN);
        let got: Vec<_> = received
            .iter()
            .filter(|r| {
                MessageParser::default()
                    .parse(&r.data)
                    .unwrap()
                    .message_id()
                    == Some(expected_id.as_str())
            })
            .collect();
        assert_eq!(got.len(), 1, "mail {} arrived {} times", m.id, got.len());
        let r = got[0];
        assert_eq!(r.rcpt_to, vec![m.to.expose_address().to_owned()]);
        assert_eq!(r.mail_from, "shop@mamori.example");
        let parsed = MessageParser::default().parse(&r.data).unwrap();
        assert_eq!(parsed.subject(), Some(m.subject.as_str()));
        assert_eq!(parsed.body_text(0).unwrap().replace("\r\n", "\n"), m.text);
        assert_eq!(
            parsed.to().unwrap().first().unwrap().address(),
            Some(m.to.expose_address())
        );
        // The signature survives the SMTP trip (dot-stuffing included).
        assert_eq!(
            common::verify_dkim(&r.data, &[&signer]).await,
            vec![DkimResult::Pass]
        );
        ids.insert(expected_id);
    }
    assert_eq!(ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_refusal_is_retried_with_backoff_then_delivered() {
    let catcher = MailCatcher::start().await.unwrap();
    catcher.reject_rcpt_temporarily(2);
    let store = Arc::new(MemoryOutbox::new());
    let m = japanese_mail("retry@example.jp", 1);
    store.enqueue(m.clone()).unwrap();

    let worker = spawn_worker(
        store.clone(),
        catcher.port(),
        common::composer(),
        common::fast_config(),
    );
    let received = catcher.wait_for(1, common::WAIT).await.unwrap();
    let status = store
        .wait_for_state(m.id, MailState::Sent, common::WAIT)
        .await
        .unwrap()
        .unwrap();
    worker.stop().await;

    assert_eq!(received.len(), 1);
    assert_eq!(catcher.messages().len(), 1);
    assert_eq!(catcher.rejected_rcpt_count(), 2);
    assert_eq!(status.state, MailState::Sent);
    assert_eq!(status.attempts, 3, "two deferrals, then success");
    let last = status.last_failure.unwrap();
    assert_eq!(last.kind, FailureKind::Transient);
    assert_eq!(last.code, Some(451));
    // The failure record carries no address.
    assert!(!format!("{last:?}").contains("retry@example.jp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusal_goes_dead_after_the_configured_attempts() {
    let catcher = MailCatcher::start().await.unwrap();
    catcher.reject_rcpt_permanently(true);
    let store = Arc::new(MemoryOutbox::new());
    let m = japanese_mail("nobody@example.jp", 1);
    store.enqueue(m.clone()).unwrap();

    let config = common::fast_config();
    assert_eq!(config.max_permanent_attempts, 3);
    let worker = spawn_worker(store.clone(), catcher.port(), common::composer(), config);
    let status = store
        .wait_for_state(m.id, MailState::Dead, common::WAIT)
        .await
        .unwrap()
        .unwrap();
    // A dead row is never claimed again, even long after.
    let later = store
        .claim(
            10,
            Duration::from_secs(60),
            Utc::now() + chrono::Duration::days(30),
        )
        .await
        .unwrap();
    worker.stop().await;

    assert_eq!(status.state, MailState::Dead);
    assert_eq!(status.attempts, 3);
    assert_eq!(catcher.rejected_rcpt_count(), 3);
    assert!(catcher.messages().is_empty());
    let last = status.last_failure.unwrap();
    assert_eq!(last.kind, FailureKind::Permanent);
    assert_eq!(last.code, Some(550));
    assert!(later.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dropped_mid_send_leaves_the_mail_to_another_after_the_lease() {
    let catcher = MailCatcher::start().await.unwrap();
    catcher.stall_after_data(true);
    let store = Arc::new(MemoryOutbox::new());
    let m = japanese_mail("crash@example.jp", 1);
    store.enqueue(m.clone()).unwrap();

    let mut config = common::fast_config();
    config.lease = Duration::from_secs(1);
    config.lease_margin = Duration::ZERO;

    // Worker A claims the row and hangs in DATA; then it is dropped, as in a crash.
    let a = spawn_worker(
        store.clone(),
        catcher.port(),
        common::composer(),
        config.clone(),
    );
    assert!(catcher.wait_for_stalled(1, common::WAIT).await);
    a.task.abort();
    let _ = a.task.await;
    let status = store.status(m.id).unwrap().unwrap();
    assert_eq!(status.state, MailState::Pending);
    assert_eq!(status.attempts, 1);
    assert!(catcher.messages().is_empty());

    // Worker B takes it over once the lease has run out.
    catcher.stall_after_data(false);
    let b = spawn_worker(
        store.clone(),
        catcher.port(),
        common::composer(),
        config.clone(),
    );
    let received = catcher.wait_for(1, common::WAIT).await.unwrap();
    let status = store
        .wait_for_state(m.id, MailState::Sent, common::WAIT)
        .await
        .unwrap()
        .unwrap();
    b.stop().await;
    assert_eq!(status.attempts, 2);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, vec!["crash@example.jp".to_owned()]);

    // Sent is final: no later claim returns it, and another round sends nothing.
    let later = store
        .claim(
            10,
            Duration::from_secs(60),
            Utc::now() + chrono::Duration::days(30),
        )
        .await
        .unwrap();
    assert!(later.is_empty());
    let round = Worker::new(
        store.clone(),
        Arc::new(SmtpTransport::new(&common::smtp_to(catcher.port())).unwrap()),
        Arc::new(common::composer()),
        config,
    )
    .run_once()
    .await
    .unwrap();
    assert_eq!(round.claimed, 0);
    assert_eq!(catcher.messages().len(), 1);
}

#[tokio::test]
async fn required_starttls_sends_nothing_to_a_server_without_it() {
    let catcher = MailCatcher::start().await.unwrap();
    let settings = SmtpSettings {
        host: "localhost".into(),
        port: Some(catcher.port()),
        security: SmtpSecurity::StartTls,
        username: None,
        password: None,
        hello_name: None,
        timeout_secs: Some(10),
    };
    let transport = SmtpTransport::new(&settings).unwrap();
    let prepared = common::composer()
        .compose(&japanese_mail("tls@example.jp", 1))
        .unwrap();
    let err = transport.send(&prepared).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Transient);
    assert!(catcher.messages().is_empty());
    assert!(!err.to_string().contains("tls@example.jp"));
}

#[test]
fn building_smtp_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(
        SmtpTransport::new(&common::smtp_to(2525)),
        Err(TransportConfigError::NoRuntime)
    ));
}

#[tokio::test]
async fn credentials_are_refused_without_tls_and_must_be_complete() {
    let mut s = SmtpSettings::plaintext("127.0.0.1", 2525);
    s.username = Some("shop".into());
    s.password = Some("hunter2-secret".to_owned().into());
    assert!(matches!(
        SmtpTransport::new(&s),
        Err(TransportConfigError::CredentialsWithoutTls)
    ));
    assert!(!format!("{s:?}").contains("hunter2-secret"));
    s.security = SmtpSecurity::StartTls;
    s.password = None;
    assert!(matches!(
        SmtpTransport::new(&s),
        Err(TransportConfigError::IncompleteCredentials)
    ));
}

async fn expect<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, code: &str) {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).await.unwrap();
        assert!(line.starts_with(code), "expected {code}, got {line}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    }
}

#[tokio::test]
async fn catcher_speaks_the_basic_commands() {
    use tokio::io::{AsyncWriteExt, BufReader};
    let catcher = MailCatcher::start().await.unwrap();
    let stream = tokio::net::TcpStream::connect(catcher.addr())
        .await
        .unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    expect(&mut r, "220").await;
    for (cmd, code) in [
        ("MAIL FROM:<x@example.jp>\r\n", "503"),
        ("HELO client\r\n", "250"),
        ("NOOP\r\n", "250"),
        ("RCPT TO:<y@example.jp>\r\n", "503"),
        ("MAIL FROM:<x@example.jp>\r\n", "250"),
        ("RSET\r\n", "250"),
        ("DATA\r\n", "503"),
        ("MAIL FROM:<x@example.jp> BODY=8BITMIME\r\n", "250"),
        ("RCPT TO:<y@example.jp>\r\n", "250"),
        ("DATA\r\n", "354"),
        ("Subject: hi\r\n\r\n..dot\r\n.\r\n", "250"),
        ("BOGUS\r\n", "502"),
        ("QUIT\r\n", "221"),
    ] {
        w.write_all(cmd.as_bytes()).await.unwrap();
        expect(&mut r, code).await;
    }
    let got = catcher.wait_for(1, common::WAIT).await.unwrap();
    assert_eq!(got[0].data, b"Subject: hi\r\n\r\n.dot\r\n");
    assert_eq!(got[0].rcpt_to, vec!["y@example.jp".to_owned()]);
}
