//! Mail about an order's later steps, sent when the back office records them: ご入金確認,
//! 発送のお知らせ (with the carrier's tracking numbers), 受取準備完了 (store pickup: where and what to pay),
//! ご注文キャンセル and ご返金. Like the order confirmation, each is written in ONE language, the
//! customer's (the one they ordered in).

use std::fmt::Write as _;

use mamori_domain::{Language, Yen};

use crate::{
    account::label,
    message::MailContent,
    template::{ShopInfo, Writer},
};

/// Who and which order a notice is about.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderNotice {
    /// The shop.
    pub shop: ShopInfo,
    /// The customer's language.
    pub lang: Language,
    /// Customer name for the salutation.
    pub customer_name: String,
    /// Order number.
    pub order_number: String,
}

impl std::fmt::Debug for OrderNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderNotice")
            .field("order_number", &self.order_number)
            .finish_non_exhaustive()
    }
}

fn start(n: &OrderNotice) -> Writer {
    let mut w = Writer::new(n.lang);
    w.salutation(&n.customer_name);
    w
}

fn number_line(w: &mut Writer, n: &OrderNotice) {
    let number = label(&n.order_number);
    let tag = w.pick("注文番号：", "Order number: ");
    let _ = writeln!(w.text, "{tag}{number}");
}

fn finish(mut w: Writer, n: &OrderNotice, ja: &str, en: &str) -> MailContent {
    w.text.push('\n');
    w.footer(&n.shop);
    MailContent {
        subject: w.subject(&n.shop, ja, en, &n.order_number),
        text: w.text,
        html: None,
    }
}

/// ご入金確認のお知らせ: the payment (bank transfer and the like) has arrived.
#[must_use]
pub fn payment_confirmed(n: &OrderNotice, amount: Yen) -> MailContent {
    let mut w = start(n);
    w.put(
        "下記のご注文について、ご入金を確認いたしました。ありがとうございます。\n\
         商品の発送準備が整いしだい、あらためてご連絡いたします。\n\n",
        "We have received your payment for the order below. Thank you.\n\
         We will write again when it ships.\n\n",
    );
    number_line(&mut w, n);
    let amount = w.yen(amount);
    let tag = w.pick("ご入金額：", "Amount received: ");
    let _ = writeln!(w.text, "{tag}{amount}");
    finish(w, n, "ご入金を確認しました", "Payment received")
}

/// 発送のお知らせ with the carrier's tracking numbers (one per parcel).
#[must_use]
pub fn shipped(n: &OrderNotice, tracking_numbers: &[String]) -> MailContent {
    let mut w = start(n);
    w.put(
        "ご注文の商品を発送いたしました。\n\n",
        "Your order has shipped.\n\n",
    );
    number_line(&mut w, n);
    for t in tracking_numbers.iter().map(|t| label(t)) {
        let tag = w.pick("お問い合わせ伝票番号：", "Tracking number: ");
        let _ = writeln!(w.text, "{tag}{t}");
    }
    w.put(
        "\n配送状況は、配送業者のウェブサイトで伝票番号から確認できます。\n",
        "\nYou can follow the parcel on the carrier's website with the tracking number.\n",
    );
    finish(w, n, "商品を発送しました", "Your order has shipped")
}

/// 受取準備完了のお知らせ for a store-pickup order: where to collect it (`place`: the store's
/// name, address and hours, as the settings give them) and what to pay at the counter.
#[must_use]
pub fn ready_for_pickup(n: &OrderNotice, place: &str, to_pay: Yen) -> MailContent {
    let mut w = start(n);
    w.put(
        "ご注文の商品のご用意ができました。下記の店舗でお受け取りください。\n\n",
        "Your order is ready. Please collect it at the store below.\n\n",
    );
    number_line(&mut w, n);
    let amount = w.yen(to_pay);
    let tag = w.pick("お受け取り時のお支払い：", "To pay when you collect it: ");
    let _ = writeln!(w.text, "{tag}{amount}");
    w.put("\n【お受け取り店舗】\n", "\nPickup store:\n");
    for line in place.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let _ = writeln!(w.text, "{}", label(line));
    }
    w.put(
        "\nお受け取りの際は、注文番号をお知らせください。\n",
        "\nPlease give your order number at the counter.\n",
    );
    finish(
        w,
        n,
        "商品のご用意ができました",
        "Your order is ready to collect",
    )
}

/// ご注文キャンセルのお知らせ. `refunded`: what was paid back; `None` when nothing had been
/// charged.
#[must_use]
pub fn cancelled(n: &OrderNotice, refunded: Option<Yen>) -> MailContent {
    let mut w = start(n);
    w.put(
        "下記のご注文をキャンセルいたしました。\n\n",
        "The order below has been cancelled.\n\n",
    );
    number_line(&mut w, n);
    match refunded {
        Some(amount) => refund_lines(&mut w, amount),
        None => {
            w.put(
                "このご注文へのご請求はありません。\n",
                "You will not be charged for this order.\n",
            );
        }
    }
    finish(
        w,
        n,
        "ご注文をキャンセルしました",
        "Your order has been cancelled",
    )
}

fn refund_lines(w: &mut Writer, amount: Yen) {
    let amount = w.yen(amount);
    let tag = w.pick("ご返金額：", "Refund: ");
    let _ = writeln!(w.text, "{tag}{amount}");
    w.put(
        "※返金がお客様の口座やカードのご利用明細に反映されるまでの期間は、\n\
         \u{3000}お支払い方法やカード会社によって異なります。\n",
        "When the refund shows on your statement depends on the payment method and\n\
         your card issuer.\n",
    );
}

/// 一部ご返金のお知らせ: part of the order was refunded (`amount`), `refunded_total` so far of
/// the order's `total`.
#[must_use]
pub fn partially_refunded(
    n: &OrderNotice,
    amount: Yen,
    refunded_total: Yen,
    total: Yen,
) -> MailContent {
    let mut w = start(n);
    w.put(
        "下記のご注文について、ご注文金額の一部をご返金する手続きをいたしました。\n\n",
        "We have refunded part of the order below.\n\n",
    );
    number_line(&mut w, n);
    let total = w.yen(total);
    let tag = w.pick("ご注文金額：", "Order total: ");
    let _ = writeln!(w.text, "{tag}{total}");
    let so_far = w.yen(refunded_total);
    let tag = w.pick("ご返金額の累計：", "Refunded so far: ");
    let _ = writeln!(w.text, "{tag}{so_far}");
    refund_lines(&mut w, amount);
    finish(
        w,
        n,
        "ご注文金額の一部を返金しました",
        "Part of your order has been refunded",
    )
}

/// ご返金のお知らせ: the order was refunded in full.
#[must_use]
pub fn refunded(n: &OrderNotice, amount: Yen) -> MailContent {
    let mut w = start(n);
    w.put(
        "下記のご注文について、ご返金の手続きをいたしました。\n\n",
        "We have refunded the order below.\n\n",
    );
    number_line(&mut w, n);
    refund_lines(&mut w, amount);
    finish(
        w,
        n,
        "ご返金の手続きをしました",
        "Your order has been refunded",
    )
}
