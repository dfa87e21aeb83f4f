//! Notices to individuals through the desk, on both backends: a run resumes without a double,
//! each notice carries its own VERP address, and delivery status notifications (RFC 3464) sent
//! back to it mark it undelivered (permanent ones become letters to send); a forged or foreign
//! DSN changes nothing. (The kill -9 run through the binary is `crates/mamori/tests/notices.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use mamori_domain::{CustomerKind, CustomerProfile, Email, PersonName, Personal};
use mamori_respond::notices::bounce::BounceSink;
use mamori_respond::notices::{verp, NoticeDraft, NoticeOptions};
use mamori_respond::{Desk, IncidentKind, NewIncident};
use mamori_store::gateway::{principal_key, NOTICE_JOB};
use mamori_store::{Accessor, Backend, Principal, ReadBudgets, RoleBudget};
use mamori_testkit::mail::dsn;
use mamori_testkit::{both_backends, Env};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

const DOMAIN: &str = "bounce.shop.example";

async fn reply(r: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>) -> String {
    r.next_line().await.unwrap().unwrap()
}

async fn notices_resume_and_bounce(backend: Backend) {
    let env = Env::start(backend).await;
    let acc = Accessor::system("test", "test.seed");
    // Six people to write to, and a seventh erased between the scope and the run.
    let mut erased = String::new();
    for i in 0..7 {
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(PersonName::parse("山田", "太郎").unwrap()),
            email: Personal::new(Email::parse(&format!("c{i}@example.jp")).unwrap()),
            phone: None,
            birth_date: None,
            gender: None,
        };
        erased = env
            .gw
            .register_customer(&acc, &profile, None)
            .await
            .unwrap();
    }
    let desk = Desk::new(env.gw.clone());
    let by = Principal::Staff("owner-1".into());
    let id = desk
        .open(
            &by,
            &NewIncident {
                kind: IncidentKind::DatabaseCopied,
                title: "copy".into(),
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
    let draft = NoticeDraft {
        overview: "概要".into(),
        cause: "原因".into(),
        secondary_harm: "なし".into(),
        what_to_do: String::new(),
        desk: "窓口".into(),
    };
    let opts = NoticeOptions {
        bounce_domain: Some(DOMAIN.into()),
        batch: 4,
    };
    // No scope yet: refused.
    assert!(desk
        .start_notices(id, &by, &draft, 60, &opts)
        .await
        .is_err());
    desk.compute_scope(id, &by).await.unwrap();
    env.gw.erase_customer(&acc, &erased).await.unwrap();
    let r = desk
        .start_notices(id, &by, &draft, 60, &opts)
        .await
        .unwrap();
    assert_eq!(
        (r.total, r.queued, r.already, r.unreachable),
        (7, 6, 0, 1),
        "the erased person has no address to write to"
    );
    // Again: refused as a start, a no-op as a resume.
    assert!(desk
        .start_notices(id, &by, &draft, 60, &opts)
        .await
        .is_err());
    let again = desk.resume_notices(id, &opts).await.unwrap();
    assert_eq!((again.queued, again.already, again.unreachable), (0, 6, 1));
    let status = desk.notice_status(id).await.unwrap().unwrap();
    assert_eq!(status.progress.queued, 6);
    assert!(status.run.completed_at.is_some());
    // The rate: 60 a minute, so notice n is due n seconds after the start.
    let records = env.gw.records();
    let notices = records.notices_list(id, 0, 100).await.unwrap();
    assert_eq!(notices.len(), 6);
    for n in &notices {
        let row = records.outbox_status(&n.id).await.unwrap().unwrap();
        assert_eq!(
            row.next_attempt_at,
            status.run.started_at + n.position,
            "spread by the rate"
        );
    }

    let (a, b, c) = (&notices[0], &notices[1], &notices[2]);
    let addr_a = verp::address(&env.gw, &a.id, DOMAIN).unwrap();
    assert_eq!(
        verp::notice_of(&env.gw, &addr_a, DOMAIN).as_deref(),
        Some(a.id.as_str())
    );
    // A forged tag, another notice's tag, or another domain: not ours.
    let (local, _) = addr_a.split_once('@').unwrap();
    let forged = format!("{}0@{DOMAIN}", &local[..local.len() - 1]);
    let forged = if forged == addr_a {
        format!("{}1@{DOMAIN}", &local[..local.len() - 1])
    } else {
        forged
    };
    let addr_b = verp::address(&env.gw, &b.id, DOMAIN).unwrap();
    let swapped = format!(
        "n{}.{}",
        b.id.replace('-', ""),
        addr_a.split_once('.').unwrap().1
    );
    for bad in [forged, swapped, addr_a.replace(DOMAIN, "other.example")] {
        assert_eq!(
            desk.record_bounce(&dsn(&bad, "failed", "5.1.1"), None, DOMAIN)
                .await
                .unwrap(),
            None,
            "{bad}"
        );
    }
    // A success report is not a bounce.
    assert_eq!(
        desk.record_bounce(&dsn(&addr_a, "delivered", "2.0.0"), None, DOMAIN)
            .await
            .unwrap(),
        None
    );
    assert!(desk.letters_to_send(id).await.unwrap().is_empty());

    // Permanent: a letter to send.
    let got = desk
        .record_bounce(&dsn(&addr_a, "failed", "5.1.1"), None, DOMAIN)
        .await
        .unwrap()
        .unwrap();
    assert!(got.permanent);
    assert_eq!(got.status, "5.1.1");
    // Transient, then permanent; a transient after a permanent does not undo it.
    let got = desk
        .record_bounce(&dsn(&addr_b, "delayed", "4.2.2"), None, DOMAIN)
        .await
        .unwrap()
        .unwrap();
    assert!(!got.permanent);
    desk.record_bounce(&dsn(&addr_a, "delayed", "4.4.7"), None, DOMAIN)
        .await
        .unwrap();
    let addr_c = verp::address(&env.gw, &c.id, DOMAIN).unwrap();
    // Matched by the envelope recipient too (the To: header names someone else).
    desk.record_bounce(
        &dsn("postmaster@shop.example", "failed", "5.2.1"),
        Some(&addr_c),
        DOMAIN,
    )
    .await
    .unwrap()
    .unwrap();
    let letters = desk.letters_to_send(id).await.unwrap();
    let ids: Vec<&str> = letters.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec![a.id.as_str(), c.id.as_str()]);
    assert_eq!(letters[0].bounce_status.as_deref(), Some("5.1.1"));
    let p = desk.notice_status(id).await.unwrap().unwrap().progress;
    assert_eq!((p.bounced_permanent, p.bounced_transient), (2, 1));

    // Over SMTP: mamori's bounce listener (the guard's receive-only listener with the notices'
    // sink) takes a DSN to notice d's VERP address and records it; other domains are refused.
    let d = &notices[3];
    let addr_d = verp::address(&env.gw, &d.id, DOMAIN).unwrap();
    let handle = BounceSink::new(Desk::new(env.gw.clone()), DOMAIN)
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let stream = tokio::net::TcpStream::connect(handle.local_addr())
        .await
        .unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r).lines();
    assert!(reply(&mut r).await.starts_with("220"));
    for (cmd, code) in [
        ("EHLO mx.example.jp".to_owned(), "250 "),
        ("MAIL FROM:<>".to_owned(), "250"),
        ("RCPT TO:<someone@other.example>".to_owned(), "550"),
        (format!("RCPT TO:<{addr_d}>"), "250"),
        ("DATA".to_owned(), "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        if cmd.starts_with("EHLO") {
            // Multi-line reply: read up to its last line.
            while !reply(&mut r).await.starts_with(code) {}
        } else {
            let line = reply(&mut r).await;
            assert!(line.starts_with(code), "{cmd}: {line}");
        }
    }
    let mut body = dsn("postmaster@shop.example", "failed", "5.1.2");
    body.extend_from_slice(b".\r\n");
    w.write_all(&body).await.unwrap();
    assert!(reply(&mut r).await.starts_with("250"));
    w.write_all(b"QUIT\r\n").await.unwrap();
    assert!(reply(&mut r).await.starts_with("221"));
    let letters = desk.letters_to_send(id).await.unwrap();
    let got = letters
        .iter()
        .find(|n| n.id == d.id)
        .expect("d is a letter");
    assert_eq!(got.bounce_status.as_deref(), Some("5.1.2"));
}

both_backends!(notices_resume_and_bounce);

/// A run larger than the notice job's per-minute read budget is paced by it, not stopped: with
/// a budget of 4 people a minute, 8 people in batches of 4 are all queued (the second batch
/// once the first has left the minute's window) and the job is never stopped. A batch larger
/// than the budget is refused before anything is read.
async fn a_run_is_paced_by_its_read_budget(backend: Backend) {
    let env = Env::start(backend).await;
    let acc = Accessor::system("test", "test.seed");
    for i in 0..8 {
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(PersonName::parse("山田", "花子").unwrap()),
            email: Personal::new(Email::parse(&format!("p{i}@example.jp")).unwrap()),
            phone: None,
            birth_date: None,
            gender: None,
        };
        env.gw
            .register_customer(&acc, &profile, None)
            .await
            .unwrap();
    }
    let mut budgets = ReadBudgets::default();
    budgets.roles.insert(
        format!("job:{NOTICE_JOB}"),
        RoleBudget::new(4, 1_000, 1_000),
    );
    let gw = env.gw.clone().with_read_budgets(budgets);
    let desk = Desk::new(gw.clone());
    let by = Principal::Staff("owner-1".into());
    let id = desk
        .open(
            &by,
            &NewIncident {
                kind: IncidentKind::DatabaseCopied,
                title: "copy".into(),
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
    desk.compute_scope(id, &by).await.unwrap();
    let draft = NoticeDraft {
        overview: "概要".into(),
        cause: "原因".into(),
        secondary_harm: "なし".into(),
        what_to_do: String::new(),
        desk: "窓口".into(),
    };
    let big = NoticeOptions {
        bounce_domain: None,
        batch: 5,
    };
    assert!(desk
        .start_notices(id, &by, &draft, 600, &big)
        .await
        .is_err());
    let records = gw.records();
    assert_eq!(records.notice_progress(id).await.unwrap().queued, 0);
    let r = desk
        .resume_notices(
            id,
            &NoticeOptions {
                bounce_domain: None,
                batch: 4,
            },
        )
        .await
        .unwrap();
    assert_eq!((r.total, r.queued), (8, 8));
    let job = records
        .read_principal(&principal_key(&Principal::System(NOTICE_JOB.into())))
        .await
        .unwrap();
    assert!(
        job.is_none_or(|j| j.stopped_at.is_none()),
        "the notice job was stopped"
    );
}

both_backends!(a_run_is_paced_by_its_read_budget);
