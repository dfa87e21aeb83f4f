//! The reports on both backends, from a seeded payment-page incident whose affected set is known
//! by construction: the PPC report (text and PDF) carries every item of 規則8条1項, the scope's
//! counts and the deadlines of a 発覚 on a Friday before a holiday; saved versions are kept as
//! saved; the card companies' CSV lists exactly the attempts of the window and nothing personal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use mamori_domain::*;
use mamori_respond::report::pdf::{PdfRenderer, ReportFonts};
use mamori_respond::report::{ReportKind, ITEM_HEADINGS};
use mamori_respond::{Desk, IncidentKind, NewIncident, RespondError};
use mamori_store::access::AccessEvent;
use mamori_store::gateway::{Buyer, NewOrder, NewShipment};
use mamori_store::{Accessor, Action, Backend, PaymentRow, Principal};
use mamori_testkit::{both_backends, Env};
use mamori_web::settings::keys;

/// The values seeded for the people; none may appear in any report.
const PERSONAL: &[&str] = &[
    "鳩山",
    "花子",
    "榊原",
    "健司",
    "長谷川",
    "美咲",
    "a@example.jp",
    "b@example.jp",
    "09012345678",
    "08098765432",
    "07011112222",
    "千代田区",
    "大阪市北区",
    "札幌市中央区",
    "蒼太郎",
];

fn checkout() -> Accessor {
    Accessor {
        principal: Principal::Guest("session-r".into()),
        purpose: "checkout".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        channel: Some("/checkout".into()),
        reason: None,
    }
}

fn person(family: &str, given: &str) -> Personal<PersonName> {
    Personal::new(PersonName::parse_with_kana(family, given, None, None).unwrap())
}

fn place_in(city: &str) -> Personal<Address> {
    Personal::new(
        Address::parse(&AddressParts {
            postal_code: "1000001".into(),
            prefecture: "東京都".into(),
            city: city.into(),
            line1: "2-3".into(),
            line2: None,
        })
        .unwrap(),
    )
}

fn phone(p: &str) -> Personal<PhoneNumber> {
    Personal::new(PhoneNumber::parse(p).unwrap())
}

/// Registers a customer and places one card order for them, delivered to the given recipient,
/// with or without a 名入れ line; returns the order id.
async fn buy(
    env: &Env,
    who: (&str, &str, &str, &str, &str),
    kind: CustomerKind,
    to: (&str, &str, &str, &str),
    banner: Option<&str>,
) -> String {
    let (family, given, email, tel, city) = who;
    let customer_id = env
        .gw
        .register_customer(
            &checkout(),
            &CustomerProfile {
                kind,
                name: person(family, given),
                email: Personal::new(Email::parse(email).unwrap()),
                phone: Some(phone(tel)),
                birth_date: None,
                gender: None,
            },
            None,
        )
        .await
        .unwrap();
    let key = uuid::Uuid::now_v7().to_string();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let order = NewOrder {
        customer_id,
        idempotency_key: key.clone(),
        payment_method: PaymentMethod::Card,
        buyer: Buyer {
            name: person(family, given),
            email: Personal::new(Email::parse(email).unwrap()),
            phone: phone(tel),
            address: place_in(city),
        },
        items: vec![OrderItem {
            sku: "FLAG-1".into(),
            product_name: "名前旗".into(),
            unit_price_incl: Yen(16_500),
            rate: TaxRate::Standard,
            quantity: 1,
            personalisation: banner.map(|b| {
                Personalisation::new(b, Some(BirthDate::parse("2025-05-05", today).unwrap()))
                    .unwrap()
            }),
            noshi: None,
        }],
        shipments: vec![NewShipment {
            recipient: Recipient {
                name: person(to.0, to.1),
                address: place_in(to.3),
                phone: phone(to.2),
            },
            delivery_date: None,
            slot: DeliverySlot::Unspecified,
        }],
        shipping_fee: Yen(880),
        payment_fee: None,
    };
    env.gw
        .place_order(&checkout(), &order, &format!("R-{key}"))
        .await
        .unwrap()
        .order_id
}

async fn pay(env: &Env, order_id: &str, payment_id: &str, brand: &str, amount: i64, at: i64) {
    env.store
        .payment_upsert(&PaymentRow {
            order_id: order_id.into(),
            provider: "sandbox".into(),
            payment_id: payment_id.into(),
            status: PaymentAttemptState::Succeeded,
            amount,
            brand: Some(brand.into()),
            last4: Some("4242".into()),
            created_at: at,
            updated_at: at,
        })
        .await
        .unwrap();
}

fn owner() -> Principal {
    Principal::Staff("staff-owner".into())
}

/// A shop with its settings, two card buyers in the window (a member buying for themself; a
/// guest sending a 名入れ banner to someone else) and one member paying before it; and a
/// payment-page incident known on Friday 2027-01-08 (Monday the 11th is 成人の日), its scope
/// computed. Returns the incident's number.
async fn seeded(env: &Env, desk: &Desk) -> i64 {
    for (k, v) in [
        (keys::NAME, "\"株式会社まもり商店\""),
        (keys::ADDRESS, "\"東京都港区芝公園4-2-8\""),
        (keys::REPRESENTATIVE, "\"守山一郎\""),
        (keys::PHONE, "\"03-1234-5678\""),
    ] {
        env.store.settings_put(k, v, 1, None).await.unwrap();
    }
    let known = Utc.with_ymd_and_hms(2027, 1, 8, 1, 0, 0).unwrap(); // 10:00 JST, a Friday
    let from = Utc
        .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let a = ("鳩山", "花子", "a@example.jp", "09012345678", "千代田区");
    let b = ("榊原", "健司", "b@example.jp", "08098765432", "大阪市北区");
    let c = ("長谷川", "美咲", "07011112222", "札幌市中央区");
    let o1 = buy(env, a, CustomerKind::Member, (a.0, a.1, a.3, a.4), None).await;
    pay(env, &o1, "pay_in_1", "visa", 17_380, from + 3600).await;
    let o2 = buy(env, b, CustomerKind::Guest, c, Some("蒼太郎")).await;
    pay(env, &o2, "pay_in_2", "mastercard", 18_460, from + 7200).await;
    let o0 = buy(env, a, CustomerKind::Guest, (a.0, a.1, a.3, a.4), None).await;
    pay(env, &o0, "pay_before", "visa", 9_900, from - 1).await;

    let id = desk
        .open(
            &owner(),
            &NewIncident {
                kind: IncidentKind::PaymentPageAltered,
                title: "決済ページの改ざん".into(),
                known_at: known,
                window_from: chrono::DateTime::from_timestamp(from, 0),
                window_to: Some(known),
                principal: None,
                malicious: false,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    desk.compute_scope(id, &owner()).await.unwrap();
    id
}

fn no_personal_value(what: &str, text: &str) {
    for v in PERSONAL {
        assert!(!text.contains(v), "{what} holds a personal value");
    }
}

async fn ppc_report_has_every_item_the_counts_and_the_deadlines(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let id = seeded(&env, &desk).await;
    let settings = mamori_web::settings::ShopSettings::from_stored(
        &env.store.settings_all().await.unwrap(),
        "shop",
    );
    let report = desk
        .report_draft(id, ReportKind::Sokuho, Some(&settings))
        .await
        .unwrap();
    let text = report.to_text();

    assert!(text.starts_with("個人情報保護委員会への報告（速報）\n"));
    for h in ITEM_HEADINGS {
        assert!(text.contains(&format!("\n■ {h}\n")), "missing item {h}");
    }
    for line in [
        "事業者の名称：株式会社まもり商店",
        "代表者の氏名：守山一郎",
        "住所：東京都港区芝公園4-2-8",
        "連絡先：03-1234-5678",
        "担当者：（未記入）",
        "発覚日時：2027年1月8日（金）10:00",
    ] {
        assert!(text.contains(line), "missing {line}");
    }
    // The scope's counts: one member, one guest, one recipient who is not the buyer, one 名入れ.
    for line in [
        "対象期間の決済件数：2件",
        "区分別の人数（延べ 4名）",
        "・カード入力ページに到達した会員：1名",
        "・カード入力ページに到達したゲスト購入者：1名",
        "・購入者以外のお届け先：1名",
        "・名入れ情報の対象者：1名",
        "・クレジットカード番号：2名",
        "・お届け先の住所：1名",
        "・名入れ情報（名前・生年月日）：1名",
    ] {
        assert!(text.contains(line), "missing {line}");
    }
    // The draft's items are filled from the scope too.
    assert!(report.fields.people.starts_with("延べ4名"));
    assert!(report
        .fields
        .data_items
        .contains("・クレジットカード番号（2名）"));
    // 発覚 Friday 2027-01-08, Monday the 11th a holiday: 速報 the 11th to the 13th; 確報 on day
    // 30 (Saturday 6 Feb) moves to Monday the 8th; the card companies count business days from
    // Tuesday the 12th.
    for line in [
        "・個人情報保護委員会への速報（本報告）：2027年1月11日（月）から2027年1月13日（水）まで",
        "・個人情報保護委員会への確報：2027年2月8日（月）まで",
        "・カード会社・アクワイアラへの事故報告：2027年1月14日（木）まで",
        "・カード会社・アクワイアラへの対象カード一覧：2027年1月25日（月）まで",
    ] {
        assert!(text.contains(line), "missing {line}");
    }
    no_personal_value("the text report", &text);

    // The PDF: the Japanese text comes back out of it (the fonts are embedded, not boxes).
    let pdf = PdfRenderer::new(ReportFonts::locate(None).unwrap())
        .render(&report)
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils)");
    assert!(out.status.success());
    let extracted: String = String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for want in ITEM_HEADINGS.iter().copied().chain([
        "個人情報保護委員会への報告（速報）",
        "株式会社まもり商店",
        "2027年2月8日（月）まで",
    ]) {
        assert!(extracted.contains(want), "the PDF's text lacks {want}");
    }
    no_personal_value("the PDF", &extracted);
}

async fn saved_versions_are_kept_and_on_the_timeline(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let id = seeded(&env, &desk).await;
    let draft = desk
        .report_draft(id, ReportKind::Sokuho, None)
        .await
        .unwrap();
    assert!(draft.fields.reporter.business_name.is_empty());
    let mut fields = draft.fields.clone();
    fields.reporter.contact_person = "情報管理室 佐藤".into();
    fields.cause = "第一版の原因".into();
    let v1 = desk
        .report_save(id, &owner(), ReportKind::Sokuho, fields.clone())
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let mut changed = fields.clone();
    changed.cause = "第二版の原因".into();
    let v2 = desk
        .report_save(id, &owner(), ReportKind::Sokuho, changed)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);

    // The next draft starts from the latest version; a 確報 starts from the 速報.
    let next = desk
        .report_draft(id, ReportKind::Sokuho, None)
        .await
        .unwrap();
    assert_eq!(next.fields.cause, "第二版の原因");
    let kakuho = desk
        .report_draft(id, ReportKind::Kakuho, None)
        .await
        .unwrap();
    assert_eq!(kakuho.fields.cause, "第二版の原因");
    assert!(kakuho
        .to_text()
        .contains("・個人情報保護委員会への確報（本報告）"));

    // The first version is unchanged, in the store and as rendered.
    let stored = desk.report_versions(id).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], v1);
    let old = desk.report_version(id, &v1.id).await.unwrap();
    assert_eq!(old.fields, fields);
    assert!(old.to_text().contains("第1版"));
    assert!(old.to_text().contains("第一版の原因"));
    assert!(!old.to_text().contains("第二版の原因"));
    assert!(matches!(
        desk.report_version(id, "no-such-version").await,
        Err(RespondError::ReportVersionNotFound)
    ));

    // Each save is a timeline entry naming the version and its hash, and a ledger event.
    let view = desk.show(id).await.unwrap();
    for v in [&v1, &v2] {
        let e = view
            .timeline
            .iter()
            .find(|e| e.ref_id.as_deref() == Some(v.id.as_str()))
            .expect("the save is on the timeline");
        assert_eq!(e.seq, v.timeline_seq);
        assert_eq!(e.kind, "staff_action");
        assert!(e.text.contains(&v.content_sha256));
        let row = &env
            .store
            .ledger_entries(e.ledger_seq as u64, 1)
            .await
            .unwrap()[0];
        let ev = AccessEvent::from_bytes(&row.event).unwrap();
        assert_eq!(ev.action, Action::Incident);
        assert_eq!(ev.channel.as_deref(), Some(v.id.as_str()));
    }

    // Too long is refused, and nothing is saved.
    let mut long = fields;
    long.overview = "あ".repeat(8001);
    assert!(matches!(
        desk.report_save(id, &owner(), ReportKind::Sokuho, long)
            .await,
        Err(RespondError::Invalid(_))
    ));
    assert_eq!(desk.report_versions(id).await.unwrap().len(), 2);
}

async fn card_csv_lists_the_window_s_attempts_and_nothing_personal(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let id = seeded(&env, &desk).await;
    let card = desk.card_report(id).await.unwrap();
    assert_eq!(card.scope.payment_attempts, 2);

    let csv = card.attempts_csv().unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "決済ID,決済代行会社,カードブランド,決済日時（日本時間）,金額（円）,状態,注文番号",
            &format!(
                "pay_in_1,sandbox,visa,2027年1月1日（金）10:00,17380,決済完了,{}",
                card.attempts[0].order_number
            ),
            &format!(
                "pay_in_2,sandbox,mastercard,2027年1月1日（金）11:00,18460,決済完了,{}",
                card.attempts[1].order_number
            ),
        ]
    );
    no_personal_value("the card CSV", &text);

    let timeline = String::from_utf8(card.timeline_csv().unwrap()[3..].to_vec()).unwrap();
    let rows: Vec<&str> = timeline.lines().collect();
    assert_eq!(rows.len(), 1 + card.timeline.len());
    assert!(rows[1].starts_with("1,") && rows[1].contains(",起票,"));
    assert!(rows.iter().any(|r| r.contains(",影響範囲の算出,")));
    no_personal_value("the timeline CSV", &timeline);

    // Another kind has no card companies' report.
    let other = desk
        .open(
            &owner(),
            &NewIncident {
                kind: IncidentKind::StaffMisuse,
                title: "閲覧".into(),
                known_at: Utc::now(),
                window_from: None,
                window_to: None,
                principal: None,
                malicious: false,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        desk.card_report(other).await,
        Err(RespondError::Invalid(_))
    ));
}

#[test]
fn missing_fonts_are_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = ReportFonts::locate(Some(empty.path())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("fonts-ipaexfont-gothic"), "{msg}");
    assert!(msg.contains("ipaexm.ttf"), "{msg}");
}

both_backends!(
    ppc_report_has_every_item_the_counts_and_the_deadlines,
    saved_versions_are_kept_and_on_the_timeline,
    card_csv_lists_the_window_s_attempts_and_nothing_personal,
);
