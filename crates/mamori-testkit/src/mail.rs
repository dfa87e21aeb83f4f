//! Mail for tests: worker settings that retry within a test, and a mail worker delivering over
//! real SMTP to a [`MailCatcher`].
#![allow(clippy::expect_used)] // a failed set-up is a failed test

use std::sync::Arc;
use std::time::Duration;

use mamori_mail::catcher::MailCatcher;
use mamori_mail::outbox::OutboxStore;
use mamori_mail::{Backoff, Composer, SmtpSettings, SmtpTransport, WorkerConfig};
use tokio::{sync::oneshot, task::JoinHandle};

/// Worker settings scaled down for tests: short backoff and polling (20 ms), so retries happen
/// within the test; correctness never depends on these values.
pub fn fast_worker_config() -> WorkerConfig {
    WorkerConfig {
        batch_size: 10,
        lease: Duration::from_secs(30),
        lease_margin: Duration::from_secs(1),
        poll_interval: Duration::from_millis(20),
        max_attempts: 5,
        max_permanent_attempts: 3,
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
    }
}

/// A running mail worker; dropping it stops the worker.
pub struct MailWorker {
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for MailWorker {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

/// Starts a mail catcher and a worker that delivers `outbox`'s mail to it over SMTP, as
/// `守り商店 <shop@shop.mamori.example>`, with [`fast_worker_config`].
pub async fn start_mail_worker(outbox: Arc<dyn OutboxStore>) -> (MailCatcher, MailWorker) {
    let catcher = MailCatcher::start()
        .await
        .expect("starting the mail catcher");
    let mut smtp = SmtpSettings::plaintext("127.0.0.1", catcher.port());
    smtp.hello_name = Some("shop.mamori.example".into());
    let transport = SmtpTransport::new(&smtp).expect("an SMTP transport");
    let composer = Composer::new("守り商店 <shop@shop.mamori.example>", "shop.mamori.example")
        .expect("a composer");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        mamori_mail::run_worker(
            outbox,
            Arc::new(transport),
            Arc::new(composer),
            fast_worker_config(),
            async move {
                let _ = stopped.await;
            },
        )
        .await;
    });
    (
        catcher,
        MailWorker {
            task,
            stop: Some(stop),
        },
    )
}

/// A delivery status notification (RFC 3464) as a receiving MTA sends it back to the envelope
/// sender `to` (a notice's VERP address): `action` (`failed`, `delayed`) and `status`
/// (`5.1.1`) in its `message/delivery-status` part, with a diagnostic code and the returned
/// headers.
pub fn dsn(to: &str, action: &str, status: &str) -> Vec<u8> {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.jp>\r\n\
         To: <{to}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         Your message could not be delivered.\r\n\
         --b1\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; mx.example.jp\r\n\
         \r\n\
         Final-Recipient: rfc822; someone@example.jp\r\n\
         Action: {action}\r\n\
         Status: {status}\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <someone@example.jp>: user unknown\r\n\
         --b1\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         Subject: notice\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

/// Sends `data` to `rcpt` over plain SMTP at `addr` with the null envelope sender (`MAIL
/// FROM:<>`, as a bounce comes), as a receiving MTA would; the server's reply to the message
/// (`250 ...` when it took it). Any other reply to a command is an error naming it.
pub async fn send_smtp(
    addr: std::net::SocketAddr,
    rcpt: &str,
    data: &[u8],
) -> Result<String, String> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r).lines();
    // The whole reply (up to the line whose code is followed by a space).
    async fn reply(
        r: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    ) -> Result<String, String> {
        loop {
            let line = r
                .next_line()
                .await
                .map_err(|e| format!("read: {e}"))?
                .ok_or("connection closed")?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line);
            }
        }
    }
    let greeting = reply(&mut r).await?;
    if !greeting.starts_with("220") {
        return Err(format!("greeting: {greeting}"));
    }
    for (cmd, code) in [
        ("EHLO mx.example.jp".to_owned(), "250"),
        ("MAIL FROM:<>".to_owned(), "250"),
        (format!("RCPT TO:<{rcpt}>"), "250"),
        ("DATA".to_owned(), "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let line = reply(&mut r).await?;
        if !line.starts_with(code) {
            return Err(format!("{cmd}: {line}"));
        }
    }
    let mut body = data.to_vec();
    if !body.ends_with(b"\r\n") {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b".\r\n");
    w.write_all(&body)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let done = reply(&mut r).await?;
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok(done)
}
