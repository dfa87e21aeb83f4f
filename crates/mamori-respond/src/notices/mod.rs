//! Notices to individuals (本人通知, 施行規則10条) by signed mail, from an incident's latest scope.
//!
//! A run is started once per incident with a [`NoticeDraft`] (the operator's words) and a rate;
//! the draft is frozen with its SHA-256 in the run's row. The people are the scope snapshot's
//! customers, once each, in id order (a person named in several categories gets one notice
//! naming the union of their items). They are queued in batches through
//! [`mamori_store::Gateway::queue_notices`]: one ledger read event per batch naming its people
//! (purpose `incident.notice`), the mail sealed into the outbox with a notice row whose key
//! (incident, customer) makes a second notice to a person impossible. A run killed at any moment
//! is resumed ([`Desk::resume_notices`]) from what the store holds: nothing is lost (a batch is
//! one transaction) and nothing is queued twice.
//!
//! The rate is honoured through the outbox's own due time: notice number `n` of a run is due
//! at `started_at + n × 60 / rate` seconds, so the existing mail worker, which sends only due
//! rows, spreads them without knowing about notices (and a resumed run keeps the same times).
//!
//! Bounces: each notice's envelope sender is its VERP address ([`verp`]); a delivery status
//! notification for it ([`bounce`]) marks it undelivered, and permanent failures are the
//! letters to send ([`Desk::letters_to_send`]).

pub mod bounce;
pub mod letter;
mod render;
pub mod verp;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::Utc;
use mamori_store::gateway::{principal_key, NoticeTarget, NOTICE_JOB, WINDOWS};
use mamori_store::{Accessor, NoticeProgress, NoticeRow, NoticeRunRow, Principal};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use render::{
    body, items_ja, notice_mail, opening, sections, shop_name, subject, NoticeSection,
    NOTICE_HEADER, NOTICE_KIND, NOTICE_TITLE, PHISHING_WARNING,
};

use crate::desk::{checked_text, principal_text, Desk};
use crate::kind::EntryKind;
use crate::scope::Scope;
use crate::{RespondError, Result};

/// People per batch (one ledger read event, one transaction).
pub const BATCH: usize = 500;
/// The highest rate accepted (notices per minute).
pub const MAX_RATE: i64 = 1_000_000;

/// The operator's words of a notice (no customer's value). Every part is required but the
/// request to the reader; the desk's contact defaults to the shop settings' name and phone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeDraft {
    /// 概要.
    pub overview: String,
    /// 原因.
    pub cause: String,
    /// 二次被害又はそのおそれの有無及びその内容.
    pub secondary_harm: String,
    /// What the reader should do (その他).
    #[serde(default)]
    pub what_to_do: String,
    /// How to reach the inquiry desk (その他); empty: from the shop settings.
    #[serde(default)]
    pub desk: String,
}

impl NoticeDraft {
    /// The draft as stored: canonical JSON (fields in declaration order), trimmed, checked.
    pub fn frozen(&self) -> Result<(String, String)> {
        let d = NoticeDraft {
            overview: checked_text(&self.overview, "the notice needs an overview (概要)")?,
            cause: checked_text(&self.cause, "the notice needs the cause (原因)")?,
            secondary_harm: checked_text(
                &self.secondary_harm,
                "the notice needs the secondary harm (二次被害)",
            )?,
            what_to_do: self.what_to_do.trim().to_owned(),
            desk: checked_text(&self.desk, "the notice needs the desk's contact")?,
        };
        if d.what_to_do.chars().count() > crate::desk::TEXT_MAX_CHARS {
            return Err(RespondError::Invalid(
                "the request to the reader is too long",
            ));
        }
        // A struct of strings: serialising cannot fail.
        let json = serde_json::to_string(&d).unwrap_or_default();
        let sha = hex::encode(Sha256::digest(json.as_bytes()));
        Ok((json, sha))
    }
}

/// How a run queues (not part of the frozen run: a resumed run may use others).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeOptions {
    /// The domain of the VERP envelope senders (None: bounces go to the From address).
    pub bounce_domain: Option<String>,
    /// People per batch (one ledger read event and one transaction each).
    pub batch: usize,
}

impl Default for NoticeOptions {
    fn default() -> Self {
        Self {
            bounce_domain: None,
            batch: BATCH,
        }
    }
}

/// Where a run stands, for the screens and `--status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeStatus {
    /// The run.
    pub run: NoticeRunRow,
    /// Its counts.
    pub progress: NoticeProgress,
}

/// What a run (or a resumed part of it) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// People in the run.
    pub total: u64,
    /// Queued by this call.
    pub queued: u64,
    /// Found queued already (earlier calls).
    pub already: u64,
    /// Not reachable by mail (erased, no address).
    pub unreachable: u64,
    /// Canaries left out.
    pub canaries: u64,
}

/// Each person of a scope once, with the union of their items.
pub fn people(scope: &Scope) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in scope.subjects.values().flatten() {
        out.entry(s.customer_id.clone())
            .or_default()
            .extend(s.fields.iter().cloned());
    }
    out
}

/// The part of a saved scope's JSON a run reads: its subjects' ids and fields.
#[derive(Deserialize)]
struct SavedSubjects {
    subjects: BTreeMap<String, Vec<SavedSubject>>,
}

#[derive(Deserialize)]
struct SavedSubject {
    customer_id: String,
    fields: Vec<String>,
}

/// [`people`] of a saved scope (its canonical JSON).
pub fn saved_people(content: &str) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let saved: SavedSubjects = serde_json::from_str(content)
        .map_err(|_| RespondError::Invalid("the saved scope cannot be read"))?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in saved.subjects.into_values().flatten() {
        out.entry(s.customer_id).or_default().extend(s.fields);
    }
    Ok(out)
}

/// When notice number `position` of a run started at `started_at` with `rate` per minute is due.
pub fn due_at(started_at: i64, rate_per_min: i64, position: i64) -> i64 {
    started_at.saturating_add(position.saturating_mul(60) / rate_per_min.max(1))
}

fn notice_accessor(incident_id: i64) -> Accessor {
    Accessor {
        principal: Principal::System(NOTICE_JOB.to_owned()),
        purpose: "incident.notice".to_owned(),
        request_id: format!("incident:{incident_id}"),
        channel: None,
        reason: None,
    }
}

impl Desk {
    /// The incident's notice run and its counts, if one was started.
    pub async fn notice_status(&self, incident_id: i64) -> Result<Option<NoticeStatus>> {
        let records = self.gateway().records();
        let Some(run) = records.notice_run(incident_id).await? else {
            return Ok(None);
        };
        let progress = records.notice_progress(incident_id).await?;
        Ok(Some(NoticeStatus { run, progress }))
    }

    /// The desk's contact for a draft that gives none: the shop's name and phone.
    pub async fn default_desk_contact(&self) -> Result<String> {
        let s = self.shop_settings().await?;
        Ok(match (s.name.trim(), s.phone.trim()) {
            ("", "") => String::new(),
            (n, "") => format!("{n} お客様相談窓口"),
            ("", p) => format!("お客様相談窓口 電話 {p}"),
            (n, p) => format!("{n} お客様相談窓口 電話 {p}"),
        })
    }

    /// Starts the incident's notice run and queues every notice: [`Desk::begin_notices`], then
    /// [`Desk::resume_notices`].
    pub async fn start_notices(
        &self,
        incident_id: i64,
        by: &Principal,
        draft: &NoticeDraft,
        rate_per_min: i64,
        opts: &NoticeOptions,
    ) -> Result<RunReport> {
        self.begin_notices(incident_id, by, draft, rate_per_min)
            .await?;
        self.resume_notices(incident_id, opts).await
    }

    /// Starts the incident's notice run without queueing: freezes the draft, records the start
    /// on the timeline and stores the run. Refused when a run exists (resume it instead) or the
    /// incident has no scope.
    pub async fn begin_notices(
        &self,
        incident_id: i64,
        by: &Principal,
        draft: &NoticeDraft,
        rate_per_min: i64,
    ) -> Result<NoticeRunRow> {
        if !(1..=MAX_RATE).contains(&rate_per_min) {
            return Err(RespondError::Invalid(
                "the rate is notices per minute, from 1 to 1,000,000",
            ));
        }
        let records = self.gateway().records();
        if records.incident_by_id(incident_id).await?.is_none() {
            return Err(RespondError::NotFound(incident_id));
        }
        if records.notice_run(incident_id).await?.is_some() {
            return Err(RespondError::Invalid(
                "the notices of this incident were started already: resume them",
            ));
        }
        let mut draft = draft.clone();
        if draft.desk.trim().is_empty() {
            draft.desk = self.default_desk_contact().await?;
        }
        let (json, sha) = draft.frozen()?;
        let Some(scope_row) = records.incident_scopes(incident_id).await?.pop() else {
            return Err(RespondError::Invalid(
                "compute the incident's scope before sending notices",
            ));
        };
        let total = saved_people(&scope_row.content)?.len() as i64;
        let started_at = Utc::now().timestamp();
        self.append(
            incident_id,
            by,
            EntryKind::StaffAction,
            &format!(
                "本人通知の送付を開始：対象 {total} 名、毎分 {rate_per_min} 通、影響範囲 {}、文面 SHA-256 {sha}",
                scope_row.id
            ),
            Some(&scope_row.id),
        )
        .await?;
        let run = NoticeRunRow {
            incident_id,
            scope_id: scope_row.id.clone(),
            draft: json,
            draft_sha256: sha,
            rate_per_min,
            total,
            started_at,
            started_by: principal_text(by),
            completed_at: None,
        };
        if !records.notice_run_insert(&run).await? {
            return Err(RespondError::Invalid(
                "the notices of this incident were started already: resume them",
            ));
        }
        Ok(run)
    }

    /// Queues every notice of the incident's run not queued yet, in batches, and marks the run
    /// complete (on the timeline) when none is left. Safe to call at any time, again and again,
    /// from several processes: a person already queued is skipped (and the store's key refuses
    /// a second notice anyway).
    ///
    /// With a bounce domain, each notice's envelope sender is its VERP address there
    /// ([`verp::address`]), so that its bounces come back to mamori's listener.
    pub async fn resume_notices(
        &self,
        incident_id: i64,
        opts: &NoticeOptions,
    ) -> Result<RunReport> {
        let bounce_domain = opts.bounce_domain.as_deref();
        let gw = self.gateway();
        let records = gw.records();
        let Some(run) = records.notice_run(incident_id).await? else {
            return Err(RespondError::Invalid(
                "no notice run was started for this incident",
            ));
        };
        let draft: NoticeDraft = serde_json::from_str(&run.draft)
            .map_err(|_| RespondError::Invalid("the run's draft cannot be read"))?;
        let scope_row = records
            .incident_scopes(incident_id)
            .await?
            .into_iter()
            .find(|s| s.id == run.scope_id)
            .ok_or(RespondError::Invalid("the run's scope snapshot is gone"))?;
        let shop = self.shop_settings().await?.name;
        let people = saved_people(&scope_row.content)?;
        let done: HashSet<String> = records
            .notice_customers(incident_id)
            .await?
            .into_iter()
            .collect();
        let mut report = RunReport {
            total: people.len() as u64,
            already: done.len() as u64,
            ..RunReport::default()
        };
        let acc = notice_accessor(incident_id);
        let todo: Vec<(i64, &String, &BTreeSet<String>)> = people
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| !done.contains(*c))
            .map(|(i, (c, f))| (i as i64, c, f))
            .collect();
        for chunk in todo.chunks(opts.batch.max(1)) {
            let targets: Vec<NoticeTarget> = chunk
                .iter()
                .map(|(pos, c, _)| NoticeTarget {
                    incident_id,
                    customer_id: (*c).clone(),
                    notice_id: uuid::Uuid::now_v7().to_string(),
                    position: *pos,
                    not_before: due_at(run.started_at, run.rate_per_min, *pos),
                })
                .collect();
            let items: BTreeMap<&str, Vec<String>> = chunk
                .iter()
                .map(|(_, c, f)| {
                    let f: Vec<String> = f.iter().cloned().collect();
                    (c.as_str(), items_ja(&f))
                })
                .collect();
            self.pace_to_read_budget(targets.len() as i64).await?;
            let r = gw
                .queue_notices(&acc, &targets, |contact| {
                    let mine = items.get(contact.target.customer_id.as_str())?;
                    let return_path = match bounce_domain {
                        Some(d) => Some(verp::address(gw, &contact.target.notice_id, d)?),
                        None => None,
                    };
                    notice_mail(&shop, mine, &draft, contact, return_path)
                })
                .await?;
            report.queued += r.queued;
            report.already += r.already;
            report.unreachable += r.unreachable;
            report.canaries += r.canaries;
        }
        if run.completed_at.is_none() {
            let progress = records.notice_progress(incident_id).await?;
            self.append(
                incident_id,
                &acc.principal,
                EntryKind::StaffAction,
                &format!(
                    "本人通知の登録を完了：対象 {} 名のうち {} 通を送信待ちに登録（宛先なし {} 名）",
                    report.total, progress.queued, report.unreachable
                ),
                None,
            )
            .await?;
            records
                .notice_run_complete(incident_id, Utc::now().timestamp())
                .await?;
        }
        Ok(report)
    }

    /// Waits until the notice job's read budget (`job:incident-notice`, per minute, hour and
    /// day) has room for `n` more people in every window, so that a run larger than a window's
    /// budget is paced by it instead of stopped by it (a stop would take an owner to lift). The
    /// count is the store's, so processes resuming the same run share it; a lift's reset is not
    /// subtracted, so the pace errs on the slow side. Refused when `n` alone exceeds a window.
    async fn pace_to_read_budget(&self, n: i64) -> Result<()> {
        let gw = self.gateway();
        let budgets = gw.read_budgets();
        let Some(rb) = budgets
            .roles
            .get(&format!("job:{NOTICE_JOB}"))
            .copied()
            .filter(|_| budgets.enabled)
        else {
            return Ok(());
        };
        let maxes = [rb.per_minute, rb.per_hour, rb.per_day];
        if maxes.iter().any(|m| n > *m) {
            return Err(RespondError::Invalid(
                "a notice batch is larger than the notice job's read budget: make batches smaller",
            ));
        }
        let key = principal_key(&Principal::System(NOTICE_JOB.into()));
        loop {
            let now = Utc::now().timestamp();
            let sinces: Vec<i64> = WINDOWS.iter().map(|w| now - w).collect();
            let used = gw.records().read_opens_counts(&key, &sinces).await?;
            if used.iter().zip(maxes).all(|(u, m)| u + n <= m) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// The notices that bounced permanently: the letters to send.
    pub async fn letters_to_send(&self, incident_id: i64) -> Result<Vec<NoticeRow>> {
        Ok(self
            .gateway()
            .records()
            .notices_bounced(incident_id)
            .await?)
    }
}
