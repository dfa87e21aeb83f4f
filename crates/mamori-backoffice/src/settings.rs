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
use mamori_domain::{PaymentMethod, RegistrationNumber};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{ctx::Ctx, fail, stafflog, state::BackofficeState};

pub use mamori_store::settings::{keys, ShopSettings};

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
