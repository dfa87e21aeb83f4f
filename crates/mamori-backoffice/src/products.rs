//! Products: the list (inactive ones too), create and edit (names, descriptions, price, tax rate,
//! 名入れ and のし options, shown or not), stock, and images (checked by content and re-encoded;
//! see [`crate::images`]).

use std::sync::Arc;

use askama::Template;
use axum::{
    body::Body,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use http::{header, HeaderValue};
use mamori_domain::TaxRate;
use mamori_store::model::{CategoryRow, ProductImageRow, ProductRow};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    ctx::Ctx,
    fail,
    forms::{self, offset, yen, PageQuery, Pager},
    images, stafflog,
    state::BackofficeState,
};

/// A product as a list row.
#[derive(Debug, Clone)]
pub struct ProductLine {
    /// Id.
    pub id: String,
    /// SKU.
    pub sku: String,
    /// Name in the page's language.
    pub name: String,
    /// Price, tax included.
    pub price: String,
    /// Tax rate label.
    pub rate: &'static str,
    /// Stock.
    pub stock: i64,
    /// Shown in the shop.
    pub active: bool,
}

fn rate_label(c: &Ctx, rate: &str) -> &'static str {
    match rate {
        "reduced" => c.t("軽減税率 8%", "Reduced 8%"),
        _ => c.t("標準税率 10%", "Standard 10%"),
    }
}

fn line(c: &Ctx, p: &ProductRow) -> ProductLine {
    ProductLine {
        id: p.id.clone(),
        sku: p.sku.clone(),
        name: p.name_for(c.en()).to_owned(),
        price: yen(p.price_incl),
        rate: rate_label(c, &p.tax_rate),
        stock: p.stock,
        active: p.active,
    }
}

#[derive(Template)]
#[template(path = "products/list.html")]
struct List {
    c: Ctx,
    products: Vec<ProductLine>,
    pager: Pager,
}

/// `GET /products`.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = state
        .store
        .products_page_all(offset(q.page), forms::PAGE_SIZE)
        .await
        .map_err(fail("products page"))?;
    let products = page.items.iter().map(|p| line(&c, p)).collect();
    let pager = Pager::new(q.page, page.total, String::new());
    Ok(render(&List { c, products, pager }))
}

/// The product form (create and edit; the SKU is fixed once created, since orders name it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductForm {
    /// Product code (create only).
    pub sku: Option<String>,
    /// Category id.
    pub category_id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Japanese description.
    pub description_ja: String,
    /// English description.
    pub description_en: String,
    /// Price, tax included (yen).
    pub price_incl: String,
    /// `standard` or `reduced`.
    pub tax_rate: String,
    /// Stock (create only; afterwards through the stock form).
    pub stock: Option<String>,
    /// Offers 名入れ.
    pub offers_personalisation: Option<String>,
    /// Offers のし.
    pub offers_noshi: Option<String>,
    /// Shown in the shop.
    pub active: Option<String>,
}

impl ProductForm {
    fn of(p: &ProductRow) -> Self {
        let on = |b: bool| b.then(|| "1".to_owned());
        Self {
            sku: Some(p.sku.clone()),
            category_id: p.category_id.clone(),
            name_ja: p.name_ja.clone(),
            name_en: p.name_en.clone(),
            description_ja: p.description_ja.clone(),
            description_en: p.description_en.clone(),
            price_incl: p.price_incl.to_string(),
            tax_rate: p.tax_rate.clone(),
            stock: Some(p.stock.to_string()),
            offers_personalisation: on(p.offers_personalisation),
            offers_noshi: on(p.offers_noshi),
            active: on(p.active),
        }
    }

    /// Checks the form into `row` (which keeps its id, SKU and stock when editing); the messages
    /// of every problem otherwise.
    fn apply(
        &self,
        c: &Ctx,
        row: &mut ProductRow,
        creating: bool,
        categories: &[CategoryRow],
    ) -> Result<(), Vec<&'static str>> {
        let mut errs = Vec::new();
        if creating {
            let sku = self.sku.as_deref().unwrap_or("").trim();
            let ok = !sku.is_empty()
                && sku.len() <= 40
                && sku
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if ok {
                row.sku = sku.to_owned();
            } else {
                errs.push(c.t(
                    "商品コードは英数字・ハイフン・下線の40文字以内で入力してください。",
                    "The SKU is up to 40 letters, digits, hyphens or underscores.",
                ));
            }
            match self.stock.as_deref().unwrap_or("0").trim().parse::<i64>() {
                Ok(n) if (0..=1_000_000).contains(&n) => row.stock = n,
                _ => errs.push(c.t(
                    "在庫数は0から1,000,000の整数で入力してください。",
                    "Stock is a whole number from 0 to 1,000,000.",
                )),
            }
        }
        if !categories.iter().any(|k| k.id == self.category_id) {
            errs.push(c.t("カテゴリを選んでください。", "Please choose a category."));
        }
        row.category_id = self.category_id.clone();
        let text = |v: &str, max: usize| {
            let t = v.trim();
            (!t.is_empty() && t.chars().count() <= max && !t.chars().any(char::is_control))
                .then(|| t.to_owned())
        };
        // The English name is optional: English pages show the Japanese one when it is empty.
        let name_en = self.name_en.trim();
        match (text(&self.name_ja, 100), name_en.is_empty().then(String::new).or_else(|| text(name_en, 100))) {
            (Some(ja), Some(en)) => {
                row.name_ja = ja;
                row.name_en = en;
            }
            _ => errs.push(c.t(
                "商品名（日本語）を100文字以内で、英語名を入れる場合も100文字以内で入力してください。",
                "Please enter the Japanese name (up to 100 characters); the English name, if any, is up to 100 too.",
            )),
        }
        let desc = |v: &str| {
            let t = v.trim();
            (t.chars().count() <= 2000).then(|| t.replace("\r\n", "\n"))
        };
        match (desc(&self.description_ja), desc(&self.description_en)) {
            (Some(ja), Some(en)) => {
                row.description_ja = ja;
                row.description_en = en;
            }
            _ => errs.push(c.t(
                "説明は2,000文字以内で入力してください。",
                "Descriptions are up to 2,000 characters.",
            )),
        }
        match self.price_incl.trim().replace(',', "").parse::<i64>() {
            Ok(n) if (1..=10_000_000).contains(&n) => row.price_incl = n,
            _ => errs.push(c.t(
                "価格（税込）は1円から10,000,000円の整数で入力してください。",
                "The price (tax included) is a whole number of yen from 1 to 10,000,000.",
            )),
        }
        match TaxRate::from_storage(&self.tax_rate) {
            Some(_) => row.tax_rate = self.tax_rate.clone(),
            None => errs.push(c.t("税率を選んでください。", "Please choose a tax rate.")),
        }
        row.offers_personalisation = self.offers_personalisation.is_some();
        row.offers_noshi = self.offers_noshi.is_some();
        row.active = self.active.is_some();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

/// A category choice.
#[derive(Debug, Clone)]
pub struct CategoryOption {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Selected.
    pub selected: bool,
}

/// An image of the product.
#[derive(Debug, Clone)]
pub struct ImageLine {
    /// Where it is served.
    pub url: String,
    /// `W×H`.
    pub size: String,
}

#[derive(Template)]
#[template(path = "products/form.html")]
struct FormPage {
    c: Ctx,
    product: Option<ProductLine>,
    f: ProductForm,
    categories: Vec<CategoryOption>,
    images: Vec<ImageLine>,
    problems: Vec<&'static str>,
    can_manage: bool,
}

impl FormPage {
    fn on(&self, v: &Option<String>) -> bool {
        v.is_some()
    }
}

async fn categories(state: &BackofficeState) -> Result<Vec<CategoryRow>, AppError> {
    state.store.categories().await.map_err(fail("categories"))
}

fn category_options(c: &Ctx, all: &[CategoryRow], current: &str) -> Vec<CategoryOption> {
    all.iter()
        .map(|k| CategoryOption {
            id: k.id.clone(),
            label: if c.en() {
                k.name_en.clone()
            } else {
                k.name_ja.clone()
            },
            selected: k.id == current,
        })
        .collect()
}

async fn form_page(
    state: &BackofficeState,
    c: Ctx,
    product: Option<&ProductRow>,
    f: ProductForm,
    problems: Vec<&'static str>,
) -> Result<Response, AppError> {
    let all = categories(state).await?;
    let categories = category_options(&c, &all, &f.category_id);
    let images = match product {
        Some(p) => state
            .store
            .product_images_of(&p.id)
            .await
            .map_err(fail("product images"))?
            .iter()
            .map(|i| ImageLine {
                url: format!("/products/{}/images/{}", p.id, i.id),
                size: format!("{}×{}", i.width, i.height),
            })
            .collect(),
        None => Vec::new(),
    };
    let can_manage = c.can(mamori_staff::Permission::ProductsManage);
    Ok(render(&FormPage {
        product: product.map(|p| line(&c, p)),
        f,
        categories,
        images,
        problems,
        can_manage,
        c,
    }))
}

/// `GET /products/new`.
pub async fn new_form(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let f = ProductForm {
        tax_rate: "standard".to_owned(),
        stock: Some("0".to_owned()),
        ..ProductForm::default()
    };
    form_page(&state, c, None, f, Vec::new()).await
}

/// `POST /products`: creates a product.
pub async fn create(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<ProductForm>,
) -> Result<Response, AppError> {
    let all = categories(&state).await?;
    let now = mamori_store::model::now_us();
    let mut row = ProductRow {
        id: uuid::Uuid::now_v7().to_string(),
        created_at: now,
        updated_at: now,
        ..ProductRow::default()
    };
    if let Err(problems) = f.apply(&c, &mut row, true, &all) {
        return form_page(&state, c, None, f, problems).await;
    }
    let taken = state
        .store
        .product_by_sku(&row.sku)
        .await
        .map_err(fail("product by sku"))?
        .is_some();
    if taken {
        let msg = c.t("この商品コードは使われています。", "This SKU is taken.");
        return form_page(&state, c, None, f, vec![msg]).await;
    }
    state
        .store
        .upsert_product(&row)
        .await
        .map_err(fail("create product"))?;
    stafflog::record(
        &state,
        &c,
        None,
        "products.create",
        &row.id,
        json!({ "sku": row.sku, "price_incl": row.price_incl, "tax_rate": row.tax_rate, "stock": row.stock, "active": row.active }),
    )
    .await?;
    c.flash_next(c.t("商品を登録しました。", "The product was created."));
    Ok(Redirect::to(&format!("/products/{}", row.id)).into_response())
}

async fn product(state: &BackofficeState, id: &str) -> Result<Option<ProductRow>, AppError> {
    state
        .store
        .product_by_id(id)
        .await
        .map_err(fail("product by id"))
}

/// `GET /products/{id}`.
pub async fn detail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let p = product(&state, &id).await?.ok_or(AppError::NotFound)?;
    form_page(&state, c, Some(&p), ProductForm::of(&p), Vec::new()).await
}

fn missing(c: &Ctx) -> Response {
    c.error_next(c.t(
        "商品が見つかりません。何も変更していません。",
        "Product not found. Nothing was changed.",
    ));
    Redirect::to("/products").into_response()
}

/// `POST /products/{id}`: edits a product (not its SKU or stock).
pub async fn update(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(f): SafeForm<ProductForm>,
) -> Result<Response, AppError> {
    let Some(before) = product(&state, &id).await? else {
        return Ok(missing(&c));
    };
    let all = categories(&state).await?;
    let mut row = before.clone();
    if let Err(problems) = f.apply(&c, &mut row, false, &all) {
        let mut shown = f.clone();
        shown.sku = Some(before.sku.clone());
        return form_page(&state, c, Some(&before), shown, problems).await;
    }
    row.updated_at = mamori_store::model::now_us();
    let mut changed = Vec::new();
    let cols: [(&str, bool); 10] = [
        ("category_id", before.category_id != row.category_id),
        ("name_ja", before.name_ja != row.name_ja),
        ("name_en", before.name_en != row.name_en),
        (
            "description_ja",
            before.description_ja != row.description_ja,
        ),
        (
            "description_en",
            before.description_en != row.description_en,
        ),
        ("price_incl", before.price_incl != row.price_incl),
        ("tax_rate", before.tax_rate != row.tax_rate),
        (
            "offers_personalisation",
            before.offers_personalisation != row.offers_personalisation,
        ),
        ("offers_noshi", before.offers_noshi != row.offers_noshi),
        ("active", before.active != row.active),
    ];
    for (name, differs) in cols {
        if differs {
            changed.push(name);
        }
    }
    if changed.is_empty() {
        c.flash_next(c.t("変更はありませんでした。", "Nothing changed."));
        return Ok(Redirect::to(&format!("/products/{id}")).into_response());
    }
    state
        .store
        .upsert_product(&row)
        .await
        .map_err(fail("update product"))?;
    stafflog::record(
        &state,
        &c,
        None,
        "products.update",
        &id,
        json!({ "sku": row.sku, "changed": changed, "price_incl": [before.price_incl, row.price_incl], "tax_rate": [before.tax_rate, row.tax_rate], "active": [before.active, row.active] }),
    )
    .await?;
    c.flash_next(c.t("商品を更新しました。", "The product was updated."));
    Ok(Redirect::to(&format!("/products/{id}")).into_response())
}

/// `POST /products/{id}/stock` form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockForm {
    /// New stock.
    pub stock: String,
}

/// `POST /products/{id}/stock`: sets the stock.
pub async fn stock(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(f): SafeForm<StockForm>,
) -> Result<Response, AppError> {
    let Some(p) = product(&state, &id).await? else {
        return Ok(missing(&c));
    };
    let n = match f.stock.trim().parse::<i64>() {
        Ok(n) if (0..=1_000_000).contains(&n) => n,
        _ => {
            c.error_next(c.t(
                "在庫数は0から1,000,000の整数で入力してください。何も変更していません。",
                "Stock is a whole number from 0 to 1,000,000. Nothing was changed.",
            ));
            return Ok(Redirect::to(&format!("/products/{id}")).into_response());
        }
    };
    state
        .store
        .set_stock(&p.sku, n)
        .await
        .map_err(fail("set stock"))?;
    stafflog::record(
        &state,
        &c,
        None,
        "products.stock",
        &id,
        json!({ "sku": p.sku, "from": p.stock, "to": n }),
    )
    .await?;
    c.flash_next(c.t("在庫数を更新しました。", "The stock was updated."));
    Ok(Redirect::to(&format!("/products/{id}")).into_response())
}

/// `POST /products/{id}/images`: the body is the image file itself (sent by the page's script
/// with the CSRF header). Checked and re-encoded by [`images::clean`]; at most
/// `image_max_bytes` are read.
pub async fn upload_image(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    let Some(p) = product(&state, &id).await? else {
        return Ok(missing(&c));
    };
    let back = Redirect::to(&format!("/products/{id}")).into_response();
    let bytes = match axum::body::to_bytes(body, state.config.image_max_bytes + 1).await {
        Ok(b) => b,
        Err(_) => {
            c.error_next(&format!(
                "{} / {}",
                images::ImageError::TooLarge.message_ja(),
                images::ImageError::TooLarge.message_en()
            ));
            return Ok(back);
        }
    };
    // Decoding and re-encoding is CPU work: off the runtime the shop shares.
    let (max_bytes, max_side) = (state.config.image_max_bytes, state.config.image_max_side);
    let cleaned = tokio::task::spawn_blocking(move || images::clean(&bytes, max_bytes, max_side))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "image worker failed");
            AppError::Internal
        })?;
    let clean = match cleaned {
        Ok(img) => img,
        Err(e) => {
            c.error_next(if c.en() {
                e.message_en()
            } else {
                e.message_ja()
            });
            return Ok(back);
        }
    };
    let row = ProductImageRow {
        id: uuid::Uuid::now_v7().to_string(),
        product_id: p.id.clone(),
        content_type: "image/png".to_owned(),
        sha256: Sha256::digest(&clean.png).to_vec(),
        width: i64::from(clean.width),
        height: i64::from(clean.height),
        bytes: clean.png,
        created_at: state.now(),
    };
    state
        .store
        .product_image_insert(&row)
        .await
        .map_err(fail("image insert"))?;
    stafflog::record(
        &state,
        &c,
        None,
        "products.image_add",
        &id,
        json!({ "image": row.id, "width": row.width, "height": row.height, "bytes": row.bytes.len() }),
    )
    .await?;
    c.flash_next(c.t("画像を登録しました。", "The image was added."));
    Ok(back)
}

/// `GET /products/{id}/images/{image}`: the stored PNG, with its own content type (the stack
/// adds `nosniff`).
pub async fn image(
    State(state): State<Arc<BackofficeState>>,
    Path((id, image)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let row = state
        .store
        .product_image(&image)
        .await
        .map_err(fail("image"))?
        .filter(|r| r.product_id == id)
        .ok_or(AppError::NotFound)?;
    let ctype = match row.content_type.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ctype)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        row.bytes,
    )
        .into_response())
}
