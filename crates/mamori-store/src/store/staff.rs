//! The staff area of the store.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

/// Staff accounts and their factors (no customer value).
#[async_trait]
pub trait StaffStore: Send + Sync {
    /// Adds a member of staff (the email is stored lower-case). [`StoreError::Duplicate`] when
    /// the email is taken.
    async fn staff_insert(&self, row: &StaffRow) -> Result<()>;

    /// A member of staff by id.
    async fn staff_by_id(&self, id: &str) -> Result<Option<StaffRow>>;

    /// A member of staff by email (compared lower-case).
    async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRow>>;

    /// Every member of staff, by email.
    async fn staff_list(&self) -> Result<Vec<StaffRow>>;

    /// Writes `display_name`, `role`, `state`, `password_hash`, `last_login_at` and `updated_at`
    /// of the member `row.id` (the email and the lockout columns stay as they are).
    /// [`StoreError::NotFound`] when there is no such member.
    async fn staff_update(&self, row: &StaffRow) -> Result<()>;

    /// Counts a failed login in one statement: `failed_logins + 1`, and from the `threshold`-th
    /// failure on, each failure (re)starts a lock: `locked_until = now + lock_secs`. Returns the
    /// row as it is afterwards. [`StoreError::NotFound`] when there is no such member.
    async fn staff_login_failed(
        &self,
        id: &str,
        now: i64,
        threshold: i64,
        lock_secs: i64,
    ) -> Result<StaffRow>;

    /// A successful login: `failed_logins = 0`, no lock, `last_login_at = now`.
    async fn staff_login_succeeded(&self, id: &str, now: i64) -> Result<()>;

    /// Registers a passkey. [`StoreError::Duplicate`] when its credential id is registered already.
    async fn staff_passkey_insert(&self, row: &PasskeyRow) -> Result<()>;

    /// A member's passkeys, oldest first.
    async fn staff_passkeys(&self, staff_id: &str) -> Result<Vec<PasskeyRow>>;

    /// The passkey with this credential id (a discoverable-credential login names only that).
    async fn staff_passkey_by_credential(&self, credential_id: &[u8])
        -> Result<Option<PasskeyRow>>;

    /// Stores a passkey's new state (its signature counter moves at each use) and when it was used.
    /// False when there is no such passkey.
    async fn staff_passkey_update(
        &self,
        id: &str,
        passkey: &str,
        last_used_at: i64,
    ) -> Result<bool>;

    /// Removes a member's passkey; false when they have none with that id.
    async fn staff_passkey_delete(&self, staff_id: &str, id: &str) -> Result<bool>;

    /// Sets (or replaces) a member's TOTP secret, sealed by the caller; `last_step` starts at 0.
    async fn staff_totp_set(&self, staff_id: &str, sealed: &[u8], at: i64) -> Result<()>;

    /// A member's sealed TOTP secret and the last time step used.
    async fn staff_totp(&self, staff_id: &str) -> Result<Option<(Vec<u8>, i64)>>;

    /// Uses a TOTP time step: compare-and-set `last_step = step` only if `step > last_step`, so
    /// a code (and any older one) works once. Of two concurrent uses of a step, one gets true.
    async fn staff_totp_use_step(&self, staff_id: &str, step: i64) -> Result<bool>;

    /// Removes a member's TOTP secret (no error if absent).
    async fn staff_totp_delete(&self, staff_id: &str) -> Result<()>;

    /// Replaces all of a member's recovery codes with these hashes, in one transaction.
    async fn staff_recovery_replace(
        &self,
        staff_id: &str,
        hashes: &[Vec<u8>],
        at: i64,
    ) -> Result<()>;

    /// Uses a recovery code: true once for an unused code of this member, false afterwards and
    /// for an unknown one. Of two concurrent uses, one gets true.
    async fn staff_recovery_use(&self, staff_id: &str, hash: &[u8], at: i64) -> Result<bool>;

    /// How many unused recovery codes a member has.
    async fn staff_recovery_remaining(&self, staff_id: &str) -> Result<i64>;

    /// Stores a new single-use staff token.
    async fn staff_token_insert(&self, row: &StaffTokenRow) -> Result<()>;

    /// Atomically uses a staff token: if one with this hash and purpose is unused and
    /// `expires_at > now`, sets `used_at = now` and returns it as it was (`used_at` None);
    /// None otherwise. Of two concurrent consumes, one wins.
    async fn staff_token_consume(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now: i64,
    ) -> Result<Option<StaffTokenRow>>;

    /// Marks a member's unused tokens of `purpose` as used; returns how many.
    async fn staff_tokens_revoke(&self, staff_id: &str, purpose: &str, at: i64) -> Result<u64>;

    /// Notes a sign-in from a device (a hash of its device cookie): true the first time this
    /// member is seen on it (a new device: mail them), false after (only `last_seen` moves). Of
    /// two concurrent first sightings, one gets true.
    async fn staff_device_seen(&self, staff_id: &str, device_hash: &[u8], at: i64) -> Result<bool>;
}
