//! What the "database copied" and "card data found" scopes add to an incident's page, and the
//! key-leak question of a copied database (施行規則7条 括弧書き): `POST /incidents/{id}/key-leak`
//! records the answer on the timeline (and so in the ledger); the next scope says what is owed.
//! Nothing here shows a customer's value: counts, field names, file paths and masked numbers.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    response::Response,
};
use mamori_respond::scope::db_copied::key_leak_in;
use mamori_respond::{AppiAssessment, CardScanScope, Desk, KeyLeak, RespondError};
use mamori_store::{Principal, TimelineRow};
use mamori_web::errors::{AppError, SafeForm};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::{back, Ctx},
    fail, stafflog,
    state::{fmt_secs, BackofficeState},
};

/// The parts of a saved scope the two kinds add (absent for the other kinds).
#[derive(Clone, Debug, Default)]
pub struct ScopeKindsView {
    /// The time the data was taken as stored (JST), "database copied".
    pub stored_at: String,
    /// Who was left out and why, and the limits of the computation.
    pub notes: Vec<String>,
    /// The APPI point.
    pub appi: Option<AppiAssessment>,
    /// What a card scan found.
    pub card: Option<CardScanScope>,
}

impl ScopeKindsView {
    /// From a saved scope's canonical JSON.
    pub fn from_content(content: &str) -> Self {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(content) else {
            return Self::default();
        };
        let part = |key: &str| v.get(key).cloned().unwrap_or(serde_json::Value::Null);
        Self {
            stored_at: part("stored_at").as_i64().map(fmt_secs).unwrap_or_default(),
            notes: serde_json::from_value(part("notes")).unwrap_or_default(),
            appi: serde_json::from_value(part("appi")).unwrap_or_default(),
            card: serde_json::from_value(part("card_scan")).unwrap_or_default(),
        }
    }
}

/// The key-leak answer on a timeline, as shown (empty when unanswered).
pub fn key_leak_label(timeline: &[TimelineRow]) -> String {
    key_leak_in(timeline)
        .map(|k| k.label_ja().to_owned())
        .unwrap_or_default()
}

/// `POST /incidents/{id}/key-leak` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLeakForm {
    /// `no`, `yes` or `unknown`.
    pub answer: String,
}

/// `POST /incidents/{id}/key-leak`: the answer to "may the key file have leaked with the copy?",
/// on the timeline and in the staff log.
pub async fn key_leak(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<i64>,
    SafeForm(form): SafeForm<KeyLeakForm>,
) -> Result<Response, AppError> {
    let to = format!("/incidents/{id}");
    let Some(answer) = KeyLeak::parse(&form.answer) else {
        return Err(AppError::BadRequest);
    };
    let by = Principal::Staff(c.staff_id().to_owned());
    match Desk::new(state.gateway.clone())
        .answer_key_leak(id, &by, answer)
        .await
    {
        Ok(e) => {
            stafflog::record(
                &state,
                &c,
                None,
                "incidents.key_leak",
                &id.to_string(),
                json!({ "answer": answer.as_str(), "seq": e.seq }),
            )
            .await?;
            Ok(back(
                &c,
                &to,
                Ok(c.t(
                    "鍵の漏えいの有無を記録しました。影響範囲を算出し直してください。",
                    "The answer was recorded. Compute the scope again.",
                )),
            ))
        }
        Err(RespondError::NotFound(_)) => Err(AppError::NotFound),
        Err(e) => Err(fail("incident key leak")(e)),
    }
}
