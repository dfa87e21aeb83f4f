//! The storefront's own queries on both databases: image heads and issued receipts.

use mamori_domain::CustomerKind;
use mamori_store::model::ProductImageRow;
use mamori_store::Backend;
use mamori_store::IssuedReceipt;

use crate::both_backends;
use crate::common::*;

async fn image_heads_list_a_products_images_without_bytes(backend: Backend) {
    let env = env(backend).await;
    mamori_demo::seed_demo_catalogue(env.store.as_ref())
        .await
        .unwrap();
    let a = env.store.product_by_sku("PT-1001").await.unwrap().unwrap();
    let b = env.store.product_by_sku("BK-4004").await.unwrap().unwrap();
    let image = |id: &str, product: &str, at: i64| ProductImageRow {
        id: id.into(),
        product_id: product.into(),
        content_type: "image/png".into(),
        bytes: vec![1, 2, 3],
        width: 640,
        height: 480,
        sha256: vec![7; 32],
        created_at: at,
    };
    for row in [
        image("img-a2", &a.id, 20),
        image("img-a1", &a.id, 10),
        image("img-b1", &b.id, 5),
    ] {
        env.store.product_image_insert(&row).await.unwrap();
    }
    let heads = env
        .store
        .product_image_heads(&[a.id.clone(), "nope".into()])
        .await
        .unwrap();
    let ids: Vec<&str> = heads.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["img-a1", "img-a2"]);
    assert_eq!((heads[0].width, heads[0].height), (640, 480));
    assert_eq!(
        env.store
            .product_image_heads(&[a.id.clone(), b.id.clone()])
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(env.store.product_image_heads(&[]).await.unwrap().is_empty());
}

async fn a_receipt_keeps_what_it_said_at_first_issue(backend: Backend) {
    let env = env(backend).await;
    let customer = env
        .gw
        .register_customer(
            &web("checkout"),
            &profile(&HANAKO, CustomerKind::Guest),
            None,
        )
        .await
        .unwrap();
    let order_id = env
        .gw
        .place_order(
            &web("checkout"),
            &new_order(&customer, &HANAKO, &HANAKO, "rk-1"),
            "N-rk-1",
        )
        .await
        .unwrap()
        .order_id;
    let first = IssuedReceipt {
        order_id: order_id.clone(),
        shop_name: "守り商店".into(),
        legal_name: "守り商店株式会社".into(),
        registration_number: "T1234567890123".into(),
        address: "東京都千代田区千代田1-1".into(),
        contact: "shop@example.jp".into(),
        issued_at: 1_000,
    };
    assert_eq!(env.store.receipt_issue(&first).await.unwrap(), first);
    let later = IssuedReceipt {
        registration_number: "T9999999999999".into(),
        address: "大阪府大阪市北区梅田1-1".into(),
        issued_at: 2_000,
        ..first.clone()
    };
    assert_eq!(
        env.store.receipt_issue(&later).await.unwrap(),
        first,
        "the first issue stays"
    );
}

both_backends!(
    image_heads_list_a_products_images_without_bytes,
    a_receipt_keeps_what_it_said_at_first_issue,
);
