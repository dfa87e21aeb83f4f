//! The script inventory (part of [`crate::Records`], migration `0016_script_inventory.sql`):
//! every script a page may run, with its SHA-384 digest, its pages and its justification, each
//! change a new version kept in a history. `mamori-guard::inventory` checks the values, records
//! who changed what on the ledger and builds the storefront's CSP from it.

use async_trait::async_trait;

use crate::error::Result;

/// Values of `script_inventory.state`.
pub mod script_state {
    /// Allowed on its pages.
    pub const ACTIVE: &str = "active";
    /// Kept for the record, allowed nowhere.
    pub const RETIRED: &str = "retired";
}

/// Values of `script_inventory.site`: where the pages that run the script are served.
pub mod script_site {
    /// The storefront (its CSP is built from these rows).
    pub const SHOP: &str = "shop";
    /// The back office.
    pub const BACKOFFICE: &str = "backoffice";
    /// The payment provider's hosted card page (watched by the browser monitor).
    pub const PROVIDER: &str = "provider";
}

/// One version of one inventory entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ScriptRow {
    /// Where the script is loaded from: a path on its site or a full URL (the entry's key).
    pub url: String,
    /// [`script_site`].
    pub site: String,
    /// The SHA-384 digest, base64.
    pub sha384: String,
    /// The pages it may run on, space-separated patterns.
    pub pages: String,
    /// Why the page needs it.
    pub justification: String,
    /// [`script_state`].
    pub state: String,
    /// 1 for the first version, then one more per change.
    pub version: i64,
    /// Who made this version (`staff:<id>` or `system`).
    pub changed_by: String,
    /// Why.
    pub reason: String,
    /// When (Unix seconds).
    pub changed_at: i64,
}

/// The inventory's storage.
#[async_trait]
pub trait ScriptInventoryStore: Send + Sync {
    /// The entries' current versions, by site and URL.
    async fn scripts_list(&self) -> Result<Vec<ScriptRow>>;

    /// One entry's current version.
    async fn script_get(&self, url: &str) -> Result<Option<ScriptRow>>;

    /// Writes `row` as the entry's next version if the current version is still `expected`
    /// (`None`: the entry must not exist yet), and keeps it in the history, in one transaction.
    /// `row.version` is ignored and set to `expected + 1` (or 1). False, and nothing written, if
    /// someone changed the entry in between.
    async fn script_put(&self, row: &ScriptRow, expected: Option<i64>) -> Result<bool>;

    /// Every version of one entry, newest first.
    async fn script_history(&self, url: &str) -> Result<Vec<ScriptRow>>;
}
