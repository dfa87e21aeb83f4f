//! The CSP report parser on arbitrary bodies, in both formats (`report-uri`'s single
//! `{"csp-report": ...}` and the Reporting API's list). Every report it returns is bounded and
//! has lost its URLs' query and fragment.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_web::security::parse_csp_reports;

/// Longest field kept, in characters (the parser's own limit).
const FIELD_MAX: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some(now) = Utc.timestamp_opt(1_780_000_000, 0).single() else {
        return;
    };
    let Some(reports) = parse_csp_reports(data, now) else {
        return;
    };
    assert!(
        reports.len() <= 32,
        "{} reports from one body",
        reports.len()
    );
    for r in &reports {
        for url in [
            Some(&r.document_uri),
            Some(&r.blocked_uri),
            r.source_file.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(
                !url.contains(['?', '#']),
                "a URL kept its query or fragment"
            );
            assert!(url.chars().count() <= FIELD_MAX);
        }
        for field in [
            Some(&r.effective_directive),
            Some(&r.disposition),
            r.sample.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(field.chars().count() <= FIELD_MAX);
        }
        assert_eq!(r.received_at, now);
    }
});
