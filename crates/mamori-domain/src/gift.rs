//! Gift options: engraving (名入れ) and noshi wrapping paper (のし).

use serde::Deserialize;

use crate::birth::BirthDate;
use crate::error::bilingual_error;
use crate::labels::labelled_enum;
use crate::normalize::{has_control, normalize_input};
use crate::personal::Personal;

bilingual_error! {
    /// Why a gift text was rejected.
    pub enum GiftTextError {
        Empty => ("text is empty", "文字を入力してください"),
        TooLong => (
            "text must be at most 20 characters",
            "20文字以内で入力してください"
        ),
        ControlCharacter => (
            "text contains a control character",
            "使用できない文字が含まれています"
        ),
    }
}

/// Maximum characters engraved or printed on a noshi (a common limit for
/// engraving machines and noshi name slots).
pub const GIFT_TEXT_MAX_CHARS: usize = 20;

fn gift_text(input: &str) -> Result<String, GiftTextError> {
    let s = normalize_input(input);
    if s.is_empty() {
        return Err(GiftTextError::Empty);
    }
    if has_control(&s) {
        return Err(GiftTextError::ControlCharacter);
    }
    if s.chars().count() > GIFT_TEXT_MAX_CHARS {
        return Err(GiftTextError::TooLong);
    }
    Ok(s)
}

/// Engraving (名入れ): a name and optionally a birth date, e.g. for a
/// newborn's gift. Both are personal data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "PersonalisationParts")]
pub struct Personalisation {
    name: Personal<String>,
    birth_date: Option<Personal<BirthDate>>,
}

/// Unvalidated engraving input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PersonalisationParts {
    /// Text to engrave.
    pub name: Personal<String>,
    /// Optional date to engrave.
    #[serde(default)]
    pub birth_date: Option<Personal<BirthDate>>,
}

impl Personalisation {
    /// Validates the engraving text (1..=20 characters after normalisation,
    /// no control characters).
    pub fn new(name: &str, birth_date: Option<BirthDate>) -> Result<Self, GiftTextError> {
        Ok(Self {
            name: Personal::new(gift_text(name)?),
            birth_date: birth_date.map(Personal::new),
        })
    }

    /// Text to engrave.
    #[must_use]
    pub fn name(&self) -> &Personal<String> {
        &self.name
    }

    /// Date to engrave.
    #[must_use]
    pub fn birth_date(&self) -> Option<&Personal<BirthDate>> {
        self.birth_date.as_ref()
    }
}

impl TryFrom<PersonalisationParts> for Personalisation {
    type Error = GiftTextError;
    fn try_from(p: PersonalisationParts) -> Result<Self, Self::Error> {
        Self::new(p.name.expose(), p.birth_date.map(Personal::into_inner))
    }
}

labelled_enum! {
    /// The purpose printed on the upper half of the noshi (表書き).
    pub enum NoshiPurpose / UnknownNoshiPurpose ("unknown noshi purpose", "のしの表書きが正しくありません") {
        /// 御祝: congratulations.
        Oiwai => ("oiwai", "御祝", "Congratulations"),
        /// 内祝: return gift for a celebration received.
        Uchiiwai => ("uchiiwai", "内祝", "Return gift"),
        /// 御礼: thanks.
        Orei => ("orei", "御礼", "Thanks"),
        /// 御中元: midsummer gift.
        Ochugen => ("ochugen", "御中元", "Midsummer gift"),
        /// 御歳暮: year-end gift.
        Oseibo => ("oseibo", "御歳暮", "Year-end gift"),
        /// 御年賀: New Year gift.
        Onenga => ("onenga", "御年賀", "New Year gift"),
        /// 志: offering after a funeral or memorial service.
        Kokorozashi => ("kokorozashi", "志", "Memorial offering"),
        /// 無地: plain noshi without purpose.
        Muji => ("muji", "無地", "Plain"),
    }
}

/// Noshi wrapping paper with a purpose and optionally the giver's name
/// (名入れ on the lower half).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "NoshiParts")]
pub struct Noshi {
    purpose: NoshiPurpose,
    name: Option<Personal<String>>,
}

/// Unvalidated noshi input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NoshiParts {
    /// 表書き.
    pub purpose: NoshiPurpose,
    /// 名入れ.
    #[serde(default)]
    pub name: Option<Personal<String>>,
}

impl Noshi {
    /// Validates the name (1..=20 characters); a blank name counts as absent.
    pub fn new(purpose: NoshiPurpose, name: Option<&str>) -> Result<Self, GiftTextError> {
        let name = match name {
            None => None,
            Some(n) => match gift_text(n) {
                Ok(n) => Some(Personal::new(n)),
                Err(GiftTextError::Empty) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(Self { purpose, name })
    }

    /// 表書き.
    #[must_use]
    pub fn purpose(&self) -> NoshiPurpose {
        self.purpose
    }

    /// Name printed under the purpose.
    #[must_use]
    pub fn name(&self) -> Option<&Personal<String>> {
        self.name.as_ref()
    }
}

impl TryFrom<NoshiParts> for Noshi {
    type Error = GiftTextError;
    fn try_from(p: NoshiParts) -> Result<Self, Self::Error> {
        Self::new(p.purpose, p.name.as_ref().map(|n| n.expose().as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personalisation_limits() {
        let p = Personalisation::new("　ＨＡＮＡＫＯ　", None).unwrap();
        assert_eq!(p.name().expose(), "HANAKO");
        assert!(Personalisation::new(&"あ".repeat(20), None).is_ok());
        assert_eq!(
            Personalisation::new(&"あ".repeat(21), None),
            Err(GiftTextError::TooLong)
        );
        assert_eq!(Personalisation::new(" ", None), Err(GiftTextError::Empty));
        assert_eq!(
            Personalisation::new("a\u{7f}", None),
            Err(GiftTextError::ControlCharacter)
        );
        assert!(!format!("{p:?}").contains("HANAKO"));
    }

    #[test]
    fn noshi() {
        let n = Noshi::new(NoshiPurpose::Uchiiwai, Some("山田")).unwrap();
        assert_eq!(n.purpose().label_ja(), "内祝");
        assert_eq!(n.name().map(|n| n.expose().as_str()), Some("山田"));
        assert_eq!(
            Noshi::new(NoshiPurpose::Muji, Some("  ")).unwrap().name(),
            None
        );
        assert_eq!(
            Noshi::new(NoshiPurpose::Oiwai, Some(&"山".repeat(21))),
            Err(GiftTextError::TooLong)
        );
        let labels: Vec<_> = NoshiPurpose::ALL.iter().map(|p| p.label_ja()).collect();
        assert_eq!(
            labels,
            [
                "御祝",
                "内祝",
                "御礼",
                "御中元",
                "御歳暮",
                "御年賀",
                "志",
                "無地"
            ]
        );
        let from_json: Noshi =
            serde_json::from_str(r#"{"purpose":"oseibo","name":"田中"}"#).unwrap();
        assert_eq!(from_json.purpose(), NoshiPurpose::Oseibo);
        assert!(serde_json::from_str::<Noshi>(
            r#"{"purpose":"oseibo","name":"田中田中田中田中田中田中田中田中田中田中田"}"#
        )
        .is_err());
    }
}
