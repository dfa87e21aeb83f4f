//! Storage for mamori: the [`Store`] interface with its SQLite and PostgreSQL backends, the access
//! [`ledger`] with group commit, and the personal-data [`Gateway`].
//!
//! The invariant this crate carries: personal data is plaintext only inside the gateway, and the
//! gateway hands out plaintext only after an access event naming who read what, and why, is durable
//! in the ledger. Below the gateway everything is ciphertext (see `migrations/`).
//!
//! # Time units
//!
//! The older columns (`created_at`, `updated_at`, `placed_at` of customers, addresses, orders and
//! products) hold **microseconds** ([`now_us`]). Everything the shop added in migration
//! `0003_shop.sql` holds Unix **seconds** ([`now`]): sessions, webhook events, payments, the mail
//! outbox, tokens, carts and `customers.email_verified_at`. Store methods that touch both take
//! seconds and convert (e.g. [`Store::transition_order`] stores `at * 1_000_000` in
//! `orders.updated_at`).
//!
//! # The shop's persistence ([`Store`], nothing personal in the clear)
//!
//! | what | methods | notes |
//! |---|---|---|
//! | web sessions | [`Store::session_load`], [`Store::session_save`], [`Store::session_delete`], [`Store::session_purge`] | opaque record bytes sealed by the web layer, under its hashed storage key: implements `mamori_web`'s `SessionStore` (convert `DateTime` to seconds) |
//! | webhook replay guard | [`Store::webhook_first_seen`] | implements `mamori_pay`'s `ReplayGuard` (pass `now`) |
//! | payments | [`Store::payment_upsert`], [`Store::payment_of_order`], [`Store::payment_by_provider_id`] | one row per order; of a card only brand and last four digits |
//! | order states | [`Store::transition_order`] (compare-and-set plus mail), [`Store::order_header`], [`Store::order_by_number`], [`Store::orders_page`] | `false` = state was not in `from`: nothing changed, no mail |
//! | orders with mail | [`Store::insert_order_with_mail`] | an existing idempotency key queues no mail |
//! | account changes with mail | [`Store::update_customer_with_mail`], [`Store::insert_address_with_mail`], [`Store::delete_address`], [`Store::mark_email_verified`] | |
//! | mail outbox | [`Store::outbox_enqueue`], [`Store::outbox_claim`], [`Store::outbox_mark_sent`], [`Store::outbox_mark_failed`], [`Store::outbox_release`], [`Store::outbox_status`], [`Store::outbox_purge_sent`] | the semantics of `mamori_mail::OutboxStore` (below) |
//! | single-use tokens | [`Store::token_insert`], [`Store::token_consume`], [`Store::tokens_revoke`], [`Store::tokens_purge`] | only SHA-256 of a token is stored; consume is atomic |
//! | member carts | [`Store::cart_lines`], [`Store::cart_set`], [`Store::cart_clear`] | SKU and quantity; 0 removes a line |
//!
//! [`Store::erase_customer`] also empties the customer's queued mail payloads (pending mail goes
//! `dead`), and deletes their tokens and cart, in the erasure's transaction.
//!
//! ## The outbox as `mamori_mail::OutboxStore`
//!
//! Rows are queued in the transaction of their cause (an order, a state change, an account
//! change), so a mail exists if and only if its cause was committed. A worker maps the trait as:
//! `claim(limit, lease, now)` → [`Store::outbox_claim`] (ids and tokens are UUID text; the payload
//! is opened with [`Gateway::open_mail`]); `mark_sent(claim, at)` → [`Store::outbox_mark_sent`]
//! (any token, idempotent); `mark_failed(claim, failure)` → [`Store::outbox_mark_failed`] with
//! `Some(retry_at)` or `None` for dead and the failure's fixed reason; `release(claim)` →
//! [`Store::outbox_release`]. Claims are safe between workers and processes: SQLite takes its write
//! lock up front (`BEGIN IMMEDIATE`), PostgreSQL skips rows another worker holds
//! (`FOR UPDATE SKIP LOCKED`) and every row is claimed with a conditional `UPDATE`.
//!
//! # The shop's gateway calls ([`Gateway`])
//!
//! Each call records in the ledger before it writes or decrypts, like the older ones; a change
//! with a [`MailDraft`] is one event naming the change's fields plus
//! [`gateway::fields::MAIL`], and the mail is sealed with the customer's data key at
//! `mail_outbox/payload/<row id>` and queued in the change's transaction.
//!
//! | call | records |
//! |---|---|
//! | [`Gateway::place_order_with_mail`] | Write of the order fields (+ mail) |
//! | [`Gateway::transition_order_with_mail`] | with a mail: Write of `mail_outbox.payload` for the order's customer; without: nothing (no personal data) |
//! | [`Gateway::queue_mail`] | Write of `mail_outbox.payload` |
//! | [`Gateway::open_mail`] | Read of `mail_outbox.payload` (exactly one event; [`StoreError::Erased`] once the customer is erased) |
//! | [`Gateway::update_profile_with_mail`], [`Gateway::add_address_with_mail`], [`Gateway::delete_address`] | Write of the profile / address-book fields (+ mail) |
//! | [`Gateway::change_email`] | Write of `customers.email` (+ mail); the blind index follows, [`StoreError::DuplicateMember`] if another member has it |
//! | [`Gateway::change_password`] | Write of `customers.password_hash` (+ mail) |
//! | [`Gateway::issue_token`] / [`Gateway::consume_token`] | Write / Read of `auth_tokens.payload` when the token carries a payload; nothing otherwise |
//! | [`Gateway::verify_email`], [`Gateway::member_login`] | nothing (no personal value is read or written) |
//!
//! Tokens are 32 random bytes in base64url without padding; a new token revokes the customer's
//! earlier unused ones of the same purpose; a malformed, unknown, expired, used or other-purpose
//! token is simply `None`. [`Gateway::member_login`] answers [`LoginOutcome::Ok`],
//! [`LoginOutcome::Unverified`] (right password, email not confirmed yet) or
//! [`LoginOutcome::Invalid`], and verifies an unknown email against a dummy hash, so an unknown
//! address costs what a wrong password costs.

pub mod access;
mod backend;
mod codec;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod ledger;
pub mod model;
pub mod store;

pub use access::{Accessor, Action, Principal};
pub use backend::{PgStore, SqliteStore};
pub use error::StoreError;
pub use gateway::{Gateway, LoginOutcome, MailDraft};
pub use ledger::{Ledger, LedgerConfig};
pub use model::*;
pub use store::{open_store, Backend, OrderInsert, Store};
