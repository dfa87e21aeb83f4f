//! An incident's inquiry desk in the back office: what people sent from the storefront's form
//! under the incident's public notice (`mamori-shop` `inquiry`).
//!
//! | route | what it does | access |
//! |---|---|---|
//! | `GET /inquiries` | every incident with inquiries, how many and how many are open (the menu's entry: support reads no incident page) | `customers_view` |
//! | `GET /incidents/{id}/inquiries` | the list: 受付番号, time, status, whether the sender matches a person of the incident's latest scope (by blind index: nothing opened, nothing recorded) | `customers_view` (owner, manager, support) |
//! | `GET /incidents/{id}/inquiries/{inquiry}` | opens one inquiry's values: a ledger `Read` by the member of staff (purpose `incident.inquiry`) before decrypting; `no-store`; the reveal limit | `customers_reveal` (owner, manager, support) |
//! | `POST /incidents/{id}/inquiries/{inquiry}/answered` | marks it answered (staff log) | `customers_reveal` |
//!
//! The roles are the customer pages' own: those who may read customers masked see the list,
//! those who may reveal a customer's value open an inquiry. An auditor (incidents, the ledger)
//! does neither: an inquiry is a person's own words and contact details.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};
use http::{header, HeaderValue};
use mamori_staff::Permission;
use mamori_store::{gateway::InquiryHead, StoreError};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::{back, Ctx},
    fail, stafflog,
    state::{fmt_secs, BackofficeState},
};

/// The ledger purpose of opening an inquiry.
pub const PURPOSE: &str = "incident.inquiry";

/// One inquiry in the list.
#[derive(Clone, Debug)]
pub struct InquiryLine {
    /// Row id (the detail page's path).
    pub id: String,
    /// 受付番号.
    pub reception: String,
    /// When (JST).
    pub received_at: String,
    /// `open` or `answered`.
    pub status: String,
    /// Sent by a signed-in member.
    pub member: bool,
    /// The sender matches a person of the latest scope.
    pub in_scope: bool,
}

impl From<InquiryHead> for InquiryLine {
    fn from(h: InquiryHead) -> Self {
        Self {
            id: h.id,
            reception: h.reception,
            received_at: fmt_secs(h.received_at),
            status: h.status,
            member: h.member,
            in_scope: h.in_scope,
        }
    }
}

/// One incident with inquiries.
#[derive(Clone, Debug)]
pub struct DeskLine {
    /// The incident.
    pub id: i64,
    /// Its title (staff's words).
    pub title: String,
    /// How many inquiries.
    pub total: i64,
    /// How many are open.
    pub open: i64,
}

#[derive(Template)]
#[template(path = "incidents/inquiry_desks.html")]
struct DesksPage {
    c: Ctx,
    desks: Vec<DeskLine>,
}

/// `GET /inquiries`: every incident with inquiries, with its counts.
pub async fn desks(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let counts = state
        .gateway
        .inquiry_counts()
        .await
        .map_err(fail("inquiry counts"))?;
    let mut desks = Vec::with_capacity(counts.len());
    for (id, total, open) in counts {
        let title = state
            .store
            .incident_by_id(id)
            .await
            .map_err(fail("incident"))?
            .map(|r| r.title)
            .unwrap_or_default();
        desks.push(DeskLine {
            id,
            title,
            total,
            open,
        });
    }
    Ok(render(&DesksPage { c, desks }))
}

#[derive(Template)]
#[template(path = "incidents/inquiries.html")]
struct ListPage {
    c: Ctx,
    id: i64,
    /// May open the incident's own page (`incidents_view`); support may not.
    can_incident: bool,
    lines: Vec<InquiryLine>,
    open: usize,
}

#[derive(Template)]
#[template(path = "incidents/inquiry.html")]
struct DetailPage {
    c: Ctx,
    id: i64,
    line: InquiryLine,
    answered: String,
    name: String,
    email: String,
    phone: String,
    message: Vec<String>,
}

async fn incident_exists(state: &BackofficeState, id: i64) -> Result<(), AppError> {
    state
        .store
        .incident_by_id(id)
        .await
        .map_err(fail("incident"))?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

fn inquiry_id(raw: &str) -> Result<(), AppError> {
    uuid::Uuid::parse_str(raw)
        .map(|_| ())
        .map_err(|_| AppError::NotFound)
}

/// `GET /incidents/{id}/inquiries`.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    incident_exists(&state, id).await?;
    let lines: Vec<InquiryLine> = state
        .gateway
        .inquiry_heads(id)
        .await
        .map_err(fail("inquiries"))?
        .into_iter()
        .map(InquiryLine::from)
        .collect();
    let open = lines.iter().filter(|l| l.status == "open").count();
    let can_incident = c.can(Permission::IncidentsView);
    Ok(render(&ListPage {
        c,
        id,
        can_incident,
        lines,
        open,
    }))
}

/// `GET /incidents/{id}/inquiries/{inquiry}`: opens the values on the ledger.
pub async fn detail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path((id, inquiry)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    inquiry_id(&inquiry)?;
    let acc = c.accessor(PURPOSE);
    let opened = match state.gateway.inquiry_open(&acc, id, &inquiry).await {
        Ok(o) => o,
        Err(StoreError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(e) => return Err(fail("inquiry open")(e)),
    };
    stafflog::record(
        &state,
        &c,
        None,
        "incidents.inquiry.open",
        &inquiry,
        json!({ "incident": id }),
    )
    .await?;
    let answered = opened
        .answered
        .as_ref()
        .map(|(at, by)| format!("{} ({by})", fmt_secs(*at)))
        .unwrap_or_default();
    let message = opened.message.expose().lines().map(str::to_owned).collect();
    let mut res = render(&DetailPage {
        c,
        id,
        answered,
        name: opened.name.expose().clone(),
        email: opened.email.expose().clone(),
        phone: opened
            .phone
            .as_ref()
            .map(|p| p.expose().clone())
            .unwrap_or_default(),
        message,
        line: InquiryLine::from(opened.head),
    });
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `POST /incidents/{id}/inquiries/{inquiry}/answered` form (the CSRF token only).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnsweredForm {}

/// `POST /incidents/{id}/inquiries/{inquiry}/answered`.
pub async fn answered(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path((id, inquiry)): Path<(i64, String)>,
    SafeForm(_form): SafeForm<AnsweredForm>,
) -> Result<Response, AppError> {
    inquiry_id(&inquiry)?;
    let by = format!("staff:{}", c.staff_id());
    let done = match state
        .gateway
        .inquiry_mark_answered(id, &inquiry, state.now(), &by)
        .await
    {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(e) => return Err(fail("inquiry answered")(e)),
    };
    let to = format!("/incidents/{id}/inquiries");
    if !done {
        return Ok(back(
            &c,
            &to,
            Err(c
                .t("すでに対応済みです。", "It was marked answered already.")
                .to_owned()),
        ));
    }
    stafflog::record(
        &state,
        &c,
        None,
        "incidents.inquiry.answered",
        &inquiry,
        json!({ "incident": id }),
    )
    .await?;
    Ok(back(
        &c,
        &to,
        Ok(c.t("対応済みにしました。", "Marked answered.")),
    ))
}
