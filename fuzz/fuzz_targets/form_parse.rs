//! The shop's form parsing on arbitrary request bodies: `mamori_web::errors::parse_form` (the
//! `SafeForm` extractor's parser: strict UTF-8, percent-decoding, the CSRF field dropped) into a
//! sign-up style form, then the domain's parsers on its Japanese fields (address, name with
//! readings, phone, email, birth date), as the shop's handlers do.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use mamori_domain::{
    Address, AddressParts, BirthDate, Email, PersonName, PersonNameParts, PhoneNumber,
};
use mamori_web::errors::parse_form;
use serde::Deserialize;

#[derive(Deserialize)]
struct SignUp {
    family: Option<String>,
    given: Option<String>,
    family_kana: Option<String>,
    given_kana: Option<String>,
    email: Option<String>,
    tel: Option<String>,
    birth: Option<String>,
    postal_code: Option<String>,
    prefecture: Option<String>,
    city: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    qty: Option<u32>,
    agree: Option<bool>,
}

fuzz_target!(|data: &[u8]| {
    // The typed parse fails closed: a body that is not strict UTF-8 never reaches the type.
    if let Ok(form) = parse_form::<SignUp>(data) {
        assert!(
            std::str::from_utf8(data).is_ok(),
            "a non-UTF-8 body was accepted"
        );
        let _ = (form.qty, form.agree);
        let parts = AddressParts {
            postal_code: form.postal_code.unwrap_or_default(),
            prefecture: form.prefecture.unwrap_or_default(),
            city: form.city.unwrap_or_default(),
            line1: form.line1.unwrap_or_default(),
            line2: form.line2,
        };
        if let Ok(a) = Address::parse(&parts) {
            assert_eq!(a.postal_code().digits().len(), 7);
        }
        let _ = PersonName::parse_with_kana(
            form.family.as_deref().unwrap_or_default(),
            form.given.as_deref().unwrap_or_default(),
            form.family_kana.as_deref(),
            form.given_kana.as_deref(),
        );
        let _ = form.email.as_deref().map(Email::parse);
        let _ = form.tel.as_deref().map(PhoneNumber::parse);
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
        let _ = form.birth.as_deref().map(|b| BirthDate::parse(b, today));
    }
    // The domain's own form shapes, deserialised directly (as nested JSON/form values are).
    if let Ok(parts) = parse_form::<AddressParts>(data) {
        let _ = Address::parse(&parts);
    }
    if let Ok(parts) = parse_form::<PersonNameParts>(data) {
        let _ = PersonName::try_from(parts);
    }
    let _ = parse_form::<PersonName>(data);
});
