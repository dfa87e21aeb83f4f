//! The reports an incident owes, filled from the incident, its deadlines and its latest scope:
//!
//! - the PPC report (速報 and 確報) with the items of 個人情報保護法施行規則8条1項 and the
//!   reporter's details; every free-text part editable, every saved version kept (append-only
//!   store, each save an entry of the timeline and so of the ledger);
//! - rendered as plain text laid out for the PPC's online form ([`text`]) and as a Japanese PDF
//!   ([`pdf`], typst with the IPAex fonts found at run time);
//! - the card companies' / acquirer's report ([`card`]): the payment attempts of the scope's
//!   window and the timeline, as CSV.
//!
//! A report holds staff's words, the shop's own details, counts and ids of payments; never a
//! customer's value (the scope's list of people stays in its snapshot).

pub mod card;
pub mod pdf;
pub mod text;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use mamori_store::{Principal, ReportVersionRow, ScopeRow};
use mamori_web::settings::ShopSettings;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::deadlines::{deadlines, Deadline};
use crate::desk::{principal_text, Desk};
use crate::kind::{EntryKind, IncidentKind};
use crate::scope::category;
use crate::{RespondError, Result};

/// Longest free-text part of a report (characters).
pub const FIELD_MAX_CHARS: usize = 8000;
/// Longest reporter detail (characters).
pub const REPORTER_MAX_CHARS: usize = 300;

/// Which PPC report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 速報 (規則8条1項).
    Sokuho,
    /// 確報 (規則8条2項).
    Kakuho,
}

impl ReportKind {
    /// Both, in order.
    pub const ALL: [ReportKind; 2] = [ReportKind::Sokuho, ReportKind::Kakuho];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Sokuho => "sokuho",
            ReportKind::Kakuho => "kakuho",
        }
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            ReportKind::Sokuho => "速報",
            ReportKind::Kakuho => "確報",
        }
    }
}

/// The reporter's details (the shop's own; filled from the shop settings where they exist).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    /// 事業者の名称.
    pub business_name: String,
    /// 代表者の氏名.
    pub representative: String,
    /// 住所.
    pub address: String,
    /// 担当者.
    pub contact_person: String,
    /// 連絡先 (phone, mail).
    pub contact: String,
}

/// The editable parts of a report: the reporter and one text per item of 規則8条1項.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFields {
    /// The reporter.
    pub reporter: Reporter,
    /// 一 概要.
    pub overview: String,
    /// 二 漏えい等が発生し又は発生したおそれがある個人データの項目.
    pub data_items: String,
    /// 三 本人の数.
    pub people: String,
    /// 四 原因.
    pub cause: String,
    /// 五 二次被害又はそのおそれの有無及びその内容.
    pub secondary_damage: String,
    /// 六 本人への対応の実施状況.
    pub notice_to_persons: String,
    /// 七 公表の実施状況.
    pub publication: String,
    /// 八 再発防止のための措置.
    pub prevention: String,
    /// 九 その他参考となる事項.
    pub other: String,
}

/// The item headings of 規則8条1項, in order.
pub const ITEM_HEADINGS: [&str; 9] = [
    "概要",
    "漏えい等が発生し又は発生したおそれがある個人データの項目",
    "本人の数",
    "原因",
    "二次被害又はそのおそれの有無及びその内容",
    "本人への対応の実施状況",
    "公表の実施状況",
    "再発防止のための措置",
    "その他参考となる事項",
];

impl ReportFields {
    /// The items as (heading, text), in the order of 規則8条1項.
    pub fn items(&self) -> [(&'static str, &str); 9] {
        let t = [
            self.overview.as_str(),
            &self.data_items,
            &self.people,
            &self.cause,
            &self.secondary_damage,
            &self.notice_to_persons,
            &self.publication,
            &self.prevention,
            &self.other,
        ];
        std::array::from_fn(|i| (ITEM_HEADINGS[i], t[i]))
    }

    /// The reporter's details as (heading, value).
    pub fn reporter_lines(&self) -> [(&'static str, &str); 5] {
        let r = &self.reporter;
        [
            ("事業者の名称", r.business_name.as_str()),
            ("代表者の氏名", &r.representative),
            ("住所", &r.address),
            ("担当者", &r.contact_person),
            ("連絡先", &r.contact),
        ]
    }

    /// Trims every part and refuses one that is too long.
    fn checked(mut self) -> Result<Self> {
        let r = &mut self.reporter;
        for s in [
            &mut r.business_name,
            &mut r.representative,
            &mut r.address,
            &mut r.contact_person,
            &mut r.contact,
        ] {
            *s = s.trim().to_owned();
            if s.chars().count() > REPORTER_MAX_CHARS {
                return Err(RespondError::Invalid(
                    "a reporter detail is too long (at most 300 characters)",
                ));
            }
        }
        for s in [
            &mut self.overview,
            &mut self.data_items,
            &mut self.people,
            &mut self.cause,
            &mut self.secondary_damage,
            &mut self.notice_to_persons,
            &mut self.publication,
            &mut self.prevention,
            &mut self.other,
        ] {
            *s = s.trim().replace("\r\n", "\n");
            if s.chars().count() > FIELD_MAX_CHARS {
                return Err(RespondError::Invalid(
                    "a report item is too long (at most 8000 characters)",
                ));
            }
        }
        Ok(self)
    }
}

/// The counts of the scope a report was made from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeFacts {
    /// Snapshot id.
    pub id: String,
    /// When it was computed (Unix seconds).
    pub computed_at: i64,
    /// The ledger tree size it was computed against.
    pub tree_size: i64,
    /// That tree's root (hex).
    pub root: String,
    /// SHA-256 of the snapshot's content (hex).
    pub sha256: String,
    /// People per category.
    pub categories: BTreeMap<String, u64>,
    /// People per data item.
    pub data_items: BTreeMap<String, u64>,
    /// Payment attempts in the window.
    pub payment_attempts: u64,
}

impl ScopeFacts {
    /// From a saved snapshot (its counts; never its list of people).
    pub fn from_row(row: &ScopeRow) -> Self {
        #[derive(Deserialize)]
        struct Counts {
            #[serde(default)]
            categories: BTreeMap<String, u64>,
            #[serde(default)]
            data_items: BTreeMap<String, u64>,
            #[serde(default)]
            payment_attempts: u64,
        }
        let counts = serde_json::from_str::<Counts>(&row.content).unwrap_or(Counts {
            categories: BTreeMap::new(),
            data_items: BTreeMap::new(),
            payment_attempts: 0,
        });
        Self {
            id: row.id.clone(),
            computed_at: row.computed_at,
            tree_size: row.tree_size,
            root: row.root_hash.clone(),
            sha256: row.content_sha256.clone(),
            categories: counts.categories,
            data_items: counts.data_items,
            payment_attempts: counts.payment_attempts,
        }
    }

    /// People in all categories together (a person may be in more than one: 延べ).
    pub fn people(&self) -> u64 {
        self.categories.values().sum()
    }
}

/// What a saved version holds (its JSON is the stored content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReport {
    /// Format version.
    pub v: u8,
    /// The editable parts as saved.
    pub fields: ReportFields,
    /// The scope's counts at the time of saving.
    pub scope: Option<ScopeFacts>,
}

/// A saved version's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// Version id.
    pub id: String,
    /// 1-based per incident and kind.
    pub version: i64,
    /// When (Unix seconds).
    pub saved_at: i64,
    /// By whom.
    pub saved_by: String,
    /// SHA-256 of the stored content.
    pub sha256: String,
}

/// A report ready to render: the incident's facts, its deadlines, the scope's counts and the
/// editable parts (a saved version's, or a draft's).
#[derive(Clone, Debug)]
pub struct Report {
    /// 速報 or 確報.
    pub kind: ReportKind,
    /// The incident's number.
    pub incident_id: i64,
    /// Its kind.
    pub incident_kind: IncidentKind,
    /// Its title.
    pub title: String,
    /// 発覚 (Unix seconds).
    pub known_at: i64,
    /// The suspected window.
    pub window_from: Option<i64>,
    /// End of the window.
    pub window_to: Option<i64>,
    /// 不正の目的.
    pub malicious: bool,
    /// The deadlines the 発覚 starts.
    pub deadlines: Vec<Deadline>,
    /// The scope's counts.
    pub scope: Option<ScopeFacts>,
    /// The editable parts.
    pub fields: ReportFields,
    /// The saved version shown (None: a draft).
    pub version: Option<VersionInfo>,
}

/// Japanese date with the weekday: `2027年1月13日（水）`.
pub fn date_ja(d: NaiveDate) -> String {
    let wd = match d.weekday() {
        Weekday::Mon => "月",
        Weekday::Tue => "火",
        Weekday::Wed => "水",
        Weekday::Thu => "木",
        Weekday::Fri => "金",
        Weekday::Sat => "土",
        Weekday::Sun => "日",
    };
    format!("{}年{}月{}日（{wd}）", d.year(), d.month(), d.day())
}

/// Japanese time of Unix seconds: `2027年1月8日（金）10:00`.
pub fn time_ja(unix: i64) -> String {
    match DateTime::<Utc>::from_timestamp(unix, 0) {
        Some(t) => {
            let local = t.with_timezone(&mamori_domain::time::jst());
            format!("{}{}", date_ja(local.date_naive()), local.format("%H:%M"))
        }
        None => unix.to_string(),
    }
}

/// Japanese label of a scope category code.
pub fn category_ja(code: &str) -> &str {
    match code {
        category::CUSTOMERS => "閲覧された顧客",
        category::MEMBERS => "カード入力ページに到達した会員",
        category::GUESTS => "カード入力ページに到達したゲスト購入者",
        category::RECIPIENTS => "購入者以外のお届け先",
        category::PERSONALISATION => "名入れ情報の対象者",
        other => other,
    }
}

/// Japanese label of a data item (a field code of the ledger).
pub fn data_item_ja(code: &str) -> &str {
    match code {
        "card.number" => "クレジットカード番号",
        "card.expiry" => "クレジットカードの有効期限",
        "card.security_code" => "セキュリティコード",
        "customers.name" => "氏名",
        "customers.email" => "メールアドレス",
        "customers.phone" => "電話番号",
        "customers.birth_date" => "生年月日",
        "customers.gender" => "性別",
        "customers.password_hash" => "パスワード（ハッシュ値）",
        "addresses.name" => "住所録の氏名",
        "addresses.address" => "住所録の住所",
        "addresses.phone" => "住所録の電話番号",
        "orders.buyer_name" => "注文者の氏名",
        "orders.buyer_email" => "注文者のメールアドレス",
        "orders.buyer_phone" => "注文者の電話番号",
        "orders.buyer_address" => "注文者の住所",
        "orders.summary" => "注文内容",
        "order_items.personalisation" => "名入れ情報（名前・生年月日）",
        "order_items.noshi" => "のし情報",
        "shipments.name" => "お届け先の氏名",
        "shipments.address" => "お届け先の住所",
        "shipments.phone" => "お届け先の電話番号",
        other => other,
    }
}

fn window_ja(from: Option<i64>, to: Option<i64>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!("{}から{}まで", time_ja(f), time_ja(t)),
        (Some(f), None) => format!("{}以降（終期は調査中）", time_ja(f)),
        (None, Some(t)) => format!("{}まで（始期は調査中）", time_ja(t)),
        (None, None) => "調査中".to_owned(),
    }
}

/// The first draft of the editable parts, from the incident, the scope and the settings.
fn draft_fields(report: &Report, settings: Option<&ShopSettings>) -> ReportFields {
    let reporter = settings
        .map(|s| Reporter {
            business_name: s.name.clone(),
            representative: s.representative.clone(),
            address: s.address.clone(),
            contact_person: String::new(),
            contact: s.phone.clone(),
        })
        .unwrap_or_default();
    let overview = format!(
        "当社が運営するオンラインショップにおいて、{}が発生しました（又はそのおそれがあります）。\n\
         発覚日時：{}\n対象期間：{}",
        report.incident_kind.label_ja(),
        time_ja(report.known_at),
        window_ja(report.window_from, report.window_to),
    );
    let (data_items, people) = match &report.scope {
        Some(s) => {
            let items: Vec<String> = s
                .data_items
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("・{}（{n}名）", data_item_ja(k)))
                .collect();
            let cats: Vec<String> = s
                .categories
                .iter()
                .map(|(k, n)| format!("・{}：{n}名", category_ja(k)))
                .collect();
            let items = if items.is_empty() {
                "算出の結果、該当する個人データはありません。".to_owned()
            } else {
                items.join("\n")
            };
            (
                items,
                format!(
                    "延べ{}名（内訳は以下のとおり。台帳の記録から算出）\n{}",
                    s.people(),
                    cats.join("\n")
                ),
            )
        }
        None => ("調査中".to_owned(), "調査中".to_owned()),
    };
    let cause = match report.incident_kind {
        IncidentKind::PaymentPageAltered => {
            "第三者により決済ページが改ざんされ、入力された情報が外部に送信された可能性があります（詳細は調査中）。"
        }
        IncidentKind::CardScriptAltered => {
            "カード入力ページで読み込む外部スクリプトが改ざんされ、入力された情報が外部に送信された可能性があります（詳細は調査中）。"
        }
        IncidentKind::StaffMisuse => {
            "スタッフアカウントが業務上の必要を超えて顧客情報の閲覧に使用されました（詳細は調査中）。"
        }
        IncidentKind::DatabaseCopied => {
            "データベース又はそのバックアップが第三者により複製された可能性があります（詳細は調査中）。"
        }
        IncidentKind::CardDataFound => {
            "サーバー上にカード情報が保存されていたことが判明しました（詳細は調査中）。"
        }
        IncidentKind::Other => "調査中",
    };
    ReportFields {
        reporter,
        overview,
        data_items,
        people,
        cause: cause.to_owned(),
        secondary_damage: "現時点で二次被害は確認されていません（調査中）。".to_owned(),
        notice_to_persons: "対象となる本人への通知を準備中です。".to_owned(),
        publication: "公表を準備中です。".to_owned(),
        prevention: "検討中".to_owned(),
        other: String::new(),
    }
}

impl Desk {
    /// A report of `kind` with nothing saved yet filled in: the incident's facts, its deadlines
    /// and its latest scope's counts.
    async fn report_base(&self, incident_id: i64, kind: ReportKind) -> Result<Report> {
        let records = self.gateway().records();
        let row = records
            .incident_by_id(incident_id)
            .await?
            .ok_or(RespondError::NotFound(incident_id))?;
        let incident_kind = IncidentKind::parse(&row.kind).unwrap_or(IncidentKind::Other);
        let known = DateTime::<Utc>::from_timestamp(row.known_at, 0).unwrap_or_default();
        let scope = records
            .incident_scopes(incident_id)
            .await?
            .last()
            .map(ScopeFacts::from_row);
        Ok(Report {
            kind,
            incident_id,
            incident_kind,
            title: row.title,
            known_at: row.known_at,
            window_from: row.window_from,
            window_to: row.window_to,
            malicious: row.malicious != 0,
            deadlines: deadlines(known, row.malicious != 0, incident_kind.involves_cards()),
            scope,
            fields: ReportFields::default(),
            version: None,
        })
    }

    /// The report to edit next: the latest saved version of `kind` (its words) with the latest
    /// scope's counts; with none saved, the latest version of the other kind (a 確報 starts from
    /// the 速報); with none at all, a draft from the incident, the scope and `settings` (the
    /// reporter's details).
    pub async fn report_draft(
        &self,
        incident_id: i64,
        kind: ReportKind,
        settings: Option<&ShopSettings>,
    ) -> Result<Report> {
        let mut report = self.report_base(incident_id, kind).await?;
        let versions = self.report_versions(incident_id).await?;
        let latest = versions
            .iter()
            .rev()
            .find(|v| v.kind == kind.as_str())
            .or_else(|| versions.last());
        report.fields =
            match latest.and_then(|v| serde_json::from_str::<SavedReport>(&v.content).ok()) {
                Some(saved) => saved.fields,
                None => draft_fields(&report, settings),
            };
        Ok(report)
    }

    /// Saves the editable parts as a new version of the incident's `kind` report, with the
    /// latest scope's counts. The save is on the timeline (and so the ledger) first, its text
    /// naming the version's id and the SHA-256 of its content; older versions stay as saved.
    pub async fn report_save(
        &self,
        incident_id: i64,
        by: &Principal,
        kind: ReportKind,
        fields: ReportFields,
    ) -> Result<ReportVersionRow> {
        let fields = fields.checked()?;
        let base = self.report_base(incident_id, kind).await?;
        let saved = SavedReport {
            v: 1,
            fields,
            scope: base.scope,
        };
        let content = serde_json::to_string(&saved)
            .map_err(|_| RespondError::Invalid("the report could not be encoded"))?;
        let content_sha256 = hex::encode(Sha256::digest(content.as_bytes()));
        let id = uuid::Uuid::now_v7().to_string();
        let entry = self
            .append(
                incident_id,
                by,
                EntryKind::StaffAction,
                &format!(
                    "個人情報保護委員会への報告（{}）の新しい版を保存（内容の SHA-256 {content_sha256}）",
                    kind.label_ja()
                ),
                Some(&id),
            )
            .await?;
        let mut row = ReportVersionRow {
            id,
            incident_id,
            kind: kind.as_str().to_owned(),
            version: 0,
            saved_at: entry.at,
            saved_by: principal_text(by),
            scope_id: saved.scope.map(|s| s.id),
            content,
            content_sha256,
            timeline_seq: entry.seq,
        };
        row.version = self.gateway().records().incident_report_save(&row).await?;
        Ok(row)
    }

    /// The shop settings as stored (the reporter's details of a draft; a name not set is left
    /// empty for staff to fill in).
    pub async fn shop_settings(&self) -> Result<ShopSettings> {
        let stored = self.gateway().records().settings_all().await?;
        Ok(ShopSettings::from_stored(&stored, ""))
    }

    /// The incident's saved report versions, oldest first.
    pub async fn report_versions(&self, incident_id: i64) -> Result<Vec<ReportVersionRow>> {
        Ok(self
            .gateway()
            .records()
            .incident_reports(incident_id)
            .await?)
    }

    /// One saved version as it was saved (its words and the counts it was made from), with the
    /// incident's facts and deadlines.
    pub async fn report_version(&self, incident_id: i64, version_id: &str) -> Result<Report> {
        let versions = self.report_versions(incident_id).await?;
        let Some(row) = versions.into_iter().find(|v| v.id == version_id) else {
            return Err(RespondError::ReportVersionNotFound);
        };
        let kind = ReportKind::parse(&row.kind).unwrap_or(ReportKind::Sokuho);
        let saved: SavedReport = serde_json::from_str(&row.content)
            .map_err(|_| RespondError::Invalid("a saved report version could not be read"))?;
        let mut report = self.report_base(incident_id, kind).await?;
        report.fields = saved.fields;
        report.scope = saved.scope;
        report.version = Some(VersionInfo {
            id: row.id,
            version: row.version,
            saved_at: row.saved_at,
            saved_by: row.saved_by,
            sha256: row.content_sha256,
        });
        Ok(report)
    }
}
