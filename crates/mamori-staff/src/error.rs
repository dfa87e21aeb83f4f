//! The staff service's error type. No variant carries a password, code, token, secret or email
//! address; each has a Japanese and an English message for the screen
//! ([`StaffError::message_ja`], [`StaffError::message_en`]).

use mamori_store::StoreError;
use mamori_store::VaultError;
use thiserror::Error;

use crate::password::PasswordProblem;

/// Everything the staff service can refuse or fail with.
#[derive(Debug, Error)]
pub enum StaffError {
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A key could not be used (TOTP secret sealing, password hashing).
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    /// The WebAuthn library refused a ceremony (bad signature, wrong origin, replayed challenge...).
    #[error("passkey ceremony refused: {0}")]
    WebAuthn(#[from] webauthn_rs::prelude::WebauthnError),
    /// The relying-party configuration (rp_id, origin) is not usable.
    #[error("the WebAuthn relying-party configuration is not usable: {0}")]
    Config(String),
    /// The email address does not parse.
    #[error("not a usable email address")]
    InvalidEmail,
    /// Another member of staff has this email address.
    #[error("a member of staff with this email address exists already")]
    DuplicateEmail,
    /// The display name is empty, too long or holds control characters.
    #[error("the display name must be 1 to 100 characters without control characters")]
    InvalidDisplayName,
    /// The new password breaks the policy.
    #[error("password refused: {0}")]
    WeakPassword(PasswordProblem),
    /// The current password given to change it was wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// The account is locked after repeated failures.
    #[error("the account is locked after repeated failures")]
    Locked {
        /// End of the lock (Unix seconds).
        until: i64,
    },
    /// No member of staff with this id.
    #[error("no member of staff with this id")]
    NotFound,
    /// The account is not in a state that allows this (e.g. enrolment steps on an active account).
    #[error("not possible while the account is {state}")]
    WrongState {
        /// The account's state (`invited`, `active`, `disabled`).
        state: String,
    },
    /// The acting member of staff may not do this (not active, or lacks the permission).
    #[error("the acting member of staff may not do this")]
    Forbidden,
    /// The change would leave the shop without an active owner.
    #[error("the last active owner can be neither demoted nor disabled")]
    LastOwner,
    /// The change would leave an account without a second factor.
    #[error("the last second factor of an account cannot be removed")]
    LastFactor,
    /// Activation needs a password and a second factor.
    #[error(
        "activation needs a password (present: {password}) and a second factor (present: {factor})"
    )]
    Incomplete {
        /// Whether a password is set.
        password: bool,
        /// Whether a passkey or TOTP is registered.
        factor: bool,
    },
    /// A TOTP code given to confirm a new authenticator app was wrong.
    #[error("the code is not valid")]
    InvalidCode,
    /// The account has no passkey to sign in with.
    #[error("the account has no passkey")]
    NoPasskey,
    /// The passkey ceremony state is too old, or was made for another account.
    #[error("the passkey ceremony has expired or belongs to another account")]
    StaleCeremony,
    /// The passkey is registered already (to this or another account).
    #[error("this passkey is registered already")]
    DuplicatePasskey,
    /// A stored value does not decode (corruption or a bug).
    #[error("the stored {what} is malformed")]
    Malformed {
        /// What ("passkey", "TOTP secret", "role", ...).
        what: &'static str,
    },
    /// A blocking task (password hashing) did not finish.
    #[error("a background task failed")]
    Task,
}

/// Result alias.
pub type Result<T, E = StaffError> = std::result::Result<T, E>;

impl StaffError {
    /// The message for the screen, in Japanese.
    pub fn message_ja(&self) -> String {
        match self {
            StaffError::InvalidEmail => "メールアドレスの形式が正しくありません。".into(),
            StaffError::DuplicateEmail => {
                "このメールアドレスのスタッフは既に登録されています。".into()
            }
            StaffError::InvalidDisplayName => {
                "表示名は1〜100文字で入力してください（制御文字は使えません）。".into()
            }
            StaffError::WeakPassword(p) => p.message_ja().into(),
            StaffError::WrongPassword => "現在のパスワードが正しくありません。".into(),
            StaffError::Locked { .. } => {
                "失敗が続いたため、アカウントは一時的にロックされています。".into()
            }
            StaffError::NotFound => "スタッフが見つかりません。".into(),
            StaffError::WrongState { .. } => {
                "アカウントの現在の状態ではこの操作はできません。".into()
            }
            StaffError::Forbidden => "この操作を行う権限がありません。".into(),
            StaffError::LastOwner => {
                "最後の有効なオーナーは、役割の変更も無効化もできません。".into()
            }
            StaffError::LastFactor => {
                "最後の二要素認証手段は削除できません。先に別の手段を登録してください。".into()
            }
            StaffError::Incomplete { .. } => {
                "パスワードと、パスキーまたは認証アプリの登録が必要です。".into()
            }
            StaffError::InvalidCode => "確認コードが正しくありません。".into(),
            StaffError::NoPasskey => "このアカウントにはパスキーが登録されていません。".into(),
            StaffError::StaleCeremony => {
                "パスキーの操作の有効期限が切れました。もう一度お試しください。".into()
            }
            StaffError::DuplicatePasskey => "このパスキーは既に登録されています。".into(),
            StaffError::WebAuthn(_) => "パスキーを確認できませんでした。".into(),
            StaffError::Store(_)
            | StaffError::Vault(_)
            | StaffError::Config(_)
            | StaffError::Malformed { .. }
            | StaffError::Task => "内部エラーが発生しました。".into(),
        }
    }

    /// The message for the screen, in English.
    pub fn message_en(&self) -> String {
        match self {
            StaffError::WeakPassword(p) => p.message_en().into(),
            StaffError::WebAuthn(_) => "The passkey could not be verified.".into(),
            StaffError::Store(_)
            | StaffError::Vault(_)
            | StaffError::Config(_)
            | StaffError::Malformed { .. }
            | StaffError::Task => "An internal error occurred.".into(),
            other => {
                let mut s = other.to_string();
                if let Some(first) = s.get(..1) {
                    let upper = first.to_uppercase();
                    s.replace_range(..1, &upper);
                }
                s.push('.');
                s
            }
        }
    }
}
