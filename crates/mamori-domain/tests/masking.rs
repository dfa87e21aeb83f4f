//! Masked forms of personal values, as support staff see them in the back office: the family
//! name, the first character of an email's local part and its domain, a phone's first and last
//! groups, an address's prefecture and city; never the rest, and never its length.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use mamori_domain::{Address, AddressParts, BirthDate, Email, PersonName, PhoneNumber};
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
}

#[test]
fn names_keep_the_family_name_only() {
    for (family, given, masked) in [
        ("山田", "太郎", "山田 **"),
        // A one-character family name and a one-character given name: the mask is the same
        // width whatever the given name's length.
        ("林", "忍", "林 **"),
        ("佐々木", "左衛門三郎", "佐々木 **"),
        // Full-width and padded input is normalised before it is masked.
        ("　山田　", "　太郎　", "山田 **"),
        ("Ｓｍｉｔｈ", "Ｊｏｈｎ", "Smith **"),
        ("スミス", "ジョン", "スミス **"),
        // Half-width katakana becomes full-width.
        ("ﾔﾏﾀﾞ", "ﾀﾛｳ", "ヤマダ **"),
    ] {
        let n = PersonName::parse(family, given).unwrap();
        assert_eq!(n.masked(), masked, "{masked}");
        assert!(!n.masked().contains(n.given()));
    }
    let with_kana =
        PersonName::parse_with_kana("鳩山", "花子", Some("はとやま"), Some("はなこ")).unwrap();
    let m = with_kana.masked();
    assert_eq!(m, "鳩山 **");
    assert!(!m.contains("ハナコ") && !m.contains("ハトヤマ"));
}

#[test]
fn emails_keep_the_first_character_and_the_domain() {
    for (input, masked) in [
        ("taro.yamada@example.jp", "t***@example.jp"),
        ("Yamada.Taro@Example.CO.JP", "Y***@example.co.jp"),
        // Full-width input (an IME left on).
        (
            "ｙａｍａｄａ＋ｓｈｏｐ＠ｅｘａｍｐｌｅ．ｊｐ",
            "y***@example.jp",
        ),
        // Short local parts: the mask has the same width, so it does not tell the length.
        ("a@example.jp", "a***@example.jp"),
        ("ab@example.jp", "a***@example.jp"),
        // International-looking addresses: a Unicode local part, an internationalised domain.
        ("山田@example.jp", "山***@example.jp"),
        ("taro@例え.jp", "t***@例え.jp"),
        ("jean-luc.picard@enterprise.co.uk", "j***@enterprise.co.uk"),
        ("müller@beispiel.de", "m***@beispiel.de"),
    ] {
        let e = Email::parse(input).unwrap();
        assert_eq!(e.masked(), masked, "{masked}");
    }
    let e = Email::parse("hanako.hatoyama@example.jp").unwrap();
    assert!(!e.masked().contains("hanako") && !e.masked().contains("hatoyama"));
}

#[test]
fn phones_keep_the_first_and_last_groups_in_every_format() {
    for (input, masked) in [
        // Mobiles, typed every way the domain accepts.
        ("09012345678", "090-****-5678"),
        ("090-1234-5678", "090-****-5678"),
        ("090 1234 5678", "090-****-5678"),
        ("(090)1234-5678", "090-****-5678"),
        ("０９０－１２３４－５６７８", "090-****-5678"),
        ("０９０ー１２３４ー５６７８", "090-****-5678"),
        ("+81 90-1234-5678", "090-****-5678"),
        ("＋８１　９０　１２３４　５６７８", "090-****-5678"),
        ("+81 (0)90 1234 5678", "090-****-5678"),
        ("070-1111-2222", "070-****-2222"),
        ("080-1111-2222", "080-****-2222"),
        // IP phone.
        ("050-1234-5678", "050-****-5678"),
        // Landlines: two-digit area codes and the common three-digit shape.
        ("03-1234-5678", "03-****-5678"),
        ("06(1234)5678", "06-****-5678"),
        ("+81 3 1234 5678", "03-****-5678"),
        ("052-123-4567", "052-***-4567"),
        ("0521234567", "052-***-4567"),
        // Toll-free and shared-cost numbers.
        ("0120-123-456", "0120-***-456"),
        ("０８００－１２３－４５６７", "0800-***-4567"),
        ("0570-123-456", "0570-***-456"),
    ] {
        let p = PhoneNumber::parse(input).unwrap();
        assert_eq!(p.masked(), masked, "{input}");
    }
}

#[test]
fn addresses_keep_prefecture_and_city() {
    let a = Address::parse(&AddressParts {
        postal_code: "〒１００ー０００１".into(),
        prefecture: "東京".into(),
        city: "千代田区".into(),
        line1: "千代田１ー１".into(),
        line2: Some("パークハイツ１０１".into()),
    })
    .unwrap();
    let m = a.masked();
    assert_eq!(m, "東京都千代田区 ***");
    for hidden in ["100", "0001", "千代田1", "パークハイツ", "101"] {
        assert!(!m.contains(hidden), "{hidden}");
    }
    let short = Address::parse(&AddressParts {
        postal_code: "0600001".into(),
        prefecture: "hokkaido".into(),
        city: "札幌市中央区".into(),
        line1: "北1条西1".into(),
        line2: None,
    })
    .unwrap();
    assert_eq!(short.masked(), "北海道札幌市中央区 ***");
}

#[test]
fn birth_dates_are_hidden_entirely() {
    for input in [
        "1985-04-12",
        "昭和60年4月12日",
        "１９８５／４／１２",
        "H2.1.2",
    ] {
        let b = BirthDate::parse(input, today()).unwrap();
        let m = b.masked();
        assert_eq!(m, "****-**-**");
        assert!(!m.chars().any(|c| c.is_ascii_digit()));
    }
}

proptest! {
    /// Whatever the mobile number, the masked form shows its prefix and last four digits only.
    /// (A middle group starting with 0 after 080 would be the toll-free 0800 range.)
    #[test]
    fn mobile_masks_hide_the_middle(prefix in prop::sample::select(vec!["070", "080", "090"]),
                                    middle in 1_000u32..10_000, last in 0u32..10_000) {
        let digits = format!("{prefix}{middle:04}{last:04}");
        let p = PhoneNumber::parse(&digits).unwrap();
        prop_assert_eq!(p.masked(), format!("{prefix}-****-{last:04}"));
    }

    /// Whatever the given name, the masked name is the family name and the same fixed mask.
    #[test]
    fn name_masks_hide_the_given_name(given in "[ぁ-ゖ一-龯]{1,20}") {
        let n = PersonName::parse("山田", &given).unwrap();
        prop_assert_eq!(n.masked(), "山田 **");
    }
}
