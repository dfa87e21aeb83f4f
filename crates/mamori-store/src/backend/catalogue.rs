//! SQL of the catalogue area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl CatalogueStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_catalogue_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::CatalogueStore for $store {
        $($own)*
        async fn upsert_category(&self, row: &CategoryRow) -> Result<()> {
            sqlx::query(
                "INSERT INTO categories (id, slug, name_ja, name_en, position) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name_ja = excluded.name_ja, \
                 name_en = excluded.name_en, position = excluded.position",
            )
            .bind(&row.id)
            .bind(&row.slug)
            .bind(&row.name_ja)
            .bind(&row.name_en)
            .bind(row.position)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn categories(&self) -> Result<Vec<CategoryRow>> {
            Ok(sqlx::query_as::<_, CategoryRow>(
                "SELECT id, slug, name_ja, name_en, position FROM categories ORDER BY position, id",
            )
            .fetch_all(&self.pool)
            .await?)
        }
        async fn upsert_product(&self, row: &ProductRow) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO products (",
                product_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, category_id = excluded.category_id, \
                 name_ja = excluded.name_ja, name_en = excluded.name_en, description_ja = excluded.description_ja, \
                 description_en = excluded.description_en, price_incl = excluded.price_incl, \
                 tax_rate = excluded.tax_rate, stock = excluded.stock, \
                 offers_personalisation = excluded.offers_personalisation, offers_noshi = excluded.offers_noshi, \
                 active = excluded.active, updated_at = excluded.updated_at"
            ))
            .bind(&row.id)
            .bind(&row.sku)
            .bind(&row.category_id)
            .bind(&row.name_ja)
            .bind(&row.name_en)
            .bind(&row.description_ja)
            .bind(&row.description_en)
            .bind(row.price_incl)
            .bind(&row.tax_rate)
            .bind(row.stock)
            .bind(row.offers_personalisation)
            .bind(row.offers_noshi)
            .bind(row.active)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }
        async fn product_by_sku(&self, sku: &str) -> Result<Option<ProductRow>> {
            Ok(sqlx::query_as::<_, ProductRow>(concat!("SELECT ", product_columns!(), " FROM products WHERE sku = $1"))
                .bind(sku)
                .fetch_optional(&self.pool)
                .await?)
        }
        async fn products_in_category(&self, category_id: &str, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            let items = sqlx::query_as::<_, ProductRow>(concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE category_id = $1 AND active ORDER BY sku LIMIT $2 OFFSET $3"
            ))
            .bind(category_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE category_id = $1 AND active")
                .bind(category_id)
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }
        async fn search_products(&self, text: &str, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            // LIKE with the wildcards of the user's text escaped, so "%" finds a percent sign.
            let pattern = format!("%{}%", $crate::backend::like_escape(text));
            // LOWER on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
            let filter = "active AND (LOWER(name_ja) LIKE LOWER($1) ESCAPE '\\' OR LOWER(name_en) LIKE LOWER($1) ESCAPE '\\' \
                          OR LOWER(description_ja) LIKE LOWER($1) ESCAPE '\\' \
                          OR LOWER(description_en) LIKE LOWER($1) ESCAPE '\\')";
            let items = sqlx::query_as::<_, ProductRow>(&format!(
                "SELECT {} FROM products WHERE {filter} ORDER BY sku LIMIT $2 OFFSET $3",
                product_columns!()
            ))
            .bind(&pattern)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM products WHERE {filter}"))
                .bind(&pattern)
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }
        async fn take_stock(&self, sku: &str, quantity: i64) -> Result<bool> {
            let done = sqlx::query("UPDATE products SET stock = stock - $2 WHERE sku = $1 AND stock >= $2 AND $2 > 0")
                .bind(sku)
                .bind(quantity)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn product_by_id(&self, id: &str) -> Result<Option<ProductRow>> {
            Ok(sqlx::query_as::<_, ProductRow>(concat!("SELECT ", product_columns!(), " FROM products WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
        }
        async fn products_page_all(&self, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            let items = sqlx::query_as::<_, ProductRow>(concat!(
                "SELECT ",
                product_columns!(),
                " FROM products ORDER BY sku LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }
        async fn set_stock(&self, sku: &str, stock: i64) -> Result<bool> {
            if stock < 0 {
                return Err(StoreError::Invalid("stock cannot be negative".into()));
            }
            let done = sqlx::query("UPDATE products SET stock = $2, updated_at = $3 WHERE sku = $1")
                .bind(sku)
                .bind(stock)
                .bind(now_us())
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        async fn product_image_insert(&self, row: &ProductImageRow) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO product_images (",
                $crate::backend::image_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(&row.id)
            .bind(&row.product_id)
            .bind(&row.content_type)
            .bind(&row.bytes)
            .bind(row.width)
            .bind(row.height)
            .bind(&row.sha256)
            .bind(row.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    StoreError::NotFound { what: "product" }
                }
                _ => StoreError::Database(e),
            })?;
            Ok(())
        }
        async fn product_image(&self, id: &str) -> Result<Option<ProductImageRow>> {
            Ok(sqlx::query_as::<_, ProductImageRow>(concat!(
                "SELECT ",
                $crate::backend::image_columns!(),
                " FROM product_images WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        }
        async fn product_images_of(&self, product_id: &str) -> Result<Vec<ProductImageRow>> {
            Ok(sqlx::query_as::<_, ProductImageRow>(concat!(
                "SELECT ",
                $crate::backend::image_columns!(),
                " FROM product_images WHERE product_id = $1 ORDER BY created_at, id"
            ))
            .bind(product_id)
            .fetch_all(&self.pool)
            .await?)
        }
        async fn product_image_delete(&self, product_id: &str, id: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM product_images WHERE id = $1 AND product_id = $2")
                .bind(id)
                .bind(product_id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        }
        }
    };
}
pub(crate) use impl_catalogue_store;
