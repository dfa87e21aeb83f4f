//! The letters' print files in the back office: the notices page lists them for owners and
//! managers; a download (step-up, CSRF) is a ZIP of the batch's PDF and CSV list, read through
//! the gateway in ONE ledger event naming the batch's people and who asked, and noted in the
//! staff log;
//! auditors see the letters to send but cannot download them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read as _;

use chrono::Utc;
use common::TestBackoffice;
use mamori_respond::notices::letter::LETTER_PURPOSE;
use mamori_respond::notices::{verp, NoticeDraft, NoticeOptions};
use mamori_respond::{Desk, IncidentKind, NewIncident};
use mamori_staff::Role;
use mamori_store::gateway::NOTICE_JOB;
use mamori_store::{model::StaffLogFilter, Action, Backend, Principal};
use mamori_testkit::both_backends;

const DOMAIN: &str = "bounce.shop.example";

fn dsn(to: &str) -> Vec<u8> {
    format!(
        "From: <MAILER-DAEMON@mx.example.jp>\r\n\
         To: <{to}>\r\n\
         Subject: Undelivered\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.example.jp\r\n\
         \r\n\
         Final-Recipient: rfc822; someone@example.jp\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

/// The letters' read events since ledger entry `from`.
async fn letter_reads(bo: &TestBackoffice, from: usize) -> usize {
    bo.ledger_events_since(from)
        .await
        .iter()
        .filter(|e| e.purpose == LETTER_PURPOSE)
        .count()
}

async fn letters_are_downloaded_as_print_files(backend: Backend) {
    let bo = TestBackoffice::start(backend).await;
    let mut people = Vec::new();
    for i in 0..3 {
        let id = bo.customer(&format!("p{i}@example.jp")).await;
        bo.order(&id).await;
        people.push(id);
    }
    let desk = Desk::new(bo.gateway().clone());
    let by = Principal::Staff("owner-1".into());
    let incident = desk
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
    desk.compute_scope(incident, &by).await.unwrap();
    let draft = NoticeDraft {
        overview: "概要".into(),
        cause: "原因".into(),
        secondary_harm: "なし".into(),
        what_to_do: String::new(),
        desk: "窓口".into(),
    };
    let opts = NoticeOptions {
        bounce_domain: Some(DOMAIN.into()),
        batch: 10,
    };
    desk.start_notices(incident, &by, &draft, 60, &opts)
        .await
        .unwrap();
    let notices = bo.store().notices_list(incident, 0, 10).await.unwrap();
    assert_eq!(notices.len(), 3);
    // Two of the three bounce for good.
    for n in &notices[..2] {
        let addr = verp::address(bo.gateway(), &n.id, DOMAIN).unwrap();
        assert!(desk
            .record_bounce(&dsn(&addr), None, DOMAIN)
            .await
            .unwrap()
            .is_some());
    }
    let page_path = format!("/incidents/{incident}/notices");
    let letters_path = format!("/incidents/{incident}/notices/letters");

    // An auditor sees the letters to send but no download, and may not post one.
    let (_, auditor) = bo.member(Role::Auditor).await;
    let page = auditor.get(&page_path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.count("tr.letter"), 2);
    assert!(!page.has("#letter-batches"));
    let before = bo.ledger_len().await;
    let res = auditor.post_form(&letters_path, &[("batch", "1")]).await;
    assert_eq!(res.status, 403);
    // (The mail worker reads for the notices falling due meanwhile: only letters' reads count.)
    assert_eq!(letter_reads(&bo, before).await, 0, "nothing read");

    // A manager downloads the one print file.
    let (manager, client) = bo.member(Role::Manager).await;
    let page = client.get(&page_path).await;
    assert_eq!(page.count("#letter-batches form.letters-download"), 1);
    let res = client.post_form(&letters_path, &[("batch", "1")]).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/zip")
    );
    let stem = format!("letters-{incident}-001of001");
    assert!(res
        .header("content-disposition")
        .unwrap()
        .contains(&format!("{stem}.zip")));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(res.bytes.clone())).unwrap();
    assert_eq!(zip.len(), 2);
    let mut pdf = Vec::new();
    zip.by_name(&format!("{stem}.pdf"))
        .unwrap()
        .read_to_end(&mut pdf)
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let mut csv = String::new();
    zip.by_name(&format!("{stem}.csv"))
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(rows.len(), 3, "a header and two letters: {csv}");
    assert!(rows[1].contains(&notices[0].id) && rows[2].contains(&notices[1].id));

    // One read event, by this member of staff, naming the two people.
    let events: Vec<_> = bo
        .ledger_events_since(before)
        .await
        .into_iter()
        .filter(|e| e.purpose == LETTER_PURPOSE)
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, Action::Read);
    assert_eq!(events[0].principal, Principal::System(NOTICE_JOB.into()));
    assert!(events[0]
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains(&format!("staff:{}", manager.id)));
    let mut named = events[0].customers.clone();
    named.sort();
    let mut want = people[..2].to_vec();
    want.sort();
    assert_eq!(named, want);

    // In the staff log; a batch that does not exist is refused without a read.
    let log = bo
        .store()
        .staff_log_page(
            &StaffLogFilter {
                staff_id: Some(manager.id.clone()),
                action_prefix: Some("incidents.letters".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    let before = bo.ledger_len().await;
    let res = client.post_form(&letters_path, &[("batch", "2")]).await;
    res.expect_redirect(&page_path);
    assert_eq!(letter_reads(&bo, before).await, 0);
}

both_backends!(letters_are_downloaded_as_print_files);
