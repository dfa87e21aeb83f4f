//! What kind of incident it is, and the stored codes of its record and timeline.

use serde::Serialize;

/// The kind of an incident: what happened, as the notices of Japanese shops tell it. The kind
/// decides which scope can be computed and which reports are owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The database (or a backup of it) was copied.
    DatabaseCopied,
    /// A staff account was used to read customers' data it should not have.
    StaffMisuse,
    /// The shop's payment page was altered (notice 003).
    PaymentPageAltered,
    /// A third-party script on the card page was altered (notice 004).
    CardScriptAltered,
    /// Card data was found stored on a server (notice 002; `mamori scan`).
    CardDataFound,
    /// Anything else.
    Other,
}

impl IncidentKind {
    /// Every kind, in the order screens list them.
    pub const ALL: [IncidentKind; 6] = [
        IncidentKind::DatabaseCopied,
        IncidentKind::StaffMisuse,
        IncidentKind::PaymentPageAltered,
        IncidentKind::CardScriptAltered,
        IncidentKind::CardDataFound,
        IncidentKind::Other,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::DatabaseCopied => "database_copied",
            IncidentKind::StaffMisuse => "staff_misuse",
            IncidentKind::PaymentPageAltered => "payment_page_altered",
            IncidentKind::CardScriptAltered => "card_script_altered",
            IncidentKind::CardDataFound => "card_data_found",
            IncidentKind::Other => "other",
        }
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            IncidentKind::DatabaseCopied => "データベースの複製・持ち出し",
            IncidentKind::StaffMisuse => "スタッフアカウントの不正利用",
            IncidentKind::PaymentPageAltered => "決済ページの改ざん",
            IncidentKind::CardScriptAltered => "カード入力ページの外部スクリプト改ざん",
            IncidentKind::CardDataFound => "サーバー上のカード情報の発見",
            IncidentKind::Other => "その他",
        }
    }

    /// Whether card data may be involved (the card companies' deadlines apply).
    pub fn involves_cards(self) -> bool {
        matches!(
            self,
            IncidentKind::PaymentPageAltered
                | IncidentKind::CardScriptAltered
                | IncidentKind::CardDataFound
                | IncidentKind::DatabaseCopied
        )
    }
}

/// The kinds of timeline entry (stored codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// The incident was opened.
    Opened,
    /// An alert of the guard belongs to it.
    Alert,
    /// A switch was turned (shop closed, card payment stopped, staff frozen, keys rotated).
    Switch,
    /// Something a member of staff did.
    StaffAction,
    /// A note.
    Note,
    /// The incident's state changed.
    State,
    /// A scope was computed and saved.
    Scope,
}

impl EntryKind {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Opened => "opened",
            EntryKind::Alert => "alert",
            EntryKind::Switch => "switch",
            EntryKind::StaffAction => "staff_action",
            EntryKind::Note => "note",
            EntryKind::State => "state",
            EntryKind::Scope => "scope",
        }
    }

    /// Japanese label of a stored code (the code itself when unknown).
    pub fn label_ja(code: &str) -> &str {
        match code {
            "opened" => "起票",
            "alert" => "検知アラート",
            "switch" => "切り替え",
            "staff_action" => "スタッフの操作",
            "note" => "メモ",
            "state" => "状態の変更",
            "scope" => "影響範囲の算出",
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in IncidentKind::ALL {
            assert_eq!(IncidentKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(IncidentKind::parse("nope"), None);
    }
}
