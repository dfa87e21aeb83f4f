//! Staff management (owner only, with step-up): invite with a role (the one-time enrolment link
//! is shown once), a new link for someone still invited, change a role, disable and enable.
//! The rules (the last active owner stays, a disabled account cannot sign in) live in
//! `mamori-staff`; every change goes to the staff log.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mamori_staff::{state as account, Role};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth,
    ctx::{back, Ctx},
    fail, stafflog,
    state::{fmt_secs, BackofficeState},
};

/// A member of staff as listed.
#[derive(Clone)]
pub struct StaffLine {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Role code.
    pub role: String,
    /// Role label.
    pub role_label: &'static str,
    /// `invited`, `active`, `disabled`.
    pub state: String,
    /// State label.
    pub state_label: &'static str,
    /// Last sign-in.
    pub last_login: String,
    /// This is the viewer.
    pub me: bool,
}

/// A role choice.
#[derive(Debug, Clone)]
pub struct RoleOption {
    /// Code.
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
}

fn role_options(c: &Ctx) -> Vec<RoleOption> {
    Role::ALL
        .iter()
        .map(|r| RoleOption {
            code: r.as_str(),
            label: c.role_name(*r),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "staff/list.html")]
struct List {
    c: Ctx,
    staff: Vec<StaffLine>,
    roles: Vec<RoleOption>,
    link: Option<(String, String)>,
    problem: Option<String>,
}

async fn list_page(
    state: &BackofficeState,
    c: Ctx,
    link: Option<(String, String)>,
    problem: Option<String>,
) -> Result<Response, AppError> {
    let me = c.staff_id().to_owned();
    let staff = state
        .auth
        .list()
        .await
        .map_err(fail("staff list"))?
        .into_iter()
        .map(|s| {
            let role = Role::parse(&s.role);
            StaffLine {
                me: s.id == me,
                role_label: role.map_or("-", |r| c.role_name(r)),
                state_label: match s.state.as_str() {
                    account::ACTIVE => c.t("有効", "Active"),
                    account::INVITED => c.t("招待中", "Invited"),
                    account::DISABLED => c.t("無効", "Disabled"),
                    _ => "-",
                },
                last_login: s.last_login_at.map_or_else(|| "-".to_owned(), fmt_secs),
                id: s.id,
                name: s.display_name,
                email: s.email,
                role: s.role,
                state: s.state,
            }
        })
        .collect();
    let roles = role_options(&c);
    Ok((
        PagePolicy::new().private(),
        render(&List {
            c,
            staff,
            roles,
            link,
            problem,
        }),
    )
        .into_response())
}

/// `GET /staff`.
pub async fn list(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    list_page(&state, c, None, None).await
}

/// `POST /staff/invite` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteForm {
    /// Work email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Role code.
    pub role: String,
}

/// `POST /staff/invite` (step-up): the enrolment link is shown on this response only.
pub async fn invite(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<InviteForm>,
) -> Result<Response, AppError> {
    let Some(role) = Role::parse(&f.role) else {
        let msg = c
            .t("役割を選んでください。", "Please choose a role.")
            .to_owned();
        return list_page(&state, c, None, Some(msg)).await;
    };
    match state
        .auth
        .invite(role, &f.email, &f.display_name, Some(c.staff_id()))
        .await
    {
        Ok((row, token)) => {
            stafflog::record(
                &state,
                &c,
                None,
                "staff.invite",
                &row.id,
                json!({ "role": role.as_str() }),
            )
            .await?;
            let link = state.config.enrol_link(&token);
            let until = fmt_secs(token.expires_at);
            list_page(&state, c, Some((link, until)), None).await
        }
        Err(e) => {
            let msg = auth::staff_error(&c, &e);
            list_page(&state, c, None, Some(msg)).await
        }
    }
}

/// `POST /staff/{id}/link` (step-up): a new enrolment link for someone still invited.
pub async fn reissue(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match state.auth.reissue_enrolment(&id, Some(c.staff_id())).await {
        Ok(token) => {
            stafflog::record(&state, &c, None, "staff.link", &id, json!({})).await?;
            let link = state.config.enrol_link(&token);
            let until = fmt_secs(token.expires_at);
            list_page(&state, c, Some((link, until)), None).await
        }
        Err(e) => {
            let msg = auth::staff_error(&c, &e);
            list_page(&state, c, None, Some(msg)).await
        }
    }
}

/// `POST /staff/{id}/role` form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleForm {
    /// Role code.
    pub role: String,
}

/// `POST /staff/{id}/role` (step-up).
pub async fn change_role(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(f): SafeForm<RoleForm>,
) -> Result<Response, AppError> {
    let Some(role) = Role::parse(&f.role) else {
        return Ok(back(
            &c,
            "/staff",
            Err(c
                .t(
                    "役割を選んでください。何も変更していません。",
                    "Please choose a role. Nothing was changed.",
                )
                .to_owned()),
        ));
    };
    let before = state.auth.staff(&id).await.map_err(fail("staff"))?;
    match state.auth.change_role(c.staff_id(), &id, role).await {
        Ok(row) => {
            let from = before.map(|b| b.role).unwrap_or_default();
            stafflog::record(
                &state,
                &c,
                None,
                "staff.role",
                &row.id,
                json!({ "from": from, "to": role.as_str() }),
            )
            .await?;
            Ok(back(
                &c,
                "/staff",
                Ok(c.t("役割を変更しました。", "The role was changed.")),
            ))
        }
        Err(e) => Ok(back(&c, "/staff", Err(auth::staff_error(&c, &e)))),
    }
}

/// `POST /staff/{id}/disable` (step-up): the account's open sessions end at their next request.
pub async fn disable(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match state.auth.disable(c.staff_id(), &id).await {
        Ok(row) => {
            stafflog::record(&state, &c, None, "staff.disable", &row.id, json!({})).await?;
            Ok(back(
                &c,
                "/staff",
                Ok(c.t("アカウントを無効にしました。", "The account was disabled.")),
            ))
        }
        Err(e) => Ok(back(&c, "/staff", Err(auth::staff_error(&c, &e)))),
    }
}

/// `POST /staff/{id}/enable` (step-up).
pub async fn enable(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match state.auth.enable(c.staff_id(), &id).await {
        Ok(row) => {
            // Enabling is the owner's lift of a stop by the read budget too: reads are allowed
            // again with a fresh count (recorded in the ledger).
            let key = mamori_store::gateway::principal_key(&mamori_store::Principal::Staff(
                row.id.clone(),
            ));
            state
                .gateway
                .lift_read_stop(&c.accessor("staff.enable").because("account enabled"), &key)
                .await
                .map_err(fail("read stop"))?;
            stafflog::record(
                &state,
                &c,
                None,
                "staff.enable",
                &row.id,
                json!({ "state": row.state }),
            )
            .await?;
            Ok(back(
                &c,
                "/staff",
                Ok(c.t("アカウントを有効にしました。", "The account was enabled.")),
            ))
        }
        Err(e) => Ok(back(&c, "/staff", Err(auth::staff_error(&c, &e)))),
    }
}
