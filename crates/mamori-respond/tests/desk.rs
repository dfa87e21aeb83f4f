//! The incident desk on both backends: the record and its timeline (each entry in the ledger,
//! the table append-only), and scopes computed against a seeded shop whose true affected set is
//! known by construction: no one missing, no one extra.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mamori_domain::*;
use mamori_respond::scope::{category, Subject};
use mamori_respond::{Desk, IncidentKind, NewIncident, RespondError};
use mamori_store::access::AccessEvent;
use mamori_store::gateway::{fields, Buyer, CustomerField, NewOrder, NewShipment};
use mamori_store::{Accessor, Action, Backend, PaymentRow, Principal};
use mamori_testkit::{both_backends, Env};

struct Who {
    family: &'static str,
    given: &'static str,
    email: &'static str,
    phone: &'static str,
    city: &'static str,
    banner: &'static str,
}

const A: Who = Who {
    family: "鳩山",
    given: "花子",
    email: "a@example.jp",
    phone: "09012345678",
    city: "千代田区",
    banner: "蒼太郎",
};
const B: Who = Who {
    family: "榊原",
    given: "健司",
    email: "b@example.jp",
    phone: "08098765432",
    city: "大阪市北区",
    banner: "結衣花",
};
const C: Who = Who {
    family: "長谷川",
    given: "美咲",
    email: "c@example.jp",
    phone: "07011112222",
    city: "札幌市中央区",
    banner: "陽翔",
};
const D: Who = Who {
    family: "小野寺",
    given: "誠",
    email: "d@example.jp",
    phone: "09033334444",
    city: "福岡市博多区",
    banner: "凛",
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
}

fn name(p: &Who) -> PersonName {
    PersonName::parse_with_kana(p.family, p.given, None, None).unwrap()
}

fn address(p: &Who) -> Address {
    Address::parse(&AddressParts {
        postal_code: "1000001".into(),
        prefecture: "東京都".into(),
        city: p.city.into(),
        line1: "1-1".into(),
        line2: None,
    })
    .unwrap()
}

fn recipient(p: &Who) -> Recipient {
    Recipient {
        name: Personal::new(name(p)),
        address: Personal::new(address(p)),
        phone: Personal::new(PhoneNumber::parse(p.phone).unwrap()),
    }
}

fn profile(p: &Who, kind: CustomerKind) -> CustomerProfile {
    CustomerProfile {
        kind,
        name: Personal::new(name(p)),
        email: Personal::new(Email::parse(p.email).unwrap()),
        phone: Some(Personal::new(PhoneNumber::parse(p.phone).unwrap())),
        birth_date: None,
        gender: None,
    }
}

fn web() -> Accessor {
    Accessor {
        principal: Principal::Guest("session-1".into()),
        purpose: "checkout".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        channel: Some("/checkout".into()),
        reason: None,
    }
}

fn item(sku: &str, banner: Option<&str>) -> OrderItem {
    OrderItem {
        sku: sku.into(),
        product_name: "名前旗".into(),
        unit_price_incl: Yen(16_500),
        rate: TaxRate::Standard,
        quantity: 1,
        personalisation: banner.map(|b| {
            Personalisation::new(b, Some(BirthDate::parse("2025-05-05", today()).unwrap())).unwrap()
        }),
        noshi: None,
    }
}

/// An order by `buyer`, delivered to each of `to`, with `banners` lines of 名入れ (and one plain
/// line).
fn order(customer_id: &str, buyer: &Who, to: &[&Who], banners: usize, key: &str) -> NewOrder {
    let mut items: Vec<OrderItem> = (0..banners)
        .map(|i| item(&format!("BANNER-{i}"), Some(to[0].banner)))
        .collect();
    items.push(item("TEA-200", None));
    NewOrder {
        customer_id: customer_id.into(),
        idempotency_key: key.into(),
        payment_method: PaymentMethod::Card,
        buyer: Buyer {
            name: Personal::new(name(buyer)),
            email: Personal::new(Email::parse(buyer.email).unwrap()),
            phone: Personal::new(PhoneNumber::parse(buyer.phone).unwrap()),
            address: Personal::new(address(buyer)),
        },
        items,
        shipments: to
            .iter()
            .map(|p| NewShipment {
                recipient: recipient(p),
                delivery_date: None,
                slot: DeliverySlot::Unspecified,
            })
            .collect(),
        shipping_fee: Yen(880),
        payment_fee: None,
    }
}

async fn customer(env: &Env, who: &Who, kind: CustomerKind) -> String {
    env.gw
        .register_customer(&web(), &profile(who, kind), None)
        .await
        .unwrap()
}

async fn place(env: &Env, o: &NewOrder) -> String {
    env.gw
        .place_order(&web(), o, &format!("N-{}", o.idempotency_key))
        .await
        .unwrap()
        .order_id
}

async fn pay(env: &Env, order_id: &str, payment_id: &str, at: i64) {
    env.store
        .payment_upsert(&PaymentRow {
            order_id: order_id.into(),
            provider: "sandbox".into(),
            payment_id: payment_id.into(),
            status: PaymentAttemptState::Pending,
            amount: 18_460,
            brand: Some("visa".into()),
            last4: Some("4242".into()),
            created_at: at,
            updated_at: at,
        })
        .await
        .unwrap();
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn incident(kind: IncidentKind) -> NewIncident {
    NewIncident {
        kind,
        title: "テスト".into(),
        known_at: at(2027, 1, 8, 1),
        window_from: None,
        window_to: None,
        principal: None,
        malicious: false,
        alert_id: None,
    }
}

fn owner() -> Principal {
    Principal::Staff("staff-owner".into())
}

async fn events(env: &Env) -> Vec<AccessEvent> {
    let size = env.store.ledger_size().await.unwrap();
    env.store
        .ledger_entries(0, size)
        .await
        .unwrap()
        .iter()
        .map(|r| AccessEvent::from_bytes(&r.event).unwrap())
        .collect()
}

async fn timeline_is_append_only_and_in_the_ledger(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());

    // From an alert that exists; an unknown alert is refused.
    let raised = env
        .gw
        .raise_alert(
            &mamori_store::NewAlertRow {
                id: uuid::Uuid::now_v7().to_string(),
                kind: "script.changed".into(),
                severity: "critical".into(),
                subject: "page:/checkout/confirm".into(),
                evidence: "{}".into(),
                at: at(2027, 1, 8, 0).timestamp(),
            },
            Vec::new(),
            &[],
            None,
        )
        .await
        .unwrap();
    let mut new = incident(IncidentKind::CardScriptAltered);
    new.alert_id = Some("no-such-alert".into());
    assert!(matches!(
        desk.open(&owner(), &new).await,
        Err(RespondError::Invalid(_))
    ));
    new.alert_id = Some(raised.id.clone());
    let id = desk.open(&owner(), &new).await.unwrap();
    desk.note(id, &owner(), "カード決済を停止し、決済代行会社に連絡した")
        .await
        .unwrap();
    assert!(matches!(
        desk.note(id, &owner(), "   ").await,
        Err(RespondError::Invalid(_))
    ));
    assert!(matches!(
        desk.note(id + 100, &owner(), "x").await,
        Err(RespondError::NotFound(_))
    ));

    let view = desk.show(id).await.unwrap();
    assert_eq!(view.kind, IncidentKind::CardScriptAltered);
    assert_eq!(view.row.alert_id.as_deref(), Some(raised.id.as_str()));
    let kinds: Vec<&str> = view.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "alert", "note"]);
    assert_eq!(
        view.timeline.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // Card kinds carry the card companies' deadlines too.
    assert_eq!(view.deadlines.len(), 4);

    // Each entry is the ledger event at its ledger_seq, whose reason is the entry's digest.
    let all = events(&env).await;
    for e in &view.timeline {
        let ev = &all[e.ledger_seq as usize];
        assert_eq!(ev.action, Action::Incident);
        assert_eq!(ev.principal, owner());
        assert_eq!(ev.purpose, format!("incident.{}", e.kind));
        assert_eq!(ev.request_id, format!("incident:{id}"));
        let digest = mamori_respond::desk::entry_digest(
            id,
            &e.kind,
            e.at,
            &e.actor,
            e.ref_id.as_deref(),
            &e.text,
        );
        assert_eq!(
            ev.reason.as_deref(),
            Some(format!("sha256:{digest}").as_str())
        );
        assert!(ev.customers.is_empty());
    }

    // The database refuses to change or remove an entry.
    let update = "UPDATE incident_timeline SET text = 'changed' WHERE seq = 3";
    let delete = "DELETE FROM incident_timeline";
    for sql in [update, delete] {
        let refused = tokio::spawn({
            let url = env.url.clone();
            let sql = sql.to_owned();
            async move { raw(&url, &sql).await }
        })
        .await
        .unwrap();
        assert!(refused.is_err(), "{sql} must be refused");
    }
    assert_eq!(desk.show(id).await.unwrap().timeline.len(), 3);

    // Listing and state.
    desk.set_state(id, &owner(), "contained").await.unwrap();
    let list = desk.list(0, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].state, "contained");
    assert_eq!(desk.show(id).await.unwrap().timeline.len(), 4);
}

/// Runs one statement on the test database; its error, if the database refused it.
async fn raw(url: &str, sql: &str) -> Result<(), String> {
    if url.starts_with("sqlite:") {
        let s = mamori_store::SqliteStore::open(url).await.unwrap();
        sqlx::query(sql)
            .execute(s.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        let s = mamori_store::PgStore::open(url).await.unwrap();
        sqlx::query(sql)
            .execute(s.pool())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

async fn staff_misuse_scope_is_exactly_what_the_principal_opened(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let c1 = customer(&env, &A, CustomerKind::Member).await;
    let c2 = customer(&env, &B, CustomerKind::Member).await;
    let c3 = customer(&env, &C, CustomerKind::Member).await;
    let c4 = customer(&env, &D, CustomerKind::Guest).await;
    let o4 = place(&env, &order(&c4, &D, &[&D], 1, "o4")).await;

    let mallory = "staff-mallory";
    let now = Utc::now().timestamp();
    let (from, to) = (now - 3600, now + 3600);

    // Outside the window, the same principal read c3 (two days ago; written straight to the
    // ledger with its time, as an old entry is).
    let old = Accessor::staff(mallory, "backoffice.customers.detail", "old-req");
    let mut ev = AccessEvent::new(&old, Action::Read, vec![c3.clone()], fields::PROFILE);
    ev.at_us = (from - 2 * 86_400) * 1_000_000;
    env.ledger.record(&ev).await.unwrap();

    // In the window: a masked page of c1, a reveal of c2's phone, the order of c4.
    let acc = |p: &str| Accessor::staff(mallory, p, "req-1");
    env.gw
        .customer_masked(&acc("backoffice.customers.detail"), &c1)
        .await
        .unwrap();
    env.gw
        .reveal(
            &acc("backoffice.customers.reveal").because("電話での問い合わせ対応"),
            &c2,
            CustomerField::Phone,
        )
        .await
        .unwrap();
    env.gw
        .order(&acc("backoffice.orders.detail"), &o4)
        .await
        .unwrap();
    // In the window but a write (collects, opens nothing) naming c3: not opened.
    let mut write = AccessEvent::new(&acc("x"), Action::Write, vec![c3.clone()], fields::PROFILE);
    write.at_us = now * 1_000_000;
    env.ledger.record(&write).await.unwrap();
    // In the window, another member of staff read c3.
    env.gw
        .customer_masked(
            &Accessor::staff("staff-honest", "backoffice.customers.detail", "req-2"),
            &c3,
        )
        .await
        .unwrap();

    let mut new = incident(IncidentKind::StaffMisuse);
    new.window_from = DateTime::from_timestamp(from, 0);
    new.window_to = DateTime::from_timestamp(to, 0);
    new.principal = Some(mallory.into());
    let id = desk.open(&owner(), &new).await.unwrap();
    let size_before = env.store.ledger_size().await.unwrap();
    let snap = desk.compute_scope(id, &owner()).await.unwrap();
    let scope = &snap.scope;

    let expected: BTreeMap<String, Vec<String>> = [
        (
            c1.clone(),
            sorted(fields::MASKED_DETAIL.iter().map(|s| s.to_string())),
        ),
        (c2.clone(), vec!["customers.phone".to_owned()]),
        (
            c4.clone(),
            sorted(fields::ORDER.iter().map(|s| s.to_string())),
        ),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<String, Vec<String>> = scope.subjects[category::CUSTOMERS]
        .iter()
        .map(|s| (s.customer_id.clone(), s.fields.clone()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(scope.categories[category::CUSTOMERS], 3);
    // Per data item: how many customers had it opened.
    let mut items: BTreeMap<String, u64> = BTreeMap::new();
    for f in expected.values().flatten() {
        *items.entry(f.clone()).or_default() += 1;
    }
    assert_eq!(scope.data_items, items);
    assert_eq!(scope.data_items["customers.phone"], 2);

    // The tree head is the one before the scope: its root is the ledger's own at that size.
    assert_eq!(scope.tree.size, size_before);
    let leaves = env.store.ledger_leaf_hashes(size_before).await.unwrap();
    assert_eq!(
        scope.tree.root,
        hex::encode(mamori_ledger::root_of(&leaves))
    );
    // Saved with its hash; the timeline says so; computing again gives the same content apart
    // from the tree head.
    let saved = env.store.incident_scopes(id).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].content, scope.canonical_json());
    assert_eq!(saved[0].content_sha256, scope.sha256());
    assert_eq!(saved[0].tree_size as u64, size_before);
    let again = desk.compute_scope(id, &owner()).await.unwrap();
    assert_eq!(again.scope.subjects, scope.subjects);
    assert!(again.scope.tree.size > scope.tree.size);
    let view = desk.show(id).await.unwrap();
    assert_eq!(view.timeline.last().unwrap().kind, "scope");
    // No personal value in what is saved.
    for v in [A.family, A.phone, B.phone, D.family, D.city, D.banner] {
        assert!(!saved[0].content.contains(v));
    }
}

fn sorted(it: impl Iterator<Item = String>) -> Vec<String> {
    let set: BTreeSet<String> = it.collect();
    set.into_iter().collect()
}

async fn card_page_scope_splits_members_guests_recipients_and_personalisation(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let (from, to) = (at(2027, 1, 1, 0).timestamp(), at(2027, 1, 8, 0).timestamp());
    let inside = from + 3600;

    let m1 = customer(&env, &A, CustomerKind::Member).await;
    let m2 = customer(&env, &B, CustomerKind::Member).await;
    let m3 = customer(&env, &C, CustomerKind::Member).await;
    let g1 = customer(&env, &C, CustomerKind::Guest).await;
    let g2 = customer(&env, &D, CustomerKind::Guest).await;
    let g3 = customer(&env, &A, CustomerKind::Guest).await;

    // m1 buys for themself, paid in the window; and once before it.
    let o_m1 = place(&env, &order(&m1, &A, &[&A], 0, "m1")).await;
    pay(&env, &o_m1, "p-m1", inside).await;
    let o_m1_old = place(&env, &order(&m1, &A, &[&A], 0, "m1-old")).await;
    pay(&env, &o_m1_old, "p-m1-old", from - 1).await;
    // m2 sends a name banner to someone else.
    let o_m2 = place(&env, &order(&m2, &B, &[&C], 1, "m2")).await;
    pay(&env, &o_m2, "p-m2", to - 1).await;
    // g1 buys two banners for their own household.
    let o_g1 = place(&env, &order(&g1, &C, &[&C], 2, "g1")).await;
    pay(&env, &o_g1, "p-g1", inside + 10).await;
    // g2 pays twice (a declined card, then another), two deliveries: to themself and to A.
    let o_g2 = place(&env, &order(&g2, &D, &[&D, &A], 0, "g2")).await;
    pay(&env, &o_g2, "p-g2-1", inside + 20).await;
    pay(&env, &o_g2, "p-g2-2", inside + 30).await;
    // Outside the window: m3 just before, g3 exactly at its end (exclusive).
    let o_m3 = place(&env, &order(&m3, &C, &[&D], 1, "m3")).await;
    pay(&env, &o_m3, "p-m3", from - 60).await;
    let o_g3 = place(&env, &order(&g3, &A, &[&B], 1, "g3")).await;
    pay(&env, &o_g3, "p-g3", to).await;
    // An order never paid by card.
    let _ = place(&env, &order(&m3, &C, &[&B], 1, "m3-cod")).await;

    let mut new = incident(IncidentKind::PaymentPageAltered);
    new.window_from = DateTime::from_timestamp(from, 0);
    new.window_to = DateTime::from_timestamp(to, 0);
    let id = desk.open(&owner(), &new).await.unwrap();
    let size_before = env.store.ledger_size().await.unwrap();
    let snap = desk.compute_scope(id, &owner()).await.unwrap();
    let scope = &snap.scope;

    let ids = |cat: &str| -> Vec<(String, Option<String>, Option<i64>, u64)> {
        scope.subjects[cat]
            .iter()
            .map(|s: &Subject| {
                (
                    s.customer_id.clone(),
                    s.order_id.clone(),
                    s.shipment_no,
                    s.people,
                )
            })
            .collect()
    };
    let mut members = vec![(m1.clone(), None, None, 1), (m2.clone(), None, None, 1)];
    members.sort();
    assert_eq!(ids(category::MEMBERS), members);
    let mut guests = vec![(g1.clone(), None, None, 1), (g2.clone(), None, None, 1)];
    guests.sort();
    assert_eq!(ids(category::GUESTS), guests);
    let mut recipients = vec![
        (m2.clone(), Some(o_m2.clone()), Some(1), 1),
        (g2.clone(), Some(o_g2.clone()), Some(2), 1),
    ];
    recipients.sort();
    assert_eq!(ids(category::RECIPIENTS), recipients);
    let mut banners = vec![
        (m2.clone(), Some(o_m2.clone()), None, 1),
        (g1.clone(), Some(o_g1.clone()), None, 2),
    ];
    banners.sort_by(|a, b| a.1.cmp(&b.1));
    let mut got_banners = ids(category::PERSONALISATION);
    got_banners.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(got_banners, banners);

    let cats: BTreeMap<String, u64> = [
        (category::MEMBERS, 2),
        (category::GUESTS, 2),
        (category::RECIPIENTS, 2),
        (category::PERSONALISATION, 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(scope.categories, cats);
    assert_eq!(scope.payment_attempts, 5);
    assert_eq!(scope.data_items["card.number"], 4);
    assert_eq!(scope.data_items["orders.buyer_email"], 4);
    assert_eq!(scope.data_items["shipments.address"], 2);
    assert_eq!(scope.data_items["order_items.personalisation"], 3);
    assert_eq!(scope.tree.size, size_before);

    // Telling recipients from buyers opened values inside the gateway: one masked read, recorded
    // after the stated tree head, naming exactly the buyers of the orders compared.
    let all = events(&env).await;
    let compare: Vec<&AccessEvent> = all
        .iter()
        .filter(|e| e.purpose == "incident.scope" && e.action != Action::Incident)
        .collect();
    assert_eq!(compare.len(), 1);
    assert_eq!(compare[0].action, Action::ReadMasked);
    let mut buyers = vec![m1.clone(), m2.clone(), g1.clone(), g2.clone()];
    buyers.sort();
    assert_eq!(compare[0].customers, buyers);
    for v in [A.family, B.city, C.banner, D.phone] {
        assert!(!snap.row.content.contains(v));
    }
}

async fn scope_needs_a_window_and_a_principal(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let id = desk
        .open(&owner(), &incident(IncidentKind::StaffMisuse))
        .await
        .unwrap();
    assert!(matches!(
        desk.compute_scope(id, &owner()).await,
        Err(RespondError::Invalid(_))
    ));
    let mut new = incident(IncidentKind::StaffMisuse);
    new.window_from = Some(at(2027, 1, 1, 0));
    new.window_to = Some(at(2027, 1, 2, 0));
    let id = desk.open(&owner(), &new).await.unwrap();
    assert!(matches!(
        desk.compute_scope(id, &owner()).await,
        Err(RespondError::Invalid(_))
    ));
    // A window that ends before it starts is refused at once.
    new.window_to = Some(at(2026, 12, 1, 0));
    assert!(matches!(
        desk.open(&owner(), &new).await,
        Err(RespondError::Invalid(_))
    ));
}

async fn a_tampered_ledger_entry_stops_the_scope_and_is_named(backend: Backend) {
    let env = Env::start(backend).await;
    let desk = Desk::new(env.gw.clone());
    let _ = customer(&env, &A, CustomerKind::Member).await;
    let c2 = customer(&env, &B, CustomerKind::Member).await;
    let now = Utc::now().timestamp();
    let mut new = incident(IncidentKind::StaffMisuse);
    new.window_from = DateTime::from_timestamp(now - 3600, 0);
    new.window_to = DateTime::from_timestamp(now + 3600, 0);
    new.principal = Some("staff-mallory".into());
    let id = desk.open(&owner(), &new).await.unwrap();
    // Someone with the database rewrites the entry that names c2, to hide it.
    let seq = env.store.ledger_events_of(&c2).await.unwrap()[0];
    let hidden = String::from_utf8(
        env.store.ledger_entries(seq, 1).await.unwrap()[0]
            .event
            .clone(),
    )
    .unwrap()
    .replace(&c2, "nobody");
    let sql = format!(
        "UPDATE ledger_entries SET event = {} WHERE seq = {seq}",
        if env.url.starts_with("sqlite:") {
            format!("CAST('{hidden}' AS BLOB)")
        } else {
            format!("convert_to('{hidden}', 'UTF8')")
        }
    );
    raw(&env.url, &sql).await.unwrap();
    match desk.compute_scope(id, &owner()).await {
        Err(RespondError::LedgerBroken(n)) => assert_eq!(n, seq),
        other => panic!("expected entry {seq} named, got {other:?}"),
    }
    assert!(env.store.incident_scopes(id).await.unwrap().is_empty());
}

both_backends!(
    a_tampered_ledger_entry_stops_the_scope_and_is_named,
    timeline_is_append_only_and_in_the_ledger,
    staff_misuse_scope_is_exactly_what_the_principal_opened,
    card_page_scope_splits_members_guests_recipients_and_personalisation,
    scope_needs_a_window_and_a_principal,
);
