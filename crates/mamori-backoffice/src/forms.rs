//! Small input and display helpers the pages share: dates in JST, yen, reasons, paging.

use chrono::{NaiveDate, TimeZone as _};
use mamori_domain::Yen;
use serde::Deserialize;

use crate::state::jst;

/// Rows per list page.
pub const PAGE_SIZE: i64 = 50;

/// Shortest and longest reason accepted for a reveal or an export (in characters).
pub const REASON_MIN: usize = 4;
/// See [`REASON_MIN`]; the gateway's own limit.
pub const REASON_MAX: usize = mamori_store::gateway::REASON_MAX_CHARS;

/// `1,234円`.
pub fn yen(v: i64) -> String {
    Yen(v).to_string()
}

/// A date field that is not `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a date (YYYY-MM-DD)")]
pub struct BadDate;

/// A `YYYY-MM-DD` date as the start of that day in JST, in microseconds. `Ok(None)` for an empty
/// field, [`BadDate`] for anything that is not a date.
pub fn day_start_us(text: Option<&str>) -> Result<Option<i64>, BadDate> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| BadDate)?;
    let start = date.and_hms_opt(0, 0, 0).ok_or(BadDate)?;
    let at = jst().from_local_datetime(&start).single().ok_or(BadDate)?;
    Ok(Some(at.timestamp_micros()))
}

/// One day in microseconds.
pub const DAY_US: i64 = 86_400_000_000;

/// A reason as given (trimmed), if it is long enough and not too long.
pub fn check_reason(text: &str) -> Result<String, (&'static str, &'static str)> {
    let t = text.trim();
    let n = t.chars().count();
    if n < REASON_MIN {
        return Err((
            "理由を4文字以上で入力してください。",
            "Please give a reason of at least 4 characters.",
        ));
    }
    if n > REASON_MAX {
        return Err((
            "理由は200文字以内で入力してください。",
            "Please keep the reason within 200 characters.",
        ));
    }
    if t.chars().any(char::is_control) {
        return Err((
            "理由は改行を含まない1行で入力してください。",
            "Please write the reason on one line.",
        ));
    }
    Ok(t.to_owned())
}

/// `?page=N` (1-based).
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// The page, from 1.
    pub page: Option<i64>,
}

/// The offset of a 1-based page.
pub fn offset(page: Option<i64>) -> i64 {
    (page.unwrap_or(1).clamp(1, 100_000) - 1) * PAGE_SIZE
}

/// Paging links of a listing.
#[derive(Debug, Clone)]
pub struct Pager {
    /// Current page (1-based).
    pub page: i64,
    /// Pages in all.
    pub pages: i64,
    /// Rows in all.
    pub total: i64,
    /// The listing's query without `page` (`state=paid&` or empty), for building links.
    pub query: String,
}

impl Pager {
    /// Paging for `total` rows at `page`.
    pub fn new(page: Option<i64>, total: i64, query: String) -> Self {
        let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        Self {
            page: page.unwrap_or(1).clamp(1, pages),
            pages,
            total,
            query,
        }
    }

    /// Whether a previous page exists.
    pub fn has_prev(&self) -> bool {
        self.page > 1
    }

    /// Whether a next page exists.
    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }

    /// The previous page's number.
    pub fn prev(&self) -> i64 {
        self.page - 1
    }

    /// The next page's number.
    pub fn next(&self) -> i64 {
        self.page + 1
    }
}

/// Builds `k=v&` pairs for the set values (URL-encoded), for paging links.
pub fn query_of(pairs: &[(&str, Option<&str>)]) -> String {
    let set: Vec<(&str, &str)> = pairs
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (*k, v)))
        .collect();
    if set.is_empty() {
        return String::new();
    }
    format!("{}&", serde_urlencoded::to_string(set).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_reasons_and_paging() {
        assert_eq!(day_start_us(None), Ok(None));
        assert_eq!(day_start_us(Some(" ")), Ok(None));
        assert!(day_start_us(Some("2026-13-01")).is_err());
        // 2026-01-01 00:00 JST is 2025-12-31 15:00 UTC.
        assert_eq!(
            day_start_us(Some("2026-01-01")),
            Ok(Some(1_767_193_200_000_000))
        );
        assert!(check_reason("  ab ").is_err());
        assert_eq!(check_reason(" 問い合わせ対応 ").unwrap(), "問い合わせ対応");
        assert!(check_reason(&"あ".repeat(201)).is_err());
        assert!(check_reason("line\u{0}break").is_err());
        assert_eq!(offset(None), 0);
        assert_eq!(offset(Some(3)), 100);
        let p = Pager::new(Some(9), 120, String::new());
        assert_eq!((p.page, p.pages), (3, 3));
        assert!(p.has_prev() && !p.has_next());
        assert_eq!(
            query_of(&[("state", Some("paid")), ("q", None)]),
            "state=paid&"
        );
        assert_eq!(yen(16_500), "16,500円");
    }
}
