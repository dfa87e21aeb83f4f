//! Unvalidated form parts carry the same personal values as the validated types: their Debug
//! output must be redacted too, since handlers log the input they reject.
#![allow(clippy::unwrap_used)]

use mamori_domain::{AddressParts, PersonNameParts};

#[test]
fn unvalidated_parts_do_not_print_their_values() {
    let name = PersonNameParts {
        family: "鳩山".into(),
        given: "花子".into(),
        family_kana: Some("ハトヤマ".into()),
        given_kana: None,
    };
    let address = AddressParts {
        postal_code: "100-0001".into(),
        prefecture: "東京都".into(),
        city: "千代田区".into(),
        line1: "千代田1-1".into(),
        line2: Some("パークハイツ101".into()),
    };
    let printed = format!("{name:?} {address:?} {name:#?} {address:#?}");
    for value in [
        "鳩山",
        "花子",
        "ハトヤマ",
        "100-0001",
        "千代田",
        "パークハイツ",
    ] {
        assert!(!printed.contains(value), "Debug printed a personal value");
    }
    assert!(printed.contains("[redacted]"));
}
