//! [`StorefrontStore`] for both backends, from one SQL text.

use async_trait::async_trait;

use super::{PgStore, SqliteStore};
use crate::error::Result;
use crate::store::{IssuedReceipt, ProductImageHead, StorefrontStore};

macro_rules! impl_storefront {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl StorefrontStore for $store {
            async fn product_image_heads(
                &self,
                product_ids: &[String],
            ) -> Result<Vec<ProductImageHead>> {
                if product_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, product_id, width, height FROM product_images WHERE product_id IN (",
                );
                let mut list = qb.separated(", ");
                for id in product_ids {
                    list.push_bind(id);
                }
                qb.push(") ORDER BY product_id, created_at, id");
                Ok(qb
                    .build_query_as::<ProductImageHead>()
                    .fetch_all(self.pool())
                    .await?)
            }

            async fn receipt_issue(&self, r: &IssuedReceipt) -> Result<IssuedReceipt> {
                sqlx::query(
                    "INSERT INTO issued_receipts (order_id, shop_name, legal_name, \
                     registration_number, address, contact, issued_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING",
                )
                .bind(&r.order_id)
                .bind(&r.shop_name)
                .bind(&r.legal_name)
                .bind(&r.registration_number)
                .bind(&r.address)
                .bind(&r.contact)
                .bind(r.issued_at)
                .execute(self.pool())
                .await?;
                Ok(sqlx::query_as::<_, IssuedReceipt>(
                    "SELECT order_id, shop_name, legal_name, registration_number, address, \
                     contact, issued_at FROM issued_receipts WHERE order_id = $1",
                )
                .bind(&r.order_id)
                .fetch_one(self.pool())
                .await?)
            }
        }
    };
}

impl_storefront!(SqliteStore, sqlx::Sqlite);
impl_storefront!(PgStore, sqlx::Postgres);
