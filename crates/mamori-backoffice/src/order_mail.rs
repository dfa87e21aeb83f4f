//! The mails an order's back-office steps send the customer: ご入金確認 (payment confirmed),
//! 発送 (shipped, with the tracking numbers; for store pickup 受取準備完了: where to collect it and
//! what to pay), キャンセル and
//! 返金, each in the language the customer ordered in. They are queued in the transaction of the
//! step (`Gateway::transition_order_with_mail`, `Gateway::ship_order_with_mail`); whom to write
//! to is a recorded read of the buyer's name and email (`Gateway::order_contact`).

use mamori_domain::{Language, OrderEvent, PaymentMethod, Yen};
use mamori_mail::{
    order_status::{
        cancelled, payment_confirmed, ready_for_pickup, refunded, shipped, OrderNotice,
    },
    template::ShopInfo,
    OutgoingMail, Recipient,
};
use mamori_store::{model::OrderHeader, settings::ShopSettings, MailDraft};

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
    let failed = |what: &'static str| {
        move |err: mamori_store::StoreError| {
            tracing::error!(what, error = %err, "order notice");
            NoticeFailed
        }
    };
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
    let total = Yen(header.total);
    let content = match event {
        OrderEvent::PaymentConfirmed => payment_confirmed(&n, total),
        OrderEvent::Ship if header.payment_method == PaymentMethod::StorePickup => {
            ready_for_pickup(&n, &pickup_place, total)
        }
        OrderEvent::Ship => shipped(&n, tracking),
        OrderEvent::Cancel => cancelled(&n, None),
        _ => refunded(&n, total),
    };
    let to = Recipient::new(email.expose().as_str())
        .map_err(|_| NoticeFailed)?
        .with_name(name.expose().full_name());
    let mail = OutgoingMail::from_content(to, content).with_header("X-Mamori-Kind", kind);
    Ok(Some(MailDraft {
        kind: kind.to_owned(),
        payload: mail.to_payload(),
    }))
}
