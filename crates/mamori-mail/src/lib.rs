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
//!   [`OutgoingMail::from_content`]`(to, content)`; in the customer's language only (its `lang`),
//!   with 名入れ and のし per line, the 代引き fee apart from shipping, the bank account and
//!   deadline of a bank transfer, and for store pickup the store instead of deliveries.
//! - [`order_status`]: the later steps of an order, same style: [`order_status::payment_confirmed`],
//!   [`order_status::shipped`] (tracking numbers; pickup: ready to collect),
//!   [`order_status::cancelled`], [`order_status::refunded`].
//! - [`account`]: the account mails, each `fn(&Input) -> MailContent`, same style (Japanese
//!   first, English below, subject `【shop】件名 / English subject`, plain text only):
//!   - link mails from a [`LinkMail`] `{ shop, name, link, expires_at }`:
//!     [`registration_confirmation`] (会員登録のご確認), [`email_change_confirmation`] (to the
//!     *new* address), [`password_reset`] (パスワード再設定; ignore if not asked, works once,
//!     expires at …). The link stands alone on its line.
//!   - notices from a [`NoticeMail`] `{ shop, name, context: ChangeContext }`:
//!     [`password_changed`], [`email_changed`]`(m, new_address_masked)` (to the *old* address;
//!     mask with `mamori_domain::Email::masked`), [`address_book_changed`]`(m, added)`,
//!     [`profile_changed`]. Each prints when, from which IP and which browser, and what to do
//!     if it was not the member (reset the password, contact support), in both languages.
//!   - [`withdrawal_completed`]`(shop, name)`, [`payment_received`]`(shop, name, order_number,
//!     amount)`, [`order_canceled`]`(shop, name, order_number, refunded)` (`None`: nothing was
//!     charged).
//!   - [`ChangeContext`] `{ at, ip, browser }` (or [`ChangeContext::new`]`(at, ip, user_agent)`),
//!     whose `Debug` hides the IP; [`browser_summary`]`(user_agent)` gives `Chrome (Windows)`,
//!     `Safari (iPhone)` … or `不明のブラウザ / unknown browser`, only ever from a fixed
//!     vocabulary, never the raw User-Agent.
//!
//!   No template takes a password or a card number. Names and order numbers are printed on one
//!   line (control and bidi characters become spaces, names cut at
//!   [`account::MAX_NAME_CHARS`]), so a member's name cannot add lines to a mail the shop signs.
//! - [`payload`]: the outbox's stored form. [`OutgoingMail::to_payload`]`() ->
//!   Zeroizing<Vec<u8>>` (JSON, `"version": 1`) and [`OutgoingMail::from_payload`]`(&[u8]) ->
//!   Result<OutgoingMail, PayloadError>`; the round trip is exact (id, created_at to the
//!   nanosecond, headers, reply_to, auto_submitted). `OutgoingMail` itself has no `Serialize`;
//!   [`PayloadError`] never quotes the payload. Seal the bytes before storing them.
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
//!   the catcher's messages and the template data ([`LinkMail`] hides its link too, a
//!   one-time token) print `[redacted]` or sizes in `Debug`;
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

pub mod account;
pub mod catcher;
pub mod dkim;
pub mod message;
pub mod order_status;
pub mod outbox;
pub mod payload;
pub mod template;
pub mod transport;

pub use account::{
    address_book_changed, browser_summary, email_change_confirmation, email_changed,
    order_canceled, password_changed, password_reset, payment_received, profile_changed,
    registration_confirmation, withdrawal_completed, ChangeContext, LinkMail, NoticeMail,
};

pub use dkim::{DkimAlgorithm, DkimError, DkimSigner};
pub use message::{
    message_id_for, AutoSubmitted, ComposeError, Composer, MailContent, OutgoingMail, PreparedMail,
    Recipient,
};
pub use outbox::{
    run_worker, Backoff, Claim, ClaimedMail, FailureOutcome, FailureRecord, MailState,
    MemoryOutbox, OutboxError, OutboxStatus, OutboxStore, RoundReport, Worker, WorkerConfig,
};
pub use payload::{PayloadError, PAYLOAD_VERSION};
pub use transport::{
    transport_from_config, FailureKind, MailTransport, MaildirTransport, SmtpSecurity,
    SmtpSettings, SmtpTransport, TransportConfig, TransportConfigError, TransportError,
};
