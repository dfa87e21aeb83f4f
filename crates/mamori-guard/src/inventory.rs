//! The script inventory (PCI DSS 6.4.3): every script a page may run, with its URL, SHA-384
//! digest, the pages it may run on and a written justification (`script_inventory`, migration
//! `0016_script_inventory.sql`).
//!
//! The storefront's Content-Security-Policy is built from it: [`ScriptInventory::reload`] turns
//! the shop's active entries into the web stack's [`ScriptAllowList`], so a page's `script-src`
//! is exactly the digests of the scripts listed for it (no nonce, no host, no
//! `'strict-dynamic'`). A script whose bytes differ from its entry, or one not listed for the
//! page, does not run in the customer's browser, and the browser reports it to the CSP endpoint.
//!
//! Adding or changing an entry ([`ScriptInventory::change`]) needs an owner (the back office's
//! route asks for a fresh second factor), a reason, and the version the owner saw; each change is
//! a new version kept in the history and an `Approve` event on the ledger. The scripts built into
//! mamori are listed at `serve` start ([`ScriptInventory::seed`]) when missing; a built-in script
//! that differs from its listed digest is not re-listed silently: it raises
//! [`kinds::SCRIPT_NOT_LISTED`] and stays blocked until an owner approves the new digest.
//!
//! Several `serve` processes on one database converge by [`ScriptInventory::spawn_refresh`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mamori_store::{access::AccessEvent, script_site, script_state, Accessor, Action, ScriptRow};
use mamori_web::security::{PagePattern, ScriptAllowList, ScriptHash, ScriptPolicy};
use serde_json::json;

use crate::alert::{check_reason, kinds, Alert, Alerts, GuardError, Severity, Subject};

/// Longest justification kept (characters).
pub const JUSTIFICATION_MAX_CHARS: usize = 500;

/// One entry as a caller proposes it (values checked by [`ScriptEntry::parse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEntry {
    /// A path on its site (`/assets/mamori.js`) or a full `https://` URL.
    pub url: String,
    /// [`script_site`].
    pub site: &'static str,
    /// The digest of the script's bytes.
    pub sha384: ScriptHash,
    /// The pages it may run on.
    pub pages: Vec<PagePattern>,
    /// Why the pages need it.
    pub justification: String,
}

impl ScriptEntry {
    /// Checks an entry typed in the back office: a URL without spaces or quotes (a path or an
    /// `http(s)://` URL), a known site, a SHA-384 digest, at least one page pattern
    /// (space-separated), a one-line justification.
    pub fn parse(
        url: &str,
        site: &str,
        sha384: &str,
        pages: &str,
        justification: &str,
    ) -> Result<Self, GuardError> {
        let url = url.trim();
        let url_ok =
            (url.starts_with('/') || url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 500
                && !url
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\'' | '"'));
        if !url_ok {
            return Err(GuardError::Invalid(
                "the URL must be a path or an http(s) URL without spaces",
            ));
        }
        let site = [
            script_site::SHOP,
            script_site::BACKOFFICE,
            script_site::PROVIDER,
        ]
        .into_iter()
        .find(|s| *s == site.trim())
        .ok_or(GuardError::Invalid("unknown site"))?;
        let sha384 = ScriptHash::parse(sha384)
            .map_err(|_| GuardError::Invalid("the digest must be sha384-<base64>"))?;
        let pages = pages
            .split_whitespace()
            .map(PagePattern::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| GuardError::Invalid("a page pattern must be *, /path or /prefix*"))?;
        if pages.is_empty() {
            return Err(GuardError::Invalid("at least one page is required"));
        }
        let justification = justification.trim();
        if justification.is_empty() {
            return Err(GuardError::Invalid("a justification is required"));
        }
        if justification.contains(['\n', '\r'])
            || justification.chars().count() > JUSTIFICATION_MAX_CHARS
        {
            return Err(GuardError::Invalid(
                "the justification must be one line of at most 500 characters",
            ));
        }
        Ok(Self {
            url: url.to_owned(),
            site,
            sha384,
            pages,
            justification: justification.to_owned(),
        })
    }

    fn pages_text(&self) -> String {
        self.pages
            .iter()
            .map(PagePattern::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What [`ScriptInventory::seed`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Built-in scripts listed now (they were missing).
    pub listed: Vec<String>,
    /// Built-in scripts whose bytes differ from their entry (alerted, left blocked).
    pub differing: Vec<String>,
}

/// The inventory: its store, the alerts, and the allow-list it keeps installed in the web stack.
#[derive(Clone)]
pub struct ScriptInventory {
    alerts: Alerts,
    policy: Arc<ScriptPolicy>,
}

impl std::fmt::Debug for ScriptInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScriptInventory")
    }
}

fn row_of(entry: &ScriptEntry, state: &str, by: &str, reason: &str) -> ScriptRow {
    ScriptRow {
        url: entry.url.clone(),
        site: entry.site.to_owned(),
        sha384: entry.sha384.base64().to_owned(),
        pages: entry.pages_text(),
        justification: entry.justification.clone(),
        state: state.to_owned(),
        version: 0,
        changed_by: by.to_owned(),
        reason: reason.to_owned(),
        changed_at: chrono::Utc::now().timestamp(),
    }
}

/// The allow-list of the storefront's pages from the inventory's rows: every active shop entry,
/// on each of its pages. A row whose stored values do not parse allows nothing.
pub fn shop_allow_list(rows: &[ScriptRow]) -> ScriptAllowList {
    let mut list = ScriptAllowList::new();
    for row in rows {
        if row.site != script_site::SHOP || row.state != script_state::ACTIVE {
            continue;
        }
        let Ok(hash) = ScriptHash::parse(&row.sha384) else {
            tracing::error!(url = %row.url, "script inventory row with a malformed digest");
            continue;
        };
        for page in row.pages.split_whitespace() {
            match PagePattern::parse(page) {
                Ok(p) => list = list.allow(p, hash.clone()),
                Err(_) => tracing::error!(url = %row.url, "script inventory row with a bad page"),
            }
        }
    }
    list
}

impl ScriptInventory {
    /// The inventory behind `alerts`' store, installing its allow-list into `policy` (the same
    /// handle the shop's web stack reads).
    pub fn new(alerts: Alerts, policy: Arc<ScriptPolicy>) -> Self {
        Self { alerts, policy }
    }

    /// The allow-list handle.
    pub fn policy(&self) -> Arc<ScriptPolicy> {
        self.policy.clone()
    }

    /// The entries' current versions.
    pub async fn list(&self) -> Result<Vec<ScriptRow>, GuardError> {
        Ok(self.alerts.records().scripts_list().await?)
    }

    /// One entry's versions, newest first.
    pub async fn history(&self, url: &str) -> Result<Vec<ScriptRow>, GuardError> {
        Ok(self.alerts.records().script_history(url).await?)
    }

    /// Reads the inventory and installs the storefront's allow-list.
    pub async fn reload(&self) -> Result<(), GuardError> {
        let rows = self.list().await?;
        self.policy.install(shop_allow_list(&rows));
        Ok(())
    }

    async fn record(&self, acc: &Accessor) -> Result<(), GuardError> {
        self.alerts
            .ledger()
            .record(&AccessEvent::new(acc, Action::Approve, Vec::new(), &[]))
            .await?;
        Ok(())
    }

    /// Lists each of mamori's own scripts that the inventory does not hold yet (as the system,
    /// on the ledger), raises [`kinds::SCRIPT_NOT_LISTED`] for one whose bytes differ from its
    /// active entry, and installs the allow-list.
    pub async fn seed(&self, builtins: &[ScriptEntry]) -> Result<SeedReport, GuardError> {
        let records = self.alerts.records();
        let mut report = SeedReport::default();
        for entry in builtins {
            match records.script_get(&entry.url).await? {
                None => {
                    let reason = "built into mamori";
                    let row = row_of(entry, script_state::ACTIVE, "system", reason);
                    if records.script_put(&row, None).await? {
                        let acc = Accessor::system("guard", "guard.script_inventory")
                            .because(reason)
                            .via(&entry.url);
                        self.record(&acc).await?;
                        report.listed.push(entry.url.clone());
                    }
                }
                Some(row)
                    if row.state == script_state::ACTIVE && row.sha384 != entry.sha384.base64() =>
                {
                    self.alerts
                        .raise(&Alert::new(
                            kinds::SCRIPT_NOT_LISTED,
                            Severity::Critical,
                            Subject::Page(entry.url.clone()),
                            json!({
                                "url": entry.url,
                                "listed_sha384": row.sha384,
                                "served_sha384": entry.sha384.base64(),
                                "listed_version": row.version,
                            }),
                        ))
                        .await?;
                    report.differing.push(entry.url.clone());
                }
                Some(_) => {}
            }
        }
        self.reload().await?;
        Ok(report)
    }

    /// An owner adds (`expected_version: None`) or changes an entry, or retires it
    /// (`retire`): checked, written over the version they saw, kept in the history, recorded on
    /// the ledger with the reason, and the allow-list reinstalled. The caller checks the role
    /// and the second factor (the back office's route table does).
    pub async fn change(
        &self,
        staff_id: &str,
        entry: &ScriptEntry,
        retire: bool,
        expected_version: Option<i64>,
        reason: &str,
        request_id: &str,
    ) -> Result<ScriptRow, GuardError> {
        let reason = check_reason(reason)?;
        let state = if retire {
            script_state::RETIRED
        } else {
            script_state::ACTIVE
        };
        let row = row_of(entry, state, &format!("staff:{staff_id}"), reason);
        let records = self.alerts.records();
        if !records.script_put(&row, expected_version).await? {
            return Err(GuardError::Invalid(
                "the entry was changed by someone else; reload and try again",
            ));
        }
        let acc = Accessor::staff(staff_id, "guard.script_inventory", request_id)
            .because(reason)
            .via(&entry.url);
        self.record(&acc).await?;
        self.reload().await?;
        records
            .script_get(&entry.url)
            .await?
            .ok_or(GuardError::Invalid("the entry vanished"))
    }

    /// The scripts of `scripts` (key to `sha384-…`, as the browser monitor records a page) that
    /// no active entry of `site` lists for the page at `page_path`, by digest.
    pub async fn unlisted(
        &self,
        site: &str,
        page_path: &str,
        scripts: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>, GuardError> {
        let rows = self.list().await?;
        let listed = |digest: &str| {
            let Ok(found) = ScriptHash::parse(digest) else {
                return false;
            };
            rows.iter().any(|r| {
                r.site == site
                    && r.state == script_state::ACTIVE
                    && ScriptHash::parse(&r.sha384).is_ok_and(|h| h == found)
                    && r.pages
                        .split_whitespace()
                        .filter_map(|p| PagePattern::parse(p).ok())
                        .any(|p| p.matches(page_path))
            })
        };
        Ok(scripts
            .iter()
            .filter(|(_, digest)| !listed(digest))
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect())
    }

    /// Lists the scripts the browser monitor saw on the provider's card page at its first
    /// observation (the page's known-good state), each for that page, as the system: the
    /// provider's own scripts are then in the inventory like the shop's, and a later change of
    /// one is a script the inventory does not list. `origin` names inline scripts
    /// (`<origin><path>#inline#n`).
    pub async fn list_first_seen(
        &self,
        origin: &str,
        page_path: &str,
        scripts: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, GuardError> {
        let mut listed = Vec::new();
        for (key, digest) in self
            .unlisted(script_site::PROVIDER, page_path, scripts)
            .await?
        {
            let url = if key.starts_with("https://") || key.starts_with("http://") {
                key.clone()
            } else {
                format!("{origin}{page_path}#{key}")
            };
            let Ok(entry) = ScriptEntry::parse(
                &url,
                script_site::PROVIDER,
                &digest,
                page_path,
                "決済代行会社のカード入力ページのスクリプト（ページ監視の初回観測） / \
                 The provider's card page script (the page monitor's first observation)",
            ) else {
                tracing::warn!("monitor: a provider script could not be listed");
                continue;
            };
            let reason = "first observation by the page monitor";
            let row = row_of(&entry, script_state::ACTIVE, "system", reason);
            if self.alerts.records().script_put(&row, None).await? {
                let acc = Accessor::system("monitor", "guard.script_inventory")
                    .because(reason)
                    .via(&entry.url);
                self.record(&acc).await?;
                listed.push(entry.url);
            }
        }
        Ok(listed)
    }

    /// Re-reads the inventory every `every`, so that a change made through another `serve`
    /// process on the same database reaches this one's CSP. Runs until the handle is aborted.
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = me.reload().await {
                    tracing::warn!(error = %err, "script inventory reload failed");
                }
            }
        })
    }
}

/// mamori's own storefront script (the double-submit guard) as an inventory entry.
pub fn shop_builtin() -> ScriptEntry {
    ScriptEntry {
        url: mamori_web::page::SCRIPT_INVENTORY_URL.to_owned(),
        site: script_site::SHOP,
        sha384: ScriptHash::of(mamori_web::page::SCRIPT.as_bytes()),
        pages: vec![PagePattern::all()],
        justification: "二重送信の防止（フォームの二度押しで注文が重複しないように） / \
                        Stops a form from being sent twice by a double click"
            .to_owned(),
    }
}
