//! A short-lived cache of the catalogue (products, categories, category pages).
//!
//! The catalogue is read on every page view and changes rarely, so each page view asking the
//! database again is most of a product page's cost. Entries live for [`ShopConfig::cache_ttl`]
//! (a few seconds): a price or stock change made elsewhere (the back office, another process)
//! shows within that time. What must be exact never comes from here: stock is checked again at
//! confirmation and taken by a conditional update at placement, prices are read from the store
//! when an order is priced. The shop's own stock changes drop the product's entry at once.
//! A TTL of zero turns the cache off.
//!
//! [`ShopConfig::cache_ttl`]: crate::state::ShopConfig::cache_ttl

use std::{borrow::Borrow, future::Future, hash::Hash, sync::Arc, time::Duration};

use mamori_store::{
    CategoryRow, Page, ProductImageHead, ProductOrder, ProductRow, Records, StoreError,
};
use mamori_web::settings::ShopSettings;
use moka::sync::Cache;

/// Most products and category pages kept.
const CAPACITY: u64 = 10_000;

/// A category page's key: slug, order, in-stock only, page, page size.
type PageKey = (String, ProductOrder, bool, i64, i64);

/// The cache (cheap to clone).
#[derive(Clone)]
pub struct CatalogueCache {
    enabled: bool,
    products: Cache<String, Arc<Option<ProductRow>>>,
    categories: Cache<(), Arc<Vec<CategoryRow>>>,
    pages: Cache<PageKey, Arc<Page<ProductRow>>>,
    /// Search results by (normalised query, offset, limit): a popular query is answered once per
    /// lifetime, an unusual one costs its index lookup each time.
    searches: Cache<(String, i64, i64), Arc<Page<ProductRow>>>,
    /// Image heads (no bytes) by the list of products asked for.
    heads: Cache<Vec<String>, Arc<Vec<ProductImageHead>>>,
    settings: Cache<(), Arc<ShopSettings>>,
}

impl std::fmt::Debug for CatalogueCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogueCache")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl CatalogueCache {
    /// A cache whose entries live `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        Self {
            enabled: !ttl.is_zero(),
            products: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            categories: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            pages: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            searches: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            heads: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            settings: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
        }
    }

    /// The entry under `key` in `cache`, else what `load` gives (kept when the cache is on).
    async fn get_or_load<K, Q, V>(
        &self,
        cache: &Cache<K, V>,
        key: &Q,
        load: impl Future<Output = Result<V, StoreError>>,
    ) -> Result<V, StoreError>
    where
        K: Borrow<Q> + Hash + Eq + Send + Sync + 'static,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(hit) = self.enabled.then(|| cache.get(key)).flatten() {
            return Ok(hit);
        }
        let value = load.await?;
        if self.enabled {
            cache.insert(key.to_owned(), value.clone());
        }
        Ok(value)
    }

    /// The product with this SKU (active or not), as [`Store::product_by_sku`].
    pub async fn product(
        &self,
        store: &dyn Records,
        sku: &str,
    ) -> Result<Arc<Option<ProductRow>>, StoreError> {
        self.get_or_load(&self.products, sku, async {
            Ok(Arc::new(store.product_by_sku(sku).await?))
        })
        .await
    }

    /// Every category, as [`Store::categories`].
    pub async fn categories(
        &self,
        store: &dyn Records,
    ) -> Result<Arc<Vec<CategoryRow>>, StoreError> {
        self.get_or_load(&self.categories, &(), async {
            Ok(Arc::new(store.categories().await?))
        })
        .await
    }

    /// One page of a category, as [`Store::products_in_category_by`].
    pub async fn category_page(
        &self,
        store: &dyn Records,
        category_id: &str,
        (order, in_stock_only): (ProductOrder, bool),
        offset: i64,
        limit: i64,
    ) -> Result<Arc<Page<ProductRow>>, StoreError> {
        let key = (category_id.to_owned(), order, in_stock_only, offset, limit);
        self.get_or_load(&self.pages, &key, async {
            Ok(Arc::new(
                store
                    .products_in_category_by(category_id, order, in_stock_only, offset, limit)
                    .await?,
            ))
        })
        .await
    }

    /// One page of search results, as [`Store::search_products`].
    pub async fn search(
        &self,
        store: &dyn Records,
        text: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Arc<Page<ProductRow>>, StoreError> {
        let key = (text.to_owned(), offset, limit);
        self.get_or_load(&self.searches, &key, async {
            Ok(Arc::new(store.search_products(text, offset, limit).await?))
        })
        .await
    }

    /// The image heads of these products, as [`Store::product_image_heads`] (an image added in
    /// the back office shows within the cache's lifetime, like a price).
    pub async fn image_heads(
        &self,
        store: &dyn Records,
        product_ids: &[String],
    ) -> Result<Arc<Vec<ProductImageHead>>, StoreError> {
        self.get_or_load(&self.heads, product_ids, async {
            Ok(Arc::new(store.product_image_heads(product_ids).await?))
        })
        .await
    }

    /// The settings the back office stored, over the defaults (`default_name` for the name).
    pub async fn settings(
        &self,
        store: &dyn Records,
        default_name: &str,
    ) -> Result<Arc<ShopSettings>, StoreError> {
        self.get_or_load(&self.settings, &(), async {
            let stored = store.settings_all().await?;
            Ok(Arc::new(ShopSettings::from_stored(&stored, default_name)))
        })
        .await
    }

    /// Forgets a product (after this process changed its stock) and the pages that list it.
    pub fn forget_product(&self, sku: &str) {
        self.products.invalidate(sku);
        // Pages are few and short-lived; dropping them all is simpler than tracking membership.
        self.pages.invalidate_all();
        self.searches.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn zero_ttl_disables_and_a_positive_one_enables() {
        assert!(!CatalogueCache::new(Duration::ZERO).enabled);
        assert!(CatalogueCache::new(Duration::from_secs(2)).enabled);
    }
}
