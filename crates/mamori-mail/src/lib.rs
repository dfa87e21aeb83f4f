//! Mail for mamori: composing Japanese mail, DKIM signing, SMTP and maildir delivery, the
//! transactional outbox worker, and a real SMTP catcher for tests.
//!
//! # How a mail goes out
//!
//! ```text
//! order / account change ──(same DB transaction)──▶ outbox row (OutgoingMail)
//!                                                      │  claim with lease
//!                                                      ▼
//!                          Worker::run_once ── Composer::compose ── DkimSigner::sign
//!                                                      │
//!                                                      ▼
//!                                  MailTransport::send (SMTP relay | maildir)
//!                                                      │
//!                                      mark_sent / mark_failed (retry | dead)
//! ```
//!
//! # Public API in brief
//!
//! - [`message`]: [`Recipient`] (redacted address), [`OutgoingMail`] (the outbox row:
//!   id, to, subject, text, html, reply_to, headers, created_at, auto_submitted),
//!   [`Composer::new`]`(from, message_id_domain)` → [`Composer::compose`]`(&mail)` →
//!   [`PreparedMail`] (envelope + RFC 5322 bytes), [`message_id_for`]`(id, domain)`.
//! - [`template`]: [`template::order_confirmation`]`(&OrderConfirmation) -> MailContent`, then
//!   [`OutgoingMail::from_content`]`(to, content)`.
//! - [`dkim`]: [`DkimSigner::from_key_file`]`(selector, domain, path)`, [`DkimSigner::dns_record`];
//!   attach with [`Composer::with_dkim`].
//! - [`transport`]: the [`MailTransport`] trait (`async fn send(&PreparedMail)`),
//!   [`SmtpTransport`], [`MaildirTransport`], [`transport_from_config`]`(&TransportConfig)`
//!   (SMTP when `[mail.smtp]` is set, `./data/maildir` otherwise).
//! - [`outbox`]: the [`OutboxStore`] trait (claim / mark_sent / mark_failed / release),
//!   [`MemoryOutbox`], [`Worker`] / [`run_worker`]`(store, transport, composer, config,
//!   shutdown)`, [`WorkerConfig`], [`Backoff`].
//! - [`catcher`]: [`catcher::MailCatcher`], a real SMTP server on `127.0.0.1:0` for tests.
//!
//! # Guarantees and limits
//!
//! - **At least once, deduplicable.** A mail leaves the outbox only as *sent* (after the
//!   server's `250` to `DATA`) or *dead* (after the configured attempts). Between that `250`
//!   and the store recording *sent* a crash causes a second delivery; the copy has the same
//!   `Message-ID` (`<outbox-uuid@domain>`) and `Date`, so clients can drop it. See [`outbox`].
//! - **No personal data in logs or errors.** [`Recipient`], [`OutgoingMail`], [`PreparedMail`],
//!   the catcher's messages and the template data print `[redacted]` or sizes in `Debug`;
//!   transport errors carry the SMTP code and a fixed text, never the server's reply (servers
//!   echo addresses in them).
//! - **No header injection.** Subjects and extra header values with CR/LF are refused, display
//!   names with CR/LF are dropped, and extra headers may not replace `From`, `To`, `Bcc`,
//!   `Message-ID`, `Date`, `DKIM-Signature` and the other headers the composer owns.
//! - **No downgrade.** SMTP defaults to required STARTTLS; credentials are refused on a
//!   plain-text connection.
//! - **DKIM** (relaxed/relaxed) covers From, To, Subject, Date, Message-ID, Reply-To,
//!   MIME-Version, Auto-Submitted and the whole body; not Content-Type (a lettre limitation,
//!   see [`dkim::SIGNED_HEADERS`]).
//! - **Throughput.** The worker sends one message at a time per worker; run several workers
//!   for more. lettre's SMTP client does not set `TCP_NODELAY`, so each message on a pooled
//!   connection costs about one delayed-ACK round (≈ 40 ms on Linux loopback).
//! - [`SmtpTransport`] must be built and dropped inside a tokio runtime (lettre's pool spawns
//!   tasks then); building it outside one returns an error.
//! - The outbox rows hold personal data (recipient, body): the SQL store must seal them like
//!   any other personal field.
//!
//! # Tests
//!
//! `cargo test -p mamori-mail`: every SMTP test talks to a real [`catcher::MailCatcher`] over
//! loopback through lettre's real client.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod catcher;
pub mod dkim;
pub mod message;
pub mod outbox;
pub mod template;
pub mod transport;

pub use dkim::{DkimAlgorithm, DkimError, DkimSigner};
pub use message::{
    message_id_for, AutoSubmitted, ComposeError, Composer, MailContent, OutgoingMail, PreparedMail,
    Recipient,
};
pub use outbox::{
    run_worker, Backoff, Claim, ClaimedMail, FailureOutcome, FailureRecord, MailState,
    MemoryOutbox, OutboxError, OutboxStatus, OutboxStore, RoundReport, Worker, WorkerConfig,
};
pub use transport::{
    transport_from_config, FailureKind, MailTransport, MaildirTransport, SmtpSecurity,
    SmtpSettings, SmtpTransport, TransportConfig, TransportConfigError, TransportError,
};
