//! The script inventory (PCI DSS 6.4.3): every script a page of the shop, the back office or the
//! provider's card page may run, with its digest, its pages and why it is there; the storefront's
//! CSP is built from the shop's entries (`mamori_guard::inventory`). Read with the alerts'
//! permission; added, changed or retired by an owner with a fresh second factor and a reason
//! (staff log and ledger), over the version the owner saw.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Query, State},
    response::Response,
};
use mamori_guard::{inventory::ScriptEntry, GuardError};
use mamori_staff::Permission;
use mamori_store::{script_site, script_state, ScriptRow};
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
    stafflog,
    state::{fmt_secs, BackofficeState},
};

/// One entry as the list shows it.
#[derive(Clone, Debug)]
pub struct ScriptLine {
    /// URL (the entry's key).
    pub url: String,
    /// Site label.
    pub site: &'static str,
    /// Site code.
    pub site_code: String,
    /// `sha384-…`.
    pub sha384: String,
    /// Page patterns.
    pub pages: String,
    /// Justification.
    pub justification: String,
    /// Active?
    pub active: bool,
    /// Version.
    pub version: i64,
    /// Who made this version.
    pub changed_by: String,
    /// Why.
    pub reason: String,
    /// When (JST).
    pub changed_at: String,
}

fn site_label(c: &Ctx, site: &str) -> &'static str {
    match site {
        script_site::SHOP => c.t("ショップ", "Shop"),
        script_site::BACKOFFICE => c.t("管理画面", "Back office"),
        script_site::PROVIDER => c.t("決済代行会社のカード入力ページ", "Provider's card page"),
        _ => "-",
    }
}

fn line(c: &Ctx, r: &ScriptRow) -> ScriptLine {
    ScriptLine {
        url: r.url.clone(),
        site: site_label(c, &r.site),
        site_code: r.site.clone(),
        sha384: format!("sha384-{}", r.sha384),
        pages: r.pages.clone(),
        justification: r.justification.clone(),
        active: r.state == script_state::ACTIVE,
        version: r.version,
        changed_by: r.changed_by.clone(),
        reason: r.reason.clone(),
        changed_at: fmt_secs(r.changed_at),
    }
}

/// `GET /scripts?history=URL&edit=URL`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Show this entry's versions.
    pub history: Option<String>,
    /// Prefill the form with this entry.
    pub edit: Option<String>,
}

#[derive(Template)]
#[template(path = "scripts.html")]
struct ListPage {
    c: Ctx,
    scripts: Vec<ScriptLine>,
    history_of: Option<String>,
    history: Vec<ScriptLine>,
    can_change: bool,
    editable: bool,
    edit: Option<ScriptLine>,
}

/// `GET /scripts`: the inventory, an entry's history, and (for owners) the change form.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let rows = state
        .store
        .scripts_list()
        .await
        .map_err(fail("script inventory"))?;
    let scripts: Vec<ScriptLine> = rows.iter().map(|r| line(&c, r)).collect();
    let history = match &q.history {
        Some(url) => state
            .store
            .script_history(url)
            .await
            .map_err(fail("script history"))?
            .iter()
            .map(|r| line(&c, r))
            .collect(),
        None => Vec::new(),
    };
    let edit = q
        .edit
        .as_ref()
        .and_then(|u| scripts.iter().find(|s| &s.url == u).cloned());
    Ok(render(&ListPage {
        can_change: c.can(Permission::GuardApprove),
        editable: state.scripts.get().is_some(),
        c,
        scripts,
        history_of: q.history,
        history,
        edit,
    }))
}

/// `POST /scripts` form: a new entry (`version` empty) or the next version of one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeForm {
    /// Where the script is loaded from.
    pub url: String,
    /// [`script_site`].
    pub site: String,
    /// `sha384-…`.
    pub sha384: String,
    /// Page patterns, space-separated.
    pub pages: String,
    /// Why the pages need it.
    pub justification: String,
    /// The version the owner saw (empty for a new entry).
    #[serde(default)]
    pub version: String,
    /// `on` to retire the entry.
    #[serde(default)]
    pub retire: Option<String>,
    /// Why (staff log and ledger).
    pub reason: String,
}

fn refusal(c: &Ctx, err: &GuardError) -> String {
    match err {
        GuardError::Invalid(what) => format!(
            "{}: {what}",
            c.t("入力内容を確認してください", "Please check the entry")
        ),
        _ => c
            .t(
                "保存できませんでした。時間をおいて再度お試しください。",
                "Could not be saved; please try again later.",
            )
            .to_owned(),
    }
}

/// `POST /scripts` (owner, step-up): adds, changes or retires an entry; the storefront's CSP
/// follows at once on this process and within seconds on the others.
pub async fn change(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(form): SafeForm<ChangeForm>,
) -> Result<Response, AppError> {
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => return Ok(back(&c, "/scripts", Err(c.t(ja, en).to_owned()))),
    };
    let Some(inventory) = state.scripts.get().cloned() else {
        let msg = c.t(
            "スクリプト一覧は読み込まれていないため、変更できません。",
            "The script inventory is not loaded; it cannot be changed.",
        );
        return Ok(back(&c, "/scripts", Err(msg.to_owned())));
    };
    let entry = match ScriptEntry::parse(
        &form.url,
        &form.site,
        &form.sha384,
        &form.pages,
        &form.justification,
    ) {
        Ok(e) => e,
        Err(err) => return Ok(back(&c, "/scripts", Err(refusal(&c, &err)))),
    };
    let expected = match form.version.trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let msg = c.t("版の指定が不正です。", "The version is not a number.");
                return Ok(back(&c, "/scripts", Err(msg.to_owned())));
            }
        },
    };
    let retire = form.retire.is_some();
    let row = match inventory
        .change(
            c.staff_id(),
            &entry,
            retire,
            expected,
            &reason,
            &c.request_id,
        )
        .await
    {
        Ok(row) => row,
        Err(err @ GuardError::Invalid(_)) => {
            return Ok(back(&c, "/scripts", Err(refusal(&c, &err))))
        }
        Err(err) => return Err(fail("script inventory change")(err)),
    };
    stafflog::record(
        &state,
        &c,
        None,
        "scripts.change",
        &row.url,
        json!({
            "reason": reason,
            "site": row.site,
            "sha384": row.sha384,
            "pages": row.pages,
            "state": row.state,
            "version": row.version,
        }),
    )
    .await?;
    Ok(back(
        &c,
        "/scripts",
        Ok(c.t(
            "スクリプト一覧を更新しました。ショップのCSPに反映されます。",
            "The script inventory is updated; the shop's CSP follows it.",
        )),
    ))
}
