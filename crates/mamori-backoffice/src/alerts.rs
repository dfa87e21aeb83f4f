//! The guard's alerts: the list (filter by state), one alert with its evidence, and
//! acknowledging it with a reason (staff log). Owners and managers act, auditors read. Alerts
//! name paths, pages and ids only, so nothing here is masked.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use mamori_staff::Permission;
use mamori_store::{alert_state, AlertFilter, AlertRow};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::{back, Ctx},
    fail,
    forms::{check_reason, offset, query_of, Pager, PAGE_SIZE},
    labels, stafflog,
    state::{fmt_secs, BackofficeState},
};

/// One alert as a list row or the detail page shows it.
#[derive(Clone, Debug)]
pub struct AlertLine {
    /// Id.
    pub id: String,
    /// Kind code.
    pub kind: String,
    /// Kind label.
    pub kind_label: String,
    /// Severity code.
    pub severity: String,
    /// Severity label.
    pub severity_label: &'static str,
    /// Subject as stored.
    pub subject: String,
    /// State code.
    pub state: String,
    /// State label.
    pub state_label: &'static str,
    /// Times seen.
    pub seen_count: i64,
    /// First seen (JST).
    pub first_seen: String,
    /// Last seen (JST).
    pub last_seen: String,
}

fn line(c: &Ctx, a: &AlertRow) -> AlertLine {
    AlertLine {
        id: a.id.clone(),
        kind: a.kind.clone(),
        kind_label: labels::alert_kind(c, &a.kind),
        severity: a.severity.clone(),
        severity_label: labels::alert_severity(c, &a.severity),
        subject: a.subject.clone(),
        state: a.state.clone(),
        state_label: labels::alert_state(c, &a.state),
        seen_count: a.seen_count,
        first_seen: fmt_secs(a.first_seen),
        last_seen: fmt_secs(a.last_seen),
    }
}

/// `GET /alerts?state=&page=`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `open`, `acknowledged`, `closed` or empty for all.
    pub state: Option<String>,
    /// Page.
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "alerts/list.html")]
struct ListPage {
    c: Ctx,
    state: String,
    states: Vec<(&'static str, &'static str)>,
    alerts: Vec<AlertLine>,
    pager: Pager,
}

/// `GET /alerts`: alerts, most recently seen first.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let wanted = q
        .state
        .as_deref()
        .filter(|s| {
            [
                alert_state::OPEN,
                alert_state::ACKNOWLEDGED,
                alert_state::CLOSED,
            ]
            .contains(s)
        })
        .map(str::to_owned);
    let filter = AlertFilter {
        state: wanted.clone(),
        kind: None,
    };
    let page = state
        .store
        .alerts_page(&filter, offset(q.page), PAGE_SIZE)
        .await
        .map_err(fail("alerts page"))?;
    let alerts = page.items.iter().map(|a| line(&c, a)).collect();
    let pager = Pager::new(
        q.page,
        page.total,
        query_of(&[("state", wanted.as_deref())]),
    );
    let states = [
        alert_state::OPEN,
        alert_state::ACKNOWLEDGED,
        alert_state::CLOSED,
    ]
    .into_iter()
    .map(|s| (s, labels::alert_state(&c, s)))
    .collect();
    Ok(render(&ListPage {
        c,
        state: wanted.unwrap_or_default(),
        states,
        alerts,
        pager,
    }))
}

#[derive(Template)]
#[template(path = "alerts/detail.html")]
struct DetailPage {
    c: Ctx,
    alert: AlertLine,
    evidence: String,
    acked: Option<(String, String, String)>,
    closed: Option<(String, String)>,
    can_ack: bool,
    can_open_incident: bool,
}

/// `GET /alerts/{id}`: one alert with its evidence and who acknowledged or closed it.
pub async fn detail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Some(a) = state.store.alert_by_id(&id).await.map_err(fail("alert"))? else {
        return Err(AppError::NotFound);
    };
    let names = state.store.staff_list().await.map_err(fail("staff list"))?;
    let name_of = |id: &str| {
        names
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_owned(), |s| s.display_name.clone())
    };
    let evidence = serde_json::from_str::<serde_json::Value>(&a.evidence)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| a.evidence.clone());
    let acked = match (&a.acked_by, a.acked_at) {
        (Some(by), Some(at)) => Some((
            name_of(by),
            fmt_secs(at),
            a.ack_reason.clone().unwrap_or_default(),
        )),
        _ => None,
    };
    let closed = match (&a.closed_by, a.closed_at) {
        (Some(by), Some(at)) => Some((name_of(by), fmt_secs(at))),
        _ => None,
    };
    let can_ack = a.state == alert_state::OPEN && c.can(Permission::AlertsManage);
    let can_open_incident = c.can(Permission::IncidentsManage);
    Ok(render(&DetailPage {
        can_open_incident,
        alert: line(&c, &a),
        c,
        evidence,
        acked,
        closed,
        can_ack,
    }))
}

/// `POST /alerts/{id}/acknowledge` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckForm {
    /// Why (staff log).
    pub reason: String,
}

/// `POST /alerts/{id}/acknowledge`: an open alert becomes acknowledged with the reason given
/// (required); the staff log records it.
pub async fn acknowledge(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(form): SafeForm<AckForm>,
) -> Result<Response, AppError> {
    let to = format!("/alerts/{id}");
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => return Ok(back(&c, &to, Err(c.t(ja, en).to_owned()))),
    };
    let Some(a) = state.store.alert_by_id(&id).await.map_err(fail("alert"))? else {
        return Err(AppError::NotFound);
    };
    let done = state
        .store
        .alert_acknowledge(&id, c.staff_id(), &reason, state.now())
        .await
        .map_err(fail("alert acknowledge"))?;
    if !done {
        let msg = c.t(
            "このアラートは未対応ではないため、確認済みにできません。",
            "This alert is not open and cannot be acknowledged.",
        );
        return Ok(back(&c, &to, Err(msg.to_owned())));
    }
    stafflog::record(
        &state,
        &c,
        None,
        "alerts.acknowledge",
        &id,
        json!({ "kind": a.kind, "subject": a.subject, "reason": reason }),
    )
    .await?;
    Ok(back(
        &c,
        &to,
        Ok(c.t(
            "アラートを確認済みにしました。",
            "The alert was acknowledged.",
        )),
    ))
}
