//! The catalogue on both databases: demo seed, pagination, search, stock.

use mamori_domain::normalize_input;
use mamori_store::demo::seed_demo_catalogue;
use mamori_store::Backend;

use crate::both_backends;
use crate::common::*;

async fn demo_catalogue_pages_search_and_stock(backend: Backend) {
    let env = env(backend).await;
    let n = seed_demo_catalogue(env.store.as_ref()).await.unwrap();
    assert!(n >= 16);
    // Seeding twice changes nothing (stock kept, no duplicates).
    assert!(env.store.take_stock("PT-1001", 20).await.unwrap());
    seed_demo_catalogue(env.store.as_ref()).await.unwrap();
    assert_eq!(
        env.store
            .product_by_sku("PT-1001")
            .await
            .unwrap()
            .unwrap()
            .stock,
        100
    );

    let cats = env.store.categories().await.unwrap();
    assert_eq!(
        cats.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(),
        ["parts", "health", "banners", "books"]
    );

    let first = env
        .store
        .products_in_category("cat-parts", 0, 4)
        .await
        .unwrap();
    let second = env
        .store
        .products_in_category("cat-parts", 4, 4)
        .await
        .unwrap();
    assert_eq!(first.total, 6);
    assert_eq!(first.items.len(), 4);
    assert_eq!(second.items.len(), 2);
    assert!(first.items.iter().all(|p| !second.items.contains(p)));

    let health = env
        .store
        .products_in_category("cat-health", 0, 50)
        .await
        .unwrap();
    assert!(
        health.items.iter().all(|p| p.tax_rate == "reduced"),
        "foods are at the reduced rate"
    );
    let banners = env
        .store
        .products_in_category("cat-banners", 0, 50)
        .await
        .unwrap();
    assert!(banners.items.iter().any(|p| p.offers_personalisation));

    // Full-width input normalised by the caller finds the same products; wildcards are literal.
    let q = normalize_input("１００％");
    let hits = env.store.search_products(&q, 0, 10).await.unwrap();
    assert_eq!(
        hits.total,
        1,
        "{:?}",
        hits.items.iter().map(|p| &p.sku).collect::<Vec<_>>()
    );
    assert_eq!(hits.items[0].sku, "BK-4004");
    // "%" is a literal percent sign: the two products whose text has one (100%, 8%), not all.
    let percent = env.store.search_products("%", 0, 10).await.unwrap();
    assert_eq!(
        percent
            .items
            .iter()
            .map(|p| p.sku.as_str())
            .collect::<Vec<_>>(),
        ["BK-4004", "HL-2001"]
    );
    assert_eq!(
        env.store.search_products("_", 0, 10).await.unwrap().total,
        0
    );
    assert_eq!(
        env.store
            .search_products("名入れ", 0, 10)
            .await
            .unwrap()
            .total,
        3
    );
    assert_eq!(
        env.store
            .search_products("GASKET", 0, 10)
            .await
            .unwrap()
            .total,
        1
    );

    // Stock never goes below zero.
    assert!(!env.store.take_stock("BN-3002", 13).await.unwrap());
    assert!(env.store.take_stock("BN-3002", 12).await.unwrap());
    assert!(!env.store.take_stock("BN-3002", 1).await.unwrap());
    assert!(!env.store.take_stock("NO-SUCH", 1).await.unwrap());
}

both_backends!(demo_catalogue_pages_search_and_stock);
