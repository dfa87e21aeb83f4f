//! Rows the tests of several crates start from, written through the store (no page, no desk).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use mamori_store::{IncidentStore, NewIncidentRow, PublicNoticeVersionRow};

/// An incident of `kind` (e.g. `database_copied`) opened from the command line at `at` (Unix
/// seconds, also when it became known); its id.
pub async fn open_incident<S: IncidentStore + ?Sized>(store: &S, kind: &str, at: i64) -> i64 {
    store
        .incident_insert(&NewIncidentRow {
            kind: kind.into(),
            title: "t".into(),
            known_at: at,
            window_from: None,
            window_to: None,
            principal: None,
            malicious: false,
            alert_id: None,
            opened_by: "cli".into(),
            opened_at: at,
        })
        .await
        .unwrap()
}

/// A version of an incident's public notice saved by an owner at 1_800_000_000, with `body` in
/// both languages (the store numbers it on save).
pub fn notice_version(incident_id: i64, body: &str) -> PublicNoticeVersionRow {
    PublicNoticeVersionRow {
        incident_id,
        version: 99,
        saved_at: 1_800_000_000,
        saved_by: "staff:owner".into(),
        reason: "初版".into(),
        scope_id: None,
        title_ja: "お詫びとお知らせ".into(),
        body_ja: body.into(),
        title_en: "Apology and notice".into(),
        body_en: format!("{body} (en)"),
        content_sha256: format!("sha-of-{body}"),
    }
}
