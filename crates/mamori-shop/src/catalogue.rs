//! The storefront's public pages: home, categories with pagination, search, product pages.
//! Nothing here touches personal data.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use mamori_domain::{TaxRate, Yen};
use mamori_store::{CategoryRow, ProductRow};
use mamori_web::{errors::AppError, page::render};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;

use crate::{ctx::Ctx, fail, state::ShopState};

/// Products per listing page.
pub const PAGE_SIZE: i64 = 12;
/// Longest search text accepted (characters).
pub const MAX_QUERY_CHARS: usize = 100;

/// `1,100円（税込）`.
pub fn price(p: &ProductRow) -> String {
    Yen(p.price_incl).format_tax_included()
}

/// True when the product is taxed at the reduced rate.
pub fn is_reduced(p: &ProductRow) -> bool {
    TaxRate::from_storage(&p.tax_rate) == Some(TaxRate::Reduced)
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    c: Ctx,
    categories: Vec<CategoryRow>,
    featured: Vec<ProductRow>,
}

#[derive(Template)]
#[template(path = "listing.html")]
struct Listing {
    c: Ctx,
    heading: String,
    products: Vec<ProductRow>,
    total: i64,
    page: i64,
    pages: i64,
    prev_link: Option<String>,
    next_link: Option<String>,
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    c: Ctx,
    p: ProductRow,
}

/// `GET /`.
pub async fn home(State(state): State<Arc<ShopState>>, c: Ctx) -> Result<Response, AppError> {
    let categories = state
        .catalogue
        .categories(state.store.as_ref())
        .await
        .map_err(fail("categories"))?
        .as_ref()
        .clone();
    let mut featured = Vec::new();
    for cat in categories.iter() {
        let page = state
            .catalogue
            .category_page(state.store.as_ref(), &cat.id, 0, 2)
            .await
            .map_err(fail("featured"))?;
        featured.extend(page.items.iter().cloned());
    }
    Ok(render(&Home {
        c,
        categories,
        featured,
    }))
}

/// `?page=N` (1-based). Anything else is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<String>,
}

fn page_number(raw: Option<&str>) -> Result<i64, AppError> {
    match raw {
        None | Some("") => Ok(1),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or(AppError::BadRequest),
    }
}

fn listing(
    c: Ctx,
    heading: String,
    products: Vec<ProductRow>,
    total: i64,
    page: i64,
    link: impl Fn(i64) -> String,
) -> Listing {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    Listing {
        c,
        heading,
        products,
        total,
        page,
        pages,
        prev_link: (page > 1).then(|| link(page - 1)),
        next_link: (page < pages).then(|| link(page + 1)),
    }
}

/// `GET /category/{slug}?page=N`.
pub async fn category(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = page_number(q.page.as_deref())?;
    let cat = state
        .catalogue
        .categories(state.store.as_ref())
        .await
        .map_err(fail("categories"))?
        .iter()
        .find(|cat| cat.slug == slug)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let found = state
        .catalogue
        .category_page(
            state.store.as_ref(),
            &cat.id,
            (page - 1) * PAGE_SIZE,
            PAGE_SIZE,
        )
        .await
        .map_err(fail("category products"))?
        .as_ref()
        .clone();
    if page > 1 && found.items.is_empty() {
        return Err(AppError::NotFound);
    }
    let heading = if c.en() { cat.name_en } else { cat.name_ja };
    let slug = cat.slug;
    Ok(render(&listing(
        c,
        heading,
        found.items,
        found.total,
        page,
        |n| format!("/category/{slug}?page={n}"),
    )))
}

/// `?q=...&page=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

/// `GET /search?q=...`: full-width input is normalised (ＡＢＣ → ABC) before matching.
pub async fn search(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let page = page_number(q.page.as_deref())?;
    let text = mamori_domain::normalize_input(q.q.trim());
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest);
    }
    if text.is_empty() {
        return Ok(Redirect::to("/").into_response());
    }
    let found = state
        .store
        .search_products(&text, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        .await
        .map_err(fail("search"))?;
    let heading = format!("{}「{}」", c.t("検索結果", "Results for "), text);
    let encoded = utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string();
    Ok(render(&listing(
        c,
        heading,
        found.items,
        found.total,
        page,
        |n| format!("/search?q={encoded}&page={n}"),
    )))
}

/// `GET /product/{sku}`.
pub async fn product(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let p = state
        .catalogue
        .product(state.store.as_ref(), &sku)
        .await
        .map_err(fail("product"))?
        .as_ref()
        .clone()
        .filter(|p| p.active)
        .ok_or(AppError::NotFound)?;
    Ok(render(&ProductPage { c, p }))
}
