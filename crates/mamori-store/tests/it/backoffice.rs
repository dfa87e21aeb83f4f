//! The back office's persistence (migration 0004) and its gateway calls: staff accounts with
//! lockout, passkeys, single-use TOTP steps, recovery codes and tokens, devices, the staff log,
//! settings, product images, order search and sales, order lines' deliveries; masked customer and
//! order views, reveals with a reason, exports, and what the ledger records for each.

use mamori_domain::OrderState as OS;
use mamori_domain::{CustomerKind, Email};
use mamori_store::access::{AccessEvent, Action};
use mamori_store::gateway::fields;
use mamori_store::{
    Accessor, Backend, CategoryRow, CustomerField, OrderFilter, PasskeyRow, ProductImageRow,
    ProductRow, StaffLogFilter, StaffLogRow, StaffRow, StaffTokenRow, StoreError,
};

use crate::both_backends;
use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers.

async fn event_at(env: &Env, seq: u64) -> AccessEvent {
    let rows = env.store.ledger_entries(seq, 1).await.unwrap();
    AccessEvent::from_bytes(&rows[0].event).unwrap()
}

/// Every event appended since the ledger had `since` entries.
async fn events_since(env: &Env, since: u64) -> Vec<AccessEvent> {
    let size = env.store.ledger_size().await.unwrap();
    let mut out = Vec::new();
    for seq in since..size {
        out.push(event_at(env, seq).await);
    }
    out
}

async fn size(env: &Env) -> u64 {
    env.store.ledger_size().await.unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn support() -> Accessor {
    Accessor::staff("staff-support-1", "backoffice.customers", "req-1")
}

async fn register(env: &Env, who: &People, kind: CustomerKind) -> String {
    env.gw
        .register_customer(&web("register"), &profile(who, kind), None)
        .await
        .unwrap()
}

fn staff_row(id: &str, email: &str, role: &str) -> StaffRow {
    StaffRow {
        id: id.into(),
        email: email.into(),
        display_name: format!("担当 {id}"),
        role: role.into(),
        state: "active".into(),
        password_hash: Some("$argon2id$stub".into()),
        failed_logins: 0,
        locked_until: None,
        created_at: 1_000,
        updated_at: 1_000,
        last_login_at: None,
    }
}

async fn with_staff(env: &Env, ids: &[&str]) {
    for id in ids {
        env.store
            .staff_insert(&staff_row(id, &format!("{id}@shop.example.jp"), "support"))
            .await
            .unwrap();
    }
}

async fn product(env: &Env, sku: &str, active: bool) -> ProductRow {
    env.store
        .upsert_category(&CategoryRow {
            id: "cat-1".into(),
            slug: "parts".into(),
            name_ja: "部品".into(),
            name_en: "Parts".into(),
            position: 1,
        })
        .await
        .unwrap();
    let p = ProductRow {
        id: format!("prod-{sku}"),
        sku: sku.into(),
        category_id: "cat-1".into(),
        name_ja: format!("商品 {sku}"),
        name_en: format!("Product {sku}"),
        description_ja: "説明".into(),
        description_en: "Description".into(),
        price_incl: 1_100,
        tax_rate: "standard".into(),
        stock: 5,
        offers_personalisation: false,
        offers_noshi: false,
        active,
        created_at: 1,
        updated_at: 1,
    };
    env.store.upsert_product(&p).await.unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// Staff accounts.

async fn staff_accounts_and_lockout(backend: Backend) {
    let env = env(backend).await;
    let s = env.store.as_ref();
    s.staff_insert(&staff_row("st-1", "Owner@Shop.Example.JP", "owner"))
        .await
        .unwrap();
    s.staff_insert(&staff_row("st-2", "ayumi@shop.example.jp", "auditor"))
        .await
        .unwrap();
    // The email is stored lower-case, so another spelling of it clashes.
    let err = s
        .staff_insert(&staff_row("st-3", "OWNER@shop.example.jp", "manager"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                what: "staff member"
            }
        ),
        "{err}"
    );
    // A role or state outside the schema's list is refused by the database.
    assert!(s
        .staff_insert(&staff_row("st-4", "x@shop.example.jp", "root"))
        .await
        .is_err());
    let mut bad_state = staff_row("st-5", "y@shop.example.jp", "support");
    bad_state.state = "sleeping".into();
    assert!(s.staff_insert(&bad_state).await.is_err());

    let owner = s.staff_by_id("st-1").await.unwrap().unwrap();
    assert_eq!(owner.email, "owner@shop.example.jp");
    assert_eq!(
        s.staff_by_email(" OWNER@shop.example.jp ")
            .await
            .unwrap()
            .map(|r| r.id),
        Some("st-1".into())
    );
    assert_eq!(
        s.staff_by_email("nobody@shop.example.jp").await.unwrap(),
        None
    );
    assert_eq!(s.staff_by_id("nobody").await.unwrap(), None);
    let list: Vec<String> = s
        .staff_list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(list, ["st-2", "st-1"], "by email");

    // Update writes the listed columns and leaves the email and the lockout alone.
    let mut changed = owner.clone();
    changed.email = "changed@shop.example.jp".into();
    changed.display_name = "店長".into();
    changed.role = "manager".into();
    changed.state = "disabled".into();
    changed.password_hash = None;
    changed.failed_logins = 7;
    changed.last_login_at = Some(5_000);
    changed.updated_at = 5_000;
    s.staff_update(&changed).await.unwrap();
    let got = s.staff_by_id("st-1").await.unwrap().unwrap();
    assert_eq!(got.email, "owner@shop.example.jp");
    assert_eq!(got.display_name, "店長");
    assert_eq!(got.role, "manager");
    assert_eq!(got.state.as_str(), "disabled");
    assert_eq!(got.password_hash, None);
    assert_eq!(got.failed_logins, 0);
    assert_eq!((got.last_login_at, got.updated_at), (Some(5_000), 5_000));
    let mut ghost = changed.clone();
    ghost.id = "nobody".into();
    assert!(matches!(
        s.staff_update(&ghost).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));

    // Lockout: threshold 3, 900 seconds.
    let r = s.staff_login_failed("st-2", 10_000, 3, 900).await.unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (1, None));
    let r = s.staff_login_failed("st-2", 10_001, 3, 900).await.unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (2, None));
    let r = s.staff_login_failed("st-2", 10_002, 3, 900).await.unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (3, Some(10_902)));
    // A further failure restarts the lock from its own time.
    let r = s.staff_login_failed("st-2", 11_000, 3, 900).await.unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (4, Some(11_900)));
    s.staff_login_succeeded("st-2", 12_000).await.unwrap();
    let r = s.staff_by_id("st-2").await.unwrap().unwrap();
    assert_eq!(
        (r.failed_logins, r.locked_until, r.last_login_at),
        (0, None, Some(12_000))
    );
    assert!(matches!(
        s.staff_login_failed("nobody", 1, 3, 900).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        s.staff_login_succeeded("nobody", 1).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));

    // Concurrent failures each count: none is lost to a read-modify-write race.
    let mut handles = Vec::new();
    for i in 0..8 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.staff_login_failed("st-2", 20_000 + i, 5, 60)
                .await
                .unwrap()
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let r = s.staff_by_id("st-2").await.unwrap().unwrap();
    assert_eq!(r.failed_logins, 8);
    assert!(r.locked_until.is_some());
}

async fn passkeys_round_trip(backend: Backend) {
    let env = env(backend).await;
    with_staff(&env, &["st-1", "st-2"]).await;
    let s = env.store.as_ref();
    let key = |id: &str, staff: &str, cred: &[u8], at: i64| PasskeyRow {
        id: id.into(),
        staff_id: staff.into(),
        credential_id: cred.to_vec(),
        passkey: format!("{{\"cred\":\"{id}\",\"counter\":0}}"),
        label: format!("鍵 {id}"),
        created_at: at,
        last_used_at: None,
    };
    s.staff_passkey_insert(&key("pk-2", "st-1", b"cred-2", 20))
        .await
        .unwrap();
    s.staff_passkey_insert(&key("pk-1", "st-1", b"cred-1", 10))
        .await
        .unwrap();
    s.staff_passkey_insert(&key("pk-3", "st-2", b"cred-3", 10))
        .await
        .unwrap();
    let err = s
        .staff_passkey_insert(&key("pk-4", "st-2", b"cred-1", 30))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { what: "passkey" }),
        "{err}"
    );
    let err = s
        .staff_passkey_insert(&key("pk-5", "nobody", b"cred-5", 30))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    let mine = s.staff_passkeys("st-1").await.unwrap();
    assert_eq!(
        mine.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["pk-1", "pk-2"],
        "oldest first"
    );
    assert_eq!(mine[0], key("pk-1", "st-1", b"cred-1", 10));
    assert_eq!(
        s.staff_passkey_by_credential(b"cred-3")
            .await
            .unwrap()
            .map(|p| p.staff_id),
        Some("st-2".into())
    );
    assert_eq!(s.staff_passkey_by_credential(b"nope").await.unwrap(), None);

    assert!(s
        .staff_passkey_update("pk-1", "{\"counter\":5}", 99)
        .await
        .unwrap());
    assert!(!s.staff_passkey_update("nope", "{}", 99).await.unwrap());
    let p = s
        .staff_passkey_by_credential(b"cred-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.passkey.as_str(), p.last_used_at),
        ("{\"counter\":5}", Some(99))
    );

    // Deleting needs the owner: another member cannot remove it.
    assert!(!s.staff_passkey_delete("st-2", "pk-1").await.unwrap());
    assert!(s.staff_passkey_delete("st-1", "pk-1").await.unwrap());
    assert!(!s.staff_passkey_delete("st-1", "pk-1").await.unwrap());
    assert_eq!(s.staff_passkeys("st-1").await.unwrap().len(), 1);
}

async fn totp_steps_are_used_once(backend: Backend) {
    let env = env(backend).await;
    with_staff(&env, &["st-1"]).await;
    let s = env.store.as_ref();
    assert_eq!(s.staff_totp("st-1").await.unwrap(), None);
    assert!(
        !s.staff_totp_use_step("st-1", 5).await.unwrap(),
        "no secret, no step"
    );
    s.staff_totp_set("st-1", b"sealed-secret", 100)
        .await
        .unwrap();
    assert_eq!(
        s.staff_totp("st-1").await.unwrap(),
        Some((b"sealed-secret".to_vec(), 0))
    );
    assert!(s.staff_totp_use_step("st-1", 1_000).await.unwrap());
    assert!(
        !s.staff_totp_use_step("st-1", 1_000).await.unwrap(),
        "same code twice"
    );
    assert!(
        !s.staff_totp_use_step("st-1", 999).await.unwrap(),
        "an older code"
    );
    assert!(s.staff_totp_use_step("st-1", 1_001).await.unwrap());
    assert_eq!(
        s.staff_totp("st-1").await.unwrap().map(|t| t.1),
        Some(1_001)
    );

    // Two concurrent uses of the same step: one wins.
    let mut handles = Vec::new();
    for _ in 0..6 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.staff_totp_use_step("st-1", 1_002).await.unwrap()
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    assert_eq!(wins, 1);

    // A new secret starts over.
    s.staff_totp_set("st-1", b"another", 200).await.unwrap();
    assert_eq!(
        s.staff_totp("st-1").await.unwrap(),
        Some((b"another".to_vec(), 0))
    );
    s.staff_totp_delete("st-1").await.unwrap();
    assert_eq!(s.staff_totp("st-1").await.unwrap(), None);
    s.staff_totp_delete("st-1").await.unwrap();
}

async fn recovery_codes_work_once(backend: Backend) {
    let env = env(backend).await;
    with_staff(&env, &["st-1", "st-2"]).await;
    let s = env.store.as_ref();
    let codes: Vec<Vec<u8>> = vec![b"h1".to_vec(), b"h2".to_vec(), b"h3".to_vec()];
    s.staff_recovery_replace("st-1", &codes, 10).await.unwrap();
    s.staff_recovery_replace("st-2", &[b"h9".to_vec()], 10)
        .await
        .unwrap();
    assert_eq!(s.staff_recovery_remaining("st-1").await.unwrap(), 3);
    assert!(s.staff_recovery_use("st-1", b"h1", 20).await.unwrap());
    assert!(
        !s.staff_recovery_use("st-1", b"h1", 21).await.unwrap(),
        "used"
    );
    assert!(!s.staff_recovery_use("st-1", b"nope", 21).await.unwrap());
    assert!(
        !s.staff_recovery_use("st-1", b"h9", 21).await.unwrap(),
        "another member's code"
    );
    assert_eq!(s.staff_recovery_remaining("st-1").await.unwrap(), 2);

    // Two concurrent uses of one code: one wins.
    let mut handles = Vec::new();
    for _ in 0..6 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.staff_recovery_use("st-1", b"h2", 30).await.unwrap()
        }));
    }
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(s.staff_recovery_remaining("st-1").await.unwrap(), 1);

    // A new set replaces the old: the unused old code no longer works.
    s.staff_recovery_replace("st-1", &[b"n1".to_vec(), b"n2".to_vec()], 40)
        .await
        .unwrap();
    assert!(!s.staff_recovery_use("st-1", b"h3", 41).await.unwrap());
    assert_eq!(s.staff_recovery_remaining("st-1").await.unwrap(), 2);
    assert_eq!(s.staff_recovery_remaining("st-2").await.unwrap(), 1);
    // A repeated hash in one set is refused as a whole.
    let err = s
        .staff_recovery_replace("st-1", &[b"d".to_vec(), b"d".to_vec()], 50)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
    assert_eq!(s.staff_recovery_remaining("st-1").await.unwrap(), 2);
}

async fn staff_tokens_work_once_and_not_after_expiry(backend: Backend) {
    let env = env(backend).await;
    with_staff(&env, &["st-1"]).await;
    let s = env.store.as_ref();
    let token = |hash: &[u8], purpose: &str, expires_at: i64| StaffTokenRow {
        token_hash: hash.to_vec(),
        staff_id: "st-1".into(),
        purpose: purpose.into(),
        expires_at,
        used_at: None,
        created_at: 100,
    };
    s.staff_token_insert(&token(b"t1", "enrol", 1_000))
        .await
        .unwrap();
    assert_eq!(
        s.staff_token_consume(b"t1", "reset", 500).await.unwrap(),
        None,
        "other purpose"
    );
    assert_eq!(
        s.staff_token_consume(b"t1", "enrol", 1_000).await.unwrap(),
        None,
        "expired at expires_at"
    );
    assert_eq!(
        s.staff_token_consume(b"t1", "enrol", 999).await.unwrap(),
        Some(token(b"t1", "enrol", 1_000))
    );
    assert_eq!(
        s.staff_token_consume(b"t1", "enrol", 999).await.unwrap(),
        None,
        "used"
    );

    s.staff_token_insert(&token(b"t2", "enrol", 1_000))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..6 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.staff_token_consume(b"t2", "enrol", 500)
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

    s.staff_token_insert(&token(b"t3", "enrol", 1_000))
        .await
        .unwrap();
    s.staff_token_insert(&token(b"t4", "reset", 1_000))
        .await
        .unwrap();
    assert_eq!(
        s.staff_tokens_revoke("st-1", "enrol", 600).await.unwrap(),
        1
    );
    assert_eq!(
        s.staff_token_consume(b"t3", "enrol", 700).await.unwrap(),
        None
    );
    assert!(s
        .staff_token_consume(b"t4", "reset", 700)
        .await
        .unwrap()
        .is_some());
    // Housekeeping removes expired staff tokens, used or not (all four expire at 1,000).
    assert_eq!(s.tokens_purge(1_000).await.unwrap(), 0);
    assert_eq!(s.tokens_purge(1_001).await.unwrap(), 4);
}

async fn devices_are_new_once(backend: Backend) {
    let env = env(backend).await;
    with_staff(&env, &["st-1", "st-2"]).await;
    let s = env.store.as_ref();
    assert!(s.staff_device_seen("st-1", b"dev-a", 100).await.unwrap());
    assert!(!s.staff_device_seen("st-1", b"dev-a", 200).await.unwrap());
    assert!(s.staff_device_seen("st-1", b"dev-b", 300).await.unwrap());
    assert!(
        s.staff_device_seen("st-2", b"dev-a", 300).await.unwrap(),
        "the same device is new for another member"
    );
    assert_eq!(
        env.sql_i64(
            "SELECT last_seen FROM staff_devices WHERE staff_id = 'st-1' AND first_seen = 100"
        )
        .await,
        200
    );
    assert!(matches!(
        s.staff_device_seen("nobody", b"dev-a", 1)
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));

    let mut handles = Vec::new();
    for i in 0..6 {
        let s = env.store.clone();
        handles.push(tokio::spawn(async move {
            s.staff_device_seen("st-2", b"dev-c", 400 + i)
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for h in handles {
        new += usize::from(h.await.unwrap());
    }
    assert_eq!(new, 1);
}

async fn staff_log_filters_and_pages(backend: Backend) {
    let env = env(backend).await;
    let s = env.store.as_ref();
    let entries = [
        (100, Some("st-1"), "products.update"),
        (110, Some("st-2"), "orders.transition"),
        (120, Some("st-1"), "orders.cancel"),
        (130, None, "staff.create"),
        (140, Some("st-2"), "orders.transition"),
        (150, Some("st-1"), "settings.update"),
        // `_` is not a wildcard in a prefix filter.
        (160, Some("st-1"), "ordersXexport"),
        (170, Some("st-2"), "orders_export"),
    ];
    let mut seqs = Vec::new();
    for (at, who, action) in entries {
        seqs.push(
            s.staff_log_append(&StaffLogRow {
                seq: 0,
                at,
                staff_id: who.map(str::to_owned),
                action: action.into(),
                target: format!("t-{at}"),
                detail: format!("{{\"at\":{at}}}"),
                request_id: format!("req-{at}"),
                ip: who.map(|_| "192.0.2.10".to_owned()),
            })
            .await
            .unwrap(),
        );
    }
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");

    let all = s
        .staff_log_page(&StaffLogFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(all.total, 8);
    assert_eq!(
        all.items.iter().map(|r| r.at).collect::<Vec<_>>(),
        [170, 160, 150, 140, 130, 120, 110, 100],
        "newest first"
    );
    let first = &all.items[7];
    assert_eq!(first.seq, seqs[0]);
    assert_eq!(first.staff_id.as_deref(), Some("st-1"));
    assert_eq!(first.target, "t-100");
    assert_eq!(first.detail, "{\"at\":100}");
    assert_eq!(first.request_id, "req-100");
    assert_eq!(first.ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(all.items[4].ip, None);

    let page = |f: StaffLogFilter, offset, limit| async move {
        let p = s.staff_log_page(&f, offset, limit).await.unwrap();
        (p.total, p.items.iter().map(|r| r.at).collect::<Vec<_>>())
    };
    let by = |who: &str| StaffLogFilter {
        staff_id: Some(who.into()),
        ..Default::default()
    };
    assert_eq!(
        page(by("st-1"), 0, 100).await,
        (4, vec![160, 150, 120, 100])
    );
    assert_eq!(page(by("st-1"), 1, 2).await, (4, vec![150, 120]));
    assert_eq!(page(by("st-1"), 4, 2).await, (4, vec![]));
    let action = |prefix: &str| StaffLogFilter {
        action_prefix: Some(prefix.into()),
        ..Default::default()
    };
    assert_eq!(
        page(action("orders."), 0, 100).await,
        (3, vec![140, 120, 110])
    );
    assert_eq!(page(action("orders_"), 0, 100).await, (1, vec![170]));
    assert_eq!(page(action("%"), 0, 100).await, (0, vec![]));
    let window = StaffLogFilter {
        from: Some(110),
        to: Some(150),
        ..Default::default()
    };
    assert_eq!(page(window, 0, 100).await, (4, vec![140, 130, 120, 110]));
    let all_of_it = StaffLogFilter {
        staff_id: Some("st-2".into()),
        action_prefix: Some("orders.".into()),
        from: Some(111),
        to: None,
    };
    assert_eq!(page(all_of_it, 0, 100).await, (1, vec![140]));
}

async fn settings_are_upserted(backend: Backend) {
    let env = env(backend).await;
    let s = env.store.as_ref();
    assert!(s.settings_all().await.unwrap().is_empty());
    s.settings_put("shop.name", "\"守り商店\"", 10, Some("st-1"))
        .await
        .unwrap();
    s.settings_put("payments.cod", "true", 11, None)
        .await
        .unwrap();
    s.settings_put("shop.name", "\"守り商店 本店\"", 12, Some("st-2"))
        .await
        .unwrap();
    assert_eq!(
        s.settings_all().await.unwrap(),
        vec![
            ("payments.cod".to_owned(), "true".to_owned()),
            ("shop.name".to_owned(), "\"守り商店 本店\"".to_owned()),
        ]
    );
    assert_eq!(
        env.sql_i64(
            "SELECT updated_at FROM shop_settings WHERE key = 'shop.name' AND updated_by = 'st-2'"
        )
        .await,
        12
    );
}

async fn product_images_and_stock(backend: Backend) {
    let env = env(backend).await;
    let s = env.store.as_ref();
    let p = product(&env, "AA-1", true).await;
    product(&env, "BB-2", false).await;
    product(&env, "CC-3", true).await;

    let image = |id: &str, product_id: &str, at: i64| ProductImageRow {
        id: id.into(),
        product_id: product_id.into(),
        content_type: "image/png".into(),
        bytes: vec![0x89, b'P', b'N', b'G', 1, 2, 3, 0, 255],
        width: 640,
        height: 480,
        sha256: vec![7; 32],
        created_at: at,
    };
    s.product_image_insert(&image("img-2", &p.id, 20))
        .await
        .unwrap();
    s.product_image_insert(&image("img-1", &p.id, 10))
        .await
        .unwrap();
    let err = s
        .product_image_insert(&image("img-3", "no-such-product", 30))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "product" }),
        "{err}"
    );
    assert_eq!(
        s.product_image("img-1").await.unwrap(),
        Some(image("img-1", &p.id, 10))
    );
    assert_eq!(s.product_image("nope").await.unwrap(), None);
    assert_eq!(
        s.product_images_of(&p.id)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        ["img-1", "img-2"]
    );
    assert!(!s.product_image_delete("prod-CC-3", "img-1").await.unwrap());
    assert!(s.product_image_delete(&p.id, "img-1").await.unwrap());
    assert_eq!(s.product_images_of(&p.id).await.unwrap().len(), 1);

    // The back office sees inactive products too; the shop's listing does not.
    let all = s.products_page_all(0, 10).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        all.items.iter().map(|p| p.sku.as_str()).collect::<Vec<_>>(),
        ["AA-1", "BB-2", "CC-3"]
    );
    assert_eq!(
        s.products_in_category("cat-1", 0, 10).await.unwrap().total,
        2
    );
    let second = s.products_page_all(2, 2).await.unwrap();
    assert_eq!((second.total, second.items.len()), (3, 1));
    assert_eq!(
        s.product_by_id("prod-BB-2")
            .await
            .unwrap()
            .map(|p| p.active),
        Some(false)
    );
    assert_eq!(s.product_by_id("nope").await.unwrap(), None);

    assert!(s.set_stock("AA-1", 42).await.unwrap());
    let after = s.product_by_sku("AA-1").await.unwrap().unwrap();
    assert_eq!(after.stock, 42);
    assert!(after.updated_at > p.updated_at);
    assert!(!s.set_stock("ZZ-9", 1).await.unwrap());
    assert!(matches!(
        s.set_stock("AA-1", -1).await.unwrap_err(),
        StoreError::BadInput { field: "stock", .. }
    ));
    assert_eq!(s.product_by_sku("AA-1").await.unwrap().unwrap().stock, 42);
}

// ---------------------------------------------------------------------------------------------
// Orders and customers for the back office.

async fn place(env: &Env, customer: &str, key: &str, number: &str) -> String {
    env.gw
        .place_order(
            &web("checkout"),
            &new_order(customer, &HANAKO, &KENJI, key),
            number,
        )
        .await
        .unwrap()
        .order_id
}

async fn orders_search_and_sales(backend: Backend) {
    let env = env(backend).await;
    let s = env.store.as_ref();
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let o1 = place(&env, &a, "k1", "20261120-000001").await;
    let o2 = place(&env, &a, "k2", "20261121-000002").await;
    let o3 = place(&env, &a, "k3", "20261121-000003").await;
    let o4 = place(&env, &a, "k4", "20261121_00004").await;
    let o5 = place(&env, &a, "k5", "20261122-000005").await;
    // Placement times one second apart, from o1 to o5.
    for (i, o) in [&o1, &o2, &o3, &o4, &o5].iter().enumerate() {
        env.sql(
            "UPDATE orders SET placed_at = $1 WHERE id = $2",
            vec![
                Bind::Int(1_000_000 * (i as i64 + 1)),
                Bind::Text((*o).clone()),
            ],
        )
        .await;
    }
    assert!(s
        .transition_order(&o2, &[OS::PendingPayment], OS::Paid, 10, &[])
        .await
        .unwrap());
    assert!(s
        .transition_order(&o3, &[OS::PendingPayment], OS::Cancelled, 10, &[])
        .await
        .unwrap());
    assert!(s
        .transition_order(&o4, &[OS::PendingPayment], OS::Refunded, 10, &[])
        .await
        .unwrap());

    let ids = |p: mamori_store::Page<mamori_store::OrderHeader>| {
        (
            p.total,
            p.items.into_iter().map(|o| o.id).collect::<Vec<_>>(),
        )
    };
    let all = s
        .orders_search(&OrderFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(all),
        (
            5,
            vec![o5.clone(), o4.clone(), o3.clone(), o2.clone(), o1.clone()]
        )
    );
    let paged = s
        .orders_search(&OrderFilter::default(), 1, 2)
        .await
        .unwrap();
    assert_eq!(ids(paged), (5, vec![o4.clone(), o3.clone()]));
    let pending = OrderFilter {
        state: Some(OS::PendingPayment),
        ..Default::default()
    };
    assert_eq!(
        ids(s.orders_search(&pending, 0, 10).await.unwrap()),
        (2, vec![o5.clone(), o1.clone()])
    );
    let day = OrderFilter {
        number_prefix: Some("20261121-".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(s.orders_search(&day, 0, 10).await.unwrap()),
        (2, vec![o3.clone(), o2.clone()]),
        "`-` and `_` are taken literally"
    );
    let window = OrderFilter {
        placed_from_us: Some(2_000_000),
        placed_to_us: Some(4_000_000),
        ..Default::default()
    };
    assert_eq!(
        ids(s.orders_search(&window, 0, 10).await.unwrap()),
        (2, vec![o3.clone(), o2.clone()])
    );
    let everything = OrderFilter {
        state: Some(OS::Paid),
        number_prefix: Some("2026".into()),
        placed_from_us: Some(1),
        placed_to_us: Some(10_000_000),
    };
    assert_eq!(
        ids(s.orders_search(&everything, 0, 10).await.unwrap()),
        (1, vec![o2.clone()])
    );

    // Sales: cancelled and refunded orders are not sales; the window is half-open.
    let total = s.order_header(&o1).await.unwrap().unwrap().total;
    assert!(total > 0);
    let sum = s.sales_summary(0, 10_000_000).await.unwrap();
    assert_eq!((sum.orders, sum.total), (3, 3 * total));
    let sum = s.sales_summary(2_000_000, 5_000_000).await.unwrap();
    assert_eq!(
        (sum.orders, sum.total),
        (1, total),
        "o2 only (o3, o4 are not sales, o5 is at the end)"
    );
    let none = s.sales_summary(20_000_000, 30_000_000).await.unwrap();
    assert_eq!((none.orders, none.total), (0, 0));

    // By period, in one query: each period is what `sales_summary` says of it.
    let periods = s.sales_by_day(0, 1_500_000, 8).await.unwrap();
    assert_eq!(periods.len(), 8);
    for (i, p) in periods.iter().enumerate() {
        let from = i as i64 * 1_500_000;
        let one = s.sales_summary(from, from + 1_500_000).await.unwrap();
        assert_eq!(*p, one, "period {i}");
    }
    let sum: i64 = periods.iter().map(|p| p.orders).sum();
    assert_eq!(sum, 3);
    assert!(periods.iter().filter(|p| p.orders > 0).count() >= 2);
    assert!(s.sales_by_day(0, 0, 8).await.unwrap().is_empty());
    assert!(s.sales_by_day(0, 1_500_000, 0).await.unwrap().is_empty());

    // A partial refund lowers its order's sale, in both figures; the order still counts.
    let refund = mamori_store::RefundRow {
        id: "refund-o2".into(),
        order_id: o2.clone(),
        amount: 100,
        reason: "一部欠品".into(),
        provider_refund_id: None,
        idempotency_key: "sales-k1".into(),
        staff_id: Some("staff-1".into()),
        created_at: 11,
    };
    assert_eq!(
        s.refund_insert(&refund, total, &[]).await.unwrap(),
        mamori_store::RefundInsert::Recorded
    );
    let sum = s.sales_summary(0, 10_000_000).await.unwrap();
    assert_eq!((sum.orders, sum.total), (3, 3 * total - 100));
    let periods = s.sales_by_day(0, 1_500_000, 8).await.unwrap();
    assert_eq!(
        periods.iter().map(|p| p.total).sum::<i64>(),
        3 * total - 100
    );
    for (i, p) in periods.iter().enumerate() {
        let from = i as i64 * 1_500_000;
        let one = s.sales_summary(from, from + 1_500_000).await.unwrap();
        assert_eq!(*p, one, "period {i} after the refund");
    }
}

async fn customers_page_lists_everyone_newest_first(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let b = register(&env, &KENJI, CustomerKind::Guest).await;
    let c = register(&env, &KENJI, CustomerKind::Member).await;
    env.gw.erase_customer(&support(), &b).await.unwrap();
    let page = env.store.customers_page(0, 10).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(
        page.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [c.clone(), b.clone(), a.clone()]
    );
    assert!(page.items[1].erased_at.is_some());
    let second = env.store.customers_page(1, 1).await.unwrap();
    assert_eq!(second.items[0].id, b);
}

async fn order_lines_keep_their_delivery(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let mut order = new_order(&a, &HANAKO, &KENJI, "split");
    let mut second = order.shipments[0].clone();
    second.recipient = recipient(&HANAKO);
    order.shipments.push(second);
    let before = size(&env).await;
    let err = env
        .gw
        .place_order_split(&web("checkout"), &order, "N-bad", None, &[1, 3])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "item_shipments",
                ..
            }
        ),
        "{err}"
    );
    let err = env
        .gw
        .place_order_split(&web("checkout"), &order, "N-bad", None, &[1])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "item_shipments",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(size(&env).await, before, "a refused order records nothing");

    let placed = env
        .gw
        .place_order_split(&web("checkout"), &order, "N-split", None, &[2, 1])
        .await
        .unwrap();
    let bundle = env.store.order(&placed.order_id).await.unwrap().unwrap();
    assert_eq!(
        bundle
            .items
            .iter()
            .map(|i| i.shipment_no)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    let view = env.gw.order(&support(), &placed.order_id).await.unwrap();
    assert_eq!(view.item_shipments, [2, 1]);

    // Without an assignment every line goes with the first delivery.
    let plain = place(&env, &a, "plain", "N-plain").await;
    let bundle = env.store.order(&plain).await.unwrap().unwrap();
    assert!(bundle.items.iter().all(|i| i.shipment_no == 1));
    // Lines written before migration 0004 hold 0 and read as the first delivery.
    env.sql(
        "UPDATE order_items SET shipment_no = 0 WHERE order_id = $1",
        vec![Bind::Text(plain.clone())],
    )
    .await;
    let view = env.gw.order(&support(), &plain).await.unwrap();
    assert_eq!(view.item_shipments, [1, 1]);
}

// ---------------------------------------------------------------------------------------------
// Gateway: masked views, reveals, exports.

async fn reveal_needs_a_reason_and_records_exactly_one_read(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let b = register(&env, &KENJI, CustomerKind::Member).await;
    let mut no_phone = profile(&KENJI, CustomerKind::Guest);
    no_phone.phone = None;
    no_phone.birth_date = None;
    let c = env
        .gw
        .register_customer(&web("register"), &no_phone, None)
        .await
        .unwrap();
    let start = size(&env).await;

    // Refused without a usable reason, and nothing recorded.
    for acc in [
        support(),
        support().because("   "),
        support().because("理由\n二行目"),
        support().because(&"あ".repeat(201)),
    ] {
        let err = env
            .gw
            .reveal(&acc, &a, CustomerField::Phone)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::BadInput {
                    field: "reason",
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(env
        .gw
        .reveal(&support(), &a, CustomerField::Phone)
        .await
        .unwrap_err()
        .to_string()
        .contains("reason"));
    // Unknown customers and absent values: refused before anything is opened.
    let acc = support().because("問い合わせ #4521 の本人確認");
    assert!(matches!(
        env.gw
            .reveal(&acc, "no-such-customer", CustomerField::Name)
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    for field in [
        CustomerField::Phone,
        CustomerField::BirthDate,
        CustomerField::Address,
    ] {
        assert!(matches!(
            env.gw.reveal(&acc, &c, field).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
    }
    assert_eq!(size(&env).await, start, "refusals record nothing");

    env.gw
        .add_address(&web("mypage"), &a, &recipient(&KENJI))
        .await
        .unwrap();
    let start = size(&env).await;
    let expected = [
        (CustomerField::Name, "鳩山 花子（ハトヤマ）".to_owned()),
        (CustomerField::Email, HANAKO.email.to_owned()),
        (CustomerField::Phone, "090-1234-5678".to_owned()),
        (CustomerField::BirthDate, HANAKO.birth.to_owned()),
        (
            CustomerField::Address,
            "〒530-0001 東京都大阪市北区梅田3-3-3 パークハイツ101".to_owned(),
        ),
    ];
    for (i, (field, value)) in expected.iter().enumerate() {
        let got = env.gw.reveal(&acc, &a, *field).await.unwrap();
        assert_eq!(got.expose(), value, "{}", field.as_str());
        // Exactly one event per reveal, naming exactly this customer and this field, with the reason.
        let events = events_since(&env, start + i as u64).await;
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        assert_eq!(ev.action, Action::Read);
        assert_eq!(ev.customers, vec![a.clone()]);
        assert_eq!(ev.fields, vec![field.ledger_field().to_owned()]);
        assert_eq!(ev.reason.as_deref(), Some("問い合わせ #4521 の本人確認"));
        assert_eq!(ev.purpose, "backoffice.customers");
        assert_eq!(ev.request_id, "req-1");
        assert_eq!(
            ev.principal,
            mamori_store::Principal::Staff("staff-support-1".into())
        );
    }
    // Each field has its own ledger name.
    let names: std::collections::BTreeSet<&str> = CustomerField::ALL
        .iter()
        .map(|f| f.ledger_field())
        .collect();
    assert_eq!(names.len(), CustomerField::ALL.len());
    // The other customer was not touched by any of it.
    assert_eq!(env.store.ledger_events_of(&b).await.unwrap().len(), 1);
    // The events name fields and carry the reason, never a value.
    let size_now = size(&env).await;
    for seq in start..size_now {
        let raw = env.store.ledger_entries(seq, 1).await.unwrap()[0]
            .event
            .clone();
        let raw = String::from_utf8(raw).unwrap();
        for value in [
            HANAKO.family,
            HANAKO.given,
            HANAKO.email,
            HANAKO.phone,
            "1234-5678",
            KENJI.line1,
        ] {
            assert!(!raw.contains(value), "a value in the ledger");
        }
    }
}

async fn masked_listing_records_one_masked_read(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    env.gw
        .add_address(&web("mypage"), &a, &recipient(&HANAKO))
        .await
        .unwrap();
    let b = register(&env, &KENJI, CustomerKind::Guest).await;
    let gone = register(&env, &KENJI, CustomerKind::Member).await;
    env.gw.erase_customer(&support(), &gone).await.unwrap();
    let d = register(&env, &HANAKO, CustomerKind::Guest).await;

    let start = size(&env).await;
    let page = env.gw.customers_masked(&support(), 0, 10).await.unwrap();
    assert_eq!(page.total, 4);
    let ids: Vec<&str> = page.items.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [d.as_str(), gone.as_str(), b.as_str(), a.as_str()]);
    let ma = &page.items[3];
    assert!(ma.member && !ma.erased);
    assert_eq!(ma.name, "鳩山 **");
    assert_eq!(ma.email, "h***@example.jp");
    assert_eq!(ma.phone, "090-****-5678");
    assert_eq!(ma.birth_date, "****-**-**");
    assert_eq!(
        ma.prefecture, None,
        "no order yet: an address-book entry is not the member"
    );
    let mb = &page.items[2];
    assert!(!mb.member);
    assert_eq!(
        (mb.name.as_str(), mb.email.as_str(), mb.phone.as_str()),
        ("榊原 **", "k***@example.com", "080-****-5432")
    );
    assert_eq!(mb.prefecture, None, "no order");
    // The erased customer is listed as erased, with nothing to show.
    let mg = &page.items[1];
    assert!(mg.erased);
    assert_eq!(
        (
            mg.name.as_str(),
            mg.email.as_str(),
            mg.phone.as_str(),
            mg.birth_date.as_str()
        ),
        ("", "", "", "")
    );

    // One ReadMasked event naming exactly the page's customers whose data was opened.
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev.action, Action::ReadMasked);
    assert_eq!(ev.customers, vec![d.clone(), b.clone(), a.clone()]);
    assert_eq!(
        ev.fields,
        strings(&[
            fields::NAME,
            fields::EMAIL,
            fields::PHONE,
            "orders.buyer_address"
        ])
    );
    assert_eq!(ev.reason, None);
    let raw = serde_json_like(&ev.to_bytes());
    assert!(raw.contains("\"read_masked\""));
    assert!(!raw.contains("reason"), "no reason, no reason field");

    // A smaller page names only its own customers.
    let start = size(&env).await;
    let page = env.gw.customers_masked(&support(), 2, 1).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].customers, vec![b.clone()]);
    // A page with only the erased customer opens nothing and records nothing.
    let start = size(&env).await;
    let page = env.gw.customers_masked(&support(), 1, 1).await.unwrap();
    assert!(page.items[0].erased);
    assert_eq!(size(&env).await, start);
    // Beyond the end: nothing.
    let page = env.gw.customers_masked(&support(), 10, 10).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(size(&env).await, start);
}

fn serde_json_like(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn customer_detail_and_order_are_masked(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let addr = env
        .gw
        .add_address(&web("mypage"), &a, &recipient(&KENJI))
        .await
        .unwrap();
    let o = place(&env, &a, "k1", "N-1").await;

    let start = size(&env).await;
    let detail = env.gw.customer_masked(&support(), &a).await.unwrap();
    assert_eq!(detail.customer.name, "鳩山 **");
    assert_eq!(detail.addresses.len(), 1);
    let m = &detail.addresses[0];
    assert_eq!(m.id, addr);
    assert_eq!(
        (m.name.as_str(), m.address.as_str(), m.phone.as_str()),
        ("榊原 **", "東京都大阪市北区 ***", "080-****-5432")
    );
    assert_eq!(detail.orders.len(), 1);
    assert_eq!(detail.orders[0].id, o);
    // No ciphertext is handed out: `orders` are `OrderHeader`s, which have no sealed field.
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, Action::ReadMasked);
    assert_eq!(events[0].customers, vec![a.clone()]);
    assert_eq!(events[0].fields, strings(fields::MASKED_DETAIL));
    assert!(matches!(
        env.gw
            .customer_masked(&support(), "nobody")
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));

    let start = size(&env).await;
    let order = env.gw.order_masked(&support(), &o).await.unwrap();
    assert!(!order.erased);
    assert_eq!(order.header.order_number, "N-1");
    assert_eq!(order.buyer_name, "鳩山 **");
    assert_eq!(order.buyer_email, "h***@example.jp");
    assert_eq!(order.buyer_phone, "090-****-5678");
    assert_eq!(order.buyer_address, "東京都千代田区 ***");
    assert_eq!(order.shipments.len(), 1);
    assert_eq!(order.shipments[0].name, "榊原 **");
    assert_eq!(order.shipments[0].slot, "morning");
    assert_eq!(order.lines.len(), 2);
    assert!(order.lines[0].personalised && order.lines[0].noshi);
    assert!(!order.lines[1].personalised && !order.lines[1].noshi);
    assert!(order.lines.iter().all(|l| l.shipment_no == 1));
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, Action::ReadMasked);
    assert_eq!(events[0].customers, vec![a.clone()]);
    assert_eq!(events[0].fields, strings(fields::MASKED_ORDER));

    // After erasure: shown as erased, nothing opened, nothing recorded.
    env.gw.erase_customer(&support(), &a).await.unwrap();
    let start = size(&env).await;
    let detail = env.gw.customer_masked(&support(), &a).await.unwrap();
    assert!(detail.customer.erased);
    assert!(detail.customer.name.is_empty() && detail.addresses.is_empty());
    assert_eq!(detail.orders.len(), 1, "the order's amounts stay");
    let order = env.gw.order_masked(&support(), &o).await.unwrap();
    assert!(order.erased && order.buyer_name.is_empty() && order.shipments[0].name.is_empty());
    assert_eq!(size(&env).await, start);
}

async fn erased_customers_cannot_be_revealed(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    env.gw.erase_customer(&support(), &a).await.unwrap();
    let page = env.gw.customers_masked(&support(), 0, 10).await.unwrap();
    assert!(page.items[0].erased);
    let start = size(&env).await;
    let acc = support().because("本人からの問い合わせ");
    for field in CustomerField::ALL {
        let err = env.gw.reveal(&acc, &a, field).await.unwrap_err();
        assert!(matches!(err, StoreError::Erased(_)), "{err}");
        assert!(err.to_string().contains("erased"));
    }
    let err = env
        .gw
        .export_customers(&acc, std::slice::from_ref(&a), &[CustomerField::Name])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Erased(_)), "{err}");
    assert_eq!(size(&env).await, start, "nothing recorded");
}

async fn export_records_exact_ids_and_fields(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let b = register(&env, &KENJI, CustomerKind::Guest).await;
    let c = register(&env, &KENJI, CustomerKind::Member).await;
    let acc = support().because("年末のお礼状送付");
    let start = size(&env).await;

    // Refusals: no reason, nothing chosen, an unknown id. Nothing recorded.
    let err = env
        .gw
        .export_customers(&support(), std::slice::from_ref(&a), &[CustomerField::Name])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    let err = env
        .gw
        .export_customers(&acc, &[], &[CustomerField::Name])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "customer_ids",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("nothing to export"));
    let err = env
        .gw
        .export_customers(&acc, std::slice::from_ref(&a), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "fields",
                ..
            }
        ),
        "{err}"
    );
    let err = env
        .gw
        .export_customers(&acc, &[a.clone(), "nobody".into()], &[CustomerField::Name])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(size(&env).await, start);

    let out = env
        .gw
        .export_customers(
            &acc,
            &[b.clone(), a.clone(), b.clone()],
            &[
                CustomerField::Email,
                CustomerField::Name,
                CustomerField::Email,
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        out.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        [b.clone(), a.clone()]
    );
    let values: Vec<Vec<(CustomerField, String)>> = out
        .iter()
        .map(|e| {
            e.values
                .iter()
                .map(|(f, v)| (*f, v.expose().clone()))
                .collect()
        })
        .collect();
    assert_eq!(
        values,
        vec![
            vec![
                (CustomerField::Email, KENJI.email.to_owned()),
                (CustomerField::Name, "榊原 健司（サカキバラ）".to_owned()),
            ],
            vec![
                (CustomerField::Email, HANAKO.email.to_owned()),
                (CustomerField::Name, "鳩山 花子（ハトヤマ）".to_owned()),
            ],
        ]
    );
    // ONE event: exactly these customers and fields, the export's purpose and reason.
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev.action, Action::Read);
    assert_eq!(ev.customers, vec![b.clone(), a.clone()]);
    assert_eq!(ev.fields, strings(&[fields::EMAIL, fields::NAME]));
    assert_eq!(ev.reason.as_deref(), Some("年末のお礼状送付"));
    assert_eq!(ev.purpose, "backoffice.customers");
    assert!(
        env.store.ledger_events_of(&c).await.unwrap().len() == 1,
        "c untouched"
    );
    // Values the customer does not have export as empty cells.
    env.gw
        .add_address(&web("mypage"), &a, &recipient(&HANAKO))
        .await
        .unwrap();
    let out = env
        .gw
        .export_customers(&acc, &[a.clone(), b.clone()], &[CustomerField::Address])
        .await
        .unwrap();
    assert_eq!(
        out[0].values[0].1.expose(),
        "〒100-0001 東京都千代田区千代田1-1 パークハイツ101"
    );
    assert_eq!(out[1].values[0].1.expose(), "");
}

async fn shipping_rows_for_carriers(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let b = register(&env, &KENJI, CustomerKind::Guest).await;
    let mut order = new_order(&a, &HANAKO, &KENJI, "split");
    let mut second = order.shipments[0].clone();
    second.recipient = recipient(&HANAKO);
    second.delivery_date = None;
    order.shipments.push(second);
    let split = env
        .gw
        .place_order_split(&web("checkout"), &order, "N-split", None, &[2, 1])
        .await
        .unwrap()
        .order_id;
    let other = env
        .gw
        .place_order(
            &web("checkout"),
            &new_order(&b, &KENJI, &HANAKO, "kb"),
            "N-b",
        )
        .await
        .unwrap()
        .order_id;
    let acc = support().because("本日出荷分");
    let start = size(&env).await;
    let err = env
        .gw
        .shipping_rows(&support(), std::slice::from_ref(&split))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    let err = env.gw.shipping_rows(&acc, &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::BadInput {
                field: "order_ids",
                ..
            }
        ),
        "{err}"
    );
    let err = env
        .gw
        .shipping_rows(&acc, &[split.clone(), "nope".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "order" }),
        "{err}"
    );
    assert_eq!(size(&env).await, start);

    let rows = env
        .gw
        .shipping_rows(&acc, &[split.clone(), other.clone(), split.clone()])
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        3,
        "two deliveries of one order, one of the other"
    );
    let r = &rows[0];
    assert_eq!((r.order_number.as_str(), r.shipment_no), ("N-split", 1));
    assert_eq!(r.recipient_name.expose(), "榊原 健司");
    assert_eq!(r.postal_code.expose(), "530-0001");
    assert_eq!(r.prefecture, "東京都");
    assert_eq!(
        r.address_line.expose(),
        "大阪市北区梅田3-3-3 パークハイツ101"
    );
    assert_eq!(r.phone.expose(), "080-9876-5432");
    assert_eq!(
        (r.slot.as_str(), r.date.as_deref()),
        ("morning", Some("2026-11-25"))
    );
    assert_eq!(r.items, "国産 緑茶 200g ×3");
    assert_eq!(
        (
            r.personalisation.expose().as_str(),
            r.noshi.expose().as_str()
        ),
        ("", "")
    );
    let r = &rows[1];
    assert_eq!(
        (r.shipment_no, r.recipient_name.expose().as_str()),
        (2, "鳩山 花子")
    );
    assert_eq!(r.items, "名前旗 金襴 中 ×1");
    assert_eq!(
        r.personalisation.expose(),
        "名前旗 金襴 中: 結衣花 2025-05-05"
    );
    assert_eq!(r.noshi.expose(), "名前旗 金襴 中: 御祝 / 鳩山");
    assert_eq!(r.date, None);
    assert_eq!(rows[2].order_number, "N-b");
    assert_eq!(rows[2].items, "名前旗 金襴 中 ×1 / 国産 緑茶 200g ×3");

    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev.action, Action::Read);
    assert_eq!(ev.customers, vec![a.clone(), b.clone()]);
    let mut shipping_and_gifts = fields::SHIPPING.to_vec();
    shipping_and_gifts.extend(mamori_store::gateway::GIFT_FIELDS);
    assert_eq!(ev.fields, strings(&shipping_and_gifts));
    assert_eq!(ev.reason.as_deref(), Some("本日出荷分"));

    // An erased customer's order has no address left to ship to.
    env.gw.erase_customer(&support(), &b).await.unwrap();
    let start = size(&env).await;
    let err = env
        .gw
        .shipping_rows(&acc, &[split.clone(), other.clone()])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Erased(_)), "{err}");
    assert_eq!(size(&env).await, start);
}

async fn failing_ledger_refuses_backoffice_reads(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let o = place(&env, &a, "k1", "N-1").await;
    let before = env.sql_i64("SELECT size FROM ledger_state").await;
    env.sql(
        "ALTER TABLE ledger_entries RENAME TO ledger_entries_gone",
        vec![],
    )
    .await;
    let acc = support().because("確認");
    let err = env
        .gw
        .reveal(&acc, &a, CustomerField::Email)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    let err = env
        .gw
        .export_customers(&acc, std::slice::from_ref(&a), &[CustomerField::Name])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    let err = env
        .gw
        .shipping_rows(&acc, std::slice::from_ref(&o))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    let err = env.gw.customers_masked(&acc, 0, 10).await.unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    let err = env.gw.customer_masked(&acc, &a).await.unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    let err = env.gw.order_masked(&acc, &o).await.unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    assert_eq!(env.sql_i64("SELECT size FROM ledger_state").await, before);
}

async fn members_are_found_by_email_without_a_record(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    register(&env, &KENJI, CustomerKind::Guest).await;
    let start = size(&env).await;
    let email = Email::parse(&HANAKO.email.to_uppercase()).unwrap();
    assert_eq!(env.gw.find_member(&email).await.unwrap(), Some(a));
    let guest = Email::parse(KENJI.email).unwrap();
    assert_eq!(
        env.gw.find_member(&guest).await.unwrap(),
        None,
        "guests are not indexed"
    );
    assert_eq!(size(&env).await, start);
}

both_backends!(
    staff_accounts_and_lockout,
    passkeys_round_trip,
    totp_steps_are_used_once,
    recovery_codes_work_once,
    staff_tokens_work_once_and_not_after_expiry,
    devices_are_new_once,
    staff_log_filters_and_pages,
    settings_are_upserted,
    product_images_and_stock,
    orders_search_and_sales,
    customers_page_lists_everyone_newest_first,
    order_lines_keep_their_delivery,
    reveal_needs_a_reason_and_records_exactly_one_read,
    masked_listing_records_one_masked_read,
    masked_customer_shows_their_own_prefecture_not_a_recipients,
    customers_are_found_by_name_reading_and_phone,
    customer_detail_and_order_are_masked,
    erased_customers_cannot_be_revealed,
    export_records_exact_ids_and_fields,
    shipping_rows_for_carriers,
    refunds_stay_within_the_order_total_and_happen_once,
    payment_fee_is_kept_as_charged,
    failing_ledger_refuses_backoffice_reads,
    members_are_found_by_email_without_a_record,
);

/// Issue: a member's first address-book entry (a gift recipient in another prefecture) became the
/// member on the customer page. The prefecture shown is the buyer's own, from the latest order.
async fn masked_customer_shows_their_own_prefecture_not_a_recipients(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let mut grandma = recipient(&KENJI);
    grandma.address = mamori_domain::Personal::new(
        mamori_domain::Address::parse(&mamori_domain::AddressParts {
            postal_code: "530-0001".into(),
            prefecture: "大阪府".into(),
            city: "大阪市北区".into(),
            line1: "梅田1-1-1".into(),
            line2: None,
        })
        .unwrap(),
    );
    env.gw
        .add_address(&web("mypage"), &a, &grandma)
        .await
        .unwrap();
    let detail = env.gw.customer_masked(&support(), &a).await.unwrap();
    assert_eq!(detail.customer.prefecture, None);
    assert_eq!(detail.addresses.len(), 1);
    assert!(detail.addresses[0].address.starts_with("大阪府"));

    place(&env, &a, "k-pref", "N-pref").await;
    let start = size(&env).await;
    let detail = env.gw.customer_masked(&support(), &a).await.unwrap();
    assert_eq!(detail.customer.prefecture.as_deref(), Some("東京都"));
    let listed = env.gw.customers_masked(&support(), 0, 10).await.unwrap();
    assert_eq!(listed.items[0].prefecture.as_deref(), Some("東京都"));
    // Both reads say that the buyer address was opened.
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 2);
    for e in events {
        assert!(
            e.fields.iter().any(|f| f == "orders.buyer_address"),
            "{:?}",
            e.fields
        );
    }
}

/// Merchants look customers up by name, reading or phone. Nothing of it is stored in the clear:
/// the search goes through keyed blind indexes, finds exact (normalised) values only, records a
/// masked read of what it found, and forgets erased customers.
async fn customers_are_found_by_name_reading_and_phone(backend: Backend) {
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let b = register(&env, &KENJI, CustomerKind::Guest).await;
    let a2 = register(&env, &HANAKO, CustomerKind::Guest).await;
    let ids = |found: Vec<mamori_store::gateway::MaskedCustomer>| {
        found.into_iter().map(|m| m.id).collect::<Vec<_>>()
    };
    let find = |q: &'static str| {
        let gw = env.gw.clone();
        async move { gw.search_customers_masked(&support(), q, 50).await.unwrap() }
    };
    assert_eq!(ids(find("鳩山").await), [a2.clone(), a.clone()]);
    assert_eq!(ids(find("鳩山　花子").await), [a2.clone(), a.clone()]);
    assert_eq!(ids(find("はとやま").await), [a2.clone(), a.clone()]);
    assert_eq!(ids(find("080-9876-5432").await), std::slice::from_ref(&b));
    assert_eq!(
        ids(find("kenji.sakakibara@example.com").await),
        std::slice::from_ref(&b)
    );
    assert!(find("鳩").await.is_empty(), "exact values only");
    assert!(find("090").await.is_empty());
    let found = find("榊原").await;
    assert_eq!(found[0].name, "榊原 **", "masked");

    // One masked read naming exactly what was found.
    let start = size(&env).await;
    find("サカキバラ").await;
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, Action::ReadMasked);
    assert_eq!(events[0].customers, vec![b.clone()]);
    // Nothing found, nothing recorded.
    let start = size(&env).await;
    assert!(find("山田").await.is_empty());
    assert_eq!(size(&env).await, start);

    // The index holds no value in the clear.
    let raw = env
        .store
        .customers_by_search_bidx(&[b"phone:08098765432".to_vec()], 10)
        .await
        .unwrap();
    assert!(raw.is_empty(), "a plain value is not an index");

    // Erased customers are no longer found.
    env.gw.erase_customer(&support(), &b).await.unwrap();
    assert!(find("榊原").await.is_empty());
}

/// Refunds of an order are recorded once per key, and never beyond the order's total (checked by
/// the inserting statement); each with its mail, recorded as a write of the mail.
async fn refunds_stay_within_the_order_total_and_happen_once(backend: Backend) {
    use mamori_store::{RefundInsert, RefundRow};
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let order = place(&env, &a, "refunds", "MA-R-1").await;
    let total = env.store.order_header(&order).await.unwrap().unwrap().total;
    let row = |key: &str, amount: i64| RefundRow {
        id: uuid::Uuid::now_v7().to_string(),
        order_id: order.clone(),
        amount,
        reason: "一部欠品".into(),
        provider_refund_id: None,
        idempotency_key: key.into(),
        staff_id: Some("staff-1".into()),
        created_at: 1,
    };
    let acc = staff("backoffice.orders.partial_refund");
    assert_eq!(
        env.store
            .refund_insert(&row("k1", total - 1), total, &[])
            .await
            .unwrap(),
        RefundInsert::Recorded
    );
    assert_eq!(
        env.store
            .refund_insert(&row("k1", total - 1), total, &[])
            .await
            .unwrap(),
        RefundInsert::Duplicate
    );
    assert_eq!(
        env.store
            .refund_insert(&row("k2", 2), total, &[])
            .await
            .unwrap(),
        RefundInsert::OverCap
    );
    let before = size(&env).await;
    assert_eq!(
        env.gw
            .refund_with_mail(&acc, &row("k3", 1), None)
            .await
            .unwrap(),
        RefundInsert::Recorded
    );
    assert_eq!(size(&env).await, before, "no mail, nothing to record");
    assert_eq!(env.store.refunded_total(&order).await.unwrap(), total);
    let rows = env.store.refunds_of_order(&order).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.amount).collect::<Vec<_>>(),
        vec![total - 1, 1]
    );
    assert!(matches!(
        env.gw
            .refund_with_mail(
                &acc,
                &RefundRow {
                    order_id: "nope".into(),
                    ..row("k4", 1)
                },
                None
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The payment fee the checkout charged is what the order keeps, whatever the standard table
/// says; without one, the standard table's.
async fn payment_fee_is_kept_as_charged(backend: Backend) {
    use mamori_domain::{PaymentMethod, Yen};
    let env = env(backend).await;
    let a = register(&env, &HANAKO, CustomerKind::Member).await;
    let mut order = new_order(&a, &HANAKO, &KENJI, "fee-own");
    order.payment_method = PaymentMethod::CashOnDelivery;
    order.payment_fee = Some(Yen(250));
    let placed = env
        .gw
        .place_order(&web("checkout"), &order, "MA-F-1")
        .await
        .unwrap();
    let h = env
        .store
        .order_header(&placed.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.cod_fee, 250);
    assert_eq!(h.total, h.items_total + h.shipping_fee + 250);
    let mut order = new_order(&a, &HANAKO, &KENJI, "fee-std");
    order.payment_method = PaymentMethod::CashOnDelivery;
    let placed = env
        .gw
        .place_order(&web("checkout"), &order, "MA-F-2")
        .await
        .unwrap();
    let h = env
        .store
        .order_header(&placed.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Yen(h.cod_fee),
        mamori_domain::cod_fee(Yen(h.items_total + h.shipping_fee))
    );
}
