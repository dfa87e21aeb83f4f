//! The incident desk in the back office (`mamori_respond::Desk`): the list, opening an incident
//! (by hand or from an alert), one incident with its deadlines (days left), timeline and the
//! counts of its latest scope, notes, and computing the scope. Owners and managers act, auditors
//! read. Nothing here shows a customer's value: scopes are counts (the list of people stays in
//! the saved snapshot), timelines are staff's words.

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use chrono::{DateTime, Utc};
use mamori_respond::{
    deadlines::{jst_date, parse_time},
    Desk, EntryKind, IncidentKind, NewIncident, RespondError, Switch, SwitchChange,
};
use mamori_staff::{Permission, Role};
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

fn me(c: &Ctx) -> Principal {
    Principal::Staff(c.staff_id().to_owned())
}

/// One incident as a list row.
#[derive(Clone, Debug)]
pub struct IncidentLine {
    /// Number.
    pub id: i64,
    /// Kind label.
    pub kind_label: &'static str,
    /// Kind code.
    pub kind: String,
    /// State code.
    pub state: String,
    /// Title.
    pub title: String,
    /// 発覚 (JST).
    pub known_at: String,
}

#[derive(Template)]
#[template(path = "incidents/list.html")]
struct ListPage {
    c: Ctx,
    incidents: Vec<IncidentLine>,
    can_manage: bool,
}

/// `GET /incidents`: every incident, newest first.
pub async fn list(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    let rows = desk(&state)
        .list(0, 500)
        .await
        .map_err(fail("incidents list"))?;
    let incidents = rows
        .into_iter()
        .map(|r| IncidentLine {
            id: r.id,
            kind_label: IncidentKind::parse(&r.kind)
                .unwrap_or(IncidentKind::Other)
                .label_ja(),
            kind: r.kind,
            state: r.state,
            title: r.title,
            known_at: fmt_secs(r.known_at),
        })
        .collect();
    let can_manage = c.can(Permission::IncidentsManage);
    Ok(render(&ListPage {
        c,
        incidents,
        can_manage,
    }))
}

/// `GET /incidents/new?alert=`.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    /// The alert to open it from.
    pub alert: Option<String>,
}

#[derive(Template)]
#[template(path = "incidents/new.html")]
struct NewPage {
    c: Ctx,
    kinds: Vec<(&'static str, &'static str)>,
    alert: Option<(String, String, String)>,
    known_at: String,
}

/// `GET /incidents/new`: the form, filled from an alert when one is given.
pub async fn new_form(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<NewQuery>,
) -> Result<Response, AppError> {
    let mut known_at = fmt_secs(state.now()).replace(' ', "T");
    let alert = match q.alert.as_deref().filter(|a| !a.is_empty()) {
        Some(id) => {
            let Some(a) = state.store.alert_by_id(id).await.map_err(fail("alert"))? else {
                return Err(AppError::NotFound);
            };
            known_at = fmt_secs(a.first_seen).replace(' ', "T");
            Some((a.id, a.kind, a.subject))
        }
        None => None,
    };
    let kinds = IncidentKind::ALL
        .into_iter()
        .map(|k| (k.as_str(), k.label_ja()))
        .collect();
    Ok(render(&NewPage {
        c,
        kinds,
        alert,
        known_at,
    }))
}

/// `POST /incidents` form. Empty optional fields are absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenForm {
    /// Kind code.
    pub kind: String,
    /// Title.
    pub title: String,
    /// 発覚 (`datetime-local`, Japanese time).
    pub known_at: String,
    /// Window start.
    #[serde(default)]
    pub window_from: String,
    /// Window end.
    #[serde(default)]
    pub window_to: String,
    /// Staff account suspected.
    #[serde(default)]
    pub principal: String,
    /// 不正の目的 (checkbox).
    #[serde(default)]
    pub malicious: Option<String>,
    /// The alert it comes from.
    #[serde(default)]
    pub alert: String,
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn optional_time(s: &str) -> Result<Option<DateTime<Utc>>, ()> {
    match optional(s) {
        None => Ok(None),
        Some(t) => parse_time(&t).map(Some).ok_or(()),
    }
}

/// `POST /incidents`: opens an incident (timeline and ledger); the staff log records it.
pub async fn open(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(form): SafeForm<OpenForm>,
) -> Result<Response, AppError> {
    let alert = optional(&form.alert);
    let again = match &alert {
        Some(a) => format!("/incidents/new?alert={a}"),
        None => "/incidents/new".to_owned(),
    };
    let bad =
        |ja: &'static str, en: &'static str| Ok(back(&c, &again, Err(c.t(ja, en).to_owned())));
    let Some(kind) = IncidentKind::parse(&form.kind) else {
        return bad("種類を選んでください。", "Please choose a kind.");
    };
    let Some(known_at) = parse_time(&form.known_at) else {
        return bad(
            "発覚日時を入力してください。",
            "Please give the time it became known.",
        );
    };
    let (Ok(window_from), Ok(window_to)) = (
        optional_time(&form.window_from),
        optional_time(&form.window_to),
    ) else {
        return bad(
            "期間の日時が正しくありません。",
            "The window's times are not valid.",
        );
    };
    let new = NewIncident {
        kind,
        title: form.title.clone(),
        known_at,
        window_from,
        window_to,
        principal: optional(&form.principal),
        malicious: form.malicious.is_some(),
        alert_id: alert.clone(),
    };
    let id = match desk(&state).open(&me(&c), &new).await {
        Ok(id) => id,
        Err(RespondError::Invalid(_)) => {
            return bad(
                "入力内容を確認してください（件名は必須、期間は開始が終了より前、アラートは存在するもの）。",
                "Please check the form (a title is required, the window must start before it ends, the alert must exist).",
            )
        }
        Err(e) => return Err(fail("incident open")(e)),
    };
    stafflog::record(
        &state,
        &c,
        None,
        "incidents.open",
        &id.to_string(),
        json!({ "kind": kind.as_str(), "alert": alert }),
    )
    .await?;
    Ok(back(
        &c,
        &format!("/incidents/{id}"),
        Ok(c.t("インシデントを起票しました。", "The incident was opened.")),
    ))
}

/// One deadline as the detail page shows it.
#[derive(Clone, Debug)]
pub struct DeadlineLine {
    /// Who it is owed to.
    pub label: &'static str,
    /// The rule.
    pub rule: &'static str,
    /// `YYYY-MM-DD` or `from – due`.
    pub due: String,
    /// Days left (negative: overdue).
    pub days_left: i64,
}

/// One timeline entry as shown.
#[derive(Clone, Debug)]
pub struct EntryLine {
    /// Seq.
    pub seq: i64,
    /// When (JST).
    pub at: String,
    /// Kind code.
    pub kind: String,
    /// Kind label.
    pub kind_label: String,
    /// Who.
    pub actor: String,
    /// What.
    pub text: String,
    /// Reference.
    pub ref_id: String,
    /// The ledger entry.
    pub ledger_seq: i64,
}

/// The latest scope's counts.
#[derive(Clone, Debug)]
pub struct ScopeCounts {
    /// Snapshot id.
    pub id: String,
    /// When (JST).
    pub at: String,
    /// Ledger tree size.
    pub tree_size: i64,
    /// Root (hex).
    pub root: String,
    /// SHA-256 of the content.
    pub sha256: String,
    /// Per category.
    pub categories: Vec<(String, u64)>,
    /// Per data item.
    pub data_items: Vec<(String, u64)>,
    /// What the "database copied" and "card data found" kinds add.
    pub kinds: crate::incident_scope::ScopeKindsView,
}

#[derive(Template)]
#[template(path = "incidents/detail.html")]
struct DetailPage {
    c: Ctx,
    id: i64,
    kind: String,
    kind_label: &'static str,
    title: String,
    state_code: String,
    known_at: String,
    window: String,
    principal: String,
    alert_id: String,
    malicious: bool,
    deadlines: Vec<DeadlineLine>,
    timeline: Vec<EntryLine>,
    scope: Option<ScopeCounts>,
    can_manage: bool,
    key_leak: String,
    switches: Vec<SwitchLine>,
    /// The published public notice's storefront address (empty when none is published): the
    /// shop switch's notice URL by default, so the maintenance page links it.
    notice_url: String,
    /// Whether this member of staff may see the inquiry desk's list (`customers_view`).
    can_inquiries: bool,
}

/// One switch as the detail page shows it.
#[derive(Clone, Debug)]
pub struct SwitchLine {
    /// Code (`shop`, `card`, `staff`, `keys`).
    pub code: &'static str,
    /// What turning it on does.
    pub on_label: &'static str,
    /// What turning it off does (empty for the key rotation, an action).
    pub off_label: &'static str,
    /// Whether it is on now (as this process knows it).
    pub on: bool,
    /// Whether this member of staff may turn it (freezing staff: owners only).
    pub allowed: bool,
}

fn counts(content: &str, key: &str) -> Vec<(String, u64)> {
    serde_json::from_str::<serde_json::Value>(content)
        .ok()
        .and_then(|v| v.get(key).and_then(|m| m.as_object()).cloned())
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| (k, v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /incidents/{id}`: the record, deadlines with days left, the timeline and the latest
/// scope's counts.
pub async fn detail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let view = match desk(&state).show(id).await {
        Ok(v) => v,
        Err(RespondError::NotFound(_)) => return Err(AppError::NotFound),
        Err(e) => return Err(fail("incident")(e)),
    };
    let today = jst_date(DateTime::from_timestamp(state.now(), 0).unwrap_or_default());
    let deadlines = view
        .deadlines
        .iter()
        .map(|d| DeadlineLine {
            label: d.kind.label_ja(),
            rule: d.kind.rule_ja(),
            due: match d.from {
                Some(f) => format!("{f} – {}", d.due),
                None => d.due.to_string(),
            },
            days_left: d.days_left(today),
        })
        .collect();
    let timeline = view
        .timeline
        .iter()
        .map(|e| EntryLine {
            seq: e.seq,
            at: fmt_secs(e.at),
            kind: e.kind.clone(),
            kind_label: EntryKind::label_ja(&e.kind).to_owned(),
            actor: e.actor.clone(),
            text: e.text.clone(),
            ref_id: e.ref_id.clone().unwrap_or_default(),
            ledger_seq: e.ledger_seq,
        })
        .collect();
    let scope = state
        .store
        .incident_scopes(id)
        .await
        .map_err(fail("incident scopes"))?
        .pop()
        .map(|s| ScopeCounts {
            categories: counts(&s.content, "categories"),
            data_items: counts(&s.content, "data_items"),
            kinds: crate::incident_scope::ScopeKindsView::from_content(&s.content),
            id: s.id,
            at: fmt_secs(s.computed_at),
            tree_size: s.tree_size,
            root: s.root_hash,
            sha256: s.content_sha256,
        });
    let r = view.row;
    let window = format!(
        "{} – {}",
        r.window_from.map(fmt_secs).unwrap_or_else(|| "?".into()),
        r.window_to.map(fmt_secs).unwrap_or_else(|| "?".into())
    );
    let can_manage = c.can(Permission::IncidentsManage);
    let board = &state.switches;
    let owner = c.staff.as_ref().is_some_and(|s| s.role == Role::Owner);
    let switches = Switch::ALL
        .into_iter()
        .map(|w| SwitchLine {
            code: w.as_str(),
            on_label: w.label_ja(true),
            off_label: if w == Switch::Keys {
                ""
            } else {
                w.label_ja(false)
            },
            on: match w {
                Switch::Shop => board.shop_closed(),
                Switch::Card => board.card_stopped(),
                Switch::Staff => board.staff_frozen(),
                Switch::Keys => false,
            },
            allowed: can_manage && (w != Switch::Staff || owner),
        })
        .collect();
    let notice_url = match state
        .store
        .public_notice_state(r.id)
        .await
        .map_err(fail("public notice state"))?
    {
        Some(s) if s.version.is_some() => crate::incident_public_notice::public_url(&state, r.id),
        _ => String::new(),
    };
    let can_inquiries = c.can(Permission::CustomersView);
    Ok(render(&DetailPage {
        notice_url,
        can_inquiries,
        c,
        id: r.id,
        kind: r.kind,
        kind_label: view.kind.label_ja(),
        title: r.title,
        state_code: r.state,
        known_at: fmt_secs(r.known_at),
        window,
        principal: r.principal.unwrap_or_default(),
        alert_id: r.alert_id.unwrap_or_default(),
        malicious: r.malicious != 0,
        deadlines,
        timeline,
        scope,
        can_manage,
        key_leak: crate::incident_scope::key_leak_label(&view.timeline),
        switches,
    }))
}

/// `POST /incidents/{id}/note` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteForm {
    /// The note.
    pub text: String,
}

/// `POST /incidents/{id}/note`: a note on the timeline (and in the ledger).
pub async fn note(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<NoteForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}");
    match desk(&state).note(id, &me(&c), &form.text).await {
        Ok(e) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.note",
                &id.to_string(),
                json!({ "seq": e.seq }),
            )
            .await?;
            Ok(back(
                &c,
                &to,
                Ok(c.t("メモを追加しました。", "The note was added.")),
            ))
        }
        Err(RespondError::Invalid(_)) => Ok(back(
            &c,
            &to,
            Err(c
                .t(
                    "メモを入力してください（2000文字まで）。",
                    "Please write a note (up to 2000 characters).",
                )
                .to_owned()),
        )),
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(e) => Err(fail("incident note")(e)),
    }
}

/// `POST /incidents/{id}/scope`: computes the scope against the current ledger tree head and
/// saves it; the page shows its counts.
pub async fn scope(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}");
    match desk(&state).compute_scope(id, &me(&c)).await {
        Ok(snap) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.scope",
                &id.to_string(),
                json!({
                    "snapshot": snap.row.id,
                    "tree_size": snap.row.tree_size,
                    "sha256": snap.row.content_sha256,
                }),
            )
            .await?;
            Ok(back(
                &c,
                &to,
                Ok(c.t("影響範囲を算出しました。", "The scope was computed.")),
            ))
        }
        Err(RespondError::Invalid(_)) => Ok(back(
            &c,
            &to,
            Err(c
                .t(
                    "この種類では影響範囲を算出できません（期間と、スタッフの不正利用では対象アカウントが必要です）。",
                    "The scope cannot be computed for this incident (it needs a window, and the staff account for staff misuse).",
                )
                .to_owned()),
        )),
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(e) => Err(fail("incident scope")(e)),
    }
}

/// `POST /incidents/{id}/switch` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchForm {
    /// `shop`, `card`, `staff` or `keys`.
    pub switch: String,
    /// `on` or `off`.
    pub to: String,
    /// Why (required).
    #[serde(default)]
    pub reason: String,
    /// For closing the shop: the public notice's URL.
    #[serde(default)]
    pub notice_url: String,
}

/// `POST /incidents/{id}/switch` (step-up): turns a switch for the incident. Owners and
/// managers act; freezing staff is for owners only. The change is on the timeline, in the
/// ledger and in the staff log, and reaches every `mamori serve` within a second.
pub async fn switch(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<SwitchForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}");
    let (Some(sw), Some(on)) = (
        Switch::parse(&form.switch),
        match form.to.as_str() {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        },
    ) else {
        return Err(AppError::BadRequest);
    };
    let owner = c.staff.as_ref().is_some_and(|s| s.role == Role::Owner);
    if sw == Switch::Staff && !owner {
        stafflog::record(
            &state,
            &c,
            None,
            "access.denied",
            &format!("POST /incidents/{id}/switch"),
            json!({ "switch": sw.as_str(), "rule": "owners only" }),
        )
        .await?;
        return Err(AppError::Forbidden);
    }
    let change = SwitchChange {
        switch: sw,
        on,
        reason: form.reason.clone(),
        notice_url: optional(&form.notice_url),
    };
    match state
        .switches
        .set(&desk(&state), id, &me(&c), &change)
        .await
    {
        Ok(done) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.switch",
                &id.to_string(),
                json!({
                    "switch": sw.as_str(),
                    "to": if on { "on" } else { "off" },
                    "seq": done.seq,
                    "master_key": done.rotated.as_ref().map(|r| r.0.clone()),
                    "rewrapped": done.rotated.as_ref().map(|r| r.1),
                }),
            )
            .await?;
            Ok(back(
                &c,
                &to,
                Ok(c.t("切り替えました。", "The switch was turned.")),
            ))
        }
        Err(RespondError::Invalid(_)) => Ok(back(
            &c,
            &to,
            Err(c
                .t(
                    "理由を入力してください（2000文字まで）。鍵のローテーションは「実行」のみです。",
                    "Please give a reason (up to 2000 characters). Keys can only be rotated, not turned off.",
                )
                .to_owned()),
        )),
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(e) => Err(fail("incident switch")(e)),
    }
}
