//! Letters for the notices that bounced for good, on both backends: permanent bounces (and
//! only those) become letters; they are cut into print files (a PDF and the print shop's CSV
//! each) with ONE ledger read event per file naming its people; the PDF, read back with
//! `pdftotext`, holds the Japanese title and the person's items, the postal code and address
//! inside the 長形3号 window and nothing of the text there, and a name made of typst's special
//! characters comes out literally.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use chrono::Utc;
use mamori_domain::*;
use mamori_respond::notices::letter::{LetterRenderer, LETTER_PURPOSE};
use mamori_respond::notices::{verp, NoticeDraft, NoticeOptions, NOTICE_TITLE};
use mamori_respond::report::pdf::ReportFonts;
use mamori_respond::{Desk, IncidentKind, NewIncident};
use mamori_store::access::AccessEvent;
use mamori_store::gateway::{
    Buyer, NewOrder, NewShipment, LETTER_BOOK_READ_FIELDS, LETTER_READ_FIELDS, NOTICE_JOB,
};
use mamori_store::{Accessor, Action, Backend, Principal};
use mamori_testkit::mail::dsn;
use mamori_testkit::{both_backends, Env};

const DOMAIN: &str = "bounce.shop.example";
/// A name typst would read as code, maths, markup and escapes if it were markup.
const ODD_FAMILY: &str = "#set";
const ODD_GIVEN: &str = "$x$[*y*]\\z";

fn web() -> Accessor {
    Accessor {
        principal: Principal::Guest("session-1".into()),
        purpose: "checkout".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        channel: Some("/checkout".into()),
        reason: None,
    }
}

/// Person `i`'s postal code, city and street.
fn place_of(i: usize) -> (String, String, String) {
    (
        format!("{:07}", 1_500_001 + i),
        format!("渋谷区神宮前{}丁目", i + 1),
        format!("{}-{}-{}", i + 1, i + 2, i + 3),
    )
}

fn order(customer_id: &str, name: &PersonName, email: &str, i: usize) -> NewOrder {
    let (postal, city, line1) = place_of(i);
    let address = Address::parse(&AddressParts {
        postal_code: postal,
        prefecture: "東京都".into(),
        city,
        line1,
        line2: Some(format!("まもりハイツ{}号室", 101 + i)),
    })
    .unwrap();
    let recipient = Recipient {
        name: Personal::new(name.clone()),
        address: Personal::new(address.clone()),
        phone: Personal::new(PhoneNumber::parse("09012345678").unwrap()),
    };
    NewOrder {
        customer_id: customer_id.into(),
        idempotency_key: format!("letters-{i}"),
        payment_method: PaymentMethod::Card,
        buyer: Buyer {
            name: Personal::new(name.clone()),
            email: Personal::new(Email::parse(email).unwrap()),
            phone: Personal::new(PhoneNumber::parse("09012345678").unwrap()),
            address: Personal::new(address),
        },
        items: vec![OrderItem {
            sku: "TEA-200".into(),
            product_name: "煎茶".into(),
            unit_price_incl: Yen(1_080),
            rate: TaxRate::Reduced,
            quantity: 1,
            personalisation: None,
            noshi: None,
        }],
        shipments: vec![NewShipment {
            recipient,
            delivery_date: None,
            slot: DeliverySlot::Unspecified,
        }],
        shipping_fee: Yen(880),
        payment_fee: None,
    }
}

/// `pdftotext` of page `page` of `pdf`, cropped to `crop` (x, y, w, h in points) if given.
fn pdf_text(pdf: &[u8], page: usize, crop: Option<(u32, u32, u32, u32)>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letters.pdf");
    std::fs::write(&path, pdf).unwrap();
    let mut cmd = Command::new("pdftotext");
    cmd.args(["-f", &page.to_string(), "-l", &page.to_string()]);
    if let Some((x, y, w, h)) = crop {
        cmd.args([
            "-x",
            &x.to_string(),
            "-y",
            &y.to_string(),
            "-W",
            &w.to_string(),
            "-H",
            &h.to_string(),
        ]);
    }
    let out = cmd
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The window of a 長形3号 envelope on the A4 sheet, in points (72 per inch): 23 mm from the
/// left, 13 mm from the top, 90 × 45 mm.
fn window() -> (u32, u32, u32, u32) {
    let pt = |mm: f64| (mm * 72.0 / 25.4).round() as u32;
    (pt(23.0), pt(13.0), pt(90.0), pt(45.0))
}

/// A copied-database incident opened by `by`, its scope computed.
async fn copied_with_scope(desk: &Desk, by: &Principal) -> i64 {
    let incident = desk
        .open(
            by,
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
    desk.compute_scope(incident, by).await.unwrap();
    incident
}

/// The run's draft: the operator's words.
fn draft() -> NoticeDraft {
    NoticeDraft {
        overview: "データベースの複製が外部に持ち出されました。".into(),
        cause: "管理画面の認証情報の漏えい".into(),
        secondary_harm: "現時点で確認されていません。".into(),
        what_to_do: "パスワードを変更してください。".into(),
        desk: "まもり商店 お客様相談窓口 電話 03-0000-0000".into(),
    }
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn bounced_notices_become_letters(backend: Backend) {
    let env = Env::start(backend).await;
    // Seven people: 0–4 bounce for good and have ordered (their address is the latest order's
    // buyer address); 5 bounces for good but never ordered (no postal address); 6's mail is
    // only delayed (no letter).
    let mut ids = Vec::new();
    for i in 0..7 {
        let name = if i == 0 {
            PersonName::parse(ODD_FAMILY, ODD_GIVEN).unwrap()
        } else {
            PersonName::parse("山田", &format!("太郎{i}")).unwrap()
        };
        let email = format!("c{i}@example.jp");
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(name.clone()),
            email: Personal::new(Email::parse(&email).unwrap()),
            phone: None,
            birth_date: None,
            gender: None,
        };
        let id = env
            .gw
            .register_customer(&web(), &profile, None)
            .await
            .unwrap();
        if i != 5 {
            env.gw
                .place_order(&web(), &order(&id, &name, &email, i), &format!("N-{i}"))
                .await
                .unwrap();
        }
        ids.push(id);
    }
    for (k, v) in [
        ("shop.name", "守り商店"),
        ("shop.address", "東京都千代田区千代田9-9"),
        ("legal.phone", "03-0000-0000"),
        ("legal.representative", "代表取締役 守山一郎"),
    ] {
        env.store
            .settings_put(k, &serde_json::to_string(v).unwrap(), 1, None)
            .await
            .unwrap();
    }
    let desk = Desk::new(env.gw.clone());
    let by = Principal::Staff("owner-1".into());
    let incident = copied_with_scope(&desk, &by).await;
    let draft = draft();
    let opts = NoticeOptions {
        bounce_domain: Some(DOMAIN.into()),
        batch: 4,
    };
    desk.start_notices(incident, &by, &draft, 60, &opts)
        .await
        .unwrap();
    let records = env.gw.records();
    let notices = records.notices_list(incident, 0, 100).await.unwrap();
    assert_eq!(notices.len(), 7);
    // Run order is customer id order, and the ids are registration-ordered (UUIDv7).
    for (n, id) in notices.iter().zip(&ids) {
        assert_eq!(&n.customer_id, id);
    }
    // Before any bounce: no letter.
    assert_eq!(desk.letter_plan(incident, 2).await.unwrap().letters, 0);
    for (i, n) in notices.iter().enumerate() {
        let (action, status) = if i == 6 {
            ("delayed", "4.2.2")
        } else {
            ("failed", "5.1.1")
        };
        let addr = verp::address(&env.gw, &n.id, DOMAIN).unwrap();
        assert!(desk
            .record_bounce(&dsn(&addr, action, status), None, DOMAIN)
            .await
            .unwrap()
            .is_some());
    }
    let plan = desk.letter_plan(incident, 2).await.unwrap();
    assert_eq!(
        (plan.letters, plan.batches),
        (6, 3),
        "permanent bounces only"
    );
    assert_eq!(desk.letter_plan(incident, 1000).await.unwrap().batches, 1);

    let renderer = LetterRenderer::new(ReportFonts::locate(None).unwrap());
    let before = env.store.ledger_size().await.unwrap();
    let mut batches = Vec::new();
    for b in 1..=plan.batches {
        let input = desk.letter_batch(incident, &by, b, 2).await.unwrap();
        let debug = format!("{input:?}");
        for value in ["山田", "渋谷", "150-", "まもりハイツ", ODD_FAMILY] {
            assert!(!debug.contains(value), "Debug shows no personal value");
        }
        batches.push(renderer.render(&input).unwrap());
    }
    assert!(desk.letter_batch(incident, &by, 4, 2).await.is_err());
    assert!(desk.letter_batch(incident, &by, 0, 2).await.is_err());
    let letters: Vec<usize> = batches.iter().map(|b| b.letters).collect();
    assert_eq!(letters, vec![2, 2, 1]);
    assert_eq!(batches[2].no_address, 1);

    // One read event per print file, naming exactly its people with an address.
    let size = env.store.ledger_size().await.unwrap();
    let events: Vec<AccessEvent> = env
        .store
        .ledger_entries(before, size)
        .await
        .unwrap()
        .iter()
        .map(|r| AccessEvent::from_bytes(&r.event).unwrap())
        .filter(|e| e.purpose == LETTER_PURPOSE)
        .collect();
    assert_eq!(events.len(), 3);
    let named: Vec<Vec<String>> = events.iter().map(|e| e.customers.clone()).collect();
    let mut want: Vec<Vec<String>> =
        vec![ids[0..2].to_vec(), ids[2..4].to_vec(), vec![ids[4].clone()]];
    for w in &mut want {
        w.sort();
    }
    let mut named_sorted = named.clone();
    for n in &mut named_sorted {
        n.sort();
    }
    assert_eq!(named_sorted, want);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.action, Action::Read);
        // The notice job reads (its budget is sized for a run); who asked is in the reason.
        assert_eq!(e.principal, Principal::System(NOTICE_JOB.into()));
        assert_eq!(
            e.fields,
            LETTER_READ_FIELDS
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
        );
        let reason = e.reason.clone().unwrap_or_default();
        assert!(
            reason.contains(&format!("インシデント {incident}")),
            "{reason}"
        );
        assert!(reason.contains(&format!("{}/3", i + 1)), "{reason}");
        assert!(reason.contains("staff:owner-1"), "{reason}");
    }

    // The CSV lists: a BOM, a header, one row per letter with its pages and postal code.
    let mut rows = 0;
    for b in &batches {
        assert!(b.csv.starts_with(&[0xEF, 0xBB, 0xBF]));
        let text = std::str::from_utf8(&b.csv[3..]).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, ["バッチ", "連番", "ページ", "郵便番号", "参照番号"]);
        for (seq, rec) in r.records().enumerate() {
            let rec = rec.unwrap();
            let person = (b.number - 1) * 2 + seq;
            assert_eq!(&rec[0], format!("{}/3", b.number));
            assert_eq!(&rec[1], (seq + 1).to_string());
            let first: usize = rec[2].split('-').next().unwrap().parse().unwrap();
            assert!(first >= 1);
            let (postal, _, _) = place_of(person);
            assert_eq!(&rec[3], format!("{}-{}", &postal[..3], &postal[3..]));
            assert_eq!(&rec[4], notices[person].id);
            rows += 1;
        }
    }
    assert_eq!(rows, 5);
    assert_eq!(batches[0].stem(), format!("letters-{incident}-001of003"));

    // The first letter, read back: the window holds the postal code, the address and the
    // name, and none of the text; the page holds the title, the items and the draft.
    let pdf = &batches[0].pdf;
    assert!(pdf.starts_with(b"%PDF"));
    let page = squeeze(&pdf_text(pdf, 1, None));
    assert!(page.contains(&squeeze(NOTICE_TITLE)), "{page}");
    assert!(
        page.contains("氏名") && page.contains("メールアドレス"),
        "{page}"
    );
    assert!(page.contains("管理画面の認証情報の漏えい"), "{page}");
    assert!(page.contains("フィッシング") || pdf_text(pdf, 2, None).contains("フィッシング"));
    let win = squeeze(&pdf_text(pdf, 1, Some(window())));
    let (postal, city, line1) = place_of(0);
    assert!(
        win.contains(&format!("〒{}-{}", &postal[..3], &postal[3..])),
        "{win}"
    );
    assert!(win.contains(&format!("東京都{city}")), "{win}");
    assert!(
        win.contains(&line1) && win.contains("まもりハイツ101号室"),
        "{win}"
    );
    assert!(
        win.contains(&format!("{ODD_FAMILY}{ODD_GIVEN}様")),
        "literal name: {win}"
    );
    // The sender (差出人) with the seal's place, right of the window.
    assert!(
        page.contains("守り商店") && page.contains("代表取締役守山一郎印"),
        "{page}"
    );
    for outside in ["概要", "お詫び", "原因", "以上", "守り商店", "代表取締役"] {
        assert!(!win.contains(outside), "{outside} in the window: {win}");
    }
    // The second letter of the file starts on the page the CSV names.
    let text = std::str::from_utf8(&batches[0].csv[3..]).unwrap();
    let second_page: usize = text
        .lines()
        .nth(2)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let win2 = squeeze(&pdf_text(pdf, second_page, Some(window())));
    assert!(win2.contains("山田太郎1様"), "{win2}");
}

both_backends!(bounced_notices_become_letters);

/// An address-book entry for person `i`: in `name`, at [`place_of`]`(i)`.
fn book_entry(name: &PersonName, i: usize) -> Recipient {
    let (postal, city, line1) = place_of(i);
    Recipient {
        name: Personal::new(name.clone()),
        address: Personal::new(
            Address::parse(&AddressParts {
                postal_code: postal,
                prefecture: "東京都".into(),
                city,
                line1,
                line2: None,
            })
            .unwrap(),
        ),
        phone: Personal::new(PhoneNumber::parse("09012345678").unwrap()),
    }
}

/// Members who never ordered: one keeps an address-book entry in their own name (after one in
/// another person's name) and gets a letter there; one keeps only another person's address and
/// one keeps none: no letter for them, never one to someone else's door.
async fn a_member_who_never_ordered_gets_a_letter_at_their_own_address(backend: Backend) {
    let env = Env::start(backend).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = PersonName::parse("佐藤", &format!("花子{i}")).unwrap();
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(name.clone()),
            email: Personal::new(Email::parse(&format!("m{i}@example.jp")).unwrap()),
            phone: None,
            birth_date: None,
            gender: None,
        };
        let id = env
            .gw
            .register_customer(&web(), &profile, None)
            .await
            .unwrap();
        let grandmother = PersonName::parse("鈴木", "ハル").unwrap();
        match i {
            0 => {
                env.gw
                    .add_address(&web(), &id, &book_entry(&grandmother, 10))
                    .await
                    .unwrap();
                env.gw
                    .add_address(&web(), &id, &book_entry(&name, 11))
                    .await
                    .unwrap();
            }
            1 => {
                env.gw
                    .add_address(&web(), &id, &book_entry(&grandmother, 12))
                    .await
                    .unwrap();
            }
            _ => {}
        }
        ids.push(id);
    }
    let desk = Desk::new(env.gw.clone());
    let by = Principal::Staff("owner-1".into());
    let incident = copied_with_scope(&desk, &by).await;
    let draft = draft();
    let opts = NoticeOptions {
        bounce_domain: Some(DOMAIN.into()),
        batch: 10,
    };
    desk.start_notices(incident, &by, &draft, 60, &opts)
        .await
        .unwrap();
    let notices = env
        .gw
        .records()
        .notices_list(incident, 0, 10)
        .await
        .unwrap();
    assert_eq!(notices.len(), 3);
    for n in &notices {
        let addr = verp::address(&env.gw, &n.id, DOMAIN).unwrap();
        desk.record_bounce(&dsn(&addr, "failed", "5.1.1"), None, DOMAIN)
            .await
            .unwrap()
            .unwrap();
    }
    let before = env.store.ledger_size().await.unwrap();
    let input = desk.letter_batch(incident, &by, 1, 10).await.unwrap();
    assert_eq!((input.letters.len(), input.no_address), (1, 2));
    let letter = &input.letters[0].address;
    assert_eq!(letter.customer_id, ids[0]);
    let (postal, city, line1) = place_of(11);
    assert_eq!(
        letter.postal_code.expose(),
        &format!("{}-{}", &postal[..3], &postal[3..])
    );
    assert_eq!(letter.locality.expose(), &format!("東京都{city}"));
    assert_eq!(letter.lines[0].expose(), &line1);
    assert_eq!(letter.name.as_ref().unwrap().expose(), "佐藤 花子0");

    // One read: the two members with an address book, of their names and address books.
    let size = env.store.ledger_size().await.unwrap();
    let events: Vec<AccessEvent> = env
        .store
        .ledger_entries(before, size)
        .await
        .unwrap()
        .iter()
        .map(|r| AccessEvent::from_bytes(&r.event).unwrap())
        .filter(|e| e.purpose == LETTER_PURPOSE)
        .collect();
    assert_eq!(events.len(), 1);
    let mut named = events[0].customers.clone();
    named.sort();
    let mut want = ids[0..2].to_vec();
    want.sort();
    assert_eq!(named, want);
    assert_eq!(
        events[0].fields,
        LETTER_BOOK_READ_FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    );
}

both_backends!(a_member_who_never_ordered_gets_a_letter_at_their_own_address);
