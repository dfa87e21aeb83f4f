//! One environment per test: a fresh database on the chosen backend, a fresh key file, ledger key
//! and witness file, a running ledger writer and a gateway.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use mamori_domain::*;
use mamori_ledger::{LedgerSigner, LedgerVerifier};
use mamori_store::gateway::{Buyer, NewOrder, NewShipment};
use mamori_store::{
    open_store, Accessor, Backend, Gateway, Ledger, LedgerConfig, Principal, Store,
};
use mamori_vault::{KeyRing, PasswordParams, SecretString};

/// A value bound to raw SQL in [`Env::sql`].
pub enum Bind {
    Bytes(Vec<u8>),
    Text(String),
    Int(i64),
}

pub struct Env {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub key_file: PathBuf,
    pub gw: Gateway,
    pub ledger: Ledger,
    pub verifier: LedgerVerifier,
    pub witness: PathBuf,
}

pub fn cheap_params() -> PasswordParams {
    PasswordParams {
        m_cost_kib: 1024,
        t_cost: 1,
        p_cost: 1,
    }
}

pub async fn env(backend: Backend) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("mamori.db").display()),
        Backend::Postgres => mamori_testkit::fresh_pg_database().await.unwrap(),
    };
    let store = open_store(&url).await.unwrap();
    store.migrate().await.unwrap();
    let key_file = dir.path().join("master.key");
    let keys = Arc::new(
        KeyRing::init(&key_file)
            .unwrap()
            .with_password_params(cheap_params()),
    );
    let signer =
        LedgerSigner::create_key_file(&dir.path().join("ledger.key"), "mamori-ledger").unwrap();
    let verifier = signer.verifier();
    let witness = dir.path().join("witness.jsonl");
    let ledger = Ledger::start(store.clone(), signer, LedgerConfig::new(witness.clone()));
    let gw = Gateway::new(store.clone(), keys.clone(), ledger.clone());
    Env {
        backend,
        dir,
        url,
        store,
        keys,
        key_file,
        gw,
        ledger,
        verifier,
        witness,
    }
}

impl Env {
    /// A gateway with another key ring over the same store and ledger.
    pub fn gateway_with(&self, keys: KeyRing) -> Gateway {
        Gateway::new(self.store.clone(), Arc::new(keys), self.ledger.clone())
    }

    /// Runs raw SQL against the test database, as an attacker with database access would.
    pub async fn sql(&self, sql: &str, binds: Vec<Bind>) {
        macro_rules! run {
            ($pool:expr) => {{
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = match b {
                        Bind::Bytes(v) => q.bind(v),
                        Bind::Text(v) => q.bind(v),
                        Bind::Int(v) => q.bind(v),
                    };
                }
                q.execute($pool).await.unwrap();
            }};
        }
        match self.backend {
            Backend::Sqlite => run!(mamori_store::SqliteStore::open(&self.url)
                .await
                .unwrap()
                .pool()),
            Backend::Postgres => run!(mamori_store::PgStore::open(&self.url).await.unwrap().pool()),
        }
    }

    /// One integer from raw SQL.
    pub async fn sql_i64(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let s = mamori_store::SqliteStore::open(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap()
            }
            Backend::Postgres => {
                let s = mamori_store::PgStore::open(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap()
            }
        }
    }

    pub async fn verify(&self) -> Result<mamori_ledger::VerifyReport, mamori_ledger::Break> {
        mamori_store::ledger::verify(self.store.as_ref(), &self.verifier, &self.witness)
            .await
            .unwrap()
    }
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
    }
}

/// Generates `sqlite` and `postgres` tests from one async fn taking a [`Backend`].
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(mamori_store::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(mamori_store::Backend::Postgres).await
                }
            }
        )*
    };
}
