//! The incident desk's switches: close the shop, stop card payment only, freeze every member of
//! staff but the owners, rotate the keys.
//!
//! The state lives in the store (`guard_switches`, shared with the file guard, so that a file
//! guard's closing of card payment and an incident's are the same switch). Each `mamori serve`
//! keeps a [`Switchboard`] in memory, refreshed from the store every [`REFRESH`] by
//! [`Switchboard::spawn_refresh`]: a storefront request reads an atomic flag, never the database.
//! A switch set through one process is applied there at once and reaches every other process on
//! the same database at its next refresh.
//!
//! Fail-safe: when a refresh fails (the database unreachable), the board keeps the last state it
//! read (a closed shop stays closed, frozen staff stay frozen; an open shop stays open, and can
//! do nothing without its database anyway) and logs the failure; the next refresh that succeeds
//! applies whatever changed meanwhile.
//!
//! Setting a switch needs a reason; the back office also needs a fresh second factor and the
//! incident permission (freezing staff: owners only). Each change is first appended to the
//! incident's timeline (and so to the ledger), then applied.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use chrono::Utc;
use mamori_store::store::alerts::{CARD_PAYMENT, KEY_RING, SHOP, STAFF};
use mamori_store::{switch_state, Accessor, Gateway, GuardSwitchRow, Principal};
use mamori_web::maintenance::Maintenance;

use crate::desk::{checked_text, principal_text, Desk};
use crate::kind::EntryKind;
use crate::{RespondError, Result};

/// How often a running process reads the switches again.
pub const REFRESH: Duration = Duration::from_millis(500);

/// One of the desk's switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Switch {
    /// Close the storefront (the maintenance page answers; the webhook and the payment return
    /// keep working).
    Shop,
    /// Stop card payment only (the other methods stay): the `card_payment` guard switch.
    Card,
    /// Freeze every member of staff but the owners.
    Staff,
    /// Rotate the master key and re-wrap every data key (an action, not a state).
    Keys,
}

impl Switch {
    /// Every switch, in the order screens list them.
    pub const ALL: [Switch; 4] = [Switch::Shop, Switch::Card, Switch::Staff, Switch::Keys];

    /// The code in forms and commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Shop => "shop",
            Switch::Card => "card",
            Switch::Staff => "staff",
            Switch::Keys => "keys",
        }
    }

    /// Parses a code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// The name of its row in the store.
    pub fn store_name(self) -> &'static str {
        match self {
            Switch::Shop => SHOP,
            Switch::Card => CARD_PAYMENT,
            Switch::Staff => STAFF,
            Switch::Keys => KEY_RING,
        }
    }

    /// Japanese label of the action (`on`: turned on; `off`: lifted).
    pub fn label_ja(self, on: bool) -> &'static str {
        match (self, on) {
            (Switch::Shop, true) => "ショップを閉鎖（メンテナンス表示）",
            (Switch::Shop, false) => "ショップを再開",
            (Switch::Card, true) => "カード決済を停止",
            (Switch::Card, false) => "カード決済を再開",
            (Switch::Staff, true) => "オーナー以外のスタッフを凍結",
            (Switch::Staff, false) => "スタッフの凍結を解除",
            (Switch::Keys, _) => "鍵をローテーション（新しいマスター鍵、データ鍵を再ラップ）",
        }
    }
}

/// A change asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchChange {
    /// Which switch.
    pub switch: Switch,
    /// On (close, stop, freeze, rotate) or off (lift).
    pub on: bool,
    /// Why (required; no customer's value).
    pub reason: String,
    /// For closing the shop: the public notice's URL (else the board's configured one).
    pub notice_url: Option<String>,
}

/// What a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchOutcome {
    /// The timeline entry's sequence number.
    pub seq: i64,
    /// For a key rotation: the new master key id and how many data keys were re-wrapped.
    pub rotated: Option<(String, usize)>,
}

struct Board {
    maintenance: Maintenance,
    card_stopped: AtomicBool,
    staff_frozen: AtomicBool,
    default_notice: std::sync::RwLock<Option<String>>,
}

/// The switches as this process knows them (shared by clones). See the module's text.
#[derive(Clone)]
pub struct Switchboard {
    inner: Arc<Board>,
}

impl std::fmt::Debug for Switchboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switchboard")
            .field("shop_closed", &self.shop_closed())
            .field("card_stopped", &self.card_stopped())
            .field("staff_frozen", &self.staff_frozen())
            .finish()
    }
}

impl Default for Switchboard {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Switchboard {
    /// Every switch off; `default_notice` is the public notice URL linked from the maintenance
    /// page when a closing names none.
    pub fn new(default_notice: Option<String>) -> Self {
        Self {
            inner: Arc::new(Board {
                maintenance: Maintenance::new(),
                card_stopped: AtomicBool::new(false),
                staff_frozen: AtomicBool::new(false),
                default_notice: std::sync::RwLock::new(default_notice),
            }),
        }
    }

    /// Sets the public notice URL linked when a closing names none (`[shop] notice_url`).
    pub fn set_default_notice(&self, url: Option<String>) {
        match self.inner.default_notice.write() {
            Ok(mut n) => *n = url,
            Err(p) => *p.into_inner() = url,
        }
    }

    fn default_notice(&self) -> Option<String> {
        match self.inner.default_notice.read() {
            Ok(n) => n.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The storefront's maintenance switch (give it to the shop's assembly).
    pub fn maintenance(&self) -> Maintenance {
        self.inner.maintenance.clone()
    }

    /// Whether the shop is closed.
    pub fn shop_closed(&self) -> bool {
        self.inner.maintenance.is_closed()
    }

    /// Whether card payment is stopped (the checkout reads the store itself when it offers
    /// methods; this is for screens).
    pub fn card_stopped(&self) -> bool {
        self.inner.card_stopped.load(Ordering::Acquire)
    }

    /// Whether every member of staff but the owners is frozen.
    pub fn staff_frozen(&self) -> bool {
        self.inner.staff_frozen.load(Ordering::Acquire)
    }

    /// Applies one stored row to this process (and, for the key ring, reloads the key file
    /// when the active master key changed).
    async fn apply(&self, gw: &Gateway, row: &GuardSwitchRow) {
        let closed = row.state == switch_state::CLOSED;
        match row.name.as_str() {
            SHOP => self.inner.maintenance.set(closed, row.detail.clone()),
            CARD_PAYMENT => self.inner.card_stopped.store(closed, Ordering::Release),
            STAFF => self.inner.staff_frozen.store(closed, Ordering::Release),
            KEY_RING => {
                let changed = row
                    .detail
                    .as_deref()
                    .is_some_and(|id| id != gw.active_master_key_id());
                if changed {
                    if let Err(err) = gw.reload_keys().await {
                        tracing::error!(error = %err, "could not reload the key file after a rotation");
                    }
                }
            }
            _ => {}
        }
    }

    /// Reads every switch from the store and applies it.
    pub async fn refresh(&self, gw: &Gateway) -> Result<()> {
        let rows = gw.records().guard_switches_all().await?;
        for row in &rows {
            self.apply(gw, row).await;
        }
        Ok(())
    }

    /// Refreshes every `every` until the handle is aborted (the first read at once). A failed
    /// read keeps the last state and is logged (see the module's text).
    pub fn spawn_refresh(&self, gw: Gateway, every: Duration) -> tokio::task::JoinHandle<()> {
        let board = self.clone();
        mamori_web::poll::spawn_every("the switches", every, move || {
            let (board, gw) = (board.clone(), gw.clone());
            async move { board.refresh(&gw).await }
        })
    }

    /// Turns a switch for an incident: the change is appended to the incident's timeline (and
    /// the ledger) first, then stored and applied to this process; other processes apply it at
    /// their next refresh. A key rotation writes the key file, swaps this process's ring and
    /// re-wraps every data key.
    ///
    /// Refused ([`RespondError::Invalid`]): an empty reason; turning the key rotation "off".
    pub async fn set(
        &self,
        desk: &Desk,
        incident_id: i64,
        by: &Principal,
        change: &SwitchChange,
    ) -> Result<SwitchOutcome> {
        let reason = checked_text(
            &change.reason,
            "a reason is required (at most 2000 characters)",
        )?;
        if change.switch == Switch::Keys && !change.on {
            return Err(RespondError::Invalid(
                "keys are rotated, not turned off: use `on`",
            ));
        }
        let gw = desk.gateway();
        let notice = match change.switch {
            Switch::Shop if change.on => change
                .notice_url
                .clone()
                .filter(|u| !u.trim().is_empty())
                .or_else(|| self.default_notice()),
            _ => None,
        };
        let mut text = format!("{}。理由: {reason}", change.switch.label_ja(change.on));
        if let Some(url) = &notice {
            text.push_str(&format!("（お知らせ: {url}）"));
        }
        let code = format!("switch:{}:{}", change.switch.as_str(), on_off(change.on));
        let entry = desk
            .append(incident_id, by, EntryKind::Switch, &text, Some(&code))
            .await?;
        let mut row = GuardSwitchRow {
            name: change.switch.store_name().to_owned(),
            state: if change.on {
                switch_state::CLOSED
            } else {
                switch_state::OPEN
            }
            .to_owned(),
            reason: reason.clone(),
            alert_id: None,
            changed_by: Some(principal_text(by)),
            changed_at: Utc::now().timestamp(),
            detail: notice,
            incident_id: Some(incident_id),
        };
        let mut rotated = None;
        if change.switch == Switch::Keys {
            let acc = Accessor {
                principal: by.clone(),
                purpose: "keys.rotate".to_owned(),
                request_id: format!("incident:{incident_id}"),
                channel: None,
                reason: Some(reason),
            };
            let done = gw.rotate_master_key(&acc).await;
            let (id, moved) = match done {
                Ok(r) => r,
                Err(err) => {
                    // The timeline says it was asked for; say that it failed too.
                    let _ = desk
                        .append(
                            incident_id,
                            by,
                            EntryKind::Switch,
                            "鍵のローテーションに失敗しました",
                            Some(&code),
                        )
                        .await;
                    return Err(err.into());
                }
            };
            row.state = switch_state::OPEN.to_owned();
            row.detail = Some(id.clone());
            rotated = Some((id, moved));
        }
        gw.records().guard_switch_set(&row).await?;
        self.apply(gw, &row).await;
        Ok(SwitchOutcome {
            seq: entry.seq,
            rotated,
        })
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in Switch::ALL {
            assert_eq!(Switch::parse(s.as_str()), Some(s));
        }
        assert_eq!(Switch::parse("all"), None);
    }
}
