//! The incident inquiry desk's rows on both databases: sealed under the inquiry system key and
//! bound to their row (a value moved to another row does not open), a sender matched against
//! the latest scope by the email's blind index (a guest buyer too) without a ledger event, each
//! opening a read on the ledger, marked answered once, never opened under another incident.

use mamori_domain::{CustomerKind, Email, Personal, PhoneNumber};
use mamori_store::{
    gateway::{InquiryDraft, INQUIRY_FIELDS},
    Action, Backend, Principal, ScopeRow, StoreError,
};

use crate::both_backends;
use crate::common::*;

fn draft(email: &str) -> InquiryDraft {
    InquiryDraft {
        name: Personal::new("問合 花子".to_owned()),
        email: Personal::new(Email::parse(email).unwrap()),
        phone: Some(Personal::new(PhoneNumber::parse("080-1111-2222").unwrap())),
        message: Personal::new("請求の件で\nお伺いします".to_owned()),
    }
}

async fn inquiries_are_sealed_matched_by_blind_index_and_opened_on_the_ledger(backend: Backend) {
    let env = env(backend).await;
    let s = &env.store;
    let gw = &env.gw;
    let id = open_incident(s.as_ref(), "database_copied", 1_800_000_000).await;
    let other = open_incident(s.as_ref(), "database_copied", 1_800_000_000).await;
    // A guest buyer in the scope, by id only.
    let guest = gw
        .register_customer(
            &web("checkout"),
            &profile(&HANAKO, CustomerKind::Guest),
            None,
        )
        .await
        .unwrap();
    let staff = mamori_store::Accessor::staff("staff-1", "incident.inquiry", "req-1");

    let sender = web("/oshirase/1/inquiry");
    let a = gw
        .submit_inquiry(&sender, id, &draft(HANAKO.email), 100)
        .await
        .unwrap();
    let b = gw
        .submit_inquiry(&sender, id, &draft("nobody@example.net"), 200)
        .await
        .unwrap();
    assert_ne!(a.reception, b.reception);

    // No scope yet: nobody is in it.
    let heads = gw.inquiry_heads(id).await.unwrap();
    assert_eq!(heads.len(), 2);
    assert_eq!(heads[0].id, b.id, "newest first");
    assert!(heads
        .iter()
        .all(|h| !h.in_scope && h.status == "open" && !h.member));
    assert!(gw.inquiry_heads(other).await.unwrap().is_empty());

    s.incident_scope_save(&ScopeRow {
        id: uuid::Uuid::now_v7().to_string(),
        incident_id: id,
        computed_at: 300,
        computed_by: "staff:owner".into(),
        tree_size: 0,
        root_hash: String::new(),
        content: format!(
            r#"{{"subjects":{{"guests":[{{"customer_id":"{guest}","fields":["customers.email"]}}]}}}}"#
        ),
        content_sha256: String::new(),
    })
    .await
    .unwrap();
    let events = env.store.ledger_size().await.unwrap();
    let heads = gw.inquiry_heads(id).await.unwrap();
    let by_id = |i: &str| heads.iter().find(|h| h.id == i).unwrap().in_scope;
    assert!(by_id(&a.id), "the guest's address is in the scope");
    assert!(!by_id(&b.id));
    assert_eq!(
        env.store.ledger_size().await.unwrap(),
        events,
        "the list records nothing"
    );

    assert_eq!(gw.inquiry_counts().await.unwrap(), vec![(id, 2, 2)]);

    // Opened: one read by the member of staff, the values as sent.
    let opened = gw.inquiry_open(&staff, id, &a.id).await.unwrap();
    assert_eq!(opened.name.expose(), "問合 花子");
    assert_eq!(opened.email.expose(), HANAKO.email);
    assert_eq!(opened.phone.as_ref().unwrap().expose(), "08011112222");
    assert_eq!(opened.message.expose(), "請求の件で\nお伺いします");
    assert!(opened.head.in_scope);
    assert!(
        !format!("{opened:?}").contains("問合"),
        "Debug shows no value"
    );
    let size = env.store.ledger_size().await.unwrap();
    let last = env.store.ledger_entries(size - 1, size).await.unwrap();
    let event = mamori_store::access::AccessEvent::from_bytes(&last[0].event).unwrap();
    assert_eq!(event.action, Action::Read);
    assert_eq!(event.principal, Principal::Staff("staff-1".into()));
    assert_eq!(event.fields, INQUIRY_FIELDS);
    assert!(
        event.customers.is_empty(),
        "a guest's inquiry names no member"
    );

    // Not under another incident; an unknown id is not found.
    assert!(matches!(
        gw.inquiry_open(&staff, other, &a.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        gw.inquiry_mark_answered(other, &a.id, 400, "staff:staff-1")
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // A sealed value moved to another row does not open.
    env.sql(
        "UPDATE incident_inquiries SET sealed = (SELECT sealed FROM incident_inquiries WHERE id = $1) WHERE id = $2",
        vec![Bind::Text(a.id.clone()), Bind::Text(b.id.clone())],
    )
    .await;
    assert!(gw.inquiry_open(&staff, id, &b.id).await.is_err());

    // Answered once.
    assert!(gw
        .inquiry_mark_answered(id, &a.id, 400, "staff:staff-1")
        .await
        .unwrap());
    assert!(!gw
        .inquiry_mark_answered(id, &a.id, 500, "staff:staff-1")
        .await
        .unwrap());
    let opened = gw.inquiry_open(&staff, id, &a.id).await.unwrap();
    assert_eq!(opened.head.status, "answered");
    assert_eq!(gw.inquiry_counts().await.unwrap(), vec![(id, 2, 1)]);
    assert_eq!(opened.answered, Some((400, "staff:staff-1".to_owned())));
}
both_backends!(inquiries_are_sealed_matched_by_blind_index_and_opened_on_the_ledger);
