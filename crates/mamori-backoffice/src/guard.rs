//! The file guard's page: whether card payment is open, what on disk differs from the signed
//! baseline, and the owner's approval of the disk as the new baseline (fresh second factor and a
//! reason; staff log and ledger), which reopens card payment in the same call. Also the browser
//! monitor's latest observations of each page it walks (its history).

use std::sync::Arc;

use askama::Template;
use axum::{extract::State, response::Response};
use mamori_staff::Permission;
use mamori_store::switch_state;
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::{back, Ctx},
    fail,
    forms::check_reason,
    labels, stafflog,
    state::{fmt_secs, BackofficeState},
};

/// One difference as shown.
#[derive(Clone, Debug)]
pub struct FindingLine {
    /// Kind label.
    pub kind: String,
    /// The file.
    pub path: String,
    /// Whether it touches payment.
    pub payment: bool,
}

/// How many of a page's latest observations the page lists.
const HISTORY_SHOWN: i64 = 10;

/// One observation of the browser monitor's history as shown.
#[derive(Clone, Debug)]
pub struct SeenLine {
    /// When.
    pub at: String,
    /// How many scripts ran.
    pub scripts: usize,
    /// The first 12 hex digits of the SHA-256 of the recorded security headers (JSON), `-` when
    /// not recorded.
    pub headers: String,
    /// The document's origin after redirects, `-` when not recorded.
    pub final_origin: String,
}

/// A page the browser monitor walks and its latest observations, newest first.
#[derive(Clone, Debug)]
pub struct PageHistory {
    /// The page's name (a route, or the provider's page pattern).
    pub page: String,
    /// Its latest observations.
    pub seen: Vec<SeenLine>,
}

fn seen_line(row: &mamori_store::ObservationRow) -> SeenLine {
    use sha2::Digest as _;
    let scripts = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&row.scripts)
        .map_or(0, |m| m.len());
    let headers = row.headers.as_deref().map_or_else(
        || "-".to_owned(),
        |h| hex::encode(sha2::Sha256::digest(h.as_bytes()))[..12].to_owned(),
    );
    SeenLine {
        at: fmt_secs(row.observed_at),
        scripts,
        headers,
        final_origin: row.final_origin.clone().unwrap_or_else(|| "-".to_owned()),
    }
}

/// Each page with a known-good observation and its latest [`HISTORY_SHOWN`] observations.
async fn monitor_history(state: &BackofficeState) -> Result<Vec<PageHistory>, AppError> {
    let mut pages: Vec<String> = state
        .store
        .observations_all()
        .await
        .map_err(fail("observations"))?
        .into_iter()
        .map(|o| o.page)
        .collect();
    pages.dedup();
    let mut out = Vec::with_capacity(pages.len());
    for page in pages {
        let seen = state
            .store
            .observation_history(&page, HISTORY_SHOWN)
            .await
            .map_err(fail("observation history"))?
            .iter()
            .map(seen_line)
            .collect();
        out.push(PageHistory { page, seen });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "guard.html")]
struct GuardPage {
    c: Ctx,
    watching: bool,
    card_closed: bool,
    switch_reason: String,
    switch_at: String,
    baseline_at: String,
    findings: Vec<FindingLine>,
    can_approve: bool,
    history: Vec<PageHistory>,
}

/// `GET /guard`: card payment's state, the baseline's date and the differences on disk now.
pub async fn show(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    let switch = state
        .store
        .guard_switch(mamori_store::store::alerts::CARD_PAYMENT)
        .await
        .map_err(fail("card payment switch"))?;
    let card_closed = switch
        .as_ref()
        .is_some_and(|s| s.state == switch_state::CLOSED);
    let (switch_reason, switch_at) = switch
        .map(|s| (labels::alert_kind(&c, &s.reason), fmt_secs(s.changed_at)))
        .unwrap_or_default();
    let guard = state.guard.get().cloned();
    let (baseline_at, findings) = match &guard {
        Some(g) => {
            let found = g.pending().await.map_err(fail("file check"))?;
            (
                fmt_secs(g.baseline().created_at),
                found
                    .into_iter()
                    .map(|f| FindingLine {
                        kind: labels::alert_kind(&c, f.kind),
                        path: f.path,
                        payment: f.payment,
                    })
                    .collect(),
            )
        }
        None => (String::new(), Vec::new()),
    };
    let can_approve = guard.is_some() && c.can(Permission::GuardApprove);
    let history = monitor_history(&state).await?;
    Ok(render(&GuardPage {
        c,
        watching: guard.is_some(),
        card_closed,
        switch_reason,
        switch_at,
        baseline_at,
        findings,
        can_approve,
        history,
    }))
}

/// `POST /guard/approve` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveForm {
    /// Why (staff log and ledger).
    pub reason: String,
}

/// `POST /guard/approve` (owner, step-up): the files as they are now become the signed
/// baseline, card payment reopens and the file alerts close, in one call; the staff log and
/// the ledger record it with the reason.
pub async fn approve(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(form): SafeForm<ApproveForm>,
) -> Result<Response, AppError> {
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => return Ok(back(&c, "/guard", Err(c.t(ja, en).to_owned()))),
    };
    let Some(guard) = state.guard.get().cloned() else {
        let msg = c.t(
            "ファイルの監視が動いていないため、承認できません。",
            "The file watch is not running; nothing to approve.",
        );
        return Ok(back(&c, "/guard", Err(msg.to_owned())));
    };
    let baseline = guard
        .approve(c.staff_id(), &reason, &c.request_id)
        .await
        .map_err(fail("baseline approval"))?;
    stafflog::record(
        &state,
        &c,
        None,
        "guard.approve",
        "card_payment",
        json!({ "reason": reason, "files": baseline.files.len() }),
    )
    .await?;
    Ok(back(
        &c,
        "/guard",
        Ok(c.t(
            "現在のファイルを新しい基準として承認し、カード決済を再開しました。",
            "The files as they are now are the new baseline; card payment is open again.",
        )),
    ))
}
