//! The scope of a copied database: who had which fields stored at the time of the copy, and the
//! APPI point that decides whether the leak must be reported.
//!
//! What was stored at `T` is read from what the store knows: customers created at or before `T`
//! and not erased (crypto-shredded) by then, their address-book entries created by then, their
//! orders placed by then with the deliveries and 名入れ / のし lines on them. A customer erased
//! before `T` had no readable data in the copy (the data key was gone); one created after `T`
//! was not in it. Canary customers are left out: they are not people (their marks are opened
//! inside the gateway), and the scope says how many were.
//!
//! Limits, stated in the scope's notes: a field is taken as stored at `T` if it is stored now
//! (the store keeps no history of profile edits), and a customer erased after `T` is counted
//! with every profile field (the values are gone now, so the desk over-reports rather than
//! under-reports).
//!
//! **施行規則7条 括弧書き.** Data protected by 高度な暗号化その他の個人の権利利益を保護するために
//! 必要な措置 is outside the reporting duty. mamori seals every personal field (AES-256-GCM under
//! per-customer data keys wrapped by the master key, which is kept outside the database), so
//! whether a report is owed turns on one question: may the key file (the master key) have
//! leaked with the copy? The desk records the answer on the timeline ([`Desk::answer_key_leak`])
//! and the scope says which answer leads where ([`AppiAssessment`]).

use std::collections::{BTreeMap, BTreeSet};

use mamori_store::gateway::fields;
use mamori_store::{Accessor, Principal, TimelineRow};
use serde::{Deserialize, Serialize};

use super::{
    category, owned, recipient_subjects, Scope, Subject, PERSONALISATION_ITEM, RECIPIENT_ITEMS,
};
use crate::desk::Desk;
use crate::kind::EntryKind;
use crate::Result;

/// The buyer's sealed items on an order.
const ORDER_BUYER_ITEMS: &[&str] = &[
    "orders.buyer_name",
    "orders.buyer_email",
    "orders.buyer_phone",
    "orders.buyer_address",
];
/// のし.
const NOSHI_ITEM: &str = "order_items.noshi";
/// The timeline's reference of a key-leak answer: `key_leak:<answer>`.
const KEY_LEAK_REF: &str = "key_leak:";

/// The answer to "may the key file (master key) have leaked with the copy?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLeak {
    /// The key file did not leak: sealed fields are outside the reporting duty.
    No,
    /// It leaked: every stored item is reported.
    Yes,
    /// Not known: treated as leaked.
    Unknown,
}

impl KeyLeak {
    /// Every answer, in the order the desk asks.
    pub const ALL: [KeyLeak; 3] = [KeyLeak::No, KeyLeak::Yes, KeyLeak::Unknown];

    /// Stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyLeak::No => "no",
            KeyLeak::Yes => "yes",
            KeyLeak::Unknown => "unknown",
        }
    }

    /// From its code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            KeyLeak::No => "漏えいしていない",
            KeyLeak::Yes => "漏えいした",
            KeyLeak::Unknown => "不明",
        }
    }

    /// Whether the sealed fields are to be reported under this answer.
    pub fn reportable(self) -> bool {
        !matches!(self, KeyLeak::No)
    }
}

/// The question the desk asks (Japanese).
pub const KEY_LEAK_QUESTION: &str =
    "鍵ファイル（マスター鍵）がデータベースの複製とともに漏えいした可能性はありますか。";

/// What one answer leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppiOutcome {
    /// The answer (`no`, `yes`, `unknown`).
    pub answer: KeyLeak,
    /// Whether the sealed items are then reported.
    pub report_owed: bool,
    /// What follows, in Japanese.
    pub text: String,
}

/// An item stored without sealing, and whether it identifies a person by itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsealedItem {
    /// `table.column`.
    pub item: String,
    /// Whether it alone identifies a person.
    pub identifies: bool,
    /// Why, in Japanese.
    pub note: String,
}

/// The APPI point of a copied database (施行規則7条 括弧書き).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppiAssessment {
    /// The question asked.
    pub question: String,
    /// The answer on the timeline, if given.
    pub key_leak: Option<KeyLeak>,
    /// Which answer leads where.
    pub outcomes: Vec<AppiOutcome>,
    /// The items of this scope that are sealed (AES-256-GCM under the customers' data keys).
    pub sealed_items: Vec<String>,
    /// What the database holds unsealed.
    pub unsealed_items: Vec<UnsealedItem>,
    /// With the answer given: is a report owed for the sealed items? Unanswered counts as
    /// owed (the desk does not presume the key safe).
    pub report_owed: bool,
    /// People per data item to report under the answer (empty when none is owed).
    pub reportable_items: BTreeMap<String, u64>,
    /// People to report under the answer (sum over categories; 0 when none is owed).
    pub reportable_people: u64,
    /// The conclusion, in Japanese.
    pub conclusion: String,
}

fn unsealed(item: &str, note: &str) -> UnsealedItem {
    UnsealedItem {
        item: item.to_owned(),
        identifies: false,
        note: note.to_owned(),
    }
}

/// What the schema stores unsealed, with why none of it identifies a person by itself.
pub fn unsealed_items() -> Vec<UnsealedItem> {
    vec![
        unsealed(
            "customers.email_bidx",
            "メールアドレスの鍵付き HMAC（ブラインドインデックス）。鍵ファイルの鍵なしには照合も逆算もできない",
        ),
        unsealed(
            "customer_search.bidx",
            "氏名・フリガナ・電話・メールの鍵付き HMAC。同上",
        ),
        unsealed(
            "customers.password_hash",
            "Argon2id ハッシュ（鍵ファイルのペッパー付き）。本人を示さない",
        ),
        unsealed(
            "customers.kind / created_at",
            "会員・ゲストの別と登録日時。無作為な ID に結び付くのみ",
        ),
        unsealed(
            "orders.order_number / state / payment_method / amounts / placed_at",
            "注文番号・状態・支払方法・金額・日時。氏名や連絡先を含まない",
        ),
        unsealed(
            "order_items.sku / product_name / unit_price / quantity",
            "商品と数量。本人を示さない",
        ),
        unsealed(
            "shipments.delivery_date / delivery_slot",
            "配送希望日と時間帯。本人を示さない",
        ),
        unsealed(
            "payments.brand / last4 / amount",
            "カードブランドと下4桁、金額。カード番号を復元できず本人を示さない",
        ),
        unsealed(
            "ledger_entries",
            "アクセス記録（顧客 ID・項目名・日時）。値を含まない",
        ),
    ]
}

/// The assessment of a scope under an answer (or none yet).
pub fn assess(scope: &Scope, answer: Option<KeyLeak>) -> AppiAssessment {
    let outcomes = vec![
        AppiOutcome {
            answer: KeyLeak::No,
            report_owed: false,
            text: "暗号化された項目は、高度な暗号化等の措置が講じられ鍵が漏えいしていないため、\
                   施行規則7条括弧書きにより報告対象外。暗号化されていない項目は下記のとおり\
                   単独では本人を識別しない。"
                .to_owned(),
        },
        AppiOutcome {
            answer: KeyLeak::Yes,
            report_owed: true,
            text: "鍵が漏えいしたため暗号化は保護にならない。保存されていた全項目・全員を報告する。"
                .to_owned(),
        },
        AppiOutcome {
            answer: KeyLeak::Unknown,
            report_owed: true,
            text: "鍵が漏えいしていないと確認できないため、漏えいしたものとして全項目・全員を報告する。"
                .to_owned(),
        },
    ];
    let report_owed = answer.is_none_or(KeyLeak::reportable);
    let (reportable_items, reportable_people) = if report_owed {
        (scope.data_items.clone(), scope.categories.values().sum())
    } else {
        (BTreeMap::new(), 0)
    };
    let conclusion = match answer {
        Some(KeyLeak::No) => "鍵は漏えいしていないとの回答により、報告義務の対象となる項目はない（暗号化されていない項目は単独で本人を識別しない）。",
        Some(KeyLeak::Yes) => "鍵が漏えいしたとの回答により、保存されていた全項目・全員が報告の対象。",
        Some(KeyLeak::Unknown) => "鍵の漏えいが不明との回答により、保存されていた全項目・全員を報告の対象とする。",
        None => "鍵の漏えいの有無が未回答のため、保存されていた全項目・全員を報告の対象として扱う。",
    };
    AppiAssessment {
        question: KEY_LEAK_QUESTION.to_owned(),
        key_leak: answer,
        outcomes,
        sealed_items: scope.data_items.keys().cloned().collect(),
        unsealed_items: unsealed_items(),
        report_owed,
        reportable_items,
        reportable_people,
        conclusion: conclusion.to_owned(),
    }
}

/// The latest key-leak answer on a timeline.
pub fn key_leak_in(timeline: &[TimelineRow]) -> Option<KeyLeak> {
    timeline
        .iter()
        .rev()
        .filter(|e| e.kind == EntryKind::StaffAction.as_str())
        .find_map(|e| {
            e.ref_id
                .as_deref()
                .and_then(|r| r.strip_prefix(KEY_LEAK_REF))
                .and_then(KeyLeak::parse)
        })
}

impl Desk {
    /// Records the answer to the key-leak question on the timeline (and so in the ledger).
    pub async fn answer_key_leak(
        &self,
        incident_id: i64,
        by: &Principal,
        answer: KeyLeak,
    ) -> Result<TimelineRow> {
        let text = format!(
            "鍵ファイル（マスター鍵）の漏えいの可能性: {}（施行規則7条括弧書きの判断）",
            answer.label_ja()
        );
        let ref_id = format!("{KEY_LEAK_REF}{}", answer.as_str());
        self.append(
            incident_id,
            by,
            EntryKind::StaffAction,
            &text,
            Some(&ref_id),
        )
        .await
    }

    /// The latest answer to the key-leak question, if one was given.
    pub async fn key_leak(&self, incident_id: i64) -> Result<Option<KeyLeak>> {
        let timeline = self
            .gateway()
            .records()
            .incident_timeline(incident_id)
            .await?;
        Ok(key_leak_in(&timeline))
    }

    /// Fills `scope` with who had which fields stored at `at` (Unix seconds, inclusive).
    pub(super) async fn database_copied_scope(
        &self,
        scope: &mut Scope,
        acc: &Accessor,
        at: i64,
    ) -> Result<()> {
        let gw = self.gateway();
        let records = gw.records();
        let at_us = at.saturating_mul(1_000_000).saturating_add(999_999);
        let canaries = gw.canary_ids().await?;
        let mut customers = records.customers_stored_at(at_us).await?;
        let before = customers.len();
        customers.retain(|c| !canaries.contains(&c.customer_id));
        let canaries_left_out = before - customers.len();
        let mut orders = records.orders_stored_at(at_us).await?;
        orders.retain(|o| !canaries.contains(&o.customer_id));

        let mut per_customer: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut erased_after = 0usize;
        let mut kinds: BTreeMap<String, bool> = BTreeMap::new();
        for c in &customers {
            let mut f = BTreeSet::new();
            if c.erased_at.is_some() {
                erased_after += 1;
                f.extend(owned(fields::PROFILE));
            } else {
                for (has, item) in [
                    (c.has_name, fields::NAME),
                    (c.has_email, fields::EMAIL),
                    (c.has_phone, fields::PHONE),
                    (c.has_birth_date, fields::BIRTH_DATE),
                    (c.has_gender, fields::GENDER),
                ] {
                    if has != 0 {
                        f.insert(item.to_owned());
                    }
                }
            }
            if c.addresses > 0 {
                f.extend(owned(fields::ADDRESSES));
            }
            kinds.insert(c.customer_id.clone(), c.kind == "member");
            per_customer.insert(c.customer_id.clone(), f);
        }
        let mut with_deliveries = Vec::new();
        let mut personalisation = Vec::new();
        for o in &orders {
            let Some(f) = per_customer.get_mut(&o.customer_id) else {
                continue;
            };
            f.extend(owned(ORDER_BUYER_ITEMS));
            if o.noshi_lines > 0 {
                f.insert(NOSHI_ITEM.to_owned());
            }
            if o.shipments > 0 {
                with_deliveries.push(o.order_id.clone());
            }
            if o.personalised_lines > 0 {
                personalisation.push(Subject {
                    customer_id: o.customer_id.clone(),
                    order_id: Some(o.order_id.clone()),
                    shipment_no: None,
                    people: u64::try_from(o.personalised_lines).unwrap_or(0),
                    fields: vec![PERSONALISATION_ITEM.to_owned()],
                });
            }
        }
        let others = gw
            .recipients_other_than_buyer(acc, &with_deliveries)
            .await?;
        let recipients = recipient_subjects(others);
        personalisation.sort();

        let (mut members, mut guests) = (Vec::new(), Vec::new());
        for (customer_id, f) in per_customer {
            for item in &f {
                *scope.data_items.entry(item.clone()).or_default() += 1;
            }
            let subject = Subject {
                people: 1,
                order_id: None,
                shipment_no: None,
                fields: f.into_iter().collect(),
                customer_id,
            };
            if kinds.get(&subject.customer_id).copied().unwrap_or(false) {
                members.push(subject);
            } else {
                guests.push(subject);
            }
        }
        let recipients_n = recipients.len() as u64;
        if recipients_n > 0 {
            for item in RECIPIENT_ITEMS {
                scope.data_items.insert((*item).to_owned(), recipients_n);
            }
        }
        let personalisation_n: u64 = personalisation.iter().map(|s| s.people).sum();
        if personalisation_n > 0 {
            scope
                .data_items
                .insert(PERSONALISATION_ITEM.to_owned(), personalisation_n);
        }
        for (cat, n, list) in [
            (category::MEMBERS, members.len() as u64, members),
            (category::GUESTS, guests.len() as u64, guests),
            (category::RECIPIENTS, recipients_n, recipients),
            (
                category::PERSONALISATION,
                personalisation_n,
                personalisation,
            ),
        ] {
            scope.categories.insert(cat.to_owned(), n);
            scope.subjects.insert(cat.to_owned(), list);
        }

        scope.stored_at = Some(at);
        scope.notes.push(format!(
            "おとり顧客（カナリア）{canaries_left_out} 件は実在の人ではないため除外"
        ));
        if erased_after > 0 {
            scope.notes.push(format!(
                "時点より後に削除された顧客 {erased_after} 名は、値が残っていないためプロフィールの全項目を計上（過大側）"
            ));
        }
        scope.notes.push(
            "各項目は現在保存されていれば時点でも保存されていたものとして計上（変更履歴は保持しない）"
                .to_owned(),
        );
        let answer = self.key_leak(scope.incident).await?;
        scope.appi = Some(assess(scope, answer));
        Ok(())
    }
}
