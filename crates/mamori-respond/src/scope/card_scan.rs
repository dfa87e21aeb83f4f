//! The scope of card data found on a server: what `mamori scan` found, by brand and by file, for
//! the card companies.
//!
//! The desk takes the scan's JSON Lines report (`mamori scan --format jsonl`: one object per
//! line, `"type": "finding"` for each number found). Only the brand, the masked number (the
//! scanner keeps the first six and last four digits; anything with more digits is refused) and
//! the location are kept; a card number never enters the scope.
//!
//! Why a parser here rather than a dependency on `mamori-scan`: the report is the scanner's
//! stable output format, and the back office (which depends on this crate) would otherwise pull
//! in the scanner's archive, compression and SQLite readers for nothing. The binary, which has
//! the scanner, can run it and hand its JSON Lines over.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::Scope;
use crate::desk::Desk;
use crate::{RespondError, Result};

/// Category code: card numbers found on a server.
pub const CARDS_FOUND: &str = "card_numbers_found";
/// Data item of a found card number.
pub const CARD_NUMBER_ITEM: &str = "card.number";
/// Largest report taken (bytes).
pub const MAX_REPORT: usize = 64 << 20;
/// Most digits a masked number may show (first six, last four).
const MAX_SHOWN_DIGITS: usize = 10;

/// One file (or archive member chain) with card numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFile {
    /// `path!member!member`.
    pub location: String,
    /// Numbers found in it.
    pub count: u64,
    /// Per brand.
    pub by_brand: BTreeMap<String, u64>,
    /// The distinct masked numbers (first six and last four digits at most).
    pub masked: Vec<String>,
}

/// What a scan found, summarised for the card companies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardScanScope {
    /// SHA-256 of the report as given (hex), so the summary can be tied to it.
    pub report_sha256: String,
    /// Numbers found (every occurrence).
    pub findings: u64,
    /// Distinct masked numbers.
    pub distinct_masked: u64,
    /// Occurrences per brand.
    pub by_brand: BTreeMap<String, u64>,
    /// Per file, sorted by location.
    pub files: Vec<CardFile>,
    /// Files the scan could not read (counted from its summary), which may hold more.
    pub scan_errors: u64,
}

/// Per file while reading: occurrences, per brand, distinct masked numbers.
type FileTally = (u64, BTreeMap<String, u64>, BTreeSet<String>);

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    masked: String,
    #[serde(default)]
    errors: u64,
}

impl CardScanScope {
    /// Summarises a `mamori scan --format jsonl` report. Refuses a report that is not one, and
    /// any finding whose number shows more than the first six and last four digits.
    pub fn from_jsonl(report: &[u8]) -> Result<Self> {
        if report.len() > MAX_REPORT {
            return Err(RespondError::Invalid("the scan report is too large"));
        }
        let text = std::str::from_utf8(report)
            .map_err(|_| RespondError::Invalid("the scan report is not UTF-8 JSON Lines"))?;
        let mut files: BTreeMap<String, FileTally> = BTreeMap::new();
        let mut by_brand: BTreeMap<String, u64> = BTreeMap::new();
        let mut distinct: BTreeSet<(String, String)> = BTreeSet::new();
        let mut findings = 0u64;
        let mut scan_errors = 0u64;
        let mut lines = 0usize;
        for raw in text.lines().filter(|l| !l.trim().is_empty()) {
            let line: Line = serde_json::from_str(raw).map_err(|_| {
                RespondError::Invalid("the scan report is not mamori scan's JSON Lines")
            })?;
            lines += 1;
            match line.kind.as_str() {
                "finding" => {
                    let shown = line.masked.chars().filter(char::is_ascii_digit).count();
                    if shown > MAX_SHOWN_DIGITS || line.masked.is_empty() {
                        return Err(RespondError::Invalid(
                            "a finding shows more than the first six and last four digits",
                        ));
                    }
                    if line.brand.is_empty() || line.path.is_empty() {
                        return Err(RespondError::Invalid("a finding lacks its brand or path"));
                    }
                    let mut location = line.path.clone();
                    for m in &line.members {
                        location.push('!');
                        location.push_str(m);
                    }
                    let f = files.entry(location).or_default();
                    f.0 += 1;
                    *f.1.entry(line.brand.clone()).or_default() += 1;
                    f.2.insert(line.masked.clone());
                    *by_brand.entry(line.brand.clone()).or_default() += 1;
                    distinct.insert((line.brand, line.masked));
                    findings += 1;
                }
                "summary" => scan_errors = line.errors,
                _ => {}
            }
        }
        if lines == 0 {
            return Err(RespondError::Invalid("the scan report is empty"));
        }
        Ok(Self {
            report_sha256: hex::encode(Sha256::digest(report)),
            findings,
            distinct_masked: distinct.len() as u64,
            by_brand,
            files: files
                .into_iter()
                .map(|(location, (count, by_brand, masked))| CardFile {
                    location,
                    count,
                    by_brand,
                    masked: masked.into_iter().collect(),
                })
                .collect(),
            scan_errors,
        })
    }
}

/// Puts a scan's summary into a scope: one category (numbers found), one data item (the card
/// number), and the summary itself.
pub(super) fn fill(scope: &mut Scope, scan: CardScanScope) {
    scope
        .categories
        .insert(CARDS_FOUND.to_owned(), scan.distinct_masked);
    scope
        .data_items
        .insert(CARD_NUMBER_ITEM.to_owned(), scan.distinct_masked);
    scope.notes.push(format!(
        "カード番号 {} 件（重複を除く {} 件、{} ファイル）。番号は先頭6桁・末尾4桁のみ保持",
        scan.findings,
        scan.distinct_masked,
        scan.files.len()
    ));
    if scan.scan_errors > 0 {
        scope.notes.push(format!(
            "走査できなかった入力が {} 件あり、さらに含まれている可能性がある",
            scan.scan_errors
        ));
    }
    scope.card_scan = Some(scan);
}

impl Desk {
    /// The card scan summary of an incident's latest snapshot, if it has one.
    pub(super) async fn latest_card_scan(&self, incident_id: i64) -> Result<Option<CardScanScope>> {
        let rows = self
            .gateway()
            .records()
            .incident_scopes(incident_id)
            .await?;
        for row in rows.iter().rev() {
            let v: serde_json::Value = serde_json::from_str(&row.content)
                .map_err(|_| RespondError::Invalid("a saved scope is not JSON"))?;
            if let Some(card) = v.get("card_scan") {
                let scan = serde_json::from_value(card.clone())
                    .map_err(|_| RespondError::Invalid("a saved card scan is unreadable"))?;
                return Ok(Some(scan));
            }
        }
        Ok(None)
    }
}
