//! Transports: where a [`PreparedMail`] goes. [`SmtpTransport`] hands it to a mail server with
//! lettre's async SMTP client; [`MaildirTransport`] drops it into a local maildir (development,
//! and shops that have no relay yet). [`transport_from_config`] picks SMTP when it is configured
//! and the maildir otherwise.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::message::PreparedMail;

/// Whether a failed delivery may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// A 4xx reply, a lost connection, a timeout, a full disk: try again later.
    Transient,
    /// A 5xx reply or a message the server can never accept.
    Permanent,
}

/// A delivery failure. The text never contains an address or any part of the message: server
/// replies are reduced to their code because servers echo the recipient address in them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} delivery failure{}: {reason}", code.map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct TransportError {
    /// Transient or permanent.
    pub kind: FailureKind,
    /// The SMTP reply code, when the server answered.
    pub code: Option<u16>,
    /// A short, fixed description (no server text).
    pub reason: &'static str,
}

impl TransportError {
    /// A transient failure.
    #[must_use]
    pub const fn transient(reason: &'static str) -> Self {
        Self {
            kind: FailureKind::Transient,
            code: None,
            reason,
        }
    }

    /// A permanent failure.
    #[must_use]
    pub const fn permanent(reason: &'static str) -> Self {
        Self {
            kind: FailureKind::Permanent,
            code: None,
            reason,
        }
    }

    /// Whether a retry may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.kind == FailureKind::Transient
    }
}

/// Delivers composed mail. Implementations must be safe to call again for the same mail (the
/// outbox retries after a crash); [`MaildirTransport`] even replaces the earlier copy.
#[async_trait]
pub trait MailTransport: Send + Sync + fmt::Debug {
    /// Hands the message over. `Ok` means the next hop has taken responsibility for it (SMTP
    /// `250` after `DATA`, or the file renamed into `new/`).
    async fn send(&self, mail: &PreparedMail) -> Result<(), TransportError>;
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// STARTTLS, required: no message or credential is sent if the upgrade fails (no downgrade).
    /// Port 587 by default.
    #[default]
    StartTls,
    /// TLS from the first byte (SMTPS). Port 465 by default.
    Tls,
    /// Plain text. Only for a relay on the same host or loopback (and the test catcher);
    /// credentials are refused in this mode.
    None,
}

/// SMTP settings (the `[mail.smtp]` table of the configuration).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Relay host name; also the name its TLS certificate must carry.
    pub host: String,
    /// Port; default by security mode (587, 465, 25).
    #[serde(default)]
    pub port: Option<u16>,
    /// Connection protection.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// User name for SMTP AUTH.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// The name sent in `EHLO`; default: the local host name lettre finds, else `localhost`.
    #[serde(default)]
    pub hello_name: Option<String>,
    /// Timeout of each SMTP command, in seconds (default 30). Keep it well below the outbox
    /// lease.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[secret]"))
            .field("hello_name", &self.hello_name)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl SmtpSettings {
    /// Plain-text SMTP to `host:port` (loopback relays and tests).
    #[must_use]
    pub fn plaintext(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port: Some(port),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            hello_name: None,
            timeout_secs: None,
        }
    }
}

/// Why a transport could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum TransportConfigError {
    /// TLS parameters could not be set up for the host.
    #[error("TLS setup failed for the SMTP host")]
    Tls,
    /// User name without password or the reverse.
    #[error("SMTP username and password must be given together")]
    IncompleteCredentials,
    /// Credentials over plain text would expose the password.
    #[error("SMTP credentials are refused without TLS (security = \"none\")")]
    CredentialsWithoutTls,
    /// The SMTP transport was built outside a tokio runtime.
    #[error("the SMTP transport must be built inside a tokio runtime")]
    NoRuntime,
    /// The maildir could not be created.
    #[error("cannot create the maildir: {0}")]
    Maildir(#[from] std::io::Error),
}

/// Delivery through an SMTP relay with lettre's async client (connection pool included).
#[derive(Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
}

impl fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    /// Builds the client. Does not connect (the first send does).
    ///
    /// Must be called inside a tokio runtime, and the transport dropped inside one: lettre's
    /// connection pool spawns its housekeeping task on creation and its closing task on drop.
    /// Outside a runtime this returns [`TransportConfigError::NoRuntime`] instead of letting
    /// lettre panic.
    pub fn new(settings: &SmtpSettings) -> Result<Self, TransportConfigError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TransportConfigError::NoRuntime);
        }
        let port = settings.port.unwrap_or(match settings.security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        let tls = match settings.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(
                TlsParameters::new(settings.host.clone()).map_err(|_| TransportConfigError::Tls)?,
            ),
            SmtpSecurity::Tls => Tls::Wrapper(
                TlsParameters::new(settings.host.clone()).map_err(|_| TransportConfigError::Tls)?,
            ),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(
                settings.timeout_secs.unwrap_or(30).max(1),
            )));
        if let Some(name) = &settings.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        match (&settings.username, &settings.password) {
            (None, None) => {}
            (Some(user), Some(password)) => {
                if settings.security == SmtpSecurity::None {
                    return Err(TransportConfigError::CredentialsWithoutTls);
                }
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    password.expose_secret().to_owned(),
                ));
            }
            _ => return Err(TransportConfigError::IncompleteCredentials),
        }
        Ok(Self {
            inner: builder.build(),
            host: settings.host.clone(),
            port,
        })
    }
}

/// Maps lettre's error to ours without its text: lettre's `Display` includes the server's reply,
/// which commonly echoes the recipient address.
fn classify(err: &lettre::transport::smtp::Error) -> TransportError {
    let code = err.status().map(u16::from);
    if err.is_permanent() {
        TransportError {
            kind: FailureKind::Permanent,
            code,
            reason: "server rejected the message",
        }
    } else if err.is_transient() {
        TransportError {
            kind: FailureKind::Transient,
            code,
            reason: "server deferred the message",
        }
    } else if err.is_timeout() {
        TransportError::transient("timeout talking to the server")
    } else if err.is_tls() {
        // A certificate or STARTTLS problem is fixed by the operator, after which the queued
        // mail should still go out; so it is retried, not dropped.
        TransportError::transient("TLS failure (or STARTTLS not offered)")
    } else if err.is_client() {
        // lettre's client errors are capability mismatches with the relay (no STARTTLS, no
        // usable AUTH mechanism, no SMTPUTF8/8BITMIME): fixed by reconfiguring the relay, so
        // retried until `max_attempts` rather than dropped.
        TransportError::transient(
            "server lacks a required capability (STARTTLS, AUTH, SMTPUTF8 or 8BITMIME)",
        )
    } else {
        TransportError::transient("connection failure")
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(&self, mail: &PreparedMail) -> Result<(), TransportError> {
        match self.inner.send_raw(&mail.envelope, &mail.bytes).await {
            Ok(_) => Ok(()),
            Err(err) => {
                let classified = classify(&err);
                tracing::debug!(mail_id = %mail.id, code = ?classified.code, kind = ?classified.kind, "SMTP delivery failed");
                Err(classified)
            }
        }
    }
}

/// Delivery into a maildir: the message is written to `tmp/`, flushed to disk, then renamed into
/// `new/` so that a reader never sees half a file.
///
/// The file name is the mail id (`<uuid>.mamori`), so delivering the same mail again replaces the
/// copy still in `new/` instead of adding a second one. Hand-written because lettre's file
/// transport writes single `.eml` files without the maildir `tmp`→`new` protocol.
#[derive(Debug, Clone)]
pub struct MaildirTransport {
    root: PathBuf,
}

impl MaildirTransport {
    /// Uses (and creates) `root/{tmp,new,cur}`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, TransportConfigError> {
        let root = root.into();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        Ok(Self { root })
    }

    /// The maildir root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn deliver(root: &Path, id: uuid::Uuid, bytes: &[u8]) -> std::io::Result<()> {
        let name = format!("{}.mamori", id.simple());
        // The tmp name is unique per attempt so two workers racing on one mail (possible after a
        // lease expiry) never write into the same tmp file.
        let tmp = root.join("tmp").join(format!(
            "{name}.{}.{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, root.join("new").join(&name))?;
            // The rename is durable only once the directory entry is on disk.
            std::fs::File::open(root.join("new"))?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[async_trait]
impl MailTransport for MaildirTransport {
    async fn send(&self, mail: &PreparedMail) -> Result<(), TransportError> {
        let root = self.root.clone();
        let id = mail.id;
        let bytes = mail.bytes.clone();
        match tokio::task::spawn_blocking(move || Self::deliver(&root, id, &bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                tracing::warn!(mail_id = %mail.id, error = %err, "maildir delivery failed");
                Err(TransportError::transient("maildir write failed"))
            }
            Err(_) => Err(TransportError::transient("maildir writer task failed")),
        }
    }
}

/// The default maildir, relative to the working directory.
pub const DEFAULT_MAILDIR: &str = "./data/maildir";

/// Transport settings (the `[mail]` table): SMTP when `smtp` is present, the maildir otherwise.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TransportConfig {
    /// SMTP relay; when absent, mail goes to the maildir.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    /// Maildir root (default `./data/maildir`).
    #[serde(default)]
    pub maildir: Option<PathBuf>,
}

/// Builds the configured transport: SMTP when configured, maildir otherwise.
pub fn transport_from_config(
    config: &TransportConfig,
) -> Result<Arc<dyn MailTransport>, TransportConfigError> {
    match &config.smtp {
        Some(smtp) => Ok(Arc::new(SmtpTransport::new(smtp)?)),
        None => Ok(Arc::new(MaildirTransport::new(
            config
                .maildir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_MAILDIR)),
        )?)),
    }
}
