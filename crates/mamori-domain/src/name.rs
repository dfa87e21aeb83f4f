//! Personal names (氏名) with optional katakana readings (フリガナ).

use std::fmt;

use serde::Deserialize;

use crate::error::bilingual_error;
use crate::normalize::{has_control, normalize_input};
use crate::personal::REDACTED;

bilingual_error! {
    /// Why a name was rejected.
    pub enum NameError {
        EmptyFamily => ("family name is empty", "姓を入力してください"),
        EmptyGiven => ("given name is empty", "名を入力してください"),
        TooLong => (
            "each part of the name must be at most 50 characters",
            "姓・名はそれぞれ50文字以内で入力してください"
        ),
        ControlCharacter => (
            "name contains a control character",
            "氏名に使用できない文字が含まれています"
        ),
        KanaNotKatakana => (
            "reading must be written in katakana",
            "フリガナはカタカナで入力してください"
        ),
        KanaTooLong => (
            "each part of the reading must be at most 50 characters",
            "フリガナはそれぞれ50文字以内で入力してください"
        ),
    }
}

/// Maximum characters in the family or given name (and each reading).
pub const NAME_PART_MAX_CHARS: usize = 50;

/// A customer's or recipient's name, family name first as in Japan.
///
/// Fields are private so every value has passed [`PersonName::parse`];
/// `Debug` is redacted. Note that NFKC replaces CJK compatibility ideographs
/// with their unified forms, so a rare variant kanji may be stored as its
/// common form.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "PersonNameParts")]
pub struct PersonName {
    family: String,
    given: String,
    family_kana: Option<String>,
    given_kana: Option<String>,
}

/// Unvalidated name parts, as they arrive from a form or storage.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PersonNameParts {
    /// 姓.
    pub family: String,
    /// 名.
    pub given: String,
    /// セイ (katakana or hiragana).
    #[serde(default)]
    pub family_kana: Option<String>,
    /// メイ (katakana or hiragana).
    #[serde(default)]
    pub given_kana: Option<String>,
}

impl PersonName {
    /// Validates a name without readings.
    pub fn parse(family: &str, given: &str) -> Result<Self, NameError> {
        Ok(Self {
            family: name_part(family, NameError::EmptyFamily)?,
            given: name_part(given, NameError::EmptyGiven)?,
            family_kana: None,
            given_kana: None,
        })
    }

    /// Validates a name with optional readings. Readings typed in hiragana or
    /// half-width katakana are converted to full-width katakana; a blank
    /// reading counts as absent.
    pub fn parse_with_kana(
        family: &str,
        given: &str,
        family_kana: Option<&str>,
        given_kana: Option<&str>,
    ) -> Result<Self, NameError> {
        let mut name = Self::parse(family, given)?;
        name.family_kana = family_kana.map(kana_part).transpose()?.flatten();
        name.given_kana = given_kana.map(kana_part).transpose()?.flatten();
        Ok(name)
    }

    /// 姓.
    #[must_use]
    pub fn family(&self) -> &str {
        &self.family
    }

    /// 名.
    #[must_use]
    pub fn given(&self) -> &str {
        &self.given
    }

    /// セイ in katakana, if given.
    #[must_use]
    pub fn family_kana(&self) -> Option<&str> {
        self.family_kana.as_deref()
    }

    /// メイ in katakana, if given.
    #[must_use]
    pub fn given_kana(&self) -> Option<&str> {
        self.given_kana.as_deref()
    }

    /// `"山田 太郎"`.
    #[must_use]
    pub fn full_name(&self) -> String {
        format!("{} {}", self.family, self.given)
    }

    /// `"ヤマダ タロウ"` when both readings are known.
    #[must_use]
    pub fn full_kana(&self) -> Option<String> {
        Some(format!("{} {}", self.family_kana()?, self.given_kana()?))
    }

    /// `"山田 **"`: the family name and a fixed mask that does not reveal the
    /// length of the given name.
    #[must_use]
    pub fn masked(&self) -> String {
        format!("{} **", self.family)
    }

    /// The unvalidated parts, for storage.
    #[must_use]
    pub fn to_parts(&self) -> PersonNameParts {
        PersonNameParts {
            family: self.family.clone(),
            given: self.given.clone(),
            family_kana: self.family_kana.clone(),
            given_kana: self.given_kana.clone(),
        }
    }
}

impl TryFrom<PersonNameParts> for PersonName {
    type Error = NameError;
    fn try_from(p: PersonNameParts) -> Result<Self, Self::Error> {
        Self::parse_with_kana(
            &p.family,
            &p.given,
            p.family_kana.as_deref(),
            p.given_kana.as_deref(),
        )
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({REDACTED})")
    }
}

fn name_part(input: &str, empty: NameError) -> Result<String, NameError> {
    let s = normalize_input(input);
    if s.is_empty() {
        return Err(empty);
    }
    if has_control(&s) {
        return Err(NameError::ControlCharacter);
    }
    if s.chars().count() > NAME_PART_MAX_CHARS {
        return Err(NameError::TooLong);
    }
    Ok(s)
}

/// Normalises a reading to full-width katakana; `Ok(None)` when blank.
fn kana_part(input: &str) -> Result<Option<String>, NameError> {
    let s = normalize_input(input);
    if s.is_empty() {
        return Ok(None);
    }
    let kana = hiragana_to_katakana(&s);
    if kana.chars().count() > NAME_PART_MAX_CHARS {
        return Err(NameError::KanaTooLong);
    }
    if !kana.chars().all(is_katakana_reading_char) {
        return Err(NameError::KanaNotKatakana);
    }
    Ok(Some(kana))
}

/// Converts hiragana to katakana; other characters pass through.
///
/// Hand-written: the two blocks are parallel (offset 0x60), so a table crate
/// would add nothing.
#[must_use]
pub fn hiragana_to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(u32::from(c) + 0x60).unwrap_or(c)
            }
            other => other,
        })
        .collect()
}

/// Katakana letters, the long-vowel mark, the middle dot (foreign names such
/// as ジョン・スミス), iteration marks and an inner space.
fn is_katakana_reading_char(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | '\u{30FB}'..='\u{30FE}' | ' ')
}

// Unvalidated parts are as personal as the validated value: Debug must not print them either.
impl fmt::Debug for PersonNameParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonNameParts(")?;
        f.write_str(REDACTED)?;
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_readings() {
        let n =
            PersonName::parse_with_kana("　山田　", "太郎", Some("やまだ"), Some("ﾀﾛｳ")).unwrap();
        assert_eq!(n.family(), "山田");
        assert_eq!(n.given(), "太郎");
        assert_eq!(n.family_kana(), Some("ヤマダ"));
        assert_eq!(n.given_kana(), Some("タロウ"));
        assert_eq!(n.full_name(), "山田 太郎");
        assert_eq!(n.full_kana().as_deref(), Some("ヤマダ タロウ"));
        assert_eq!(n.masked(), "山田 **");
        let n = PersonName::parse_with_kana("スミス", "ジョン", Some("すみす"), Some("")).unwrap();
        assert_eq!(n.given_kana(), None);
        assert_eq!(n.full_kana(), None);
        let n = PersonName::parse_with_kana("佐々木", "ゆうこ", Some("ササキ"), Some("ユーコ"))
            .unwrap();
        assert_eq!(n.given_kana(), Some("ユーコ"));
        let n = PersonName::parse("Ｓｍｉｔｈ", "Ｊｏｈｎ").unwrap();
        assert_eq!(n.full_name(), "Smith John");
    }

    #[test]
    fn rejections() {
        use NameError as E;
        assert_eq!(PersonName::parse("", "太郎"), Err(E::EmptyFamily));
        assert_eq!(PersonName::parse("山田", "　"), Err(E::EmptyGiven));
        assert_eq!(
            PersonName::parse("山田\u{7}", "太郎"),
            Err(E::ControlCharacter)
        );
        assert_eq!(PersonName::parse(&"山".repeat(51), "太郎"), Err(E::TooLong));
        assert!(PersonName::parse(&"山".repeat(50), "太郎").is_ok());
        assert_eq!(
            PersonName::parse_with_kana("山田", "太郎", Some("山田"), None),
            Err(E::KanaNotKatakana)
        );
        assert_eq!(
            PersonName::parse_with_kana("山田", "太郎", None, Some("taro")),
            Err(E::KanaNotKatakana)
        );
        assert_eq!(
            PersonName::parse_with_kana("山田", "太郎", None, Some(&"タ".repeat(51))),
            Err(E::KanaTooLong)
        );
        assert!(E::TooLong
            .message_en()
            .contains(&NAME_PART_MAX_CHARS.to_string()));
    }

    #[test]
    fn hiragana_conversion() {
        assert_eq!(
            hiragana_to_katakana("やまだ たろう ゔぁ"),
            "ヤマダ タロウ ヴァ"
        );
        assert_eq!(hiragana_to_katakana("山田ABC"), "山田ABC");
    }

    #[test]
    fn deserialize_validates() {
        let n: PersonName =
            serde_json::from_str(r#"{"family":"山田","given":"花子","given_kana":"はなこ"}"#)
                .unwrap();
        assert_eq!(n.given_kana(), Some("ハナコ"));
        assert!(serde_json::from_str::<PersonName>(r#"{"family":"","given":"花子"}"#).is_err());
        assert!(!format!("{n:?}").contains("花子"));
    }
}
