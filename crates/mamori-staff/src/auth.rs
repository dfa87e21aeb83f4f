//! [`StaffAuth`]: invitations, enrolment, passwords, TOTP, recovery codes, passkeys, login with
//! lockout, new-device detection and the rules of staff management.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mamori_domain::Email;
use mamori_store::model::{PasskeyRow, StaffRow, StaffTokenRow};
use mamori_store::PasswordCheck;
use mamori_store::{PasswordHasher, Records, StoreError, SystemSealer};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use crate::clock::Clock;
use crate::error::{Result, StaffError};
use crate::password;
use crate::roles::{Permission, Role};
use crate::secrets;
use crate::totp;

/// Purpose of enrolment tokens in `staff_tokens`.
pub const ENROL_PURPOSE: &str = "enrol";
/// Purpose of the single-use handle of a passkey registration in `staff_tokens`.
const PASSKEY_REGISTER_PURPOSE: &str = "passkey_register";
/// Purpose of the single-use handle of a passkey sign-in in `staff_tokens`.
const PASSKEY_AUTH_PURPOSE: &str = "passkey_auth";
/// Longest display name, in characters.
const DISPLAY_NAME_MAX_CHARS: usize = 100;

/// Account states as stored in `staff.state`.
pub mod state {
    /// Invited: enrolment not finished; cannot sign in.
    pub const INVITED: &str = "invited";
    /// Active: password and at least one second factor; may sign in.
    pub const ACTIVE: &str = "active";
    /// Disabled by an owner: cannot sign in; factors are kept.
    pub const DISABLED: &str = "disabled";
}

/// The WebAuthn relying party: who the passkeys are bound to.
///
/// For local use the back office is opened at `http://localhost:<port>` with `rp_id`
/// `localhost`: browsers treat `http://localhost` as a secure context, and webauthn-rs accepts
/// the `http` scheme for it. An IP address (`127.0.0.1`) cannot be an RP id: WebAuthn requires a
/// domain, and both the browser and webauthn-rs refuse it. The origin's port must be the one the
/// browser shows (webauthn-rs compares scheme, host and port), so configure the listener's real
/// port. In production use the back office's `https://` origin and its host name as `rp_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP id: the origin's host name or a registrable suffix of it (`localhost`,
    /// `admin.example.jp`).
    pub rp_id: String,
    /// The exact origin the browser shows (`http://localhost:8081`, `https://admin.example.jp`).
    pub rp_origin: Url,
    /// The name authenticators show ("mamori 管理画面").
    pub rp_name: String,
}

impl RelyingParty {
    /// `http://localhost:<port>` with RP id `localhost`, for local use and tests.
    pub fn localhost(port: u16, rp_name: &str) -> Result<Self> {
        let rp_origin = Url::parse(&format!("http://localhost:{port}"))
            .map_err(|e| StaffError::Config(e.to_string()))?;
        Ok(Self {
            rp_id: "localhost".into(),
            rp_origin,
            rp_name: rp_name.into(),
        })
    }
}

/// Settings of the staff service.
#[derive(Clone, Debug)]
pub struct StaffAuthConfig {
    /// Who passkeys are bound to.
    pub relying_party: RelyingParty,
    /// Failed attempts (password or second factor) that lock an account. Default 5.
    pub lockout_threshold: i64,
    /// How long a lock lasts, in seconds. Default 15 minutes.
    pub lockout_secs: i64,
    /// How long an enrolment link stays valid, in seconds. Default 72 hours.
    pub enrolment_ttl_secs: i64,
    /// How long a passkey ceremony (begin → finish) may take, in seconds. Default 5 minutes
    /// (WebAuthn's recommended authenticator timeout).
    pub ceremony_ttl_secs: i64,
}

impl StaffAuthConfig {
    /// The defaults for `relying_party`.
    pub fn new(relying_party: RelyingParty) -> Self {
        Self {
            relying_party,
            lockout_threshold: 5,
            lockout_secs: 15 * 60,
            enrolment_ttl_secs: 72 * 3600,
            ceremony_ttl_secs: 300,
        }
    }
}

/// A one-time enrolment link's secret part. Shown once (printed by `mamori staff create`, or
/// mailed); only its SHA-256 is stored.
#[derive(Debug)]
pub struct EnrolmentToken {
    /// 32 random bytes in base64url without padding.
    pub secret: SecretString,
    /// Valid while `now < expires_at` (Unix seconds).
    pub expires_at: i64,
}

/// What a new authenticator app needs, and the sealed secret to keep until it is confirmed.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into the app.
    pub secret_base32: SecretString,
    /// `otpauth://totp/mamori:<email>?secret=...&issuer=mamori`.
    pub otpauth_uri: SecretString,
    /// The URI as an SVG QR code (holds the secret: show it once, never log it).
    pub qr_svg: SecretString,
    /// The secret sealed for this staff member (base64url). Keep it in the web session and pass
    /// it to [`StaffAuth::totp_confirm`]; it opens only for the same staff id.
    pub pending: String,
}

/// Recovery codes as shown once (`xxxxx-xxxxx`); only their hashes are stored.
#[derive(Debug)]
pub struct RecoveryCodes {
    /// Ten codes, each usable once.
    pub codes: Vec<SecretString>,
}

/// Which factors an account has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Factors {
    /// A password is set.
    pub password: bool,
    /// Registered passkeys.
    pub passkeys: usize,
    /// An authenticator app is confirmed.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_remaining: i64,
}

impl Factors {
    /// Whether a second factor (passkey or TOTP) exists. Recovery codes do not count: they are
    /// the way back in when the factor is lost, not a factor of their own.
    pub fn has_second_factor(&self) -> bool {
        self.passkeys > 0 || self.totp
    }
}

/// Answer to the password step of a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordStep {
    /// Right password: now a second factor. Nothing is signed in yet.
    NeedsSecondFactor {
        /// Whose password it was.
        staff_id: String,
        /// The account has a passkey.
        passkey: bool,
        /// The account has an authenticator app.
        totp: bool,
    },
    /// Unknown email, wrong password, or an account that is not active yet (not told apart).
    Invalid,
    /// Too many failures: refused until `until` (Unix seconds), even with the right password.
    Locked {
        /// End of the lock.
        until: i64,
    },
    /// Right password, but an owner disabled the account.
    Disabled,
}

/// Answer to a second-factor step (login or step-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactorOutcome {
    /// The factor is good: the account as it is now (failure count reset).
    Ok(Box<StaffRow>),
    /// Wrong, reused or expired code, or a passkey that does not verify.
    Invalid,
    /// Too many failures: refused until `until` (Unix seconds).
    Locked {
        /// End of the lock.
        until: i64,
    },
    /// The account is disabled (or not active).
    Disabled,
}

/// A passkey registration in progress. Serialise it (JSON) into the web session between
/// [`StaffAuth::passkey_register_begin`] and [`StaffAuth::passkey_register_finish`], and drop it
/// after the finish, whatever the outcome.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasskeyRegistrationState {
    staff_id: String,
    /// Single-use handle of this ceremony in `staff_tokens` (only its hash is stored).
    nonce: String,
    state: PasskeyRegistration,
}

/// Prints only whose ceremony it is: the handle and challenge stay out of logs.
impl std::fmt::Debug for PasskeyRegistrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRegistrationState")
            .field("staff_id", &self.staff_id)
            .finish_non_exhaustive()
    }
}

impl PasskeyRegistrationState {
    /// Whose registration this is.
    pub fn staff_id(&self) -> &str {
        &self.staff_id
    }
}

/// A passkey sign-in in progress (login or step-up). Serialise it (JSON) into the web session
/// between [`StaffAuth::passkey_auth_begin`] and [`StaffAuth::second_factor_passkey`], and drop
/// it after the finish, whatever the outcome.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasskeyAuthenticationState {
    staff_id: String,
    /// Single-use handle of this ceremony in `staff_tokens` (only its hash is stored).
    nonce: String,
    state: PasskeyAuthentication,
}

/// Prints only whose ceremony it is: the handle and challenge stay out of logs.
impl std::fmt::Debug for PasskeyAuthenticationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyAuthenticationState")
            .field("staff_id", &self.staff_id)
            .finish_non_exhaustive()
    }
}

impl PasskeyAuthenticationState {
    /// Whose sign-in this is.
    pub fn staff_id(&self) -> &str {
        &self.staff_id
    }
}

/// The staff authentication service. Cheap to share behind an `Arc`.
pub struct StaffAuth {
    store: Arc<dyn Records>,
    /// Seals TOTP secrets (the gateway's sealer for `SystemPurpose::StaffTotp`).
    totp_sealer: SystemSealer,
    clock: Arc<dyn Clock>,
    config: StaffAuthConfig,
    webauthn: Webauthn,
    /// Argon2id on the blocking pool, and the dummy hash an unknown email is verified against.
    passwords: PasswordHasher,
}

impl std::fmt::Debug for StaffAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffAuth")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl StaffAuth {
    /// The service over `store` (no customer value on it), with `totp_sealer` for TOTP secrets
    /// (the gateway's, for `SystemPurpose::StaffTotp`), `passwords` for hashing (the members'
    /// Argon2id and pepper) and `clock` for every time it reads.
    ///
    /// [`StaffError::Config`] when the relying party does not make sense (an IP address as RP
    /// id, an RP id that is not a suffix of the origin's host).
    pub fn new(
        store: Arc<dyn Records>,
        totp_sealer: SystemSealer,
        passwords: PasswordHasher,
        clock: Arc<dyn Clock>,
        config: StaffAuthConfig,
    ) -> Result<Self> {
        let rp = &config.relying_party;
        let webauthn = WebauthnBuilder::new(&rp.rp_id, &rp.rp_origin)
            .map_err(|e| StaffError::Config(e.to_string()))?
            .rp_name(&rp.rp_name)
            .build()
            .map_err(|e| StaffError::Config(e.to_string()))?;
        Ok(Self {
            store,
            passwords,
            totp_sealer,
            clock,
            config,
            webauthn,
        })
    }

    /// Now, by the service's clock.
    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    // ---- accounts ----

    /// A member of staff by id.
    pub async fn staff(&self, staff_id: &str) -> Result<Option<StaffRow>> {
        Ok(self.store.staff_by_id(staff_id).await?)
    }

    /// Every member of staff.
    pub async fn list(&self) -> Result<Vec<StaffRow>> {
        Ok(self.store.staff_list().await?)
    }

    /// A member of staff's role (an unknown stored role is [`StaffError::Malformed`]).
    pub fn role_of(row: &StaffRow) -> Result<Role> {
        Role::parse(&row.role).ok_or(StaffError::Malformed { what: "role" })
    }

    async fn require(&self, staff_id: &str) -> Result<StaffRow> {
        self.store
            .staff_by_id(staff_id)
            .await?
            .ok_or(StaffError::NotFound)
    }

    /// Checks that `actor` is an active member of staff whose role has `permission`.
    async fn require_actor(&self, actor: &str, permission: Permission) -> Result<StaffRow> {
        let row = self
            .store
            .staff_by_id(actor)
            .await?
            .ok_or(StaffError::Forbidden)?;
        if row.state != state::ACTIVE || !Self::role_of(&row)?.can(permission) {
            return Err(StaffError::Forbidden);
        }
        Ok(row)
    }

    /// Invites a member of staff: a row in state `invited` and a one-time enrolment token valid
    /// for 72 hours. `invited_by` is the inviting owner (checked: active, with
    /// [`Permission::StaffManage`]); `None` only for the first owner made from the command line.
    pub async fn invite(
        &self,
        role: Role,
        email: &str,
        display_name: &str,
        invited_by: Option<&str>,
    ) -> Result<(StaffRow, EnrolmentToken)> {
        if let Some(actor) = invited_by {
            self.require_actor(actor, Permission::StaffManage).await?;
        }
        let email = normalise_email(email)?;
        let display_name = check_display_name(display_name)?;
        if self.store.staff_by_email(&email).await?.is_some() {
            return Err(StaffError::DuplicateEmail);
        }
        let now = self.now();
        let row = StaffRow {
            id: Uuid::now_v7().to_string(),
            email,
            display_name,
            role: role.as_str().into(),
            state: state::INVITED.into(),
            password_hash: None,
            failed_logins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        };
        match self.store.staff_insert(&row).await {
            Ok(()) => {}
            Err(StoreError::Duplicate { .. }) => return Err(StaffError::DuplicateEmail),
            Err(e) => return Err(e.into()),
        }
        let token = self.issue_enrolment(&row.id, now).await?;
        Ok((row, token))
    }

    /// A new enrolment link for a member of staff who is still `invited` (the first link expired
    /// or was used without finishing). `by` as in [`StaffAuth::invite`]. Earlier unused links
    /// stop working.
    pub async fn reissue_enrolment(
        &self,
        staff_id: &str,
        by: Option<&str>,
    ) -> Result<EnrolmentToken> {
        if let Some(actor) = by {
            self.require_actor(actor, Permission::StaffManage).await?;
        }
        let row = self.require(staff_id).await?;
        if row.state != state::INVITED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let now = self.now();
        self.store
            .staff_tokens_revoke(staff_id, ENROL_PURPOSE, now)
            .await?;
        self.issue_enrolment(staff_id, now).await
    }

    async fn issue_enrolment(&self, staff_id: &str, now: i64) -> Result<EnrolmentToken> {
        let (secret, token_hash) = secrets::new_token()?;
        let expires_at = now + self.config.enrolment_ttl_secs;
        self.store
            .staff_token_insert(&StaffTokenRow {
                token_hash,
                staff_id: staff_id.into(),
                purpose: ENROL_PURPOSE.into(),
                expires_at,
                used_at: None,
                created_at: now,
            })
            .await?;
        Ok(EnrolmentToken { secret, expires_at })
    }

    /// Opens an enrolment link: uses the token up (it works once, within 72 hours) and answers
    /// the invited member of staff. `None` for a malformed, unknown, used or expired token, or
    /// an account that is no longer `invited`. Keep the staff id in the web session for the
    /// enrolment steps that follow.
    pub async fn begin_enrolment(&self, token: &str) -> Result<Option<StaffRow>> {
        let token = token.trim();
        // 32 bytes in base64url without padding are 43 characters.
        if token.len() != 43 || URL_SAFE_NO_PAD.decode(token).is_err() {
            return Ok(None);
        }
        let hash = secrets::token_hash(token);
        let Some(used) = self
            .store
            .staff_token_consume(&hash, ENROL_PURPOSE, self.now())
            .await?
        else {
            return Ok(None);
        };
        let row = self.store.staff_by_id(&used.staff_id).await?;
        Ok(row.filter(|r| r.state == state::INVITED))
    }

    /// Sets the password of a member of staff who is enrolling (state `invited`).
    pub async fn set_enrolment_password(&self, staff_id: &str, new: &SecretString) -> Result<()> {
        let mut row = self.require(staff_id).await?;
        if row.state != state::INVITED {
            return Err(StaffError::WrongState { state: row.state });
        }
        password::check_policy(new, &row.email).map_err(StaffError::WeakPassword)?;
        row.password_hash = Some(self.passwords.hash(new).await.map_err(hashing_error)?);
        row.updated_at = self.now();
        self.store.staff_update(&row).await?;
        Ok(())
    }

    /// Changes an active member of staff's own password; the current one must be given. A wrong
    /// current password counts toward the lockout like a failed login.
    pub async fn change_password(
        &self,
        staff_id: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<()> {
        let mut row = self.require(staff_id).await?;
        if row.state != state::ACTIVE {
            return Err(StaffError::WrongState { state: row.state });
        }
        let now = self.now();
        if let Some(until) = row.locked_until.filter(|u| *u > now) {
            return Err(StaffError::Locked { until });
        }
        let stored = row.password_hash.clone().ok_or(StaffError::WrongPassword)?;
        let check = self
            .passwords
            .verify(current, stored)
            .await
            .map_err(hashing_error)?;
        if check == PasswordCheck::Invalid {
            self.count_failure(&row.id, now).await?;
            return Err(StaffError::WrongPassword);
        }
        password::check_policy(new, &row.email).map_err(StaffError::WeakPassword)?;
        row.password_hash = Some(self.passwords.hash(new).await.map_err(hashing_error)?);
        row.updated_at = now;
        self.store.staff_update(&row).await?;
        Ok(())
    }

    /// Which factors an account has.
    pub async fn factors(&self, staff_id: &str) -> Result<Factors> {
        let row = self.require(staff_id).await?;
        self.factors_of(&row).await
    }

    async fn factors_of(&self, row: &StaffRow) -> Result<Factors> {
        Ok(Factors {
            password: row.password_hash.is_some(),
            passkeys: self.store.staff_passkeys(&row.id).await?.len(),
            totp: self.store.staff_totp(&row.id).await?.is_some(),
            recovery_remaining: self.store.staff_recovery_remaining(&row.id).await?,
        })
    }

    /// Finishes enrolment: an `invited` account with a password and at least one second factor
    /// becomes `active`, and gets its first ten recovery codes (shown once). Otherwise
    /// [`StaffError::Incomplete`] and nothing changes.
    pub async fn activate(&self, staff_id: &str) -> Result<RecoveryCodes> {
        let mut row = self.require(staff_id).await?;
        if row.state != state::INVITED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let f = self.factors_of(&row).await?;
        if !f.password || !f.has_second_factor() {
            return Err(StaffError::Incomplete {
                password: f.password,
                factor: f.has_second_factor(),
            });
        }
        let codes = self.replace_recovery_codes(staff_id).await?;
        row.state = state::ACTIVE.into();
        row.updated_at = self.now();
        self.store.staff_update(&row).await?;
        Ok(codes)
    }

    /// Ten new recovery codes for an active account; the old ones stop working.
    pub async fn regenerate_recovery_codes(&self, staff_id: &str) -> Result<RecoveryCodes> {
        let row = self.require(staff_id).await?;
        if row.state != state::ACTIVE {
            return Err(StaffError::WrongState { state: row.state });
        }
        self.replace_recovery_codes(staff_id).await
    }

    async fn replace_recovery_codes(&self, staff_id: &str) -> Result<RecoveryCodes> {
        let (codes, hashes) = secrets::new_recovery_codes()?;
        self.store
            .staff_recovery_replace(staff_id, &hashes, self.now())
            .await?;
        Ok(RecoveryCodes { codes })
    }

    // ---- TOTP ----

    /// Starts adding an authenticator app: a fresh 20-byte secret, its URI and QR code, and the
    /// secret sealed for this staff member to keep in the web session until
    /// [`StaffAuth::totp_confirm`]. Nothing is stored yet.
    pub async fn totp_begin(&self, staff_id: &str) -> Result<TotpEnrolment> {
        let row = self.require(staff_id).await?;
        if row.state == state::DISABLED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let secret = secrets::random_bytes::<{ totp::SECRET_BYTES }>()?;
        let gen = totp::generator(secret.as_ref(), &row.email)?;
        let uri = gen.get_url();
        let qr_svg = totp::qr_svg(&uri)?;
        let sealed = totp::seal(
            &self.totp_sealer,
            staff_id,
            totp::PENDING_COLUMN,
            secret.as_ref(),
        )?;
        Ok(TotpEnrolment {
            secret_base32: SecretString::from(gen.get_secret_base32()),
            otpauth_uri: SecretString::from(uri),
            qr_svg: SecretString::from(qr_svg),
            pending: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Confirms an authenticator app with a code it shows. The secret (from `pending`) is then
    /// stored sealed, replacing an earlier app, and the confirming code's time step counts as
    /// used. [`StaffError::InvalidCode`] when the code does not match (nothing is stored).
    pub async fn totp_confirm(
        &self,
        staff_id: &str,
        pending: &str,
        code: &SecretString,
    ) -> Result<()> {
        let row = self.require(staff_id).await?;
        if row.state == state::DISABLED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let sealed = URL_SAFE_NO_PAD
            .decode(pending.trim())
            .map_err(|_| StaffError::InvalidCode)?;
        let secret = totp::open(&self.totp_sealer, staff_id, totp::PENDING_COLUMN, &sealed)
            .map_err(|_| StaffError::InvalidCode)?;
        let gen = totp::generator(&secret, &row.email)?;
        let now = self.now();
        let step = totp::matching_step(&gen, code, now).ok_or(StaffError::InvalidCode)?;
        let stored = totp::seal(&self.totp_sealer, staff_id, totp::SECRET_COLUMN, &secret)?;
        self.store.staff_totp_set(staff_id, &stored, now).await?;
        self.store.staff_totp_use_step(staff_id, step).await?;
        Ok(())
    }

    /// Removes the authenticator app. Refused with [`StaffError::LastFactor`] when it is the
    /// only second factor of an account that has been activated.
    pub async fn totp_remove(&self, staff_id: &str) -> Result<()> {
        let row = self.require(staff_id).await?;
        let f = self.factors_of(&row).await?;
        if row.state != state::INVITED && f.passkeys == 0 {
            return Err(StaffError::LastFactor);
        }
        self.store.staff_totp_delete(staff_id).await?;
        Ok(())
    }

    // ---- passkeys ----

    fn parse_passkey(row: &PasskeyRow) -> Result<Passkey> {
        serde_json::from_str(&row.passkey).map_err(|_| StaffError::Malformed { what: "passkey" })
    }

    /// Starts registering a passkey: the options for `navigator.credentials.create()` (send them
    /// to the browser as JSON) and the state to keep in the web session. The account's existing
    /// passkeys are excluded, so the same authenticator is not registered twice.
    pub async fn passkey_register_begin(
        &self,
        staff_id: &str,
    ) -> Result<(CreationChallengeResponse, PasskeyRegistrationState)> {
        let row = self.require(staff_id).await?;
        if row.state == state::DISABLED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let user =
            Uuid::parse_str(&row.id).map_err(|_| StaffError::Malformed { what: "staff id" })?;
        let exclude = self
            .store
            .staff_passkeys(staff_id)
            .await?
            .iter()
            .map(|p| Self::parse_passkey(p).map(|k| k.cred_id().clone()))
            .collect::<Result<Vec<_>>>()?;
        let (options, state) = self.webauthn.start_passkey_registration(
            user,
            &row.email,
            &row.display_name,
            Some(exclude),
        )?;
        let nonce = self
            .ceremony_open(&row.id, PASSKEY_REGISTER_PURPOSE)
            .await?;
        Ok((
            options,
            PasskeyRegistrationState {
                staff_id: row.id,
                nonce,
                state,
            },
        ))
    }

    /// Finishes registering a passkey with the browser's answer and stores it under `label`.
    pub async fn passkey_register_finish(
        &self,
        state: &PasskeyRegistrationState,
        response: &RegisterPublicKeyCredential,
        label: &str,
    ) -> Result<PasskeyRow> {
        let now = self.now();
        if !self
            .ceremony_close(&state.staff_id, &state.nonce, PASSKEY_REGISTER_PURPOSE, now)
            .await?
        {
            return Err(StaffError::StaleCeremony);
        }
        let row = self.require(&state.staff_id).await?;
        if row.state == state::DISABLED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let passkey = self
            .webauthn
            .finish_passkey_registration(response, &state.state)?;
        let label = label.trim();
        let label = if label.is_empty() {
            "passkey".to_owned()
        } else {
            label.chars().filter(|c| !c.is_control()).take(60).collect()
        };
        let record = PasskeyRow {
            id: Uuid::now_v7().to_string(),
            staff_id: row.id.clone(),
            credential_id: passkey.cred_id().to_vec(),
            passkey: serde_json::to_string(&passkey)
                .map_err(|_| StaffError::Malformed { what: "passkey" })?,
            label,
            created_at: now,
            last_used_at: None,
        };
        match self.store.staff_passkey_insert(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::Duplicate { .. }) => Err(StaffError::DuplicatePasskey),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a new passkey ceremony as a single-use token; returns its handle.
    async fn ceremony_open(&self, staff_id: &str, purpose: &str) -> Result<String> {
        let (nonce, token_hash) = secrets::new_token()?;
        let now = self.now();
        self.store
            .staff_token_insert(&StaffTokenRow {
                token_hash,
                staff_id: staff_id.into(),
                purpose: purpose.into(),
                expires_at: now + self.config.ceremony_ttl_secs,
                used_at: None,
                created_at: now,
            })
            .await?;
        Ok(nonce.expose_secret().to_owned())
    }

    /// Uses up a ceremony's handle: true once, within its lifetime, for the same account.
    async fn ceremony_close(
        &self,
        staff_id: &str,
        nonce: &str,
        purpose: &str,
        now: i64,
    ) -> Result<bool> {
        let used = self
            .store
            .staff_token_consume(&secrets::token_hash(nonce), purpose, now)
            .await?;
        Ok(used.is_some_and(|t| t.staff_id == staff_id))
    }

    /// An account's passkeys.
    pub async fn passkeys(&self, staff_id: &str) -> Result<Vec<PasskeyRow>> {
        Ok(self.store.staff_passkeys(staff_id).await?)
    }

    /// Deletes one of an account's passkeys; false when it has no such passkey. Refused with
    /// [`StaffError::LastFactor`] when it is the only second factor of an activated account.
    pub async fn passkey_delete(&self, staff_id: &str, passkey_id: &str) -> Result<bool> {
        let row = self.require(staff_id).await?;
        let keys = self.store.staff_passkeys(staff_id).await?;
        if !keys.iter().any(|k| k.id == passkey_id) {
            return Ok(false);
        }
        let f = self.factors_of(&row).await?;
        if row.state != state::INVITED && f.passkeys <= 1 && !f.totp {
            return Err(StaffError::LastFactor);
        }
        Ok(self
            .store
            .staff_passkey_delete(staff_id, passkey_id)
            .await?)
    }

    /// Starts a passkey sign-in for a member of staff who passed the password step (or who is
    /// signed in and needs a step-up): the options for `navigator.credentials.get()` and the
    /// state to keep in the web session. [`StaffError::NoPasskey`] when the account has none.
    pub async fn passkey_auth_begin(
        &self,
        staff_id: &str,
    ) -> Result<(RequestChallengeResponse, PasskeyAuthenticationState)> {
        let keys = self
            .store
            .staff_passkeys(staff_id)
            .await?
            .iter()
            .map(Self::parse_passkey)
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(StaffError::NoPasskey);
        }
        let (options, state) = self.webauthn.start_passkey_authentication(&keys)?;
        let nonce = self.ceremony_open(staff_id, PASSKEY_AUTH_PURPOSE).await?;
        Ok((
            options,
            PasskeyAuthenticationState {
                staff_id: staff_id.into(),
                nonce,
                state,
            },
        ))
    }

    /// Finishes a passkey sign-in (the second factor of a login, or a step-up). A good assertion
    /// updates the stored passkey (counter, backup state) and its last use; a bad one counts
    /// toward the lockout.
    pub async fn second_factor_passkey(
        &self,
        state: &PasskeyAuthenticationState,
        response: &PublicKeyCredential,
    ) -> Result<FactorOutcome> {
        let now = self.now();
        let row = match self.factor_gate(&state.staff_id, now).await? {
            Ok(row) => row,
            Err(outcome) => return Ok(outcome),
        };
        // A ceremony state works once and for `ceremony_ttl_secs`: a replayed answer is refused
        // even when the web layer forgot to drop the state.
        if !self
            .ceremony_close(&row.id, &state.nonce, PASSKEY_AUTH_PURPOSE, now)
            .await?
        {
            return self.factor_failed(&row.id, now).await;
        }
        let result = match self
            .webauthn
            .finish_passkey_authentication(response, &state.state)
        {
            Ok(result) => result,
            Err(_) => return self.factor_failed(&row.id, now).await,
        };
        let Some(record) = self
            .store
            .staff_passkey_by_credential(result.cred_id().as_slice())
            .await?
            .filter(|p| p.staff_id == row.id)
        else {
            // Deleted between begin and finish.
            return self.factor_failed(&row.id, now).await;
        };
        let mut passkey = Self::parse_passkey(&record)?;
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey)
            .map_err(|_| StaffError::Malformed { what: "passkey" })?;
        self.store
            .staff_passkey_update(&record.id, &json, now)
            .await?;
        self.factor_succeeded(row, now).await
    }

    // ---- login ----

    /// The password step of a login. An unknown email costs one Argon2id verification against a
    /// dummy hash and answers [`PasswordStep::Invalid`], exactly like a wrong password. A wrong
    /// password counts toward the lockout. A right password answers which second factors the
    /// account has; nothing is signed in until one of them passes.
    pub async fn login_password(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<PasswordStep> {
        let now = self.now();
        let dummy = self.passwords.dummy_hash().await.map_err(hashing_error)?;
        let found = match normalise_email(email) {
            Ok(e) => self.store.staff_by_email(&e).await?,
            Err(_) => None,
        };
        let row = found.filter(|r| r.state != state::INVITED && r.password_hash.is_some());
        if let Some(until) = row
            .as_ref()
            .and_then(|r| r.locked_until)
            .filter(|u| *u > now)
        {
            return Ok(PasswordStep::Locked { until });
        }
        let stored = row
            .as_ref()
            .and_then(|r| r.password_hash.clone())
            .unwrap_or(dummy);
        let check = self
            .passwords
            .verify(password, stored)
            .await
            .map_err(hashing_error)?;
        let Some(mut row) = row else {
            return Ok(PasswordStep::Invalid);
        };
        let PasswordCheck::Valid { needs_rehash } = check else {
            self.count_failure(&row.id, now).await?;
            return Ok(PasswordStep::Invalid);
        };
        if row.state == state::DISABLED {
            return Ok(PasswordStep::Disabled);
        }
        if needs_rehash {
            row.password_hash = Some(self.passwords.hash(password).await.map_err(hashing_error)?);
            row.updated_at = now;
            self.store.staff_update(&row).await?;
        }
        let f = self.factors_of(&row).await?;
        Ok(PasswordStep::NeedsSecondFactor {
            staff_id: row.id,
            passkey: f.passkeys > 0,
            totp: f.totp,
        })
    }

    /// A TOTP code as second factor (login or step-up). Each time step is accepted once: a code
    /// seen before, or one older than the last accepted, is refused and counts as a failure.
    pub async fn second_factor_totp(
        &self,
        staff_id: &str,
        code: &SecretString,
    ) -> Result<FactorOutcome> {
        let now = self.now();
        let row = match self.factor_gate(staff_id, now).await? {
            Ok(row) => row,
            Err(outcome) => return Ok(outcome),
        };
        let Some((sealed, last_step)) = self.store.staff_totp(staff_id).await? else {
            return self.factor_failed(staff_id, now).await;
        };
        let secret = totp::open(&self.totp_sealer, staff_id, totp::SECRET_COLUMN, &sealed)?;
        let gen = totp::generator(&secret, &row.email)?;
        match totp::matching_step(&gen, code, now) {
            Some(step)
                if step > last_step && self.store.staff_totp_use_step(staff_id, step).await? =>
            {
                self.factor_succeeded(row, now).await
            }
            _ => self.factor_failed(staff_id, now).await,
        }
    }

    /// A recovery code as second factor (login or step-up). Each code works once.
    pub async fn second_factor_recovery(
        &self,
        staff_id: &str,
        code: &SecretString,
    ) -> Result<FactorOutcome> {
        let now = self.now();
        let row = match self.factor_gate(staff_id, now).await? {
            Ok(row) => row,
            Err(outcome) => return Ok(outcome),
        };
        let hash = secrets::recovery_hash(code);
        if self.store.staff_recovery_use(staff_id, &hash, now).await? {
            self.factor_succeeded(row, now).await
        } else {
            self.factor_failed(staff_id, now).await
        }
    }

    /// Unused recovery codes of an account.
    pub async fn recovery_remaining(&self, staff_id: &str) -> Result<i64> {
        Ok(self.store.staff_recovery_remaining(staff_id).await?)
    }

    /// Whether a second factor may be tried now: the account exists, is active and not locked.
    async fn factor_gate(
        &self,
        staff_id: &str,
        now: i64,
    ) -> Result<std::result::Result<StaffRow, FactorOutcome>> {
        let Some(row) = self.store.staff_by_id(staff_id).await? else {
            return Ok(Err(FactorOutcome::Invalid));
        };
        if let Some(until) = row.locked_until.filter(|u| *u > now) {
            return Ok(Err(FactorOutcome::Locked { until }));
        }
        match row.state.as_str() {
            state::ACTIVE => Ok(Ok(row)),
            state::DISABLED => Ok(Err(FactorOutcome::Disabled)),
            _ => Ok(Err(FactorOutcome::Invalid)),
        }
    }

    async fn factor_failed(&self, staff_id: &str, now: i64) -> Result<FactorOutcome> {
        self.count_failure(staff_id, now).await?;
        Ok(FactorOutcome::Invalid)
    }

    async fn factor_succeeded(&self, row: StaffRow, now: i64) -> Result<FactorOutcome> {
        self.store.staff_login_succeeded(&row.id, now).await?;
        let row = self.store.staff_by_id(&row.id).await?.unwrap_or(row);
        Ok(FactorOutcome::Ok(Box::new(row)))
    }

    async fn count_failure(&self, staff_id: &str, now: i64) -> Result<StaffRow> {
        let row = self
            .store
            .staff_login_failed(
                staff_id,
                now,
                self.config.lockout_threshold,
                self.config.lockout_secs,
            )
            .await?;
        if row.locked_until == Some(now + self.config.lockout_secs) {
            tracing::warn!(staff_id, "staff account locked after repeated failures");
        }
        Ok(row)
    }

    // ---- devices ----

    /// A fresh device cookie value (32 random bytes, base64url) for a browser that has none.
    pub fn new_device_secret() -> Result<SecretString> {
        Ok(secrets::new_token()?.0)
    }

    /// Records that the member of staff signed in from the browser holding `device_secret` (the
    /// value of its long-lived device cookie); true when that browser is new for this account,
    /// which is when the web layer mails the staff member. Only SHA-256 of the value is stored.
    pub async fn device_seen(&self, staff_id: &str, device_secret: &SecretString) -> Result<bool> {
        let hash = secrets::token_hash(device_secret.expose_secret());
        Ok(self
            .store
            .staff_device_seen(staff_id, &hash, self.now())
            .await?)
    }

    // ---- staff management (owner only) ----

    async fn active_owners(&self) -> Result<Vec<StaffRow>> {
        Ok(self
            .store
            .staff_list()
            .await?
            .into_iter()
            .filter(|r| r.state == state::ACTIVE && r.role == Role::Owner.as_str())
            .collect())
    }

    async fn is_last_active_owner(&self, row: &StaffRow) -> Result<bool> {
        if row.state != state::ACTIVE || row.role != Role::Owner.as_str() {
            return Ok(false);
        }
        let owners = self.active_owners().await?;
        Ok(owners.iter().all(|o| o.id == row.id))
    }

    /// Changes a member of staff's role. `by` must be an active member of staff with
    /// [`Permission::StaffManage`]. The last active owner cannot be demoted
    /// ([`StaffError::LastOwner`]).
    pub async fn change_role(&self, by: &str, staff_id: &str, role: Role) -> Result<StaffRow> {
        self.require_actor(by, Permission::StaffManage).await?;
        let mut row = self.require(staff_id).await?;
        if role != Role::Owner && self.is_last_active_owner(&row).await? {
            return Err(StaffError::LastOwner);
        }
        row.role = role.as_str().into();
        row.updated_at = self.now();
        self.store.staff_update(&row).await?;
        Ok(row)
    }

    /// Disables an account: it can no longer sign in; its factors are kept for a later
    /// [`StaffAuth::enable`]. The web layer must check the account's state on every request, so
    /// its open sessions stop working too. The last active owner cannot be disabled.
    pub async fn disable(&self, by: &str, staff_id: &str) -> Result<StaffRow> {
        self.require_actor(by, Permission::StaffManage).await?;
        let mut row = self.require(staff_id).await?;
        if self.is_last_active_owner(&row).await? {
            return Err(StaffError::LastOwner);
        }
        row.state = state::DISABLED.into();
        row.updated_at = self.now();
        self.store.staff_update(&row).await?;
        Ok(row)
    }

    /// Starts an account over (its member lost every factor and their recovery codes): removes
    /// its password, passkeys, authenticator app and recovery codes, puts it back to `invited`
    /// with its role, and returns a new enrolment link (earlier links stop working). `by` must
    /// have [`Permission::StaffManage`] and may not be the account itself; the last active owner
    /// cannot be reset ([`StaffError::LastOwner`]).
    pub async fn reset_enrolment(&self, by: &str, staff_id: &str) -> Result<EnrolmentToken> {
        self.require_actor(by, Permission::StaffManage).await?;
        if by == staff_id {
            return Err(StaffError::Forbidden);
        }
        let mut row = self.require(staff_id).await?;
        if self.is_last_active_owner(&row).await? {
            return Err(StaffError::LastOwner);
        }
        let now = self.now();
        row.state = state::INVITED.into();
        row.password_hash = None;
        row.updated_at = now;
        // The state first: from here on the account cannot sign in, whatever is left.
        self.store.staff_update(&row).await?;
        for key in self.store.staff_passkeys(staff_id).await? {
            self.store.staff_passkey_delete(staff_id, &key.id).await?;
        }
        self.store.staff_totp_delete(staff_id).await?;
        self.store
            .staff_recovery_replace(staff_id, &[], now)
            .await?;
        self.store
            .staff_tokens_revoke(staff_id, ENROL_PURPOSE, now)
            .await?;
        self.issue_enrolment(staff_id, now).await
    }

    /// Enables a disabled account again: `active` when it still has a password and a second
    /// factor, `invited` otherwise (it then needs a new enrolment link).
    pub async fn enable(&self, by: &str, staff_id: &str) -> Result<StaffRow> {
        self.require_actor(by, Permission::StaffManage).await?;
        let mut row = self.require(staff_id).await?;
        if row.state != state::DISABLED {
            return Err(StaffError::WrongState { state: row.state });
        }
        let f = self.factors_of(&row).await?;
        row.state = if f.password && f.has_second_factor() {
            state::ACTIVE
        } else {
            state::INVITED
        }
        .into();
        row.updated_at = self.now();
        self.store.staff_update(&row).await?;
        Ok(row)
    }
}

/// A failure of the shared password hasher as the staff service reports it: the key ring's own
/// error as [`StaffError::Vault`], a lost blocking task as [`StaffError::Task`].
fn hashing_error(e: StoreError) -> StaffError {
    match e {
        StoreError::Vault(v) => StaffError::Vault(v),
        _ => StaffError::Task,
    }
}

/// A staff email normalised like a member's (`mamori_domain::Email`, NFKC, trimmed), then lower
/// case.
pub fn normalise_email(input: &str) -> Result<String> {
    Email::parse(input)
        .map(|e| e.normalised_for_lookup())
        .map_err(|_| StaffError::InvalidEmail)
}

fn check_display_name(input: &str) -> Result<String> {
    let name = input.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > DISPLAY_NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(StaffError::InvalidDisplayName);
    }
    Ok(name.to_owned())
}
