//! Mass-read limits and canary customers on both databases: a member of support who opens
//! customers one by one is stopped at the budget (the read that crosses it hands out nothing,
//! the account is disabled, one alert is raised, the counts name exactly the customers opened),
//! two gateways with their own pools and ledger writers on one database count together, and a
//! plaintext read of a canary raises `canary.read` while a normal read raises nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};

use mamori_domain::{CustomerKind, CustomerProfile, Email, PersonName, Personal, PhoneNumber};
use mamori_guard::{kinds, AlertConfig, GuardReadAlarm};
use mamori_ledger::LedgerSigner;
use mamori_store::access::AccessEvent;
use mamori_store::{
    open_store, Accessor, Action, AlertFilter, AlertRow, Backend, CustomerField, Gateway, Ledger,
    LedgerConfig, Principal, ReadBudgets, RoleBudget, StaffRow, StoreError,
};
use mamori_testkit::{both_backends, Env};
use std::sync::Arc;

fn staff(id: &str, role: &str) -> StaffRow {
    StaffRow {
        id: id.into(),
        email: format!("{id}@shop.mamori.example"),
        display_name: format!("担当 {id}"),
        role: role.into(),
        state: "active".into(),
        password_hash: None,
        failed_logins: 0,
        locked_until: None,
        created_at: 1_000,
        updated_at: 1_000,
        last_login_at: None,
    }
}

/// Support may open 5 distinct customers a minute (the real default is 60); the ceiling is
/// out of the way.
fn budgets() -> ReadBudgets {
    let mut b = ReadBudgets::default();
    b.roles
        .insert("support".into(), RoleBudget::new(5, 50, 100));
    b.ceiling_floor = 10_000;
    b
}

fn alarm() -> Arc<GuardReadAlarm> {
    Arc::new(GuardReadAlarm::new(AlertConfig {
        shop_name: "守り商店".into(),
        backoffice_origin: Some("http://127.0.0.1:8082".into()),
        webhook: None,
    }))
}

fn guarded(gw: &Gateway) -> Gateway {
    let gw = gw.clone().with_read_budgets(budgets());
    assert!(gw.set_read_alarm(alarm()));
    gw
}

async fn customers(gw: &Gateway, n: usize) -> Vec<String> {
    let acc = Accessor::system("test", "test.setup").via("test");
    let mut ids = Vec::new();
    for i in 0..n {
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(
                PersonName::parse_with_kana("佐藤", "花子", Some("サトウ"), Some("ハナコ"))
                    .unwrap(),
            ),
            email: Personal::new(Email::parse(&format!("hanako{i}@example.jp")).unwrap()),
            phone: Some(Personal::new(PhoneNumber::parse("090-1234-5678").unwrap())),
            birth_date: None,
            gender: None,
        };
        ids.push(gw.register_customer(&acc, &profile, None).await.unwrap());
    }
    ids
}

fn support() -> Accessor {
    Accessor::staff(
        "support1",
        "customers.reveal",
        &uuid::Uuid::now_v7().to_string(),
    )
    .because("ticket 4711")
}

async fn alerts(env: &Env) -> Vec<AlertRow> {
    env.store
        .alerts_page(&AlertFilter::default(), 0, 100)
        .await
        .unwrap()
        .items
}

/// The customers named by the ledger's plaintext reads of `principal`.
async fn ledger_reads_of(env: &Env, principal: &Principal) -> BTreeSet<String> {
    let size = env.store.ledger_size().await.unwrap();
    let mut out = BTreeSet::new();
    for e in env.store.ledger_entries(0, size).await.unwrap() {
        let ev = AccessEvent::from_bytes(&e.event).unwrap();
        if &ev.principal == principal && ev.action == Action::Read {
            out.extend(ev.customers);
        }
    }
    out
}

async fn support_is_stopped_at_the_budget(backend: Backend) {
    let env = Env::start(backend).await;
    env.store
        .staff_insert(&staff("support1", "support"))
        .await
        .unwrap();
    env.store
        .staff_insert(&staff("owner1", "owner"))
        .await
        .unwrap();
    let gw = guarded(&env.gw);
    let ids = customers(&gw, 7).await;

    for id in &ids[..5] {
        let name = gw
            .reveal(&support(), id, CustomerField::Name)
            .await
            .unwrap();
        assert!(name.expose().contains("佐藤"));
    }
    // Reading one of them again opens no new customer: still within the budget.
    gw.reveal(&support(), &ids[0], CustomerField::Email)
        .await
        .unwrap();
    assert!(alerts(&env).await.is_empty(), "no alert below the budget");

    // The sixth customer crosses the budget: refused, nothing handed out.
    match gw.reveal(&support(), &ids[5], CustomerField::Name).await {
        Err(StoreError::ReadBudgetExceeded {
            principal,
            window_secs,
            opened,
            max,
            new_stop,
        }) => {
            assert_eq!(principal, "staff:support1");
            assert_eq!((window_secs, opened, max, new_stop), (60, 6, 5, true));
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| "plaintext")),
    }
    // The account is disabled; one alert names the principal.
    let row = env.store.staff_by_id("support1").await.unwrap().unwrap();
    assert_eq!(row.state, "disabled");
    let raised = alerts(&env).await;
    assert_eq!(raised.len(), 1, "exactly one alert");
    assert_eq!(raised[0].kind, kinds::READ_BUDGET);
    assert_eq!(raised[0].severity, "critical");
    assert_eq!(raised[0].subject, "principal:staff:support1");
    // The stop holds, also for a customer opened before; no second alert.
    assert!(matches!(
        gw.reveal(&support(), &ids[0], CustomerField::Name).await,
        Err(StoreError::ReadBudgetExceeded {
            new_stop: false,
            ..
        })
    ));
    let raised = alerts(&env).await;
    assert_eq!((raised.len(), raised[0].seen_count), (1, 1));

    // The counts and the ledger both hold exactly the five customers opened.
    let expected: BTreeSet<String> = ids[..5].iter().cloned().collect();
    let opens: BTreeSet<String> = env
        .store
        .read_opens_of("staff:support1", 0)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(opens, expected);
    assert_eq!(
        ledger_reads_of(&env, &Principal::Staff("support1".into())).await,
        expected
    );
    assert!(env.verify().await.is_ok());

    // An owner lifts the stop: reads go on with a fresh count.
    let owner = Accessor::staff("owner1", "staff.enable", "req-lift").because("checked with 4711");
    assert!(gw.lift_read_stop(&owner, "staff:support1").await.unwrap());
    // Nothing left to lift.
    assert!(!gw.lift_read_stop(&owner, "staff:support1").await.unwrap());
    gw.reveal(&support(), &ids[5], CustomerField::Name)
        .await
        .unwrap();
}

async fn two_gateways_share_the_count(backend: Backend) {
    let env = Env::start(backend).await;
    env.store
        .staff_insert(&staff("support1", "support"))
        .await
        .unwrap();
    let gw1 = guarded(&env.gw);
    // A second "process": its own pool, its own ledger writer, its own gateway and caches.
    let store2 = open_store(&env.url).await.unwrap();
    let signer = LedgerSigner::load_key_file(&env.dir.path().join("ledger.key")).unwrap();
    let ledger2 = Ledger::start(
        store2.clone(),
        signer,
        LedgerConfig::new(env.dir.path().join("witness-2.jsonl")),
    );
    let gw2 = guarded(&Gateway::new(store2, env.keys.clone(), ledger2));
    let ids = customers(&gw1, 6).await;

    let mut by = HashMap::new();
    for (i, id) in ids[..5].iter().enumerate() {
        let gw = if i % 2 == 0 { &gw1 } else { &gw2 };
        gw.reveal(&support(), id, CustomerField::Name)
            .await
            .unwrap();
        by.insert(id.clone(), i % 2);
    }
    // Three opened through one, two through the other: the sixth is refused by either.
    assert!(matches!(
        gw2.reveal(&support(), &ids[5], CustomerField::Name).await,
        Err(StoreError::ReadBudgetExceeded {
            opened: 6,
            max: 5,
            new_stop: true,
            ..
        })
    ));
    assert!(matches!(
        gw1.reveal(&support(), &ids[5], CustomerField::Name).await,
        Err(StoreError::ReadBudgetExceeded {
            new_stop: false,
            ..
        })
    ));
    let raised = alerts(&env).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, kinds::READ_BUDGET);
    let opens: BTreeSet<String> = env
        .store
        .read_opens_of("staff:support1", 0)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(opens, ids[..5].iter().cloned().collect());
}

async fn a_customer_session_cannot_open_another_customer(backend: Backend) {
    let env = Env::start(backend).await;
    let gw = guarded(&env.gw);
    let ids = customers(&gw, 2).await;
    let me = Accessor {
        principal: Principal::Customer(ids[0].clone()),
        purpose: "mypage.profile".into(),
        request_id: "req-1".into(),
        channel: None,
        reason: None,
    };
    gw.customer_profile(&me, &ids[0]).await.unwrap();
    assert!(alerts(&env).await.is_empty());
    assert!(matches!(
        gw.customer_profile(&me, &ids[1]).await,
        Err(StoreError::CrossCustomer)
    ));
    let raised = alerts(&env).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, kinds::READ_CROSS_CUSTOMER);
    // The refused read is not on the ledger.
    assert_eq!(
        ledger_reads_of(&env, &me.principal).await,
        BTreeSet::from([ids[0].clone()])
    );
}

async fn reading_a_canary_raises_an_alert(backend: Backend) {
    let env = Env::start(backend).await;
    env.store
        .staff_insert(&staff("support1", "support"))
        .await
        .unwrap();
    let gw = guarded(&env.gw);
    let ids = customers(&gw, 3).await;
    gw.mark_canary(&ids[2]).await.unwrap();
    assert!(gw.is_canary(&ids[2]).await.unwrap());
    assert!(!gw.is_canary(&ids[0]).await.unwrap());

    // A normal customer's read raises nothing; masked listings of everyone raise nothing.
    gw.reveal(&support(), &ids[0], CustomerField::Name)
        .await
        .unwrap();
    gw.customers_masked(&Accessor::staff("support1", "customers.list", "r"), 0, 50)
        .await
        .unwrap();
    assert!(alerts(&env).await.is_empty());

    // Revealing the canary raises canary.read at once (the read itself goes on).
    gw.reveal(&support(), &ids[2], CustomerField::Email)
        .await
        .unwrap();
    let raised = alerts(&env).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, kinds::CANARY_READ);
    assert_eq!(raised[0].severity, "critical");
    assert_eq!(raised[0].subject, format!("customer:{}", ids[2]));
    assert!(raised[0].evidence.contains("support1"));

    // Another gateway over the same database knows the canary from its sealed mark.
    let other = guarded(&Gateway::new(
        env.store.clone(),
        env.keys.clone(),
        env.ledger.clone(),
    ));
    assert!(other.is_canary(&ids[2]).await.unwrap());
}

both_backends!(
    support_is_stopped_at_the_budget,
    two_gateways_share_the_count,
    a_customer_session_cannot_open_another_customer,
    reading_a_canary_raises_an_alert,
);
