//! The catalogue area of the store.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

/// Categories, products, stock and product images.
#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// Inserts or replaces a category (by id).
    async fn upsert_category(&self, row: &CategoryRow) -> Result<()>;

    /// Every category in display order.
    async fn categories(&self) -> Result<Vec<CategoryRow>>;

    /// Inserts or replaces a product (by id); the SKU must stay unique.
    async fn upsert_product(&self, row: &ProductRow) -> Result<()>;

    /// An active or inactive product by SKU.
    async fn product_by_sku(&self, sku: &str) -> Result<Option<ProductRow>>;

    /// Active products of a category, by SKU, one page.
    async fn products_in_category(
        &self,
        category_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ProductRow>> {
        self.products_in_category_by(category_id, ProductOrder::Number, false, offset, limit)
            .await
    }

    /// Active products of a category in `order`, only those in stock when `in_stock_only`, one
    /// page.
    async fn products_in_category_by(
        &self,
        category_id: &str,
        order: ProductOrder,
        in_stock_only: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ProductRow>>;

    /// Active products whose folded text (SKU, names, descriptions, category names; see
    /// `mamori_domain::search`) contains every term of `text`, in any order, one page.
    async fn search_products(
        &self,
        text: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Page<ProductRow>>;

    /// Takes `quantity` units out of stock if that many are there; false (and no change) otherwise.
    async fn take_stock(&self, sku: &str, quantity: i64) -> Result<bool>;

    /// An active or inactive product by id.
    async fn product_by_id(&self, id: &str) -> Result<Option<ProductRow>>;

    /// Every product, active or not, by SKU, one page.
    async fn products_page_all(&self, offset: i64, limit: i64) -> Result<Page<ProductRow>>;

    /// Sets a product's stock (and its `updated_at`, in microseconds, to now); false when there is
    /// no product with that SKU. A negative stock is [`StoreError::BadInput`].
    async fn set_stock(&self, sku: &str, stock: i64) -> Result<bool>;

    /// Stores a product image. [`StoreError::NotFound`] when the product does not exist.
    async fn product_image_insert(&self, row: &ProductImageRow) -> Result<()>;

    /// An image by id.
    async fn product_image(&self, id: &str) -> Result<Option<ProductImageRow>>;

    /// A product's images, oldest first.
    async fn product_images_of(&self, product_id: &str) -> Result<Vec<ProductImageRow>>;

    /// Removes an image of a product; false when it has none with that id.
    async fn product_image_delete(&self, product_id: &str, id: &str) -> Result<bool>;
}
