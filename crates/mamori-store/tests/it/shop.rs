//! The shop's persistence (migration 0003) and the gateway calls built on it: sessions, the
//! webhook replay guard, payments, order state compare-and-set with mail, the mail outbox,
//! single-use tokens, member carts, erasure of all of it, email change and member login.

use mamori_domain::OrderState as OS;
use std::collections::HashSet;

use mamori_domain::{CustomerKind, Email, PaymentAttemptState, Personal};
use mamori_store::access::{AccessEvent, Action};
use mamori_store::gateway::{fields, LoginOutcome, MailDraft};
use mamori_store::{
    open_store, Backend, OrderInsert, OutboxRow, PaymentRow, Principal, StoreError, TokenRow,
};
use mamori_vault::{ExposeSecret, SecretString};

use crate::both_backends;
use crate::common::*;

async fn last_event(env: &Env) -> (u64, AccessEvent) {
    let size = env.store.ledger_size().await.unwrap();
    let rows = env.store.ledger_entries(size - 1, 1).await.unwrap();
    (size, AccessEvent::from_bytes(&rows[0].event).unwrap())
}

async fn member(env: &Env, who: &People) -> String {
    env.gw
        .register_customer(
            &web("register"),
            &profile(who, CustomerKind::Member),
            Some(&password()),
        )
        .await
        .unwrap()
}

async fn order_of(env: &Env, customer_id: &str, key: &str) -> String {
    env.gw
        .place_order(
            &web("checkout"),
            &new_order(customer_id, &HANAKO, &KENJI, key),
            &format!("N-{key}"),
        )
        .await
        .unwrap()
        .order_id
}

fn outbox_row(id: &str, customer_id: Option<&str>, due: i64) -> OutboxRow {
    OutboxRow {
        id: id.into(),
        customer_id: customer_id.map(str::to_owned),
        kind: "test".into(),
        payload_ct: vec![1, 2, 3],
        created_at: due,
        next_attempt_at: due,
    }
}

fn mail_count_sql() -> &'static str {
    "SELECT COUNT(*) FROM mail_outbox"
}

fn draft(text: &str) -> MailDraft {
    MailDraft::new("order_confirmation", text.as_bytes().to_vec())
}

async fn sessions_round_trip_and_purge(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    assert_eq!(s.session_load(b"k1").await.unwrap(), None);
    s.session_save(b"k1", b"sealed-1", 100, 100).await.unwrap();
    s.session_save(b"k2", b"sealed-2", 100, 500).await.unwrap();
    s.session_save(b"k3", b"sealed-3", 900, 900).await.unwrap();
    assert_eq!(
        s.session_load(b"k1").await.unwrap().as_deref(),
        Some(&b"sealed-1"[..])
    );
    // Saving again replaces the record and its times (the web layer keeps created_at on renewal).
    s.session_save(b"k1", b"sealed-1b", 100, 400).await.unwrap();
    assert_eq!(
        s.session_load(b"k1").await.unwrap().as_deref(),
        Some(&b"sealed-1b"[..])
    );
    // Idle before 300: none (k1 was seen at 400). Created before 200: k1 (still 100) and k2.
    assert_eq!(s.session_purge(300, 200).await.unwrap(), 2);
    assert_eq!(s.session_load(b"k1").await.unwrap(), None);
    assert_eq!(s.session_load(b"k2").await.unwrap(), None);
    assert!(s.session_load(b"k3").await.unwrap().is_some());
    // Idle before 1000: k3.
    assert_eq!(s.session_purge(1000, 0).await.unwrap(), 1);
    s.session_save(b"k4", b"x", 1, 1).await.unwrap();
    s.session_delete(b"k4").await.unwrap();
    s.session_delete(b"k4").await.unwrap();
    assert_eq!(s.session_load(b"k4").await.unwrap(), None);
}

async fn webhook_replay_guard(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    assert!(s.webhook_first_seen("evt_1", 1_000, 100).await.unwrap());
    assert!(!s.webhook_first_seen("evt_1", 1_000, 200).await.unwrap());
    assert!(s.webhook_first_seen("evt_2", 1_000, 200).await.unwrap());
    // Once kept long enough, an id is forgotten (its timestamp is outside the window by then).
    assert!(s.webhook_first_seen("evt_1", 3_000, 1_001).await.unwrap());
    assert!(!s.webhook_first_seen("evt_1", 3_000, 1_002).await.unwrap());
    let kept = env.sql_i64("SELECT COUNT(*) FROM webhook_events").await;
    assert_eq!(kept, 1, "evt_2 was purged on the way");

    // Concurrent deliveries of one new event: exactly one is first.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.webhook_first_seen("evt_race", 9_000, 2_000)
                .await
                .unwrap()
        }));
    }
    let mut firsts = 0;
    for h in handles {
        firsts += usize::from(h.await.unwrap());
    }
    assert_eq!(firsts, 1);
}

async fn payments_upsert_and_lookup(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let o1 = order_of(&env, &a, "p1").await;
    let o2 = order_of(&env, &a, "p2").await;
    let s = &env.store;
    let mut p = PaymentRow {
        order_id: o1.clone(),
        provider: "sandbox".into(),
        payment_id: "pay_001".into(),
        status: PaymentAttemptState::Pending,
        amount: 21_060,
        brand: None,
        last4: None,
        created_at: 100,
        updated_at: 100,
    };
    s.payment_upsert(&p).await.unwrap();
    assert_eq!(s.payment_of_order(&o1).await.unwrap(), Some(p.clone()));
    p.status = PaymentAttemptState::RequiresAction;
    p.brand = Some("visa".into());
    p.last4 = Some("4242".into());
    p.created_at = 999;
    p.updated_at = 200;
    s.payment_upsert(&p).await.unwrap();
    let got = s.payment_by_provider_id("pay_001").await.unwrap().unwrap();
    assert_eq!(got.status, PaymentAttemptState::RequiresAction);
    assert_eq!(got.last4.as_deref(), Some("4242"));
    assert_eq!(got.created_at, 100, "the first write's time is kept");
    assert_eq!(got.updated_at, 200);
    assert_eq!(s.payment_by_provider_id("pay_404").await.unwrap(), None);
    assert_eq!(s.payment_of_order(&o2).await.unwrap(), None);
    // One provider payment cannot pay two orders; a payment needs an order.
    let mut other = p.clone();
    other.order_id = o2.clone();
    assert!(matches!(
        s.payment_upsert(&other).await,
        Err(StoreError::Conflict { .. })
    ));
    other.order_id = "no-such-order".into();
    other.payment_id = "pay_002".into();
    assert!(matches!(
        s.payment_upsert(&other).await,
        Err(StoreError::NotFound { what: "order" })
    ));
    assert_eq!(s.payments_of_order(&o2).await.unwrap(), vec![]);

    // A retry is the order's next attempt; a late update of the first attempt (its webhook) leaves
    // the retry in place.
    let retry = PaymentRow {
        payment_id: "pay_003".into(),
        status: PaymentAttemptState::Pending,
        brand: None,
        last4: None,
        created_at: 300,
        updated_at: 300,
        ..p.clone()
    };
    s.payment_upsert(&retry).await.unwrap();
    assert_eq!(s.payment_of_order(&o1).await.unwrap(), Some(retry.clone()));
    p.status = PaymentAttemptState::Failed;
    p.updated_at = 301;
    s.payment_upsert(&p).await.unwrap();
    assert_eq!(
        s.payment_by_provider_id("pay_003").await.unwrap(),
        Some(retry.clone())
    );
    assert_eq!(s.payment_of_order(&o1).await.unwrap(), Some(retry.clone()));
    let mut first = p.clone();
    first.created_at = 100;
    assert_eq!(
        s.payments_of_order(&o1).await.unwrap(),
        vec![retry.clone(), first.clone()],
        "every attempt, the latest first"
    );
    // An attempt that moved money counts over a later one that did not.
    first.status = PaymentAttemptState::Succeeded;
    s.payment_upsert(&first).await.unwrap();
    assert_eq!(s.payment_of_order(&o1).await.unwrap(), Some(first));
}

async fn order_state_compare_and_set(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let o = order_of(&env, &a, "cas").await;
    let s = &env.store;
    let before = s.order_header(&o).await.unwrap().unwrap();
    assert_eq!(before.state.as_str(), "pending_payment");
    let by_number = s.order_by_number("N-cas").await.unwrap().unwrap();
    assert_eq!(by_number.id, o);
    assert!(s.order_by_number("N-none").await.unwrap().is_none());

    // Wrong `from`: false, nothing changes, no mail.
    let mail = [outbox_row("m-cas-1", Some(&a), 10)];
    assert!(!s
        .transition_order(&o, &[OS::Paid, OS::Preparing], OS::Shipped, 50, &mail)
        .await
        .unwrap());
    let same = s.order_header(&o).await.unwrap().unwrap();
    assert_eq!(same.state.as_str(), "pending_payment");
    assert_eq!(same.updated_at, before.updated_at);
    assert_eq!(env.sql_i64(mail_count_sql()).await, 0);
    assert!(!s
        .transition_order("missing", &[OS::PendingPayment], OS::Paid, 50, &mail)
        .await
        .unwrap());
    assert!(!s
        .transition_order(&o, &[], OS::Paid, 50, &mail)
        .await
        .unwrap());

    // Right `from`: moved, with its mail, once.
    assert!(s
        .transition_order(&o, &[OS::PendingPayment, OS::Paid], OS::Paid, 60, &mail)
        .await
        .unwrap());
    let after = s.order_header(&o).await.unwrap().unwrap();
    assert_eq!(after.state.as_str(), "paid");
    assert_eq!(
        after.updated_at, 60_000_000,
        "seconds in, microseconds stored"
    );
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);
    assert!(!s
        .transition_order(
            &o,
            &[OS::PendingPayment],
            OS::Paid,
            70,
            &[outbox_row("m-cas-2", Some(&a), 10)]
        )
        .await
        .unwrap());
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);

    // Through the gateway: a replayed webhook neither moves the order nor mails again.
    let o2 = order_of(&env, &a, "cas2").await;
    let acc = mamori_store::Accessor::system("webhook", "payment.confirmed");
    let size0 = env.store.ledger_size().await.unwrap();
    assert!(env
        .gw
        .transition_order_with_mail(
            &acc,
            &o2,
            &[OS::PendingPayment],
            OS::Paid,
            Some(draft("paid"))
        )
        .await
        .unwrap());
    let (size1, ev) = last_event(&env).await;
    assert_eq!(size1, size0 + 1);
    assert_eq!(ev.action, Action::Write);
    assert_eq!(ev.fields, vec![fields::MAIL.to_string()]);
    assert_eq!(ev.customers, vec![a.clone()]);
    assert!(!env
        .gw
        .transition_order_with_mail(
            &acc,
            &o2,
            &[OS::PendingPayment],
            OS::Paid,
            Some(draft("paid"))
        )
        .await
        .unwrap());
    assert_eq!(env.sql_i64(mail_count_sql()).await, 2);
    assert_eq!(env.store.ledger_size().await.unwrap(), size1);
    // Without a mail nothing personal is involved and nothing is recorded.
    assert!(env
        .gw
        .transition_order_with_mail(&acc, &o2, &[OS::Paid], OS::Preparing, None)
        .await
        .unwrap());
    assert_eq!(env.store.ledger_size().await.unwrap(), size1);

    // The back office's page of every order, newest first.
    let page = s
        .orders_search(&mamori_store::OrderFilter::default(), 0, 1)
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, o2);
    let page = s
        .orders_search(&mamori_store::OrderFilter::default(), 1, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, o);
}

async fn order_mail_is_queued_once_per_idempotency_key(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let order = new_order(&a, &HANAKO, &KENJI, "idem-mail");
    let acc = web("checkout");
    let first = env
        .gw
        .place_order_with_mail(&acc, &order, "N-1", Some(draft("confirmation")))
        .await
        .unwrap();
    assert!(!first.existing);
    let (_, ev) = last_event(&env).await;
    assert_eq!(
        ev.fields,
        fields::with_mail(fields::ORDER, true)
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    let again = env
        .gw
        .place_order_with_mail(&acc, &order, "N-2", Some(draft("confirmation")))
        .await
        .unwrap();
    assert!(again.existing);
    assert_eq!(again.order_id, first.order_id);
    // Concurrent resubmissions too.
    let mut handles = Vec::new();
    for i in 0..4 {
        let gw = env.gw.clone();
        let o = order.clone();
        handles.push(tokio::spawn(async move {
            gw.place_order_with_mail(
                &web("checkout"),
                &o,
                &format!("N-1{i}"),
                Some(draft("confirmation")),
            )
            .await
            .unwrap()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap().order_id, first.order_id);
    }
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);

    // Store level: an existing key queues nothing either.
    let bundle = env.store.order(&first.order_id).await.unwrap().unwrap();
    let mut dup = bundle.clone();
    dup.order.header.id = "another-id".into();
    dup.order.header.order_number = "N-3".into();
    let got = env
        .store
        .insert_order_with_mail(&dup, &[outbox_row("m-dup", Some(&a), 1)])
        .await
        .unwrap();
    assert_eq!(
        got,
        OrderInsert::Existing {
            order_id: first.order_id.clone()
        }
    );
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);
    assert!(env.store.outbox_status("m-dup").await.unwrap().is_none());
    // The queued mail opens to what was queued.
    let claimed = env
        .store
        .outbox_claim(10, 60, mamori_store::now() + 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "order_confirmation");
    let plain = env
        .gw
        .open_mail(
            &mamori_store::Accessor::system("mail-worker", "mail.send"),
            &claimed[0],
        )
        .await
        .unwrap();
    assert_eq!(&plain[..], b"confirmation");
}

async fn outbox_claim_lease_and_outcomes(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    s.outbox_enqueue(&[
        outbox_row("m1", None, 100),
        outbox_row("m2", None, 100),
        outbox_row("m3", None, 500),
    ])
    .await
    .unwrap();
    let st = s.outbox_status("m1").await.unwrap().unwrap();
    assert_eq!((st.state.as_str(), st.attempts), ("pending", 0));

    // Not due yet.
    assert!(s.outbox_claim(10, 60, 99).await.unwrap().is_empty());
    let c = s.outbox_claim(10, 60, 100).await.unwrap();
    let ids: Vec<&str> = c.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["m1", "m2"]);
    assert!(c.iter().all(|r| r.attempt == 1 && r.lease_until == 160));
    assert_ne!(c[0].token, c[1].token);
    assert!(uuid::Uuid::parse_str(&c[0].token).is_ok());
    assert_eq!(c[0].payload_ct, vec![1, 2, 3]);
    // Under lease: not claimed again.
    assert!(s.outbox_claim(10, 60, 159).await.unwrap().is_empty());

    // Sent: never claimed again; idempotent and regardless of the token.
    s.outbox_mark_sent("m1", 120).await.unwrap();
    s.outbox_mark_sent("m1", 130).await.unwrap();
    let st = s.outbox_status("m1").await.unwrap().unwrap();
    assert_eq!((st.state.as_str(), st.sent_at), ("sent", Some(120)));
    // A late failure report of a sent row is ignored.
    s.outbox_mark_failed("m1", &c[0].token, None, "late")
        .await
        .unwrap();
    assert_eq!(s.outbox_status("m1").await.unwrap().unwrap().state, "sent");

    // The lease of m2 runs out: claimed afresh (attempt 2, new token); the old token is stale.
    let c2 = s.outbox_claim(10, 60, 160).await.unwrap();
    assert_eq!(c2.len(), 1);
    assert_eq!((c2[0].id.as_str(), c2[0].attempt), ("m2", 2));
    assert_ne!(c2[0].token, c[1].token);
    s.outbox_mark_failed("m2", &c[1].token, Some(999), "stale")
        .await
        .unwrap();
    s.outbox_release("m2", &c[1].token).await.unwrap();
    let st = s.outbox_status("m2").await.unwrap().unwrap();
    assert_eq!((st.attempts, st.next_attempt_at), (2, 100));
    assert_eq!(st.last_error, None);

    // Release with the current token gives the attempt back and clears the lease.
    s.outbox_release("m2", &c2[0].token).await.unwrap();
    let st = s.outbox_status("m2").await.unwrap().unwrap();
    assert_eq!((st.state.as_str(), st.attempts), ("pending", 1));
    let c3 = s.outbox_claim(10, 60, 170).await.unwrap();
    assert_eq!((c3[0].id.as_str(), c3[0].attempt), ("m2", 2));

    // A failure with a retry time: due again then, lease cleared, reason kept.
    s.outbox_mark_failed("m2", &c3[0].token, Some(400), "421 try later")
        .await
        .unwrap();
    let st = s.outbox_status("m2").await.unwrap().unwrap();
    assert_eq!(st.state.as_str(), "pending");
    assert_eq!(st.next_attempt_at, 400);
    assert_eq!(st.last_error.as_deref(), Some("421 try later"));
    assert!(s.outbox_claim(10, 60, 399).await.unwrap().is_empty());
    let c4 = s.outbox_claim(1, 60, 500).await.unwrap();
    assert_eq!((c4[0].id.as_str(), c4[0].attempt), ("m2", 3));
    // Giving up: dead, never claimed again, and a later sent report still wins (it was sent).
    s.outbox_mark_failed("m2", &c4[0].token, None, "550 no such user")
        .await
        .unwrap();
    let st = s.outbox_status("m2").await.unwrap().unwrap();
    assert_eq!(st.state.as_str(), "dead");
    assert_eq!(st.last_error.as_deref(), Some("550 no such user"));
    let c5 = s.outbox_claim(10, 60, 10_000).await.unwrap();
    assert_eq!(
        c5.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["m3"]
    );
    assert_eq!(s.outbox_status("nope").await.unwrap(), None);

    // Sent rows are purged after a while; pending and dead ones stay.
    assert_eq!(s.outbox_purge_sent(120).await.unwrap(), 0);
    assert_eq!(s.outbox_purge_sent(121).await.unwrap(), 1);
    assert_eq!(s.outbox_status("m1").await.unwrap(), None);
    assert!(s.outbox_status("m2").await.unwrap().is_some());
}

async fn concurrent_claimers_never_share_a_row(backend: Backend) {
    let env = env(backend).await;
    const ROWS: usize = 120;
    let rows: Vec<OutboxRow> = (0..ROWS)
        .map(|i| outbox_row(&format!("row-{i:04}"), None, 10))
        .collect();
    env.store.outbox_enqueue(&rows).await.unwrap();
    // Two workers, each with its own connection pool (as two processes would have).
    let mut handles = Vec::new();
    for _ in 0..2 {
        let store = open_store(&env.url).await.unwrap();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store.outbox_claim(7, 600, 100).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|r| (r.id, r.token)));
            }
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let ids: HashSet<&String> = all.iter().map(|(id, _)| id).collect();
    let tokens: HashSet<&String> = all.iter().map(|(_, t)| t).collect();
    assert_eq!(all.len(), ROWS, "no row was claimed twice");
    assert_eq!(ids.len(), ROWS, "every row was claimed");
    assert_eq!(tokens.len(), ROWS);
    let attempts = env
        .sql_i64("SELECT COUNT(*) FROM mail_outbox WHERE attempts = 1")
        .await;
    assert_eq!(attempts as usize, ROWS);
}

async fn tokens_are_single_use(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let s = &env.store;
    let row = |hash: &[u8], purpose: &str, expires_at: i64| TokenRow {
        token_hash: hash.to_vec(),
        purpose: purpose.into(),
        customer_id: a.clone(),
        payload_ct: None,
        created_at: 100,
        expires_at,
        used_at: None,
    };
    s.token_insert(&row(b"h1", "email_confirm", 1_000))
        .await
        .unwrap();
    // Wrong purpose, expired: nothing, and the token stays usable.
    assert_eq!(
        s.token_consume(b"h1", "password_reset", 200).await.unwrap(),
        None
    );
    assert_eq!(
        s.token_consume(b"h1", "email_confirm", 1_000)
            .await
            .unwrap(),
        None
    );
    let got = s
        .token_consume(b"h1", "email_confirm", 999)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, row(b"h1", "email_confirm", 1_000));
    assert_eq!(
        s.token_consume(b"h1", "email_confirm", 999).await.unwrap(),
        None
    );

    // Two concurrent consumes: one wins.
    s.token_insert(&row(b"h2", "password_reset", 1_000))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..6 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.token_consume(b"h2", "password_reset", 500)
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    assert_eq!(wins, 1);

    // Revoking marks the unused ones of that purpose used.
    s.token_insert(&row(b"h3", "email_change", 1_000))
        .await
        .unwrap();
    s.token_insert(&row(b"h4", "email_change", 1_000))
        .await
        .unwrap();
    s.token_insert(&row(b"h5", "email_confirm", 1_000))
        .await
        .unwrap();
    assert_eq!(s.tokens_revoke(&a, "email_change", 300).await.unwrap(), 2);
    assert_eq!(
        s.token_consume(b"h3", "email_change", 301).await.unwrap(),
        None
    );
    assert!(s
        .token_consume(b"h5", "email_confirm", 301)
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.tokens_purge(1_000).await.unwrap(), 0);
    assert_eq!(s.tokens_purge(1_001).await.unwrap(), 5);

    // Through the gateway: a link token with a sealed payload, used once.
    let acc = web("mypage.email");
    let new_address = b"new.address@example.jp";
    let size0 = env.store.ledger_size().await.unwrap();
    let token = env
        .gw
        .issue_token(&acc, &a, "email_change", 3_600, Some(new_address))
        .await
        .unwrap();
    let (size1, ev) = last_event(&env).await;
    assert_eq!(size1, size0 + 1);
    assert_eq!(ev.fields, vec![fields::TOKEN_PAYLOAD.to_string()]);
    assert_eq!(
        token.expose_secret().len(),
        43,
        "32 bytes, base64url, no padding"
    );
    let stored = env
        .sql_i64("SELECT COUNT(*) FROM auth_tokens WHERE used_at IS NULL")
        .await;
    assert_eq!(stored, 1);
    assert!(env
        .gw
        .consume_token(&acc, token.expose_secret(), "password_reset")
        .await
        .unwrap()
        .is_none());
    let (who, payload) = env
        .gw
        .consume_token(&acc, token.expose_secret(), "email_change")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who, a);
    assert_eq!(&payload.unwrap()[..], new_address);
    let (_, ev) = last_event(&env).await;
    assert_eq!(ev.action, Action::Read);
    assert_eq!(ev.fields, vec![fields::TOKEN_PAYLOAD.to_string()]);
    assert!(env
        .gw
        .consume_token(&acc, token.expose_secret(), "email_change")
        .await
        .unwrap()
        .is_none());
    // Malformed tokens are simply not found.
    for bad in ["", "not a token", "AAAA", &"A".repeat(44), "!!!!"] {
        assert!(env
            .gw
            .consume_token(&acc, bad, "email_change")
            .await
            .unwrap()
            .is_none());
    }
    // A newer token revokes the older one; an expired one does not work.
    let old = env
        .gw
        .issue_token(&acc, &a, "email_confirm", 3_600, None)
        .await
        .unwrap();
    let new = env
        .gw
        .issue_token(&acc, &a, "email_confirm", 3_600, None)
        .await
        .unwrap();
    assert!(env
        .gw
        .consume_token(&acc, old.expose_secret(), "email_confirm")
        .await
        .unwrap()
        .is_none());
    let (who, payload) = env
        .gw
        .consume_token(&acc, new.expose_secret(), "email_confirm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((who.as_str(), payload.is_none()), (a.as_str(), true));
    let expired = env
        .gw
        .issue_token(&acc, &a, "password_reset", 0, None)
        .await
        .unwrap();
    assert!(env
        .gw
        .consume_token(&acc, expired.expose_secret(), "password_reset")
        .await
        .unwrap()
        .is_none());
}

async fn member_carts(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let b = member(&env, &KENJI).await;
    let s = &env.store;
    assert!(s.cart_lines(&a).await.unwrap().is_empty());
    s.cart_set(&a, "TEA-200", 2, 10).await.unwrap();
    s.cart_set(&a, "BANNER-01", 1, 10).await.unwrap();
    s.cart_set(&b, "TEA-200", 5, 10).await.unwrap();
    s.cart_set(&a, "TEA-200", 3, 11).await.unwrap();
    assert_eq!(
        s.cart_lines(&a).await.unwrap(),
        vec![("BANNER-01".to_string(), 1), ("TEA-200".to_string(), 3)]
    );
    s.cart_set(&a, "BANNER-01", 0, 12).await.unwrap();
    s.cart_set(&a, "NOT-THERE", 0, 12).await.unwrap();
    assert_eq!(
        s.cart_lines(&a).await.unwrap(),
        vec![("TEA-200".to_string(), 3)]
    );
    assert!(matches!(
        s.cart_set(&a, "TEA-200", -1, 13).await,
        Err(StoreError::BadInput {
            field: "quantity",
            ..
        })
    ));
    s.cart_clear(&a).await.unwrap();
    assert!(s.cart_lines(&a).await.unwrap().is_empty());
    assert_eq!(
        s.cart_lines(&b).await.unwrap(),
        vec![("TEA-200".to_string(), 5)]
    );
}

async fn erasure_kills_queued_mail_and_tokens(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let b = member(&env, &KENJI).await;
    let acc = web("mypage");
    let worker = mamori_store::Accessor::system("mail-worker", "mail.send");
    let pending = env.gw.queue_mail(&acc, &a, draft("a-1")).await.unwrap();
    let claimed_id = env.gw.queue_mail(&acc, &a, draft("a-2")).await.unwrap();
    let other = env.gw.queue_mail(&acc, &b, draft("b-1")).await.unwrap();
    let claims = env
        .store
        .outbox_claim(10, 600, mamori_store::now() + 1)
        .await
        .unwrap();
    assert_eq!(claims.len(), 3);
    // Release all but one: a worker holds a claim on `claimed_id` while the erasure runs.
    for c in &claims {
        if c.id != claimed_id {
            env.store.outbox_release(&c.id, &c.token).await.unwrap();
        }
    }
    let held = claims.iter().find(|c| c.id == claimed_id).unwrap();
    env.store.cart_set(&a, "TEA-200", 1, 1).await.unwrap();
    let token = env
        .gw
        .issue_token(&acc, &a, "password_reset", 3_600, Some(b"payload"))
        .await
        .unwrap();

    env.gw
        .erase_customer(&staff("withdrawal"), &a)
        .await
        .unwrap();

    for id in [&pending, &claimed_id] {
        let st = env.store.outbox_status(id).await.unwrap().unwrap();
        assert_eq!(st.state.as_str(), "dead");
    }
    let emptied = env
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM mail_outbox WHERE customer_id = '{a}' AND LENGTH(payload_ct) = 0"
        ))
        .await;
    assert_eq!(emptied, 2);
    // The worker that held a claim cannot open it any more.
    assert!(matches!(
        env.gw.open_mail(&worker, held).await,
        Err(StoreError::Erased(_))
    ));
    assert!(env
        .gw
        .consume_token(&acc, token.expose_secret(), "password_reset")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        env.sql_i64("SELECT COUNT(*) FROM auth_tokens").await,
        0,
        "tokens deleted"
    );
    assert!(env.store.cart_lines(&a).await.unwrap().is_empty());
    // The other customer's mail is untouched and still opens.
    let c = env
        .store
        .outbox_claim(10, 600, mamori_store::now() + 1)
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].id, other);
    assert_eq!(&env.gw.open_mail(&worker, &c[0]).await.unwrap()[..], b"b-1");
}

async fn open_mail_is_recorded_once(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let id = env
        .gw
        .queue_mail(&web("mypage"), &a, draft("hello"))
        .await
        .unwrap();
    let (_, ev) = last_event(&env).await;
    assert_eq!(ev.action, Action::Write);
    assert_eq!(ev.fields, vec![fields::MAIL.to_string()]);
    let claim = env
        .store
        .outbox_claim(1, 600, mamori_store::now() + 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(claim.id, id);
    assert_eq!(claim.customer_id.as_deref(), Some(a.as_str()));
    let worker = mamori_store::Accessor::system("mail-worker", "mail.send");
    let before = env.store.ledger_size().await.unwrap();
    let plain = env.gw.open_mail(&worker, &claim).await.unwrap();
    assert_eq!(&plain[..], b"hello");
    let (size, ev) = last_event(&env).await;
    assert_eq!(size, before + 1, "exactly one event");
    assert_eq!(ev.action, Action::Read);
    assert_eq!(ev.principal, Principal::System("mail-worker".into()));
    assert_eq!(ev.purpose, "mail.send");
    assert_eq!(ev.customers, vec![a.clone()]);
    assert_eq!(ev.fields, vec![fields::MAIL.to_string()]);

    // Sealed to its row: the payload pasted into another row does not open.
    let mut moved = claim.clone();
    moved.id = uuid::Uuid::now_v7().to_string();
    assert!(env.gw.open_mail(&worker, &moved).await.is_err());

    env.gw
        .erase_customer(&staff("withdrawal"), &a)
        .await
        .unwrap();
    let before = env.store.ledger_size().await.unwrap();
    // Even the ciphertext taken before the erasure (a backup) no longer opens.
    assert!(matches!(
        env.gw.open_mail(&worker, &claim).await,
        Err(StoreError::Erased(_))
    ));
    assert_eq!(
        env.store.ledger_size().await.unwrap(),
        before + 1,
        "the attempt is recorded too"
    );
    assert!(format!("{:?}", draft("秘密の住所")).contains("[redacted]"));
    assert!(!format!("{:?}", draft("秘密の住所")).contains("秘密"));
}

async fn change_email_moves_the_login(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let b = member(&env, &KENJI).await;
    let acc = web("mypage.email");
    let new = Email::parse("hanako.new@example.jp").unwrap();
    env.gw
        .change_email(&acc, &a, &Personal::new(new.clone()), Some(draft("notice")))
        .await
        .unwrap();
    let (_, ev) = last_event(&env).await;
    assert_eq!(
        ev.fields,
        vec![fields::EMAIL.to_string(), fields::MAIL.to_string()]
    );
    assert_eq!(env.gw.find_member(&new).await.unwrap(), Some(a.clone()));
    assert_eq!(
        env.gw
            .find_member(&Email::parse(HANAKO.email).unwrap())
            .await
            .unwrap(),
        None
    );
    let p = env.gw.customer_profile(&staff("s"), &a).await.unwrap();
    assert_eq!(p.email.expose().as_str(), "hanako.new@example.jp");
    assert_eq!(p.name.expose().family(), HANAKO.family, "the rest is kept");
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);

    // Taken by another member (in any spelling): refused, nothing changed, no mail.
    let taken = Email::parse("ＫＥＮＪＩ.Sakakibara@example.com").unwrap();
    assert!(matches!(
        env.gw
            .change_email(&acc, &a, &Personal::new(taken), Some(draft("x")))
            .await,
        Err(StoreError::DuplicateMember)
    ));
    assert_eq!(env.gw.find_member(&new).await.unwrap(), Some(a.clone()));
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);
    // Its own address again is fine.
    env.gw
        .change_email(&acc, &a, &Personal::new(new.clone()), None)
        .await
        .unwrap();
    let kenji = Email::parse(KENJI.email).unwrap();
    assert_eq!(env.gw.find_member(&kenji).await.unwrap(), Some(b));
}

async fn member_login_outcomes(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let acc = web("login");
    let email = Email::parse(HANAKO.email).unwrap();
    let wrong = SecretString::from("wrong password".to_owned());
    let size0 = env.store.ledger_size().await.unwrap();

    assert_eq!(
        env.gw.member_login(&acc, &email, &wrong).await.unwrap(),
        LoginOutcome::Invalid
    );
    assert_eq!(
        env.gw
            .member_login(&acc, &email, &password())
            .await
            .unwrap(),
        LoginOutcome::Unverified {
            customer_id: a.clone()
        }
    );
    let unknown = Email::parse("nobody@example.jp").unwrap();
    assert_eq!(
        env.gw
            .member_login(&acc, &unknown, &password())
            .await
            .unwrap(),
        LoginOutcome::Invalid
    );
    // A guest with an email is not a member.
    let guest_email = Email::parse("guest.only@example.jp").unwrap();
    let mut guest = profile(&KENJI, CustomerKind::Guest);
    guest.email = Personal::new(guest_email.clone());
    env.gw.register_customer(&acc, &guest, None).await.unwrap();
    assert_eq!(
        env.gw
            .member_login(&acc, &guest_email, &password())
            .await
            .unwrap(),
        LoginOutcome::Invalid
    );
    assert_eq!(
        env.store.ledger_size().await.unwrap(),
        size0 + 1,
        "logins record nothing (the one event is the guest's registration)"
    );

    // After the email is confirmed (with a token, as the shop does it).
    let t = env
        .gw
        .issue_token(&acc, &a, "email_confirm", 3_600, None)
        .await
        .unwrap();
    let (who, _) = env
        .gw
        .consume_token(&acc, t.expose_secret(), "email_confirm")
        .await
        .unwrap()
        .unwrap();
    env.gw.verify_email(&acc, &who).await.unwrap();
    let row = env.store.customer(&a).await.unwrap().unwrap();
    assert!(row.email_verified_at.is_some());
    let typed = Email::parse("ＨＡＮＡＫＯ.hatoyama@EXAMPLE.jp").unwrap();
    assert_eq!(
        env.gw
            .member_login(&acc, &typed, &password())
            .await
            .unwrap(),
        LoginOutcome::Ok {
            customer_id: a.clone()
        }
    );
    // Profile updates keep the confirmation.
    env.gw
        .update_profile_with_mail(
            &acc,
            &a,
            &profile(&HANAKO, CustomerKind::Member),
            Some(draft("profile changed")),
        )
        .await
        .unwrap();
    assert!(env
        .store
        .customer(&a)
        .await
        .unwrap()
        .unwrap()
        .email_verified_at
        .is_some());

    // A new password: the old one stops working, the new one works, a mail goes with it.
    let newpw = SecretString::from("a much better passphrase".to_owned());
    env.gw
        .change_password(&acc, &a, &newpw, Some(draft("password changed")))
        .await
        .unwrap();
    let (_, ev) = last_event(&env).await;
    assert_eq!(
        ev.fields,
        vec![fields::PASSWORD.to_string(), fields::MAIL.to_string()]
    );
    assert_eq!(
        env.gw
            .member_login(&acc, &email, &password())
            .await
            .unwrap(),
        LoginOutcome::Invalid
    );
    assert_eq!(
        env.gw.member_login(&acc, &email, &newpw).await.unwrap(),
        LoginOutcome::Ok {
            customer_id: a.clone()
        }
    );
    assert_eq!(env.sql_i64(mail_count_sql()).await, 2);
    // An erased member cannot log in, and has no password to change.
    env.gw
        .erase_customer(&staff("withdrawal"), &a)
        .await
        .unwrap();
    assert_eq!(
        env.gw.member_login(&acc, &email, &newpw).await.unwrap(),
        LoginOutcome::Invalid
    );
    assert!(matches!(
        env.gw.change_password(&acc, &a, &newpw, None).await,
        Err(StoreError::Erased(_))
    ));
    assert!(matches!(
        env.gw.verify_email(&acc, &a).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn address_book_with_mail_and_delete(backend: Backend) {
    let env = env(backend).await;
    let a = member(&env, &HANAKO).await;
    let b = member(&env, &KENJI).await;
    let acc = web("mypage.addresses");
    let id = env
        .gw
        .add_address_with_mail(&acc, &a, &recipient(&KENJI), Some(draft("added")))
        .await
        .unwrap();
    let (_, ev) = last_event(&env).await;
    assert_eq!(
        ev.fields,
        fields::with_mail(fields::ADDRESSES, true)
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(env.sql_i64(mail_count_sql()).await, 1);
    // Someone else's id, or an unknown one: nothing deleted.
    assert!(!env.gw.delete_address(&acc, &b, &id).await.unwrap());
    assert!(!env.gw.delete_address(&acc, &a, "nope").await.unwrap());
    assert_eq!(env.gw.addresses(&acc, &a).await.unwrap().len(), 1);
    assert!(env.gw.delete_address(&acc, &a, &id).await.unwrap());
    assert!(env.gw.addresses(&acc, &a).await.unwrap().is_empty());
    let (_, ev) = last_event(&env).await;
    assert_eq!(ev.action, Action::Read, "the listing after the delete");
}

async fn queued_mail_and_token_payloads_are_not_plaintext(backend: Backend) {
    let env = env(backend).await;
    let acc = web("checkout");
    // KENJI is a guest whose data reaches the database only inside mail and token payloads and
    // his own sealed profile; HANAKO's order confirmation names KENJI as the recipient.
    let a = member(&env, &HANAKO).await;
    let k = env
        .gw
        .register_customer(&acc, &profile(&KENJI, CustomerKind::Guest), None)
        .await
        .unwrap();
    let mail_text = |p: &People| {
        format!(
            "{{\"to\":\"{}\",\"name\":\"{}{} ({})\",\"tel\":\"{}\",\"address\":\"〒{} 東京都{}{} パークハイツ101\",\"banner\":\"{}\",\"birth\":\"{}\"}}",
            p.email, p.family, p.given, p.family_kana, p.phone, p.postal, p.city, p.line1, p.banner_name, p.birth
        )
    };
    env.gw
        .place_order_with_mail(
            &acc,
            &new_order(&a, &HANAKO, &KENJI, "plain-1"),
            "N-plain-1",
            Some(MailDraft::new(
                "order_confirmation",
                mail_text(&KENJI).into_bytes(),
            )),
        )
        .await
        .unwrap();
    env.gw
        .queue_mail(
            &acc,
            &k,
            MailDraft::new("guest_notice", mail_text(&KENJI).into_bytes()),
        )
        .await
        .unwrap();
    env.gw
        .queue_mail(
            &acc,
            &a,
            MailDraft::new("notice", mail_text(&HANAKO).into_bytes()),
        )
        .await
        .unwrap();
    env.gw
        .issue_token(
            &acc,
            &a,
            "email_change",
            3_600,
            Some(KENJI.email.as_bytes()),
        )
        .await
        .unwrap();
    env.ledger.checkpoint().await.unwrap();

    // The payloads do come back through the gateway, so the search is not vacuous.
    let worker = mamori_store::Accessor::system("mail-worker", "mail.send");
    let claims = env
        .store
        .outbox_claim(10, 600, mamori_store::now() + 1)
        .await
        .unwrap();
    assert_eq!(claims.len(), 3);
    let opened = env.gw.open_mail(&worker, &claims[0]).await.unwrap();
    assert!(String::from_utf8_lossy(&opened).contains(KENJI.family));

    let bytes = crate::plaintext::raw_bytes(&env).await;
    assert!(
        !crate::plaintext::find_any(&bytes, &["order_confirmation".to_string()]).is_empty(),
        "control value not found"
    );
    for who in [&HANAKO, &KENJI] {
        let found = crate::plaintext::find_any(&bytes, &crate::plaintext::needles(who));
        assert!(
            found.is_empty(),
            "{} personal value(s) found in plaintext (needle indexes {found:?})",
            found.len()
        );
    }
}

both_backends!(
    queued_mail_and_token_payloads_are_not_plaintext,
    sessions_round_trip_and_purge,
    webhook_replay_guard,
    payments_upsert_and_lookup,
    order_state_compare_and_set,
    order_mail_is_queued_once_per_idempotency_key,
    outbox_claim_lease_and_outcomes,
    concurrent_claimers_never_share_a_row,
    tokens_are_single_use,
    member_carts,
    erasure_kills_queued_mail_and_tokens,
    open_mail_is_recorded_once,
    change_email_moves_the_login,
    member_login_outcomes,
    address_book_with_mail_and_delete,
);
