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
//! outbox, tokens, carts and `customers.email_verified_at`; so does every time column of the back
//! office's `0004_backoffice.sql` (staff and their factors, the staff log, settings, images).
//! Filters over the older columns keep their unit ([`OrderFilter`], [`Store::sales_summary`]
//! take microseconds, and say so with `_us`). Store methods that touch both take
//! seconds and convert (e.g. [`Store::transition_order`] stores `at * 1_000_000` in
//! `orders.updated_at`).
//!
//! # The shop's persistence ([`Store`], nothing personal in the clear)
//!
//! | what | methods | notes |
//! |---|---|---|
//! | web sessions | [`Store::session_load`], [`Store::session_save`], [`Store::session_delete`], [`Store::session_purge`] | opaque record bytes sealed by the web layer, under its hashed storage key: implements `mamori_web`'s `SessionStore` (convert `DateTime` to seconds) |
//! | back-office sessions | [`Store::staff_session_load`], [`Store::staff_session_save`], [`Store::staff_session_delete`], [`Store::staff_session_purge`] | the same, in `staff_sessions` (migration `0025_multinode.sql`), apart from the storefront's; sealed under [`SystemPurpose::StaffSessions`] |
//! | job leases ([`JobLeaseStore`], part of [`Records`]) | [`JobLeaseStore::lease_take`], [`JobLeaseStore::lease_release`], [`JobLeaseStore::lease_of`] | one row per single-instance job (`0025_multinode.sql`): taken or renewed in one conditional upsert, by its holder or once expired |
//! | webhook replay guard | [`Store::webhook_first_seen`] | implements `mamori_pay`'s `ReplayGuard` (pass `now`) |
//! | payments | [`Store::payment_upsert`], [`Store::payment_of_order`], [`Store::payments_of_order`], [`Store::payment_by_provider_id`] | one row per attempt (a declined card and its retry are two); of a card only brand and last four digits |
//! | order states | [`Store::transition_order`] (compare-and-set plus mail), [`Store::order_header`], [`Store::order_by_number`], [`Store::orders_search`] | `false` = state was not in `from`: nothing changed, no mail |
//! | orders with mail | [`Store::insert_order_with_mail`] | an existing idempotency key queues no mail |
//! | account changes with mail | [`Store::update_customer_with_mail`], [`Store::insert_address_with_mail`], [`Store::delete_address`], [`Store::mark_email_verified`] | |
//! | mail outbox | [`Store::outbox_enqueue`], [`Store::outbox_claim`], [`Store::outbox_mark_sent`], [`Store::outbox_mark_failed`], [`Store::outbox_release`], [`Store::outbox_status`], [`Store::outbox_purge_sent`] | the semantics of `mamori_mail::OutboxStore` (below) |
//! | single-use tokens | [`Store::token_insert`], [`Store::token_consume`], [`Store::tokens_revoke`], [`Store::tokens_purge`] | only SHA-256 of a token is stored; consume is atomic |
//! | member carts | [`Store::cart_lines`], [`Store::cart_set`], [`Store::cart_clear`] | SKU and quantity; 0 removes a line |
//! | storefront ([`StorefrontStore`], part of [`Records`]) | [`StorefrontStore::product_image_heads`], [`StorefrontStore::receipt_issue`] | images without bytes; a receipt's issuer recorded once, at first issue (`0007_storefront.sql`) |
//!
//! [`Store::erase_customer`] also empties the customer's queued mail payloads (pending mail goes
//! `dead`), and deletes their tokens and cart, in the erasure's transaction.
//!
//! ## The outbox as `mamori_mail::OutboxStore`
//!
//! Rows are queued in the transaction of their cause (an order, a state change, an account
//! change), so a mail exists if and only if its cause was committed. [`SqlOutbox`] (the gateway's
//! `outbox` module) is the trait over the store, which the binary's mail worker and the tests run;
//! it maps the trait as:
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
//! | [`Gateway::queue_unlinked_mail`] | Write of `mail_outbox.payload` naming the customer; the mail is sealed under a system key, so it outlives the customer's data key |
//! | [`Gateway::queue_system_mail`] | nothing (a mail about no customer, e.g. to a member of staff; sealed under the same system key) |
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

//! # The back office's persistence ([`Store`], migration `0004_backoffice.sql`)
//!
//! No table of the back office holds a customer's personal value: the staff log names customers
//! by id and fields by name. Staff rows hold the staff member's own work email (lower-case,
//! unique) and display name in the clear.
//!
//! | what | methods | notes |
//! |---|---|---|
//! | staff accounts | [`Store::staff_insert`], [`Store::staff_by_id`], [`Store::staff_by_email`], [`Store::staff_list`], [`Store::staff_update`] | [`StoreError::Duplicate`] on an email clash; roles and states checked by the schema |
//! | lockout | [`Store::staff_login_failed`], [`Store::staff_login_succeeded`] | one statement each: concurrent failures all count; from the threshold on each failure (re)starts the lock |
//! | passkeys | [`Store::staff_passkey_insert`], [`Store::staff_passkeys`], [`Store::staff_passkey_by_credential`], [`Store::staff_passkey_update`], [`Store::staff_passkey_delete`] | `webauthn_rs` JSON; credential ids unique; delete needs the owner |
//! | TOTP | [`Store::staff_totp_set`], [`Store::staff_totp`], [`Store::staff_totp_use_step`], [`Store::staff_totp_delete`] | secret sealed by the caller; a step is used by compare-and-set (`step > last_step`), so a code works once |
//! | recovery codes | [`Store::staff_recovery_replace`], [`Store::staff_recovery_use`], [`Store::staff_recovery_remaining`] | hashes only; a code works once, also under concurrent use |
//! | enrolment tokens | [`Store::staff_token_insert`], [`Store::staff_token_consume`], [`Store::staff_tokens_revoke`] | hashes only; consume is atomic, once, before `expires_at` |
//! | devices | [`Store::staff_device_seen`] | true once per member and device (new-device mail) |
//! | staff log | [`Store::staff_log_append`], [`Store::staff_log_page`] | [`StaffLogFilter`]: member, action prefix (wildcards literal), `[from, to)`; newest first |
//! | settings | [`Store::settings_all`], [`Store::settings_put`] | JSON values by key, with who changed them |
//! | product images | [`Store::product_image_insert`], [`Store::product_image`], [`Store::product_images_of`], [`Store::product_image_delete`] | bytes checked and re-encoded by the caller |
//! | products | [`Store::product_by_id`], [`Store::products_page_all`] (inactive ones too), [`Store::set_stock`] | |
//! | orders and sales | [`Store::orders_search`] ([`OrderFilter`]), [`Store::sales_summary`] | sales leave out cancelled and refunded orders and unpaid card orders |
//! | refunds | [`Store::refund_insert`], [`Store::refunds_of_order`], [`Store::refunded_total`] ([`Refunds`], migration `0024_order_refunds.sql`) | one row per refund with its reason; the insert checks in one statement that the order's refunds stay within its total, and a key seen before records nothing |
//! | public notices | [`Store::public_notice_save`], [`Store::public_notice_set_shown`], [`Store::public_notices_published`] ([`PublicNoticeStore`], migration `0026_public_notices.sql`) | every saved version of an incident's お詫びとお知らせ kept (append-only); one version shown per incident, none once unpublished |
//! | customers | [`Store::customers_page`] | members and guests, erased ones too (`erased_at`), newest first |
//!
//! Order lines carry `shipment_no`, the delivery they go to ([`Gateway::place_order_split`];
//! [`gateway::OrderView::item_shipments`]); lines written before 0004 hold 0 and go with the
//! first delivery.
//!
//! # The back office's gateway calls ([`Gateway`])
//!
//! Masked views open plaintext inside the gateway only to mask it (`山田 **`, `t***@example.jp`,
//! `090-****-5678`, `東京都千代田区 ***`, `****-**-**`) and are recorded as
//! [`Action::ReadMasked`]. Reveals and exports hand plaintext to a person: they need the reason
//! the person gave ([`Accessor::because`]: not blank, one line, at most
//! [`gateway::REASON_MAX_CHARS`] characters), which the event carries; without one they are
//! refused ([`StoreError::BadInput`], field `reason`) and record nothing. Every call fails when the ledger cannot
//! record ([`StoreError::LedgerUnavailable`]), and records before it decrypts.
//!
//! | call | records |
//! |---|---|
//! | [`Gateway::customers_masked`] | one ReadMasked naming the page's customers whose data was opened (erased ones are listed, flagged, and not named), of `customers.name/email/phone` and `addresses.address` |
//! | [`Gateway::customer_masked`] | one ReadMasked of [`gateway::fields::MASKED_DETAIL`]; nothing for an erased customer |
//! | [`Gateway::order_masked`] | one ReadMasked of [`gateway::fields::MASKED_ORDER`] (名入れ and のし stay sealed); nothing once erased |
//! | [`Gateway::reveal`] | one Read naming exactly that customer and [`CustomerField::ledger_field`], with the reason; nothing (and an error) for an erased customer, an unknown one or an empty field |
//! | [`Gateway::export_customers`] | ONE Read naming exactly the ids (repeats dropped) and fields, with the reason; refuses an empty list of either, an unknown or erased customer |
//! | [`Gateway::shipping_rows`] | ONE Read naming each order's customer and [`gateway::fields::SHIPPING`] plus the gift fields (名入れ, のし) the orders have, with the reason; refuses an empty list, an unknown order, an erased customer's order |
//! | [`Gateway::order_gifts`] | one Read naming the order's customer and exactly the gift fields it has ([`gateway::GIFT_FIELDS`]); nothing for an order without gifts; [`StoreError::Erased`] once erased |
//! | [`Gateway::order_contact`] | one Read of [`gateway::CONTACT_FIELDS`] (to mail the buyer about their order); nothing (and `None`) once erased |
//! | [`Gateway::ship_order_with_mail`] | like [`Gateway::transition_order_with_mail`]; the tracking numbers ([`Fulfilment`], migration `0008_order_mail.sql`, with the order's mail language) are not personal |
//! | [`Gateway::refund_with_mail`] | like [`Gateway::transition_order_with_mail`] (the write of the mail), with the refund's row instead of a change of state |
//! | [`Gateway::find_member`] | nothing (blind index of members) |
//!
//! # Mass-read limits and canaries ([`gateway::ReadBudgets`], migration `0014_read_budgets.sql`)
//!
//! Every [`Action::Read`] is charged to its principal's read budget in the ledger's append
//! transaction ([`Ledger::record_charged`]): a read that would cross a limit is refused with
//! [`StoreError::ReadBudgetExceeded`] before anything is decrypted and is not appended; the
//! principal is stopped ([`ReadBudgetStore::read_stop_lift`] undoes it, through
//! [`Gateway::lift_read_stop`]). A signed-in customer naming another customer in a read gets
//! [`StoreError::CrossCustomer`]. Canary customers are marked by [`Gateway::mark_canary`] (sealed
//! marks, [`CanaryStore`]); a plaintext read of one raises [`gateway::ReadAlarmEvent::CanaryRead`]
//! through the [`gateway::ReadAlarm`] the binary sets ([`Gateway::set_read_alarm`]), and
//! [`Gateway::export_customers`] leaves canaries out.
//!
//! An event's `reason` is stored in the clear in the ledger, which cannot forget it: the back
//! office must ask for a reason without personal values (a ticket number, not a name).

pub mod access;
mod backend;
mod codec;
pub mod error;
pub mod fraud;
pub mod gateway;
pub mod ledger;
pub mod model;
pub mod password;
pub mod sealer;
pub mod store;

pub use access::{Accessor, Action, Principal};
pub use backend::{PgStore, SqliteStore};
pub use error::StoreError;
pub use gateway::{
    CustomerField, ExportedCustomer, Gateway, LoginOutcome, MailDraft, MaskedAddress,
    MaskedCustomer, MaskedCustomerDetail, MaskedOrder, MaskedOrderLine, MaskedShipment, ReadAlarm,
    ReadAlarmEvent, ReadBudgets, RoleBudget, ShippingRow, SqlOutbox,
};
pub use ledger::{Ledger, LedgerConfig};
pub use mamori_vault::{PasswordCheck, VaultError};
pub use model::*;
pub use password::PasswordHasher;
pub use sealer::{SystemPurpose, SystemSealer};
pub use store::*;
