//! The shop's settings as the back office stores them in `shop_settings` (JSON values under the
//! keys of [`keys`]), read back over defaults. The back office writes them; the shop reads them
//! (briefly cached) for its name, registration number, payment methods and delivery slots; the
//! incident desk's reports read the operator's details.
//!
//! They live here, not in the store: the store keeps setting rows as generic key and JSON value
//! (`settings_all`, `settings_put`), and what each key means, its default and the policy texts
//! shown in its place are the pages' business, shared by the shop, the back office and the
//! incident desk, which all stand on this crate.

use std::collections::BTreeMap;

use mamori_domain::{CodFees, PaymentMethod, ShippingRates, Yen};
use serde_json::{json, Value};

/// The setting keys.
pub mod keys {
    /// The shop's name (string).
    pub const NAME: &str = "shop.name";
    /// The shop's address (string).
    pub const ADDRESS: &str = "shop.address";
    /// 適格請求書発行事業者登録番号 (string, `T` + 13 digits).
    pub const REGISTRATION_NUMBER: &str = "shop.registration_number";
    /// Delivery time slots offered at checkout (bool).
    pub const DELIVERY_SLOTS: &str = "delivery.slots_enabled";
    /// Payment methods offered (array of `PaymentMethod::as_str`).
    pub const PAYMENT_METHODS: &str = "payment.methods";
    /// The account bank transfers go to, as the order mail prints it (string, may span lines).
    pub const BANK_ACCOUNT: &str = "payment.bank_account";
    /// Days a bank transfer may take after the order (number).
    pub const BANK_TRANSFER_DAYS: &str = "payment.bank_transfer_days";
    /// Where store-pickup orders are collected: the store's name, address and opening hours, as
    /// the ready-for-pickup mail prints them (string, may span lines; empty: the shop's address).
    pub const PICKUP_PLACE: &str = "pickup.place";
    /// 運営統括責任者, for the 特定商取引法 page (string).
    pub const REPRESENTATIVE: &str = "legal.representative";
    /// The shop's phone number, for the 特定商取引法 page (string).
    pub const PHONE: &str = "legal.phone";
    /// 商品の引渡時期 (string, may span lines; empty: the standard wording with the lead days).
    pub const DELIVERY_TIME: &str = "legal.delivery_time";
    /// 返品・交換について (string, may span lines; empty: the standard wording).
    pub const RETURNS: &str = "legal.returns";
    /// 個人情報の利用目的, one purpose per line (string; empty: the standard purposes).
    pub const PRIVACY_PURPOSES: &str = "privacy.purposes";
    /// Shipping rates per region and prefecture and the free-shipping threshold (object, a
    /// [`mamori_domain::ShippingRates`]; absent: the configuration's flat fee and threshold).
    pub const SHIPPING_RATES: &str = "shipping.rates";
    /// The 代引き fee table (object, a [`mamori_domain::CodFees`]; absent: the standard table).
    pub const COD_FEES: &str = "payment.cod_fees";
}

/// The purposes of use a privacy policy names unless the merchant wrote their own.
pub const DEFAULT_PRIVACY_PURPOSES: &str = "ご注文商品の発送、代金のご請求・お受け取り\n\
ご注文・発送・お支払いに関するご連絡\n\
お問い合わせへの回答\n\
会員サービス（マイページ、住所録、購入履歴）の提供\n\
不正なご注文・不正アクセスの防止と調査";

/// The returns policy (返品特約) the legal page shows unless the merchant wrote their own.
pub const DEFAULT_RETURNS: &str =
    "商品到着後8日以内に、未使用の場合に限りご返品を承ります（送料はお客様のご負担）。\n\
不良品・誤配送の場合は、当店負担で交換または返金いたします。\n\
名入れ商品など、お客様のご指定で作る商品はご返品いただけません。";

/// Days to pay a bank transfer unless the settings say otherwise.
pub const DEFAULT_BANK_TRANSFER_DAYS: u32 = 7;

/// The settings as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopSettings {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Registration number.
    pub registration_number: String,
    /// Delivery slots on.
    pub delivery_slots: bool,
    /// Payment methods on.
    pub payment_methods: Vec<String>,
    /// Bank account for transfers (empty: the configuration's).
    pub bank_account: String,
    /// Days to pay a bank transfer.
    pub bank_transfer_days: u32,
    /// Where pickup orders are collected (empty: the shop's address).
    pub pickup_place: String,
    /// 運営統括責任者.
    pub representative: String,
    /// Phone number shown on the legal page.
    pub phone: String,
    /// 商品の引渡時期 (empty: the standard wording).
    pub delivery_time: String,
    /// 返品・交換 (empty: [`DEFAULT_RETURNS`]).
    pub returns: String,
    /// 個人情報の利用目的, one per line (empty: [`DEFAULT_PRIVACY_PURPOSES`]).
    pub privacy_purposes: String,
    /// Shipping rates set on the shipping page (`None`: the configuration's flat fee). Written
    /// only by that page, so not among [`Self::values`].
    pub shipping: Option<ShippingRates>,
    /// The 代引き fee table set on the shipping page (`None`: the standard table).
    pub cod_fees: Option<CodFees>,
}

impl ShopSettings {
    /// The stored settings over the defaults (the shop name from the configuration, every
    /// payment method on, slots on).
    pub fn from_stored(stored: &[(String, String)], default_name: &str) -> Self {
        let map: BTreeMap<&str, Value> = stored
            .iter()
            .filter_map(|(k, v)| serde_json::from_str(v).ok().map(|v| (k.as_str(), v)))
            .collect();
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            name: text(keys::NAME).unwrap_or_else(|| default_name.to_owned()),
            address: text(keys::ADDRESS).unwrap_or_default(),
            registration_number: text(keys::REGISTRATION_NUMBER).unwrap_or_default(),
            delivery_slots: map
                .get(keys::DELIVERY_SLOTS)
                .and_then(Value::as_bool)
                .unwrap_or(true),
            payment_methods: map
                .get(keys::PAYMENT_METHODS)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_else(|| {
                    PaymentMethod::ALL
                        .iter()
                        .map(|m| m.as_str().to_owned())
                        .collect()
                }),
            bank_account: text(keys::BANK_ACCOUNT).unwrap_or_default(),
            bank_transfer_days: map
                .get(keys::BANK_TRANSFER_DAYS)
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(DEFAULT_BANK_TRANSFER_DAYS),
            pickup_place: text(keys::PICKUP_PLACE).unwrap_or_default(),
            representative: text(keys::REPRESENTATIVE).unwrap_or_default(),
            phone: text(keys::PHONE).unwrap_or_default(),
            delivery_time: text(keys::DELIVERY_TIME).unwrap_or_default(),
            returns: text(keys::RETURNS).unwrap_or_default(),
            privacy_purposes: text(keys::PRIVACY_PURPOSES).unwrap_or_default(),
            shipping: map
                .get(keys::SHIPPING_RATES)
                .and_then(|v| serde_json::from_value::<ShippingRates>(v.clone()).ok())
                .filter(ShippingRates::is_valid),
            cod_fees: map
                .get(keys::COD_FEES)
                .and_then(|v| serde_json::from_value::<CodFees>(v.clone()).ok())
                .filter(CodFees::is_valid),
        }
    }

    /// The shipping rates to charge: the ones set, else `flat_fee` everywhere and free from
    /// `free_from` (the configuration's figures).
    pub fn shipping_rates(&self, flat_fee: i64, free_from: i64) -> ShippingRates {
        self.shipping
            .clone()
            .unwrap_or_else(|| ShippingRates::flat(Yen(flat_fee), Some(Yen(free_from))))
    }

    /// The 代引き fee table to charge: the one set, else the standard table.
    pub fn cod_fees_or_default(&self) -> CodFees {
        self.cod_fees.clone().unwrap_or_default()
    }

    /// Each setting under its key, as stored.
    pub fn values(&self) -> [(&'static str, Value); 13] {
        [
            (keys::NAME, json!(self.name)),
            (keys::ADDRESS, json!(self.address)),
            (keys::REGISTRATION_NUMBER, json!(self.registration_number)),
            (keys::DELIVERY_SLOTS, json!(self.delivery_slots)),
            (keys::PAYMENT_METHODS, json!(self.payment_methods)),
            (keys::BANK_ACCOUNT, json!(self.bank_account)),
            (keys::BANK_TRANSFER_DAYS, json!(self.bank_transfer_days)),
            (keys::PICKUP_PLACE, json!(self.pickup_place)),
            (keys::REPRESENTATIVE, json!(self.representative)),
            (keys::PHONE, json!(self.phone)),
            (keys::DELIVERY_TIME, json!(self.delivery_time)),
            (keys::RETURNS, json!(self.returns)),
            (keys::PRIVACY_PURPOSES, json!(self.privacy_purposes)),
        ]
    }

    /// The returns policy to show: the merchant's, else [`DEFAULT_RETURNS`].
    pub fn returns_or_default(&self) -> &str {
        if self.returns.trim().is_empty() {
            DEFAULT_RETURNS
        } else {
            &self.returns
        }
    }

    /// The purposes of use to show, one per line: the merchant's, else
    /// [`DEFAULT_PRIVACY_PURPOSES`].
    pub fn privacy_purposes_or_default(&self) -> Vec<&str> {
        let text = if self.privacy_purposes.trim().is_empty() {
            DEFAULT_PRIVACY_PURPOSES
        } else {
            &self.privacy_purposes
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Where store-pickup orders are collected: the pickup place set, else the shop's name and
    /// address.
    pub fn pickup_place_or_shop(&self) -> String {
        if self.pickup_place.trim().is_empty() {
            format!("{}\n{}", self.name, self.address).trim().to_owned()
        } else {
            self.pickup_place.clone()
        }
    }

    /// True when `method` is offered at checkout.
    pub fn offers(&self, method: PaymentMethod) -> bool {
        self.payment_methods.iter().any(|m| m == method.as_str())
    }
}
