//! A report as blocks (a heading and its text), and as plain text laid out for the PPC's online
//! form: one block per form item, under the item's Japanese heading, ready to paste.
//!
//! The PDF ([`super::pdf`]) lays out the same blocks.

use crate::deadlines::DeadlineKind;
use crate::kind::IncidentKind;

use super::{category_ja, data_item_ja, date_ja, time_ja, Report, ReportKind};

/// What a block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// The reporter's details.
    Reporter,
    /// The deadlines.
    Deadlines,
    /// One item of 規則8条1項.
    Item,
    /// The scope's counts as computed (not editable).
    Scope,
}

/// One block of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// What it is.
    pub kind: BlockKind,
    /// Its Japanese heading.
    pub heading: String,
    /// Its text (lines separated by `\n`).
    pub body: String,
}

impl Report {
    /// `個人情報保護委員会への報告（速報）`.
    pub fn title_ja(&self) -> String {
        format!("個人情報保護委員会への報告（{}）", self.kind.label_ja())
    }

    /// The lines under the title: the incident, the version (or draft) and the 発覚.
    pub fn header_lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "インシデント番号：{}（{}）",
            self.incident_id,
            self.incident_kind.label_ja()
        )];
        out.push(match &self.version {
            Some(v) => format!(
                "第{}版（{} 保存、内容の SHA-256 {}）",
                v.version,
                time_ja(v.saved_at),
                v.sha256
            ),
            None => "下書き（未保存）".to_owned(),
        });
        out.push(format!("発覚日時：{}", time_ja(self.known_at)));
        out
    }

    fn deadline_lines(&self) -> String {
        let mut lines = Vec::new();
        for d in &self.deadlines {
            let when = match d.from {
                Some(f) => format!("{}から{}まで", date_ja(f), date_ja(d.due)),
                None => format!("{}まで", date_ja(d.due)),
            };
            let mark = match (self.kind, d.kind) {
                (ReportKind::Sokuho, DeadlineKind::PpcPreliminary)
                | (ReportKind::Kakuho, DeadlineKind::PpcFinal) => "（本報告）",
                _ => "",
            };
            lines.push(format!(
                "・{}{mark}：{when}（{}）",
                d.kind.label_ja(),
                d.kind.rule_ja()
            ));
        }
        if self.malicious {
            lines.push("※不正の目的によるもの（おそれを含む）として確報の期限を算定".to_owned());
        }
        lines.join("\n")
    }

    fn scope_lines(&self) -> String {
        let Some(s) = &self.scope else {
            return "影響範囲は未算出です。".to_owned();
        };
        let mut lines = vec![format!(
            "算出日時：{}／台帳 {} 件時点（ルート {}）／内容の SHA-256 {}",
            time_ja(s.computed_at),
            s.tree_size,
            s.root,
            s.sha256
        )];
        if s.payment_attempts > 0
            || matches!(
                self.incident_kind,
                IncidentKind::PaymentPageAltered | IncidentKind::CardScriptAltered
            )
        {
            lines.push(format!("対象期間の決済件数：{}件", s.payment_attempts));
        }
        lines.push(format!("区分別の人数（延べ {}名）", s.people()));
        for (k, n) in &s.categories {
            lines.push(format!("・{}：{n}名", category_ja(k)));
        }
        lines.push("データ項目別の人数".to_owned());
        for (k, n) in &s.data_items {
            lines.push(format!("・{}：{n}名", data_item_ja(k)));
        }
        lines.join("\n")
    }

    /// The report's blocks, in the order of the form: the reporter, the deadlines, the nine
    /// items of 規則8条1項, and the scope's counts as computed.
    pub fn blocks(&self) -> Vec<Block> {
        let reporter = self
            .fields
            .reporter_lines()
            .iter()
            .map(|(h, v)| format!("{h}：{}", if v.is_empty() { "（未記入）" } else { v }))
            .collect::<Vec<_>>()
            .join("\n");
        let mut out = vec![
            Block {
                kind: BlockKind::Reporter,
                heading: "報告者".to_owned(),
                body: reporter,
            },
            Block {
                kind: BlockKind::Deadlines,
                heading: "報告期限".to_owned(),
                body: self.deadline_lines(),
            },
        ];
        for (heading, text) in self.fields.items() {
            out.push(Block {
                kind: BlockKind::Item,
                heading: heading.to_owned(),
                body: if text.is_empty() {
                    "（未記入）".to_owned()
                } else {
                    text.to_owned()
                },
            });
        }
        out.push(Block {
            kind: BlockKind::Scope,
            heading: "影響範囲の算出結果（台帳の記録による）".to_owned(),
            body: self.scope_lines(),
        });
        out
    }

    /// The report as plain text for the PPC's online form: the title and header, then each
    /// block under `■ heading`, separated by a blank line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.title_ja());
        out.push('\n');
        for line in self.header_lines() {
            out.push_str(&line);
            out.push('\n');
        }
        for b in self.blocks() {
            out.push_str("\n■ ");
            out.push_str(&b.heading);
            out.push('\n');
            out.push_str(&b.body);
            out.push('\n');
        }
        out
    }
}
