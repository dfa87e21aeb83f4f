//! E-mail addresses.

use std::fmt;

use serde::Deserialize;

use crate::error::bilingual_error;
use crate::normalize::normalize_input;
use crate::personal::REDACTED;

bilingual_error! {
    /// Why an e-mail address was rejected.
    pub enum EmailError {
        Empty => ("e-mail address is empty", "メールアドレスを入力してください"),
        TooLong => (
            "e-mail address must be at most 254 characters",
            "メールアドレスは254文字以内で入力してください"
        ),
        InvalidSyntax => (
            "e-mail address is not valid",
            "メールアドレスの形式が正しくありません"
        ),
    }
}

/// Maximum length of an address in bytes (RFC 5321 path limit minus the
/// angle brackets).
pub const EMAIL_MAX_LEN: usize = 254;
/// Maximum length of the local part in bytes (RFC 5321).
const LOCAL_MAX_LEN: usize = 64;

/// A syntactically sane e-mail address with a lowercased domain.
///
/// The check is deliberately simpler than RFC 5322 (no quoted local parts, no
/// comments, no IP-literal domains): those forms are legal but are not typed
/// into shop forms, and accepting them only widens the attack surface of the
/// mail pipeline. Deliverability is proven by a confirmation mail, not here.
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Email {
    address: String,
    /// Byte offset of the `@`.
    at: usize,
}

impl Email {
    /// Parses an address after NFKC and trimming, so `ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ`
    /// becomes `yamada@example.jp`.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = normalize_input(input);
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > EMAIL_MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::InvalidSyntax);
        };
        if !valid_local(local) || !valid_domain(domain) {
            return Err(EmailError::InvalidSyntax);
        }
        let address = format!("{local}@{}", domain.to_lowercase());
        Ok(Self {
            at: local.len(),
            address,
        })
    }

    /// The address as entered (after normalisation), domain lowercased.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The local part (before `@`), case preserved.
    #[must_use]
    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// The lowercased domain.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// The whole address lowercased, for finding an account by e-mail.
    ///
    /// Local parts are case-sensitive in theory but not with any mail provider
    /// customers use; lowercasing avoids duplicate accounts for `Yamada@` and
    /// `yamada@`.
    #[must_use]
    pub fn normalised_for_lookup(&self) -> String {
        self.address.to_lowercase()
    }

    /// First character of the local part, then `***`, then the domain:
    /// `y***@example.jp`. The domain is kept so a customer can recognise
    /// which of their addresses is meant.
    #[must_use]
    pub fn masked(&self) -> String {
        let first: String = self.local_part().chars().take(1).collect();
        format!("{first}***@{}", self.domain())
    }
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= LOCAL_MAX_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            !c.is_whitespace()
                && !c.is_control()
                && !matches!(
                    c,
                    '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '\\'
                )
        })
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                // Unicode letters are allowed for internationalised domains
                // such as 例え.jp.
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({REDACTED})")
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let e = Email::parse("  Yamada.Taro@Example.CO.JP ").unwrap();
        assert_eq!(e.as_str(), "Yamada.Taro@example.co.jp");
        assert_eq!(e.local_part(), "Yamada.Taro");
        assert_eq!(e.domain(), "example.co.jp");
        assert_eq!(e.normalised_for_lookup(), "yamada.taro@example.co.jp");
        assert_eq!(e.masked(), "Y***@example.co.jp");
        let e = Email::parse("ｙａｍａｄａ＋ｓｈｏｐ＠ｅｘａｍｐｌｅ．ｊｐ").unwrap();
        assert_eq!(e.as_str(), "yamada+shop@example.jp");
        assert!(Email::parse("taro@例え.jp").is_ok());
    }

    #[test]
    fn rejections() {
        use EmailError as E;
        assert_eq!(Email::parse(""), Err(E::Empty));
        assert_eq!(Email::parse("　"), Err(E::Empty));
        for bad in [
            "yamada",
            "yamada@",
            "@example.jp",
            "yamada@@example.jp",
            "a@b@example.jp",
            "yamada@example",
            "yamada@example..jp",
            "yamada@.example.jp",
            "yamada@-example.jp",
            "yama da@example.jp",
            "yamada＠ example.jp",
            ".yamada@example.jp",
            "yama..da@example.jp",
            "yamada@example.jp\u{0}",
            "\"yamada\"@example.jp",
            "yamada@127.0.0.1",
            "yamada@exa_mple.jp",
        ] {
            assert_eq!(Email::parse(bad), Err(E::InvalidSyntax), "{bad:?}");
        }
        let long = format!("{}@example.jp", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(E::TooLong));
        let long_local = format!("{}@example.jp", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(E::InvalidSyntax));
    }

    #[test]
    fn debug_is_redacted() {
        let e = Email::parse("yamada@example.jp").unwrap();
        assert!(!format!("{e:?}").contains("yamada"));
    }
}
