//! The storefront's public pages: home, categories with pagination, search, product pages.
//! Nothing here touches personal data.

use std::{collections::HashMap, sync::Arc};

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use mamori_domain::{TaxRate, Yen};
use mamori_store::ProductOrder;
use mamori_store::{CategoryRow, ProductImageHead, ProductRow};
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

/// An image as a page shows it: its URL and the size it is shown at (within a box, aspect kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownImage {
    /// `/images/{id}`.
    pub src: String,
    /// Shown width in CSS pixels.
    pub width: i64,
    /// Shown height in CSS pixels.
    pub height: i64,
}

impl ShownImage {
    /// `head` shown within `max` × `max` pixels (never enlarged).
    pub fn fit(head: &ProductImageHead, max: i64) -> ShownImage {
        let (w, h) = (head.width.max(1), head.height.max(1));
        let scale_num = max.min(w.max(h));
        let big = w.max(h);
        ShownImage {
            src: format!("/images/{}", head.id),
            width: (w * scale_num / big).max(1),
            height: (h * scale_num / big).max(1),
        }
    }
}

/// Size of a product's image in listings.
const THUMB_PX: i64 = 224;
/// Size of the main image on a product page.
const MAIN_PX: i64 = 480;
/// Size of the further images on a product page.
const MORE_PX: i64 = 160;

/// The first image of each product, for a listing (one query without the images' bytes).
async fn thumbnails(
    state: &ShopState,
    products: &[ProductRow],
) -> Result<HashMap<String, ShownImage>, AppError> {
    let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    let heads = state
        .catalogue
        .image_heads(state.store.as_ref(), &ids)
        .await
        .map_err(fail("image heads"))?;
    let mut out = HashMap::new();
    for h in heads.iter() {
        out.entry(h.product_id.clone())
            .or_insert_with(|| ShownImage::fit(h, THUMB_PX));
    }
    Ok(out)
}

/// What the product grid needs besides the products: language and their first images.
trait Grid {
    fn ctx(&self) -> &Ctx;
    fn thumbs(&self) -> &HashMap<String, ShownImage>;
    fn thumb(&self, p: &ProductRow) -> Option<&ShownImage> {
        self.thumbs().get(&p.id)
    }
    fn name_of<'a>(&self, p: &'a ProductRow) -> &'a str {
        p.name_for(self.ctx().en())
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    c: Ctx,
    categories: Vec<CategoryRow>,
    featured: Vec<ProductRow>,
    thumbs: HashMap<String, ShownImage>,
}

impl Grid for Home {
    fn ctx(&self) -> &Ctx {
        &self.c
    }
    fn thumbs(&self) -> &HashMap<String, ShownImage> {
        &self.thumbs
    }
}

#[derive(Template)]
#[template(path = "listing.html")]
struct Listing {
    c: Ctx,
    /// パンくず: (link, label) from the home page down to the listing's parent.
    crumbs: Vec<(String, String)>,
    /// On category pages: the orders and the in-stock filter, as links.
    controls: Option<Controls>,
    heading: String,
    products: Vec<ProductRow>,
    total: i64,
    page: i64,
    pages: i64,
    prev_link: Option<String>,
    next_link: Option<String>,
    thumbs: HashMap<String, ShownImage>,
}

impl Grid for Listing {
    fn ctx(&self) -> &Ctx {
        &self.c
    }
    fn thumbs(&self) -> &HashMap<String, ShownImage> {
        &self.thumbs
    }
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    c: Ctx,
    /// パンくず: home, then the product's category.
    crumbs: Vec<(String, String)>,
    p: ProductRow,
    /// The product's images, the first shown large.
    images: Vec<ShownImage>,
}

impl ProductPage {
    fn name(&self) -> &str {
        self.p.name_for(self.c.en())
    }
    /// Alt text of the `i`-th image (0-based): the product's name, numbered after the first.
    fn alt(&self, i: &usize) -> String {
        if *i == 0 {
            self.name().to_owned()
        } else {
            format!("{}（{}{}）", self.name(), self.c.t("画像", "image "), i + 1)
        }
    }
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
            .category_page(state.store.as_ref(), &cat.id, Default::default(), 0, 2)
            .await
            .map_err(fail("featured"))?;
        featured.extend(page.items.iter().cloned());
    }
    let thumbs = thumbnails(&state, &featured).await?;
    Ok(render(&Home {
        c,
        categories,
        featured,
        thumbs,
    }))
}

/// A category page's `?page=N&sort=price_low&stock=1`. Anything else is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryQuery {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    stock: Option<String>,
}

/// A category page's order and filter links.
#[derive(Debug)]
pub struct Controls {
    /// (link, label, chosen) per order.
    pub sorts: Vec<(String, &'static str, bool)>,
    /// The in-stock filter is on.
    pub in_stock: bool,
    /// The link that turns it on or off.
    pub in_stock_link: String,
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
    (products, thumbs): (Vec<ProductRow>, HashMap<String, ShownImage>),
    total: i64,
    page: i64,
    link: impl Fn(i64) -> String,
) -> Listing {
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let crumbs = vec![("/".to_owned(), c.t("ホーム", "Home").to_owned())];
    Listing {
        c,
        crumbs,
        controls: None,
        heading,
        products,
        total,
        page,
        pages,
        prev_link: (page > 1).then(|| link(page - 1)),
        next_link: (page < pages).then(|| link(page + 1)),
        thumbs,
    }
}

/// `GET /category/{slug}?page=N&sort=price_low&stock=1`: ordered by number (default), price or
/// newest, optionally only what is in stock.
pub async fn category(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<CategoryQuery>,
) -> Result<Response, AppError> {
    let page = page_number(q.page.as_deref())?;
    let order = match q.sort.as_deref() {
        None | Some("") => ProductOrder::Number,
        Some(code) => ProductOrder::parse(code).ok_or(AppError::BadRequest)?,
    };
    let in_stock = match q.stock.as_deref() {
        None | Some("") | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(AppError::BadRequest),
    };
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
            (order, in_stock),
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
    let link = move |o: ProductOrder, stock: bool, n: i64| {
        let mut url = format!("/category/{slug}?sort={}", o.as_str());
        if stock {
            url.push_str("&stock=1");
        }
        if n > 1 {
            url.push_str(&format!("&page={n}"));
        }
        url
    };
    let controls = Controls {
        sorts: ProductOrder::ALL
            .iter()
            .map(|o| (link(*o, in_stock, 1), order_label(&c, *o), *o == order))
            .collect(),
        in_stock,
        in_stock_link: link(order, !in_stock, 1),
    };
    let thumbs = thumbnails(&state, &found.items).await?;
    let mut page_view = listing(c, heading, (found.items, thumbs), found.total, page, |n| {
        link(order, in_stock, n)
    });
    page_view.controls = Some(controls);
    Ok(render(&page_view))
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
        .catalogue
        .search(
            state.store.as_ref(),
            &text,
            (page - 1) * PAGE_SIZE,
            PAGE_SIZE,
        )
        .await
        .map_err(fail("search"))?;
    let heading = format!("{}「{}」", c.t("検索結果", "Results for "), text);
    let encoded = utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string();
    let thumbs = thumbnails(&state, &found.items).await?;
    Ok(render(&listing(
        c,
        heading,
        (found.items.clone(), thumbs),
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
    let images = state
        .catalogue
        .image_heads(state.store.as_ref(), std::slice::from_ref(&p.id))
        .await
        .map_err(fail("product images"))?
        .iter()
        .enumerate()
        .map(|(i, h)| ShownImage::fit(h, if i == 0 { MAIN_PX } else { MORE_PX }))
        .collect();
    let mut crumbs = vec![("/".to_owned(), c.t("ホーム", "Home").to_owned())];
    if let Some(cat) = state
        .catalogue
        .categories(state.store.as_ref())
        .await
        .map_err(fail("categories"))?
        .iter()
        .find(|k| k.id == p.category_id)
    {
        let label = if c.en() { &cat.name_en } else { &cat.name_ja };
        crumbs.push((format!("/category/{}", cat.slug), label.clone()));
    }
    Ok(render(&ProductPage {
        c,
        crumbs,
        p,
        images,
    }))
}

/// `GET /images/{id}`: a product image as the back office stored it (checked and re-encoded
/// there). An id names one image for good, so browsers and caches keep it for a year; the ETag
/// is its SHA-256. Only images of products on sale are served.
pub async fn image(
    State(state): State<Arc<ShopState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if id.is_empty()
        || id.len() > 64
        || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
    {
        return Err(AppError::NotFound);
    }
    let img = state
        .store
        .product_image(&id)
        .await
        .map_err(fail("image"))?
        .ok_or(AppError::NotFound)?;
    let on_sale = state
        .store
        .product_by_id(&img.product_id)
        .await
        .map_err(fail("image product"))?
        .is_some_and(|p| p.active);
    if !on_sale {
        return Err(AppError::NotFound);
    }
    let etag = format!("\"{}\"", hex::encode(&img.sha256));
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    let etag_value = HeaderValue::from_str(&etag).map_err(fail("etag"))?;
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    let content_type = match img.content_type.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, cache),
            (header::ETAG, etag_value),
        ],
        img.bytes,
    )
        .into_response())
}

/// A category page's order as the sort control names it, in the page's language (the store
/// knows the order's URL code and SQL only).
fn order_label(c: &Ctx, o: ProductOrder) -> &'static str {
    match o {
        ProductOrder::Number => c.t("商品番号順", "By number"),
        ProductOrder::PriceLow => c.t("価格の安い順", "Price: low to high"),
        ProductOrder::PriceHigh => c.t("価格の高い順", "Price: high to low"),
        ProductOrder::Newest => c.t("新着順", "Newest"),
    }
}
