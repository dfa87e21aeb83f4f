//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{FixedOffset, TimeZone as _};
use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use mamori_domain::{invoice_totals, InvoiceLine, Language, PaymentMethod, TaxRate, Yen};
use mamori_mail::template::{DeliveryInfo, OrderConfirmation, OrderLine, ShopInfo};
use mamori_mail::{Composer, DkimSigner, SmtpSettings, WorkerConfig};

/// Generous liveness bound for waits; never a speed assertion.
pub const WAIT: Duration = Duration::from_secs(30);

pub const FROM: &str = "守り商店 <shop@mamori.example>";
pub const DOMAIN: &str = "mamori.example";

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn composer() -> Composer {
    Composer::new(FROM, DOMAIN).unwrap()
}

pub fn ed25519_signer() -> DkimSigner {
    DkimSigner::from_key_file("ed", DOMAIN, fixture("dkim-test-ed25519.pem")).unwrap()
}

pub fn rsa_signer() -> DkimSigner {
    DkimSigner::from_key_file("rsa", DOMAIN, fixture("dkim-test-rsa.pem")).unwrap()
}

/// Worker settings scaled down for tests: short backoff and polling, so retries happen within
/// the test; correctness never depends on these values.
pub fn fast_config() -> WorkerConfig {
    mamori_testkit::mail::fast_worker_config()
}

pub fn smtp_to(port: u16) -> SmtpSettings {
    let mut s = SmtpSettings::plaintext("127.0.0.1", port);
    s.hello_name = Some("test.mamori.example".into());
    s
}

pub fn sample_order() -> OrderConfirmation {
    let lines = vec![
        OrderLine {
            name: "有機緑茶 100g".into(),
            quantity: 3,
            unit_price_incl: Yen(1_080),
            rate: TaxRate::Reduced,
            personalisation: None,
            noshi: None,
        },
        OrderLine {
            name: "急須（常滑焼）".into(),
            quantity: 1,
            unit_price_incl: Yen(5_500),
            rate: TaxRate::Standard,
            personalisation: None,
            noshi: None,
        },
    ];
    let shipping = Yen(880);
    let mut invoice: Vec<InvoiceLine> = lines
        .iter()
        .map(|l| InvoiceLine {
            rate: l.rate,
            amount_incl: l.unit_price_incl.checked_mul_qty(l.quantity).unwrap(),
        })
        .collect();
    invoice.push(InvoiceLine {
        rate: TaxRate::Standard,
        amount_incl: shipping,
    });
    let jst = FixedOffset::east_opt(9 * 3600).unwrap();
    OrderConfirmation {
        shop: ShopInfo {
            name: "守り商店".into(),
            url: "https://shop.mamori.example/".into(),
            support_email: "support@mamori.example".into(),
        },
        order_number: "MA-2025-000123".into(),
        ordered_at: jst.with_ymd_and_hms(2025, 11, 21, 15, 4, 0).unwrap(),
        lang: Language::Ja,
        customer_name: "山田 太郎".into(),
        lines,
        shipping_fee: shipping,
        cod_fee: Yen::ZERO,
        totals: invoice_totals(&invoice).unwrap(),
        method: PaymentMethod::Card,
        bank_transfer: None,
        pickup_at: None,
        deliveries: vec![DeliveryInfo {
            recipient_name: "山田 花子".into(),
            postal_code: "100-0001".into(),
            address: "東京都千代田区千代田1-1 守りマンション101".into(),
            date_ja: Some("2025年12月1日（月）".into()),
            date_en: Some("Mon 1 Dec 2025".into()),
            slot_ja: "午前中".into(),
            slot_en: "Morning".into(),
            items: Vec::new(),
        }],
    }
}

/// A TXT cache holding the signer's public key, so mail-auth verifies without DNS.
struct KeyCache(Mutex<HashMap<String, Txt>>);

impl ResolverCache<String, Txt> for KeyCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }
    fn insert(&self, key: String, value: Txt, _valid_until: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// Verifies every DKIM signature of `raw` with mail-auth against the signers' published
/// records; returns the results.
pub async fn verify_dkim(raw: &[u8], signers: &[&DkimSigner]) -> Vec<DkimResult> {
    let cache = KeyCache(Mutex::new(HashMap::new()));
    for signer in signers {
        let key = DomainKey::parse(signer.dns_record().as_bytes()).unwrap();
        let txt = Txt::from(key);
        cache.insert(
            format!("{}.", signer.dns_name()),
            txt.clone(),
            Instant::now(),
        );
        cache.insert(signer.dns_name(), txt, Instant::now());
    }
    let authenticator = MessageAuthenticator::new_cloudflare_tls().unwrap();
    let message = AuthenticatedMessage::parse(raw).unwrap();
    let out = authenticator
        .verify_dkim(Parameters::new(&message).with_txt_cache(&cache))
        .await;
    out.iter().map(|o| o.result().clone()).collect()
}

/// The tags of the (first) DKIM-Signature header, unfolded.
pub fn dkim_tags(raw: &str) -> HashMap<String, String> {
    let start = raw.find("DKIM-Signature:").expect("DKIM-Signature header");
    let rest = &raw[start + "DKIM-Signature:".len()..];
    let mut value = String::new();
    for (i, line) in rest.split("\r\n").enumerate() {
        if i > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        value.push_str(line.trim());
    }
    value
        .split(';')
        .filter_map(|t| {
            let (k, v) = t.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

pub type Shared<T> = Arc<T>;
