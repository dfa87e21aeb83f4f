//! An incident's reports in the back office (`mamori_respond::report`): the PPC report (速報 or
//! 確報) as a form pre-filled from the incident, its scope and the shop settings; saving it as a
//! new version (owners and managers; every version kept, each save on the timeline and in the
//! ledger); the list of versions; and the downloads (PDF, text for the PPC's online form, the
//! card companies' CSV of payment attempts and the timeline's CSV), which auditors may read too.
//! A report holds counts, staff's words and the shop's own details, never a customer's value.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use http::{header, HeaderValue};
use mamori_respond::report::pdf::PdfRenderer;
use mamori_respond::report::{Report, ReportFields, ReportKind, Reporter};
use mamori_respond::{Desk, RespondError};
use mamori_staff::Permission;
use mamori_store::Principal;
use mamori_web::settings::ShopSettings;
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
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

/// `?kind=sokuho|kakuho&version=<id>`.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    /// Which report (default 速報).
    pub kind: Option<String>,
    /// A saved version to show or download (default: the draft to edit).
    pub version: Option<String>,
}

impl ReportQuery {
    fn kind(&self) -> ReportKind {
        self.kind
            .as_deref()
            .and_then(ReportKind::parse)
            .unwrap_or(ReportKind::Sokuho)
    }

    fn version(&self) -> Option<&str> {
        self.version.as_deref().filter(|v| !v.is_empty())
    }
}

/// One saved version as listed.
#[derive(Clone, Debug)]
pub struct VersionLine {
    /// Id.
    pub id: String,
    /// `sokuho` or `kakuho`.
    pub kind: String,
    /// 速報 / 確報.
    pub kind_label: &'static str,
    /// Number.
    pub version: i64,
    /// When (JST).
    pub saved_at: String,
    /// By whom.
    pub saved_by: String,
    /// SHA-256 of its content.
    pub sha256: String,
}

/// One editable item of the form.
#[derive(Clone, Debug)]
pub struct ItemField {
    /// Form name.
    pub name: &'static str,
    /// Japanese heading (規則8条1項).
    pub heading: &'static str,
    /// Its text.
    pub value: String,
}

#[derive(Template)]
#[template(path = "incidents/report.html")]
struct ReportPage {
    c: Ctx,
    id: i64,
    kind: &'static str,
    kind_label: &'static str,
    /// The version shown, when one is (read-only), else the draft to edit.
    shown: Option<VersionLine>,
    reporter: Vec<ItemField>,
    items: Vec<ItemField>,
    /// The report as text (what the downloads hold).
    preview: String,
    versions: Vec<VersionLine>,
    card: bool,
    can_manage: bool,
}

/// The form names of the items, in the order of [`ReportFields::items`].
const ITEM_NAMES: [&str; 9] = [
    "overview",
    "data_items",
    "people",
    "cause",
    "secondary_damage",
    "notice_to_persons",
    "publication",
    "prevention",
    "other",
];

/// The form names of the reporter's details, in the order of
/// [`ReportFields::reporter_lines`].
const REPORTER_NAMES: [&str; 5] = [
    "business_name",
    "representative",
    "address",
    "contact_person",
    "contact",
];

/// The form's fields: each (heading, value) under its form name.
fn form_fields(pairs: &[(&'static str, &str)], names: &[&'static str]) -> Vec<ItemField> {
    pairs
        .iter()
        .zip(names)
        .map(|((heading, value), name)| ItemField {
            name,
            heading,
            value: (*value).to_owned(),
        })
        .collect()
}

fn version_line(v: &mamori_store::ReportVersionRow) -> VersionLine {
    VersionLine {
        id: v.id.clone(),
        kind_label: ReportKind::parse(&v.kind)
            .unwrap_or(ReportKind::Sokuho)
            .label_ja(),
        kind: v.kind.clone(),
        version: v.version,
        saved_at: fmt_secs(v.saved_at),
        saved_by: v.saved_by.clone(),
        sha256: v.content_sha256.clone(),
    }
}

fn map_err(what: &'static str) -> impl FnOnce(RespondError) -> AppError {
    move |e| match e {
        RespondError::NotFound(_) | RespondError::ReportVersionNotFound => AppError::NotFound,
        e => fail(what)(e),
    }
}

/// The report a request names: a saved version, or the draft (from the settings).
async fn report_of(state: &BackofficeState, id: i64, q: &ReportQuery) -> Result<Report, AppError> {
    let desk = desk(state);
    match q.version() {
        Some(v) => desk
            .report_version(id, v)
            .await
            .map_err(map_err("report version")),
        None => {
            let stored = state.store.settings_all().await.map_err(fail("settings"))?;
            let settings = ShopSettings::from_stored(&stored, &state.config.shop_name);
            desk.report_draft(id, q.kind(), Some(&settings))
                .await
                .map_err(map_err("report draft"))
        }
    }
}

/// `GET /incidents/{id}/report`: the form (or a saved version), the versions and the downloads.
pub async fn show(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let report = report_of(&state, id, &q).await?;
    let versions: Vec<VersionLine> = desk(&state)
        .report_versions(id)
        .await
        .map_err(fail("report versions"))?
        .iter()
        .map(version_line)
        .collect();
    let shown = report
        .version
        .as_ref()
        .and_then(|v| versions.iter().find(|l| l.id == v.id).cloned());
    let reporter = form_fields(&report.fields.reporter_lines(), &REPORTER_NAMES);
    let items = form_fields(&report.fields.items(), &ITEM_NAMES);
    let can_manage = c.can(Permission::IncidentsManage);
    Ok(render(&ReportPage {
        c,
        id,
        kind: report.kind.as_str(),
        kind_label: report.kind.label_ja(),
        shown,
        reporter,
        items,
        preview: report.to_text(),
        versions,
        card: report.incident_kind.involves_cards(),
        can_manage,
    }))
}

/// `POST /incidents/{id}/report` form: the kind, the reporter and the nine items.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveForm {
    /// `sokuho` or `kakuho`.
    pub kind: String,
    /// 事業者の名称.
    #[serde(default)]
    pub business_name: String,
    /// 代表者の氏名.
    #[serde(default)]
    pub representative: String,
    /// 住所.
    #[serde(default)]
    pub address: String,
    /// 担当者.
    #[serde(default)]
    pub contact_person: String,
    /// 連絡先.
    #[serde(default)]
    pub contact: String,
    /// 概要.
    #[serde(default)]
    pub overview: String,
    /// 個人データの項目.
    #[serde(default)]
    pub data_items: String,
    /// 本人の数.
    #[serde(default)]
    pub people: String,
    /// 原因.
    #[serde(default)]
    pub cause: String,
    /// 二次被害.
    #[serde(default)]
    pub secondary_damage: String,
    /// 本人への対応.
    #[serde(default)]
    pub notice_to_persons: String,
    /// 公表.
    #[serde(default)]
    pub publication: String,
    /// 再発防止.
    #[serde(default)]
    pub prevention: String,
    /// その他.
    #[serde(default)]
    pub other: String,
}

/// `POST /incidents/{id}/report`: saves the form as a new version; the staff log records it.
pub async fn save(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<SaveForm>,
) -> Result<Response, AppError> {
    let Some(kind) = ReportKind::parse(&form.kind) else {
        return Err(AppError::NotFound);
    };
    let fields = ReportFields {
        reporter: Reporter {
            business_name: form.business_name,
            representative: form.representative,
            address: form.address,
            contact_person: form.contact_person,
            contact: form.contact,
        },
        overview: form.overview,
        data_items: form.data_items,
        people: form.people,
        cause: form.cause,
        secondary_damage: form.secondary_damage,
        notice_to_persons: form.notice_to_persons,
        publication: form.publication,
        prevention: form.prevention,
        other: form.other,
    };
    let by = Principal::Staff(c.staff_id().to_owned());
    let again = format!("/incidents/{id}/report?kind={}", kind.as_str());
    match desk(&state).report_save(id, &by, kind, fields).await {
        Ok(v) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.report_save",
                &id.to_string(),
                json!({ "kind": kind.as_str(), "version": v.version, "id": v.id }),
            )
            .await?;
            Ok(back(
                &c,
                &format!("{again}&version={}", v.id),
                Ok(c.t(
                    "報告書の新しい版を保存しました。",
                    "A new version of the report was saved.",
                )),
            ))
        }
        Err(RespondError::Invalid(_)) => Ok(back(
            &c,
            &again,
            Err(c
                .t(
                    "入力が長すぎます（各項目8000文字、報告者の各欄300文字まで）。",
                    "Too long (8000 characters per item, 300 per reporter detail).",
                )
                .to_owned()),
        )),
        Err(e) => Err(map_err("report save")(e)),
    }
}

/// A download: private, not stored, as an attachment.
fn download(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        PagePolicy::new().private(),
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

async fn log_download(
    state: &BackofficeState,
    c: &Ctx,
    id: i64,
    what: &str,
    q: &ReportQuery,
) -> Result<(), AppError> {
    stafflog::record(
        state,
        c,
        None,
        "incidents.report_download",
        &id.to_string(),
        json!({ "what": what, "kind": q.kind().as_str(), "version": q.version() }),
    )
    .await
}

fn file_stem(id: i64, r: &Report) -> String {
    match &r.version {
        Some(v) => format!("incident-{id}-{}-v{}", r.kind.as_str(), v.version),
        None => format!("incident-{id}-{}-draft", r.kind.as_str()),
    }
}

/// `GET /incidents/{id}/report/pdf`: the report as a Japanese PDF.
pub async fn pdf(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let report = report_of(&state, id, &q).await?;
    let stem = file_stem(id, &report);
    // Laying out a PDF is CPU work: off the async threads.
    let bytes = tokio::task::spawn_blocking(move || {
        PdfRenderer::shared(None).and_then(|r| r.render(&report))
    })
    .await
    .map_err(fail("report pdf task"))?
    .map_err(fail("report pdf"))?;
    log_download(&state, &c, id, "pdf", &q).await?;
    Ok(download(bytes, "application/pdf", &format!("{stem}.pdf")))
}

/// `GET /incidents/{id}/report/text`: the report as text for the PPC's online form.
pub async fn text(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let report = report_of(&state, id, &q).await?;
    log_download(&state, &c, id, "text", &q).await?;
    Ok(download(
        report.to_text().into_bytes(),
        "text/plain; charset=utf-8",
        &format!("{}.txt", file_stem(id, &report)),
    ))
}

/// One of the card companies' CSVs: the attempts (`card`) or the timeline (`timeline`); with
/// no such report (another kind, no scope yet), the report page again saying why.
async fn card_download(
    state: &BackofficeState,
    c: &Ctx,
    id: i64,
    which: &'static str,
) -> Result<Response, AppError> {
    let report = match desk(state).card_report(id).await {
        Ok(r) => r,
        Err(RespondError::Invalid(_)) => {
            return Ok(back(
                c,
                &format!("/incidents/{id}/report"),
                Err(c
                    .t(
                        "カード会社向けの報告は、決済ページ・カード入力ページの事案で影響範囲を算出した後に作成できます。",
                        "The card companies' report needs a payment-page or card-script incident with a computed scope.",
                    )
                    .to_owned()),
            ))
        }
        Err(e) => return Err(map_err("card report")(e)),
    };
    let (bytes, filename) = if which == "card" {
        (
            report.attempts_csv(),
            format!("incident-{id}-card-attempts.csv"),
        )
    } else {
        (report.timeline_csv(), format!("incident-{id}-timeline.csv"))
    };
    let bytes = bytes.map_err(fail("card report csv"))?;
    log_download(state, c, id, which, &ReportQuery::default()).await?;
    Ok(download(bytes, "text/csv; charset=utf-8", &filename))
}

/// `GET /incidents/{id}/report/card.csv`: the payment attempts of the scope's window.
pub async fn card_csv(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    card_download(&state, &c, id, "card").await
}

/// `GET /incidents/{id}/report/timeline.csv`: the timeline, for the card companies' report.
pub async fn timeline_csv(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    card_download(&state, &c, id, "timeline").await
}
