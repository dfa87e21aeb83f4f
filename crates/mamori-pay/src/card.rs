//! Card-number rules the hosted page needs: normalising what people type,
//! the Luhn check, brand detection, expiry and security-code checks.
//!
//! These run only on the provider's side (the sandbox). mamori's shop never
//! sees a card number; it keeps the brand and the last four digits it is
//! told about.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

/// A card brand (international network) as detected from the number's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    /// Visa: numbers starting with 4.
    Visa,
    /// Mastercard: 51–55 and 2221–2720.
    Mastercard,
    /// JCB: 3528–3589.
    Jcb,
    /// American Express: 34 and 37.
    Amex,
    /// Diners Club: 300–305, 36, 38–39.
    Diners,
    /// Discover: 6011, 644–649, 65.
    Discover,
}

impl CardBrand {
    /// The lowercase identifier used on the wire (`"visa"`, `"jcb"`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Jcb => "jcb",
            CardBrand::Amex => "amex",
            CardBrand::Diners => "diners",
            CardBrand::Discover => "discover",
        }
    }

    /// The name people read (`"Visa"`, `"JCB"`, ...), the same in Japanese and English.
    #[must_use]
    pub const fn display_name(self) -> &'static str {
        match self {
            CardBrand::Visa => "Visa",
            CardBrand::Mastercard => "Mastercard",
            CardBrand::Jcb => "JCB",
            CardBrand::Amex => "American Express",
            CardBrand::Diners => "Diners Club",
            CardBrand::Discover => "Discover",
        }
    }

    /// Detects the brand from a string of ASCII digits (the prefix suffices).
    #[must_use]
    pub fn detect(digits: &str) -> Option<Self> {
        let prefix = |n: usize| -> Option<u32> { digits.get(..n).and_then(|p| p.parse().ok()) };
        if digits.starts_with('4') {
            return Some(CardBrand::Visa);
        }
        if let Some(p2) = prefix(2) {
            match p2 {
                34 | 37 => return Some(CardBrand::Amex),
                51..=55 => return Some(CardBrand::Mastercard),
                36 | 38 | 39 => return Some(CardBrand::Diners),
                65 => return Some(CardBrand::Discover),
                _ => {}
            }
        }
        if let Some(p3) = prefix(3) {
            match p3 {
                300..=305 => return Some(CardBrand::Diners),
                644..=649 => return Some(CardBrand::Discover),
                _ => {}
            }
        }
        if let Some(p4) = prefix(4) {
            match p4 {
                2221..=2720 => return Some(CardBrand::Mastercard),
                3528..=3589 => return Some(CardBrand::Jcb),
                6011 => return Some(CardBrand::Discover),
                _ => {}
            }
        }
        None
    }

    /// Number of digits of the security code (CVV/CVC/CID) for this brand.
    #[must_use]
    pub const fn cvv_len(self) -> usize {
        match self {
            CardBrand::Amex => 4,
            _ => 3,
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a typed card number was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardNumberError {
    /// Nothing was typed.
    #[error("card number is empty")]
    Empty,
    /// Something other than digits, spaces and hyphens, or a wrong length.
    #[error("card number must be 12 to 19 digits")]
    Format,
    /// The Luhn check digit does not match.
    #[error("card number fails the Luhn check")]
    Luhn,
    /// The prefix belongs to no accepted brand.
    #[error("card brand is not accepted")]
    UnknownBrand,
}

/// A syntactically valid card number (digits only, Luhn-checked, brand known).
///
/// Its `Debug` prints no digit and its buffer is wiped on drop, so that it
/// cannot leak into a log line by accident.
#[derive(Clone)]
pub struct CardNumber {
    digits: Zeroizing<String>,
    brand: CardBrand,
}

impl CardNumber {
    /// Normalises and checks what a person typed: full-width digits and
    /// spaces (NFKC), spaces and the common hyphen look-alikes are accepted.
    pub fn parse(input: &str) -> Result<Self, CardNumberError> {
        let digits = Zeroizing::new(normalize_card_digits(input)?);
        if !luhn_valid(&digits) {
            return Err(CardNumberError::Luhn);
        }
        let brand = CardBrand::detect(&digits).ok_or(CardNumberError::UnknownBrand)?;
        Ok(CardNumber { digits, brand })
    }

    /// The detected brand.
    #[must_use]
    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    /// The last four digits: all that may be kept or shown.
    #[must_use]
    pub fn last4(&self) -> String {
        let len = self.digits.len();
        self.digits
            .get(len.saturating_sub(4)..)
            .unwrap_or("")
            .to_owned()
    }

    /// The full digits, for comparing against the sandbox's test numbers.
    /// Never log or store the result.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({}, [redacted])", self.brand)
    }
}

/// Turns typed input into ASCII digits: NFKC folds full-width digits and the
/// ideographic space; spaces and hyphen look-alikes are dropped.
///
/// Hand-written rather than a crate's: the set of separators people type in
/// Japanese forms (長音符 "ー" for a hyphen, for one) is specific to us.
pub fn normalize_card_digits(input: &str) -> Result<String, CardNumberError> {
    let mut out = String::with_capacity(19);
    let mut folded: Zeroizing<String> = Zeroizing::new(input.nfkc().collect());
    for c in folded.chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '\t' | '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}' => {}
            _ => {
                out.zeroize();
                return Err(CardNumberError::Format);
            }
        }
        if out.len() > 19 {
            out.zeroize();
            return Err(CardNumberError::Format);
        }
    }
    folded.zeroize();
    if out.is_empty() {
        return Err(CardNumberError::Empty);
    }
    if out.len() < 12 {
        out.zeroize();
        return Err(CardNumberError::Format);
    }
    Ok(out)
}

/// The Luhn (mod 10) check over a string of ASCII digits. Anything that is
/// not a non-empty string of digits fails.
///
/// Hand-written: ten lines, and the crates that offer it pull in more than
/// they save.
#[must_use]
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// A card's expiry month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// 1–12.
    pub month: u32,
    /// Four-digit year.
    pub year: i32,
}

/// Why an expiry was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// Not `MM/YY` (or `MM/YYYY`, `MMYY`), or month out of range.
    #[error("expiry must be MM/YY")]
    Format,
    /// The last valid month is before the current one.
    #[error("card has expired")]
    Expired,
    /// Further ahead than any card is issued for.
    #[error("expiry is too far in the future")]
    TooFar,
}

impl Expiry {
    /// Parses `MM/YY`, also `MM/YYYY`, `MMYY` and full-width forms
    /// (`０４／２８`), with spaces around the slash.
    pub fn parse(input: &str) -> Result<Self, ExpiryError> {
        let folded: String = input.nfkc().filter(|c| !c.is_whitespace()).collect();
        let (mm, yy) = match folded.split_once('/') {
            Some(parts) => parts,
            None if folded.len() == 4 => folded.split_at(2),
            None => return Err(ExpiryError::Format),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(mm) || !all_digits(yy) || mm.len() > 2 {
            return Err(ExpiryError::Format);
        }
        let month: u32 = mm.parse().map_err(|_| ExpiryError::Format)?;
        let year: i32 = match yy.len() {
            2 => 2000 + yy.parse::<i32>().map_err(|_| ExpiryError::Format)?,
            4 => yy.parse().map_err(|_| ExpiryError::Format)?,
            _ => return Err(ExpiryError::Format),
        };
        if !(1..=12).contains(&month) {
            return Err(ExpiryError::Format);
        }
        Ok(Expiry { month, year })
    }

    /// Checks that the card is valid in `today`'s month (a card is valid
    /// through the last day of its expiry month) and not absurdly far ahead.
    pub fn check_valid_on(self, today: NaiveDate) -> Result<(), ExpiryError> {
        let this = (self.year, self.month);
        let now = (today.year(), today.month());
        if this < now {
            return Err(ExpiryError::Expired);
        }
        if self.year > today.year() + 20 {
            return Err(ExpiryError::TooFar);
        }
        Ok(())
    }

    /// `MM/YY`, as the form shows it back.
    #[must_use]
    pub fn to_mm_yy(self) -> String {
        format!("{:02}/{:02}", self.month, self.year.rem_euclid(100))
    }
}

/// Checks a security code: digits only (full-width accepted), 3 digits, or
/// 4 for American Express. Without a known brand, 3 or 4 digits pass.
#[must_use]
pub fn cvv_valid(input: &str, brand: Option<CardBrand>) -> bool {
    let folded: Zeroizing<String> =
        Zeroizing::new(input.nfkc().filter(|c| !c.is_whitespace()).collect());
    if !folded.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match brand {
        Some(b) => folded.len() == b.cvv_len(),
        None => (3..=4).contains(&folded.len()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_one_digit_off() {
        for n in [
            "4242424242424242",
            "3566002020360505",
            "5555555555554444",
            "4000000000000002",
            "4000000000009995",
            "4000000000003220",
            "378282246310005",
            "79927398713",
        ] {
            assert!(luhn_valid(n), "{n}");
        }
        for n in ["4242424242424241", "79927398710", "", "4242a24242424242"] {
            assert!(!luhn_valid(n), "{n}");
        }
    }

    #[test]
    fn luhn_catches_every_single_digit_change() {
        let base = b"4242424242424242";
        for pos in 0..base.len() {
            for d in b'0'..=b'9' {
                if d == base[pos] {
                    continue;
                }
                let mut v = base.to_vec();
                v[pos] = d;
                let s = String::from_utf8(v).unwrap();
                assert!(!luhn_valid(&s), "{s}");
            }
        }
    }

    #[test]
    fn brands() {
        let cases = [
            ("4242424242424242", Some(CardBrand::Visa)),
            ("3566002020360505", Some(CardBrand::Jcb)),
            ("3528000000000000", Some(CardBrand::Jcb)),
            ("3589000000000000", Some(CardBrand::Jcb)),
            ("3590000000000000", None),
            ("5555555555554444", Some(CardBrand::Mastercard)),
            ("2221000000000009", Some(CardBrand::Mastercard)),
            ("2720990000000000", Some(CardBrand::Mastercard)),
            ("2721000000000000", None),
            ("378282246310005", Some(CardBrand::Amex)),
            ("340000000000000", Some(CardBrand::Amex)),
            ("30569309025904", Some(CardBrand::Diners)),
            ("36227206271667", Some(CardBrand::Diners)),
            ("6011111111111117", Some(CardBrand::Discover)),
            ("6500000000000000", Some(CardBrand::Discover)),
            ("1234567890123456", None),
        ];
        for (n, want) in cases {
            assert_eq!(CardBrand::detect(n), want, "{n}");
        }
    }

    #[test]
    fn normalises_full_width_spaces_and_hyphens() {
        for input in [
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
            "４２４２　４２４２　４２４２　４２４２",
            "４２４２－４２４２ー4242‐4242",
            " 4242424242424242 ",
        ] {
            let n = CardNumber::parse(input).unwrap();
            assert_eq!(n.digits(), "4242424242424242", "{input}");
            assert_eq!(n.brand(), CardBrand::Visa);
            assert_eq!(n.last4(), "4242");
        }
        assert_eq!(CardNumber::parse("").unwrap_err(), CardNumberError::Empty);
        assert_eq!(
            CardNumber::parse(" - ").unwrap_err(),
            CardNumberError::Empty
        );
        assert_eq!(
            CardNumber::parse("4242x4242").unwrap_err(),
            CardNumberError::Format
        );
        assert_eq!(
            CardNumber::parse("4242").unwrap_err(),
            CardNumberError::Format
        );
        assert_eq!(
            CardNumber::parse("42424242424242424242").unwrap_err(),
            CardNumberError::Format
        );
        assert_eq!(
            CardNumber::parse("4242424242424241").unwrap_err(),
            CardNumberError::Luhn
        );
        assert_eq!(
            CardNumber::parse("79927398713").unwrap_err(),
            CardNumberError::Format
        );
        assert_eq!(
            CardNumber::parse("1234567812345670").unwrap_err(),
            CardNumberError::UnknownBrand
        );
    }

    #[test]
    fn debug_hides_the_digits() {
        let n = CardNumber::parse("4242424242424242").unwrap();
        let shown = format!("{n:?}");
        assert!(!shown.contains("4242"), "{shown}");
    }

    #[test]
    fn expiry_forms_and_validity() {
        let today = NaiveDate::from_ymd_opt(2026, 4, 15).unwrap();
        for input in ["04/28", "4/28", "04 / 28", "0428", "04/2028", "０４／２８"] {
            assert_eq!(
                Expiry::parse(input).unwrap(),
                Expiry {
                    month: 4,
                    year: 2028
                },
                "{input}"
            );
        }
        for input in [
            "", "13/28", "00/28", "4-28", "042", "ab/cd", "04/028", "123/28",
        ] {
            assert_eq!(Expiry::parse(input), Err(ExpiryError::Format), "{input}");
        }
        let this_month = Expiry {
            month: 4,
            year: 2026,
        };
        assert_eq!(this_month.check_valid_on(today), Ok(()));
        assert_eq!(
            Expiry {
                month: 3,
                year: 2026
            }
            .check_valid_on(today),
            Err(ExpiryError::Expired)
        );
        assert_eq!(
            Expiry {
                month: 12,
                year: 2025
            }
            .check_valid_on(today),
            Err(ExpiryError::Expired)
        );
        assert_eq!(
            Expiry {
                month: 1,
                year: 2099
            }
            .check_valid_on(today),
            Err(ExpiryError::TooFar)
        );
        assert_eq!(
            Expiry {
                month: 4,
                year: 2028
            }
            .to_mm_yy(),
            "04/28"
        );
    }

    #[test]
    fn cvv_lengths() {
        assert!(cvv_valid("123", Some(CardBrand::Visa)));
        assert!(cvv_valid("１２３", Some(CardBrand::Jcb)));
        assert!(!cvv_valid("1234", Some(CardBrand::Visa)));
        assert!(cvv_valid("1234", Some(CardBrand::Amex)));
        assert!(!cvv_valid("123", Some(CardBrand::Amex)));
        assert!(!cvv_valid("12", None));
        assert!(cvv_valid("1234", None));
        assert!(!cvv_valid("12a", None));
        assert!(!cvv_valid("", None));
    }
}
