//! The gateway: sealing bound to its place, keys, erasure, one ledger event per access, and no
//! plaintext when the ledger cannot record.

use mamori_domain::{CustomerKind, Email};
use mamori_store::access::{AccessEvent, Action};
use mamori_store::gateway::fields;
use mamori_store::{Backend, Principal, StoreError};
use mamori_vault::{FieldPlace, KeyRing, VaultError};

use crate::both_backends;
use crate::common::*;

async fn last_event(env: &Env) -> (u64, AccessEvent) {
    let size = env.store.ledger_size().await.unwrap();
    let rows = env.store.ledger_entries(size - 1, 1).await.unwrap();
    (size, AccessEvent::from_bytes(&rows[0].event).unwrap())
}

async fn ciphertext_moved_elsewhere_fails(backend: Backend) {
    let env = env(backend).await;
    let acc = web("register");
    let a = env
        .gw
        .register_customer(&acc, &profile(&HANAKO, CustomerKind::Member), None)
        .await
        .unwrap();
    let b = env
        .gw
        .register_customer(&acc, &profile(&KENJI, CustomerKind::Member), None)
        .await
        .unwrap();
    let row_a = env.store.customer(&a).await.unwrap().unwrap();
    let mut row_b = env.store.customer(&b).await.unwrap().unwrap();

    // Another row: A's sealed name pasted into B's row does not open with B's key, nor would it with A's.
    row_b.name_ct = row_a.name_ct.clone();
    env.store.update_customer(&row_b).await.unwrap();
    let err = env
        .gw
        .customer_profile(&staff("support"), &b)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Vault(VaultError::Decrypt { .. })),
        "{err}"
    );
    let sealed = row_a.name_ct.clone().unwrap();
    let moved = env
        .gw
        .open_raw(
            &staff("t"),
            &a,
            FieldPlace {
                table: "customers",
                column: "name",
                row_id: &b,
            },
            &sealed,
        )
        .await;
    assert!(moved.is_err());

    // Another column of the same row, same key.
    let mut row_a2 = row_a.clone();
    row_a2.email_ct = row_a.name_ct.clone();
    env.store.update_customer(&row_a2).await.unwrap();
    let err = env
        .gw
        .customer_profile(&staff("support"), &a)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("customers.email") || err.to_string().contains("email"),
        "{err}"
    );
    // And at its own place it still opens: the failure above is the binding, not a broken value.
    let ok = env
        .gw
        .open_raw(
            &staff("t"),
            &a,
            FieldPlace {
                table: "customers",
                column: "name",
                row_id: &a,
            },
            &sealed,
        )
        .await;
    assert!(ok.is_ok());
}

async fn wrong_master_key_fails_clearly(backend: Backend) {
    let env = env(backend).await;
    let a = env
        .gw
        .register_customer(
            &web("register"),
            &profile(&HANAKO, CustomerKind::Member),
            None,
        )
        .await
        .unwrap();
    let other = KeyRing::init(&env.dir.path().join("other.key")).unwrap();
    let gw = env.gateway_with(other);
    let err = gw
        .customer_profile(&staff("support"), &a)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Vault(VaultError::UnknownMasterKey(_))
                | StoreError::Vault(VaultError::WrongMasterKey { .. })
        ),
        "{msg}"
    );
    assert!(
        msg.contains("master key"),
        "message names the master key: {msg}"
    );
    assert!(!msg.contains(HANAKO.family));
}

async fn erasure_destroys_one_customer_only(backend: Backend) {
    let env = env(backend).await;
    let acc = web("register");
    let a = env
        .gw
        .register_customer(
            &acc,
            &profile(&HANAKO, CustomerKind::Member),
            Some(&password()),
        )
        .await
        .unwrap();
    let b = env
        .gw
        .register_customer(&acc, &profile(&KENJI, CustomerKind::Member), None)
        .await
        .unwrap();
    let placed = env
        .gw
        .place_order(&acc, &new_order(&a, &HANAKO, &KENJI, "k1"), "N-1")
        .await
        .unwrap();
    let sealed_before = env
        .store
        .customer(&a)
        .await
        .unwrap()
        .unwrap()
        .name_ct
        .unwrap();

    env.gw
        .erase_customer(&staff("withdrawal"), &a)
        .await
        .unwrap();
    let (_, ev) = last_event(&env).await;
    assert_eq!(ev.action, Action::Erase);
    assert_eq!(ev.customers, vec![a.clone()]);

    assert!(matches!(
        env.gw.customer_profile(&staff("s"), &a).await,
        Err(StoreError::Erased(_))
    ));
    assert!(matches!(
        env.gw.order(&staff("s"), &placed.order_id).await,
        Err(StoreError::Erased(_))
    ));
    // A copy of the ciphertext taken before erasure (a backup) no longer opens: the key is gone.
    let from_backup = env
        .gw
        .open_raw(
            &staff("t"),
            &a,
            FieldPlace {
                table: "customers",
                column: "name",
                row_id: &a,
            },
            &sealed_before,
        )
        .await;
    assert!(matches!(from_backup, Err(StoreError::Erased(_))));
    // The order's amounts stay (tax records).
    let kept = env.store.order(&placed.order_id).await.unwrap().unwrap();
    assert_eq!(kept.order.total, 16_500 + 3 * 1_080 + 880 + 440);
    assert!(kept.order.buyer_name_ct.is_none());
    // The email is free again and the other customer is untouched.
    assert_eq!(
        env.gw
            .find_member(&Email::parse(HANAKO.email).unwrap())
            .await
            .unwrap(),
        None
    );
    let pb = env.gw.customer_profile(&staff("s"), &b).await.unwrap();
    assert_eq!(pb.name.expose().given(), KENJI.given);
}

async fn every_read_leaves_exactly_one_event(backend: Backend) {
    let env = env(backend).await;
    let acc = web("register");
    let a = env
        .gw
        .register_customer(&acc, &profile(&HANAKO, CustomerKind::Member), None)
        .await
        .unwrap();
    let (size_after_write, ev) = last_event(&env).await;
    assert_eq!(ev.action, Action::Write);
    assert_eq!(ev.channel.as_deref(), Some("register"));
    assert_eq!(ev.customers, vec![a.clone()]);

    let reader = staff("support.ticket-42");
    env.gw.customer_profile(&reader, &a).await.unwrap();
    let (size, ev) = last_event(&env).await;
    assert_eq!(size, size_after_write + 1, "exactly one event per read");
    assert_eq!(ev.action, Action::Read);
    assert_eq!(ev.principal, Principal::Staff("staff-1".into()));
    assert_eq!(ev.purpose, "support.ticket-42");
    assert_eq!(ev.request_id, reader.request_id);
    assert_eq!(ev.customers, vec![a.clone()]);
    assert_eq!(
        ev.fields,
        fields::PROFILE
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    // The event names fields, never values.
    let raw = String::from_utf8(
        env.store.ledger_entries(size - 1, 1).await.unwrap()[0]
            .event
            .clone(),
    )
    .unwrap();
    assert!(!raw.contains(HANAKO.family) && !raw.contains(HANAKO.email));

    let id = env
        .gw
        .add_address(&acc, &a, &recipient(&KENJI))
        .await
        .unwrap();
    let book = env.gw.addresses(&reader, &a).await.unwrap();
    assert_eq!(book.len(), 1);
    assert_eq!(book[0].0, id);
    assert_eq!(book[0].1.name.expose().family(), KENJI.family);
    let (_, ev) = last_event(&env).await;
    assert_eq!(
        ev.fields,
        fields::ADDRESSES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );

    // The subject index finds every event about the customer, and only those.
    let b = env
        .gw
        .register_customer(&acc, &profile(&KENJI, CustomerKind::Guest), None)
        .await
        .unwrap();
    let seqs = env.store.ledger_events_of(&a).await.unwrap();
    assert_eq!(seqs.len(), 4);
    assert_eq!(env.store.ledger_events_of(&b).await.unwrap().len(), 1);
}

async fn failing_ledger_refuses_the_read(backend: Backend) {
    let env = env(backend).await;
    let a = env
        .gw
        .register_customer(
            &web("register"),
            &profile(&HANAKO, CustomerKind::Member),
            None,
        )
        .await
        .unwrap();
    let before = env.store.ledger_size().await.unwrap();
    // Break the ledger table underneath the running writer.
    env.sql(
        "ALTER TABLE ledger_entries RENAME TO ledger_entries_gone",
        vec![],
    )
    .await;
    let err = env
        .gw
        .customer_profile(&staff("support"), &a)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LedgerUnavailable(_)), "{err}");
    assert!(err.to_string().contains("refused"));
    // Nothing was half-written: the log did not move.
    let state = env.sql_i64("SELECT size FROM ledger_state").await;
    assert_eq!(state as u64, before);
}

async fn rotation_rewraps_without_losing_data(backend: Backend) {
    let env = env(backend).await;
    let acc = web("register");
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = if i % 2 == 0 { &HANAKO } else { &KENJI };
        ids.push(
            env.gw
                .register_customer(&acc, &profile(p, CustomerKind::Guest), None)
                .await
                .unwrap(),
        );
    }
    let old = env.keys.active_master_key_id().to_owned();
    let rotated = KeyRing::rotate(&env.key_file)
        .unwrap()
        .with_password_params(cheap_params());
    let new = rotated.active_master_key_id().to_owned();
    assert_ne!(old, new);
    let gw = env.gateway_with(rotated);
    // Before moving, keys under the old master key still open.
    gw.customer_profile(&staff("s"), &ids[0]).await.unwrap();
    let moved = gw
        .rotate_data_keys(&mamori_store::Accessor::system("test", "keys.rotate"), 2)
        .await
        .unwrap();
    assert_eq!(moved, 5);
    assert_eq!(
        env.store.key_counts().await.unwrap(),
        vec![(new.clone(), 5)]
    );
    let retired = KeyRing::retire(&env.key_file, &old)
        .unwrap()
        .with_password_params(cheap_params());
    assert_eq!(retired.master_key_ids(), vec![new]);
    let gw = env.gateway_with(retired);
    for id in &ids {
        gw.customer_profile(&staff("s"), id).await.unwrap();
    }
    // The old key ring alone can no longer open anything.
    let err = env
        .gw
        .customer_profile(&staff("s"), &ids[1])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Vault(VaultError::UnknownMasterKey(_))),
        "{err}"
    );
}

async fn members_log_in_by_blind_index(backend: Backend) {
    let env = env(backend).await;
    let acc = web("register");
    let a = env
        .gw
        .register_customer(
            &acc,
            &profile(&HANAKO, CustomerKind::Member),
            Some(&password()),
        )
        .await
        .unwrap();
    // Same address typed in full-width capitals finds the same member.
    let typed = Email::parse("ＨＡＮＡＫＯ.hatoyama@EXAMPLE.jp").unwrap();
    assert_eq!(env.gw.find_member(&typed).await.unwrap(), Some(a.clone()));
    assert!(env.gw.check_password(&a, &password()).await.unwrap());
    assert!(!env
        .gw
        .check_password(&a, &mamori_vault::SecretString::from("wrong".to_owned()))
        .await
        .unwrap());
    // A second member with the same email is refused; a guest with it is fine.
    let dup = env
        .gw
        .register_customer(&acc, &profile(&HANAKO, CustomerKind::Member), None)
        .await;
    assert!(matches!(dup, Err(StoreError::DuplicateMember)));
    env.gw
        .register_customer(&acc, &profile(&HANAKO, CustomerKind::Guest), None)
        .await
        .unwrap();
    // Stronger parameters: the next successful login re-hashes.
    let before = env
        .store
        .customer(&a)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    let stronger =
        KeyRing::load(&env.key_file)
            .unwrap()
            .with_password_params(mamori_vault::PasswordParams {
                m_cost_kib: 2048,
                t_cost: 2,
                p_cost: 1,
            });
    let gw = env.gateway_with(stronger);
    assert!(gw.check_password(&a, &password()).await.unwrap());
    let after = env
        .store
        .customer(&a)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_ne!(before, after);
    assert!(after.contains("m=2048"), "rehashed with the new parameters");
    assert!(gw.check_password(&a, &password()).await.unwrap());
}

async fn orders_are_written_once_and_read_back(backend: Backend) {
    let env = env(backend).await;
    let acc = web("checkout");
    let a = env
        .gw
        .register_customer(&acc, &profile(&HANAKO, CustomerKind::Member), None)
        .await
        .unwrap();
    let order = new_order(&a, &HANAKO, &KENJI, "idem-1");
    let first = env
        .gw
        .place_order(&acc, &order, "20261121-000001")
        .await
        .unwrap();
    assert!(!first.existing);
    // Resubmitted (double click, back button, second tab): same order, nothing new.
    let again = env
        .gw
        .place_order(&acc, &order, "20261121-000002")
        .await
        .unwrap();
    assert!(again.existing);
    assert_eq!(again.order_id, first.order_id);
    let concurrent = futures_join(&env, &order).await;
    assert!(concurrent.iter().all(|p| p.order_id == first.order_id));
    assert_eq!(env.store.orders_of(&a).await.unwrap().len(), 1);

    let view = env
        .gw
        .order(&staff("support"), &first.order_id)
        .await
        .unwrap();
    // 16,500 (10%) + 3 x 1,080 (8%) + shipping 880 + 代引き 440 (10%): tax once per rate.
    assert_eq!(view.header.items_total, 19_740);
    assert_eq!(view.header.total, 21_060);
    assert_eq!(view.header.tax_standard, (16_500 + 880 + 440) * 10 / 110);
    assert_eq!(view.header.tax_reduced, 3_240 * 8 / 108);
    assert_eq!(view.buyer.name.expose().family(), HANAKO.family);
    assert_eq!(view.shipments.len(), 1);
    assert_eq!(
        view.shipments[0].recipient.name.expose().family(),
        KENJI.family
    );
    let banner = view.items[0].personalisation.as_ref().unwrap();
    assert_eq!(banner.name().expose(), KENJI.banner_name);
    assert_eq!(
        view.items[0]
            .noshi
            .as_ref()
            .unwrap()
            .name()
            .unwrap()
            .expose(),
        HANAKO.family
    );
    assert!(view.items[1].personalisation.is_none());
    let (_, ev) = last_event(&env).await;
    assert_eq!(
        ev.fields,
        fields::ORDER
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        format!("{view:?}").find(HANAKO.family).is_none(),
        "Debug of an order view is redacted"
    );
}

async fn futures_join(
    env: &Env,
    order: &mamori_store::gateway::NewOrder,
) -> Vec<mamori_store::gateway::PlacedOrder> {
    let mut handles = Vec::new();
    for i in 0..4 {
        let gw = env.gw.clone();
        let o = order.clone();
        handles.push(tokio::spawn(async move {
            gw.place_order(&web("checkout"), &o, &format!("20261121-10000{i}"))
                .await
                .unwrap()
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

both_backends!(
    ciphertext_moved_elsewhere_fails,
    wrong_master_key_fails_clearly,
    erasure_destroys_one_customer_only,
    every_read_leaves_exactly_one_event,
    failing_ledger_refuses_the_read,
    rotation_rewraps_without_losing_data,
    members_log_in_by_blind_index,
    orders_are_written_once_and_read_back,
);
