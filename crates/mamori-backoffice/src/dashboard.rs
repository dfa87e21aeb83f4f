//! The dashboard: today's orders and sales (the day in JST), and the latest orders of today.

use std::sync::Arc;

use askama::Template;
use axum::{extract::State, response::Response};
use chrono::{DateTime, FixedOffset, TimeZone as _};
use mamori_store::model::OrderFilter;
use mamori_web::{errors::AppError, page::render};

use crate::{
    ctx::Ctx,
    fail,
    forms::DAY_US,
    orders::{list_row, yen, OrderListRow},
    state::{jst, BackofficeState},
};

/// The day of `now` (JST) as `[start, end)` in microseconds since the epoch.
fn day_us(now: DateTime<FixedOffset>) -> (i64, i64) {
    let start = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| jst().from_local_datetime(&t).single())
        .map_or(now.timestamp_micros(), |t| t.timestamp_micros());
    (start, start + DAY_US)
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    c: Ctx,
    today: String,
    order_count: i64,
    sales_total: String,
    orders: Vec<OrderListRow>,
}

/// `GET /dashboard`.
pub async fn show(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    let now = state.clock.now().with_timezone(&jst());
    let (from, to) = day_us(now);
    let sales = state
        .store
        .sales_summary(from, to)
        .await
        .map_err(fail("sales summary"))?;
    let filter = OrderFilter {
        placed_from_us: Some(from),
        placed_to_us: Some(to),
        ..OrderFilter::default()
    };
    let orders = state
        .store
        .orders_search(&filter, 0, 10)
        .await
        .map_err(fail("today's orders"))?
        .items
        .iter()
        .map(|o| list_row(&c, o))
        .collect();
    let today = now.format("%Y-%m-%d").to_string();
    Ok(render(&Dashboard {
        c,
        today,
        order_count: sales.orders,
        sales_total: yen(sales.total),
        orders,
    }))
}
