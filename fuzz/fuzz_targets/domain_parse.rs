//! The domain's field parsers on arbitrary text: postal code, phone number, email, prefecture,
//! invoice registration number, names with readings, birth dates (Western and 和暦) and the
//! input normalisation they share. None may panic; where a value displays in a form the parser
//! accepts, parse -> display -> parse gives the same value.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use mamori_domain::{
    normalize_address_line, normalize_digits_and_hyphens, normalize_input, BirthDate, Email,
    PersonName, PhoneNumber, PostalCode, Prefecture, RegistrationNumber,
};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(p) = PostalCode::parse(s) {
        assert_eq!(p.digits().len(), 7);
        assert_eq!(PostalCode::parse(&p.to_string()).ok(), Some(p));
    }
    if let Ok(p) = PhoneNumber::parse(s) {
        assert!(
            PhoneNumber::parse(&p.to_string()).ok() == Some(p),
            "phone round trip"
        );
    }
    if let Ok(e) = Email::parse(s) {
        assert_eq!(
            Email::parse(e.as_str()).ok().map(|x| x.as_str().to_owned()),
            Some(e.as_str().to_owned())
        );
    }
    if let Ok(p) = Prefecture::parse(s) {
        assert_eq!(Prefecture::parse(&p.to_string()).ok(), Some(p));
    }
    if let Ok(r) = RegistrationNumber::parse(s) {
        assert_eq!(RegistrationNumber::parse(&r.to_string()).ok(), Some(r));
    }
    let _ = RegistrationNumber::parse_without_check_digit(s);

    // Family and given name (and readings) separated by tabs.
    let mut parts = s.split('\t');
    let (family, given) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (family_kana, given_kana) = (parts.next(), parts.next());
    if let Ok(n) = PersonName::parse_with_kana(family, given, family_kana, given_kana) {
        let again =
            PersonName::parse_with_kana(n.family(), n.given(), n.family_kana(), n.given_kana());
        assert!(again.ok() == Some(n), "name round trip");
    }

    // Birth dates, 和暦 included; "today" is fixed because the crate reads no clock.
    let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    if let Ok(b) = BirthDate::parse(s, today) {
        let iso = b.date().format("%Y-%m-%d").to_string();
        assert!(
            BirthDate::parse(&iso, today).ok() == Some(b),
            "ISO date round trip"
        );
        assert!(
            BirthDate::parse(&b.to_wareki(), today).ok() == Some(b),
            "和暦 round trip"
        );
        let _ = b.age_on(today);
    }

    let _ = normalize_input(s);
    let _ = normalize_digits_and_hyphens(s);
    let _ = normalize_address_line(s);
});
