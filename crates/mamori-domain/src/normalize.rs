//! Input normalisation for text typed by Japanese users.

use unicode_normalization::UnicodeNormalization;

/// Normalises free text typed into a form.
///
/// 1. NFKC, so full-width digits, letters, `＠` and the ideographic space that
///    Japanese input methods produce become their ASCII forms (and half-width
///    katakana becomes full-width);
/// 2. trims;
/// 3. collapses every run of internal whitespace into a single ASCII space.
///
/// The function is idempotent (checked by a property test).
#[must_use]
pub fn normalize_input(input: &str) -> String {
    let nfkc: String = input.nfkc().collect();
    let mut out = String::with_capacity(nfkc.len());
    for word in nfkc.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether `c` is one of the dash look-alikes that users type (or input
/// methods produce) where an ASCII hyphen-minus is meant.
///
/// Covers the katakana prolonged sound mark `ー`, minus sign `−`, hyphen `‐`,
/// non-breaking hyphen `‑`, figure dash, en dash `–`, em dash, horizontal bar
/// `―`, hyphen bullet and the full-width/small forms (most of which NFKC
/// already folds to `-`).
#[must_use]
pub fn is_dash_like(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            ..='\u{2015}'
                | '\u{2043}'
                | '\u{2212}'
                | '\u{30FC}'
                | '\u{FF70}'
                | '\u{FE58}'
                | '\u{FE63}'
                | '\u{FF0D}'
    )
}

/// [`normalize_input`], then every dash look-alike becomes `-`.
///
/// Only for fields where a number is expected (postal codes, phone numbers,
/// dates): in free text `ー` is a real katakana character and must stay.
#[must_use]
pub fn normalize_digits_and_hyphens(input: &str) -> String {
    normalize_input(input)
        .chars()
        .map(|c| if is_dash_like(c) { '-' } else { c })
        .collect()
}

/// [`normalize_input`], then dash look-alikes that sit between two ASCII
/// digits become `-` (as in the block number `1丁目2ー3`), while a `ー` inside
/// a katakana building name is kept.
#[must_use]
pub fn normalize_address_line(input: &str) -> String {
    let chars: Vec<char> = normalize_input(input).chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        out.push(if between_digits && is_dash_like(c) {
            '-'
        } else {
            c
        });
    }
    out
}

/// Whether the text contains a control character (after normalisation, tabs
/// and newlines have become spaces, so any control left is suspicious).
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_becomes_ascii() {
        assert_eq!(normalize_input("　ＡＢＣ１２３　"), "ABC123");
        assert_eq!(
            normalize_input("ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ"),
            "yamada@example.jp"
        );
    }

    #[test]
    fn whitespace_runs_collapse() {
        assert_eq!(normalize_input("山田　　太郎"), "山田 太郎");
        assert_eq!(normalize_input(" a \t\n b "), "a b");
        assert_eq!(normalize_input("   "), "");
    }

    #[test]
    fn half_width_katakana_becomes_full_width() {
        assert_eq!(normalize_input("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダ タロウ");
    }

    #[test]
    fn dashes_fold_only_where_numbers_are_expected() {
        assert_eq!(normalize_digits_and_hyphens("１２３ー４５６７"), "123-4567");
        for dash in ["ー", "−", "‐", "―", "－", "‑", "–", "ｰ"] {
            assert_eq!(
                normalize_digits_and_hyphens(&format!("1{dash}2")),
                "1-2",
                "{dash:?}"
            );
        }
        assert_eq!(normalize_input("コーポ"), "コーポ");
    }

    #[test]
    fn address_line_keeps_katakana_long_vowel() {
        assert_eq!(
            normalize_address_line("千代田１ー２ー３　コーポ１０１"),
            "千代田1-2-3 コーポ101"
        );
        assert_eq!(normalize_address_line("ー1ー"), "ー1ー");
    }

    proptest! {
        #[test]
        fn normalize_input_is_idempotent(s in any::<String>()) {
            let once = normalize_input(&s);
            prop_assert_eq!(normalize_input(&once), once.clone());
        }

        #[test]
        fn normalize_input_is_idempotent_on_japanese(s in "[ 　\t０-９Ａ-Ｚａ-ｚぁ-んァ-ヶｦ-ﾟ一-龥ー－〒、。]{0,40}") {
            let once = normalize_input(&s);
            prop_assert_eq!(normalize_input(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }

        #[test]
        fn digits_and_hyphens_is_idempotent(s in any::<String>()) {
            let once = normalize_digits_and_hyphens(&s);
            prop_assert_eq!(normalize_digits_and_hyphens(&once), once.clone());
        }
    }
}
