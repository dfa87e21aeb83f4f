//! The CSP violation report endpoint and the sink its reports go to.
//!
//! Browsers send two formats: the older `report-uri` one (`application/csp-report`, a single
//! `{"csp-report": {...}}`) and the Reporting API one (`application/reports+json`, a list of
//! `{"type": "csp-violation", "body": {...}}`). Both become [`CspReport`]s.
//!
//! A report is written by the customer's browser and may quote the page's URL, so URLs are cut
//! at `?` and `#` (a query can hold an email address or an order number) and every field is
//! truncated. Reports are not logged field by field; the sink decides what to keep.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the report endpoint is mounted.
pub const CSP_REPORT_PATH: &str = "/_mamori/csp-report";

/// Longest text kept from any report field.
const FIELD_MAX: usize = 512;
/// Most reports accepted from one request body.
const REPORTS_PER_BODY_MAX: usize = 32;

/// One CSP violation as the browser described it, cleaned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CspReport {
    /// The page where it happened, without query or fragment.
    pub document_uri: String,
    /// What was blocked: a URL without query or fragment, or `inline` / `eval`.
    pub blocked_uri: String,
    /// The directive that blocked it (`script-src-elem`, `form-action`, ...).
    pub effective_directive: String,
    /// `enforce` or `report`.
    pub disposition: String,
    /// The script that caused it, without query or fragment, if the browser said.
    pub source_file: Option<String>,
    /// Its line, if the browser said.
    pub line_number: Option<u64>,
    /// The first characters of an inline script or style, if the browser sent them.
    pub sample: Option<String>,
    /// When the report arrived.
    pub received_at: DateTime<Utc>,
}

/// A sink could not keep a report.
#[derive(Debug, thiserror::Error)]
#[error("the CSP report sink failed: {0}")]
pub struct CspSinkError(pub String);

/// Where CSP violation reports go (the in-memory one here; the detection work adds a store).
#[async_trait]
pub trait CspReportSink: Send + Sync + 'static {
    /// Keeps one report.
    async fn record(&self, report: CspReport) -> Result<(), CspSinkError>;
}

/// Keeps the latest reports in memory, dropping the oldest past its capacity.
#[derive(Debug)]
pub struct MemoryCspReportSink {
    capacity: usize,
    reports: Mutex<VecDeque<CspReport>>,
}

impl MemoryCspReportSink {
    /// A sink holding at most `capacity` reports.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            reports: Mutex::new(VecDeque::new()),
        }
    }

    /// The reports held, oldest first.
    pub fn reports(&self) -> Vec<CspReport> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<CspReport>> {
        self.reports.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryCspReportSink {
    fn default() -> Self {
        Self::new(1000)
    }
}

#[async_trait]
impl CspReportSink for MemoryCspReportSink {
    async fn record(&self, report: CspReport) -> Result<(), CspSinkError> {
        let mut reports = self.lock();
        while reports.len() >= self.capacity {
            reports.pop_front();
        }
        reports.push_back(report);
        Ok(())
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(FIELD_MAX) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

fn clean_url(s: &str) -> String {
    let end = s.find(['?', '#']).unwrap_or(s.len());
    truncate(&s[..end])
}

fn text(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn report_from(body: &Value, now: DateTime<Utc>) -> Option<CspReport> {
    let directive = text(body, &["effective-directive", "effectiveDirective"])
        .or_else(|| text(body, &["violated-directive"]))?;
    Some(CspReport {
        document_uri: clean_url(&text(body, &["document-uri", "documentURL"]).unwrap_or_default()),
        blocked_uri: clean_url(&text(body, &["blocked-uri", "blockedURL"]).unwrap_or_default()),
        effective_directive: truncate(&directive),
        disposition: truncate(&text(body, &["disposition"]).unwrap_or_else(|| "enforce".into())),
        source_file: text(body, &["source-file", "sourceFile"]).map(|s| clean_url(&s)),
        line_number: ["line-number", "lineNumber"]
            .iter()
            .find_map(|k| body.get(*k))
            .and_then(Value::as_u64),
        sample: text(body, &["script-sample", "sample"]).map(|s| truncate(&s)),
        received_at: now,
    })
}

/// Parses a report body in either format. Returns `None` if it is neither.
pub fn parse_csp_reports(body: &[u8], now: DateTime<Utc>) -> Option<Vec<CspReport>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value {
        Value::Object(_) => {
            let inner = value.get("csp-report")?;
            Some(report_from(inner, now).into_iter().collect())
        }
        Value::Array(items) => Some(
            items
                .iter()
                .take(REPORTS_PER_BODY_MAX)
                .filter(|item| item.get("type").and_then(Value::as_str) == Some("csp-violation"))
                .filter_map(|item| item.get("body"))
                .filter_map(|b| report_from(b, now))
                .collect(),
        ),
        _ => None,
    }
}

/// The report endpoint's handler (`POST` [`CSP_REPORT_PATH`]): 204 on success, 400 for a body
/// in neither format, 415 for another content type.
pub async fn csp_report_handler(
    State(sink): State<Arc<dyn CspReportSink>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(
        content_type.as_str(),
        "application/csp-report" | "application/reports+json" | "application/json"
    ) {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    let Some(reports) = parse_csp_reports(&body, Utc::now()) else {
        return StatusCode::BAD_REQUEST;
    };
    for report in reports {
        // Only the directive is logged: URLs and samples stay in the sink.
        tracing::warn!(directive = %report.effective_directive, "CSP violation reported");
        if let Err(err) = sink.record(report).await {
            tracing::error!(error = %err, "could not keep a CSP report");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn both_formats_parse_and_urls_lose_their_query() {
        let now = Utc::now();
        let legacy = br#"{"csp-report":{"document-uri":"https://shop.example/mypage?email=taro%40example.jp#x",
            "blocked-uri":"https://evil.example/skim.js?card=1","violated-directive":"script-src-elem",
            "effective-directive":"script-src-elem","disposition":"enforce","line-number":12}}"#;
        let r = parse_csp_reports(legacy, now).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].document_uri, "https://shop.example/mypage");
        assert_eq!(r[0].blocked_uri, "https://evil.example/skim.js");
        assert_eq!(r[0].effective_directive, "script-src-elem");
        assert_eq!(r[0].line_number, Some(12));

        let modern = br#"[{"type":"csp-violation","url":"https://shop.example/checkout","body":{
            "documentURL":"https://shop.example/checkout?order=123","blockedURL":"inline",
            "effectiveDirective":"script-src-elem","disposition":"enforce","sample":"var x=1"}},
            {"type":"deprecation","body":{}}]"#;
        let r = parse_csp_reports(modern, now).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].document_uri, "https://shop.example/checkout");
        assert_eq!(r[0].blocked_uri, "inline");
        assert_eq!(r[0].sample.as_deref(), Some("var x=1"));

        assert!(parse_csp_reports(b"not json", now).is_none());
        assert!(parse_csp_reports(b"{\"other\":1}", now).is_none());
    }

    #[tokio::test]
    async fn the_memory_sink_is_bounded() {
        let sink = MemoryCspReportSink::new(2);
        let now = Utc::now();
        for i in 0..3 {
            let mut r =
                parse_csp_reports(br#"{"csp-report":{"effective-directive":"img-src"}}"#, now)
                    .unwrap()
                    .remove(0);
            r.line_number = Some(i);
            sink.record(r).await.unwrap();
        }
        let kept: Vec<_> = sink.reports().iter().map(|r| r.line_number).collect();
        assert_eq!(kept, vec![Some(1), Some(2)]);
    }
}
