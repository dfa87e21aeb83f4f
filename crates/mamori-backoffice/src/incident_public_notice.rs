//! An incident's public notice (公表, お詫びとお知らせ) in the back office
//! (`mamori_respond::public_notice`): the versions saved (all kept), the one shown on the
//! storefront, a form prefilled with the latest version or with a draft made from the latest
//! scope (counts and kinds of items only), publication and unpublication. Saving, publishing and
//! unpublishing need `incidents_manage`, a step-up and a reason; each is on the timeline (and so
//! in the ledger) and in the staff log. Auditors read.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use mamori_respond::{Desk, PublicNoticeText, RespondError};
use mamori_staff::Permission;
use mamori_store::Principal;
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

fn desk(state: &BackofficeState) -> Desk {
    Desk::new(state.gateway.clone())
}

/// The storefront address of an incident's public notice.
pub fn public_url(state: &BackofficeState, id: i64) -> String {
    format!(
        "{}/oshirase/{id}",
        state.config.shop_url.trim_end_matches('/')
    )
}

/// One saved version in the list.
#[derive(Clone, Debug)]
pub struct VersionLine {
    /// Its number.
    pub version: i64,
    /// When (JST).
    pub saved_at: String,
    /// By whom.
    pub saved_by: String,
    /// Why.
    pub reason: String,
    /// SHA-256 of its texts.
    pub sha256: String,
}

#[derive(Template)]
#[template(path = "incidents/public_notice.html")]
struct PublicNoticePage {
    c: Ctx,
    id: i64,
    shown: Option<i64>,
    public_url: String,
    versions: Vec<VersionLine>,
    text: PublicNoticeText,
    from_draft: bool,
    can_manage: bool,
}

/// `GET /incidents/{id}/public-notice` query.
#[derive(Deserialize)]
pub struct ShowQuery {
    /// `1`: prefill the form with a new draft from the latest scope.
    #[serde(default)]
    pub draft: Option<String>,
}

/// `GET /incidents/{id}/public-notice`.
pub async fn show(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    if state
        .store
        .incident_by_id(id)
        .await
        .map_err(fail("incident"))?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let rows = state
        .store
        .public_notice_versions(id)
        .await
        .map_err(fail("public notice versions"))?;
    let shown = state
        .store
        .public_notice_state(id)
        .await
        .map_err(fail("public notice state"))?
        .and_then(|s| s.version);
    let can_manage = c.can(Permission::IncidentsManage);
    let latest = rows.last().filter(|_| q.draft.as_deref() != Some("1"));
    let (text, from_draft) = match latest {
        Some(v) => (
            PublicNoticeText {
                title_ja: v.title_ja.clone(),
                body_ja: v.body_ja.clone(),
                title_en: v.title_en.clone(),
                body_en: v.body_en.clone(),
            },
            false,
        ),
        None if can_manage => (
            desk(&state)
                .public_notice_draft(id)
                .await
                .map_err(fail("public notice draft"))?
                .text,
            true,
        ),
        None => (PublicNoticeText::default(), false),
    };
    let versions = rows
        .into_iter()
        .rev()
        .map(|v| VersionLine {
            version: v.version,
            saved_at: fmt_secs(v.saved_at),
            saved_by: v.saved_by,
            reason: v.reason,
            sha256: v.content_sha256,
        })
        .collect();
    Ok(render(&PublicNoticePage {
        public_url: public_url(&state, id),
        c,
        id,
        shown,
        versions,
        text,
        from_draft,
        can_manage,
    }))
}

/// `POST /incidents/{id}/public-notice` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveForm {
    /// Japanese title.
    pub title_ja: String,
    /// Japanese text.
    pub body_ja: String,
    /// English title.
    pub title_en: String,
    /// English text.
    pub body_en: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

fn refused(c: &Ctx, to: &str, why: &str) -> Response {
    back(
        c,
        to,
        Err(format!(
            "{} ({why})",
            c.t(
                "保存できませんでした。各欄と理由を入力してください。",
                "Not saved: every field and a reason are required."
            )
        )),
    )
}

/// `POST /incidents/{id}/public-notice` (step-up): saves a new version.
pub async fn save(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<SaveForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}/public-notice");
    let text = PublicNoticeText {
        title_ja: form.title_ja,
        body_ja: form.body_ja,
        title_en: form.title_en,
        body_en: form.body_en,
    };
    let by = Principal::Staff(c.staff_id().to_owned());
    match desk(&state)
        .public_notice_save(id, &by, &text, &form.reason)
        .await
    {
        Ok(version) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.public_notice_save",
                &id.to_string(),
                json!({ "version": version, "reason": form.reason.trim() }),
            )
            .await?;
            Ok(back(
                &c,
                &to,
                Ok(c.t("新しい版を保存しました。", "A new version was saved.")),
            ))
        }
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(RespondError::Invalid(why)) => Ok(refused(&c, &to, why)),
        Err(e) => Err(fail("public notice save")(e)),
    }
}

/// `POST /incidents/{id}/public-notice/publish` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishForm {
    /// The version to show.
    pub version: i64,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// `POST /incidents/{id}/public-notice/publish` (step-up): shows a version on the storefront.
pub async fn publish(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<PublishForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}/public-notice");
    let by = Principal::Staff(c.staff_id().to_owned());
    match desk(&state)
        .public_notice_publish(id, &by, form.version, &form.reason)
        .await
    {
        Ok(()) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.public_notice_publish",
                &id.to_string(),
                json!({ "version": form.version, "reason": form.reason.trim() }),
            )
            .await?;
            Ok(back(
                &c,
                &to,
                Ok(c.t(
                    "公開しました。ストアフロントの全ページにバナーが表示されます。",
                    "Published: every storefront page shows the banner.",
                )),
            ))
        }
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(RespondError::Invalid(why)) => Ok(refused(&c, &to, why)),
        Err(e) => Err(fail("public notice publish")(e)),
    }
}

/// `POST /incidents/{id}/public-notice/unpublish` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnpublishForm {
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// `POST /incidents/{id}/public-notice/unpublish` (step-up): takes the notice off the
/// storefront (the banner ends; the versions stay).
pub async fn unpublish(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<UnpublishForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}/public-notice");
    let by = Principal::Staff(c.staff_id().to_owned());
    match desk(&state)
        .public_notice_unpublish(id, &by, &form.reason)
        .await
    {
        Ok(done) => {
            if done {
                stafflog::record(
                    &state,
                    &c,
                    None,
                    "incidents.public_notice_unpublish",
                    &id.to_string(),
                    json!({ "reason": form.reason.trim() }),
                )
                .await?;
            }
            Ok(back(
                &c,
                &to,
                if done {
                    Ok(c.t("公開を終了しました。", "Unpublished."))
                } else {
                    Err(c.t("公開していません。", "Not published.").to_owned())
                },
            ))
        }
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(RespondError::Invalid(why)) => Ok(refused(&c, &to, why)),
        Err(e) => Err(fail("public notice unpublish")(e)),
    }
}
