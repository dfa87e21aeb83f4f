//! The CSP reports every page of the shop sends, aggregated per page, directive and blocked
//! origin (`mamori_guard::csp` stores them). Read with the alerts' permission. A page is a path
//! without query and a blocked resource an origin or keyword, so nothing here is masked.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use mamori_store::CspReportRow;
use mamori_web::{errors::AppError, page::render};
use serde::Deserialize;

use crate::{
    ctx::Ctx,
    fail,
    forms::{offset, Pager, PAGE_SIZE},
    state::{fmt_secs, BackofficeState},
};

/// One aggregate as the list shows it.
#[derive(Clone, Debug)]
pub struct CspLine {
    /// The page's path.
    pub page: String,
    /// The effective directive.
    pub directive: String,
    /// The blocked origin or keyword.
    pub blocked_origin: String,
    /// Reports counted.
    pub count: i64,
    /// First reported (JST).
    pub first_seen: String,
    /// Last reported (JST).
    pub last_seen: String,
    /// The document's URL as first reported.
    pub sample: String,
}

fn line(r: &CspReportRow) -> CspLine {
    CspLine {
        page: r.page.clone(),
        directive: r.directive.clone(),
        blocked_origin: r.blocked_origin.clone(),
        count: r.report_count,
        first_seen: fmt_secs(r.first_seen),
        last_seen: fmt_secs(r.last_seen),
        sample: r.sample_document.clone(),
    }
}

/// `GET /csp-reports?page=`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Page.
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "csp_reports.html")]
struct ListPage {
    c: Ctx,
    reports: Vec<CspLine>,
    pager: Pager,
}

/// `GET /csp-reports`: the aggregates, most recently reported first.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = state
        .store
        .csp_reports_page(offset(q.page), PAGE_SIZE)
        .await
        .map_err(fail("csp reports page"))?;
    let reports = page.items.iter().map(line).collect();
    let pager = Pager::new(q.page, page.total, String::new());
    Ok(render(&ListPage { c, reports, pager }))
}
