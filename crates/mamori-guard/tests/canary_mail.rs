//! Phishing canaries on both databases: the canary mail listener receives real SMTP (lettre's
//! transport, or a raw socket for the malformed sessions), raises one `canary.mail` per canary
//! mailed, mails the owners through the real outbox worker to a catcher, keeps the message sealed,
//! refuses relaying (550) and oversized messages (552) and survives garbage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mamori_domain::{CustomerKind, CustomerProfile, Email, PersonName, Personal, PhoneNumber};
use mamori_guard::canary_mail::{CanaryMail, CanaryMailConfig, CanaryMailHandle};
use mamori_guard::{kinds, AlertConfig, Alerts};
use mamori_store::{Accessor, AlertFilter, AlertRow, Backend, SqlOutbox, StaffRow};
use mamori_testkit::{both_backends, Env};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

const DOMAIN: &str = "canary.mamori.example";

fn owner() -> StaffRow {
    StaffRow {
        id: "owner1".into(),
        email: "owner1@shop.mamori.example".into(),
        display_name: "店主".into(),
        role: "owner".into(),
        state: "active".into(),
        password_hash: None,
        failed_logins: 0,
        locked_until: None,
        created_at: 1_000,
        updated_at: 1_000,
        last_login_at: None,
    }
}

/// Registers `locals` as members at the canary domain; the first `canaries` are marked canaries.
async fn plant(env: &Env, locals: &[&str], canaries: usize) -> Vec<String> {
    let acc = Accessor::system("test", "test.setup").via("test");
    let mut ids = Vec::new();
    for (i, local) in locals.iter().enumerate() {
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(
                PersonName::parse_with_kana("佐藤", "花子", Some("サトウ"), Some("ハナコ"))
                    .unwrap(),
            ),
            email: Personal::new(Email::parse(&format!("{local}@{DOMAIN}")).unwrap()),
            phone: Some(Personal::new(PhoneNumber::parse("090-1234-5678").unwrap())),
            birth_date: None,
            gender: None,
        };
        let id = env
            .gw
            .register_customer(&acc, &profile, None)
            .await
            .unwrap();
        if i < canaries {
            env.gw.mark_canary(&id).await.unwrap();
        }
        ids.push(id);
    }
    ids
}

fn alerts_of(env: &Env) -> Alerts {
    Alerts::new(
        env.gw.clone(),
        AlertConfig {
            shop_name: "守り商店".into(),
            backoffice_origin: Some("https://admin.shop.mamori.example".into()),
            webhook: None,
        },
    )
}

async fn listen(env: &Env, tweak: impl FnOnce(&mut CanaryMailConfig)) -> CanaryMailHandle {
    let mut config = CanaryMailConfig::new("127.0.0.1:0".parse().unwrap(), DOMAIN);
    // DKIM and SPF are looked up; without DNS here they end as `temperror` within this bound.
    config.auth_timeout = Duration::from_millis(500);
    tweak(&mut config);
    CanaryMail::new(config, env.gw.clone(), alerts_of(env))
        .start()
        .await
        .unwrap()
}

fn transport(addr: SocketAddr) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
            "mx.phish.example".into(),
        ))
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn phishing(to: &[&str], subject: &str, body: &str) -> Message {
    let mut b = Message::builder()
        .from(
            "サポート <support@phish-sender.example>"
                .parse::<Mailbox>()
                .unwrap(),
        )
        .subject(subject)
        .message_id(Some("<phish-1@phish-sender.example>".into()))
        .header(ContentType::TEXT_PLAIN);
    for t in to {
        b = b.to(format!("{t}@{DOMAIN}").parse::<Mailbox>().unwrap());
    }
    b.body(body.to_owned()).unwrap()
}

async fn all_alerts(env: &Env) -> Vec<AlertRow> {
    env.store
        .alerts_page(&AlertFilter::default(), 0, 100)
        .await
        .unwrap()
        .items
}

async fn of_kind(env: &Env, kind: &str) -> Vec<AlertRow> {
    all_alerts(env)
        .await
        .into_iter()
        .filter(|a| a.kind == kind)
        .collect()
}

async fn a_canary_mail_raises_one_alert_and_mails_the_owner(backend: Backend) {
    let env = Env::start(backend).await;
    env.store.staff_insert(&owner()).await.unwrap();
    let (catcher, _worker) =
        mamori_testkit::mail::start_mail_worker(Arc::new(SqlOutbox::new(env.gw.clone()))).await;
    let ids = plant(&env, &["taro.sato123", "hanako.real9"], 1).await;
    let handle = listen(&env, |_| {}).await;
    let smtp = transport(handle.local_addr());

    let body = "お客様のアカウントが停止されました。\n\
                https://login.phish.example/verify?u=taro.sato123%40canary.mamori.example\n";
    let msg = phishing(&["Taro.Sato123"], "【重要】アカウント確認のお願い", body);
    let sent = smtp.send(msg).await.unwrap();
    assert_eq!(sent.code().to_string(), "250");

    // The 250 comes after the alert is stored: it is there at once.
    let got = of_kind(&env, kinds::CANARY_MAIL).await;
    assert_eq!(got.len(), 1, "exactly one canary.mail");
    let alert = &got[0];
    assert_eq!(alert.subject, format!("customer:{}", ids[0]));
    assert_eq!(alert.severity, "critical");
    let ev: serde_json::Value = serde_json::from_str(&alert.evidence).unwrap();
    assert_eq!(ev["envelope_from_domain"], "phish-sender.example");
    assert_eq!(ev["from_domain"], "phish-sender.example");
    assert_eq!(ev["subject"], "【重要】アカウント確認のお願い");
    assert_eq!(ev["helo"], "mx.phish.example");
    assert_eq!(ev["peer_ip"], "127.0.0.1");
    assert_eq!(ev["first_hop_ip"], "127.0.0.1");
    // Unsigned: no DKIM lookup; SPF is looked up (no DNS here: temperror, else none for
    // a reserved domain).
    assert_eq!(ev["dkim"], "none");
    assert!(
        ["temperror", "none"].contains(&ev["spf"].as_str().unwrap()),
        "{ev}"
    );
    assert_eq!(ev["recipients"], 1);
    assert_eq!(
        ev["links"],
        serde_json::json!(["https://login.phish.example/verify?u=[recipient]"])
    );
    // The canary's address appears nowhere in the alert (its id is the subject).
    assert!(!alert.evidence.to_lowercase().contains("taro.sato123"));
    // The message is kept sealed: its hash is the evidence's, and opening it is recorded.
    let before = env.store.ledger_size().await.unwrap();
    let acc = Accessor::staff("owner1", "incident.evidence", "req-1").because("phishing");
    let kept = env
        .gw
        .canary_mail_open(&acc, ev["mail_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(kept.canaries, vec![ids[0].clone()]);
    assert_eq!(kept.raw.len(), ev["size"].as_u64().unwrap() as usize);
    assert_eq!(ev["sha256"], hex::encode(Sha256::digest(&kept.raw)));
    let kept_msg = mail_parser::MessageParser::default()
        .parse(&kept.raw)
        .unwrap();
    assert_eq!(kept_msg.subject(), Some("【重要】アカウント確認のお願い"));
    assert_eq!(kept_msg.message_id(), Some("phish-1@phish-sender.example"));
    assert_eq!(env.store.ledger_size().await.unwrap(), before + 1);
    let sealed = env
        .sql_i64("SELECT COUNT(*) FROM canary_mails WHERE kind = 'canary'")
        .await;
    assert_eq!(sealed, 1);

    // The owner is mailed through the alert delivery path.
    let mails = catcher.wait_for(1, Duration::from_secs(15)).await.unwrap();
    let text = mails[0].data_str();
    assert_eq!(
        mails[0].rcpt_to,
        vec!["owner1@shop.mamori.example".to_owned()]
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(text.as_bytes())
        .unwrap();
    assert!(parsed.subject().unwrap().contains("canary.mail"));
    assert!(parsed.body_text(0).unwrap().contains(&ids[0]));
    assert!(!text.to_lowercase().contains("taro.sato123"));
    env.verify().await.unwrap();
}

async fn two_canaries_are_two_alerts_and_others_none(backend: Backend) {
    let env = Env::start(backend).await;
    let ids = plant(&env, &["ken.ito77", "yui_mori42", "real.member5"], 2).await;
    let handle = listen(&env, |_| {}).await;
    let smtp = transport(handle.local_addr());

    // A real member's address and a made-up one at the domain: kept, no alert.
    smtp.send(phishing(&["real.member5", "nobody.here1"], "hello", "hi"))
        .await
        .unwrap();
    let all = all_alerts(&env).await;
    assert!(all.is_empty(), "no alert for mail to no canary: {all:?}");

    // Two canaries, one after the other, with different subjects: two alerts. The first is
    // DKIM-signed: its signature is checked (no DNS here for the key: not "none", and the
    // lookup is bounded, so the mail is still taken).
    let mut signed = phishing(&["ken.ito77"], "First", "a");
    let key = DkimSigningKey::new(
        "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        DkimSigningAlgorithm::Ed25519,
    )
    .unwrap();
    signed.sign(&DkimConfig::default_config(
        "sel".into(),
        "phish-sender.example".into(),
        key,
    ));
    smtp.send(signed).await.unwrap();
    smtp.send(phishing(&["YUI_MORI42"], "Second", "b"))
        .await
        .unwrap();
    let got = of_kind(&env, kinds::CANARY_MAIL).await;
    assert_eq!(got.len(), 2);
    let mut subjects: Vec<_> = got.iter().map(|a| a.subject.clone()).collect();
    subjects.sort();
    let mut want = vec![
        format!("customer:{}", ids[0]),
        format!("customer:{}", ids[1]),
    ];
    want.sort();
    assert_eq!(subjects, want);
    for a in &got {
        let ev: serde_json::Value = serde_json::from_str(&a.evidence).unwrap();
        let first = a.subject == format!("customer:{}", ids[0]);
        assert_eq!(ev["subject"], if first { "First" } else { "Second" });
        let dkim = ev["dkim"].as_str().unwrap();
        if first {
            assert!(["temperror", "permerror", "fail"].contains(&dkim), "{dkim}");
        } else {
            assert_eq!(dkim, "none");
        }
    }
    // One message to both canaries: each alert counts it again, and it is kept once.
    smtp.send(phishing(&["ken.ito77", "yui_mori42"], "Third", "c"))
        .await
        .unwrap();
    let got = of_kind(&env, kinds::CANARY_MAIL).await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|a| a.seen_count == 2));
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM canary_mails").await, 4);
}

async fn relaying_and_oversized_mail_are_refused(backend: Backend) {
    let env = Env::start(backend).await;
    let ids = plant(&env, &["sora.kato31"], 1).await;
    let handle = listen(&env, |c| c.smtp.max_message_bytes = 4096).await;
    let smtp = transport(handle.local_addr());

    // A recipient at another domain: 550, nothing kept.
    let relay = Message::builder()
        .from("x@phish-sender.example".parse::<Mailbox>().unwrap())
        .to("victim@elsewhere.example".parse::<Mailbox>().unwrap())
        .subject("relay")
        .body("relay me".to_owned())
        .unwrap();
    let err = smtp.send(relay).await.unwrap_err();
    assert_eq!(err.status().unwrap().to_string(), "550");

    // Larger than the limit: 552, nothing kept, no alert.
    let big = phishing(&["sora.kato31"], "big", &"x".repeat(8000));
    let err = smtp.send(big).await.unwrap_err();
    assert_eq!(err.status().unwrap().to_string(), "552");
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM canary_mails").await, 0);
    assert!(of_kind(&env, kinds::CANARY_MAIL).await.is_empty());

    // The listener goes on: the next mail is taken and alerted.
    smtp.send(phishing(&["sora.kato31"], "small", "ok"))
        .await
        .unwrap();
    let got = of_kind(&env, kinds::CANARY_MAIL).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject, format!("customer:{}", ids[0]));
}

async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut last = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            return last;
        }
        last = line.trim_end().to_owned();
        // Multi-line replies continue with "250-".
        if last.as_bytes().get(3) != Some(&b'-') {
            return last;
        }
    }
}

async fn malformed_sessions_are_handled(backend: Backend) {
    let env = Env::start(backend).await;
    plant(&env, &["rin.abe2026"], 1).await;
    let handle = listen(&env, |c| c.smtp.max_errors = 3).await;
    let addr = handle.local_addr();

    // Garbage, an over-long line, commands out of order: refused one by one, then closed.
    let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    assert!(reply(&mut r).await.starts_with("220 "));
    w.write_all(b"\xff\xfe garbage\r\n").await.unwrap();
    assert!(reply(&mut r).await.starts_with("500 "));
    w.write_all(format!("NOOP {}\r\n", "A".repeat(100_000)).as_bytes())
        .await
        .unwrap();
    assert!(reply(&mut r).await.starts_with("500 5.5.2"));
    w.write_all(b"RCPT TO:<rin.abe2026@canary.mamori.example>\r\n")
        .await
        .unwrap();
    assert!(reply(&mut r).await.starts_with("503 "));
    w.write_all(b"FOO\r\n").await.unwrap();
    assert!(reply(&mut r).await.starts_with("421 "));
    let mut rest = String::new();
    assert_eq!(r.read_line(&mut rest).await.unwrap(), 0, "closed after 421");

    // A session that sends DATA and goes away mid-message: nothing kept, nothing raised.
    let (r, mut w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    reply(&mut r).await;
    for (cmd, code) in [
        ("EHLO x.example", "250"),
        ("MAIL FROM:<a@x.example>", "250"),
        ("RCPT TO:<rin.abe2026@canary.mamori.example>", "250"),
        ("DATA", "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        assert!(reply(&mut r).await.starts_with(code), "{cmd}");
    }
    w.write_all(b"Subject: cut\r\n\r\npartial").await.unwrap();
    drop(w);
    drop(r);

    // An idle session times out.
    drop(handle);
    let handle = listen(&env, |c| {
        c.smtp.command_timeout = Duration::from_millis(300)
    })
    .await;
    let (r, _w) = TcpStream::connect(handle.local_addr())
        .await
        .unwrap()
        .into_split();
    let mut r = BufReader::new(r);
    reply(&mut r).await;
    assert!(reply(&mut r).await.starts_with("421 4.4.2"));

    // The listener still takes a proper mail, and only that one was kept.
    let smtp = transport(handle.local_addr());
    smtp.send(phishing(&["rin.abe2026"], "after", "ok"))
        .await
        .unwrap();
    assert_eq!(of_kind(&env, kinds::CANARY_MAIL).await.len(), 1);
    assert_eq!(env.sql_i64("SELECT COUNT(*) FROM canary_mails").await, 1);
}

async fn connections_are_bounded(backend: Backend) {
    let env = Env::start(backend).await;
    let handle = listen(&env, |c| c.smtp.max_connections = 2).await;
    let addr = handle.local_addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut r = BufReader::new(r);
        assert!(reply(&mut r).await.starts_with("220 "));
        held.push((r, w));
    }
    let (r, _w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    assert!(reply(&mut r).await.starts_with("421 4.3.2"));
    // A slot freed is a slot taken again.
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (r, _w) = TcpStream::connect(addr).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    assert!(reply(&mut r).await.starts_with("220 "));
}

both_backends!(
    a_canary_mail_raises_one_alert_and_mails_the_owner,
    two_canaries_are_two_alerts_and_others_none,
    relaying_and_oversized_mail_are_refused,
    malformed_sessions_are_handled,
    connections_are_bounded,
);
