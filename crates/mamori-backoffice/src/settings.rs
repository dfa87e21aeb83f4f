//! Shop settings: name, address, invoice registration number (`T` + 13 digits with its check
//! digit), delivery time slots on or off, payment methods on or off. Stored in `shop_settings`
//! as JSON values under the keys of [`keys`]; every change goes to the staff log with the keys
//! changed and their new values (shop data, nothing personal).

use std::sync::Arc;

use askama::Template;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use mamori_domain::{
    CodFees, PaymentMethod, Region, RegistrationNumber, ShippingRates, Yen, MAX_SHIPPING_RATE,
};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{ctx::Ctx, fail, stafflog, state::BackofficeState};

pub use mamori_web::settings::{keys, ShopSettings};

/// A payment method's checkbox.
#[derive(Debug, Clone)]
pub struct MethodBox {
    /// Code.
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
    /// On.
    pub on: bool,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct Page {
    c: Ctx,
    s: ShopSettings,
    methods: Vec<MethodBox>,
    problems: Vec<&'static str>,
}

fn page(c: Ctx, s: ShopSettings, problems: Vec<&'static str>) -> Response {
    let methods = PaymentMethod::ALL
        .iter()
        .map(|m| MethodBox {
            code: m.as_str(),
            label: c.t(m.label_ja(), m.label_en()),
            on: s.offers(*m),
        })
        .collect();
    render(&Page {
        c,
        s,
        methods,
        problems,
    })
}

async fn current(state: &BackofficeState) -> Result<ShopSettings, AppError> {
    let stored = state.store.settings_all().await.map_err(fail("settings"))?;
    Ok(ShopSettings::from_stored(&stored, &state.config.shop_name))
}

/// `GET /settings`.
pub async fn show(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    let s = current(&state).await?;
    Ok(page(c, s, Vec::new()))
}

/// `POST /settings` form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsForm {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Registration number.
    pub registration_number: String,
    /// Delivery slots on.
    pub delivery_slots: Option<String>,
    /// Card on.
    pub pm_card: Option<String>,
    /// Cash on delivery on.
    pub pm_cash_on_delivery: Option<String>,
    /// Bank transfer on.
    pub pm_bank_transfer: Option<String>,
    /// Store pickup on.
    pub pm_store_pickup: Option<String>,
    /// Bank account for transfers (absent: unchanged).
    pub bank_account: Option<String>,
    /// Days to pay a bank transfer (absent: unchanged).
    pub bank_transfer_days: Option<String>,
    /// Where pickup orders are collected (absent: unchanged).
    pub pickup_place: Option<String>,
    /// 運営統括責任者 (absent: unchanged).
    pub representative: Option<String>,
    /// Phone on the legal page (absent: unchanged).
    pub phone: Option<String>,
    /// 商品の引渡時期 (absent: unchanged).
    pub delivery_time: Option<String>,
    /// 返品・交換 (absent: unchanged).
    pub returns: Option<String>,
    /// 個人情報の利用目的 (absent: unchanged).
    pub privacy_purposes: Option<String>,
}

/// A text area's value with Windows line ends made `\n`, or the stored one when the field was
/// not sent.
fn multiline(sent: Option<&str>, stored: &str) -> String {
    sent.map_or_else(|| stored.to_owned(), |a| a.trim().replace("\r\n", "\n"))
}

/// At most 300 characters and no control character but new lines.
fn fits(text: &str) -> bool {
    text.chars().count() <= 300 && !text.chars().any(|ch| ch.is_control() && ch != '\n')
}

/// `POST /settings`: checks everything, then writes the keys that changed (nothing when any
/// field is wrong).
pub async fn save(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<SettingsForm>,
) -> Result<Response, AppError> {
    let before = current(&state).await?;
    let mut problems = Vec::new();
    let name = f.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        problems.push(c.t(
            "ショップ名を100文字以内で入力してください。",
            "Please enter the shop name (up to 100 characters).",
        ));
    }
    let address = f.address.trim().replace("\r\n", "\n");
    if address.chars().count() > 300 {
        problems.push(c.t(
            "住所は300文字以内で入力してください。",
            "The address is up to 300 characters.",
        ));
    }
    let registration_number = match RegistrationNumber::parse(&f.registration_number) {
        Ok(n) => n.to_string(),
        Err(e) => {
            problems.push(c.t(e.message_ja(), e.message_en()));
            f.registration_number.trim().to_owned()
        }
    };
    let chosen = [
        (PaymentMethod::Card, &f.pm_card),
        (PaymentMethod::CashOnDelivery, &f.pm_cash_on_delivery),
        (PaymentMethod::BankTransfer, &f.pm_bank_transfer),
        (PaymentMethod::StorePickup, &f.pm_store_pickup),
    ];
    let payment_methods: Vec<String> = chosen
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(m, _)| m.as_str().to_owned())
        .collect();
    if payment_methods.is_empty() {
        problems.push(c.t(
            "支払方法を1つ以上選んでください。",
            "Please keep at least one payment method.",
        ));
    }
    let bank_account = multiline(f.bank_account.as_deref(), &before.bank_account);
    if !fits(&bank_account) {
        problems.push(c.t(
            "振込先は300文字以内で入力してください。",
            "The bank account is up to 300 characters.",
        ));
    }
    let pickup_place = multiline(f.pickup_place.as_deref(), &before.pickup_place);
    if !fits(&pickup_place) {
        problems.push(c.t(
            "店頭受け取りの店舗は300文字以内で入力してください。",
            "The pickup store is up to 300 characters.",
        ));
    }
    let representative = multiline(f.representative.as_deref(), &before.representative);
    let phone = multiline(f.phone.as_deref(), &before.phone);
    let delivery_time = multiline(f.delivery_time.as_deref(), &before.delivery_time);
    let returns = multiline(f.returns.as_deref(), &before.returns);
    let privacy_purposes = multiline(f.privacy_purposes.as_deref(), &before.privacy_purposes);
    if ![&representative, &phone, &delivery_time, &returns]
        .iter()
        .all(|t| fits(t))
        || privacy_purposes.chars().count() > 2000
        || !fits(&privacy_purposes.replace('\n', ""))
    {
        problems.push(c.t(
            "特定商取引法・個人情報の項目は各300文字以内（利用目的は2,000文字以内）で入力してください。",
            "The legal and privacy entries are up to 300 characters each (purposes up to 2,000).",
        ));
    }
    let bank_transfer_days = match f.bank_transfer_days.as_deref().map(str::trim) {
        None => before.bank_transfer_days,
        Some(d) => match d.parse::<u32>() {
            Ok(n) if (1..=60).contains(&n) => n,
            _ => {
                problems.push(c.t(
                    "お支払い期限は1〜60日で入力してください。",
                    "The days to pay are 1 to 60.",
                ));
                before.bank_transfer_days
            }
        },
    };
    let after = ShopSettings {
        name,
        address,
        registration_number,
        delivery_slots: f.delivery_slots.is_some(),
        payment_methods,
        bank_account,
        bank_transfer_days,
        pickup_place,
        representative,
        phone,
        delivery_time,
        returns,
        privacy_purposes,
        shipping: before.shipping.clone(),
        cod_fees: before.cod_fees.clone(),
    };
    if !problems.is_empty() {
        return Ok(page(c, after, problems));
    }
    let now = state.now();
    let mut changed = serde_json::Map::new();
    for ((key, new), (_, old)) in after.values().into_iter().zip(before.values()) {
        if new != old {
            state
                .store
                .settings_put(key, &new.to_string(), now, Some(c.staff_id()))
                .await
                .map_err(fail("settings put"))?;
            changed.insert(key.to_owned(), new);
        }
    }
    if changed.is_empty() {
        c.flash_next(c.t("変更はありませんでした。", "Nothing changed."));
    } else {
        stafflog::record(
            &state,
            &c,
            None,
            "settings.update",
            "shop_settings",
            Value::Object(changed),
        )
        .await?;
        c.flash_next(c.t("設定を保存しました。", "The settings were saved."));
    }
    Ok(Redirect::to("/settings").into_response())
}

/// One rate field of the shipping page: its form name, label and current value (empty: not set,
/// the wider rate applies).
#[derive(Debug, Clone)]
pub struct RateField {
    /// Form field name (`region_kanto`, `pref_13`).
    pub name: String,
    /// Label in the page's language.
    pub label: String,
    /// Current value (digits) or empty.
    pub value: String,
}

/// A region with its prefectures, for the shipping page.
#[derive(Debug, Clone)]
pub struct RegionRates {
    /// The region's own rate.
    pub region: RateField,
    /// Its prefectures' rates.
    pub prefectures: Vec<RateField>,
}

/// Rows of the 代引き fee table on the page (empty rows are left out when saved).
pub const COD_ROWS: usize = 6;

#[derive(Template)]
#[template(path = "settings_shipping.html")]
struct ShippingPage {
    c: Ctx,
    base: String,
    free_from: String,
    regions: Vec<RegionRates>,
    /// (upper bound, fee) per row.
    cod: Vec<(String, String)>,
    cod_top: String,
    problems: Vec<&'static str>,
}

/// The form's values as typed (or as stored), keyed by field name.
type Fields = std::collections::BTreeMap<String, String>;

/// The stored (or default) rates and fees as form values.
fn shipping_fields(rates: &ShippingRates, cod: &CodFees) -> Fields {
    let mut f = Fields::new();
    f.insert("base".into(), rates.base.0.to_string());
    f.insert(
        "free_from".into(),
        rates.free_from.map(|y| y.0.to_string()).unwrap_or_default(),
    );
    for (r, y) in &rates.regions {
        f.insert(format!("region_{}", r.as_str()), y.0.to_string());
    }
    for (p, y) in &rates.prefectures {
        f.insert(format!("pref_{}", p.code()), y.0.to_string());
    }
    for (i, (limit, fee)) in cod.bands.iter().enumerate() {
        f.insert(format!("cod_limit_{i}"), limit.0.to_string());
        f.insert(format!("cod_fee_{i}"), fee.0.to_string());
    }
    f.insert("cod_top".into(), cod.top.0.to_string());
    f
}

fn shipping_page(c: Ctx, f: &Fields, problems: Vec<&'static str>) -> Response {
    let v = |k: &str| f.get(k).cloned().unwrap_or_default();
    let regions = Region::ALL
        .iter()
        .map(|r| RegionRates {
            region: RateField {
                name: format!("region_{}", r.as_str()),
                label: c.t(r.label_ja(), r.label_en()).to_owned(),
                value: v(&format!("region_{}", r.as_str())),
            },
            prefectures: r
                .prefectures()
                .map(|p| RateField {
                    name: format!("pref_{}", p.code()),
                    label: c.t(p.label_ja(), p.label_en()).to_owned(),
                    value: v(&format!("pref_{}", p.code())),
                })
                .collect(),
        })
        .collect();
    let cod = (0..COD_ROWS)
        .map(|i| (v(&format!("cod_limit_{i}")), v(&format!("cod_fee_{i}"))))
        .collect();
    render(&ShippingPage {
        base: v("base"),
        free_from: v("free_from"),
        cod_top: v("cod_top"),
        regions,
        cod,
        problems,
        c,
    })
}

/// `GET /settings/shipping`: shipping rates per region and prefecture, the free-shipping
/// threshold and the 代引き fee table (the configuration's flat fee and the standard table until
/// set).
pub async fn shipping_show(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
) -> Result<Response, AppError> {
    let s = current(&state).await?;
    let rates = s.shipping_rates(state.config.shipping_fee, state.config.free_shipping_from);
    let f = shipping_fields(&rates, &s.cod_fees_or_default());
    Ok(shipping_page(c, &f, Vec::new()))
}

/// A yen amount typed on the page: digits (full-width too), commas and a trailing 円 allowed;
/// `None` when empty, `Err` when not an amount within `0..=`[`MAX_SHIPPING_RATE`].
fn amount(raw: &str) -> Result<Option<Yen>, ()> {
    let digits: String = mamori_domain::normalize_input(raw)
        .chars()
        .filter(|ch| !matches!(ch, ',' | '円' | ' '))
        .collect();
    if digits.is_empty() {
        return Ok(None);
    }
    if digits.len() > 7 || !digits.chars().all(|ch| ch.is_ascii_digit()) {
        return Err(());
    }
    let n: i64 = digits.parse().map_err(|_| ())?;
    Ok(Some(Yen(n)))
}

/// `POST /settings/shipping`: checks every amount, then writes the rates and the fee table
/// (when changed) and records the change in the staff log. A change applies to orders placed
/// from then on: an order keeps the shipping and fee it was charged.
pub async fn shipping_save(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(f): SafeForm<Fields>,
) -> Result<Response, AppError> {
    let before = current(&state).await?;
    let mut problems = Vec::new();
    let mut bad = false;
    let mut get = |k: &str, limit: Yen| match amount(f.get(k).map_or("", String::as_str)) {
        Ok(Some(y)) if y <= limit => Some(y),
        Ok(Some(_)) | Err(()) => {
            bad = true;
            None
        }
        Ok(None) => None,
    };
    let base = get("base", MAX_SHIPPING_RATE);
    let free_from = get("free_from", Yen(100_000_000));
    let mut rates = ShippingRates::flat(base.unwrap_or(Yen::ZERO), free_from);
    for r in Region::ALL {
        if let Some(y) = get(&format!("region_{}", r.as_str()), MAX_SHIPPING_RATE) {
            rates.regions.insert(r, y);
        }
    }
    for p in mamori_domain::Prefecture::ALL {
        if let Some(y) = get(&format!("pref_{}", p.code()), MAX_SHIPPING_RATE) {
            rates.prefectures.insert(p, y);
        }
    }
    let mut bands = Vec::new();
    let mut half_row = false;
    for i in 0..COD_ROWS {
        let limit = get(
            &format!("cod_limit_{i}"),
            Yen(mamori_domain::COD_MAX_TOTAL.0 + 1),
        );
        let fee = get(&format!("cod_fee_{i}"), MAX_SHIPPING_RATE);
        match (limit, fee) {
            (Some(l), Some(y)) => bands.push((l, y)),
            (None, None) => {}
            _ => half_row = true,
        }
    }
    let top = get("cod_top", MAX_SHIPPING_RATE);
    if bad {
        problems.push(c.t(
            "金額は0〜100,000円の半角数字で入力してください（送料無料の金額は空欄可）。",
            "Amounts are whole yen from 0 to 100,000 (the free-shipping amount may be empty).",
        ));
    }
    if base.is_none() {
        problems.push(c.t(
            "基本送料を入力してください。",
            "Please enter the base shipping rate.",
        ));
    }
    let cod = CodFees {
        bands,
        top: top.unwrap_or(Yen::ZERO),
    };
    if half_row || top.is_none() || !cod.is_valid() {
        problems.push(c.t(
            "代引き手数料は「合計金額（未満）」と「手数料」を組にして、金額の小さい順に入力してください。それ以上の手数料も必須です。",
            "Enter each cash-on-delivery band as a limit and a fee, by rising limit, and the fee above them.",
        ));
    }
    if !problems.is_empty() || !rates.is_valid() {
        return Ok(shipping_page(c, &f, problems));
    }
    let now = state.now();
    let mut changed = serde_json::Map::new();
    let old_rates =
        before.shipping_rates(state.config.shipping_fee, state.config.free_shipping_from);
    let stored_rates = before.shipping.is_some();
    if rates != old_rates || !stored_rates {
        let v = serde_json::to_value(&rates).map_err(|_| AppError::Internal)?;
        state
            .store
            .settings_put(
                keys::SHIPPING_RATES,
                &v.to_string(),
                now,
                Some(c.staff_id()),
            )
            .await
            .map_err(fail("settings put"))?;
        if rates != old_rates {
            changed.insert(keys::SHIPPING_RATES.to_owned(), v);
        }
    }
    if cod != before.cod_fees_or_default() || before.cod_fees.is_none() {
        let v = serde_json::to_value(&cod).map_err(|_| AppError::Internal)?;
        state
            .store
            .settings_put(keys::COD_FEES, &v.to_string(), now, Some(c.staff_id()))
            .await
            .map_err(fail("settings put"))?;
        if cod != before.cod_fees_or_default() {
            changed.insert(keys::COD_FEES.to_owned(), v);
        }
    }
    if changed.is_empty() {
        c.flash_next(c.t("変更はありませんでした。", "Nothing changed."));
    } else {
        stafflog::record(
            &state,
            &c,
            None,
            "settings.shipping",
            "shop_settings",
            Value::Object(changed),
        )
        .await?;
        c.flash_next(c.t(
            "送料・代引き手数料を保存しました。これからのご注文に適用されます。",
            "Shipping and fees were saved; they apply to orders from now on.",
        ));
    }
    Ok(Redirect::to("/settings/shipping").into_response())
}
