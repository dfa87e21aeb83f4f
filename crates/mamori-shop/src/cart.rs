//! The cart: in the session for guests, in `member_carts` for members; a guest's cart is merged
//! into the member's at login. A cart holds SKUs and quantities only, nothing personal.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use mamori_domain::{TaxRate, Yen};
use mamori_store::{ProductRow, StoreError};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    session::Session,
};
use serde::{Deserialize, Serialize};

use crate::{ctx::Ctx, fail, state::ShopState};

/// Session key of a guest's cart.
pub const CART_KEY: &str = "cart";
/// Most units of one product in a cart.
pub const MAX_QUANTITY: u32 = 99;
/// Most distinct products in a cart.
pub const MAX_LINES: usize = 50;

/// One line: what and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// Product SKU.
    pub sku: String,
    /// Units.
    pub quantity: u32,
}

/// A cart line with its product as it is now.
#[derive(Debug, Clone)]
pub struct PricedLine {
    /// The product.
    pub product: ProductRow,
    /// Units.
    pub quantity: u32,
    /// Unit price, tax included.
    pub unit_price: Yen,
    /// Tax rate.
    pub rate: TaxRate,
    /// `unit_price × quantity`.
    pub line_total: Yen,
}

impl PricedLine {
    /// True when the product is at the reduced rate (8%).
    pub fn reduced(&self) -> bool {
        self.rate == TaxRate::Reduced
    }

    /// True when there are not enough units in stock.
    pub fn short(&self) -> bool {
        self.product.stock < i64::from(self.quantity)
    }
}

/// The lines of the cart (members: stored; guests: session).
pub async fn lines(
    state: &ShopState,
    session: &Session,
    member: Option<&str>,
) -> Result<Vec<CartLine>, StoreError> {
    match member {
        Some(id) => Ok(state
            .store
            .cart_lines(id)
            .await?
            .into_iter()
            .filter_map(|(sku, q)| {
                Some(CartLine {
                    sku,
                    quantity: u32::try_from(q).ok()?,
                })
            })
            .collect()),
        None => Ok(session.get::<Vec<CartLine>>(CART_KEY).unwrap_or_default()),
    }
}

/// Units in the cart (0 when it cannot be read: the header badge is not worth an error page).
pub async fn count(state: &ShopState, session: &Session, member: Option<&str>) -> u32 {
    match lines(state, session, member).await {
        Ok(l) => l.iter().map(|l| l.quantity).sum(),
        Err(err) => {
            tracing::warn!(error = %err, "cart count unavailable");
            0
        }
    }
}

/// Sets a line's quantity (0 removes it).
pub async fn set(
    state: &ShopState,
    session: &Session,
    member: Option<&str>,
    sku: &str,
    quantity: u32,
) -> Result<(), StoreError> {
    let quantity = quantity.min(MAX_QUANTITY);
    match member {
        Some(id) => {
            let now = chrono::Utc::now().timestamp();
            state
                .store
                .cart_set(id, sku, i64::from(quantity), now)
                .await
        }
        None => {
            let mut cart = session.get::<Vec<CartLine>>(CART_KEY).unwrap_or_default();
            cart.retain(|l| l.sku != sku);
            if quantity > 0 && cart.len() < MAX_LINES {
                cart.push(CartLine {
                    sku: sku.to_owned(),
                    quantity,
                });
            }
            session
                .insert(CART_KEY, &cart)
                .map_err(|_| StoreError::Internal {
                    what: "cart could not be stored",
                })
        }
    }
}

/// Empties the cart.
pub async fn clear(
    state: &ShopState,
    session: &Session,
    member: Option<&str>,
) -> Result<(), StoreError> {
    match member {
        Some(id) => state.store.cart_clear(id).await,
        None => {
            session.remove(CART_KEY);
            Ok(())
        }
    }
}

/// At login: adds the guest cart of this session to the member's stored cart, then empties it.
pub async fn merge_into_member(
    state: &ShopState,
    session: &Session,
    member_id: &str,
) -> Result<(), StoreError> {
    let guest = session.get::<Vec<CartLine>>(CART_KEY).unwrap_or_default();
    if guest.is_empty() {
        return Ok(());
    }
    let stored = state.store.cart_lines(member_id).await?;
    let now = chrono::Utc::now().timestamp();
    for line in guest {
        let have = stored
            .iter()
            .find(|(sku, _)| *sku == line.sku)
            .map_or(0, |(_, q)| *q);
        let total = (have + i64::from(line.quantity)).min(i64::from(MAX_QUANTITY));
        state
            .store
            .cart_set(member_id, &line.sku, total, now)
            .await?;
    }
    session.remove(CART_KEY);
    Ok(())
}

/// Prices the lines with the products as they are now; lines whose product is gone or inactive
/// are dropped.
pub async fn priced(state: &ShopState, lines: &[CartLine]) -> Result<Vec<PricedLine>, StoreError> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let Some(product) = state.store.product_by_sku(&line.sku).await? else {
            continue;
        };
        if !product.active {
            continue;
        }
        let rate = TaxRate::from_storage(&product.tax_rate).unwrap_or(TaxRate::Standard);
        let unit_price = Yen(product.price_incl);
        let line_total =
            unit_price
                .checked_mul_qty(line.quantity)
                .map_err(|_| StoreError::BadInput {
                    field: "amount",
                    reason: "amount overflow",
                })?;
        out.push(PricedLine {
            product,
            quantity: line.quantity,
            unit_price,
            rate,
            line_total,
        });
    }
    Ok(out)
}

/// The cart as it is now, priced.
pub async fn current(
    state: &ShopState,
    session: &Session,
    member: Option<&str>,
) -> Result<Vec<PricedLine>, StoreError> {
    let raw = lines(state, session, member).await?;
    priced(state, &raw).await
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    c: Ctx,
    lines: Vec<PricedLine>,
    items_total: Yen,
    any_short: bool,
}

/// `GET /cart`.
pub async fn show(State(state): State<Arc<ShopState>>, c: Ctx) -> Result<Response, AppError> {
    let lines = current(&state, &c.session, c.member.as_deref())
        .await
        .map_err(fail("cart"))?;
    let items_total =
        Yen::checked_sum(lines.iter().map(|l| l.line_total)).map_err(|_| AppError::BadRequest)?;
    let any_short = lines.iter().any(PricedLine::short);
    Ok(render(&CartPage {
        c,
        lines,
        items_total,
        any_short,
    }))
}

/// The add and update forms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineForm {
    sku: String,
    quantity: String,
}

fn parse_quantity(text: &str) -> Option<u32> {
    let normalised = mamori_domain::normalize_input(text);
    normalised.trim().parse::<u32>().ok()
}

/// `POST /cart/add`: adds units of a product.
pub async fn add(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    SafeForm(form): SafeForm<LineForm>,
) -> Result<Response, AppError> {
    let Some(qty) = parse_quantity(&form.quantity).filter(|q| (1..=MAX_QUANTITY).contains(q))
    else {
        return Err(AppError::BadRequest);
    };
    let product = state
        .store
        .product_by_sku(&form.sku)
        .await
        .map_err(fail("product"))?
        .filter(|p| p.active)
        .ok_or(AppError::NotFound)?;
    let current = lines(&state, &c.session, c.member.as_deref())
        .await
        .map_err(fail("cart"))?;
    let have = current
        .iter()
        .find(|l| l.sku == product.sku)
        .map_or(0, |l| l.quantity);
    set(
        &state,
        &c.session,
        c.member.as_deref(),
        &product.sku,
        have.saturating_add(qty),
    )
    .await
    .map_err(fail("cart add"))?;
    c.flash_next(c.t("カートに追加しました。", "Added to the cart."));
    Ok(Redirect::to("/cart").into_response())
}

/// `POST /cart/update`: sets a line's quantity (0 removes).
pub async fn update(
    State(state): State<Arc<ShopState>>,
    c: Ctx,
    SafeForm(form): SafeForm<LineForm>,
) -> Result<Response, AppError> {
    let Some(qty) = parse_quantity(&form.quantity).filter(|q| *q <= MAX_QUANTITY) else {
        return Err(AppError::BadRequest);
    };
    set(&state, &c.session, c.member.as_deref(), &form.sku, qty)
        .await
        .map_err(fail("cart update"))?;
    Ok(Redirect::to("/cart").into_response())
}
