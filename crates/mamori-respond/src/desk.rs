//! The incident record and its timeline.
//!
//! Every step is first recorded in the ledger as an [`Action::Incident`] event (purpose
//! `incident.<entry kind>`, request id `incident:<number>`, reason `sha256:<hex>` of the entry's
//! canonical text), then stored with that event's sequence number: the ledger over-reports rather
//! than holds an entry the timeline lacks, and a timeline entry altered later no longer matches
//! the hash the ledger holds. The timeline table refuses updates and deletes (triggers).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_store::access::AccessEvent;
use mamori_store::{
    incident_state, Accessor, Action, Gateway, IncidentRow, NewIncidentRow, Principal, Records,
    TimelineRow,
};
use sha2::{Digest as _, Sha256};

use crate::deadlines::{deadlines, Deadline};
use crate::kind::{EntryKind, IncidentKind};
use crate::{RespondError, Result};

/// Longest note or title (characters).
pub const TEXT_MAX_CHARS: usize = 2000;

/// A new incident as staff or the command line give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIncident {
    /// What kind.
    pub kind: IncidentKind,
    /// A short title (no customer's value).
    pub title: String,
    /// 発覚.
    pub known_at: DateTime<Utc>,
    /// The suspected window.
    pub window_from: Option<DateTime<Utc>>,
    /// End of the suspected window.
    pub window_to: Option<DateTime<Utc>>,
    /// The principal suspected (a staff id for a misused staff account).
    pub principal: Option<String>,
    /// The cause is 不正の目的 (規則7条3号).
    pub malicious: bool,
    /// The alert it is opened from.
    pub alert_id: Option<String>,
}

/// An incident with what the screens show about it.
#[derive(Clone, Debug)]
pub struct IncidentView {
    /// The record.
    pub row: IncidentRow,
    /// Its kind.
    pub kind: IncidentKind,
    /// Its timeline, oldest first.
    pub timeline: Vec<TimelineRow>,
    /// Its deadlines.
    pub deadlines: Vec<Deadline>,
}

/// The incident desk over a gateway (the ledger and the non-personal records through it).
#[derive(Clone, Debug)]
pub struct Desk {
    gw: Gateway,
}

pub(crate) fn principal_text(p: &Principal) -> String {
    match p {
        Principal::Customer(id) => format!("customer:{id}"),
        Principal::Guest(id) => format!("guest:{id}"),
        Principal::Staff(id) => format!("staff:{id}"),
        Principal::System(id) => format!("system:{id}"),
    }
}

fn checked_text(text: &str, what: &'static str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > TEXT_MAX_CHARS {
        return Err(RespondError::Invalid(what));
    }
    Ok(t.to_owned())
}

/// The SHA-256 the ledger holds for a timeline entry: over its incident, kind, time, actor,
/// reference and text, each length-prefixed so that no two entries share bytes.
pub fn entry_digest(
    incident_id: i64,
    kind: &str,
    at: i64,
    actor: &str,
    ref_id: Option<&str>,
    text: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        incident_id.to_string().as_str(),
        kind,
        at.to_string().as_str(),
        actor,
        ref_id.unwrap_or(""),
        text,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Desk {
    /// A desk over `gw`.
    pub fn new(gw: Gateway) -> Self {
        Self { gw }
    }

    /// The gateway (for the scope).
    pub(crate) fn gateway(&self) -> &Gateway {
        &self.gw
    }

    fn records(&self) -> Arc<dyn Records> {
        self.gw.records()
    }

    /// Opens an incident: stores it and appends its first timeline entry (and, when opened from
    /// an alert, an entry naming the alert). Returns its number.
    pub async fn open(&self, by: &Principal, new: &NewIncident) -> Result<i64> {
        let title = checked_text(&new.title, "a title is required (at most 2000 characters)")?;
        if let (Some(f), Some(t)) = (new.window_from, new.window_to) {
            if f > t {
                return Err(RespondError::Invalid("the window ends before it starts"));
            }
        }
        let records = self.records();
        if let Some(alert) = &new.alert_id {
            if records.alert_by_id(alert).await?.is_none() {
                return Err(RespondError::Invalid("no such alert"));
            }
        }
        let now = Utc::now().timestamp();
        let id = records
            .incident_insert(&NewIncidentRow {
                kind: new.kind.as_str().to_owned(),
                title,
                known_at: new.known_at.timestamp(),
                window_from: new.window_from.map(|t| t.timestamp()),
                window_to: new.window_to.map(|t| t.timestamp()),
                principal: new.principal.clone(),
                malicious: new.malicious,
                alert_id: new.alert_id.clone(),
                opened_by: principal_text(by),
                opened_at: now,
            })
            .await?;
        let text = format!(
            "{}（発覚 {}）",
            new.kind.label_ja(),
            new.known_at
                .with_timezone(&mamori_domain::time::jst())
                .format("%Y-%m-%d %H:%M JST")
        );
        self.append(id, by, EntryKind::Opened, &text, None).await?;
        if let Some(alert) = &new.alert_id {
            self.append(
                id,
                by,
                EntryKind::Alert,
                "起票の元になった検知アラート",
                Some(alert),
            )
            .await?;
        }
        Ok(id)
    }

    /// Appends a timeline entry: recorded in the ledger first, then stored with the ledger's
    /// sequence number. Returns the stored entry.
    pub async fn append(
        &self,
        incident_id: i64,
        by: &Principal,
        kind: EntryKind,
        text: &str,
        ref_id: Option<&str>,
    ) -> Result<TimelineRow> {
        let text = checked_text(text, "the entry needs text (at most 2000 characters)")?;
        let records = self.records();
        if records.incident_by_id(incident_id).await?.is_none() {
            return Err(RespondError::NotFound(incident_id));
        }
        let at = Utc::now().timestamp();
        let actor = principal_text(by);
        let digest = entry_digest(incident_id, kind.as_str(), at, &actor, ref_id, &text);
        let acc = Accessor {
            principal: by.clone(),
            purpose: format!("incident.{}", kind.as_str()),
            request_id: format!("incident:{incident_id}"),
            channel: ref_id.map(|r| r.to_owned()),
            reason: Some(format!("sha256:{digest}")),
        };
        let ledger_seq = self
            .gw
            .ledger()
            .record(&AccessEvent::new(&acc, Action::Incident, Vec::new(), &[]))
            .await?;
        let mut row = TimelineRow {
            incident_id,
            seq: 0,
            at,
            kind: kind.as_str().to_owned(),
            actor,
            text,
            ref_id: ref_id.map(|r| r.to_owned()),
            ledger_seq: i64::try_from(ledger_seq).unwrap_or(i64::MAX),
        };
        row.seq = records.incident_timeline_append(&row).await?;
        Ok(row)
    }

    /// Adds a note.
    pub async fn note(&self, incident_id: i64, by: &Principal, text: &str) -> Result<TimelineRow> {
        self.append(incident_id, by, EntryKind::Note, text, None)
            .await
    }

    /// Moves an incident to `state` ([`incident_state`]) and says so on the timeline.
    pub async fn set_state(&self, incident_id: i64, by: &Principal, state: &str) -> Result<()> {
        let label = match state {
            incident_state::OPEN => "対応中",
            incident_state::CONTAINED => "封じ込め済み",
            incident_state::CLOSED => "終了",
            _ => return Err(RespondError::Invalid("unknown incident state")),
        };
        let at = Utc::now().timestamp();
        if !self
            .records()
            .incident_set_state(incident_id, state, at)
            .await?
        {
            return Err(RespondError::NotFound(incident_id));
        }
        self.append(
            incident_id,
            by,
            EntryKind::State,
            &format!("状態を「{label}」に変更"),
            None,
        )
        .await?;
        Ok(())
    }

    /// Incidents, newest first.
    pub async fn list(&self, offset: i64, limit: i64) -> Result<Vec<IncidentRow>> {
        Ok(self.records().incidents_list(offset, limit).await?)
    }

    /// One incident with its timeline and deadlines.
    pub async fn show(&self, incident_id: i64) -> Result<IncidentView> {
        let records = self.records();
        let row = records
            .incident_by_id(incident_id)
            .await?
            .ok_or(RespondError::NotFound(incident_id))?;
        let kind = IncidentKind::parse(&row.kind).unwrap_or(IncidentKind::Other);
        let known = DateTime::<Utc>::from_timestamp(row.known_at, 0).unwrap_or_default();
        let timeline = records.incident_timeline(incident_id).await?;
        Ok(IncidentView {
            deadlines: deadlines(known, row.malicious != 0, kind.involves_cards()),
            kind,
            row,
            timeline,
        })
    }
}
