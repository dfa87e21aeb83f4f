//! Issuer identification: which card brand a number belongs to, by prefix range and length.

use serde::Serialize;

/// A card brand (payment network) recognised by its issuer identification number range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Brand {
    /// Visa: prefix 4, 13, 16 or 19 digits.
    Visa,
    /// Mastercard: 51-55 and 2221-2720, 16 digits.
    Mastercard,
    /// American Express: 34, 37, 15 digits.
    #[serde(rename = "American Express")]
    Amex,
    /// JCB: 3528-3589, 16 to 19 digits.
    #[serde(rename = "JCB")]
    Jcb,
    /// Diners Club: 300-305, 3095, 36, 38-39, 14 to 19 digits.
    #[serde(rename = "Diners Club")]
    Diners,
    /// Discover: 6011, 644-649, 65, 16 to 19 digits.
    Discover,
    /// UnionPay: 62, 16 to 19 digits.
    UnionPay,
}

impl Brand {
    /// The brand's display name.
    pub fn name(self) -> &'static str {
        match self {
            Brand::Visa => "Visa",
            Brand::Mastercard => "Mastercard",
            Brand::Amex => "American Express",
            Brand::Jcb => "JCB",
            Brand::Diners => "Diners Club",
            Brand::Discover => "Discover",
            Brand::UnionPay => "UnionPay",
        }
    }

    /// Whether `groups` (digit counts between separators) is how this brand prints its numbers.
    pub fn is_standard_grouping(self, groups: &[u8]) -> bool {
        match groups {
            [_] => true,
            [4, 4, 4, 4] => true,
            [4, 6, 5] => self == Brand::Amex,
            [4, 6, 4] => self == Brand::Diners,
            [4, 4, 4, 4, 3] | [4, 4, 4, 4, 1] | [4, 4, 4, 4, 2] => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for Brand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of the issuer table: numbers whose first `prefix_len` digits lie in `lo..=hi`.
#[derive(Debug, Clone, Copy)]
pub struct IssuerRange {
    /// The brand of numbers in this range.
    pub brand: Brand,
    /// How many leading digits are compared.
    pub prefix_len: u8,
    /// Lowest prefix value, inclusive.
    pub lo: u32,
    /// Highest prefix value, inclusive.
    pub hi: u32,
    /// Bit n set when a total length of n digits is allowed.
    pub lengths: u32,
}

const fn lens(list: &[u8]) -> u32 {
    let mut m = 0u32;
    let mut i = 0;
    while i < list.len() {
        m |= 1 << list[i];
        i += 1;
    }
    m
}

const R16_19: u32 = lens(&[16, 17, 18, 19]);

/// The issuer table, most specific ranges first.
pub const ISSUER_TABLE: &[IssuerRange] = &[
    IssuerRange {
        brand: Brand::Amex,
        prefix_len: 2,
        lo: 34,
        hi: 34,
        lengths: lens(&[15]),
    },
    IssuerRange {
        brand: Brand::Amex,
        prefix_len: 2,
        lo: 37,
        hi: 37,
        lengths: lens(&[15]),
    },
    IssuerRange {
        brand: Brand::Jcb,
        prefix_len: 4,
        lo: 3528,
        hi: 3589,
        lengths: R16_19,
    },
    IssuerRange {
        brand: Brand::Diners,
        prefix_len: 3,
        lo: 300,
        hi: 305,
        lengths: lens(&[14, 15, 16, 17, 18, 19]),
    },
    IssuerRange {
        brand: Brand::Diners,
        prefix_len: 4,
        lo: 3095,
        hi: 3095,
        lengths: lens(&[14, 15, 16, 17, 18, 19]),
    },
    IssuerRange {
        brand: Brand::Diners,
        prefix_len: 2,
        lo: 36,
        hi: 36,
        lengths: lens(&[14, 15, 16, 17, 18, 19]),
    },
    IssuerRange {
        brand: Brand::Diners,
        prefix_len: 2,
        lo: 38,
        hi: 39,
        lengths: lens(&[14, 15, 16, 17, 18, 19]),
    },
    IssuerRange {
        brand: Brand::Visa,
        prefix_len: 1,
        lo: 4,
        hi: 4,
        lengths: lens(&[13, 16, 19]),
    },
    IssuerRange {
        brand: Brand::Mastercard,
        prefix_len: 2,
        lo: 51,
        hi: 55,
        lengths: lens(&[16]),
    },
    IssuerRange {
        brand: Brand::Mastercard,
        prefix_len: 4,
        lo: 2221,
        hi: 2720,
        lengths: lens(&[16]),
    },
    IssuerRange {
        brand: Brand::Discover,
        prefix_len: 4,
        lo: 6011,
        hi: 6011,
        lengths: R16_19,
    },
    IssuerRange {
        brand: Brand::Discover,
        prefix_len: 3,
        lo: 644,
        hi: 649,
        lengths: R16_19,
    },
    IssuerRange {
        brand: Brand::Discover,
        prefix_len: 2,
        lo: 65,
        hi: 65,
        lengths: R16_19,
    },
    IssuerRange {
        brand: Brand::UnionPay,
        prefix_len: 2,
        lo: 62,
        hi: 62,
        lengths: R16_19,
    },
];

/// The brand of a number given as digit values, or `None` when no range matches its prefix and length.
///
/// A `match` on the four-digit prefix rather than a walk over [`ISSUER_TABLE`]: this runs for
/// every 13-19 digit run in the data. A test checks that both agree.
#[inline]
pub fn brand_of(digits: &[u8]) -> Option<Brand> {
    let len = digits.len();
    if !(13..=19).contains(&len) {
        return None;
    }
    let p4 = u32::from(digits[0]) * 1000
        + u32::from(digits[1]) * 100
        + u32::from(digits[2]) * 10
        + u32::from(digits[3]);
    let (brand, lengths) = brand_by_prefix(p4)?;
    (lengths & (1 << len) != 0).then_some(brand)
}

/// The brand whose range holds the four-digit prefix `p4` (the first four digits as a number),
/// with the lengths it issues as a bit mask (bit `n` set: `n` digits). `None` when no brand
/// issues numbers starting so, whatever their length: the finder uses it to drop a digit run
/// before looking at the rest of it.
#[inline]
pub fn brand_by_prefix(p4: u32) -> Option<(Brand, u32)> {
    Some(match p4 {
        4000..=4999 => (Brand::Visa, lens(&[13, 16, 19])),
        5100..=5599 | 2221..=2720 => (Brand::Mastercard, lens(&[16])),
        3400..=3499 | 3700..=3799 => (Brand::Amex, lens(&[15])),
        3528..=3589 => (Brand::Jcb, R16_19),
        3000..=3059 | 3095 | 3600..=3699 | 3800..=3999 => {
            (Brand::Diners, lens(&[14, 15, 16, 17, 18, 19]))
        }
        6011 | 6440..=6599 => (Brand::Discover, R16_19),
        6200..=6299 => (Brand::UnionPay, R16_19),
        _ => return None,
    })
}

/// Reference implementation over [`ISSUER_TABLE`] (used to test [`brand_of`]).
pub fn brand_of_table(digits: &[u8]) -> Option<Brand> {
    let len = digits.len();
    if !(13..=19).contains(&len) {
        return None;
    }
    let mut prefixes = [0u32; 5];
    let mut acc = 0u32;
    for (i, slot) in prefixes.iter_mut().enumerate().skip(1) {
        acc = acc * 10 + u32::from(digits[i - 1]);
        *slot = acc;
    }
    ISSUER_TABLE
        .iter()
        .find(|r| {
            let p = prefixes[usize::from(r.prefix_len)];
            p >= r.lo && p <= r.hi && r.lengths & (1 << len) != 0
        })
        .map(|r| r.brand)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::luhn::luhn_check_digit;
    use proptest::prelude::*;

    fn ds(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn known_brands() {
        assert_eq!(brand_of(&ds("4111111111111111")), Some(Brand::Visa));
        assert_eq!(brand_of(&ds("4222222222222")), Some(Brand::Visa));
        assert_eq!(brand_of(&ds("5555555555554444")), Some(Brand::Mastercard));
        assert_eq!(brand_of(&ds("2221000000000009")), Some(Brand::Mastercard));
        assert_eq!(brand_of(&ds("2720990000000007")), Some(Brand::Mastercard));
        assert_eq!(brand_of(&ds("2721000000000000")), None);
        assert_eq!(brand_of(&ds("2220990000000000")), None);
        assert_eq!(brand_of(&ds("378282246310005")), Some(Brand::Amex));
        assert_eq!(brand_of(&ds("3530111333300000")), Some(Brand::Jcb));
        assert_eq!(brand_of(&ds("3527111333300000")), None);
        assert_eq!(brand_of(&ds("3590111333300000")), None);
        assert_eq!(brand_of(&ds("30569309025904")), Some(Brand::Diners));
        assert_eq!(brand_of(&ds("6011111111111117")), Some(Brand::Discover));
        assert_eq!(brand_of(&ds("6200000000000005")), Some(Brand::UnionPay));
        // Right prefix, wrong length.
        assert_eq!(brand_of(&ds("37828224631000")), None);
        assert_eq!(brand_of(&ds("55555555555544")), None);
        assert_eq!(brand_of(&ds("411111111111111")), None);
        assert_eq!(brand_of(&ds("1234567890123456")), None);
    }

    #[test]
    fn prefix_lookup_agrees_with_table_for_every_prefix_and_length() {
        for p4 in 0..10_000u32 {
            let mut d = ds(&format!("{p4:04}"));
            d.resize(19, 0);
            let by_prefix = brand_by_prefix(p4);
            for len in 13..=19 {
                let want = brand_of_table(&d[..len]);
                let got = by_prefix
                    .filter(|(_, l)| l & (1 << len) != 0)
                    .map(|(b, _)| b);
                assert_eq!(got, want, "prefix {p4:04} length {len}");
            }
            if by_prefix.is_none() {
                assert!((13..=19).all(|len| brand_of_table(&d[..len]).is_none()));
            }
        }
    }

    proptest! {
        #[test]
        fn jcb_range_exact(prefix in 3400u32..3700, rest in proptest::collection::vec(0u8..10, 11)) {
            let mut d = ds(&prefix.to_string());
            d.extend_from_slice(&rest);
            d.push(luhn_check_digit(&d));
            let brand = brand_of(&d);
            if (3528..=3589).contains(&prefix) {
                prop_assert_eq!(brand, Some(Brand::Jcb));
            } else {
                prop_assert_ne!(brand, Some(Brand::Jcb));
            }
        }

        #[test]
        fn mastercard_2_series_exact(prefix in 2000u32..3000, rest in proptest::collection::vec(0u8..10, 12)) {
            let mut d = ds(&prefix.to_string());
            d.extend_from_slice(&rest);
            let brand = brand_of(&d);
            prop_assert_eq!(brand == Some(Brand::Mastercard), (2221..=2720).contains(&prefix));
        }

        #[test]
        fn match_agrees_with_table(d in proptest::collection::vec(0u8..10, 12..21), first in 0u8..10) {
            let mut d = d;
            d[0] = first;
            prop_assert_eq!(brand_of(&d), brand_of_table(&d));
        }

        #[test]
        fn never_panics(d in proptest::collection::vec(0u8..10, 0..25)) {
            let _ = brand_of(&d);
        }
    }
}
