//! Uses only the crate-root re-exports, the way the storefront and the
//! database layer do, for one guest checkout from form input to delivery.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use mamori_domain::{
    cod_fee, earliest_delivery_date, order_invoice_totals, Address, BirthDate, CustomerKind,
    CustomerProfile, DeliverySlot, Email, Gender, Noshi, NoshiPurpose, OrderEvent, OrderItem,
    OrderState, PaymentMethod, PersonName, Personal, Personalisation, PhoneNumber, PostalCode,
    Prefecture, Recipient, RegistrationNumber, TaxRate, Yen,
};

#[test]
fn guest_checkout_with_gift_and_cash_on_delivery() {
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();

    // What a customer typed with a Japanese IME.
    let buyer = CustomerProfile {
        kind: CustomerKind::Guest,
        name: Personal::new(
            PersonName::parse_with_kana("山田", "花子", Some("やまだ"), Some("はなこ")).unwrap(),
        ),
        email: Personal::new(Email::parse("ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ").unwrap()),
        phone: Some(Personal::new(
            PhoneNumber::parse("０９０ー１２３４ー５６７８").unwrap(),
        )),
        birth_date: Some(Personal::new(
            BirthDate::parse("平成2年1月2日", today).unwrap(),
        )),
        gender: Some(Gender::Female),
    };
    let recipient = Recipient {
        name: Personal::new(PersonName::parse("佐藤", "一郎").unwrap()),
        address: Personal::new(
            Address::new(
                PostalCode::parse("〒５３０－０００１").unwrap(),
                Prefecture::parse("大阪").unwrap(),
                "大阪市北区",
                "梅田１ー１ー１",
                None,
            )
            .unwrap(),
        ),
        phone: Personal::new(PhoneNumber::parse("06-1234-5678").unwrap()),
    };

    let items = vec![
        OrderItem {
            sku: "TEA-01".into(),
            product_name: "煎茶 100g".into(),
            unit_price_incl: Yen(1_080),
            rate: TaxRate::Reduced,
            quantity: 2,
            personalisation: None,
            noshi: Some(Noshi::new(NoshiPurpose::Oseibo, Some("山田")).unwrap()),
        },
        OrderItem {
            sku: "CUP-02".into(),
            product_name: "湯呑み".into(),
            unit_price_incl: Yen(3_300),
            rate: TaxRate::Standard,
            quantity: 1,
            personalisation: Some(Personalisation::new("HANAKO", None).unwrap()),
            noshi: None,
        },
    ];
    let totals = order_invoice_totals(&items).unwrap();
    assert_eq!(totals.total_incl, Yen(5_460));
    assert_eq!(totals.total_tax, Yen(160 + 300));
    assert_eq!(totals.total_incl.format_tax_included(), "5,460円（税込）");

    let method = PaymentMethod::CashOnDelivery;
    assert_eq!(cod_fee(totals.total_incl), Yen(330));
    assert_eq!(method.fee(totals.total_incl), Yen(330));

    let mut state = OrderState::PendingPayment;
    for event in [
        OrderEvent::StartPreparing,
        OrderEvent::Ship,
        OrderEvent::ConfirmDelivery,
    ] {
        state = state.apply(event, method).unwrap();
    }
    assert_eq!(state, OrderState::Delivered);
    assert_eq!(OrderState::parse(state.as_str()), Ok(state));

    assert_eq!(
        earliest_delivery_date(today, 2),
        NaiveDate::from_ymd_opt(2025, 6, 3)
    );
    assert_eq!(DeliverySlot::Morning.label_ja(), "午前中");
    assert_eq!(
        RegistrationNumber::parse("T7000012050002")
            .unwrap()
            .to_string(),
        "T7000012050002"
    );

    // Values are reachable on purpose, but not by accident.
    assert_eq!(
        recipient.address.expose().postal_code().to_string(),
        "530-0001"
    );
    assert_eq!(recipient.address.expose().line1(), "梅田1-1-1");
    assert_eq!(
        buyer.phone.as_ref().unwrap().expose().masked(),
        "090-****-5678"
    );
    let logged = format!("{buyer:?} {recipient:?} {items:?}");
    for secret in [
        "山田", "花子", "hanako", "090", "佐藤", "梅田", "530", "HANAKO", "1990",
    ] {
        assert!(!logged.contains(secret), "{secret} leaked");
    }
}
