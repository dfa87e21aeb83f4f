//! Japanese postal addresses.

use std::fmt;

use serde::Deserialize;

use crate::error::bilingual_error;
use crate::normalize::{has_control, normalize_address_line};
use crate::personal::REDACTED;
use crate::postal::{PostalCode, PostalCodeError};
use crate::prefecture::{Prefecture, PrefectureError};

bilingual_error! {
    /// Why an address was rejected.
    pub enum AddressError {
        InvalidPostalCode => (
            "postal code must be 7 digits such as 123-4567",
            "郵便番号は「123-4567」のように7桁で入力してください"
        ),
        UnknownPrefecture => ("unknown prefecture", "都道府県を正しく選択してください"),
        EmptyCity => ("city is empty", "市区町村を入力してください"),
        CityTooLong => (
            "city must be at most 50 characters",
            "市区町村は50文字以内で入力してください"
        ),
        EmptyLine1 => ("street address is empty", "番地を入力してください"),
        Line1TooLong => (
            "street address must be at most 100 characters",
            "番地は100文字以内で入力してください"
        ),
        Line2TooLong => (
            "building name must be at most 100 characters",
            "建物名・部屋番号は100文字以内で入力してください"
        ),
        ControlCharacter => (
            "address contains a control character",
            "住所に使用できない文字が含まれています"
        ),
    }
}

impl From<PostalCodeError> for AddressError {
    fn from(_: PostalCodeError) -> Self {
        AddressError::InvalidPostalCode
    }
}

impl From<PrefectureError> for AddressError {
    fn from(_: PrefectureError) -> Self {
        AddressError::UnknownPrefecture
    }
}

/// Maximum characters of the city (市区町村).
pub const CITY_MAX_CHARS: usize = 50;
/// Maximum characters of each address line.
pub const ADDRESS_LINE_MAX_CHARS: usize = 100;

/// A Japanese delivery address, written in Japanese order.
///
/// Fields are private so every value has been validated; `Debug` is redacted.
/// The crate does not check that the postal code belongs to the city (that
/// needs the Japan Post table, which is data, not a rule).
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "AddressParts")]
pub struct Address {
    postal_code: PostalCode,
    prefecture: Prefecture,
    city: String,
    line1: String,
    line2: Option<String>,
}

/// Unvalidated address parts, as they arrive from a form or storage.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct AddressParts {
    /// 郵便番号 in any accepted form.
    pub postal_code: String,
    /// 都道府県 in any form [`Prefecture::parse`] accepts.
    pub prefecture: String,
    /// 市区町村, e.g. `"千代田区"`.
    pub city: String,
    /// 町名・番地, e.g. `"千代田1-1"`.
    pub line1: String,
    /// 建物名・部屋番号.
    #[serde(default)]
    pub line2: Option<String>,
}

impl Address {
    /// Validates an address. Text is normalised (full-width digits become
    /// ASCII, dashes between digits become `-`); a blank `line2` counts as
    /// absent.
    pub fn new(
        postal_code: PostalCode,
        prefecture: Prefecture,
        city: &str,
        line1: &str,
        line2: Option<&str>,
    ) -> Result<Self, AddressError> {
        let city = line(
            city,
            CITY_MAX_CHARS,
            AddressError::EmptyCity,
            AddressError::CityTooLong,
        )?;
        let line1 = line(
            line1,
            ADDRESS_LINE_MAX_CHARS,
            AddressError::EmptyLine1,
            AddressError::Line1TooLong,
        )?;
        let line2 = line2
            .filter(|l| !normalize_address_line(l).is_empty())
            .map(|l| {
                line(
                    l,
                    ADDRESS_LINE_MAX_CHARS,
                    AddressError::EmptyLine1,
                    AddressError::Line2TooLong,
                )
            })
            .transpose()?;
        Ok(Self {
            postal_code,
            prefecture,
            city,
            line1,
            line2,
        })
    }

    /// Parses every part from text.
    pub fn parse(parts: &AddressParts) -> Result<Self, AddressError> {
        Self::new(
            PostalCode::parse(&parts.postal_code)?,
            Prefecture::parse(&parts.prefecture)?,
            &parts.city,
            &parts.line1,
            parts.line2.as_deref(),
        )
    }

    /// 郵便番号.
    #[must_use]
    pub fn postal_code(&self) -> &PostalCode {
        &self.postal_code
    }

    /// 都道府県.
    #[must_use]
    pub fn prefecture(&self) -> Prefecture {
        self.prefecture
    }

    /// 市区町村.
    #[must_use]
    pub fn city(&self) -> &str {
        &self.city
    }

    /// 町名・番地.
    #[must_use]
    pub fn line1(&self) -> &str {
        &self.line1
    }

    /// 建物名・部屋番号.
    #[must_use]
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }

    /// Shipping-label form: `"〒100-0001 東京都千代田区千代田1-1 コーポ101"`.
    #[must_use]
    pub fn to_label(&self) -> String {
        let mut s = format!(
            "〒{} {}{}{}",
            self.postal_code,
            self.prefecture.label_ja(),
            self.city,
            self.line1
        );
        if let Some(l2) = &self.line2 {
            s.push(' ');
            s.push_str(l2);
        }
        s
    }

    /// Only the prefecture and city (`"東京都千代田区"`), coarse enough for
    /// order lists in the back office.
    #[must_use]
    pub fn masked(&self) -> String {
        format!("{}{} ***", self.prefecture.label_ja(), self.city)
    }

    /// The unvalidated parts, for storage.
    #[must_use]
    pub fn to_parts(&self) -> AddressParts {
        AddressParts {
            postal_code: self.postal_code.digits().to_owned(),
            prefecture: self.prefecture.as_str().to_owned(),
            city: self.city.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
        }
    }
}

impl TryFrom<AddressParts> for Address {
    type Error = AddressError;
    fn try_from(parts: AddressParts) -> Result<Self, Self::Error> {
        Self::parse(&parts)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({REDACTED})")
    }
}

fn line(
    input: &str,
    max: usize,
    empty: AddressError,
    too_long: AddressError,
) -> Result<String, AddressError> {
    let s = normalize_address_line(input);
    if s.is_empty() {
        return Err(empty);
    }
    if has_control(&s) {
        return Err(AddressError::ControlCharacter);
    }
    if s.chars().count() > max {
        return Err(too_long);
    }
    Ok(s)
}

// Unvalidated parts are as personal as the validated value: Debug must not print them either.
impl fmt::Debug for AddressParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AddressParts(")?;
        f.write_str(REDACTED)?;
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> AddressParts {
        AddressParts {
            postal_code: "〒１００ー０００１".into(),
            prefecture: "東京".into(),
            city: "千代田区".into(),
            line1: "千代田１ー１".into(),
            line2: Some("　コーポ１０１　".into()),
        }
    }

    #[test]
    fn parses_and_normalises() {
        let a = Address::parse(&parts()).unwrap();
        assert_eq!(a.postal_code().to_string(), "100-0001");
        assert_eq!(a.prefecture(), Prefecture::Tokyo);
        assert_eq!(a.city(), "千代田区");
        assert_eq!(a.line1(), "千代田1-1");
        assert_eq!(a.line2(), Some("コーポ101"));
        assert_eq!(a.to_label(), "〒100-0001 東京都千代田区千代田1-1 コーポ101");
        assert_eq!(a.masked(), "東京都千代田区 ***");
        let back = Address::parse(&a.to_parts()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn blank_line2_is_none() {
        let mut p = parts();
        p.line2 = Some("　".into());
        assert_eq!(Address::parse(&p).unwrap().line2(), None);
    }

    #[test]
    fn rejections() {
        use AddressError as E;
        type Edit = fn(&mut AddressParts);
        let cases: Vec<(Edit, E)> = vec![
            (|p| p.postal_code = "12345".into(), E::InvalidPostalCode),
            (|p| p.prefecture = "江戸".into(), E::UnknownPrefecture),
            (|p| p.city = " ".into(), E::EmptyCity),
            (|p| p.city = "市".repeat(51), E::CityTooLong),
            (|p| p.line1 = String::new(), E::EmptyLine1),
            (|p| p.line1 = "1".repeat(101), E::Line1TooLong),
            (|p| p.line2 = Some("号".repeat(101)), E::Line2TooLong),
            (|p| p.line1 = "千代田\u{1b}[31m".into(), E::ControlCharacter),
        ];
        for (edit, expected) in cases {
            let mut p = parts();
            edit(&mut p);
            assert_eq!(Address::parse(&p), Err(expected));
        }
    }

    #[test]
    fn debug_is_redacted() {
        let a = Address::parse(&parts()).unwrap();
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("千代田") && !dbg.contains("100"), "{dbg}");
    }
}
