//! The scope of a copied database and of card data found on a server, on both backends, against
//! a seeded shop (and real files scanned by the real scanner) whose true affected set is known
//! by construction: no one missing, no one extra, per category and per data item.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use mamori_domain::*;
use mamori_respond::scope::{card_scan, category, KeyLeak, Subject};
use mamori_respond::{CardScanScope, Desk, IncidentKind, NewIncident, RespondError};
use mamori_store::gateway::{Buyer, NewOrder, NewShipment};
use mamori_store::{Accessor, Backend, Principal};
use mamori_testkit::{both_backends, Env};

/// A seeded person: (family, given, email, phone, city).
type Person = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const MEMBER_1: Person = ("青木", "一郎", "m1@example.jp", "09010000001", "港区");
const MEMBER_2: Person = ("井上", "二葉", "m2@example.jp", "09010000002", "品川区");
const GUEST_1: Person = ("上田", "三郎", "g1@example.jp", "09010000003", "目黒区");
const GUEST_2: Person = ("江口", "四季", "g2@example.jp", "09010000004", "大田区");
const FRIEND: Person = ("岡本", "五月", "f1@example.jp", "09010000005", "渋谷区");
const LATE: Person = ("加藤", "六花", "l1@example.jp", "09010000006", "中野区");
const ERASED: Person = ("木村", "七海", "e1@example.jp", "09010000007", "杉並区");
const CANARY: Person = ("久保", "八雲", "c1@example.jp", "09010000008", "豊島区");

fn acc() -> Accessor {
    Accessor {
        principal: Principal::Guest("session-9".into()),
        purpose: "checkout".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        channel: Some("/checkout".into()),
        reason: None,
    }
}

fn owner() -> Principal {
    Principal::Staff("staff-owner".into())
}

fn recipient_of(p: Person) -> Recipient {
    Recipient {
        name: Personal::new(PersonName::parse_with_kana(p.0, p.1, None, None).unwrap()),
        address: Personal::new(
            Address::parse(&AddressParts {
                postal_code: "1500001".into(),
                prefecture: "東京都".into(),
                city: p.4.into(),
                line1: "2-3".into(),
                line2: None,
            })
            .unwrap(),
        ),
        phone: Personal::new(PhoneNumber::parse(p.3).unwrap()),
    }
}

async fn register(env: &Env, p: Person, kind: CustomerKind) -> String {
    let r = recipient_of(p);
    let profile = CustomerProfile {
        kind,
        name: r.name,
        email: Personal::new(Email::parse(p.2).unwrap()),
        phone: Some(r.phone),
        birth_date: None,
        gender: None,
    };
    env.gw
        .register_customer(&acc(), &profile, None)
        .await
        .unwrap()
}

/// Places an order by `buyer` delivered to each of `to`, with `banners` lines of 名入れ.
async fn buy(env: &Env, customer_id: &str, buyer: Person, to: &[Person], banners: usize) -> String {
    let b = recipient_of(buyer);
    let mut items: Vec<OrderItem> = (0..banners)
        .map(|i| OrderItem {
            sku: format!("FLAG-{i}"),
            product_name: "名前旗".into(),
            unit_price_incl: Yen(11_000),
            rate: TaxRate::Standard,
            quantity: 1,
            personalisation: Some(Personalisation::new("大和", None).unwrap()),
            noshi: None,
        })
        .collect();
    items.push(OrderItem {
        sku: "RICE-5".into(),
        product_name: "米".into(),
        unit_price_incl: Yen(3_240),
        rate: TaxRate::Reduced,
        quantity: 1,
        personalisation: None,
        noshi: None,
    });
    let key = uuid::Uuid::now_v7().to_string();
    let order = NewOrder {
        customer_id: customer_id.into(),
        idempotency_key: key.clone(),
        payment_method: PaymentMethod::BankTransfer,
        buyer: Buyer {
            name: b.name,
            email: Personal::new(Email::parse(buyer.2).unwrap()),
            phone: b.phone,
            address: b.address,
        },
        items,
        shipments: to
            .iter()
            .map(|p| NewShipment {
                recipient: recipient_of(*p),
                delivery_date: None,
                slot: DeliverySlot::Unspecified,
            })
            .collect(),
        shipping_fee: Yen(880),
        payment_fee: None,
    };
    env.gw
        .place_order(&acc(), &order, &format!("N-{key}"))
        .await
        .unwrap()
        .order_id
}

async fn sql(env: &Env, statement: &str) {
    if env.url.starts_with("sqlite:") {
        let s = mamori_store::SqliteStore::open(&env.url).await.unwrap();
        sqlx::query(statement).execute(s.pool()).await.unwrap();
    } else {
        let s = mamori_store::PgStore::open(&env.url).await.unwrap();
        sqlx::query(statement).execute(s.pool()).await.unwrap();
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn person(customer_id: &str, fields: &[&str]) -> Subject {
    Subject {
        customer_id: customer_id.into(),
        order_id: None,
        shipment_no: None,
        people: 1,
        fields: strings(fields),
    }
}

const PROFILE_AND_ORDER: &[&str] = &[
    "customers.name",
    "customers.email",
    "customers.phone",
    "orders.buyer_name",
    "orders.buyer_email",
    "orders.buyer_phone",
    "orders.buyer_address",
];
const WITH_BOOK: &[&str] = &[
    "customers.name",
    "customers.email",
    "customers.phone",
    "addresses.name",
    "addresses.address",
    "addresses.phone",
];

fn assert_no_personal_value(json: &str) {
    for p in [
        MEMBER_1, MEMBER_2, GUEST_1, GUEST_2, FRIEND, LATE, ERASED, CANARY,
    ] {
        for v in [p.0, p.1, p.2, p.3, p.4] {
            assert!(!json.contains(v), "a personal value is in the scope");
        }
    }
}

async fn database_copied_scope_is_what_was_stored_then(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());

    // In the copy: two members (one with an address book and no order), two guests.
    let m1 = register(&env, MEMBER_1, CustomerKind::Member).await;
    let o_m1 = buy(&env, &m1, MEMBER_1, &[MEMBER_1], 1).await;
    let m2 = register(&env, MEMBER_2, CustomerKind::Member).await;
    env.gw
        .add_address(&acc(), &m2, &recipient_of(FRIEND))
        .await
        .unwrap();
    let g1 = register(&env, GUEST_1, CustomerKind::Guest).await;
    // Delivered to a friend (not the buyer) and to the buyer: only the friend is a recipient.
    let o_g1 = buy(&env, &g1, GUEST_1, &[FRIEND, GUEST_1], 2).await;
    let g2 = register(&env, GUEST_2, CustomerKind::Guest).await;
    buy(&env, &g2, GUEST_2, &[GUEST_2], 0).await;

    // Not in the copy: erased before it, a canary, and a customer and an order made after it.
    let erased = register(&env, ERASED, CustomerKind::Member).await;
    buy(&env, &erased, ERASED, &[FRIEND], 1).await;
    env.gw.erase_customer(&acc(), &erased).await.unwrap();
    let canary = register(&env, CANARY, CustomerKind::Member).await;
    buy(&env, &canary, CANARY, &[FRIEND], 1).await;
    env.gw.mark_canary(&canary).await.unwrap();
    let late = register(&env, LATE, CustomerKind::Member).await;
    let o_late = buy(&env, &late, LATE, &[FRIEND], 1).await;
    let o_m2_late = buy(&env, &m2, MEMBER_2, &[FRIEND], 1).await;

    let t = Utc::now().timestamp() + 60;
    let after_us = (t + 60) * 1_000_000;
    sql(
        &env,
        &format!("UPDATE customers SET created_at = {after_us} WHERE id = '{late}'"),
    )
    .await;
    sql(
        &env,
        &format!(
            "UPDATE orders SET placed_at = {after_us} WHERE id IN ('{o_late}', '{o_m2_late}')"
        ),
    )
    .await;

    let id = desk
        .open(
            &owner(),
            &NewIncident {
                kind: IncidentKind::DatabaseCopied,
                title: "バックアップの持ち出し".into(),
                known_at: Utc.timestamp_opt(t + 3_600, 0).unwrap(),
                window_from: None,
                window_to: Some(Utc.timestamp_opt(t, 0).unwrap()),
                principal: None,
                malicious: true,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    let snap = desk.compute_scope(id, &owner()).await.unwrap();
    let scope = &snap.scope;
    assert_eq!(scope.stored_at, Some(t));

    let mut members = vec![person(&m1, PROFILE_AND_ORDER), person(&m2, WITH_BOOK)];
    members.sort();
    let mut guests = vec![
        person(&g1, PROFILE_AND_ORDER),
        person(&g2, PROFILE_AND_ORDER),
    ];
    guests.sort();
    let recipients = vec![Subject {
        customer_id: g1.clone(),
        order_id: Some(o_g1.clone()),
        shipment_no: Some(1),
        people: 1,
        fields: strings(&["shipments.name", "shipments.address", "shipments.phone"]),
    }];
    let mut banners = vec![
        Subject {
            customer_id: m1.clone(),
            order_id: Some(o_m1.clone()),
            shipment_no: None,
            people: 1,
            fields: strings(&["order_items.personalisation"]),
        },
        Subject {
            customer_id: g1.clone(),
            order_id: Some(o_g1.clone()),
            shipment_no: None,
            people: 2,
            fields: strings(&["order_items.personalisation"]),
        },
    ];
    banners.sort();
    let expected: BTreeMap<String, Vec<Subject>> = [
        (category::MEMBERS.to_owned(), members),
        (category::GUESTS.to_owned(), guests),
        (category::RECIPIENTS.to_owned(), recipients),
        (category::PERSONALISATION.to_owned(), banners),
    ]
    .into_iter()
    .collect();
    assert_eq!(scope.subjects, expected);
    let counts: BTreeMap<String, u64> = [
        (category::MEMBERS, 2),
        (category::GUESTS, 2),
        (category::RECIPIENTS, 1),
        (category::PERSONALISATION, 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(scope.categories, counts);
    let items: BTreeMap<String, u64> = [
        ("customers.name", 4),
        ("customers.email", 4),
        ("customers.phone", 4),
        ("addresses.name", 1),
        ("addresses.address", 1),
        ("addresses.phone", 1),
        ("orders.buyer_name", 3),
        ("orders.buyer_email", 3),
        ("orders.buyer_phone", 3),
        ("orders.buyer_address", 3),
        ("shipments.name", 1),
        ("shipments.address", 1),
        ("shipments.phone", 1),
        ("order_items.personalisation", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(scope.data_items, items);
    for left_out in [&erased, &canary, &late] {
        assert!(!scope.customer_ids().contains(left_out));
    }
    assert!(scope
        .notes
        .iter()
        .any(|n| n.contains("カナリア") && n.contains("1 件")));
    assert_no_personal_value(&snap.row.content);

    // The APPI point: unanswered counts as owed; "no" takes the sealed items out; "unknown"
    // puts them back. Each answer is on the timeline.
    let appi = scope.appi.as_ref().unwrap();
    assert_eq!(appi.key_leak, None);
    assert!(appi.report_owed);
    assert_eq!(appi.reportable_items, scope.data_items);
    assert_eq!(appi.reportable_people, 8);
    assert_eq!(appi.outcomes.len(), 3);
    assert!(appi.unsealed_items.iter().all(|u| !u.identifies));
    assert_eq!(appi.sealed_items.len(), items.len());

    let entry = desk
        .answer_key_leak(id, &owner(), KeyLeak::No)
        .await
        .unwrap();
    assert_eq!(entry.ref_id.as_deref(), Some("key_leak:no"));
    assert!(entry.ledger_seq >= 0);
    let no = desk.compute_scope(id, &owner()).await.unwrap().scope;
    let appi = no.appi.as_ref().unwrap();
    assert_eq!(appi.key_leak, Some(KeyLeak::No));
    assert!(!appi.report_owed);
    assert!(appi.reportable_items.is_empty());
    assert_eq!(appi.reportable_people, 0);
    // The people and items stored are the same; only what is owed changed.
    assert_eq!(no.data_items, scope.data_items);
    assert_eq!(no.subjects, scope.subjects);

    desk.answer_key_leak(id, &owner(), KeyLeak::Unknown)
        .await
        .unwrap();
    let unknown = desk.compute_scope(id, &owner()).await.unwrap().scope;
    let appi = unknown.appi.as_ref().unwrap();
    assert_eq!(appi.key_leak, Some(KeyLeak::Unknown));
    assert!(appi.report_owed);
    assert_eq!(appi.reportable_items, items);
    assert_eq!(desk.key_leak(id).await.unwrap(), Some(KeyLeak::Unknown));
}

/// Test card numbers of the scanner's own tests and the brands' published ones.
const CARDS: &[(&str, &str)] = &[
    ("4111111111111111", "Visa"),
    ("4556737586899855", "Visa"),
    ("5555555555554444", "Mastercard"),
    ("378282246310005", "American Express"),
    ("3530111333300000", "JCB"),
];

fn scan_report(dir: &std::path::Path) -> Vec<u8> {
    let opts = mamori_scan::ScanOptions {
        threads: 1,
        ..Default::default()
    };
    let report = mamori_scan::Scanner::new(opts).scan_paths(&[dir.to_path_buf()]);
    let mut w = mamori_scan::output::ReportWriter::new(
        Vec::new(),
        mamori_scan::output::Format::Jsonl,
        false,
    );
    for f in &report.findings {
        w.finding(f).unwrap();
    }
    w.finish(&report.summary).unwrap()
}

async fn card_scan_scope_counts_brands_and_files_masked(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("orders.log"), dir.path().join("dump.csv"));
    // orders.log: two Visa (one of them twice) and a Mastercard; dump.csv: Amex and JCB.
    std::fs::write(
        &a,
        format!(
            "card {} ok\ncard {} ok\ncard {} retry\ncard {} ok\n",
            CARDS[0].0, CARDS[1].0, CARDS[1].0, CARDS[2].0
        ),
    )
    .unwrap();
    std::fs::write(&b, format!("id,card\n1,{}\n2,{}\n", CARDS[3].0, CARDS[4].0)).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "nothing here 12345\n").unwrap();
    let report = scan_report(dir.path());

    let id = desk
        .open(
            &owner(),
            &NewIncident {
                kind: IncidentKind::CardDataFound,
                title: "ログにカード番号".into(),
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
    // Without a report there is nothing to compute from.
    assert!(matches!(
        desk.compute_scope(id, &owner()).await,
        Err(RespondError::Invalid(_))
    ));
    let scan = CardScanScope::from_jsonl(&report).unwrap();
    let snap = desk
        .compute_scope_with(id, &owner(), Some(scan))
        .await
        .unwrap();
    let card = snap.scope.card_scan.as_ref().unwrap();
    let brands = |v: &[(&str, u64)]| -> BTreeMap<String, u64> {
        v.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    };
    assert_eq!(
        card.by_brand,
        brands(&[
            ("Visa", 3),
            ("Mastercard", 1),
            ("American Express", 1),
            ("JCB", 1)
        ])
    );
    assert_eq!(card.findings, 6);
    assert_eq!(card.distinct_masked, 5);
    let locations: Vec<&str> = card.files.iter().map(|f| f.location.as_str()).collect();
    let (a_s, b_s) = (a.to_string_lossy(), b.to_string_lossy());
    let mut want = vec![a_s.as_ref(), b_s.as_ref()];
    want.sort();
    assert_eq!(locations, want);
    let file_a = card.files.iter().find(|f| f.location == a_s).unwrap();
    assert_eq!(file_a.count, 4);
    assert_eq!(file_a.by_brand, brands(&[("Visa", 3), ("Mastercard", 1)]));
    assert_eq!(
        file_a.masked,
        vec!["411111******1111", "455673******9855", "555555******4444"]
    );
    let file_b = card.files.iter().find(|f| f.location == b_s).unwrap();
    assert_eq!(file_b.count, 2);
    assert_eq!(
        file_b.by_brand,
        brands(&[("American Express", 1), ("JCB", 1)])
    );
    assert_eq!(snap.scope.categories.get(card_scan::CARDS_FOUND), Some(&5));
    assert_eq!(
        snap.scope.data_items.get(card_scan::CARD_NUMBER_ITEM),
        Some(&5)
    );

    // No full card number in the scope, the snapshot or the stored row.
    let stored = env.store.incident_scopes(id).await.unwrap();
    for text in [
        snap.scope.canonical_json(),
        snap.row.content.clone(),
        stored[0].content.clone(),
    ] {
        for (pan, _) in CARDS {
            assert!(!text.contains(pan), "a full card number is in the scope");
        }
    }

    // Computed again without a report: the saved findings are used, the same scope results.
    let again = desk.compute_scope(id, &owner()).await.unwrap();
    assert_eq!(again.scope.card_scan, snap.scope.card_scan);

    // A report with an unmasked number is refused.
    let leaky = format!(
        "{{\"type\":\"finding\",\"path\":\"x\",\"brand\":\"Visa\",\"masked\":\"{}\"}}\n",
        CARDS[0].0
    );
    assert!(CardScanScope::from_jsonl(leaky.as_bytes()).is_err());
    assert!(CardScanScope::from_jsonl(b"not json\n").is_err());
}

both_backends!(
    database_copied_scope_is_what_was_stored_then,
    card_scan_scope_counts_brands_and_files_masked,
);
