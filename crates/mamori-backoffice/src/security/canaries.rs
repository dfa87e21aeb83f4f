//! The canary customers' page: which customers are canaries and when they were planted (ids and
//! times only, and only to owners: whoever knows them could avoid them), planting more (owners,
//! a fresh second factor and a reason, as `mamori guard canary plant N`), and the mail received
//! for the canary domain (kind, time, how many canaries, the sender's domain; opening one is a
//! recorded read through `Gateway::canary_mail_open`, with a reason).
//!
//! The page never opens a canary: any plaintext read of one raises `canary.read`.

use std::sync::Arc;

use askama::Template;
use axum::response::IntoResponse as _;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use mamori_guard::canary::{plant, PLANT_PURPOSE};
use mamori_staff::Permission;
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::{back, Ctx},
    fail,
    forms::{check_reason, offset, PageQuery, Pager, PAGE_SIZE},
    stafflog,
    state::{fmt_secs, BackofficeState},
};

/// Most canaries planted in one request.
pub const PLANT_MAX: u64 = 50;
/// Most bytes of a message shown when it is opened.
pub const SHOW_MAX_BYTES: usize = 64 * 1024;
/// The purpose an opened canary mail is recorded under.
pub const OPEN_PURPOSE: &str = "guard.canary_mail.open";

/// A planted canary as listed.
#[derive(Clone, Debug)]
pub struct CanaryLine {
    /// Customer id (owners only; empty otherwise).
    pub id: String,
    /// When it was planted (JST).
    pub planted: String,
}

/// A received message as listed.
#[derive(Clone, Debug)]
pub struct MailLine {
    /// Row id.
    pub id: String,
    /// `canary` or `other`.
    pub kind: String,
    /// Received (JST).
    pub received: String,
    /// Canaries among its recipients.
    pub canaries: usize,
    /// The `From:` header's domain.
    pub from_domain: String,
    /// Size in bytes.
    pub size: i64,
}

#[derive(Template)]
#[template(path = "security/canaries.html")]
struct CanariesPage {
    c: Ctx,
    count: usize,
    canaries: Vec<CanaryLine>,
    show_ids: bool,
    domain: String,
    mails: Vec<MailLine>,
    pager: Pager,
    plant_max: u64,
}

/// `GET /canaries`: the canaries (ids to owners), the planting form (owners), the mail.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let show_ids = c.can(Permission::CanariesManage);
    let planted = state
        .gateway
        .canaries_planted()
        .await
        .map_err(fail("canaries"))?;
    let count = planted.len();
    let canaries = planted
        .into_iter()
        .rev()
        .map(|(id, at)| CanaryLine {
            id: if show_ids { id } else { String::new() },
            planted: fmt_secs(at),
        })
        .collect();
    if show_ids && count > 0 {
        // Who saw which customers are canaries is worth knowing later.
        stafflog::record(
            &state,
            &c,
            None,
            "canary.list",
            "canaries",
            json!({ "count": count }),
        )
        .await?;
    }
    let (heads, total) = state
        .gateway
        .canary_mail_heads(offset(q.page), PAGE_SIZE)
        .await
        .map_err(fail("canary mail"))?;
    let mails = heads
        .into_iter()
        .map(|h| MailLine {
            id: h.id,
            kind: h.kind,
            received: fmt_secs(h.received_at),
            canaries: h.canaries,
            from_domain: h.from_domain.unwrap_or_else(|| "-".to_owned()),
            size: h.size,
        })
        .collect();
    let page = CanariesPage {
        domain: state.config.canary_domain.clone().unwrap_or_default(),
        pager: Pager::new(q.page, total, String::new()),
        c,
        count,
        canaries,
        show_ids,
        mails,
        plant_max: PLANT_MAX,
    };
    Ok((PagePolicy::new().private(), render(&page)).into_response())
}

/// `POST /canaries` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantForm {
    /// How many.
    pub count: String,
    /// Why (staff log and ledger).
    pub reason: String,
}

/// `POST /canaries` (owners, step-up): plants `count` canaries at the canary domain, as this
/// member of staff with the reason (each write on the ledger), and logs it.
pub async fn plant_more(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(form): SafeForm<PlantForm>,
) -> Result<Response, AppError> {
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => return Ok(back(&c, "/canaries", Err(c.t(ja, en).to_owned()))),
    };
    let Some(count) = form
        .count
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=PLANT_MAX).contains(n))
    else {
        let msg = c.t(
            "植え込む数は1から50の数で入力してください。",
            "Please give a number from 1 to 50.",
        );
        return Ok(back(&c, "/canaries", Err(msg.to_owned())));
    };
    let Some(domain) = state.config.canary_domain.clone() else {
        let msg = c.t(
            "カナリア用のメールドメイン（guard.canary_domain）が設定されていません。",
            "No canary mail domain (guard.canary_domain) is configured.",
        );
        return Ok(back(&c, "/canaries", Err(msg.to_owned())));
    };
    let acc = c.accessor(PLANT_PURPOSE).because(&reason).via("backoffice");
    let ids = match plant(&state.gateway, &acc, count, &domain, rand::random()).await {
        Ok(ids) => ids,
        Err(mamori_guard::GuardError::Invalid(why)) => {
            return Ok(back(&c, "/canaries", Err(why.to_owned())))
        }
        Err(e) => return Err(fail("canary plant")(e)),
    };
    stafflog::record(
        &state,
        &c,
        None,
        "canary.plant",
        "canaries",
        json!({ "count": ids.len(), "reason": reason }),
    )
    .await?;
    Ok(back(
        &c,
        "/canaries",
        Ok(c.t(
            "カナリア顧客を植え込みました。",
            "The canary customers are planted.",
        )),
    ))
}

/// `POST /canaries/mail/{id}/open` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenForm {
    /// Why (ledger and staff log).
    pub reason: String,
}

#[derive(Template)]
#[template(path = "security/canary_mail.html")]
struct MailPage {
    c: Ctx,
    id: String,
    received: String,
    canaries: Vec<String>,
    sha256: String,
    text: String,
    cut: bool,
}

/// `POST /canaries/mail/{id}/open` (owners, step-up, a reason): the message as received,
/// recorded on the ledger as a read of the canaries it went to.
pub async fn open_mail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(form): SafeForm<OpenForm>,
) -> Result<Response, AppError> {
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => return Ok(back(&c, "/canaries", Err(c.t(ja, en).to_owned()))),
    };
    let acc = c.accessor(OPEN_PURPOSE).because(&reason);
    let opened = match state.gateway.canary_mail_open(&acc, &id).await {
        Ok(o) => o,
        Err(mamori_store::StoreError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(e) => return Err(fail("canary mail open")(e)),
    };
    stafflog::record(
        &state,
        &c,
        None,
        "canary.mail_open",
        &id,
        json!({ "reason": reason }),
    )
    .await?;
    let cut = opened.raw.len() > SHOW_MAX_BYTES;
    let text =
        String::from_utf8_lossy(&opened.raw[..opened.raw.len().min(SHOW_MAX_BYTES)]).into_owned();
    let page = MailPage {
        c,
        id,
        received: fmt_secs(opened.row.received_at),
        canaries: opened.canaries.clone(),
        sha256: opened.row.sha256.clone(),
        text,
        cut,
    };
    Ok((PagePolicy::new().private(), render(&page)).into_response())
}
