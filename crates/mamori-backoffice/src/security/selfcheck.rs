//! `GET /security/self-check`: the card guideline's five measures for EC merchants
//! (クレジットカード・セキュリティガイドライン v6.0) and the items of IPA's EC-site security
//! guideline that software can meet, each with evidence from this shop, checked when the page
//! loads: a request to the storefront's own listener, the staff table, the signed file baseline,
//! the script inventory against the browser monitor's observations, the ledger against its
//! newest signed checkpoint, the read limits, the canaries. Nothing personal is read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::{extract::State, response::Response};
use mamori_store::{observation_state, script_site, AlertFilter};
use mamori_web::{errors::AppError, page::render};

use super::Words;
use crate::{
    ctx::Ctx,
    fail,
    state::{fmt_secs, BackofficeState},
};

/// Back-office paths the storefront is asked for (none of them is a shop route).
pub const PROBE_PATHS: &[&str] = &["/dashboard", "/staff-log", "/security", "/enrol/done"];
/// How long the storefront has to answer one probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// An item's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckState {
    /// Met, as the evidence shows.
    Ok,
    /// Not met: something to do (要対応).
    Todo,
    /// Not checked by mamori, or not checkable now (未確認).
    Unknown,
}

impl CheckState {
    /// The stable name used in the page's markup.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Ok => "ok",
            CheckState::Todo => "todo",
            CheckState::Unknown => "unknown",
        }
    }

    /// The label shown.
    pub fn label(self) -> &'static str {
        match self {
            CheckState::Ok => "OK",
            CheckState::Todo => "要対応",
            CheckState::Unknown => "未確認",
        }
    }
}

/// One item of the self-check.
#[derive(Clone, Debug)]
pub struct Item {
    /// Stable id (markup).
    pub id: &'static str,
    /// What is checked.
    pub title: String,
    /// The verdict.
    pub state: CheckState,
    /// The evidence line.
    pub evidence: String,
}

/// A heading and its items.
#[derive(Clone, Debug)]
pub struct Group {
    /// Stable id (markup).
    pub id: &'static str,
    /// The measure or guideline section.
    pub title: String,
    /// Its items.
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "security/selfcheck.html")]
struct SelfCheckPage {
    c: Ctx,
    checked_at: String,
    groups: Vec<Group>,
}

fn item(id: &'static str, title: &str, state: CheckState, evidence: String) -> Item {
    Item {
        id,
        title: title.to_owned(),
        state,
        evidence,
    }
}

/// What the storefront's listener answered for the back-office paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// No storefront address is configured for this back office.
    NotConfigured,
    /// The storefront could not be asked (not listening, timed out).
    Unreachable(String),
    /// Every path answered 404.
    NotServed,
    /// These paths answered with something else (status).
    Served(Vec<(String, u16)>),
}

/// Asks the storefront at `base` for each of [`PROBE_PATHS`], redirects not followed: a back
/// office mounted on the storefront answers with its page, a redirect to its login or a 403.
pub async fn probe_storefront(base: Option<&mamori_pay::url::Url>) -> Probe {
    let Some(base) = base else {
        return Probe::NotConfigured;
    };
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PROBE_TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => return Probe::Unreachable(e.to_string()),
    };
    let mut served = Vec::new();
    for path in PROBE_PATHS {
        let Ok(url) = base.join(path) else {
            return Probe::Unreachable("bad storefront URL".into());
        };
        match client.get(url).send().await {
            Ok(res) if res.status() == reqwest::StatusCode::NOT_FOUND => {}
            Ok(res) => served.push(((*path).to_owned(), res.status().as_u16())),
            // The error names the URL only (our own storefront), never a value.
            Err(e) => return Probe::Unreachable(e.without_url().to_string()),
        }
    }
    if served.is_empty() {
        Probe::NotServed
    } else {
        Probe::Served(served)
    }
}

/// Measure 1: the admin screens' access restriction and staff credentials.
async fn admin_access(state: &BackofficeState, c: Words) -> Result<Vec<Item>, AppError> {
    let mut items = Vec::new();
    let base = state.config.storefront_url.as_ref();
    let (st, ev) = match probe_storefront(base).await {
        Probe::NotConfigured => (
            CheckState::Unknown,
            c.t(
                "ストアフロントのアドレスが設定されていないため確認できません。",
                "No storefront address is configured, so it could not be asked.",
            )
            .to_owned(),
        ),
        Probe::Unreachable(why) => (
            CheckState::Unknown,
            format!(
                "{}{why}",
                c.t(
                    "ストアフロントに接続できませんでした: ",
                    "The storefront did not answer: "
                )
            ),
        ),
        Probe::NotServed => (
            CheckState::Ok,
            format!(
                "{} {} ({})",
                c.t(
                    "いいえ（今確認）：ストアフロントは管理画面のパスに 404 を返しました",
                    "No (checked now): the storefront answered 404 to the back office's paths",
                ),
                PROBE_PATHS.join(", "),
                base.map(|u| u.as_str()).unwrap_or_default()
            ),
        ),
        Probe::Served(paths) => (
            CheckState::Todo,
            format!(
                "{} {}",
                c.t(
                    "はい（今確認）：ストアフロントが管理画面のパスに応答しました",
                    "Yes (checked now): the storefront answered the back office's paths",
                ),
                paths
                    .iter()
                    .map(|(p, s)| format!("{p} → {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    items.push(item(
        "backoffice-not-on-storefront",
        c.t(
            "管理画面はストアフロントから到達できない",
            "The back office is not reachable from the storefront",
        ),
        st,
        ev,
    ));

    let open = state
        .config
        .allowed_cidrs
        .iter()
        .any(|n| n.prefix_len() == 0);
    let nets = state
        .config
        .allowed_cidrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    items.push(item(
        "allow-list",
        c.t(
            "管理画面への接続元IPアドレスを制限している",
            "Connections to the back office are limited by IP address",
        ),
        if open || state.config.allowed_cidrs.is_empty() {
            CheckState::Todo
        } else {
            CheckState::Ok
        },
        format!("{}{nets}", c.t("許可リスト: ", "Allow-list: ")),
    ));

    let loopback_only = state
        .config
        .allowed_cidrs
        .iter()
        .all(|n| n.addr().is_loopback());
    items.push(item(
        "tls",
        c.t(
            "管理画面の通信を暗号化している（ループバック以外から使う場合）",
            "The back office is encrypted (when used beyond loopback)",
        ),
        if state.config.tls || loopback_only {
            CheckState::Ok
        } else {
            CheckState::Todo
        },
        if state.config.tls {
            c.t("TLS で提供しています。", "Served over TLS.").to_owned()
        } else if loopback_only {
            c.t(
                "TLS なし、ただし接続元はこのマシン（ループバック）のみです。",
                "No TLS, but only this machine (loopback) may connect.",
            )
            .to_owned()
        } else {
            c.t(
                "TLS なしで、ループバック以外からの接続を許可しています。前段に TLS を置いてください。",
                "No TLS, and connections from beyond loopback are allowed: put TLS in front.",
            )
            .to_owned()
        },
    ));

    let staff = state.store.staff_list().await.map_err(fail("staff list"))?;
    let active = staff
        .iter()
        .filter(|s| s.state == mamori_staff::state::ACTIVE)
        .count();
    let without = state
        .store
        .staff_without_second_factor()
        .await
        .map_err(fail("staff without a factor"))?;
    items.push(item(
        "second-factor",
        c.t(
            "全スタッフが二要素認証（パスキーまたはTOTP）を使っている",
            "Every member of staff signs in with a second factor (passkey or TOTP)",
        ),
        if without == 0 {
            CheckState::Ok
        } else {
            CheckState::Todo
        },
        format!(
            "{}{without} / {active}",
            c.t(
                "第二要素のない有効なスタッフ: ",
                "Active staff without a second factor: "
            )
        ),
    ));
    Ok(items)
}

/// Measure 2 (and measure 4's substitute): the signed baseline of the shop's files.
async fn file_guard(state: &BackofficeState, c: Words) -> Result<(Item, String), AppError> {
    let Some(guard) = state.guard.get().cloned() else {
        let ev = c
            .t(
                "このプロセスではファイル監視が動いていません（mamori serve の [guard] を確認）。",
                "The file watch is not running in this process (see [guard] of mamori serve).",
            )
            .to_owned();
        return Ok((
            item(
                "file-baseline",
                c.t(
                    "公開ディレクトリ・設定ファイルの署名済み基準があり、差分がない",
                    "A signed baseline of the shop's files exists and nothing differs",
                ),
                CheckState::Unknown,
                ev.clone(),
            ),
            ev,
        ));
    };
    let (st, ev) = match guard.verify_stored() {
        Err(e) => (
            CheckState::Todo,
            format!(
                "{}{e}",
                c.t(
                    "基準ファイルを検証できません: ",
                    "The baseline does not verify: "
                )
            ),
        ),
        Ok(files) => {
            let pending = guard.pending().await.map_err(fail("file check"))?;
            let text = format!(
                "{}{files}{}{}",
                c.t(
                    "署名を今検証しました。対象ファイル数: ",
                    "Signature verified now; files: "
                ),
                c.t("、基準との差分: ", ", differences: "),
                pending.len()
            );
            (
                if pending.is_empty() {
                    CheckState::Ok
                } else {
                    CheckState::Todo
                },
                text,
            )
        }
    };
    Ok((
        item(
            "file-baseline",
            c.t(
                "公開ディレクトリ・設定ファイルの署名済み基準があり、差分がない",
                "A signed baseline of the shop's files exists and nothing differs",
            ),
            st,
            ev.clone(),
        ),
        ev,
    ))
}

/// The payment pages' scripts (as the browser monitor last saw them) against the inventory.
async fn scripts_covered(state: &BackofficeState, c: Words) -> Result<Item, AppError> {
    let title = c.t(
        "決済ページの全スクリプトがスクリプト一覧に登録されている",
        "Every script of the payment pages is in the script inventory",
    );
    let Some(inventory) = state.scripts.get() else {
        return Ok(item(
            "script-inventory",
            title,
            CheckState::Unknown,
            c.t(
                "このプロセスではスクリプト一覧が読み込まれていません。",
                "The script inventory is not loaded in this process.",
            )
            .to_owned(),
        ));
    };
    let observations = state
        .store
        .observations_all()
        .await
        .map_err(fail("observations"))?;
    let (mut pages, mut scripts, mut unlisted) = (0usize, 0usize, Vec::new());
    for o in &observations {
        // The checkout form and the provider's card page are the payment pages.
        let (site, path) = if o.page.starts_with('/') {
            if !o.page.starts_with("/checkout") {
                continue;
            }
            (script_site::SHOP, o.page.clone())
        } else {
            let path = mamori_pay::url::Url::parse(&o.page)
                .map(|u| u.path().replace("%7Bpayment%7D", "{payment}"))
                .unwrap_or_else(|_| o.page.clone());
            (script_site::PROVIDER, path)
        };
        let map: BTreeMap<String, String> = serde_json::from_str(&o.scripts).unwrap_or_default();
        pages += 1;
        scripts += map.len();
        let missing = inventory
            .unlisted(site, &path, &map)
            .await
            .map_err(fail("inventory check"))?;
        unlisted.extend(missing.into_iter().map(|(k, _)| format!("{} {k}", o.page)));
    }
    Ok(if pages == 0 {
        item(
            "script-inventory",
            title,
            CheckState::Unknown,
            c.t(
                "ブラウザ監視による決済ページの観測がまだありません。",
                "The browser monitor has not observed a payment page yet.",
            )
            .to_owned(),
        )
    } else if unlisted.is_empty() {
        item(
            "script-inventory",
            title,
            CheckState::Ok,
            format!(
                "{}{pages}{}{scripts}{}",
                c.t("観測された決済ページ ", "Payment page observations: "),
                c.t("件、スクリプト ", ", scripts: "),
                c.t(
                    " 件、すべて登録済み（今照合）。",
                    ", all listed (checked now)."
                )
            ),
        )
    } else {
        item(
            "script-inventory",
            title,
            CheckState::Todo,
            format!(
                "{}{}",
                c.t("未登録のスクリプト: ", "Scripts not listed: "),
                unlisted.join(", ")
            ),
        )
    })
}

/// The ledger's entries against its newest signed checkpoint.
async fn ledger(state: &BackofficeState, c: Words) -> Result<Item, AppError> {
    let title = c.t(
        "アクセス記録（台帳）が改ざんされていない",
        "The access ledger has not been altered",
    );
    let notes = state
        .store
        .ledger_checkpoints()
        .await
        .map_err(fail("checkpoints"))?;
    let newest = notes
        .iter()
        .filter_map(|n| {
            mamori_ledger::Checkpoint::parse_unverified(n)
                .ok()
                .map(|cp| (cp.size, n))
        })
        .max_by_key(|(size, _)| *size);
    let Some((_, note)) = newest else {
        return Ok(item(
            "ledger",
            title,
            CheckState::Unknown,
            c.t(
                "署名済みチェックポイントがまだありません。",
                "No signed checkpoint yet.",
            )
            .to_owned(),
        ));
    };
    let cp = match mamori_ledger::Checkpoint::open(note, state.gateway.ledger().verifier()) {
        Ok(cp) => cp,
        Err(e) => {
            return Ok(item(
                "ledger",
                title,
                CheckState::Todo,
                format!(
                    "{}{e}",
                    c.t(
                        "最新のチェックポイントの署名を検証できません: ",
                        "The newest checkpoint's signature does not verify: "
                    )
                ),
            ))
        }
    };
    Ok(
        match mamori_respond::scope::scan_ledger(state.store.as_ref(), cp.size, |_, _| {}).await {
            Ok(head) if head.root == hex::encode(cp.root) => item(
                "ledger",
                title,
                CheckState::Ok,
                format!(
                    "{}{}{}",
                    c.t("記録 ", "Entries 0.."),
                    cp.size,
                    c.t(
                        " 件を再計算し、最新の署名済みチェックポイントと一致しました（今検証）。",
                        " recomputed: they match the newest signed checkpoint (checked now)."
                    )
                ),
            ),
            Ok(_) => item(
                "ledger",
                title,
                CheckState::Todo,
                c.t(
                    "記録から計算した値がチェックポイントと一致しません。mamori ledger verify を実行してください。",
                    "The entries do not match the checkpoint: run mamori ledger verify.",
                )
                .to_owned(),
            ),
            Err(e) => item(
                "ledger",
                title,
                CheckState::Todo,
                format!("{}{e}", c.t("台帳の検証に失敗: ", "Ledger check failed: ")),
            ),
        },
    )
}

/// The browser monitor's observations: when the known-good ones were taken, and whether any
/// page differs from them now.
async fn monitor(state: &BackofficeState, c: Words) -> Result<Item, AppError> {
    let title = c.t(
        "決済ページの改ざんをブラウザで監視している",
        "The payment pages are watched in a browser for changes",
    );
    let observations = state
        .store
        .observations_all()
        .await
        .map_err(fail("observations"))?;
    let good: Vec<_> = observations
        .iter()
        .filter(|o| o.state == observation_state::GOOD)
        .collect();
    let pending: Vec<_> = observations
        .iter()
        .filter(|o| o.state == observation_state::PENDING)
        .collect();
    let latest = observations.iter().map(|o| o.observed_at).max();
    Ok(match latest {
        None => item(
            "browser-monitor",
            title,
            CheckState::Unknown,
            c.t(
                "ブラウザ監視の観測がまだありません。",
                "The browser monitor has recorded no observation yet.",
            )
            .to_owned(),
        ),
        Some(at) => item(
            "browser-monitor",
            title,
            if pending.is_empty() {
                CheckState::Ok
            } else {
                CheckState::Todo
            },
            format!(
                "{}{}{}{}{}{}",
                c.t("監視中のページ ", "Pages watched: "),
                good.len(),
                c.t(
                    "、基準と異なるページ ",
                    ", pages differing from their known-good state: "
                ),
                pending.len(),
                c.t("、最終の観測記録 ", ", last observation stored "),
                fmt_secs(at)
            ),
        ),
    })
}

/// Items of IPA's guideline beyond the card measures: reads limited, canaries planted, open
/// critical alerts.
async fn detection(state: &BackofficeState, c: Words) -> Result<Vec<Item>, AppError> {
    let mut items = Vec::new();
    let budgets = state.gateway.read_budgets();
    let stops = state.store.read_stops().await.map_err(fail("read stops"))?;
    items.push(item(
        "read-limits",
        c.t(
            "個人データの大量閲覧を制限している",
            "Mass reads of personal data are limited",
        ),
        if budgets.enabled {
            CheckState::Ok
        } else {
            CheckState::Todo
        },
        if budgets.enabled {
            format!(
                "{}{}",
                c.t(
                    "制限は有効です。停止中の閲覧者: ",
                    "Limits on; principals stopped now: "
                ),
                stops.len()
            )
        } else {
            c.t("制限が無効になっています。", "The limits are off.")
                .to_owned()
        },
    ));
    let canaries = state
        .gateway
        .canaries_planted()
        .await
        .map_err(fail("canaries"))?;
    items.push(item(
        "canaries",
        c.t(
            "漏えいを早期に知るためのカナリア顧客を設置している",
            "Canary customers are planted to learn of a leak early",
        ),
        if canaries.is_empty() {
            CheckState::Todo
        } else {
            CheckState::Ok
        },
        format!(
            "{}{}",
            c.t("設置済みのカナリア顧客: ", "Canary customers planted: "),
            canaries.len()
        ),
    ));
    let open = state
        .store
        .alerts_page(
            &AlertFilter {
                state: Some(mamori_store::alert_state::OPEN.to_owned()),
                kind: None,
            },
            0,
            500,
        )
        .await
        .map_err(fail("open alerts"))?;
    let critical = open
        .items
        .iter()
        .filter(|a| a.severity == "critical")
        .count();
    items.push(item(
        "open-alerts",
        c.t(
            "重大な検知アラートが未対応のまま残っていない",
            "No critical alert is left unanswered",
        ),
        if critical == 0 {
            CheckState::Ok
        } else {
            CheckState::Todo
        },
        format!(
            "{}{critical}{}{}",
            c.t("未確認の重大アラート: ", "Open critical alerts: "),
            c.t("（未確認アラート全体: ", " (all open alerts: "),
            format_args!("{}{}", open.total, c.t("）", ")"))
        ),
    ));
    Ok(items)
}

/// Measure 5: card testing (クレジットマスター). Hook: `BackofficeConfig::card_testing`, which
/// `mamori serve` fills with the configured thresholds once the card-testing guard is there;
/// unset, the measure is shown as not checked.
fn card_testing(state: &BackofficeState, c: Words) -> Item {
    let title = c.t(
        "不正な有効性確認（クレジットマスター）を検知・遮断している",
        "Card testing is detected and stopped",
    );
    match &state.config.card_testing {
        Some(thresholds) => item(
            "card-testing",
            title,
            CheckState::Ok,
            format!(
                "{}{thresholds}",
                c.t("設定されたしきい値: ", "Thresholds: ")
            ),
        ),
        None => item(
            "card-testing",
            title,
            CheckState::Unknown,
            c.t(
                "カード拒否の検知しきい値が設定に見つかりません。",
                "No card-testing thresholds are configured.",
            )
            .to_owned(),
        ),
    }
}

/// Every group, checked now.
pub async fn build(state: &BackofficeState, c: Words) -> Result<Vec<Group>, AppError> {
    let (file_item, file_evidence) = file_guard(state, c).await?;
    let measure = |id, ja, en, items| Group {
        id,
        title: c.t(ja, en).to_owned(),
        items,
    };
    Ok(vec![
        measure(
            "measure-1",
            "対策1 管理者画面のアクセス制限と管理者ID/パスワード管理",
            "Measure 1: access restriction of the admin screens, admin IDs and passwords",
            admin_access(state, c).await?,
        ),
        measure(
            "measure-2",
            "対策2 データディレクトリの露見に伴う設定不備への対策",
            "Measure 2: misconfiguration exposing data directories",
            vec![file_item],
        ),
        measure(
            "measure-3",
            "対策3 Webアプリケーションの脆弱性対策",
            "Measure 3: web application vulnerabilities",
            vec![
                scripts_covered(state, c).await?,
                item(
                    "card-scan",
                    c.t(
                        "カード番号をサーバーに保存していない（非保持）",
                        "No card number is stored on the server",
                    ),
                    CheckState::Unknown,
                    c.t(
                        "mamori scan の実行記録はまだ保存されていません。カード番号は決済代行会社のページでのみ入力されます。mamori scan でデータ・ログ・バックアップを確認してください。",
                        "No mamori scan run is recorded yet. Cards are typed on the provider's page only; check data, logs and backups with mamori scan.",
                    )
                    .to_owned(),
                ),
            ],
        ),
        measure(
            "measure-4",
            "対策4 マルウェア対策としてのウイルス対策ソフトの導入・運用",
            "Measure 4: antivirus software against malware",
            vec![item(
                "antivirus",
                c.t(
                    "ウイルス対策ソフトの導入・運用（mamori の範囲外）",
                    "Antivirus software (outside mamori)",
                ),
                CheckState::Unknown,
                format!(
                    "{}{file_evidence}",
                    c.t(
                        "mamori の外：サーバーにウイルス対策ソフトを導入し運用してください。mamori は代わりに署名済み基準によるファイル改ざん検知を行います — ",
                        "Outside mamori: install and run antivirus software on the server. What mamori does instead is watch the shop's files against a signed baseline: ",
                    )
                ),
            )],
        ),
        measure(
            "measure-5",
            "対策5 悪質な有効性確認、クレジットマスターへの対策",
            "Measure 5: card testing (credit master attacks)",
            vec![card_testing(state, c)],
        ),
        measure(
            "ipa",
            "IPA「ECサイト構築・運用セキュリティガイドライン」のうちソフトウェアで満たせる項目",
            "IPA EC-site security guideline: the items software can meet",
            {
                let mut v = vec![ledger(state, c).await?, monitor(state, c).await?];
                v.extend(detection(state, c).await?);
                v
            },
        ),
    ])
}

/// `GET /security/self-check`.
pub async fn show(State(state): State<Arc<BackofficeState>>, c: Ctx) -> Result<Response, AppError> {
    let groups = build(&state, super::Words::of(&c)).await?;
    let checked_at = super::dashboard::now(&state);
    Ok(render(&SelfCheckPage {
        c,
        checked_at: fmt_secs(checked_at),
        groups,
    }))
}
