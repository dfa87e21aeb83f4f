//! Order mail templates: plain data in, [`MailContent`] out, in ONE language: the customer's
//! (the language they ordered in), subject included. (The account mails of [`crate::account`]
//! stay bilingual: they go out before a language is known.)
//!
//! The templates compute nothing about money: the totals per tax rate come from the order (see
//! `mamori_domain::invoice_totals`), so the mail shows exactly what the shop charged.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDate};
use mamori_domain::{
    AmountOverflow, InvoiceTotals, Language, PaymentMethod, TaxRate, Yen, REDUCED_RATE_NOTE_JA,
};

use crate::{
    account::{en_date, ja_date, label},
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
    /// 名入れ: what is engraved (`蒼太郎 2025-05-05`), if the line has it. Personal: it lives only
    /// in the mail body.
    pub personalisation: Option<String>,
    /// のし: its wording (`内祝 / 山田`), if the line has it.
    pub noshi: Option<String>,
}

/// Where and when the order goes. Personal data: it only ever lives inside the mail body.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// Recipient name (`山田 太郎`).
    pub recipient_name: String,
    /// Postal code (`100-0001`), printed once, before the address.
    pub postal_code: String,
    /// Address in one line, prefecture first, WITHOUT the postal code.
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

/// Where a bank transfer goes and by when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankTransfer {
    /// The shop's account (`守り銀行 本店 普通 1234567 モリシヨウテン`); may span lines.
    pub account: String,
    /// The last day to pay.
    pub deadline: NaiveDate,
}

/// Everything the order confirmation says.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderConfirmation {
    /// The shop.
    pub shop: ShopInfo,
    /// The customer's language: the whole mail is written in it.
    pub lang: Language,
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
    /// 代引き手数料, tax included (zero when the order is not cash on delivery).
    pub cod_fee: Yen,
    /// Totals per tax rate, as charged (items, shipping and fee).
    pub totals: InvoiceTotals,
    /// How it is paid.
    pub method: PaymentMethod,
    /// For a bank transfer: the account and the deadline.
    pub bank_transfer: Option<BankTransfer>,
    /// For store pickup: where (the shop's address); the deliveries are then not printed.
    pub pickup_at: Option<String>,
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

/// `¥1,100` for English mail.
pub(crate) fn yen_en(y: Yen) -> String {
    if y.value() < 0 {
        format!("-¥{}", Yen(-y.value()).format_grouped())
    } else {
        format!("¥{}", y.format_grouped())
    }
}

/// Text in one language: each call gives both wordings and keeps the customer's.
pub(crate) struct Writer {
    ja: bool,
    /// The body so far.
    pub(crate) text: String,
}

impl Writer {
    pub(crate) fn new(lang: Language) -> Self {
        Self {
            ja: lang == Language::Ja,
            text: String::new(),
        }
    }

    /// Appends the wording of the mail's language.
    pub(crate) fn put(&mut self, ja: &str, en: &str) -> &mut Self {
        self.text.push_str(if self.ja { ja } else { en });
        self
    }

    /// The wording of the mail's language.
    pub(crate) fn pick<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        if self.ja {
            ja
        } else {
            en
        }
    }

    pub(crate) fn ja(&self) -> bool {
        self.ja
    }

    /// An amount: `1,100円` or `¥1,100`.
    pub(crate) fn yen(&self, y: Yen) -> String {
        if self.ja {
            y.to_string()
        } else {
            yen_en(y)
        }
    }

    /// `山田 太郎 様` or `Dear 山田 太郎,`, then a blank line.
    pub(crate) fn salutation(&mut self, name: &str) {
        let name = label(name);
        let line = if self.ja {
            format!("{name} 様\n\n")
        } else {
            format!("Dear {name},\n\n")
        };
        self.text.push_str(&line);
    }

    /// The closing notes and the shop's signature.
    pub(crate) fn footer(&mut self, shop: &ShopInfo) {
        let support = label(&shop.support_email);
        if self.ja {
            self.text
                .push_str("※このメールは送信専用アドレスから自動送信しています。\n");
            let _ = writeln!(self.text, "お問い合わせ：{support}");
            self.text
                .push_str("※お心当たりのない場合は、お手数ですが上記までご連絡ください。\n");
            self.text
                .push_str("※当店がカード番号やパスワードをメールでお尋ねすることはありません。\n");
        } else {
            self.text
                .push_str("This message was sent automatically; please do not reply to it.\n");
            let _ = writeln!(self.text, "Questions: {support}");
            self.text
                .push_str("We never ask for card numbers or passwords by mail.\n");
        }
        self.text.push_str("\n--\n");
        let _ = writeln!(self.text, "{}", label(&shop.name));
        let _ = writeln!(self.text, "{}", label(&shop.url));
    }

    /// The subject: `【shop】件名（注文番号 N）` or `[shop] Subject (order N)`.
    pub(crate) fn subject(&self, shop: &ShopInfo, ja: &str, en: &str, number: &str) -> String {
        let (shop, number) = (label(&shop.name), label(number));
        if self.ja {
            format!("【{shop}】{ja}（注文番号 {number}）")
        } else {
            format!("[{shop}] {en} (order {number})")
        }
    }
}

/// `2025年12月1日（月）`.
pub fn date_ja(d: NaiveDate) -> String {
    const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
    let wd = WEEKDAYS
        .get(d.weekday().num_days_from_monday() as usize)
        .copied()
        .unwrap_or("");
    format!("{}年{}月{}日（{wd}）", d.year(), d.month(), d.day())
}

/// `Mon 1 Dec 2025`.
pub fn date_en(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

/// The order confirmation (ご注文確認) mail, in the customer's language. Fails only if a line
/// total overflows.
pub fn order_confirmation(o: &OrderConfirmation) -> Result<MailContent, AmountOverflow> {
    let mut line_totals = Vec::with_capacity(o.lines.len());
    for line in &o.lines {
        line_totals.push(line.unit_price_incl.checked_mul_qty(line.quantity)?);
    }
    let any_reduced = o.lines.iter().any(|l| l.rate == TaxRate::Reduced);
    let several = o.deliveries.len() > 1;
    let mut w = Writer::new(o.lang);
    let shop_name = label(&o.shop.name);
    let number = label(&o.order_number);
    let subject = w.subject(
        &o.shop,
        "ご注文ありがとうございます",
        "Thank you for your order",
        &o.order_number,
    );

    w.salutation(&o.customer_name);
    if w.ja() {
        let _ = writeln!(
            w.text,
            "このたびは{shop_name}をご利用いただき、誠にありがとうございます。"
        );
        w.text
            .push_str("以下の内容でご注文を承りました。\n\n■ご注文内容\n");
        let _ = writeln!(w.text, "注文番号：{number}");
        let _ = writeln!(w.text, "ご注文日時：{}", ja_date(&o.ordered_at));
    } else {
        let _ = writeln!(w.text, "Thank you for shopping at {shop_name}.");
        w.text.push_str("We have received your order:\n\n");
        let _ = writeln!(w.text, "Order number: {number}");
        let _ = writeln!(w.text, "Ordered at: {}", en_date(&o.ordered_at));
    }
    w.text.push('\n');
    for (line, total) in o.lines.iter().zip(&line_totals) {
        let name = label(&line.name);
        if w.ja() {
            let _ = writeln!(w.text, "{name}{}", line.rate.reduced_mark());
            let _ = writeln!(
                w.text,
                "　{} × {} ＝ {}",
                line.unit_price_incl, line.quantity, total
            );
        } else {
            let mark = if line.rate == TaxRate::Reduced {
                " (8% reduced rate)"
            } else {
                ""
            };
            let _ = writeln!(w.text, "{name}{mark}");
            let _ = writeln!(
                w.text,
                "  {} x {} = {}",
                yen_en(line.unit_price_incl),
                line.quantity,
                yen_en(*total)
            );
        }
        if let Some(p) = &line.personalisation {
            let tag = w.pick("　名入れ：", "  Name print: ");
            let _ = writeln!(w.text, "{tag}{}", label(p));
        }
        if let Some(n) = &line.noshi {
            let tag = w.pick("　のし：", "  Noshi: ");
            let _ = writeln!(w.text, "{tag}{}", label(n));
        }
    }
    if any_reduced && w.ja() {
        let _ = writeln!(w.text, "{REDUCED_RATE_NOTE_JA}");
    }
    w.text.push('\n');
    let shipping = w.yen(o.shipping_fee);
    let _ = writeln!(w.text, "{}{shipping}", w.pick("送料：", "Shipping: "));
    if o.cod_fee.value() != 0 {
        let fee = w.yen(o.cod_fee);
        let _ = writeln!(
            w.text,
            "{}{fee}",
            w.pick("代引き手数料：", "Cash on delivery fee: ")
        );
    }
    for rt in &o.totals.per_rate {
        if w.ja() {
            let _ = writeln!(
                w.text,
                "{}対象：{}（内消費税 {}）",
                rt.rate.label_ja(),
                rt.amount_incl,
                rt.tax
            );
        } else {
            let _ = writeln!(
                w.text,
                "Subject to {}: {} (incl. tax {})",
                rt.rate.label_en(),
                yen_en(rt.amount_incl),
                yen_en(rt.tax)
            );
        }
    }
    if w.ja() {
        let _ = writeln!(
            w.text,
            "お支払い合計：{}（内消費税 {}）",
            o.totals.total_incl, o.totals.total_tax
        );
        let _ = writeln!(w.text, "お支払い方法：{}", o.method.label_ja());
    } else {
        let _ = writeln!(
            w.text,
            "Total: {} (incl. tax {})",
            yen_en(o.totals.total_incl),
            yen_en(o.totals.total_tax)
        );
        let _ = writeln!(w.text, "Payment: {}", o.method.label_en());
    }
    w.text.push('\n');

    if let Some(bank) = &o.bank_transfer {
        w.put("■お振込先\n", "Please pay by bank transfer to:\n");
        for l in bank.account.lines().map(label).filter(|l| !l.is_empty()) {
            let _ = writeln!(w.text, "{l}");
        }
        let total = w.yen(o.totals.total_incl);
        if w.ja() {
            let _ = writeln!(w.text, "お振込金額：{total}");
            let _ = writeln!(w.text, "お支払い期限：{}", date_ja(bank.deadline));
            w.text.push_str(
                "※期限までにご入金が確認できない場合、ご注文を取り消すことがあります。\n\
                 ※振込手数料はお客様のご負担となります。\n\
                 ※ご入金を確認しましたら、あらためてメールでお知らせします。\n\n",
            );
        } else {
            let _ = writeln!(w.text, "Amount: {total}");
            let _ = writeln!(w.text, "Pay by: {}", date_en(bank.deadline));
            w.text.push_str(
                "If we have not received the payment by then, we may cancel the order.\n\
                 Transfer charges are yours to pay.\n\
                 We will write again once your payment has arrived.\n\n",
            );
        }
    }

    if let Some(at) = &o.pickup_at {
        w.put("■店頭でのお受け取り\n", "Pickup at our store:\n");
        for l in at.lines().map(label).filter(|l| !l.is_empty()) {
            let _ = writeln!(w.text, "{l}");
        }
        w.put(
            "商品のご用意ができましたら、メールでお知らせします。\n\
             お支払いはお受け取りの際に店頭でお願いします。\n\n",
            "We will write when your order is ready to collect.\n\
             You pay at the store when you collect it.\n\n",
        );
    } else {
        for (n, d) in o.deliveries.iter().enumerate() {
            let name = label(&d.recipient_name);
            let address = label(&d.address);
            let postal = label(&d.postal_code);
            if w.ja() {
                if several {
                    let _ = writeln!(w.text, "■お届け先{}（全{}件）", n + 1, o.deliveries.len());
                } else {
                    w.text.push_str("■お届け先\n");
                }
                let _ = writeln!(w.text, "{name} 様");
                let _ = writeln!(w.text, "〒{postal}");
                let _ = writeln!(w.text, "{address}");
                let _ = writeln!(
                    w.text,
                    "お届け希望日：{}",
                    d.date_ja.as_deref().unwrap_or("最短でお届け")
                );
                let _ = writeln!(w.text, "お届け時間帯：{}", d.slot_ja);
            } else {
                if several {
                    let _ = writeln!(w.text, "Delivery {} of {} to:", n + 1, o.deliveries.len());
                } else {
                    w.text.push_str("Delivery to:\n");
                }
                let _ = writeln!(w.text, "{name}");
                let _ = writeln!(w.text, "{postal} {address}");
                let _ = writeln!(
                    w.text,
                    "Requested date: {}",
                    d.date_en.as_deref().unwrap_or("earliest possible")
                );
                let _ = writeln!(w.text, "Time slot: {}", d.slot_en);
            }
            if several {
                let bullet = w.pick("　・", "  - ");
                for item in &d.items {
                    let _ = writeln!(w.text, "{bullet}{}", label(item));
                }
            }
            w.text.push('\n');
        }
    }
    w.footer(&o.shop);
    Ok(MailContent {
        subject,
        text: w.text,
        html: None,
    })
}
