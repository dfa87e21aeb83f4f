//! mamori's back-office staff: who they are, what their role lets them do, and how they prove it.
//!
//! * [`roles`]: the five [`Role`]s and the fixed matrix of [`Permission`]s the back office checks
//!   on the server for every action.
//! * [`StaffAuth`]: invitations and enrolment, passwords (Argon2id with the key file's pepper,
//!   the members' hasher), TOTP, recovery codes, passkeys (WebAuthn through `webauthn-rs`), the
//!   login steps with per-account lockout, new-device detection, and the rules of staff
//!   management (the last active owner stays; the last second factor stays).
//!
//! Everything is stored through `mamori_store::Store` (migration `0004_backoffice.sql`); times
//! are Unix seconds from a [`Clock`] ([`ManualClock`] in tests).
//!
//! # What is stored
//!
//! | what | stored as |
//! |---|---|
//! | password | Argon2id PHC string; the pepper is in the key file, not the database |
//! | enrolment link | SHA-256 of its 32 random bytes (base64url); 72 hours; once |
//! | TOTP secret | 20 random bytes sealed (AES-256-GCM) under `KeyRing::system_data_key("staff.totp")`, bound to `staff_totp/secret/<staff id>`; the last accepted time step |
//! | recovery codes | SHA-256 of each normalised code (upper case, no hyphen or space); used ones marked |
//! | passkeys | `webauthn_rs::Passkey` as JSON: credential id, public key, counter; no secret |
//! | devices | SHA-256 of the device cookie's value |
//! | passkey ceremonies | SHA-256 of a random handle, valid 5 minutes, once (so an answer cannot be replayed even if a web session keeps the ceremony state) |
//!
//! # Flows
//!
//! **Enrolment.** An owner (or `mamori staff create` for the first owner) calls
//! [`StaffAuth::invite`]: a row in state `invited` and a one-time [`EnrolmentToken`], sent as a
//! link. Opening it calls [`StaffAuth::begin_enrolment`], which uses the token up; the web
//! session then remembers the staff id while the new member of staff
//! 1. chooses a password ([`StaffAuth::set_enrolment_password`]: at least 12 characters, not
//!    containing the local part of their email; refusals in Japanese and English),
//! 2. registers a passkey ([`StaffAuth::passkey_register_begin`] → the browser's
//!    `navigator.credentials.create()` → [`StaffAuth::passkey_register_finish`]) and/or an
//!    authenticator app ([`StaffAuth::totp_begin`] → the QR code → [`StaffAuth::totp_confirm`]
//!    with a code it shows),
//! 3. finishes with [`StaffAuth::activate`]: only with a password and a second factor does the
//!    account become `active`, and only then are its ten recovery codes made and shown once.
//!
//! **Login.** [`StaffAuth::login_password`] answers [`PasswordStep::NeedsSecondFactor`] for the
//! right password of an active account, naming which factors it has; nothing is signed in yet.
//! Then one of [`StaffAuth::passkey_auth_begin`] + [`StaffAuth::second_factor_passkey`],
//! [`StaffAuth::second_factor_totp`] or [`StaffAuth::second_factor_recovery`] answers
//! [`FactorOutcome::Ok`]; only then may the web layer create the staff session (and call
//! [`StaffAuth::device_seen`] to mail the staff member about a new browser). The same
//! second-factor calls serve a step-up before sensitive actions.
//!
//! * An unknown email is verified against a dummy Argon2id hash and answers
//!   [`PasswordStep::Invalid`], like a wrong password; so does an account still `invited`.
//! * Every failure, of the password or of a second factor (a wrong, replayed or out-of-window
//!   TOTP code, a used or unknown recovery code, a passkey answer that does not verify, a
//!   replayed ceremony), counts toward the lockout: at 5 failures (configurable) the account is
//!   locked for 15 minutes and refuses even the right password and factor until then. Once a
//!   lock has run out, each further failure locks it again until a success resets the count.
//! * A TOTP code is accepted within one 30-second step either way, and each step once (compare-
//!   and-set on the last accepted step): a code cannot be used twice, nor an older one after it.
//! * A disabled account answers [`PasswordStep::Disabled`] only to the right password.
//! * When the Argon2 parameters change, the password is rehashed at the next right password.
//!
//! **Staff management.** [`StaffAuth::change_role`], [`StaffAuth::disable`] and
//! [`StaffAuth::enable`] and [`StaffAuth::reset_enrolment`] (a member who lost every factor
//! starts over with a new enrolment link) check that the acting member of staff is active with
//! [`Permission::StaffManage`] (owners). The last active owner can be neither demoted nor
//! disabled. A disabled account keeps its factors; the web layer must look the account up on
//! every request and end sessions of accounts that are no longer `active`.
//! [`StaffAuth::passkey_delete`] and [`StaffAuth::totp_remove`] refuse to remove the last second
//! factor of an activated account.
//!
//! # What a stolen staff password alone can do
//!
//! Nothing. The password step only answers that a second factor is needed; no session, page or
//! data is reachable without a passkey (bound by the browser to the back office's origin, so a
//! phishing site cannot relay it), a TOTP code from the staff member's phone, or one of their
//! recovery codes. Guessing those is bounded by the lockout: five failures lock the account for
//! 15 minutes, then one guess per lock period. A copied database does not help either: password
//! hashes need the key file's pepper, TOTP secrets are sealed under a key derived from the master
//! key, and tokens, recovery codes and device cookies are stored only as hashes.
//!
//! # WebAuthn on localhost
//!
//! Passkeys are bound to a relying-party id, which must be a domain: an IP address such as
//! `127.0.0.1` is refused by browsers and by webauthn-rs ([`StaffAuth::new`] answers
//! [`StaffError::Config`]). For local use open the back office at `http://localhost:<port>`
//! and configure [`RelyingParty::localhost`] with that port: browsers treat `http://localhost`
//! as a secure context, and webauthn-rs accepts the `http` scheme there but compares scheme,
//! host and port of the origin exactly. In production use the back office's `https://` origin
//! and its host name as the RP id.
//!
//! # What the web layer does with this
//!
//! Keep [`PasskeyRegistrationState`] / [`PasskeyAuthenticationState`] (JSON) and
//! [`TotpEnrolment::pending`] in the server-side session and drop them after use; send the
//! WebAuthn options to the browser as JSON and pass the browser's answers back; show secrets
//! (enrolment links, the TOTP QR code, recovery codes) once and never log them; ask for a fresh
//! second factor (step-up) before an active account adds or removes a factor, changes its
//! password or regenerates its recovery codes; throttle per IP address (the lockout here is per
//! account); write the staff log entry for each change.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod auth;
pub mod clock;
mod error;
pub mod password;
pub mod roles;
mod secrets;
pub mod totp;

pub use auth::{
    normalise_email, state, EnrolmentToken, FactorOutcome, Factors, PasskeyAuthenticationState,
    PasskeyRegistrationState, PasswordStep, RecoveryCodes, RelyingParty, StaffAuth,
    StaffAuthConfig, TotpEnrolment, ENROL_PURPOSE,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Result, StaffError};
pub use password::PasswordProblem;
pub use roles::{Permission, Role};
/// The WebAuthn types a web layer passes through: options to the browser, the browser's answers.
pub use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};
