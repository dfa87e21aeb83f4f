//! The mails an order's back-office steps send the customer: ご入金確認 (payment confirmed),
//! 発送 (shipped, with the tracking numbers; for store pickup 受取準備完了: where to collect it and
//! what to pay), キャンセル and
//! 返金, each in the language the customer ordered in. They are queued in the transaction of the
//! step (`Gateway::transition_order_with_mail`, `Gateway::ship_order_with_mail`); whom to write
//! to is a recorded read of the buyer's name and email (`Gateway::order_contact`).

use mamori_domain::{Language, OrderEvent, PaymentMethod, Yen};
use mamori_mail::{
    order_status::{
        cancelled, partially_refunded, payment_confirmed, ready_for_pickup, refunded, shipped,
        OrderNotice,
    },
    template::ShopInfo,
    OutgoingMail, Recipient,
};
use mamori_store::{model::OrderHeader, MailDraft};
use mamori_web::settings::ShopSettings;

use crate::{ctx::Ctx, state::BackofficeState};

/// Why a notice could not be made (the step is not taken then).
#[derive(Debug)]
pub struct NoticeFailed;

/// The mail `event` sends for the order `header`, or `None` when the step sends none (start of
/// preparation, delivery) or nobody is left to write to (an erased customer). `tracking`: the
/// tracking numbers of a shipment.
pub async fn notice(
    state: &BackofficeState,
    c: &Ctx,
    header: &OrderHeader,
    event: OrderEvent,
    tracking: &[String],
) -> Result<Option<MailDraft>, NoticeFailed> {
    let kind = match event {
        OrderEvent::PaymentConfirmed => "order-paid",
        OrderEvent::Ship => "order-shipped",
        OrderEvent::Cancel => "order-cancelled",
        OrderEvent::Refund => "order-refunded",
        _ => return Ok(None),
    };
    let Some((n, to, pickup_place)) = prepare(state, c, header).await? else {
        return Ok(None);
    };
    let total = Yen(header.total);
    let content = match event {
        OrderEvent::PaymentConfirmed => payment_confirmed(&n, total),
        OrderEvent::Ship if header.payment_method == PaymentMethod::StorePickup => {
            ready_for_pickup(&n, &pickup_place, total)
        }
        OrderEvent::Ship => shipped(&n, tracking),
        OrderEvent::Cancel => cancelled(&n, None),
        _ => {
            // A full refund pays back what earlier partial refunds left.
            let before = state
                .store
                .refunded_total(&header.id)
                .await
                .map_err(failed("refunded total"))?;
            refunded(&n, Yen(header.total.saturating_sub(before)))
        }
    };
    Ok(Some(draft(to, content, kind)))
}

/// The mail about a partial refund of `amount`, `refunded_total` refunded so far with it (see
/// [`notice`] for whom and in which language).
pub async fn partial_refund_notice(
    state: &BackofficeState,
    c: &Ctx,
    header: &OrderHeader,
    amount: Yen,
    refunded_total: Yen,
) -> Result<Option<MailDraft>, NoticeFailed> {
    let Some((n, to, _)) = prepare(state, c, header).await? else {
        return Ok(None);
    };
    let content = partially_refunded(&n, amount, refunded_total, Yen(header.total));
    Ok(Some(draft(to, content, "order-partially-refunded")))
}

fn failed(what: &'static str) -> impl Fn(mamori_store::StoreError) -> NoticeFailed {
    move |err: mamori_store::StoreError| {
        tracing::error!(what, error = %err, "order notice");
        NoticeFailed
    }
}

fn draft(to: Recipient, content: mamori_mail::MailContent, kind: &str) -> MailDraft {
    let mail = OutgoingMail::from_content(to, content).with_header("X-Mamori-Kind", kind);
    MailDraft {
        kind: kind.to_owned(),
        payload: mail.to_payload(),
    }
}

/// Whom to write to about the order (a recorded read of the buyer's name and email), in which
/// language, signed as the shop, and where pickup orders are collected; `None` for an erased
/// customer.
async fn prepare(
    state: &BackofficeState,
    c: &Ctx,
    header: &OrderHeader,
) -> Result<Option<(OrderNotice, Recipient, String)>, NoticeFailed> {
    let acc = c.accessor("backoffice.orders.mail");
    let Some((name, email)) = state
        .gateway
        .order_contact(&acc, &header.id)
        .await
        .map_err(failed("order contact"))?
    else {
        return Ok(None);
    };
    let lang = state
        .store
        .order_mail_lang(&header.id)
        .await
        .map_err(failed("order mail language"))?
        .unwrap_or(Language::Ja);
    let stored = state
        .store
        .settings_all()
        .await
        .map_err(failed("settings"))?;
    let settings = ShopSettings::from_stored(&stored, &state.config.shop_name);
    let pickup_place = settings.pickup_place_or_shop();
    let n = OrderNotice {
        shop: ShopInfo {
            name: settings.name,
            url: state.config.shop_url.clone(),
            support_email: state.config.support_email.clone(),
        },
        lang,
        customer_name: name.expose().full_name(),
        order_number: header.order_number.clone(),
    };
    let to = Recipient::new(email.expose().as_str())
        .map_err(|_| NoticeFailed)?
        .with_name(name.expose().full_name());
    Ok(Some((n, to, pickup_place)))
}
