//! Delivery status notifications (RFC 3464) for notices: the DSN comes back to the notice's VERP
//! address ([`super::verp`]); its `message/delivery-status` part says whether delivery failed
//! for good (`Status: 5.x.x`, a letter is to be sent) or for now (`4.x.x`). Parsed with
//! `mail-parser`; only the status code is kept (the diagnostic text may quote an address).

use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders as _};

use mamori_guard::smtp_in::{self, Envelope, MailSink, SmtpHandle, SmtpInConfig};
use mamori_guard::GuardError;

use super::verp;
use crate::desk::Desk;
use crate::{RespondError, Result};

/// A DSN matched to a notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounce {
    /// The notice.
    pub notice_id: String,
    /// `5.x.x`: the address does not work.
    pub permanent: bool,
    /// The status code (`5.1.1`).
    pub status: String,
}

/// The first `Status:` of a failed or delayed recipient in a delivery-status body.
fn status_of(fields: &str) -> Option<String> {
    let mut action = None;
    let mut status = None;
    for line in fields.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "action" => action = Some(value),
            "status" => {
                let code = value.split_whitespace().next().unwrap_or("").to_owned();
                let ok = code.split('.').count() == 3
                    && code.chars().all(|c| c.is_ascii_digit() || c == '.')
                    && code.len() <= 11;
                if ok && (code.starts_with('5') || code.starts_with('4')) && status.is_none() {
                    status = Some(code);
                }
            }
            _ => {}
        }
    }
    match action.as_deref() {
        Some("delivered") | Some("relayed") | Some("expanded") => None,
        _ => status,
    }
}

/// Reads a DSN addressed to one of our VERP addresses at `bounce_domain` (found in `rcpt`, the
/// envelope recipient, or else the `To:`, `Delivered-To:` and `X-Original-To:` headers). None
/// for anything else: not a DSN, not ours, a forged tag, or a success report.
pub fn parse(
    gw: &mamori_store::Gateway,
    raw: &[u8],
    rcpt: Option<&str>,
    bounce_domain: &str,
) -> Option<Bounce> {
    let msg = MessageParser::default().parse(raw)?;
    let mut candidates: Vec<String> = rcpt.map(|r| vec![r.to_owned()]).unwrap_or_default();
    if let Some(to) = msg.to() {
        candidates.extend(to.iter().filter_map(|a| a.address()).map(|a| a.to_owned()));
    }
    for h in ["Delivered-To", "X-Original-To"] {
        if let Some(v) = msg.header_raw(h) {
            candidates.push(v.trim().trim_matches(['<', '>']).to_owned());
        }
    }
    let notice_id = candidates
        .iter()
        .find_map(|a| verp::notice_of(gw, a, bounce_domain))?;
    let report = msg.parts.iter().find(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        })
    })?;
    let text = String::from_utf8_lossy(report.contents()).into_owned();
    let status = status_of(&text)?;
    Some(Bounce {
        notice_id,
        permanent: status.starts_with('5'),
        status,
    })
}

impl Desk {
    /// Records a DSN for its notice (see [`parse`]): the notice is marked undelivered with the
    /// status; a permanent failure lists it among the letters to send. None when the message
    /// is not a DSN for one of our notices (nothing is stored).
    pub async fn record_bounce(
        &self,
        raw: &[u8],
        rcpt: Option<&str>,
        bounce_domain: &str,
    ) -> Result<Option<Bounce>> {
        let gw = self.gateway();
        let Some(b) = parse(gw, raw, rcpt, bounce_domain) else {
            return Ok(None);
        };
        let kind = if b.permanent {
            "permanent"
        } else {
            "transient"
        };
        let known = gw
            .records()
            .notice_bounce(&b.notice_id, kind, &b.status, Utc::now().timestamp())
            .await?;
        Ok(known.then_some(b))
    }
}

/// mamori's SMTP listener for the bounce domain (the domain's MX points to it): the shared
/// receive-only listener of the guard ([`mamori_guard::smtp_in`]) with a sink that records each
/// recipient's DSN ([`Desk::record_bounce`]). Anything that is not a DSN for one of our notices
/// is accepted and dropped (nothing to keep: a bounce names no one but the notice).
pub struct BounceSink {
    desk: Desk,
    domain: String,
}

impl BounceSink {
    /// A sink recording into `desk` for `domain`.
    pub fn new(desk: Desk, domain: &str) -> Self {
        Self {
            desk,
            domain: domain.trim().trim_end_matches('.').to_ascii_lowercase(),
        }
    }

    /// Starts the listener on `listen`.
    pub async fn listen(
        self,
        listen: std::net::SocketAddr,
    ) -> std::result::Result<SmtpHandle, GuardError> {
        let config = SmtpInConfig::new("notice bounces", listen, &self.domain);
        smtp_in::start(config, std::sync::Arc::new(self)).await
    }
}

#[async_trait::async_trait]
impl MailSink for BounceSink {
    async fn deliver(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        _peer: std::net::IpAddr,
    ) -> std::result::Result<String, GuardError> {
        let mut matched = 0usize;
        for rcpt in &envelope.rcpts {
            match self.desk.record_bounce(raw, Some(rcpt), &self.domain).await {
                Ok(Some(_)) => matched += 1,
                Ok(None) => {}
                Err(RespondError::Store(e)) => return Err(GuardError::Store(e)),
                Err(_) => return Err(GuardError::Invalid("the bounce could not be recorded")),
            }
        }
        tracing::info!(matched, "notice bounce received");
        Ok(format!("{matched} matched"))
    }
}
