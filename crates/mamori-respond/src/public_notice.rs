//! The public notice (公表, お詫びとお知らせ) of an incident: the page the storefront shows at
//! `/oshirase/{incident id}` while it is published, with a banner on every storefront page.
//!
//! A draft is built from the incident and its latest scope snapshot, counts and kinds of items
//! only (what happened, when, how many people, which kinds of items, what the shop did, what
//! people should do, the inquiry desk); never a customer's value, nor an id. Staff edit it; every
//! save is a new version, kept as saved (the store refuses changes), and one version at a time
//! is shown. Each save, publication and unpublication is an entry of the incident's timeline
//! (and so of the ledger) naming the version, the SHA-256 of its texts and the reason given.

use chrono::{DateTime, Utc};
use mamori_domain::time::jst;
use mamori_store::{scope_summary, Principal, PublicNoticeStateRow, PublicNoticeVersionRow};
use mamori_web::labels::item_kinds;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::desk::{checked_text, principal_text, Desk};
use crate::kind::{EntryKind, IncidentKind};
use crate::{RespondError, Result};

/// The longest title accepted (characters).
pub const TITLE_MAX_CHARS: usize = 200;
/// The longest text accepted (characters).
pub const BODY_MAX_CHARS: usize = 20_000;
/// The longest reason accepted (characters; it goes on the timeline with the version).
pub const REASON_MAX_CHARS: usize = 500;

/// The texts of a public notice, Japanese first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNoticeText {
    /// Japanese title.
    pub title_ja: String,
    /// Japanese text (paragraphs separated by blank lines).
    pub body_ja: String,
    /// English title.
    pub title_en: String,
    /// English text.
    pub body_en: String,
}

impl PublicNoticeText {
    /// Trimmed and checked: every part required, within its length.
    pub fn checked(&self) -> Result<PublicNoticeText> {
        let part = |s: &str, max: usize, what: &'static str| {
            let t = s.trim().replace("\r\n", "\n");
            if t.is_empty() || t.chars().count() > max {
                Err(RespondError::Invalid(what))
            } else {
                Ok(t)
            }
        };
        Ok(PublicNoticeText {
            title_ja: part(
                &self.title_ja,
                TITLE_MAX_CHARS,
                "the Japanese title is required (at most 200 characters)",
            )?,
            body_ja: part(
                &self.body_ja,
                BODY_MAX_CHARS,
                "the Japanese text is required (at most 20000 characters)",
            )?,
            title_en: part(
                &self.title_en,
                TITLE_MAX_CHARS,
                "the English title is required (at most 200 characters)",
            )?,
            body_en: part(
                &self.body_en,
                BODY_MAX_CHARS,
                "the English text is required (at most 20000 characters)",
            )?,
        })
    }

    /// SHA-256 of the four texts, each length-prefixed (hex).
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.title_ja, &self.body_ja, &self.title_en, &self.body_en] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// A draft with the scope snapshot its counts come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicNoticeDraft {
    /// The texts.
    pub text: PublicNoticeText,
    /// The scope snapshot used, if one was computed.
    pub scope_id: Option<String>,
    /// People counted.
    pub people: u64,
}

fn jst_date(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.with_timezone(&jst()).format("%Y年%-m月%-d日").to_string())
        .unwrap_or_default()
}

fn en_date(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.with_timezone(&jst()).format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

fn kind_en(kind: IncidentKind) -> &'static str {
    match kind {
        IncidentKind::DatabaseCopied => "a copy of our database was taken",
        IncidentKind::StaffMisuse => "a staff account was misused",
        IncidentKind::PaymentPageAltered => "our payment page was altered",
        IncidentKind::CardScriptAltered => "a script on our card page was altered",
        IncidentKind::CardDataFound => "card details were found on one of our servers",
        IncidentKind::Other => "an incident affecting personal data",
    }
}

/// A timeline text naming a version and the reason, within the timeline's length.
/// Whether card numbers may have been typed into something the attacker altered (the
/// payment page or a script on the card page): the FAQ then asks the people who paid by card
/// in the window to check their statements; otherwise it says the shop keeps no card number.
fn cards_exposed(kind: IncidentKind) -> bool {
    matches!(
        kind,
        IncidentKind::PaymentPageAltered
            | IncidentKind::CardScriptAltered
            | IncidentKind::CardDataFound
    )
}

/// The questions people ask a shop after a breach (よくあるご質問), answered for the incident's
/// kind: part of the draft, so staff edit and version it with the rest of the notice.
fn faq_ja(kind: IncidentKind) -> String {
    let card = if cards_exposed(kind) {
        "A. 対象期間中にクレジットカードでお支払いになったお客様は、カード番号が漏えいしたおそれがあります。\n\
         カード会社に連絡し、ご利用明細に身に覚えのない請求がないかご確認ください。\n"
    } else {
        "A. 当店はクレジットカード番号を保存しておりません（カード番号は決済代行会社の画面でご入力いただいています）。\n\
         今回の件でカード番号が漏えいしたことはありません。\n"
    };
    format!(
        "■ よくあるご質問\n\
         Q. 自分の情報が対象かどうかを知りたい。\n\
         A. 対象となったお客様には個別にメールで（届かなかった場合は郵便で）お知らせしております。\n\
         会員の方はマイページでもご確認いただけます。このページのお問い合わせフォームからもお尋ねいただけます。\n\
         Q. クレジットカード番号は漏えいしましたか。\n\
         {card}\
         Q. パスワードは変更したほうがよいですか。\n\
         A. 会員の方は念のため変更をお願いいたします。同じパスワードを他のサービスでお使いの場合は、そちらも変更してください。\n\
         Q. 当店を名乗るメールやSMSが届きました。\n\
         A. 当店からパスワードやカード番号の入力をお願いすることはありません。リンクを開かず、下記の窓口までご連絡ください。\n\n"
    )
}

/// [`faq_ja`] in English.
fn faq_en(kind: IncidentKind) -> String {
    let card = if cards_exposed(kind) {
        "A. If you paid by card during the period concerned, your card number may have been exposed. \
         Please contact your card company and check your statements for charges you do not recognise.\n"
    } else {
        "A. We do not keep card numbers (you enter them on our payment provider's page), so no card \
         number was exposed in this incident.\n"
    };
    format!(
        "■ Frequently asked questions\n\
         Q. How do I know whether my data was affected?\n\
         A. We are writing to each person affected by mail (by post where mail does not arrive). \
         Members can also check on My page, and anyone can ask us through the inquiry form on this page.\n\
         Q. Was my card number exposed?\n\
         {card}\
         Q. Should I change my password?\n\
         A. Members, please change it to be safe, and change it wherever else you use the same password.\n\
         Q. I received mail or SMS claiming to be from the shop.\n\
         A. We never ask you to enter a password or a card number. Do not open its links; contact our desk below.\n\n"
    )
}

fn entry_text(what: &str, version: i64, sha: &str, reason: &str) -> String {
    let mut t = format!("公表文（お詫びとお知らせ）第{version}版を{what}（理由: {reason}）");
    if !sha.is_empty() {
        t.push_str(&format!(" sha256:{sha}"));
    }
    t
}

impl Desk {
    /// A draft of the incident's public notice from the incident and its latest scope snapshot
    /// (counts and kinds of items only) and the shop's settings (name, inquiry desk).
    pub async fn public_notice_draft(&self, incident_id: i64) -> Result<PublicNoticeDraft> {
        let records = self.gateway().records();
        let row = records
            .incident_by_id(incident_id)
            .await?
            .ok_or(RespondError::NotFound(incident_id))?;
        let kind = IncidentKind::parse(&row.kind).unwrap_or(IncidentKind::Other);
        let scope = records.incident_scopes(incident_id).await?.pop();
        let (people, codes) = scope
            .as_ref()
            .map(|s| scope_summary(&s.content))
            .unwrap_or_default();
        let kinds = item_kinds(codes.iter().map(String::as_str));
        let settings = self.shop_settings().await?;
        let shop = settings.name.trim();
        let desk = self.default_desk_contact().await?;
        let desk_ja = if desk.is_empty() {
            "当店のお客様相談窓口".to_owned()
        } else {
            desk.clone()
        };
        let desk_en = match (shop, settings.phone.trim()) {
            ("", "") => "Our customer desk".to_owned(),
            (n, "") => format!("{n} customer desk"),
            ("", p) => format!("Customer desk, phone {p}"),
            (n, p) => format!("{n} customer desk, phone {p}"),
        };
        let shop_ja = if shop.is_empty() { "当店" } else { shop };
        let shop_en = if shop.is_empty() { "our shop" } else { shop };

        let mut ja = String::new();
        ja.push_str(&format!(
            "このたび、{shop_ja}において、お客様の個人情報が漏えいした、又はそのおそれがある事態が発生いたしました。\n\
             お客様には多大なるご迷惑とご心配をおかけしますことを、深くお詫び申し上げます。\n\n"
        ));
        ja.push_str(&format!("■ 発生した事態\n{}\n\n", kind.label_ja()));
        ja.push_str(&format!("■ 発覚した日\n{}\n", jst_date(row.known_at)));
        match (row.window_from, row.window_to) {
            (Some(f), Some(t)) => ja.push_str(&format!(
                "対象期間: {} から {} まで\n",
                jst_date(f),
                jst_date(t)
            )),
            (None, Some(t)) => ja.push_str(&format!("対象期間: {} まで\n", jst_date(t))),
            (Some(f), None) => ja.push_str(&format!("対象期間: {} から（調査中）\n", jst_date(f))),
            (None, None) => {}
        }
        ja.push('\n');
        match &scope {
            Some(s) => ja.push_str(&format!(
                "■ 対象となったお客様の人数\n{people}名（{}時点の調査結果）\n\n",
                jst_date(s.computed_at)
            )),
            None => ja.push_str(
                "■ 対象となったお客様の人数\n調査中です。判明しだいお知らせいたします。\n\n",
            ),
        }
        ja.push_str("■ 対象となった情報の項目\n");
        if kinds.is_empty() {
            ja.push_str("調査中です。\n");
        }
        for (k, _) in &kinds {
            ja.push_str(&format!("・{k}\n"));
        }
        ja.push('\n');
        ja.push_str(
            "■ 当店の対応\n\
             原因となった経路を遮断し、影響の範囲を調査いたしました。個人情報保護委員会へ報告し、\n\
             対象となったお客様には個別にご連絡を差し上げております。\n\
             会員の方は、マイページの「あなたの情報は影響を受けましたか」でご自身の情報が対象かどうかをご確認いただけます。\n\n",
        );
        ja.push_str(
            "■ お客様へのお願い\n\
             この件に便乗し、当店を装って個人情報やクレジットカード番号、パスワードを聞き出そうとする\n\
             メール・電話・SMS（フィッシング）が届くおそれがあります。当店からパスワードやカード番号の入力を\n\
             お願いすることはありません。不審な連絡を受けた場合は、リンクを開かず、下記の窓口までご連絡ください。\n\n",
        );
        ja.push_str(&faq_ja(kind));
        ja.push_str(&format!("■ お問い合わせ窓口\n{desk_ja}\n"));

        let mut en = String::new();
        en.push_str(&format!(
            "We regret to inform you that {}, and personal data of our customers at {shop_en} was or may have been exposed. \
             We sincerely apologise for the concern and inconvenience this causes.\n\n",
            kind_en(kind)
        ));
        en.push_str(&format!(
            "■ When we learned of it\n{}\n",
            en_date(row.known_at)
        ));
        match (row.window_from, row.window_to) {
            (Some(f), Some(t)) => en.push_str(&format!(
                "Period concerned: {} to {}\n",
                en_date(f),
                en_date(t)
            )),
            (None, Some(t)) => en.push_str(&format!("Period concerned: until {}\n", en_date(t))),
            (Some(f), None) => en.push_str(&format!(
                "Period concerned: from {} (under investigation)\n",
                en_date(f)
            )),
            (None, None) => {}
        }
        en.push('\n');
        match &scope {
            Some(s) => en.push_str(&format!(
                "■ People affected\n{people} (as found on {})\n\n",
                en_date(s.computed_at)
            )),
            None => en.push_str(
                "■ People affected\nUnder investigation; we will update this notice.\n\n",
            ),
        }
        en.push_str("■ Items of data concerned\n");
        if kinds.is_empty() {
            en.push_str("Under investigation.\n");
        }
        for (_, k) in &kinds {
            en.push_str(&format!("- {k}\n"));
        }
        en.push('\n');
        en.push_str(
            "■ What we did\n\
             We closed the way in, investigated who was affected, reported to the Personal Information \
             Protection Commission and are contacting each person affected. Members can check on My page \
             whether their own data was affected.\n\n",
        );
        en.push_str(
            "■ What we ask of you\n\
             Beware of mail, calls or SMS pretending to be our shop and asking for personal data, card \
             numbers or passwords (phishing). We never ask you to enter a password or a card number. If \
             you receive a suspicious message, do not open its links; contact our desk below.\n\n",
        );
        en.push_str(&faq_en(kind));
        en.push_str(&format!("■ Inquiries\n{desk_en}\n"));

        Ok(PublicNoticeDraft {
            text: PublicNoticeText {
                title_ja: "個人情報の漏えい等に関するお詫びとお知らせ".to_owned(),
                body_ja: ja,
                title_en: "Apology and notice about a personal data breach".to_owned(),
                body_en: en,
            },
            scope_id: scope.map(|s| s.id),
            people,
        })
    }

    /// Saves a new version of the incident's public notice (kept as saved) and says so on the
    /// timeline; returns the version number.
    pub async fn public_notice_save(
        &self,
        incident_id: i64,
        by: &Principal,
        text: &PublicNoticeText,
        reason: &str,
    ) -> Result<i64> {
        let text = text.checked()?;
        let reason = checked_reason(reason)?;
        let records = self.gateway().records();
        if records.incident_by_id(incident_id).await?.is_none() {
            return Err(RespondError::NotFound(incident_id));
        }
        let scope_id = records
            .incident_scopes(incident_id)
            .await?
            .pop()
            .map(|s| s.id);
        let sha = text.sha256();
        let version = records
            .public_notice_save(&PublicNoticeVersionRow {
                incident_id,
                version: 0,
                saved_at: Utc::now().timestamp(),
                saved_by: principal_text(by),
                reason: reason.clone(),
                scope_id,
                title_ja: text.title_ja,
                body_ja: text.body_ja,
                title_en: text.title_en,
                body_en: text.body_en,
                content_sha256: sha.clone(),
            })
            .await?;
        self.append(
            incident_id,
            by,
            EntryKind::StaffAction,
            &entry_text("保存", version, &sha, &reason),
            Some(&format!("public_notice:{version}")),
        )
        .await?;
        Ok(version)
    }

    /// Shows `version` of the incident's public notice on the storefront (with the banner), and
    /// says so on the timeline.
    pub async fn public_notice_publish(
        &self,
        incident_id: i64,
        by: &Principal,
        version: i64,
        reason: &str,
    ) -> Result<()> {
        let reason = checked_reason(reason)?;
        let records = self.gateway().records();
        let versions = records.public_notice_versions(incident_id).await?;
        let Some(v) = versions.iter().find(|v| v.version == version) else {
            return Err(RespondError::Invalid(
                "no such version of the public notice",
            ));
        };
        if !records
            .public_notice_set_shown(
                incident_id,
                Some(version),
                Utc::now().timestamp(),
                &principal_text(by),
            )
            .await?
        {
            return Err(RespondError::Invalid(
                "no such version of the public notice",
            ));
        }
        self.append(
            incident_id,
            by,
            EntryKind::StaffAction,
            &entry_text("公開", version, &v.content_sha256, &reason),
            Some(&format!("public_notice:{version}")),
        )
        .await?;
        Ok(())
    }

    /// Takes the incident's public notice off the storefront (the banner ends; every version
    /// stays kept), and says so on the timeline. False when it was not published.
    pub async fn public_notice_unpublish(
        &self,
        incident_id: i64,
        by: &Principal,
        reason: &str,
    ) -> Result<bool> {
        let reason = checked_reason(reason)?;
        let records = self.gateway().records();
        let Some(PublicNoticeStateRow {
            version: Some(version),
            ..
        }) = records.public_notice_state(incident_id).await?
        else {
            return Ok(false);
        };
        if !records
            .public_notice_set_shown(
                incident_id,
                None,
                Utc::now().timestamp(),
                &principal_text(by),
            )
            .await?
        {
            return Ok(false);
        }
        self.append(
            incident_id,
            by,
            EntryKind::StaffAction,
            &entry_text("公開終了", version, "", &reason),
            Some(&format!("public_notice:{version}")),
        )
        .await?;
        Ok(true)
    }
}

fn checked_reason(reason: &str) -> Result<String> {
    let r = checked_text(reason, "a reason is required (at most 500 characters)")?;
    if r.chars().count() > REASON_MAX_CHARS {
        return Err(RespondError::Invalid(
            "a reason is required (at most 500 characters)",
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faq_speaks_of_cards_as_the_kind_warrants() {
        let copied = faq_ja(IncidentKind::DatabaseCopied);
        assert!(copied.starts_with("■ よくあるご質問"));
        assert!(copied.contains("保存しておりません") && !copied.contains("カード会社に連絡"));
        let skimmed = faq_ja(IncidentKind::PaymentPageAltered);
        assert!(skimmed.contains("カード会社に連絡") && !skimmed.contains("保存しておりません"));
        assert!(faq_en(IncidentKind::CardScriptAltered).contains("contact your card company"));
        assert!(faq_en(IncidentKind::StaffMisuse).contains("We do not keep card numbers"));
        for kind in [
            IncidentKind::DatabaseCopied,
            IncidentKind::StaffMisuse,
            IncidentKind::PaymentPageAltered,
            IncidentKind::CardScriptAltered,
            IncidentKind::CardDataFound,
            IncidentKind::Other,
        ] {
            assert_eq!(faq_ja(kind).matches("\nQ. ").count(), 4, "{kind:?}");
            assert_eq!(faq_en(kind).matches("\nQ. ").count(), 4, "{kind:?}");
        }
    }
}
