//! A receive-only SMTP listener for one domain (a subset of RFC 5321 on tokio), shared by the
//! canary mail listener ([`crate::canary_mail`]) and the incident notices' bounce listener
//! (`mamori-respond`). What to do with an accepted message is a [`MailSink`]'s; the 250 follows
//! only when it returned, so a failure is a 451 and the sender retries.
//!
//! Why by hand: see [`crate::canary_mail`]. Every resource is bounded: the line length, the
//! message size, the recipients per message, the connections at once, the bad commands per
//! session, and a timeout on every read and write and on the whole session. It relays nothing:
//! RCPT is accepted only for the configured domain (550 otherwise).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::alert::GuardError;

/// Longest command line (RFC 5321 4.5.3.1.4 says 512 with CRLF; some leeway for long addresses).
const COMMAND_LINE_MAX: usize = 1000;

/// How a listener runs.
#[derive(Clone, Debug)]
pub struct SmtpInConfig {
    /// What it is, in its log lines (`canary mail`, `notice bounces`).
    pub name: &'static str,
    /// Where it listens.
    pub listen: SocketAddr,
    /// The only domain RCPT is accepted for (lowercase).
    pub domain: String,
    /// The name it greets with.
    pub hostname: String,
    /// Largest message accepted (bytes; larger: 552, nothing kept).
    pub max_message_bytes: usize,
    /// Most recipients per message.
    pub max_recipients: usize,
    /// Most sessions at once (more: 421 and the connection is closed).
    pub max_connections: usize,
    /// Most bad commands in one session before it is closed.
    pub max_errors: usize,
    /// Longest wait for a command line, or for a reply to be written.
    pub command_timeout: Duration,
    /// Longest a message's DATA may take.
    pub data_timeout: Duration,
    /// Longest a session may last.
    pub session_timeout: Duration,
}

impl SmtpInConfig {
    /// A listener called `name` on `listen` for `domain` with the defaults: 1 MiB messages, 50
    /// recipients, 64 sessions, 10 bad commands, 60 s per command, 5 min per DATA, 10 min per
    /// session.
    pub fn new(name: &'static str, listen: SocketAddr, domain: &str) -> Self {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        Self {
            name,
            listen,
            hostname: domain.clone(),
            domain,
            max_message_bytes: 1024 * 1024,
            max_recipients: 50,
            max_connections: 64,
            max_errors: 10,
            command_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(600),
        }
    }
}

/// What a listener does with each accepted message.
#[async_trait]
pub trait MailSink: Send + Sync + 'static {
    /// Keeps or acts on one message; returns an id for the 250 reply. An error answers 451.
    async fn deliver(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        peer: IpAddr,
    ) -> Result<String, GuardError>;
}

/// The running listener; stops accepting (and ends its sessions) when dropped.
#[derive(Debug)]
pub struct SmtpHandle {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SmtpHandle {
    /// The address it listens on (the port chosen when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SmtpHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Listener {
    config: Arc<SmtpInConfig>,
    sink: Arc<dyn MailSink>,
}

/// Binds and starts accepting.
pub async fn start(
    config: SmtpInConfig,
    sink: Arc<dyn MailSink>,
) -> Result<SmtpHandle, GuardError> {
    let name = config.name;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| GuardError::Io {
            what: "binding an SMTP listener",
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| GuardError::Io {
        what: "an SMTP listener's address",
        source,
    })?;
    tracing::debug!(listener = name, %addr, "SMTP listener started");
    let this = Listener {
        config: Arc::new(config),
        sink,
    };
    let task = tokio::spawn(this.accept_loop(listener));
    Ok(SmtpHandle { addr, task })
}

impl Listener {
    async fn accept_loop(self, listener: TcpListener) {
        let permits = Arc::new(Semaphore::new(self.config.max_connections));
        // Sessions live in the set, so that stopping the listener ends them too.
        let mut sessions = JoinSet::new();
        loop {
            while sessions.try_join_next().is_some() {}
            let (mut stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(listener = self.config.name, error = %e, "SMTP listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                let timeout = self.config.command_timeout;
                sessions.spawn(async move {
                    let _ = tokio::time::timeout(
                        timeout,
                        stream.write_all(b"421 4.3.2 Too many connections, try later\r\n"),
                    )
                    .await;
                });
                continue;
            };
            let this = self.clone();
            sessions.spawn(async move {
                let limit = this.config.session_timeout;
                if tokio::time::timeout(limit, this.session(stream, peer))
                    .await
                    .is_err()
                {
                    tracing::info!(listener = this.config.name, peer = %peer.ip(), "session timed out");
                }
                drop(permit);
            });
        }
    }

    async fn session(&self, stream: TcpStream, peer: SocketAddr) {
        let (r, w) = stream.into_split();
        let mut session = Session {
            mail: self,
            reader: BufReader::new(r),
            writer: w,
            peer: peer.ip(),
            helo: None,
            from: None,
            rcpts: Vec::new(),
            errors: 0,
        };
        if let Err(e) = session.run().await {
            tracing::debug!(listener = self.config.name, peer = %peer.ip(), error = %e, "session ended");
        }
    }
}

/// The envelope of the message in progress. Addresses are held only in memory, never logged.
#[derive(Debug, Default)]
pub struct Envelope {
    /// The EHLO name.
    pub helo: String,
    /// The envelope sender (empty: the null sender).
    pub from: String,
    /// The accepted recipients.
    pub rcpts: Vec<String>,
}

impl Envelope {
    /// The envelope sender's domain (lowercase; `-` for the null sender).
    pub fn sender_domain(&self) -> String {
        domain_of(&self.from).unwrap_or_else(|| "-".to_owned())
    }
}

pub(crate) fn domain_of(addr: &str) -> Option<String> {
    let (_, d) = addr.rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty()).then(|| truncate(&d, 253))
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A line read with a bound.
enum Line {
    /// A complete line (with its line ending).
    Full,
    /// A line longer than the bound (discarded up to its end).
    TooLong,
    /// The peer closed the connection.
    Eof,
}

/// Reads one line into `out` (cleared first), never holding more than `max` bytes of it.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<Line> {
    out.clear();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if out.len() + take > max {
                too_long = true;
                out.clear();
            } else {
                out.extend_from_slice(&buf[..take]);
            }
        }
        r.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Full });
        }
    }
}

struct Session<'a, R, W> {
    mail: &'a Listener,
    reader: BufReader<R>,
    writer: W,
    peer: IpAddr,
    helo: Option<String>,
    from: Option<String>,
    rcpts: Vec<String>,
    errors: usize,
}

/// Why a session ends early.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("closed")]
    Closed,
}

impl<R, W> Session<'_, R, W>
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    fn config(&self) -> &SmtpInConfig {
        &self.mail.config
    }

    async fn reply(&mut self, text: &str) -> Result<(), End> {
        let limit = self.config().command_timeout;
        let write = async {
            self.writer.write_all(text.as_bytes()).await?;
            self.writer.write_all(b"\r\n").await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(limit, write).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(End::Timeout),
        }
    }

    /// Counts a bad command; closes the session past the limit.
    async fn refuse(&mut self, text: &str) -> Result<(), End> {
        self.errors += 1;
        if self.errors > self.config().max_errors {
            self.reply("421 4.7.0 Too many errors, closing").await?;
            return Err(End::Closed);
        }
        self.reply(text).await
    }

    async fn run(&mut self) -> Result<(), End> {
        let greeting = format!("220 {} ESMTP ready", self.config().hostname);
        self.reply(&greeting).await?;
        let mut line = Vec::new();
        loop {
            let limit = self.config().command_timeout;
            let read = tokio::time::timeout(
                limit,
                read_line(&mut self.reader, COMMAND_LINE_MAX, &mut line),
            )
            .await;
            match read {
                Err(_) => {
                    let _ = self.reply("421 4.4.2 Timeout, closing").await;
                    return Err(End::Timeout);
                }
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(Line::Eof)) => return Ok(()),
                Ok(Ok(Line::TooLong)) => {
                    self.refuse("500 5.5.2 Line too long").await?;
                    continue;
                }
                Ok(Ok(Line::Full)) => {}
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                self.refuse("500 5.5.2 Syntax error").await?;
                continue;
            };
            let text = text.trim_end_matches(['\r', '\n']).to_owned();
            if !self.command(&text).await? {
                return Ok(());
            }
        }
    }

    /// Handles one command; false after QUIT.
    async fn command(&mut self, text: &str) -> Result<bool, End> {
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => {
                self.refuse("501 5.5.4 Syntax: EHLO hostname").await?
            }
            "EHLO" => {
                self.helo = Some(truncate(arg, 255));
                self.reset();
                let reply = format!(
                    "250-{}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES",
                    self.config().hostname,
                    self.config().max_message_bytes
                );
                self.reply(&reply).await?;
            }
            "HELO" => {
                self.helo = Some(truncate(arg, 255));
                self.reset();
                let reply = format!("250 {}", self.config().hostname);
                self.reply(&reply).await?;
            }
            "MAIL" => self.mail_from(arg).await?,
            "RCPT" => self.rcpt_to(arg).await?,
            "DATA" if !arg.is_empty() => self.refuse("501 5.5.4 Syntax: DATA").await?,
            "DATA" => self.data().await?,
            "RSET" => {
                self.reset();
                self.reply("250 2.0.0 OK").await?;
            }
            "NOOP" => self.reply("250 2.0.0 OK").await?,
            "VRFY" => {
                self.reply("252 2.5.2 Cannot VRFY user, but will accept message")
                    .await?
            }
            "QUIT" => {
                self.reply("221 2.0.0 Bye").await?;
                return Ok(false);
            }
            _ => self.refuse("502 5.5.1 Command not implemented").await?,
        }
        Ok(true)
    }

    fn reset(&mut self) {
        self.from = None;
        self.rcpts.clear();
    }

    async fn mail_from(&mut self, arg: &str) -> Result<(), End> {
        if self.helo.is_none() {
            return self.refuse("503 5.5.1 Send EHLO first").await;
        }
        if self.from.is_some() {
            return self.refuse("503 5.5.1 Sender already given").await;
        }
        let Some((path, params)) = path_arg(arg, "FROM:") else {
            return self.refuse("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        for p in params.split_whitespace() {
            if let Some(size) = p.get(..5).filter(|k| k.eq_ignore_ascii_case("SIZE=")) {
                let declared = p[size.len()..].parse::<u64>().unwrap_or(u64::MAX);
                if declared > self.config().max_message_bytes as u64 {
                    return self
                        .reply("552 5.3.4 Message size exceeds fixed maximum message size")
                        .await;
                }
            }
        }
        self.from = Some(path.to_owned());
        self.reply("250 2.1.0 OK").await
    }

    async fn rcpt_to(&mut self, arg: &str) -> Result<(), End> {
        if self.from.is_none() {
            return self.refuse("503 5.5.1 Send MAIL first").await;
        }
        let Some((path, _)) = path_arg(arg, "TO:") else {
            return self.refuse("501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let ours = domain_of(path).is_some_and(|d| d == self.config().domain);
        if !ours {
            // No relaying: this listener takes mail for the canary domain only.
            return self.refuse("550 5.7.1 Relaying denied").await;
        }
        if self.rcpts.len() >= self.config().max_recipients {
            return self.reply("452 4.5.3 Too many recipients").await;
        }
        self.rcpts.push(path.to_owned());
        self.reply("250 2.1.5 OK").await
    }

    async fn data(&mut self) -> Result<(), End> {
        if self.rcpts.is_empty() {
            return self.refuse("503 5.5.1 Send RCPT first").await;
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        let max = self.config().max_message_bytes;
        let limit = self.config().data_timeout;
        let mut raw = Vec::new();
        let read = tokio::time::timeout(limit, read_data(&mut self.reader, max, &mut raw)).await;
        let oversized = match read {
            Err(_) => {
                let _ = self.reply("421 4.4.2 Timeout, closing").await;
                return Err(End::Timeout);
            }
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(None)) => return Err(End::Closed),
            Ok(Ok(Some(oversized))) => oversized,
        };
        let envelope = Envelope {
            helo: self.helo.clone().unwrap_or_default(),
            from: self.from.take().unwrap_or_default(),
            rcpts: std::mem::take(&mut self.rcpts),
        };
        if oversized {
            tracing::info!(peer = %self.peer, sender_domain = %envelope.sender_domain(),
                "canary mail: message over the size limit refused");
            return self
                .reply("552 5.3.4 Message size exceeds fixed maximum message size")
                .await;
        }
        match self.mail.sink.deliver(&envelope, &raw, self.peer).await {
            Ok(id) => self.reply(&format!("250 2.0.0 OK queued as {id}")).await,
            Err(e) => {
                tracing::error!(error = %e, "canary mail: could not keep a message");
                self.reply("451 4.3.0 Local error, try again later").await
            }
        }
    }
}

/// `FROM:<path> params` / `TO:<path> params` → (path, params). The path's angle brackets are
/// required (RFC 5321); a null sender `<>` is an empty path.
fn path_arg<'a>(arg: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let head = arg.get(..key.len())?;
    if !head.eq_ignore_ascii_case(key) {
        return None;
    }
    let rest = arg[key.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (path, params) = rest.split_once('>')?;
    // A source route (`@a,@b:user@d`) is ignored as RFC 5321 allows.
    let path = path.rsplit_once(':').map_or(path, |(_, p)| p);
    if path.len() > 320 || path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    Some((path, params.trim()))
}

/// Reads a message's DATA up to the lone dot, dot-unstuffed, into `out` (at most `max` bytes).
/// `Some(true)`: it was larger (read to its end, nothing kept); `None`: the peer went away.
async fn read_data<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    let mut line = Vec::new();
    let mut oversized = false;
    loop {
        // A line is bounded by what is left of the message (and at least the dot line).
        let room = max.saturating_sub(out.len()).max(5);
        match read_line(r, room + 2, &mut line).await? {
            Line::Eof => return Ok(None),
            Line::TooLong => {
                oversized = true;
                out.clear();
                continue;
            }
            Line::Full => {}
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(oversized));
        }
        if oversized {
            continue;
        }
        let body = line.strip_prefix(b".").unwrap_or(&line);
        if out.len() + body.len() > max {
            oversized = true;
            out.clear();
            continue;
        }
        out.extend_from_slice(body);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_parse_and_refuse() {
        assert_eq!(
            path_arg("FROM:<a@b.example> SIZE=10", "FROM:"),
            Some(("a@b.example", "SIZE=10"))
        );
        assert_eq!(path_arg("from: <>", "FROM:"), Some(("", "")));
        assert_eq!(
            path_arg("TO:<@relay.example:x@c.example>", "TO:"),
            Some(("x@c.example", ""))
        );
        assert_eq!(path_arg("TO:x@c.example", "TO:"), None);
        assert_eq!(path_arg("TO:<x y@c.example>", "TO:"), None);
    }
}
