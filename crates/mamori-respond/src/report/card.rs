//! The card companies' / acquirer's report: the payment attempts made in the scope's window of
//! a payment-page or card-script incident (the provider's payment ids, brand, time in Japanese
//! time, amount), and the incident's timeline, each as CSV.
//!
//! The CSV is UTF-8 with a byte-order mark: Excel in Japan opens BOM-less UTF-8 as Shift_JIS and
//! garbles it, while every other tool reads the BOM. No card number is listed, not even its last
//! four digits: the shop never holds a card number (the provider does), and the acquirer finds
//! the cards from its own payment ids.

use mamori_store::{CardAttemptRow, TimelineRow};

use super::{time_ja, ScopeFacts};
use crate::desk::Desk;
use crate::kind::{EntryKind, IncidentKind};
use crate::{RespondError, Result};

/// UTF-8's byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The card companies' report of an incident.
#[derive(Clone, Debug)]
pub struct CardReport {
    /// The incident's number.
    pub incident_id: i64,
    /// The scope it follows.
    pub scope: ScopeFacts,
    /// The attempts, by time.
    pub attempts: Vec<CardAttemptRow>,
    /// The timeline, oldest first.
    pub timeline: Vec<TimelineRow>,
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(BOM.to_vec());
    let fail = |e: csv::Error| RespondError::Render(format!("csv: {e}"));
    w.write_record(header).map_err(fail)?;
    for r in rows {
        w.write_record(&r).map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| RespondError::Render(format!("csv: {}", e.error())))
}

/// Japanese label of a payment attempt's state code (the code itself when unknown).
fn status_ja(code: &str) -> &str {
    mamori_domain::PaymentAttemptState::parse(code)
        .map(|s| s.label_ja())
        .unwrap_or(code)
}

impl CardReport {
    /// The attempts as CSV (UTF-8 with BOM).
    pub fn attempts_csv(&self) -> Result<Vec<u8>> {
        csv_bytes(
            &[
                "決済ID",
                "決済代行会社",
                "カードブランド",
                "決済日時（日本時間）",
                "金額（円）",
                "状態",
                "注文番号",
            ],
            self.attempts.iter().map(|a| {
                vec![
                    a.payment_id.clone(),
                    a.provider.clone(),
                    a.brand.clone().unwrap_or_default(),
                    time_ja(a.created_at),
                    a.amount.to_string(),
                    status_ja(&a.status).to_owned(),
                    a.order_number.clone(),
                ]
            }),
        )
    }

    /// The timeline as CSV (UTF-8 with BOM).
    pub fn timeline_csv(&self) -> Result<Vec<u8>> {
        csv_bytes(
            &[
                "番号",
                "日時（日本時間）",
                "種類",
                "操作者",
                "内容",
                "参照",
                "台帳番号",
            ],
            self.timeline.iter().map(|e| {
                vec![
                    e.seq.to_string(),
                    time_ja(e.at),
                    EntryKind::label_ja(&e.kind).to_owned(),
                    e.actor.clone(),
                    e.text.clone(),
                    e.ref_id.clone().unwrap_or_default(),
                    e.ledger_seq.to_string(),
                ]
            }),
        )
    }
}

impl Desk {
    /// The card companies' report of a payment-page or card-script incident: the attempts of
    /// its latest scope's window and its timeline. Needs a computed scope.
    pub async fn card_report(&self, incident_id: i64) -> Result<CardReport> {
        let records = self.gateway().records();
        let row = records
            .incident_by_id(incident_id)
            .await?
            .ok_or(RespondError::NotFound(incident_id))?;
        if !matches!(
            IncidentKind::parse(&row.kind),
            Some(IncidentKind::PaymentPageAltered | IncidentKind::CardScriptAltered)
        ) {
            return Err(RespondError::Invalid(
                "the card companies' report is for a payment-page or card-script incident",
            ));
        }
        let Some(snapshot) = records.incident_scopes(incident_id).await?.pop() else {
            return Err(RespondError::Invalid(
                "compute the incident's scope first: the report lists its payment attempts",
            ));
        };
        let (Some(from), Some(to)) = (row.window_from, row.window_to) else {
            return Err(RespondError::Invalid("the incident has no window"));
        };
        Ok(CardReport {
            incident_id,
            scope: ScopeFacts::from_row(&snapshot),
            attempts: records.card_page_attempts(from, to).await?,
            timeline: records.incident_timeline(incident_id).await?,
        })
    }
}
