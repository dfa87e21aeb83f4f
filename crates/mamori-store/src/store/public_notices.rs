//! The public notice's area of the store (part of [`crate::Records`], migration
//! `0026_public_notices.sql`): every saved version of an incident's お詫びとお知らせ page (kept,
//! append-only) and which version the storefront shows.
//!
//! Also the readings of a scope snapshot's content that both the incident desk and the
//! storefront need, without a value: one customer's affected field codes ([`scope_fields_of`])
//! and the whole scope's counts ([`scope_summary`]). The words people read for those codes are
//! the web layer's (`mamori_web::labels::item_kinds`).
//!
//! Nothing here is personal: staff's words, counts, kinds of items, ids.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::error::Result;

/// One saved version of an incident's public notice.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PublicNoticeVersionRow {
    /// The incident.
    pub incident_id: i64,
    /// 1-based per incident (given by the store on save; the one passed is ignored).
    pub version: i64,
    /// When it was saved (Unix seconds).
    pub saved_at: i64,
    /// By whom (`staff:<id>`, `system:<name>`).
    pub saved_by: String,
    /// Why (staff's words).
    pub reason: String,
    /// The scope snapshot its counts come from.
    pub scope_id: Option<String>,
    /// Japanese title.
    pub title_ja: String,
    /// Japanese text.
    pub body_ja: String,
    /// English title.
    pub title_en: String,
    /// English text.
    pub body_en: String,
    /// SHA-256 of the texts (hex).
    pub content_sha256: String,
}

/// Which version of an incident's notice the storefront shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PublicNoticeStateRow {
    /// The incident.
    pub incident_id: i64,
    /// The version shown; `None` once unpublished.
    pub version: Option<i64>,
    /// When it was last published or unpublished (Unix seconds).
    pub changed_at: i64,
    /// By whom.
    pub changed_by: String,
    /// The first publication (Unix seconds).
    pub first_published_at: i64,
}

/// A published notice with its shown version's text.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishedNoticeRow {
    /// The incident.
    pub incident_id: i64,
    /// The version shown.
    pub version: i64,
    /// When that version was published (Unix seconds).
    pub changed_at: i64,
    /// The first publication (Unix seconds).
    pub first_published_at: i64,
    /// Japanese title.
    pub title_ja: String,
    /// Japanese text.
    pub body_ja: String,
    /// English title.
    pub title_en: String,
    /// English text.
    pub body_en: String,
}

/// The public notices' storage.
#[async_trait]
pub trait PublicNoticeStore: Send + Sync {
    /// Saves a new version: its `version` is the next of the incident's (the one given is
    /// ignored); returns the version it got.
    async fn public_notice_save(&self, row: &PublicNoticeVersionRow) -> Result<i64>;

    /// An incident's saved versions, oldest first.
    async fn public_notice_versions(&self, incident_id: i64)
        -> Result<Vec<PublicNoticeVersionRow>>;

    /// Shows `version` of the incident's notice on the storefront, or none (`None`: unpublished).
    /// False when the version does not exist.
    async fn public_notice_set_shown(
        &self,
        incident_id: i64,
        version: Option<i64>,
        at: i64,
        by: &str,
    ) -> Result<bool>;

    /// Which version of the incident's notice is shown, if it was ever published.
    async fn public_notice_state(&self, incident_id: i64) -> Result<Option<PublicNoticeStateRow>>;

    /// Every published notice with its shown version, the newest first publication first.
    async fn public_notices_published(&self) -> Result<Vec<PublishedNoticeRow>>;
}

/// The field codes a scope snapshot's content (canonical JSON) names for `customer_id`, once
/// each, sorted: empty when the customer is not in it (or the content cannot be read).
pub fn scope_fields_of(content: &str, customer_id: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(content) else {
        return Vec::new();
    };
    let mut fields = BTreeSet::new();
    if let Some(subjects) = v.get("subjects").and_then(|s| s.as_object()) {
        for list in subjects.values().filter_map(|l| l.as_array()) {
            for s in list {
                if s.get("customer_id").and_then(|c| c.as_str()) == Some(customer_id) {
                    for f in s
                        .get("fields")
                        .and_then(|f| f.as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.as_str())
                    {
                        fields.insert(f.to_owned());
                    }
                }
            }
        }
    }
    fields.into_iter().collect()
}

/// Every customer id a scope snapshot's content (canonical JSON) names, once each: empty when
/// the content cannot be read. The inquiry desk matches senders against it.
pub fn scope_customers(content: &str) -> BTreeSet<String> {
    let mut customers = BTreeSet::new();
    let Ok(v) = serde_json::from_str::<serde_json::Value>(content) else {
        return customers;
    };
    if let Some(subjects) = v.get("subjects").and_then(|s| s.as_object()) {
        for list in subjects.values().filter_map(|l| l.as_array()) {
            for s in list {
                if let Some(c) = s.get("customer_id").and_then(|c| c.as_str()) {
                    customers.insert(c.to_owned());
                }
            }
        }
    }
    customers
}

/// What a scope snapshot's content counts, without anyone's id: the people it names (distinct
/// customers, plus people standing for 名入れ lines counted as the scope counts them) and the
/// field codes concerned.
pub fn scope_summary(content: &str) -> (u64, Vec<String>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(content) else {
        return (0, Vec::new());
    };
    let mut customers = BTreeSet::new();
    if let Some(subjects) = v.get("subjects").and_then(|s| s.as_object()) {
        for list in subjects.values().filter_map(|l| l.as_array()) {
            for s in list {
                if let Some(c) = s.get("customer_id").and_then(|c| c.as_str()) {
                    customers.insert(c.to_owned());
                }
            }
        }
    }
    let items = v
        .get("data_items")
        .and_then(|d| d.as_object())
        .map(|d| {
            d.iter()
                .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    (customers.len() as u64, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_in_a_scope() {
        let content = r#"{"v":1,"data_items":{"customers.name":2,"customers.phone":0},
            "subjects":{"customers":[{"customer_id":"a","fields":["customers.name","customers.email"]},
            {"customer_id":"b","fields":["customers.name"]}],
            "members":[{"customer_id":"a","fields":["orders.buyer_name"]}]}}"#;
        assert_eq!(
            scope_fields_of(content, "a"),
            vec!["customers.email", "customers.name", "orders.buyer_name"]
        );
        assert!(scope_fields_of(content, "c").is_empty());
        assert!(scope_fields_of("not json", "a").is_empty());
        assert_eq!(
            scope_customers(content).into_iter().collect::<Vec<_>>(),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert!(scope_customers("not json").is_empty());
        let (people, items) = scope_summary(content);
        assert_eq!(people, 2);
        assert_eq!(items, vec!["customers.name"]);
    }
}
