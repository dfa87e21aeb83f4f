//! An incident's notices to individuals (本人通知) in the back office
//! (`mamori_respond::notices`): the draft form (owners and managers, with a step-up), the run's
//! progress, its frozen draft and the letters to send (permanent bounces); auditors read. The
//! queueing runs in the background (a run of 280,000 notices takes minutes); a stopped run is
//! resumed with a button. Nothing here shows a customer's value: counts, notice ids, status
//! codes and the operator's words. The letters' print files (a ZIP of one batch's PDF and its
//! CSV list) are made on demand for owners and managers with a step-up, each batch read through
//! the gateway in one ledger event; they are never stored.

use std::sync::Arc;

use askama::Template;
use std::io::Write as _;

use axum::{
    extract::{Path, State},
    response::{IntoResponse as _, Response},
};
use http::{header, HeaderValue};
use mamori_respond::notices::letter::{LetterBatch, LetterRenderer, LETTER_BATCH};
use mamori_respond::notices::{NoticeDraft, NoticeOptions};
use mamori_respond::{Desk, RespondError};
use mamori_staff::Permission;
use mamori_store::Principal;
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

fn options(state: &BackofficeState) -> NoticeOptions {
    NoticeOptions {
        bounce_domain: state.config.notice_bounce_domain.clone(),
        ..NoticeOptions::default()
    }
}

/// A letter to send (a notice that bounced permanently).
#[derive(Clone, Debug)]
pub struct LetterLine {
    /// The notice's id.
    pub id: String,
    /// Its number in the run (1-based).
    pub number: i64,
    /// The DSN's status code.
    pub status: String,
    /// When the bounce came (JST).
    pub at: String,
}

#[derive(Template)]
#[template(path = "incidents/notices.html")]
struct NoticesPage {
    c: Ctx,
    id: i64,
    started: bool,
    started_at: String,
    started_by: String,
    completed_at: String,
    rate: i64,
    total: i64,
    queued: i64,
    sent: i64,
    dead: i64,
    bounced_permanent: i64,
    bounced_transient: i64,
    draft_sha256: String,
    draft: NoticeDraft,
    letters: Vec<LetterLine>,
    /// The print files: (number, letters in it).
    letter_batches: Vec<(usize, usize)>,
    letter_batch_size: usize,
    can_manage: bool,
}

/// The print files `letters` letters make: (number, letters in it).
fn batches_of(letters: usize) -> Vec<(usize, usize)> {
    (0..letters.div_ceil(LETTER_BATCH))
        .map(|i| (i + 1, (letters - i * LETTER_BATCH).min(LETTER_BATCH)))
        .collect()
}

/// `GET /incidents/{id}/notices`.
pub async fn show(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let desk = desk(&state);
    let incident = state
        .store
        .incident_by_id(id)
        .await
        .map_err(fail("incident"))?;
    if incident.is_none() {
        return Err(AppError::NotFound);
    }
    let status = desk
        .notice_status(id)
        .await
        .map_err(fail("notice status"))?;
    let can_manage = c.can(Permission::IncidentsManage);
    let page = match status {
        Some(s) => {
            let letters: Vec<LetterLine> = desk
                .letters_to_send(id)
                .await
                .map_err(fail("letters"))?
                .into_iter()
                .map(|n| LetterLine {
                    id: n.id,
                    number: n.position + 1,
                    status: n.bounce_status.unwrap_or_default(),
                    at: n.bounced_at.map(fmt_secs).unwrap_or_default(),
                })
                .collect();
            NoticesPage {
                c,
                id,
                started: true,
                started_at: fmt_secs(s.run.started_at),
                started_by: s.run.started_by,
                completed_at: s.run.completed_at.map(fmt_secs).unwrap_or_default(),
                rate: s.run.rate_per_min,
                total: s.run.total,
                queued: s.progress.queued,
                sent: s.progress.sent,
                dead: s.progress.dead,
                bounced_permanent: s.progress.bounced_permanent,
                bounced_transient: s.progress.bounced_transient,
                draft_sha256: s.run.draft_sha256,
                draft: serde_json::from_str(&s.run.draft).unwrap_or_default(),
                letter_batches: batches_of(letters.len()),
                letter_batch_size: LETTER_BATCH,
                letters,
                can_manage,
            }
        }
        None => {
            let desk_contact = desk
                .default_desk_contact()
                .await
                .map_err(fail("desk contact"))?;
            NoticesPage {
                c,
                id,
                started: false,
                started_at: String::new(),
                started_by: String::new(),
                completed_at: String::new(),
                rate: 500,
                total: 0,
                queued: 0,
                sent: 0,
                dead: 0,
                bounced_permanent: 0,
                bounced_transient: 0,
                draft_sha256: String::new(),
                draft: NoticeDraft {
                    desk: desk_contact,
                    ..NoticeDraft::default()
                },
                letters: Vec::new(),
                letter_batches: Vec::new(),
                letter_batch_size: LETTER_BATCH,
                can_manage,
            }
        }
    };
    Ok(render(&page))
}

/// `POST /incidents/{id}/notices` form: the draft and the rate.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartForm {
    /// 概要.
    pub overview: String,
    /// 原因.
    pub cause: String,
    /// 二次被害.
    pub secondary_harm: String,
    /// What the reader should do.
    #[serde(default)]
    pub what_to_do: String,
    /// The desk's contact.
    #[serde(default)]
    pub desk: String,
    /// Notices per minute.
    pub rate: i64,
}

fn queue_in_background(state: &Arc<BackofficeState>, id: i64) {
    let desk = desk(state);
    let opts = options(state);
    tokio::spawn(async move {
        match desk.resume_notices(id, &opts).await {
            Ok(r) => tracing::info!(incident = id, queued = r.queued, "incident notices queued"),
            Err(e) => tracing::error!(incident = id, error = %e, "incident notices stopped"),
        }
    });
}

/// `POST /incidents/{id}/notices`: starts the run (step-up); the notices are queued in the
/// background.
pub async fn start(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<StartForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}/notices");
    let draft = NoticeDraft {
        overview: form.overview,
        cause: form.cause,
        secondary_harm: form.secondary_harm,
        what_to_do: form.what_to_do,
        desk: form.desk,
    };
    let by = Principal::Staff(c.staff_id().to_owned());
    match desk(&state).begin_notices(id, &by, &draft, form.rate).await {
        Ok(run) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.notices_start",
                &id.to_string(),
                json!({ "total": run.total, "rate": run.rate_per_min, "draft_sha256": run.draft_sha256 }),
            )
            .await?;
            queue_in_background(&state, id);
            Ok(back(
                &c,
                &to,
                Ok(c.t(
                    "本人通知の送付を開始しました。送信待ちへの登録は順次進みます。",
                    "The notices were started; they are being queued.",
                )),
            ))
        }
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(RespondError::Invalid(why)) => Ok(back(&c, &to, Err(why.to_owned()))),
        Err(e) => Err(fail("notices start")(e)),
    }
}

/// `POST /incidents/{id}/notices/resume`: queues what a stopped run left (step-up).
pub async fn resume(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}/notices");
    let run = state
        .store
        .notice_run(id)
        .await
        .map_err(fail("notice run"))?;
    if run.is_none() {
        return Err(AppError::NotFound);
    }
    stafflog::record(
        &state,
        &c,
        None,
        "incidents.notices_resume",
        &id.to_string(),
        json!({}),
    )
    .await?;
    queue_in_background(&state, id);
    Ok(back(
        &c,
        &to,
        Ok(c.t(
            "残りの本人通知の登録を再開しました。",
            "Queueing the remaining notices.",
        )),
    ))
}

/// `POST /incidents/{id}/notices/letters` form: which print file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LettersForm {
    /// The print file's number (1-based).
    pub batch: usize,
}

/// One print file as a ZIP: its PDF (every letter of the batch, for printing) and its CSV list
/// (for the print shop). The ZIP is stored, not compressed again: the PDF is compressed already.
fn letters_zip(b: &LetterBatch) -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let stem = b.stem();
    zip.start_file(format!("{stem}.pdf"), opts)?;
    zip.write_all(&b.pdf)?;
    zip.start_file(format!("{stem}.csv"), opts)?;
    zip.write_all(&b.csv)?;
    Ok(zip.finish()?.into_inner())
}

/// `POST /incidents/{id}/notices/letters`: one print file of the letters to send (step-up):
/// the batch's names and addresses read through the gateway in one ledger event by this member
/// of staff, laid out, zipped and handed over; nothing is kept.
pub async fn letters(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<LettersForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}/notices");
    if state
        .store
        .incident_by_id(id)
        .await
        .map_err(fail("incident"))?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    // The fonts first: without them nothing is read.
    let renderer = match LetterRenderer::shared(None) {
        Ok(r) => r,
        Err(e) => return Err(fail("letter fonts")(e)),
    };
    let by = Principal::Staff(c.staff_id().to_owned());
    let input = match desk(&state)
        .letter_batch(id, &by, form.batch, LETTER_BATCH)
        .await
    {
        Ok(i) => i,
        Err(RespondError::NotFound(_)) => return Err(AppError::NotFound),
        Err(RespondError::Invalid(why)) => return Ok(back(&c, &to, Err(why.to_owned()))),
        Err(e) => return Err(fail("letters read")(e)),
    };
    if input.letters.is_empty() {
        return Ok(back(
            &c,
            &to,
            Err(c
                .t(
                    "この印刷ファイルの対象者には郵送先の住所がありません。",
                    "No one in this print file has a postal address.",
                )
                .to_owned()),
        ));
    }
    // Laying out up to a thousand letters is CPU work: off the async threads.
    let batch = tokio::task::spawn_blocking(move || {
        let b = renderer.render(&input)?;
        let zip = letters_zip(&b)
            .map_err(|e| mamori_respond::RespondError::Render(format!("zip: {e}")))?;
        Ok::<_, RespondError>((b, zip))
    })
    .await
    .map_err(fail("letters task"))?;
    let (b, zip) = batch.map_err(fail("letters render"))?;
    stafflog::record(
        &state,
        &c,
        None,
        "incidents.letters_download",
        &id.to_string(),
        json!({ "batch": b.number, "of": b.of, "letters": b.letters, "no_address": b.no_address }),
    )
    .await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}.zip\"", b.stem()))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        PagePolicy::new().private(),
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}
