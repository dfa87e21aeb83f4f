//! The dashboard: today's orders and sales (the day in JST), the latest orders of today, and the
//! sales of the last [`CHART_DAYS`] days as a plot and a table.

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
    sales_chart::{sales_svg, DaySales},
    state::{jst, BackofficeState},
};

/// Days the sales plot covers, today included.
pub const CHART_DAYS: i64 = 30;

/// One row of the sales table.
struct DayRow {
    day: String,
    orders: i64,
    total: String,
}

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
    /// The plot (SVG drawn by us from numbers only, so rendered unescaped).
    chart: Option<String>,
    days: Vec<DayRow>,
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
    // One grouped query for the whole chart, oldest day first.
    let first = from - (CHART_DAYS - 1) * DAY_US;
    let history: Vec<DaySales> = state
        .store
        .sales_by_day(first, DAY_US, CHART_DAYS)
        .await
        .map_err(fail("sales by day"))?
        .into_iter()
        .zip((0..CHART_DAYS).rev())
        .map(|(s, back)| DaySales {
            day: (now - chrono::Duration::days(back)).date_naive(),
            orders: s.orders,
            total: s.total,
        })
        .collect();
    let chart = sales_svg(&history);
    let days = history
        .iter()
        .rev()
        .map(|d| DayRow {
            day: d.day.format("%Y-%m-%d").to_string(),
            orders: d.orders,
            total: yen(d.total),
        })
        .collect();
    let today = now.format("%Y-%m-%d").to_string();
    Ok(render(&Dashboard {
        c,
        today,
        order_count: sales.orders,
        sales_total: yen(sales.total),
        orders,
        chart,
        days,
    }))
}
