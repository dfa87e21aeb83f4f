//! The notice as a person reads it: 施行規則10条's items, their own affected items named in
//! Japanese, and a warning about mail that pretends to be the shop.

use mamori_mail::{OutgoingMail, Recipient};
use mamori_store::gateway::{MailDraft, NoticeContact};

use super::NoticeDraft;
use crate::report::data_item_ja;

/// The outbox kind (and `X-Mamori-Kind`) of a notice.
pub const NOTICE_KIND: &str = "incident-notice";
/// The header naming the notice's id (not personal: the id of a row).
pub const NOTICE_HEADER: &str = "X-Mamori-Notice";

/// The Japanese names of a person's items: each field code's label, sorted by code, once each.
pub fn items_ja(fields: &[String]) -> Vec<String> {
    let mut codes: Vec<&String> = fields.iter().collect();
    codes.sort();
    codes.dedup();
    codes
        .into_iter()
        .map(|c| data_item_ja(c).to_owned())
        .collect()
}

/// The notice's title (the mail's subject, the letter's heading).
pub const NOTICE_TITLE: &str = "個人情報の漏えい等に関するお知らせとお詫び";

/// The subject line.
pub fn subject(shop: &str) -> String {
    if shop.is_empty() {
        format!("【重要】{NOTICE_TITLE}")
    } else {
        format!("【重要】{NOTICE_TITLE}（{shop}）")
    }
}

/// One numbered part of a notice (施行規則10条's items), as both the mail and the letter
/// show it: the letter is laid out from the same parts, so the two cannot say different things.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeSection {
    /// `1. 概要`.
    pub heading: String,
    /// Its text (lines separated by `\n`).
    pub body: String,
}

/// The shop as the notice names it (`当店` without a name).
pub fn shop_name(shop: &str) -> &str {
    if shop.is_empty() {
        "当店"
    } else {
        shop
    }
}

/// The apology that opens the notice (after the salutation).
pub fn opening(shop: &str) -> String {
    let shop_name = shop_name(shop);
    format!(
        "平素より{shop_name}をご利用いただき、誠にありがとうございます。\n\
         このたび、お客様の個人情報が漏えいした、又はそのおそれがあることが判明いたしました。\n\
         多大なるご迷惑とご心配をおかけしますことを、深くお詫び申し上げます。\n\
         個人情報の保護に関する法律に基づき、以下のとおりお知らせいたします。"
    )
}

/// The warning about messages that pretend to come from the shop.
pub const PHISHING_WARNING: &str =
    "この件に便乗し、当店や当店の窓口を装って個人情報やクレジットカード番号、パスワードを\n\
     聞き出そうとするメール・電話・SMS（フィッシング）が届くおそれがあります。\n\
     当店からパスワードやカード番号の入力をお願いすることはありません。このお知らせにも\n\
     入力を求めるリンクは記載しておりません。不審な連絡を受けた場合は、リンクを開かず、\n\
     上記の窓口までご連絡ください。";

/// The notice's numbered parts: the operator's words, the person's own items and the warning.
pub fn sections(items: &[String], d: &NoticeDraft) -> Vec<NoticeSection> {
    let mut items_text = String::new();
    for i in items {
        if !items_text.is_empty() {
            items_text.push('\n');
        }
        items_text.push('・');
        items_text.push_str(i);
    }
    let mut other = String::new();
    if !d.what_to_do.trim().is_empty() {
        other.push_str("【お客様にお願いしたいこと】\n");
        other.push_str(d.what_to_do.trim());
        other.push_str("\n\n");
    }
    other.push_str("【お問い合わせ窓口】\n");
    other.push_str(d.desk.trim());
    other.push_str("\n\n【当店を装ったメールにご注意ください】\n");
    other.push_str(PHISHING_WARNING);
    let part = |heading: &str, body: String| NoticeSection {
        heading: heading.to_owned(),
        body,
    };
    vec![
        part("1. 概要", d.overview.trim().to_owned()),
        part(
            "2. 漏えい等が発生し、又は発生したおそれがある個人データの項目（お客様の情報のうち対象となったもの）",
            items_text,
        ),
        part("3. 原因", d.cause.trim().to_owned()),
        part(
            "4. 二次被害又はそのおそれの有無及びその内容",
            d.secondary_harm.trim().to_owned(),
        ),
        part("5. その他参考となる事項", other),
    ]
}

/// The body text (Japanese; the customer record holds no language, so no English part): the
/// salutation, [`opening`], each of [`sections`] and the shop's name.
pub fn body(shop: &str, name: Option<&str>, items: &[String], d: &NoticeDraft) -> String {
    let mut s = String::with_capacity(2048);
    match name {
        Some(n) => {
            s.push_str(n);
            s.push_str(" 様\n\n");
        }
        None => s.push_str("お客様各位\n\n"),
    }
    s.push_str(&opening(shop));
    s.push_str("\n\n");
    for sec in sections(items, d) {
        s.push_str("■ ");
        s.push_str(&sec.heading);
        s.push('\n');
        if !sec.body.is_empty() {
            s.push_str(&sec.body);
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str(shop_name(shop));
    s.push('\n');
    s
}

/// The mail of one notice, ready for the outbox (None when the address cannot be a recipient).
pub fn notice_mail(
    shop: &str,
    items: &[String],
    d: &NoticeDraft,
    c: &NoticeContact<'_>,
    return_path: Option<String>,
) -> Option<MailDraft> {
    let name = c.name.as_ref().map(|n| n.expose().as_str());
    let mut to = Recipient::new(c.email.expose().as_str()).ok()?;
    if let Some(n) = name {
        to = to.with_name(n);
    }
    let mut mail = OutgoingMail::new(to, subject(shop), body(shop, name, items, d))
        .with_header("X-Mamori-Kind", NOTICE_KIND)
        .with_header(NOTICE_HEADER, c.target.notice_id.as_str());
    mail.id = uuid::Uuid::parse_str(&c.target.notice_id).ok()?;
    mail.return_path = return_path;
    Some(MailDraft {
        kind: NOTICE_KIND.to_owned(),
        payload: mail.to_payload(),
    })
}
