//! The 名入れ and のし of an order for the member of staff who makes them
//! (`Gateway::order_gifts`): one recorded read of exactly the gift fields the order has.

use mamori_domain::CustomerKind;
use mamori_store::access::{AccessEvent, Action, Principal};
use mamori_store::{Accessor, Backend, StoreError};

use crate::both_backends;
use crate::common::*;

async fn events_since(env: &Env, since: u64) -> Vec<AccessEvent> {
    let rows = env.store.ledger_entries(since, 1000).await.unwrap();
    rows.iter()
        .map(|r| AccessEvent::from_bytes(&r.event).unwrap())
        .collect()
}

fn operator() -> Accessor {
    Accessor::staff("staff-operator-1", "backoffice.orders.gifts", "req-9")
}

async fn gifts_are_one_recorded_read(backend: Backend) {
    let env = env(backend).await;
    let customer = env
        .gw
        .register_customer(
            &web("register"),
            &profile(&HANAKO, CustomerKind::Member),
            None,
        )
        .await
        .unwrap();
    let mut order = new_order(&customer, &HANAKO, &KENJI, "g1");
    // A gift set with のし only.
    let mut towel = order.items[1].clone();
    towel.sku = "TOWEL-SET".into();
    towel.product_name = "今治タオル ギフトセット".into();
    towel.noshi =
        Some(mamori_domain::Noshi::new(mamori_domain::NoshiPurpose::Uchiiwai, None).unwrap());
    order.items.push(towel);
    let id = env
        .gw
        .place_order(&web("checkout"), &order, "N-gift")
        .await
        .unwrap()
        .order_id;

    let start = env.store.ledger_size().await.unwrap();
    let gifts = env.gw.order_gifts(&operator(), &id).await.unwrap();
    assert_eq!(gifts.len(), 2, "the tea has none");
    assert_eq!(gifts[0].line_no, 1);
    assert_eq!(
        gifts[0].personalisation.as_ref().unwrap().expose(),
        "結衣花 2025-05-05"
    );
    assert_eq!(gifts[0].noshi.as_ref().unwrap().expose(), "御祝 / 鳩山");
    assert_eq!(gifts[1].line_no, 3);
    assert!(gifts[1].personalisation.is_none());
    assert_eq!(gifts[1].noshi.as_ref().unwrap().expose(), "内祝");
    assert!(!format!("{gifts:?}").contains("結衣花"));
    let events = events_since(&env, start).await;
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev.action, Action::Read);
    assert_eq!(ev.principal, Principal::Staff("staff-operator-1".into()));
    assert_eq!(ev.purpose, "backoffice.orders.gifts");
    assert_eq!(ev.customers, vec![customer.clone()]);
    assert_eq!(
        ev.fields,
        vec!["order_items.personalisation", "order_items.noshi"]
    );

    // No gifts: nothing read, nothing recorded.
    let mut plain = new_order(&customer, &HANAKO, &KENJI, "g2");
    plain.items.remove(0);
    let plain = env
        .gw
        .place_order(&web("checkout"), &plain, "N-plain")
        .await
        .unwrap()
        .order_id;
    let start = env.store.ledger_size().await.unwrap();
    assert!(env
        .gw
        .order_gifts(&operator(), &plain)
        .await
        .unwrap()
        .is_empty());
    let err = env.gw.order_gifts(&operator(), "nope").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    // Erased: refused, nothing recorded.
    env.gw.erase_customer(&operator(), &customer).await.unwrap();
    let after_erase = env.store.ledger_size().await.unwrap();
    let err = env.gw.order_gifts(&operator(), &id).await.unwrap_err();
    assert!(matches!(err, StoreError::Erased(_)), "{err}");
    assert_eq!(env.store.ledger_size().await.unwrap(), after_erase);
    assert_eq!(after_erase, start + 1, "only the erasure was recorded");
}

both_backends!(gifts_are_one_recorded_read);
