//! The staff password policy.
//!
//! A staff password is one of two factors, never enough alone, so the policy stays simple (NIST
//! SP 800-63B style): length over composition rules. At least [`MIN_CHARS`] characters, at most
//! [`MAX_CHARS`], no control characters, and not containing the local part of the staff member's
//! email address (the first guess of anyone who knows the address).

use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

/// Fewest characters (Unicode scalar values) a staff password may have.
pub const MIN_CHARS: usize = 12;
/// Most characters a staff password may have.
pub const MAX_CHARS: usize = 128;
/// Local parts shorter than this are not checked: refusing every password that contains "a"
/// (of `a@example.jp`) would refuse good passwords without stopping a guess.
const MIN_LOCAL_PART_CHECKED: usize = 3;

/// Why a password was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PasswordProblem {
    /// Shorter than [`MIN_CHARS`].
    #[error("use at least 12 characters")]
    TooShort,
    /// Longer than [`MAX_CHARS`].
    #[error("use at most 128 characters")]
    TooLong,
    /// Holds a control character.
    #[error("the password contains characters that cannot be used")]
    ControlCharacter,
    /// Contains the email address's local part.
    #[error("the password must not contain your email address")]
    ContainsEmail,
}

impl PasswordProblem {
    /// The reason in Japanese.
    pub fn message_ja(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "パスワードは12文字以上にしてください。",
            PasswordProblem::TooLong => "パスワードは128文字以内にしてください。",
            PasswordProblem::ControlCharacter => "使用できない文字が含まれています。",
            PasswordProblem::ContainsEmail => {
                "パスワードにメールアドレス（@より前の部分）を含めないでください。"
            }
        }
    }

    /// The reason in English.
    pub fn message_en(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "Use at least 12 characters.",
            PasswordProblem::TooLong => "Use at most 128 characters.",
            PasswordProblem::ControlCharacter => {
                "The password contains characters that cannot be used."
            }
            PasswordProblem::ContainsEmail => {
                "The password must not contain your email address (the part before @)."
            }
        }
    }
}

/// Checks a new staff password for the member of staff with `email` (already normalised).
pub fn check_policy(password: &SecretString, email: &str) -> Result<(), PasswordProblem> {
    let text = password.expose_secret();
    let chars = text.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if text.chars().any(char::is_control) {
        return Err(PasswordProblem::ControlCharacter);
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.chars().count() >= MIN_LOCAL_PART_CHECKED && text.to_lowercase().contains(&local) {
        return Err(PasswordProblem::ContainsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str, email: &str) -> Result<(), PasswordProblem> {
        check_policy(&SecretString::from(p.to_owned()), email)
    }

    #[test]
    fn policy() {
        let email = "sato.kenta@example.jp";
        assert_eq!(check("short", email), Err(PasswordProblem::TooShort));
        assert_eq!(check("elevenchars", email), Err(PasswordProblem::TooShort));
        assert_eq!(check("twelve chars", email), Ok(()));
        // Counted in characters, not bytes: 12 kana are enough, 11 are not.
        assert_eq!(check("あいうえおかきくけこさし", email), Ok(()));
        assert_eq!(
            check("あいうえおかきくけこさ", email),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(
            check(&"x".repeat(129), email),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(check(&"x".repeat(128), email), Ok(()));
        assert_eq!(
            check("tab\there is bad", email),
            Err(PasswordProblem::ControlCharacter)
        );
        assert_eq!(
            check("my Sato.Kenta password", email),
            Err(PasswordProblem::ContainsEmail)
        );
        // A one-letter local part is not checked.
        assert_eq!(check("a perfectly fine one", "a@example.jp"), Ok(()));
        for p in [
            PasswordProblem::TooShort,
            PasswordProblem::TooLong,
            PasswordProblem::ControlCharacter,
            PasswordProblem::ContainsEmail,
        ] {
            assert!(!p.message_ja().is_empty() && p.message_en().ends_with('.'));
        }
    }
}
