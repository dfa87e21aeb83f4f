//! The shop's mail: drafts sealed into the outbox in the same transaction as the change that
//! causes them (the outbox as the mail worker sees it is `mamori_store::gateway::SqlOutbox`).
//!
//! A queued mail is personal data (it names the customer, often their address), so the gateway
//! seals it with the customer's data key: withdrawing erases queued mail too, and the worker's read
//! of each mail is an access event on the ledger like any other.

use chrono::{DateTime, NaiveDate, Utc};
use http::{header, HeaderMap};
use mamori_domain::{Address, DeliverySlot, Language, OrderItem, PaymentMethod};
use mamori_mail::{
    account::{browser_summary, ChangeContext},
    template::{
        date_en, date_ja, order_confirmation, BankTransfer, DeliveryInfo, OrderConfirmation,
        OrderLine,
    },
    MailContent, OutgoingMail, Recipient,
};
use mamori_store::gateway::{
    noshi_text, personalisation_text, Buyer, MailDraft, NewShipment, OrderView,
};
use mamori_web::{errors::AppError, i18n::Lang, settings::ShopSettings};

use crate::{
    checkout::{items_by_delivery, stored_quote, Quote},
    fail,
    state::{to_jst, ShopConfig},
};

/// Makes a draft of `content` to `to` for the outbox, tagged with `kind` (`order-confirmation`,
/// `password-changed`, ...). Fails only when the address cannot be a mail recipient.
pub fn draft(
    kind: &str,
    to: &str,
    name: Option<&str>,
    content: MailContent,
) -> Result<MailDraft, mamori_mail::ComposeError> {
    let mut rcpt = Recipient::new(to)?;
    if let Some(n) = name {
        rcpt = rcpt.with_name(n);
    }
    let mail = OutgoingMail::from_content(rcpt, content).with_header("X-Mamori-Kind", kind);
    Ok(MailDraft {
        kind: kind.to_owned(),
        payload: mail.to_payload(),
    })
}

/// The language of the mail to a customer who uses the shop in `lang`.
pub fn mail_lang(lang: Lang) -> Language {
    match lang {
        Lang::Ja => Language::Ja,
        Lang::En => Language::En,
    }
}

/// An address on one line without its postal code (the mail prints `〒` and the code on a line
/// of their own): `東京都千代田区千代田1-1 パークハイツ101`.
fn address_line(a: &Address) -> String {
    let mut s = format!("{}{}{}", a.prefecture().label_ja(), a.city(), a.line1());
    if let Some(l2) = a.line2() {
        s.push(' ');
        s.push_str(l2);
    }
    s
}

/// An order as its confirmation mail needs it.
#[derive(Debug)]
pub struct Confirmation<'a> {
    /// Order number.
    pub number: &'a str,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// The customer's language.
    pub lang: Language,
    /// The buyer.
    pub buyer: &'a Buyer,
    /// Lines.
    pub items: &'a [OrderItem],
    /// Deliveries.
    pub shipments: &'a [NewShipment],
    /// The delivery (1-based) of each line.
    pub item_shipments: &'a [i64],
    /// How it is paid.
    pub method: PaymentMethod,
    /// Amounts, as charged.
    pub quote: &'a Quote,
}

/// The confirmation mail of an order, in the customer's language, for the outbox: 名入れ and
/// のし under their line, the 代引き fee apart from shipping, the bank account and the deadline
/// of a bank transfer (from the shop's settings, else the configuration), and for store pickup
/// the store instead of the delivery address.
pub fn confirmation_draft(
    config: &ShopConfig,
    settings: &ShopSettings,
    o: &Confirmation<'_>,
) -> Result<MailDraft, AppError> {
    let per_delivery = items_by_delivery(o.items, o.item_shipments, o.shipments.len());
    let deliveries = o
        .shipments
        .iter()
        .zip(per_delivery)
        .map(|(shipment, items)| {
            let r = &shipment.recipient;
            let a = r.address.expose();
            DeliveryInfo {
                recipient_name: r.name.expose().full_name(),
                postal_code: a.postal_code().to_string(),
                address: address_line(a),
                date_ja: shipment.delivery_date.map(date_ja),
                date_en: shipment.delivery_date.map(date_en),
                slot_ja: shipment.slot.label_ja().to_owned(),
                slot_en: shipment.slot.label_en().to_owned(),
                items,
            }
        })
        .collect();
    let ordered_at = to_jst(o.placed_at);
    let bank_transfer = (o.method == PaymentMethod::BankTransfer).then(|| BankTransfer {
        account: if settings.bank_account.trim().is_empty() {
            config.bank_account.clone()
        } else {
            settings.bank_account.clone()
        },
        deadline: ordered_at.date_naive()
            + chrono::Days::new(u64::from(settings.bank_transfer_days)),
    });
    let pickup_at = (o.method == PaymentMethod::StorePickup).then(|| {
        if settings.address.trim().is_empty() {
            settings.name.clone()
        } else {
            format!("{}\n{}", settings.name, settings.address)
        }
    });
    let content = order_confirmation(&OrderConfirmation {
        shop: config.mail_shop(),
        lang: o.lang,
        order_number: o.number.to_owned(),
        ordered_at,
        customer_name: o.buyer.name.expose().full_name(),
        lines: o
            .items
            .iter()
            .map(|i| OrderLine {
                name: i.product_name.clone(),
                quantity: i.quantity,
                unit_price_incl: i.unit_price_incl,
                rate: i.rate,
                personalisation: i.personalisation.as_ref().map(personalisation_text),
                noshi: i.noshi.as_ref().map(noshi_text),
            })
            .collect(),
        shipping_fee: o.quote.shipping,
        cod_fee: o.quote.fee,
        totals: o.quote.totals.clone(),
        method: o.method,
        bank_transfer,
        pickup_at,
        deliveries,
    })
    .map_err(|_| AppError::BadRequest)?;
    draft(
        "order-confirmation",
        o.buyer.email.expose().as_str(),
        Some(&o.buyer.name.expose().full_name()),
        content,
    )
    .map_err(fail("order mail"))
}

/// The confirmation mail of a stored order (for card orders, made when the payment is
/// confirmed), in `lang`.
pub fn confirmation_from_view(
    config: &ShopConfig,
    settings: &ShopSettings,
    v: &OrderView,
    lang: Language,
) -> Result<MailDraft, AppError> {
    let (method, q) = stored_quote(v)?;
    if v.shipments.is_empty() {
        return Err(AppError::Internal);
    }
    let shipments: Vec<NewShipment> = v
        .shipments
        .iter()
        .map(|s| NewShipment {
            recipient: s.recipient.clone(),
            delivery_date: s
                .delivery_date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            slot: DeliverySlot::parse(&s.slot).unwrap_or(DeliverySlot::Unspecified),
        })
        .collect();
    let placed_at = DateTime::from_timestamp_micros(v.header.placed_at).unwrap_or_else(Utc::now);
    confirmation_draft(
        config,
        settings,
        &Confirmation {
            number: &v.header.order_number,
            placed_at,
            lang,
            buyer: &v.buyer,
            items: &v.items,
            shipments: &shipments,
            item_shipments: &v.item_shipments,
            method,
            quote: &q,
        },
    )
}

/// When and from where a change was made, for the notice mail: JST time, the client's address and
/// a short browser description (never the raw `User-Agent`).
pub fn change_context(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> ChangeContext {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ChangeContext {
        at: to_jst(Utc::now()),
        ip: ip.map_or_else(|| "-".to_owned(), |i| i.to_string()),
        browser: browser_summary(ua),
    }
}
