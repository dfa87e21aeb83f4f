//! CSP reports from every page of the shop: stored aggregated, and alerted when a script from a
//! new origin is blocked on a payment or personal-data page.
//!
//! [`GuardCspSink`] is the [`CspReportSink`] the web stack's report endpoint writes to. Each report
//! is cut to its aggregate's key (the page's path without query, the effective directive, the
//! blocked resource's origin or keyword) and counted in the store
//! ([`mamori_store::CspReportStore`]). When the aggregate is new, the page is a payment or
//! personal-data page ([`page_class`]) and the directive is a script one, it raises
//! [`kinds::CSP_SCRIPT_BLOCKED`](crate::kinds::CSP_SCRIPT_BLOCKED) through [`Alerts::raise`]:
//! critical on a payment page, a warning otherwise.
//!
//! The endpoint is public, so reports can be forged. The store keeps at most
//! [`CSP_AGGREGATES_MAX`] aggregates (a repeat only bumps a count), and the alert's subject is the
//! page's section (`/checkout`, `/mypage`, ...), one of a fixed few, so that de-duplication keeps a
//! flood to one mail per section until the alert is closed.

use async_trait::async_trait;
use mamori_store::{CspRecorded, NewCspReport, CSP_AGGREGATES_MAX};
use mamori_web::security::{CspReport, CspReportSink, CspSinkError};
use serde_json::json;

use crate::{kinds, Alert, Alerts, Severity, Subject};

/// Longest page path kept (characters).
const PAGE_MAX: usize = 256;
/// Longest origin or keyword kept (characters).
const ORIGIN_MAX: usize = 256;
/// Longest directive kept (characters).
const DIRECTIVE_MAX: usize = 64;

/// The directives that block scripts.
pub const SCRIPT_DIRECTIVES: &[&str] = &["script-src", "script-src-elem", "script-src-attr"];

/// Pages where a customer pays: a blocked script there is critical.
const PAYMENT_SECTIONS: &[&str] = &["/checkout"];
/// Pages that show or take a customer's personal data.
const PERSONAL_SECTIONS: &[&str] = &[
    "/cart",
    "/mypage",
    "/account",
    "/orders",
    "/register",
    "/login",
    "/password",
    "/withdrawn",
];

/// What kind of page a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageClass {
    /// A payment page, in the section named.
    Payment(&'static str),
    /// A personal-data page, in the section named.
    Personal(&'static str),
    /// Any other page.
    Other,
}

fn in_section(path: &str, section: &str) -> bool {
    path.strip_prefix(section)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The class of the shop's page at `path`.
pub fn page_class(path: &str) -> PageClass {
    if let Some(s) = PAYMENT_SECTIONS.iter().find(|s| in_section(path, s)) {
        return PageClass::Payment(s);
    }
    if let Some(s) = PERSONAL_SECTIONS.iter().find(|s| in_section(path, s)) {
        return PageClass::Personal(s);
    }
    PageClass::Other
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// Splits `scheme://authority/rest` into its scheme and authority (without user info).
fn scheme_authority(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    Some((scheme, authority, &rest[end..]))
}

/// The blocked resource as kept: `scheme://host[:port]` for a URL, else the keyword before any
/// `:` (`inline`, `eval`, `data`, `blob`), lower case; `none` when the browser sent nothing.
pub fn blocked_origin(blocked_uri: &str) -> String {
    let b = blocked_uri.trim();
    let kept = match scheme_authority(b) {
        Some((scheme, authority, _)) => format!("{scheme}://{authority}"),
        None => b.split(':').next().unwrap_or_default().to_owned(),
    };
    let kept = kept.to_ascii_lowercase();
    if kept.is_empty() {
        "none".to_owned()
    } else {
        cut(&kept, ORIGIN_MAX)
    }
}

/// The page as kept: the document URL's path, without query or fragment (`/` when none).
pub fn page_path(document_uri: &str) -> String {
    let d = document_uri.trim();
    let path = match scheme_authority(d) {
        Some((_, _, rest)) => rest,
        None => d,
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = &path[..end];
    if path.starts_with('/') {
        cut(path, PAGE_MAX)
    } else {
        "/".to_owned()
    }
}

/// The document's URL as kept: origin and path, no query.
fn document_sample(document_uri: &str) -> String {
    match scheme_authority(document_uri.trim()) {
        Some((scheme, authority, _)) => cut(
            &format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase(),
                page_path(document_uri)
            ),
            PAGE_MAX * 2,
        ),
        None => page_path(document_uri),
    }
}

/// The CSP report sink over the store and the alerts.
#[derive(Clone, Debug)]
pub struct GuardCspSink {
    alerts: Alerts,
    max_aggregates: i64,
    backoffice: bool,
}

/// The page name prefix of the back office's reports (its paths overlap the shop's).
pub const BACKOFFICE_PAGE_PREFIX: &str = "backoffice:";

impl GuardCspSink {
    /// Reports stored through `alerts`' store, alerts raised through `alerts`.
    pub fn new(alerts: Alerts) -> Self {
        Self {
            alerts,
            max_aggregates: CSP_AGGREGATES_MAX,
            backoffice: false,
        }
    }

    /// The sink of the back office's own report endpoint: pages kept as `backoffice:/path`, and a
    /// script blocked on any of them is critical (every back-office page is a member of staff's,
    /// who can open customers).
    pub fn for_backoffice(alerts: Alerts) -> Self {
        Self {
            backoffice: true,
            ..Self::new(alerts)
        }
    }

    /// The same with another cap on the aggregates kept (tests).
    pub fn with_max_aggregates(mut self, max: i64) -> Self {
        self.max_aggregates = max.max(1);
        self
    }

    /// Records `report`; returns what the store did and whether an alert was raised.
    pub async fn handle(
        &self,
        report: &CspReport,
    ) -> Result<(CspRecorded, bool), crate::GuardError> {
        let page = page_path(&report.document_uri);
        let row = NewCspReport {
            page: if self.backoffice {
                cut(&format!("{BACKOFFICE_PAGE_PREFIX}{page}"), PAGE_MAX)
            } else {
                page
            },
            directive: cut(
                &report.effective_directive.to_ascii_lowercase(),
                DIRECTIVE_MAX,
            ),
            blocked_origin: blocked_origin(&report.blocked_uri),
            document: document_sample(&report.document_uri),
            at: report.received_at.timestamp(),
        };
        let recorded = self
            .alerts
            .records()
            .csp_report_record(&row, self.max_aggregates)
            .await?;
        if recorded == CspRecorded::Full {
            tracing::warn!(directive = %row.directive, "CSP report aggregates full; report not stored");
        }
        // A new aggregate alerts; so does one the full table could not keep (de-duplication by
        // section keeps that to one alert).
        if recorded == CspRecorded::Counted || !SCRIPT_DIRECTIVES.contains(&row.directive.as_str())
        {
            return Ok((recorded, false));
        }
        let (severity, section) = if self.backoffice {
            (Severity::Critical, "backoffice")
        } else {
            match page_class(&row.page) {
                PageClass::Payment(s) => (Severity::Critical, s),
                PageClass::Personal(s) => (Severity::Warning, s),
                PageClass::Other => return Ok((recorded, false)),
            }
        };
        let alert = Alert {
            at: report.received_at,
            ..Alert::new(
                kinds::CSP_SCRIPT_BLOCKED,
                severity,
                Subject::Page(section.to_owned()),
                json!({
                    "page": row.page,
                    "directive": row.directive,
                    "blocked_origin": row.blocked_origin,
                    "disposition": cut(&report.disposition, DIRECTIVE_MAX),
                    "report_count": 1,
                    "stored": recorded == CspRecorded::New,
                }),
            )
        };
        self.alerts.raise(&alert).await?;
        Ok((recorded, true))
    }
}

#[async_trait]
impl CspReportSink for GuardCspSink {
    async fn record(&self, report: CspReport) -> Result<(), CspSinkError> {
        self.handle(&report)
            .await
            .map(|_| ())
            .map_err(|e| CspSinkError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_classed_by_section() {
        assert_eq!(page_class("/checkout"), PageClass::Payment("/checkout"));
        assert_eq!(
            page_class("/checkout/confirm"),
            PageClass::Payment("/checkout")
        );
        assert_eq!(page_class("/checkouts"), PageClass::Other);
        assert_eq!(
            page_class("/mypage/orders/A-1"),
            PageClass::Personal("/mypage")
        );
        assert_eq!(page_class("/login"), PageClass::Personal("/login"));
        assert_eq!(page_class("/product/PT-1"), PageClass::Other);
        assert_eq!(page_class("/"), PageClass::Other);
    }

    #[test]
    fn only_origins_and_paths_are_kept() {
        assert_eq!(
            blocked_origin("https://User:pw@Evil.example:8443/skim.js?card=1#x"),
            "https://evil.example:8443"
        );
        assert_eq!(blocked_origin("inline"), "inline");
        assert_eq!(blocked_origin("eval"), "eval");
        assert_eq!(blocked_origin("data:text/javascript,alert(1)"), "data");
        assert_eq!(blocked_origin(""), "none");
        assert_eq!(
            page_path("https://shop.example/mypage/email/confirm?token=abc#t"),
            "/mypage/email/confirm"
        );
        assert_eq!(page_path("https://shop.example"), "/");
        assert_eq!(page_path("about:blank"), "/");
        assert_eq!(
            document_sample("HTTPS://Shop.example/checkout?email=a%40b.jp"),
            "https://shop.example/checkout"
        );
    }
}
