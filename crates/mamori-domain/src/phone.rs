//! Japanese telephone numbers.

use std::fmt;

use serde::Deserialize;

use crate::error::bilingual_error;
use crate::normalize::normalize_digits_and_hyphens;
use crate::personal::REDACTED;

bilingual_error! {
    /// Why a phone number was rejected.
    pub enum PhoneNumberError {
        Empty => ("phone number is empty", "電話番号を入力してください"),
        InvalidCharacter => (
            "phone number may contain only digits, hyphens, spaces, parentheses and +81",
            "電話番号は数字とハイフンで入力してください"
        ),
        InvalidNumber => (
            "not a valid Japanese phone number",
            "電話番号の桁数または形式が正しくありません"
        ),
    }
}

/// What kind of number a [`PhoneNumber`] is, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhoneKind {
    /// Fixed line: `0` + 9 digits with a geographic area code.
    Landline,
    /// Mobile: `070`/`080`/`090` + 8 digits.
    Mobile,
    /// IP phone: `050` + 8 digits.
    Ip,
    /// Toll-free: `0120` + 6 digits or `0800` + 7 digits.
    FreeDial,
    /// Nationwide shared-cost number: `0570` + 6 digits.
    NaviDial,
}

/// A Japanese phone number, stored as its national digits (`09012345678`).
///
/// `Debug` is redacted; `Display` gives the conventional hyphenation and is
/// meant for templates that already hold the value through
/// [`crate::Personal::expose`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct PhoneNumber {
    /// National-format ASCII digits starting with 0.
    digits: String,
    kind: PhoneKind,
}

/// Area codes short enough that the number is written `0X-XXXX-XXXX`.
/// Other landlines use the common `0XX-XXX-XXXX` shape; the exact split
/// depends on a national area-code table this crate does not ship.
const TWO_DIGIT_AREA_CODES: [&str; 2] = ["03", "06"];

impl PhoneNumber {
    /// Parses numbers such as `090-1234-5678`, `03 (1234) 5678`,
    /// `０９０ー１２３４ー５６７８`, `+81 90 1234 5678` or `+81 (0)3-1234-5678`.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let normalized = normalize_digits_and_hyphens(input);
        if normalized.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        let (international, rest) = match normalized.strip_prefix("+81") {
            Some(rest) => (true, rest),
            None => (false, normalized.as_str()),
        };
        let mut digits = String::with_capacity(12);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | ' ' | '(' | ')' | '.' => {}
                _ => return Err(PhoneNumberError::InvalidCharacter),
            }
        }
        if international {
            // `+81 90…` drops the trunk 0; people also write `+81 (0)90…`.
            if !digits.starts_with('0') {
                digits.insert(0, '0');
            }
        }
        let kind = classify(&digits).ok_or(PhoneNumberError::InvalidNumber)?;
        Ok(Self { digits, kind })
    }

    /// The national digits, e.g. `"09012345678"`.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// What kind of number this is.
    #[must_use]
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// International E.164 form, e.g. `"+819012345678"`.
    #[must_use]
    pub fn e164(&self) -> String {
        format!("+81{}", &self.digits[1..])
    }

    fn groups(&self) -> [&str; 3] {
        let d = self.digits.as_str();
        let (a, b) = match self.kind {
            PhoneKind::Mobile | PhoneKind::Ip => (3, 7),
            PhoneKind::FreeDial | PhoneKind::NaviDial => (4, 7),
            PhoneKind::Landline if TWO_DIGIT_AREA_CODES.iter().any(|p| d.starts_with(p)) => (2, 6),
            PhoneKind::Landline => (3, 6),
        };
        [&d[..a], &d[a..b], &d[b..]]
    }

    /// The number with the middle group masked, e.g. `"090-****-5678"`.
    #[must_use]
    pub fn masked(&self) -> String {
        let [first, middle, last] = self.groups();
        format!("{first}-{}-{last}", "*".repeat(middle.len()))
    }
}

fn classify(d: &str) -> Option<PhoneKind> {
    let b = d.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) || b.first() != Some(&b'0') {
        return None;
    }
    match d.len() {
        11 if d.starts_with("0800") => Some(PhoneKind::FreeDial),
        11 if ["070", "080", "090"].iter().any(|p| d.starts_with(p)) => Some(PhoneKind::Mobile),
        11 if d.starts_with("050") => Some(PhoneKind::Ip),
        10 if d.starts_with("0120") => Some(PhoneKind::FreeDial),
        10 if d.starts_with("0570") => Some(PhoneKind::NaviDial),
        // Geographic numbers never start with 00 (international prefix) nor
        // with 0X0 (non-geographic: 020 M2M, 050/060/070/080/090, …).
        10 if b[1] != b'0' && b[2] != b'0' => Some(PhoneKind::Landline),
        _ => None,
    }
}

impl fmt::Display for PhoneNumber {
    /// Conventional hyphenation: `090-1234-5678`, `03-1234-5678`,
    /// `0120-123-456`, `0800-123-4567`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.groups();
        write!(f, "{a}-{b}-{c}")
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({REDACTED})")
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> PhoneNumber {
        PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    #[test]
    fn mobiles() {
        for input in [
            "09012345678",
            "090-1234-5678",
            "090 1234 5678",
            "(090)1234-5678",
            "０９０－１２３４－５６７８",
            "０９０ー１２３４ー５６７８",
            "090−1234−5678",
            "+81 90-1234-5678",
            "+819012345678",
            "＋８１　９０　１２３４　５６７８",
            "+81 (0)90 1234 5678",
        ] {
            let p = ok(input);
            assert_eq!(p.digits(), "09012345678", "{input}");
            assert_eq!(p.kind(), PhoneKind::Mobile);
            assert_eq!(p.to_string(), "090-1234-5678");
            assert_eq!(p.masked(), "090-****-5678");
            assert_eq!(p.e164(), "+819012345678");
        }
        assert_eq!(ok("070-1111-2222").kind(), PhoneKind::Mobile);
        assert_eq!(ok("080-1111-2222").kind(), PhoneKind::Mobile);
    }

    #[test]
    fn other_kinds() {
        let p = ok("03-1234-5678");
        assert_eq!(
            (p.kind(), p.to_string()),
            (PhoneKind::Landline, "03-1234-5678".into())
        );
        assert_eq!(p.masked(), "03-****-5678");
        assert_eq!(ok("03(1234)5678").digits(), "0312345678");
        assert_eq!(ok("+81 3 1234 5678").digits(), "0312345678");
        let p = ok("0521234567");
        assert_eq!(
            (p.kind(), p.to_string()),
            (PhoneKind::Landline, "052-123-4567".into())
        );
        let p = ok("050-1234-5678");
        assert_eq!(
            (p.kind(), p.to_string()),
            (PhoneKind::Ip, "050-1234-5678".into())
        );
        let p = ok("0120-123-456");
        assert_eq!(
            (p.kind(), p.to_string()),
            (PhoneKind::FreeDial, "0120-123-456".into())
        );
        assert_eq!(p.masked(), "0120-***-456");
        let p = ok("０８００－１２３－４５６７");
        assert_eq!(
            (p.kind(), p.to_string()),
            (PhoneKind::FreeDial, "0800-123-4567".into())
        );
        let p = ok("0570-123-456");
        assert_eq!(
            (p.kind(), p.to_string()),
            (PhoneKind::NaviDial, "0570-123-456".into())
        );
    }

    #[test]
    fn rejections() {
        use PhoneNumberError as E;
        assert_eq!(PhoneNumber::parse(""), Err(E::Empty));
        assert_eq!(PhoneNumber::parse("　"), Err(E::Empty));
        assert_eq!(
            PhoneNumber::parse("090-1234-567８a"),
            Err(E::InvalidCharacter)
        );
        assert_eq!(PhoneNumber::parse("電話090"), Err(E::InvalidCharacter));
        assert_eq!(
            PhoneNumber::parse("+1 212 555 0100"),
            Err(E::InvalidCharacter)
        );
        for bad in [
            "090-1234-567",   // too short for a mobile
            "090-1234-56789", // too long
            "9012345678",     // no trunk 0
            "0012345678",     // international prefix
            "020-1234-5678",  // M2M, not a person's phone
            "060-1234-5678",  // unassigned
            "0901234567",     // 10 digits with a mobile prefix
            "0120-123-4567",  // free-dial is 10 digits
            "+81 12 3456",
        ] {
            assert_eq!(PhoneNumber::parse(bad), Err(E::InvalidNumber), "{bad}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let p = ok("090-1234-5678");
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("1234") && !dbg.contains("5678"), "{dbg}");
    }
}
