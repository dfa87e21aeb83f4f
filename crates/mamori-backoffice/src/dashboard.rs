//! The dashboard: today's orders and sales (the day in JST), and the latest orders of today.

use std::sync::Arc;

use askama::Template;
use axum::{extract::State, response::Response};
use chrono::{Duration, TimeZone as _};
use mamori_store::model::OrderFilter;
use mamori_web::{errors::AppError, page::render};

use crate::{
    ctx::Ctx,
    fail,
    orders::{list_row, yen, OrderListRow},
    state::{jst, BackofficeState},
};

/// Today in JST as `[start, end)` in microseconds since the epoch.
pub fn today_us(state: &BackofficeState) -> (i64, i64) {
    let now = state.clock.now().with_timezone(&jst());
    let start = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| jst().from_local_datetime(&t).single())
        .map_or(now.timestamp_micros(), |t| t.timestamp_micros());
    (
        start,
        start
            + Duration::days(1)
                .num_microseconds()
                .unwrap_or(86_400_000_000),
    )
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
    let (from, to) = today_us(&state);
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
    let today = state
        .clock
        .now()
        .with_timezone(&jst())
        .format("%Y-%m-%d")
        .to_string();
    Ok(render(&Dashboard {
        c,
        today,
        order_count: sales.orders,
        sales_total: yen(sales.total),
        orders,
    }))
}
