//! Mail templates: plain data in, [`MailContent`] out. Japanese first, English below, in one
//! plain-text body (the reader's client shows the part it can; nobody has to pick a language).
//!
//! The templates compute nothing about money: the totals per tax rate come from the order (see
//! `mamori_domain::invoice_totals`), so the mail shows exactly what the shop charged.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};
use mamori_domain::{AmountOverflow, InvoiceTotals, TaxRate, Yen, REDUCED_RATE_NOTE_JA};

use crate::{
    account::{en_date, ja_date},
    message::MailContent,
};

/// The shop as it signs its mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopInfo {
    /// Shop name (`守り商店`).
    pub name: String,
    /// Shop URL (`https://shop.example.jp/`).
    pub url: String,
    /// Where customers write to.
    pub support_email: String,
}

/// One ordered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Product name as shown at checkout.
    pub name: String,
    /// Quantity.
    pub quantity: u32,
    /// Tax-included unit price.
    pub unit_price_incl: Yen,
    /// Tax rate (reduced-rate items are marked `※`).
    pub rate: TaxRate,
}

/// Where and when the order goes. Personal data: it only ever lives inside the mail body.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// Recipient name (`山田 太郎`).
    pub recipient_name: String,
    /// Postal code (`100-0001`).
    pub postal_code: String,
    /// Address in one line, prefecture first.
    pub address: String,
    /// Requested date, Japanese (`2025年12月1日（月）`), or `None` for the earliest.
    pub date_ja: Option<String>,
    /// Requested date, English.
    pub date_en: Option<String>,
    /// Time slot, Japanese (`午前中`).
    pub slot_ja: String,
    /// Time slot, English (`Morning`).
    pub slot_en: String,
    /// What goes to this address (`名入れタオル × 1`), listed when an order has several
    /// deliveries; empty lists nothing.
    pub items: Vec<String>,
}

impl std::fmt::Debug for DeliveryInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryInfo([redacted])")
    }
}

/// Everything the order confirmation says.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderConfirmation {
    /// The shop.
    pub shop: ShopInfo,
    /// Order number as the customer sees it.
    pub order_number: String,
    /// When the order was placed (shown in its own offset, JST for a Japanese shop).
    pub ordered_at: DateTime<FixedOffset>,
    /// Customer name for the salutation (`山田 太郎`).
    pub customer_name: String,
    /// Items.
    pub lines: Vec<OrderLine>,
    /// Shipping fee, tax included (standard rate).
    pub shipping_fee: Yen,
    /// Totals per tax rate, as charged (items and shipping).
    pub totals: InvoiceTotals,
    /// Payment method, Japanese (`クレジットカード`).
    pub payment_ja: String,
    /// Payment method, English.
    pub payment_en: String,
    /// Deliveries (one or more; an order may send lines to different addresses).
    pub deliveries: Vec<DeliveryInfo>,
}

impl std::fmt::Debug for OrderConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderConfirmation")
            .field("order_number", &self.order_number)
            .field("lines", &self.lines.len())
            .finish_non_exhaustive()
    }
}

/// `¥1,100` for the English part.
pub(crate) fn yen_en(y: Yen) -> String {
    if y.value() < 0 {
        format!("-¥{}", Yen(-y.value()).format_grouped())
    } else {
        format!("¥{}", y.format_grouped())
    }
}

/// The order confirmation (ご注文確認) mail. Fails only if a line total overflows.
pub fn order_confirmation(o: &OrderConfirmation) -> Result<MailContent, AmountOverflow> {
    let subject = format!(
        "【{}】ご注文ありがとうございます（注文番号 {}）/ Order confirmation",
        o.shop.name, o.order_number
    );
    let mut line_totals = Vec::with_capacity(o.lines.len());
    for line in &o.lines {
        line_totals.push(line.unit_price_incl.checked_mul_qty(line.quantity)?);
    }
    let any_reduced = o.lines.iter().any(|l| l.rate == TaxRate::Reduced);
    let several = o.deliveries.len() > 1;

    // `write!` into a String cannot fail; the results are ignored on purpose.
    let mut t = String::new();
    let _ = writeln!(t, "{} 様", o.customer_name);
    t.push('\n');
    let _ = writeln!(
        t,
        "このたびは{}をご利用いただき、誠にありがとうございます。",
        o.shop.name
    );
    t.push_str("以下の内容でご注文を承りました。\n\n");
    t.push_str("■ご注文内容\n");
    let _ = writeln!(t, "注文番号：{}", o.order_number);
    let _ = writeln!(t, "ご注文日時：{}", ja_date(&o.ordered_at));
    t.push('\n');
    for (line, total) in o.lines.iter().zip(&line_totals) {
        let _ = writeln!(t, "{}{}", line.name, line.rate.reduced_mark());
        let _ = writeln!(
            t,
            "　{} × {} ＝ {}",
            line.unit_price_incl, line.quantity, total
        );
    }
    if any_reduced {
        let _ = writeln!(t, "{REDUCED_RATE_NOTE_JA}");
    }
    t.push('\n');
    let _ = writeln!(t, "送料：{}", o.shipping_fee);
    for rt in &o.totals.per_rate {
        let _ = writeln!(
            t,
            "{}対象：{}（内消費税 {}）",
            rt.rate.label_ja(),
            rt.amount_incl,
            rt.tax
        );
    }
    let _ = writeln!(
        t,
        "お支払い合計：{}（内消費税 {}）",
        o.totals.total_incl, o.totals.total_tax
    );
    let _ = writeln!(t, "お支払い方法：{}", o.payment_ja);
    t.push('\n');
    for (n, d) in o.deliveries.iter().enumerate() {
        if several {
            let _ = writeln!(t, "■お届け先{}（全{}件）", n + 1, o.deliveries.len());
        } else {
            t.push_str("■お届け先\n");
        }
        let _ = writeln!(t, "{} 様", d.recipient_name);
        let _ = writeln!(t, "〒{}", d.postal_code);
        let _ = writeln!(t, "{}", d.address);
        let _ = writeln!(
            t,
            "お届け希望日：{}",
            d.date_ja.as_deref().unwrap_or("最短でお届け")
        );
        let _ = writeln!(t, "お届け時間帯：{}", d.slot_ja);
        if several {
            for item in &d.items {
                let _ = writeln!(t, "　・{item}");
            }
        }
        t.push('\n');
    }
    t.push_str("※このメールは送信専用アドレスから自動送信しています。\n");
    let _ = writeln!(t, "お問い合わせ：{}", o.shop.support_email);
    t.push_str("※お心当たりのない場合は、お手数ですが上記までご連絡ください。\n");
    t.push_str("※当店がカード番号やパスワードをメールでお尋ねすることはありません。\n");

    t.push_str("\n----------------------------------------\n\n");

    let _ = writeln!(t, "Dear {},", o.customer_name);
    t.push('\n');
    let _ = writeln!(t, "Thank you for shopping at {}.", o.shop.name);
    t.push_str("We have received your order:\n\n");
    let _ = writeln!(t, "Order number: {}", o.order_number);
    let _ = writeln!(t, "Ordered at: {}", en_date(&o.ordered_at));
    t.push('\n');
    for (line, total) in o.lines.iter().zip(&line_totals) {
        let mark = if line.rate == TaxRate::Reduced {
            " (8% reduced rate)"
        } else {
            ""
        };
        let _ = writeln!(t, "{}{mark}", line.name);
        let _ = writeln!(
            t,
            "  {} x {} = {}",
            yen_en(line.unit_price_incl),
            line.quantity,
            yen_en(*total)
        );
    }
    t.push('\n');
    let _ = writeln!(t, "Shipping: {}", yen_en(o.shipping_fee));
    for rt in &o.totals.per_rate {
        let _ = writeln!(
            t,
            "Subject to {}: {} (incl. tax {})",
            rt.rate.label_en(),
            yen_en(rt.amount_incl),
            yen_en(rt.tax)
        );
    }
    let _ = writeln!(
        t,
        "Total: {} (incl. tax {})",
        yen_en(o.totals.total_incl),
        yen_en(o.totals.total_tax)
    );
    let _ = writeln!(t, "Payment: {}", o.payment_en);
    t.push('\n');
    for (n, d) in o.deliveries.iter().enumerate() {
        if several {
            let _ = writeln!(t, "Delivery {} of {} to:", n + 1, o.deliveries.len());
        } else {
            t.push_str("Delivery to:\n");
        }
        let _ = writeln!(t, "{}", d.recipient_name);
        let _ = writeln!(t, "{} {}", d.postal_code, d.address);
        let _ = writeln!(
            t,
            "Requested date: {}",
            d.date_en.as_deref().unwrap_or("earliest possible")
        );
        let _ = writeln!(t, "Time slot: {}", d.slot_en);
        if several {
            for item in &d.items {
                let _ = writeln!(t, "  - {item}");
            }
        }
        t.push('\n');
    }
    t.push_str("This message was sent automatically; please do not reply to it.\n");
    let _ = writeln!(t, "Questions: {}", o.shop.support_email);
    t.push_str("We never ask for card numbers or passwords by mail.\n");
    t.push_str("\n--\n");
    let _ = writeln!(t, "{}", o.shop.name);
    let _ = writeln!(t, "{}", o.shop.url);

    Ok(MailContent {
        subject,
        text: t,
        html: None,
    })
}
