//! Pure domain types and rules of the mamori shop: yen and consumption tax,
//! qualified-invoice rounding, Japanese postal addresses, phone numbers,
//! names and birth dates, gift options, payment and delivery options, and the
//! order state machine.
//!
//! The crate performs no I/O and reads no clock: "today" is always an
//! argument. Every personal value is meant to travel inside [`Personal`],
//! whose `Debug`/`Display` print `[redacted]` and which cannot be serialised.
//! Every parse error is a unit-only enum with Japanese and English messages,
//! so an error can never carry the input that was rejected.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod error;
mod labels;

mod address;
mod birth;
mod customer;
mod delivery;
mod email;
pub mod fake;
mod gift;
mod money;
mod name;
mod normalize;
mod order;
mod payment;
mod personal;
mod phone;
mod postal;
mod prefecture;
mod registration;
pub mod search;
mod shipping;
pub mod time;

pub use address::{Address, AddressError, AddressParts, ADDRESS_LINE_MAX_CHARS, CITY_MAX_CHARS};
pub use birth::{BirthDate, BirthDateError, Era};
pub use customer::{
    CustomerKind, CustomerProfile, Gender, Recipient, UnknownCustomerKind, UnknownGender,
};
pub use delivery::{
    check_requested_delivery_date, earliest_delivery_date, DeliveryDateError, DeliverySlot,
    UnknownDeliverySlot,
};
pub use email::{Email, EmailError, EMAIL_MAX_LEN};
pub use error::{AmountOverflow, Language, Localized};
pub use gift::{
    GiftTextError, Noshi, NoshiParts, NoshiPurpose, Personalisation, PersonalisationParts,
    UnknownNoshiPurpose, GIFT_TEXT_MAX_CHARS,
};
pub use money::{
    invoice_totals, InvoiceLine, InvoiceTotals, RateTotal, TaxRate, Yen, REDUCED_RATE_NOTE_JA,
};
pub use name::{hiragana_to_katakana, NameError, PersonName, PersonNameParts, NAME_PART_MAX_CHARS};
pub use normalize::{
    is_dash_like, normalize_address_line, normalize_digits_and_hyphens, normalize_input,
};
pub use order::{
    order_invoice_totals, InvalidTransition, OrderEvent, OrderItem, OrderState, UnknownOrderEvent,
    UnknownOrderState,
};
pub use payment::{
    cod_fee, PaymentAttemptState, PaymentMethod, UnknownPaymentAttemptState, UnknownPaymentMethod,
    COD_FEE_BANDS, COD_FEE_TOP, COD_MAX_TOTAL,
};
pub use personal::{Personal, REDACTED};
pub use phone::{PhoneKind, PhoneNumber, PhoneNumberError};
pub use postal::{PostalCode, PostalCodeError};
pub use prefecture::{Prefecture, PrefectureError};
pub use registration::{corporate_check_digit, RegistrationNumber, RegistrationNumberError};
pub use shipping::{CodFees, Region, ShippingRates, MAX_SHIPPING_RATE};

#[cfg(test)]
mod message_tests {
    use super::*;

    /// Every error message exists in both languages, the Japanese one is
    /// actually Japanese, and no message has a placeholder that could be
    /// filled with input.
    #[test]
    fn all_errors_are_bilingual() {
        fn check<E: Localized + std::fmt::Display>(
            all: &[E],
            ja: fn(&E) -> &'static str,
            en: fn(&E) -> &'static str,
        ) {
            for e in all {
                let (ja, en) = (ja(e), en(e));
                assert!(!ja.is_empty() && !en.is_empty());
                assert!(!ja.is_ascii(), "{ja}");
                assert!(en.is_ascii(), "{en}");
                assert_eq!(e.to_string(), en);
                assert_eq!(e.message(Language::Ja), ja);
                assert_eq!(e.message(Language::En), en);
                assert!(!ja.contains('{') && !en.contains('{'));
            }
        }
        macro_rules! check_all {
            ($($t:ty),+ $(,)?) => {
                $( check::<$t>(<$t>::ALL_VARIANTS, <$t>::message_ja, <$t>::message_en); )+
            };
        }
        check_all!(
            AmountOverflow,
            AddressError,
            BirthDateError,
            DeliveryDateError,
            EmailError,
            GiftTextError,
            NameError,
            PhoneNumberError,
            PostalCodeError,
            PrefectureError,
            RegistrationNumberError,
            UnknownCustomerKind,
            UnknownGender,
            UnknownDeliverySlot,
            UnknownNoshiPurpose,
            UnknownOrderEvent,
            UnknownOrderState,
            UnknownPaymentMethod,
            UnknownPaymentAttemptState,
        );
    }

    /// Errors from rejected personal input do not echo the input.
    #[test]
    fn errors_never_contain_input() {
        let secret = "himitsu-0901234";
        let errors: Vec<Box<dyn Localized>> = vec![
            Box::new(Email::parse(&format!("{secret} x")).unwrap_err()),
            Box::new(PhoneNumber::parse(&format!("{secret}x")).unwrap_err()),
            Box::new(PostalCode::parse(secret).unwrap_err()),
            Box::new(PersonName::parse(secret, "").unwrap_err()),
            Box::new(Prefecture::parse(secret).unwrap_err()),
            Box::new(RegistrationNumber::parse(secret).unwrap_err()),
            Box::new(
                BirthDate::parse(secret, chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())
                    .unwrap_err(),
            ),
        ];
        for e in errors {
            for lang in [Language::Ja, Language::En] {
                assert!(!e.message(lang).contains("himitsu"));
                assert!(!e.message(lang).contains("0901234"));
            }
        }
    }
}
