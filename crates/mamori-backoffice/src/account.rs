//! The member of staff's own account: password, passkeys, authenticator app, recovery codes.
//! Every change needs a fresh second factor (the routes are step-up routes) and goes to the
//! staff log; the last second factor of an account cannot be removed.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    Json,
};
use mamori_staff::RegisterPublicKeyCredential;
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth::{self, codes_page, totp_done, totp_setup, BeginBody, CodeForm, TotpShown},
    ctx::{back, keys, Ctx},
    fail, stafflog,
    state::{fmt_secs, BackofficeState},
};

/// A passkey as listed.
#[derive(Debug, Clone)]
pub struct PasskeyLine {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Registered.
    pub created: String,
    /// Last used.
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "account/show.html")]
struct Show {
    c: Ctx,
    email: String,
    passkeys: Vec<PasskeyLine>,
    totp: bool,
    recovery_remaining: i64,
}

/// `GET /account`.
pub async fn show(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    let factors = state.auth.factors(&id).await.map_err(fail("factors"))?;
    let passkeys = state
        .auth
        .passkeys(&id)
        .await
        .map_err(fail("passkeys"))?
        .into_iter()
        .map(|p| PasskeyLine {
            id: p.id,
            label: p.label,
            created: fmt_secs(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "-".to_owned(), fmt_secs),
        })
        .collect();
    let email = c
        .staff
        .as_ref()
        .map(|s| s.email.clone())
        .unwrap_or_default();
    Ok((
        PagePolicy::new().private(),
        render(&Show {
            c,
            email,
            passkeys,
            totp: factors.totp,
            recovery_remaining: factors.recovery_remaining,
        }),
    )
        .into_response())
}

/// `POST /account/password` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    /// Current password.
    pub current: String,
    /// New password.
    pub password: String,
    /// New password again.
    pub password2: String,
}

/// `POST /account/password` (step-up).
pub async fn password(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<PasswordForm>,
) -> Result<Response, AppError> {
    if f.password != f.password2 {
        return Ok(back(
            &c,
            "/account",
            Err(c
                .t(
                    "確認用のパスワードが一致しません。何も変更していません。",
                    "The new passwords do not match. Nothing was changed.",
                )
                .to_owned()),
        ));
    }
    let r = state
        .auth
        .change_password(
            c.staff_id(),
            &SecretString::from(f.current),
            &SecretString::from(f.password),
        )
        .await;
    match r {
        Ok(()) => {
            stafflog::record(
                &state,
                &c,
                None,
                "account.password",
                c.staff_id(),
                json!({}),
            )
            .await?;
            Ok(back(
                &c,
                "/account",
                Ok(c.t("パスワードを変更しました。", "Your password was changed.")),
            ))
        }
        Err(e) => Ok(back(&c, "/account", Err(auth::staff_error(&c, &e)))),
    }
}

#[derive(Template)]
#[template(path = "account/passkey.html")]
struct PasskeyPage {
    c: Ctx,
}

/// `GET /account/passkeys/new` (step-up).
pub async fn passkey_form(c: Ctx) -> Response {
    (PagePolicy::new().private(), render(&PasskeyPage { c })).into_response()
}

/// `POST /account/passkeys/begin` (step-up).
pub async fn passkey_begin(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    body: Option<Json<BeginBody>>,
) -> Response {
    let id = c.staff_id().to_owned();
    auth::register_begin_for(&state, &c, &id, body.map(|b| b.0).unwrap_or_default()).await
}

/// `POST /account/passkeys/finish` (step-up).
pub async fn passkey_finish(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Json(cred): Json<RegisterPublicKeyCredential>,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    match auth::register_finish(&state, &c, &id, &cred).await {
        Ok(passkey) => {
            stafflog::record(
                &state,
                &c,
                None,
                "account.passkey_add",
                &id,
                json!({ "passkey": passkey }),
            )
            .await?;
            c.flash_next(c.t("パスキーを登録しました。", "The passkey was added."));
            Ok(auth::json_ok(
                serde_json::json!({ "ok": true, "redirect": "/account" }),
            ))
        }
        Err(msg) => Ok(auth::json_fail(msg)),
    }
}

/// `POST /account/passkeys/{id}/delete` (step-up).
pub async fn passkey_delete(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(passkey): Path<String>,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    match state.auth.passkey_delete(&id, &passkey).await {
        Ok(true) => {
            stafflog::record(
                &state,
                &c,
                None,
                "account.passkey_remove",
                &id,
                json!({ "passkey": passkey }),
            )
            .await?;
            Ok(back(
                &c,
                "/account",
                Ok(c.t("パスキーを削除しました。", "The passkey was removed.")),
            ))
        }
        Ok(false) => Ok(back(
            &c,
            "/account",
            Err(c
                .t(
                    "パスキーが見つかりません。何も変更していません。",
                    "Passkey not found. Nothing was changed.",
                )
                .to_owned()),
        )),
        Err(e) => Ok(back(&c, "/account", Err(auth::staff_error(&c, &e)))),
    }
}

#[derive(Template)]
#[template(path = "account/totp.html")]
struct TotpPage {
    c: Ctx,
    totp: TotpShown,
}

/// `GET /account/totp` (step-up): a new authenticator app (replaces the old one once confirmed).
pub async fn totp_form(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    let totp = totp_setup(&state, &c, &id).await?;
    Ok((PagePolicy::new().private(), render(&TotpPage { c, totp })).into_response())
}

/// `POST /account/totp` (step-up): confirms the new app with a code.
pub async fn totp_confirm(
    State(state): State<Arc<BackofficeState>>,
    mut c: Ctx,
    SafeForm(f): SafeForm<CodeForm>,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    let Some(pending) = c.session.get::<String>(keys::TOTP_SETUP) else {
        return Ok(Redirect::to("/account/totp").into_response());
    };
    match state
        .auth
        .totp_confirm(&id, &pending, &SecretString::from(f.code))
        .await
    {
        Ok(()) => {
            totp_done(&c);
            stafflog::record(&state, &c, None, "account.totp_set", &id, json!({})).await?;
            Ok(back(
                &c,
                "/account",
                Ok(c.t(
                    "認証アプリを登録しました。",
                    "The authenticator app was added.",
                )),
            ))
        }
        Err(e) => {
            c.error = Some(auth::staff_error(&c, &e));
            let totp = totp_setup(&state, &c, &id).await?;
            Ok((PagePolicy::new().private(), render(&TotpPage { c, totp })).into_response())
        }
    }
}

/// `POST /account/totp/delete` (step-up).
pub async fn totp_delete(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    match state.auth.totp_remove(&id).await {
        Ok(()) => {
            stafflog::record(&state, &c, None, "account.totp_remove", &id, json!({})).await?;
            Ok(back(
                &c,
                "/account",
                Ok(c.t(
                    "認証アプリの登録を削除しました。",
                    "The authenticator app was removed.",
                )),
            ))
        }
        Err(e) => Ok(back(&c, "/account", Err(auth::staff_error(&c, &e)))),
    }
}

/// `POST /account/recovery` (step-up): ten new codes, shown once on this response.
pub async fn recovery(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let id = c.staff_id().to_owned();
    let codes = state
        .auth
        .regenerate_recovery_codes(&id)
        .await
        .map_err(fail("recovery codes"))?;
    stafflog::record(&state, &c, None, "account.recovery_codes", &id, json!({})).await?;
    let shown = codes
        .codes
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect();
    Ok(codes_page(c, shown, false))
}
