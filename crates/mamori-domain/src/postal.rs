//! Japanese postal codes (郵便番号).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::bilingual_error;
use crate::normalize::normalize_digits_and_hyphens;

bilingual_error! {
    /// Why a postal code was rejected.
    pub enum PostalCodeError {
        Empty => ("postal code is empty", "郵便番号を入力してください"),
        Invalid => (
            "postal code must be 7 digits such as 123-4567",
            "郵便番号は「123-4567」のように7桁で入力してください"
        ),
    }
}

/// A 7-digit Japanese postal code. Displays as `123-4567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostalCode {
    /// Exactly 7 ASCII digits.
    digits: String,
}

impl PostalCode {
    /// Parses `1234567`, `123-4567`, `〒123-4567`, full-width forms and any
    /// dash look-alike (`１２３ー４５６７`).
    pub fn parse(input: &str) -> Result<Self, PostalCodeError> {
        let normalized = normalize_digits_and_hyphens(input);
        // NFKC has already turned the circled postal mark into 〒.
        let body = normalized.trim_start_matches('〒').trim();
        if body.is_empty() {
            return Err(PostalCodeError::Empty);
        }
        // ASCII-only first, so the byte-index split below is on a boundary.
        let ok_shape = body.is_ascii()
            && match body.len() {
                7 => body.bytes().all(|b| b.is_ascii_digit()),
                8 => {
                    let (head, tail) = body.split_at(3);
                    head.bytes().all(|b| b.is_ascii_digit())
                        && tail.starts_with('-')
                        && tail[1..].bytes().all(|b| b.is_ascii_digit())
                }
                _ => false,
            };
        if !ok_shape {
            return Err(PostalCodeError::Invalid);
        }
        let digits = body.chars().filter(char::is_ascii_digit).collect();
        Ok(Self { digits })
    }

    /// The 7 digits without hyphen, for storage and lookups.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Display for PostalCode {
    /// `"123-4567"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, tail) = self.digits.split_at(3.min(self.digits.len()));
        write!(f, "{head}-{tail}")
    }
}

impl TryFrom<String> for PostalCode {
    type Error = PostalCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PostalCode> for String {
    fn from(value: PostalCode) -> Self {
        value.digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_japanese_forms() {
        for input in [
            "1000001",
            "100-0001",
            "〒100-0001",
            "〒 100-0001",
            "１００－０００１",
            "１００ー０００１",
            "〒１００‐０００１",
            "100−0001",
            "　１０００００１　",
            "〶100-0001",
        ] {
            let pc = PostalCode::parse(input).unwrap();
            assert_eq!(pc.digits(), "1000001", "{input}");
            assert_eq!(pc.to_string(), "100-0001");
        }
    }

    #[test]
    fn rejects_bad_codes() {
        assert_eq!(PostalCode::parse(""), Err(PostalCodeError::Empty));
        assert_eq!(PostalCode::parse("〒"), Err(PostalCodeError::Empty));
        for input in [
            "100001",
            "10000011",
            "1000-001",
            "100-00a1",
            "百-0001",
            "a百-001",
            "100 0001",
            "１２３４－５６７",
        ] {
            assert_eq!(
                PostalCode::parse(input),
                Err(PostalCodeError::Invalid),
                "{input}"
            );
        }
    }

    #[test]
    fn serde_uses_digits() {
        let pc = PostalCode::parse("100-0001").unwrap();
        assert_eq!(serde_json::to_string(&pc).unwrap(), "\"1000001\"");
        let back: PostalCode = serde_json::from_str("\"1000001\"").unwrap();
        assert_eq!(back, pc);
        assert!(serde_json::from_str::<PostalCode>("\"12\"").is_err());
    }
}
