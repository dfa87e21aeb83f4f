//! The catalogue on both databases: demo seed, pagination, search, stock.

use mamori_demo::seed_demo_catalogue;
use mamori_domain::normalize_input;
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

/// Issue: "ＬＥＤ電球" and "LED電球" found nothing while "ＬＥＤ" and "電球" each did; "刺繍 名前旗"
/// found nothing while "名前旗 刺繍" did; ぱっきん did not find パッキン; a category name found
/// nothing.
async fn search_is_by_terms_width_kana_and_category(backend: Backend) {
    let env = env(backend).await;
    seed_demo_catalogue(env.store.as_ref()).await.unwrap();
    let mut bulb = env.store.product_by_sku("PT-1001").await.unwrap().unwrap();
    bulb.id = "prod-led".into();
    bulb.sku = "PT-1099".into();
    bulb.name_ja = "ＬＥＤ電球 60W形".into();
    bulb.name_en = String::new();
    bulb.description_ja = "昼白色。".into();
    env.store.upsert_product(&bulb).await.unwrap();

    let skus = |q: &'static str| {
        let store = env.store.clone();
        async move {
            let page = store
                .search_products(&normalize_input(q), 0, 50)
                .await
                .unwrap();
            assert_eq!(page.total as usize, page.items.len(), "{q}");
            page.items.into_iter().map(|p| p.sku).collect::<Vec<_>>()
        }
    };
    for q in [
        "ＬＥＤ電球",
        "LED電球",
        "led電球",
        "ＬＥＤ",
        "電球",
        "60w",
        "電球　ＬＥＤ",
    ] {
        assert_eq!(skus(q).await, ["PT-1099"], "{q}");
    }
    assert_eq!(skus("刺繍 名前旗").await, skus("名前旗 刺繍").await);
    assert_eq!(skus("刺繍 名前旗").await, ["BN-3002"]);
    let packing = skus("パッキン").await;
    assert!(packing.contains(&"PT-1001".to_owned()), "{packing:?}");
    assert_eq!(skus("ぱっきん").await, packing);
    assert_eq!(skus("ﾊﾟｯｷﾝ").await, packing);
    // A category's name finds its products; renaming the category renames what finds them.
    let books = skus("書籍").await;
    assert_eq!(books, ["BK-4001", "BK-4002", "BK-4003", "BK-4004"]);
    let mut cat = env
        .store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.slug == "books")
        .unwrap();
    cat.name_ja = "本・雑誌".into();
    env.store.upsert_category(&cat).await.unwrap();
    assert!(skus("書籍").await.is_empty());
    assert_eq!(skus("雑誌").await, books);
    // Every term must match; a term found nowhere finds nothing.
    assert!(skus("電球 刺繍").await.is_empty());
    // The SKU is searchable too.
    assert_eq!(skus("bk-4004").await, ["BK-4004"]);
}

both_backends!(search_is_by_terms_width_kana_and_category);
