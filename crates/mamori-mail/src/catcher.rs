//! A minimal real SMTP server for tests: it listens on `127.0.0.1:0`, speaks enough ESMTP for
//! lettre's client (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY) and keeps what it
//! receives in memory.
//!
//! Hand-written on tokio rather than taken from `mailin-embedded`: that crate runs its own
//! blocking thread pool outside the test's runtime, and the tests here need fault switches
//! inside the protocol (a `451` for the next *n* recipients, a permanent `550`, a server that
//! stops answering after `DATA`) that are a few lines in our own state machine. It is about
//! two hundred lines and has no dependency beyond tokio.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! let catcher = mamori_mail::catcher::MailCatcher::start().await?;
//! // point an SMTP transport at catcher.addr() ...
//! let got = catcher.wait_for(1, Duration::from_secs(10)).await?;
//! assert_eq!(got[0].rcpt_to.len(), 1);
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest command line accepted (RFC 5321 asks for at least 512; lettre's are far shorter).
const MAX_LINE: u64 = 4096;
/// Largest message accepted, advertised with `SIZE`.
pub const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

/// One message as the catcher received it.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The `MAIL FROM` address (without angle brackets).
    pub mail_from: String,
    /// The accepted `RCPT TO` addresses.
    pub rcpt_to: Vec<String>,
    /// The message with dot-stuffing undone, CRLF line endings, without the final `.` line.
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    /// The message as text (lossy for non-UTF-8 bytes).
    #[must_use]
    pub fn data_str(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

impl fmt::Debug for ReceivedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Test output may be shared in CI logs; the addresses and the message may be real.
        f.debug_struct("ReceivedMessage")
            .field("rcpt_to", &self.rcpt_to.len())
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// `wait_for` gave up.
#[derive(Debug, thiserror::Error)]
#[error("timed out waiting for {wanted} messages; {got} arrived")]
pub struct CatcherTimeout {
    /// How many were awaited.
    pub wanted: usize,
    /// How many had arrived.
    pub got: usize,
}

#[derive(Debug)]
struct Shared {
    messages: Mutex<Vec<ReceivedMessage>>,
    count: tokio::sync::watch::Sender<usize>,
    temp_rejects_left: AtomicU32,
    reject_permanently: AtomicBool,
    stall_after_data: AtomicBool,
    rejected_rcpt: AtomicU64,
    stalled: tokio::sync::watch::Sender<u64>,
}

/// The running catcher. Dropping it stops the server and closes every open connection.
pub struct MailCatcher {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for MailCatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailCatcher")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MailCatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MailCatcher {
    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            messages: Mutex::new(Vec::new()),
            count: tokio::sync::watch::Sender::new(0),
            temp_rejects_left: AtomicU32::new(0),
            reject_permanently: AtomicBool::new(false),
            stall_after_data: AtomicBool::new(false),
            rejected_rcpt: AtomicU64::new(0),
            stalled: tokio::sync::watch::Sender::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self { addr, shared, task })
    }

    /// The address to connect to.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, in arrival order.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        match self.shared.messages.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Waits until at least `n` messages have arrived, at most `timeout`; returns them all.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, CatcherTimeout> {
        let mut rx = self.shared.count.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n)).await;
        match waited {
            Ok(Ok(_)) => Ok(self.messages()),
            _ => Err(CatcherTimeout {
                wanted: n,
                got: self.messages().len(),
            }),
        }
    }

    /// Answers `451 4.3.0` to the next `times` `RCPT TO` commands, then accepts again.
    pub fn reject_rcpt_temporarily(&self, times: u32) {
        self.shared.temp_rejects_left.store(times, Ordering::SeqCst);
    }

    /// While on, answers `550 5.1.1` to every `RCPT TO`.
    pub fn reject_rcpt_permanently(&self, on: bool) {
        self.shared.reject_permanently.store(on, Ordering::SeqCst);
    }

    /// While on, a session that sends `DATA` gets no answer ever again (a hung server); the
    /// session ends when the client closes the connection. Messages are not stored.
    pub fn stall_after_data(&self, on: bool) {
        self.shared.stall_after_data.store(on, Ordering::SeqCst);
    }

    /// How many `RCPT TO` commands were refused (451 or 550) so far.
    #[must_use]
    pub fn rejected_rcpt_count(&self) -> u64 {
        self.shared.rejected_rcpt.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` sessions have stalled on `DATA` (see [`Self::stall_after_data`]).
    pub async fn wait_for_stalled(&self, n: u64, timeout: Duration) -> bool {
        let mut rx = self.shared.stalled.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n)).await;
        matches!(waited, Ok(Ok(_)))
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owning the sessions in a JoinSet means aborting this task (on drop) aborts them all.
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        while sessions.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _)) => {
                sessions.spawn(session(stream, Arc::clone(&shared)));
            }
            Err(err) => {
                tracing::debug!(error = %err, "catcher accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Reads one line of at most `MAX_LINE` bytes; `None` at end of stream or on an over-long line.
async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    match (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await
    {
        Ok(0) | Err(_) => None,
        Ok(_) if !buf.ends_with(b"\n") => None,
        Ok(_) => Some(buf),
    }
}

/// The address inside `<…>` after a `MAIL FROM:` / `RCPT TO:` prefix, ignoring ESMTP parameters.
fn path_arg(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let start = rest.find('<')?;
    let end = rest[start..].find('>')? + start;
    Some(rest[start + 1..end].to_owned())
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    macro_rules! reply {
        ($text:expr) => {
            if write.write_all($text.as_bytes()).await.is_err() {
                return;
            }
        };
    }
    reply!("220 mamori-catcher ESMTP ready\r\n");
    let mut greeted = false;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut reader).await {
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" => {
                greeted = true;
                from = None;
                rcpts.clear();
                reply!(format!(
                    "250-mamori-catcher\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE_SIZE}\r\n"
                ));
            }
            "HELO" => {
                greeted = true;
                from = None;
                rcpts.clear();
                reply!("250 mamori-catcher\r\n");
            }
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                if !greeted {
                    reply!("503 5.5.1 EHLO first\r\n");
                    continue;
                }
                match path_arg(&line["MAIL FROM:".len()..]) {
                    Some(addr) => {
                        from = Some(addr);
                        rcpts.clear();
                        reply!("250 2.1.0 OK\r\n");
                    }
                    None => reply!("501 5.5.4 syntax: MAIL FROM:<address>\r\n"),
                }
            }
            "RCPT" if upper.starts_with("RCPT TO:") => {
                if from.is_none() {
                    reply!("503 5.5.1 MAIL first\r\n");
                    continue;
                }
                let Some(addr) = path_arg(&line["RCPT TO:".len()..]) else {
                    reply!("501 5.5.4 syntax: RCPT TO:<address>\r\n");
                    continue;
                };
                if shared.reject_permanently.load(Ordering::SeqCst) {
                    shared.rejected_rcpt.fetch_add(1, Ordering::SeqCst);
                    reply!("550 5.1.1 mailbox unavailable\r\n");
                } else if shared
                    .temp_rejects_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    shared.rejected_rcpt.fetch_add(1, Ordering::SeqCst);
                    reply!("451 4.3.0 try again later\r\n");
                } else {
                    rcpts.push(addr);
                    reply!("250 2.1.5 OK\r\n");
                }
            }
            "DATA" => {
                let Some(mail_from) = from.take() else {
                    reply!("503 5.5.1 MAIL first\r\n");
                    continue;
                };
                if rcpts.is_empty() {
                    reply!("554 5.5.1 no valid recipients\r\n");
                    continue;
                }
                if shared.stall_after_data.load(Ordering::SeqCst) {
                    shared.stalled.send_modify(|n| *n += 1);
                    // Never answer; drain until the client gives up and closes.
                    let mut sink = [0u8; 4096];
                    while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
                    return;
                }
                reply!("354 end data with <CR><LF>.<CR><LF>\r\n");
                let mut data = Vec::new();
                let mut too_big = false;
                loop {
                    let mut buf = Vec::new();
                    // Bounded like command lines, but wider: RFC 5322 allows 998-octet lines.
                    match (&mut reader)
                        .take(64 * 1024)
                        .read_until(b'\n', &mut buf)
                        .await
                    {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if buf == b".\r\n" || buf == b".\n" {
                        break;
                    }
                    let content = if buf.starts_with(b".") {
                        &buf[1..]
                    } else {
                        &buf[..]
                    };
                    if data.len() + content.len() > MAX_MESSAGE_SIZE {
                        too_big = true;
                    } else {
                        data.extend_from_slice(content);
                    }
                }
                if too_big {
                    rcpts.clear();
                    reply!("552 5.3.4 message too big\r\n");
                    continue;
                }
                let message = ReceivedMessage {
                    mail_from,
                    rcpt_to: std::mem::take(&mut rcpts),
                    data,
                };
                let total = {
                    let mut messages = match shared.messages.lock() {
                        Ok(m) => m,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    messages.push(message);
                    messages.len()
                };
                shared.count.send_replace(total);
                reply!(format!("250 2.0.0 OK queued as {total}\r\n"));
            }
            "RSET" => {
                from = None;
                rcpts.clear();
                reply!("250 2.0.0 OK\r\n");
            }
            "NOOP" => reply!("250 2.0.0 OK\r\n"),
            "VRFY" => reply!("252 2.5.2 cannot verify\r\n"),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => reply!("502 5.5.2 command not implemented\r\n"),
        }
    }
}
