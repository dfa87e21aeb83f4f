//! The storefront's own queries (part of [`crate::Records`]): product images without their bytes
//! for pages that link to them, and the receipts issued (migration `0007_storefront.sql`).
//! Nothing here is personal.

use async_trait::async_trait;

use crate::error::Result;

/// A product image as a page links to it: no bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductImageHead {
    /// Image id (UUIDv7 text).
    pub id: String,
    /// The product shown.
    pub product_id: String,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
}

/// What a receipt said about its issuer when it was first issued, frozen from then on.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct IssuedReceipt {
    /// The order.
    pub order_id: String,
    /// Shop name.
    pub shop_name: String,
    /// Operator (legal) name.
    pub legal_name: String,
    /// 適格請求書発行事業者登録番号.
    pub registration_number: String,
    /// 所在地.
    pub address: String,
    /// Contact (mail address).
    pub contact: String,
    /// First issued at (Unix seconds).
    pub issued_at: i64,
}

/// The storefront's own queries.
#[async_trait]
pub trait StorefrontStore: Send + Sync {
    /// The images of these products, without bytes, oldest first within a product.
    async fn product_image_heads(&self, product_ids: &[String]) -> Result<Vec<ProductImageHead>>;
    /// Records `receipt` as its order's issued receipt unless one is recorded already, and
    /// returns the recorded one (the first issue wins, also under concurrent first views).
    async fn receipt_issue(&self, receipt: &IssuedReceipt) -> Result<IssuedReceipt>;
}
