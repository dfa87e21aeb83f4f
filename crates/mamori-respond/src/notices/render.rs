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

/// The subject line.
pub fn subject(shop: &str) -> String {
    if shop.is_empty() {
        "【重要】個人情報の漏えい等に関するお知らせとお詫び".to_owned()
    } else {
        format!("【重要】個人情報の漏えい等に関するお知らせとお詫び（{shop}）")
    }
}

/// The body text (Japanese; the customer record holds no language, so no English part).
pub fn body(shop: &str, name: Option<&str>, items: &[String], d: &NoticeDraft) -> String {
    let mut s = String::with_capacity(2048);
    match name {
        Some(n) => {
            s.push_str(n);
            s.push_str(" 様\n\n");
        }
        None => s.push_str("お客様各位\n\n"),
    }
    let shop_name = if shop.is_empty() { "当店" } else { shop };
    s.push_str(&format!(
        "平素より{shop_name}をご利用いただき、誠にありがとうございます。\n\
         このたび、お客様の個人情報が漏えいした、又はそのおそれがあることが判明いたしました。\n\
         多大なるご迷惑とご心配をおかけしますことを、深くお詫び申し上げます。\n\
         個人情報の保護に関する法律に基づき、以下のとおりお知らせいたします。\n\n"
    ));
    s.push_str("■ 1. 概要\n");
    s.push_str(d.overview.trim());
    s.push_str("\n\n■ 2. 漏えい等が発生し、又は発生したおそれがある個人データの項目（お客様の情報のうち対象となったもの）\n");
    for i in items {
        s.push('・');
        s.push_str(i);
        s.push('\n');
    }
    s.push_str("\n■ 3. 原因\n");
    s.push_str(d.cause.trim());
    s.push_str("\n\n■ 4. 二次被害又はそのおそれの有無及びその内容\n");
    s.push_str(d.secondary_harm.trim());
    s.push_str("\n\n■ 5. その他参考となる事項\n");
    if !d.what_to_do.trim().is_empty() {
        s.push_str("【お客様にお願いしたいこと】\n");
        s.push_str(d.what_to_do.trim());
        s.push_str("\n\n");
    }
    s.push_str("【お問い合わせ窓口】\n");
    s.push_str(d.desk.trim());
    s.push_str("\n\n");
    s.push_str(
        "【当店を装ったメールにご注意ください】\n\
         この件に便乗し、当店や当店の窓口を装って個人情報やクレジットカード番号、パスワードを\n\
         聞き出そうとするメール・電話・SMS（フィッシング）が届くおそれがあります。\n\
         当店からパスワードやカード番号の入力をお願いすることはありません。このお知らせにも\n\
         入力を求めるリンクは記載しておりません。不審な連絡を受けた場合は、リンクを開かず、\n\
         上記の窓口までご連絡ください。\n\n",
    );
    s.push_str(&format!("{shop_name}\n"));
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
