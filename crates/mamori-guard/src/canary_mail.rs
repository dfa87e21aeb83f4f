//! Phishing canaries: mamori's own SMTP listener for the canary domain (the domain's MX points to
//! it). Any message to a planted canary's address means the customer list is in someone's hands:
//! it raises [`kinds::CANARY_MAIL`] (critical) for every canary among the recipients, through
//! [`Alerts::raise`], before the message is acknowledged with 250.
//!
//! # Why a hand-written receiver
//!
//! The SMTP server crates on crates.io did not fit: `mailin-embedded` serves with blocking I/O on
//! a thread pool of its own (outside the tokio runtime the store and the alerts run on) and leaves
//! message size, idle timeouts and the number of connections to the caller; `samotop` is built on
//! async-std and no longer maintained. What a receive-only MX for one domain needs is a small
//! subset of RFC 5321 (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY), written here with
//! tokio, with every resource bounded: the line length, the message size, the recipients per
//! message, the connections at once, the bad commands per session, and a timeout on every read
//! and write and on the whole session. It relays nothing: RCPT is accepted only for the canary
//! domain (550 otherwise), and nothing it receives is ever sent on.
//!
//! # What is kept
//!
//! Each accepted message is kept sealed (`canary_mails`, [`Gateway::record_canary_mail`]) with
//! the canaries it was sent to, for the incident desk. The alert's evidence names the canary by
//! customer id (the alert's subject, as `canary.read` does), never by its address: the sender's
//! and the `From:` header's domains, the subject and the links (truncated, with the canaries'
//! addresses replaced), the message's SHA-256 and size, the peer and the first hop of the
//! `Received:` chain, and its DKIM and SPF results (looked up through the system's resolver
//! within [`CanaryMailConfig::auth_timeout`]; `temperror` when DNS does not answer in time).
//!
//! Mail to any other address at the domain (made-up addresses an attacker or a spammer tries) is
//! accepted and kept too, but raises no alert: it says nothing about the customer list, and an
//! alert per spammer would teach owners to ignore the canary's mail.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, SpfResult};
use mamori_store::Gateway;
use serde_json::json;

use crate::alert::{kinds, Alert, Alerts, GuardError, Severity, Subject};
use crate::smtp_in::{self, domain_of, truncate, Envelope, MailSink, SmtpHandle, SmtpInConfig};

/// Longest subject kept in evidence (characters).
pub const SUBJECT_MAX_CHARS: usize = 200;
/// Most links kept in evidence, and the longest one (characters).
pub const LINKS_MAX: usize = 20;
const LINK_MAX_CHARS: usize = 300;

/// How the listener runs. [`CanaryMailConfig::new`] has the defaults.
#[derive(Clone, Debug)]
pub struct CanaryMailConfig {
    /// The SMTP part: where it listens (the canary domain's MX, port 25 behind it), the canary
    /// domain (the only domain RCPT is accepted for) and every bound.
    pub smtp: SmtpInConfig,
    /// Check DKIM and SPF with DNS lookups (the system's resolver); off: both are `none`.
    pub auth_lookups: bool,
    /// Longest the DKIM and SPF lookups of one message may take (then `temperror`).
    pub auth_timeout: Duration,
}

impl CanaryMailConfig {
    /// A listener on `listen` for `domain` with [`SmtpInConfig::new`]'s bounds, DKIM and SPF
    /// checked within 3 s.
    pub fn new(listen: SocketAddr, domain: &str) -> Self {
        Self {
            smtp: SmtpInConfig::new("canary mail", listen, domain),
            auth_lookups: true,
            auth_timeout: Duration::from_secs(3),
        }
    }
}

/// The running listener; stops accepting (and ends its sessions) when dropped.
pub type CanaryMailHandle = SmtpHandle;

/// The canary mail listener.
#[derive(Clone)]
pub struct CanaryMail {
    config: Arc<CanaryMailConfig>,
    gateway: Gateway,
    alerts: Alerts,
    auth: Option<Arc<MessageAuthenticator>>,
}

impl std::fmt::Debug for CanaryMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanaryMail")
            .field("listen", &self.config.smtp.listen)
            .finish()
    }
}

impl CanaryMail {
    /// A listener that finds canaries through `gateway` and raises through `alerts`.
    pub fn new(config: CanaryMailConfig, gateway: Gateway, alerts: Alerts) -> Self {
        Self {
            config: Arc::new(config),
            gateway,
            alerts,
            auth: None,
        }
    }

    /// Binds and starts accepting.
    pub async fn start(mut self) -> Result<CanaryMailHandle, GuardError> {
        if self.config.auth_lookups {
            match MessageAuthenticator::new_system_conf() {
                Ok(a) => self.auth = Some(Arc::new(a)),
                Err(e) => {
                    tracing::warn!(error = %e, "canary mail: no resolver, DKIM and SPF not checked");
                }
            }
        }
        smtp_in::start(self.config.smtp.clone(), Arc::new(self)).await
    }
}

#[async_trait]
impl MailSink for CanaryMail {
    /// Keeps one accepted message and raises its alerts; the 250 follows only when this is done.
    async fn deliver(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        peer: IpAddr,
    ) -> Result<String, GuardError> {
        let received = Utc::now();
        let mut canaries = BTreeSet::new();
        for rcpt in &envelope.rcpts {
            if let Some(id) = self.gateway.canary_of_address(rcpt).await? {
                canaries.insert(id);
            }
        }
        let canaries: Vec<String> = canaries.into_iter().collect();
        let kept = self
            .gateway
            .record_canary_mail(&canaries, raw, received.timestamp())
            .await?;
        let mut facts = Facts::of(raw, &envelope.rcpts, peer);
        (facts.dkim, facts.spf) = self.authenticate(raw, envelope, peer, facts.dkim).await;
        let evidence = facts.evidence(envelope, &kept.id, &kept.sha256, raw.len(), received);
        for canary in &canaries {
            let alert = Alert {
                at: received,
                ..Alert::new(
                    kinds::CANARY_MAIL,
                    Severity::Critical,
                    Subject::Customer(canary.clone()),
                    evidence.clone(),
                )
            };
            self.alerts.raise(&alert).await?;
        }
        tracing::warn!(mail_id = %kept.id, canaries = canaries.len(),
            sender_domain = %envelope.sender_domain(), "canary mail received");
        Ok(kept.id)
    }
}

impl CanaryMail {
    /// DKIM and SPF results (RFC 8601 words), each lookup bounded by `auth_timeout`: without a
    /// resolver, or when DNS does not answer in time, `temperror` rather than a hung session.
    async fn authenticate(
        &self,
        raw: &[u8],
        envelope: &Envelope,
        peer: IpAddr,
        dkim: &'static str,
    ) -> (&'static str, &'static str) {
        let spf_default = if envelope.from.is_empty() {
            "none"
        } else {
            "temperror"
        };
        let Some(auth) = &self.auth else {
            let not_checked = if self.config.auth_lookups {
                "temperror"
            } else {
                "none"
            };
            let dkim = if dkim == "none" { "none" } else { not_checked };
            let spf = if spf_default == "none" {
                "none"
            } else {
                not_checked
            };
            return (dkim, spf);
        };
        let limit = self.config.auth_timeout;
        let dkim_check = async {
            if dkim == "none" {
                return "none";
            }
            let Some(msg) = AuthenticatedMessage::parse(raw) else {
                return "permerror";
            };
            match tokio::time::timeout(limit, auth.verify_dkim(&msg)).await {
                Err(_) => "temperror",
                Ok(outputs) => dkim_word(outputs.iter().map(|o| o.result())),
            }
        };
        let spf_check = async {
            if spf_default == "none" {
                return "none";
            }
            let helo = envelope.helo.as_str();
            let params = SpfParameters::verify_mail_from(
                peer,
                helo,
                &self.config.smtp.hostname,
                envelope.from.as_str(),
            );
            match tokio::time::timeout(limit, auth.verify_spf(params)).await {
                Err(_) => "temperror",
                Ok(out) => spf_word(out.result()),
            }
        };
        tokio::join!(dkim_check, spf_check)
    }
}

/// The best of a message's DKIM results as one word.
fn dkim_word<'a>(results: impl Iterator<Item = &'a DkimResult>) -> &'static str {
    let mut best = "none";
    for r in results {
        let w = match r {
            DkimResult::Pass => return "pass",
            DkimResult::Fail(_) => "fail",
            DkimResult::Neutral(_) => "neutral",
            DkimResult::PermError(_) => "permerror",
            DkimResult::TempError(_) => "temperror",
            DkimResult::None => "none",
        };
        if best == "none" {
            best = w;
        }
    }
    best
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// What the evidence says about a message, taken from its headers and bodies.
struct Facts {
    from_domain: Option<String>,
    subject: Option<String>,
    links: Vec<String>,
    first_hop: Option<IpAddr>,
    /// `none` (unsigned) or `present` until checked, then the DKIM result.
    dkim: &'static str,
    spf: &'static str,
    peer: IpAddr,
}

impl Facts {
    fn of(raw: &[u8], rcpts: &[String], peer: IpAddr) -> Self {
        let scrub = Scrubber::new(rcpts);
        let Some(msg) = mail_parser::MessageParser::default().parse(raw) else {
            return Self {
                from_domain: None,
                subject: None,
                links: Vec::new(),
                first_hop: None,
                dkim: "none",
                spf: "none",
                peer,
            };
        };
        let from_domain = msg
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .and_then(domain_of);
        let subject = msg
            .subject()
            .map(|s| truncate(&scrub.apply(s), SUBJECT_MAX_CHARS));
        // Received headers are prepended hop by hop: the last one is the first hop's.
        let first_hop = msg
            .header_values("Received")
            .filter_map(|v| match v {
                mail_parser::HeaderValue::Received(r) => r.from_ip(),
                _ => None,
            })
            .last();
        let mut links = Vec::new();
        let bodies = (0..msg.text_body_count())
            .filter_map(|i| msg.body_text(i))
            .chain((0..msg.html_body_count()).filter_map(|i| msg.body_html(i)));
        for body in bodies {
            for link in links_in(&body) {
                let link = truncate(&scrub.apply(link), LINK_MAX_CHARS);
                if links.len() < LINKS_MAX && !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        Self {
            from_domain,
            subject,
            links,
            first_hop,
            dkim: if msg.header("DKIM-Signature").is_some() {
                "present"
            } else {
                "none"
            },
            spf: "none",
            peer,
        }
    }

    fn evidence(
        &self,
        envelope: &Envelope,
        mail_id: &str,
        sha256: &str,
        size: usize,
        received: DateTime<Utc>,
    ) -> serde_json::Value {
        json!({
            "mail_id": mail_id,
            "received_at": received.to_rfc3339(),
            "envelope_from_domain": envelope.sender_domain(),
            "helo": truncate(&envelope.helo, 100),
            "from_domain": self.from_domain,
            "subject": self.subject,
            "links": self.links,
            "recipients": envelope.rcpts.len(),
            "sha256": sha256,
            "size": size,
            "peer_ip": self.peer.to_string(),
            "first_hop_ip": self.first_hop.unwrap_or(self.peer).to_string(),
            "dkim": self.dkim,
            "spf": self.spf,
        })
    }
}

/// Replaces the recipients' addresses (and their local parts) in text kept as evidence: a
/// phishing link often carries the address it was sent to.
struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    fn new(rcpts: &[String]) -> Self {
        let mut needles = Vec::new();
        for r in rcpts {
            let r = r.to_lowercase();
            if let Some((local, _)) = r.rsplit_once('@') {
                if local.chars().count() >= 4 {
                    needles.push(local.to_owned());
                }
            }
            needles.push(r);
        }
        // Longest first, so the whole address goes before its local part.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Self { needles }
    }

    fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for n in &self.needles {
            out = replace_ignore_case(&out, n, "[recipient]");
            // Links carry it percent-encoded too.
            let encoded = n.replace('@', "%40");
            out = replace_ignore_case(&out, &encoded, "[recipient]");
        }
        out
    }
}

fn replace_ignore_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_owned();
    }
    let lower = text.to_lowercase();
    // Lowercasing may change byte lengths outside ASCII; fall back to an exact match then.
    if lower.len() != text.len() {
        return text.replace(needle, with);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (i, _) in lower.match_indices(needle) {
        if i < rest {
            continue;
        }
        out.push_str(&text[rest..i]);
        out.push_str(with);
        rest = i + needle.len();
    }
    out.push_str(&text[rest..]);
    out
}

/// `http://` and `https://` links in a body: up to whitespace, a quote or an angle bracket.
fn links_in(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lower = body.to_ascii_lowercase();
    let mut at = 0;
    while out.len() < LINKS_MAX * 4 {
        let next = ["http://", "https://"]
            .iter()
            .filter_map(|p| lower[at..].find(p))
            .min();
        let Some(start) = next.map(|i| at + i) else {
            break;
        };
        let end = body[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')'))
            .map_or(body.len(), |i| start + i);
        out.push(&body[start..end]);
        at = end.max(start + 1);
        while !body.is_char_boundary(at) {
            at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_are_found_and_scrubbed() {
        let body = "Click https://evil.example/login?u=Taro.Sato12%40canary.example now\n\
                    <a href=\"http://x.example/p\">x</a>";
        let links = links_in(body);
        assert_eq!(links.len(), 2);
        let s = Scrubber::new(&["taro.sato12@canary.example".to_owned()]);
        assert_eq!(
            s.apply(links[0]),
            "https://evil.example/login?u=[recipient]"
        );
        assert_eq!(links[1], "http://x.example/p");
        assert_eq!(
            s.apply("Dear taro.sato12, hello"),
            "Dear [recipient], hello"
        );
    }
}
