//! SQL of the catalogue area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl CatalogueStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_catalogue_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::CatalogueStore for $store {
        $($own)*
        async fn upsert_category(&self, row: &CategoryRow) -> Result<()> {
            let before: Option<(String, String)> =
                sqlx::query_as("SELECT name_ja, name_en FROM categories WHERE id = $1")
                    .bind(&row.id)
                    .fetch_optional(&self.pool)
                    .await?;
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
            // The category's names are part of its products' search text.
            if before.is_some_and(|(ja, en)| ja != row.name_ja || en != row.name_en) {
                self.refold_search_text(Some(&row.id)).await?;
            }
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
                ", search_text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, category_id = excluded.category_id, \
                 name_ja = excluded.name_ja, name_en = excluded.name_en, description_ja = excluded.description_ja, \
                 description_en = excluded.description_en, price_incl = excluded.price_incl, \
                 tax_rate = excluded.tax_rate, stock = excluded.stock, \
                 offers_personalisation = excluded.offers_personalisation, offers_noshi = excluded.offers_noshi, \
                 active = excluded.active, updated_at = excluded.updated_at, search_text = excluded.search_text"
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
            .bind(self.search_text_of(row).await?)
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
        async fn products_in_category_by(
            &self,
            category_id: &str,
            order: ProductOrder,
            in_stock_only: bool,
            offset: i64,
            limit: i64,
        ) -> Result<Page<ProductRow>> {
            let filter = if in_stock_only {
                "category_id = $1 AND active AND stock > 0"
            } else {
                "category_id = $1 AND active"
            };
            let items = sqlx::query_as::<_, ProductRow>(&format!(
                "SELECT {} FROM products WHERE {filter} ORDER BY {} LIMIT $2 OFFSET $3",
                product_columns!(),
                order.sql()
            ))
            .bind(category_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM products WHERE {filter}"))
                .bind(category_id)
                .fetch_one(&self.pool)
                .await?;
            Ok(Page { items, total })
        }
        async fn search_products(&self, text: &str, offset: i64, limit: i64) -> Result<Page<ProductRow>> {
            use $crate::backend::catalogue::{search_filter, search_pattern, MAX_SEARCH_TERMS};
            // Each term of the folded query must occur somewhere in the folded product text, in
            // any order: "刺繍 名前旗" and "名前旗 刺繍" find the same products.
            let terms = mamori_domain::search::search_terms(text, MAX_SEARCH_TERMS);
            if terms.is_empty() {
                return Ok(Page { items: Vec::new(), total: 0 });
            }
            let backend = $crate::store::Store::backend(self);
            let filter = search_filter(backend, terms.len());
            let patterns: Vec<String> = terms.iter().map(|t| search_pattern(backend, t)).collect();
            let items_sql = format!(
                "SELECT {} FROM products WHERE {filter} ORDER BY sku LIMIT ${} OFFSET ${}",
                product_columns!(),
                terms.len() + 1,
                terms.len() + 2
            );
            let mut items = sqlx::query_as::<_, ProductRow>(&items_sql);
            for p in &patterns {
                items = items.bind(p);
            }
            let items = items.bind(limit).bind(offset).fetch_all(&self.pool).await?;
            let count_sql = format!("SELECT COUNT(*) FROM products WHERE {filter}");
            let mut total = sqlx::query_scalar::<_, i64>(&count_sql);
            for p in &patterns {
                total = total.bind(p);
            }
            let total = total.fetch_one(&self.pool).await?;
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
                return Err(StoreError::BadInput {
                    field: "stock",
                    reason: "stock cannot be negative",
                });
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

        impl $store {
            /// The folded search text of `row`: SKU, names, descriptions and its category's names.
            async fn search_text_of(&self, row: &ProductRow) -> Result<String> {
                let category: Option<(String, String)> =
                    sqlx::query_as("SELECT name_ja, name_en FROM categories WHERE id = $1")
                        .bind(&row.category_id)
                        .fetch_optional(&self.pool)
                        .await?;
                let (cat_ja, cat_en) = category.unwrap_or_default();
                Ok(mamori_domain::search::fold_for_search(&[
                    row.sku.as_str(),
                    &row.name_ja,
                    &row.name_en,
                    &row.description_ja,
                    &row.description_en,
                    &cat_ja,
                    &cat_en,
                ]
                .join(" ")))
            }

            /// Recomputes the search text of the products of `category` (after its names
            /// changed), or of every product still without one (after the migration that added it).
            pub(crate) async fn refold_search_text(&self, category: Option<&str>) -> Result<()> {
                let rows = match category {
                    Some(id) => sqlx::query_as::<_, ProductRow>(concat!(
                        "SELECT ", product_columns!(), " FROM products WHERE category_id = $1"
                    ))
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?,
                    None => sqlx::query_as::<_, ProductRow>(concat!(
                        "SELECT ", product_columns!(), " FROM products WHERE search_text IS NULL"
                    ))
                    .fetch_all(&self.pool)
                    .await?,
                };
                for row in &rows {
                    sqlx::query("UPDATE products SET search_text = $2 WHERE id = $1")
                        .bind(&row.id)
                        .bind(self.search_text_of(row).await?)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use impl_catalogue_store;

/// At most this many terms of a query are matched (a shopper's query has a few).
pub(crate) const MAX_SEARCH_TERMS: usize = 8;

/// The WHERE clause matching active products whose search text contains each of `terms` terms
/// (bound as `$1..$terms`, patterns from [`search_pattern`]). SQLite asks its FTS5 trigram index
/// (GLOB, which it serves from the index; LIKE with ESCAPE it would not), PostgreSQL its pg_trgm
/// index (LIKE).
pub(crate) fn search_filter(backend: crate::store::Backend, terms: usize) -> String {
    let each: Vec<String> = (1..=terms)
        .map(|n| match backend {
            crate::store::Backend::Sqlite => format!("search_text GLOB ${n}"),
            crate::store::Backend::Postgres => format!("search_text LIKE ${n} ESCAPE '\\'"),
        })
        .collect();
    match backend {
        crate::store::Backend::Sqlite => format!(
            "active AND rowid IN (SELECT rowid FROM products_search WHERE {})",
            each.join(" AND ")
        ),
        crate::store::Backend::Postgres => format!("active AND {}", each.join(" AND ")),
    }
}

/// The pattern matching `term` anywhere, its own wildcards taken literally.
pub(crate) fn search_pattern(backend: crate::store::Backend, term: &str) -> String {
    match backend {
        crate::store::Backend::Sqlite => {
            // GLOB has no escape character: a wildcard stands for itself inside brackets.
            let mut out = String::from("*");
            for c in term.chars() {
                match c {
                    '*' | '?' | '[' => {
                        out.push('[');
                        out.push(c);
                        out.push(']');
                    }
                    _ => out.push(c),
                }
            }
            out.push('*');
            out
        }
        crate::store::Backend::Postgres => format!("%{}%", super::like_escape(term)),
    }
}
