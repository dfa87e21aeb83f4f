//! One environment per test ([`mamori_testkit::Env`]: a fresh database on the chosen backend, a
//! fresh key file, ledger key and witness file, a running ledger writer and a gateway) and the
//! people, orders and accessors the store's tests use.

use chrono::NaiveDate;
use mamori_domain::*;
use mamori_store::gateway::{Buyer, NewOrder, NewShipment};
use mamori_store::{Accessor, Backend, PgStore, Principal, SqliteStore};
use mamori_vault::SecretString;

pub use mamori_testkit::fixtures::{notice_version, open_incident};
pub use mamori_testkit::{cheap_params, Bind, Env};

/// The environment every store test starts from (see [`Env::start`]).
pub async fn env(backend: Backend) -> Env {
    Env::start(backend).await
}

pub fn staff(purpose: &str) -> Accessor {
    Accessor {
        principal: Principal::Staff("staff-1".into()),
        purpose: purpose.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        channel: None,
        reason: None,
    }
}

pub fn web(channel: &str) -> Accessor {
    Accessor {
        principal: Principal::Guest("session-1".into()),
        purpose: "checkout".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        channel: Some(channel.into()),
        reason: None,
    }
}

/// The distinctive personal values a test plants and then looks for in raw bytes.
pub struct People {
    pub family: &'static str,
    pub given: &'static str,
    pub family_kana: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub postal: &'static str,
    pub city: &'static str,
    pub line1: &'static str,
    pub birth: &'static str,
    pub banner_name: &'static str,
}

pub const HANAKO: People = People {
    family: "鳩山",
    given: "花子",
    family_kana: "ハトヤマ",
    email: "hanako.hatoyama@example.jp",
    phone: "09012345678",
    postal: "1000001",
    city: "千代田区",
    line1: "千代田1-1",
    birth: "1985-04-12",
    banner_name: "蒼太郎",
};

pub const KENJI: People = People {
    family: "榊原",
    given: "健司",
    family_kana: "サカキバラ",
    email: "kenji.sakakibara@example.com",
    phone: "08098765432",
    postal: "5300001",
    city: "大阪市北区",
    line1: "梅田3-3-3",
    birth: "1972-11-30",
    banner_name: "結衣花",
};

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
}

pub fn name(p: &People) -> PersonName {
    PersonName::parse_with_kana(p.family, p.given, Some(p.family_kana), None).unwrap()
}

pub fn address(p: &People) -> Address {
    Address::parse(&AddressParts {
        postal_code: p.postal.into(),
        prefecture: "東京都".into(),
        city: p.city.into(),
        line1: p.line1.into(),
        line2: Some("パークハイツ101".into()),
    })
    .unwrap()
}

pub fn profile(p: &People, kind: CustomerKind) -> CustomerProfile {
    CustomerProfile {
        kind,
        name: Personal::new(name(p)),
        email: Personal::new(Email::parse(p.email).unwrap()),
        phone: Some(Personal::new(PhoneNumber::parse(p.phone).unwrap())),
        birth_date: Some(Personal::new(BirthDate::parse(p.birth, today()).unwrap())),
        gender: Some(Gender::Female),
    }
}

pub fn recipient(p: &People) -> Recipient {
    Recipient {
        name: Personal::new(name(p)),
        address: Personal::new(address(p)),
        phone: Personal::new(PhoneNumber::parse(p.phone).unwrap()),
    }
}

pub fn password() -> SecretString {
    SecretString::from("correct horse battery staple".to_owned())
}

/// An order by `buyer` delivered to `to`, with a name banner (名入れ) and のし.
pub fn new_order(customer_id: &str, buyer: &People, to: &People, key: &str) -> NewOrder {
    NewOrder {
        customer_id: customer_id.into(),
        idempotency_key: key.into(),
        payment_method: PaymentMethod::CashOnDelivery,
        buyer: Buyer {
            name: Personal::new(name(buyer)),
            email: Personal::new(Email::parse(buyer.email).unwrap()),
            phone: Personal::new(PhoneNumber::parse(buyer.phone).unwrap()),
            address: Personal::new(address(buyer)),
        },
        items: vec![
            OrderItem {
                sku: "BANNER-01".into(),
                product_name: "名前旗 金襴 中".into(),
                unit_price_incl: Yen(16_500),
                rate: TaxRate::Standard,
                quantity: 1,
                personalisation: Some(
                    Personalisation::new(
                        to.banner_name,
                        Some(BirthDate::parse("2025-05-05", today()).unwrap()),
                    )
                    .unwrap(),
                ),
                noshi: Some(Noshi::new(NoshiPurpose::Oiwai, Some(buyer.family)).unwrap()),
            },
            OrderItem {
                sku: "TEA-200".into(),
                product_name: "国産 緑茶 200g".into(),
                unit_price_incl: Yen(1_080),
                rate: TaxRate::Reduced,
                quantity: 3,
                personalisation: None,
                noshi: None,
            },
        ],
        shipments: vec![NewShipment {
            recipient: recipient(to),
            delivery_date: NaiveDate::from_ymd_opt(2026, 11, 25),
            slot: DeliverySlot::Morning,
        }],
        shipping_fee: Yen(880),
        payment_fee: None,
    }
}

/// Whether the database at `url` refuses `sql` (an append-only table's trigger, say).
pub async fn refuses(url: &str, sql: &str) -> bool {
    let res = if url.starts_with("sqlite:") {
        let s = SqliteStore::open(url).await.unwrap();
        sqlx::query(sql).execute(s.pool()).await.map(|_| ())
    } else {
        let s = PgStore::open(url).await.unwrap();
        sqlx::query(sql).execute(s.pool()).await.map(|_| ())
    };
    res.is_err()
}
