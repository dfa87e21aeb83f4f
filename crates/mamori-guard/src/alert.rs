//! The alert model and [`Alerts::raise`].

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use mamori_mail::{MailContent, OutgoingMail, Recipient};
use mamori_store::{AlertRaised, AlertRow, Gateway, MailDraft, NewAlertRow, Records, StoreError};
use serde_json::json;

use crate::webhook::WebhookTarget;

/// Longest reason an acknowledgement may carry (characters).
pub const ACK_REASON_MAX_CHARS: usize = 500;

/// The kinds of alert raised so far (stable codes, stored and shown).
pub mod kinds {
    /// A watched file's content differs from the baseline.
    pub const FILE_CHANGED: &str = "file.changed";
    /// A watched file is gone.
    pub const FILE_MISSING: &str = "file.missing";
    /// A watched file's permissions differ from the baseline.
    pub const FILE_MODE: &str = "file.mode";
    /// A file appeared in a watched directory.
    pub const FILE_ADDED: &str = "file.added";
    /// The baseline is missing, unsigned or wrongly signed.
    pub const BASELINE_INVALID: &str = "baseline.invalid";
    /// A script a watched page executes differs from the known-good one (browser monitor).
    pub const SCRIPT_CHANGED: &str = "script.changed";
    /// A watched page executes a script it did not (browser monitor).
    pub const SCRIPT_ADDED: &str = "script.added";
    /// A watched page no longer executes a script it did (browser monitor).
    pub const SCRIPT_REMOVED: &str = "script.removed";
    /// A watched page has a form posting to an origin it did not (browser monitor).
    pub const FORM_ACTION: &str = "form.action";
    /// The CSP blocked a script from an origin not seen before on a payment or personal-data
    /// page (subject: the page's section, e.g. `page:/checkout`).
    pub const CSP_SCRIPT_BLOCKED: &str = "csp.script_blocked";
    /// A script mamori serves differs from its entry in the script inventory (subject: the
    /// script's inventory URL as a page): browsers refuse it until an owner lists the new digest.
    pub const SCRIPT_NOT_LISTED: &str = "script.not_listed";
    /// A watched page's main document sends a security header (CSP, HSTS, X-Frame-Options, ...)
    /// other than its known-good observation: added, removed or changed (browser monitor).
    pub const PAGE_HEADERS: &str = "page.headers";
    /// A watched page's document ended, after redirects, on another origin than its known-good
    /// observation (browser monitor).
    pub const PAGE_REDIRECT: &str = "page.redirect";
    /// A principal's plaintext read crossed its read budget: it is stopped (a member of staff's
    /// account disabled) until an owner lifts the stop (subject: `principal:staff:<id>`, ...).
    pub const READ_BUDGET: &str = "read.budget";
    /// A customer's session asked for another customer's data (a bug or an attack).
    pub const READ_CROSS_CUSTOMER: &str = "read.cross_customer";
    /// A canary customer was read in plaintext (subject: the canary's customer id).
    pub const CANARY_READ: &str = "canary.read";
    /// Mail came to a canary customer's address at the canary domain: the customer list is in
    /// someone's hands (subject: the canary's customer id; one alert per canary mailed).
    pub const CANARY_MAIL: &str = "canary.mail";
    /// Declined card payments past a card-testing threshold (クレジットマスター): per client
    /// address, session or card (subject `principal:card-ip:<key>`, `…card-session…`,
    /// `…card-fingerprint…`, keyed hashes), or shop-wide (`principal:card-shop`).
    pub const CARD_TESTING: &str = "card.testing";
    /// Failed sign-ins to many accounts from one source (subject
    /// `principal:login-member:<source key>` or `…login-staff…`).
    pub const LOGIN_STUFFING: &str = "login.stuffing";
}

/// How bad an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Someone should look.
    Warning,
    /// Someone should act now (e.g. the payment path changed).
    Critical,
}

impl Severity {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<Self> {
        [Severity::Info, Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            Severity::Info => "情報",
            Severity::Warning => "警告",
            Severity::Critical => "重大",
        }
    }
}

/// What an alert is about. Each is an identifier (a path, a route, an id), never a personal
/// value; the constructors are the only way to make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A page of the shop, by its route path (`/checkout/confirm`).
    Page(String),
    /// A file, by its path.
    File(String),
    /// A principal (a staff id, a system job's name).
    Principal(String),
    /// A customer, by id (the ledger entry names them, so "who was affected" finds it).
    Customer(String),
}

impl Subject {
    /// The stored form (`page:/checkout`, `file:/etc/mamori.toml`, `principal:…`, `customer:…`).
    pub fn as_stored(&self) -> String {
        match self {
            Subject::Page(p) => format!("page:{p}"),
            Subject::File(p) => format!("file:{p}"),
            Subject::Principal(p) => format!("principal:{p}"),
            Subject::Customer(c) => format!("customer:{c}"),
        }
    }
}

/// One occurrence of a condition to raise.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Its kind ([`kinds`]).
    pub kind: String,
    /// How bad.
    pub severity: Severity,
    /// What about.
    pub subject: Subject,
    /// Evidence: hashes, sizes, modes, URLs; never a personal value.
    pub evidence: serde_json::Value,
    /// When it was seen.
    pub at: DateTime<Utc>,
}

impl Alert {
    /// An occurrence seen now.
    pub fn new(
        kind: &str,
        severity: Severity,
        subject: Subject,
        evidence: serde_json::Value,
    ) -> Self {
        Self {
            kind: kind.to_owned(),
            severity,
            subject,
            evidence,
            at: Utc::now(),
        }
    }
}

/// Why the guard could not do something. Carries codes and fixed texts, never a value.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The store or the ledger failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Input refused (e.g. an acknowledgement without a reason).
    #[error("refused: {0}")]
    Invalid(&'static str),
    /// A mail could not be composed (a staff address that is not a mailbox).
    #[error("alert mail could not be composed")]
    Mail,
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (a fixed text).
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The baseline is missing, malformed, unsigned or wrongly signed.
    #[error("baseline refused: {0}")]
    Baseline(&'static str),
    /// The monitor's browser failed (did not start, a page did not load, a protocol error).
    #[error("browser: {0}")]
    Browser(String),
}

/// How alerts are delivered.
#[derive(Clone, Debug)]
pub struct AlertConfig {
    /// The shop's name, in the mail's subject.
    pub shop_name: String,
    /// The back office's origin (`https://admin.example.jp`), for the link in the mail.
    pub backoffice_origin: Option<String>,
    /// Where alerts are also posted, if anywhere.
    pub webhook: Option<WebhookTarget>,
}

/// Raises and acknowledges alerts. Cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    gateway: Gateway,
    config: Arc<AlertConfig>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Alerts")
    }
}

fn jst(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    // +09:00 is always a valid offset.
    match FixedOffset::east_opt(9 * 3600) {
        Some(off) => at.with_timezone(&off),
        None => at.fixed_offset(),
    }
}

impl Alerts {
    /// Alerts through `gateway` (store, outbox sealing, ledger), delivered as `config` says.
    pub fn new(gateway: Gateway, config: AlertConfig) -> Self {
        Self {
            gateway,
            config: Arc::new(config),
        }
    }

    /// The ledger (approvals are recorded in it).
    pub fn ledger(&self) -> &mamori_store::Ledger {
        self.gateway.ledger()
    }

    /// The store surface (for listings).
    pub fn records(&self) -> Arc<dyn Records> {
        self.gateway.records()
    }

    /// Raises an occurrence: stores it (a repeat of an ongoing alert only counts), and for a new
    /// alert queues its mail to every active owner and manager and its webhook in the same
    /// transaction, then appends it to the ledger. The one place alerts are raised.
    pub async fn raise(&self, alert: &Alert) -> Result<AlertRaised, GuardError> {
        let id = uuid::Uuid::now_v7().to_string();
        let subject = alert.subject.as_stored();
        let evidence = serde_json::to_string(&alert.evidence).unwrap_or_else(|_| "{}".into());
        let at = alert.at.timestamp();
        let row = NewAlertRow {
            id: id.clone(),
            kind: alert.kind.clone(),
            severity: alert.severity.as_str().to_owned(),
            subject: subject.clone(),
            evidence,
            at,
        };
        let mails = self.mails(&id, alert, &subject).await?;
        let webhook = self.config.webhook.as_ref().map(|_| {
            json!({
                "id": id,
                "kind": alert.kind,
                "severity": alert.severity.as_str(),
                "subject": subject,
                "evidence": alert.evidence,
                "at": at,
            })
            .to_string()
        });
        let customers = match &alert.subject {
            Subject::Customer(c) => vec![c.clone()],
            _ => Vec::new(),
        };
        let raised = self
            .gateway
            .raise_alert(&row, customers, &mails, webhook.as_deref())
            .await?;
        if raised.new {
            tracing::warn!(alert_id = %raised.id, kind = %alert.kind, subject = %subject,
                severity = alert.severity.as_str(), "alert raised");
        } else if raised.escalated {
            tracing::warn!(alert_id = %raised.id, kind = %alert.kind, subject = %subject,
                severity = alert.severity.as_str(), "alert escalated");
        }
        Ok(raised)
    }

    /// One mail per active owner and manager.
    async fn mails(
        &self,
        id: &str,
        alert: &Alert,
        subject: &str,
    ) -> Result<Vec<MailDraft>, GuardError> {
        let staff = self.gateway.records().staff_list().await?;
        let mut out = Vec::new();
        for s in staff
            .iter()
            .filter(|s| s.state == "active" && (s.role == "owner" || s.role == "manager"))
        {
            let to = Recipient::new(s.email.clone())
                .map_err(|_| GuardError::Mail)?
                .with_name(s.display_name.clone());
            let content = self.mail_content(id, alert, subject, &s.display_name);
            let mail =
                OutgoingMail::from_content(to, content).with_header("X-Mamori-Kind", "alert");
            out.push(MailDraft {
                kind: "guard_alert".to_owned(),
                payload: mail.to_payload(),
            });
        }
        Ok(out)
    }

    fn mail_content(&self, id: &str, alert: &Alert, subject: &str, name: &str) -> MailContent {
        let shop = &self.config.shop_name;
        let at = jst(alert.at).format("%Y-%m-%d %H:%M:%S");
        let sev = alert.severity;
        let evidence = serde_json::to_string_pretty(&alert.evidence).unwrap_or_default();
        let link = self
            .config
            .backoffice_origin
            .as_deref()
            .map(|o| format!("{}/alerts/{id}", o.trim_end_matches('/')))
            .unwrap_or_default();
        let text = format!(
            "{name} 様\n\n\
             {shop} で検知アラートが発生しました。\n\n\
             種類: {kind}\n重要度: {sev_ja}\n対象: {subject}\n日時: {at}（日本時間）\n\
             アラートID: {id}\n{link}\n\n\
             管理画面の「アラート」で内容を確認し、対応の上で確認済みにしてください（理由の記入が必要です）。\n\
             同じ状態が続く間は、このメールは繰り返し送られません。\n\n\
             証跡:\n{evidence}\n\n\
             ----\n\n\
             Dear {name},\n\n\
             {shop} raised a detection alert.\n\n\
             Kind: {kind}\nSeverity: {sev_en}\nSubject: {subject}\nTime: {at} (JST)\nAlert id: {id}\n\n\
             Look at it under Alerts in the back office and acknowledge it with a reason. While the \
             condition lasts, this mail is not sent again.\n",
            kind = alert.kind,
            sev_ja = sev.label_ja(),
            sev_en = sev.as_str(),
        );
        MailContent {
            subject: format!(
                "【{shop} 検知アラート・{}】{} / Alert: {}",
                sev.label_ja(),
                alert.kind,
                alert.kind
            ),
            text,
            html: None,
        }
    }

    /// Acknowledges an open alert as `staff_id` with `reason` (not blank, one line, at most
    /// [`ACK_REASON_MAX_CHARS`] characters); false when the alert is not open (unknown,
    /// acknowledged or closed already).
    pub async fn acknowledge(
        &self,
        alert_id: &str,
        staff_id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, GuardError> {
        let reason = check_reason(reason)?;
        Ok(self
            .gateway
            .records()
            .alert_acknowledge(alert_id, staff_id, reason, at.timestamp())
            .await?)
    }

    /// One alert.
    pub async fn get(&self, alert_id: &str) -> Result<Option<AlertRow>, GuardError> {
        Ok(self.gateway.records().alert_by_id(alert_id).await?)
    }
}

/// A reason as the acknowledgement and approval forms take it: trimmed, not blank, one line, at
/// most [`ACK_REASON_MAX_CHARS`] characters.
pub fn check_reason(reason: &str) -> Result<&str, GuardError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(GuardError::Invalid("a reason is required"));
    }
    if reason.contains(['\n', '\r']) {
        return Err(GuardError::Invalid("the reason must be one line"));
    }
    if reason.chars().count() > ACK_REASON_MAX_CHARS {
        return Err(GuardError::Invalid("the reason is too long"));
    }
    Ok(reason)
}
