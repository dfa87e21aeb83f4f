//! The guard in the binary: which of the shop's files are watched (from the configuration), the
//! `mamori guard` commands, and the watch `mamori serve` starts.
//!
//! The detection itself (baseline, signature, diff, alerts, fail closed) is `mamori-guard`'s;
//! this module only names the files of this installation.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mamori_guard::files::{
    diff, Baseline, Check, FileGuard, FileRole, GuardKey, PaymentRule, WatchHandle, WatchItem,
    WatchSpec,
};
use mamori_guard::{AlertConfig, Alerts, WebhookConfig, WebhookTarget, WebhookWorker};
use mamori_pay::secrecy::SecretString;
use mamori_store::Gateway;

use crate::config::{secret_env, Config};

/// `mamori guard …`.
#[derive(clap::Subcommand, Debug)]
pub enum GuardCmd {
    /// Record the watched files (binary, configuration, key and witness permissions, watched
    /// directories) as the baseline, signed with the guard's own key (created when missing).
    /// Refuses to replace an existing baseline without --replace: a running shop's baseline is
    /// approved by an owner in the back office.
    Baseline {
        /// Replace an existing baseline.
        #[arg(long)]
        replace: bool,
    },
    /// Compare the watched files with the signed baseline (exit 0 same, 1 differences, 2 the
    /// baseline is missing or does not verify).
    Verify,
    /// Canary customers: honey customers whose plaintext read raises `canary.read`.
    Canary {
        #[command(subcommand)]
        cmd: CanaryCmd,
    },
}

/// `mamori guard canary ...`.
#[derive(clap::Subcommand, Debug)]
pub enum CanaryCmd {
    /// Create N canary customers through the gateway (members with orders, addresses at
    /// `guard.canary_domain`), marked only by sealed marks. Prints how many were planted.
    Plant {
        /// How many.
        count: u64,
        /// Random seed (default: from the clock).
        #[arg(long)]
        seed: Option<u64>,
    },
}

/// The payment-relevant value of the configuration file: the payment provider's URL (empty
/// for the sandbox). None when the file is not valid TOML: fail closed.
fn provider_of_config(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let value: toml::Table = toml::from_str(text).ok()?;
    let url = value
        .get("shop")
        .and_then(|s| s.get("psp_url"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    Some(url.to_owned())
}

/// `path` made absolute (file events carry absolute paths).
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// What this installation watches.
pub fn watch_spec(cfg: &Config) -> Result<WatchSpec> {
    let mut items = Vec::new();
    let binary = std::env::current_exe().context("finding the running binary")?;
    items.push(WatchItem {
        path: binary,
        role: FileRole::Binary,
        check: Check::Content,
        payment: PaymentRule::Any,
    });
    if let Some(file) = &cfg.file {
        items.push(WatchItem {
            path: absolute(file)?,
            role: FileRole::Config,
            check: Check::Content,
            payment: PaymentRule::Extract(provider_of_config),
        });
    }
    for key in [cfg.key_file(), cfg.ledger_key_file(), cfg.guard_key_file()] {
        items.push(WatchItem {
            path: absolute(&key)?,
            role: FileRole::Key,
            check: Check::ModeOnly,
            payment: PaymentRule::No,
        });
    }
    items.push(WatchItem {
        path: absolute(&cfg.witness_file())?,
        role: FileRole::Witness,
        check: Check::ModeOnly,
        payment: PaymentRule::No,
    });
    for (dirs, payment) in [
        (&cfg.guard.watch_dirs, PaymentRule::No),
        (&cfg.guard.checkout_dirs, PaymentRule::Any),
    ] {
        for dir in dirs {
            if !dir.is_dir() {
                bail!("guard: {} is not a directory", dir.display());
            }
            items.push(WatchItem {
                path: absolute(dir)?,
                role: FileRole::Assets,
                check: Check::Tree,
                payment,
            });
        }
    }
    Ok(WatchSpec { items })
}

/// `mamori guard baseline`.
fn baseline(cfg: &Config, replace: bool) -> Result<ExitCode> {
    let path = cfg.guard_baseline_file();
    if path.exists() && !replace {
        bail!(
            "{} exists: pass --replace to record a new one (on a running shop an owner approves \
             the new baseline in the back office instead)",
            path.display()
        );
    }
    let key = GuardKey::load_or_create(&cfg.guard_key_file())?;
    let spec = watch_spec(cfg)?;
    let b = Baseline::observe(&spec);
    b.write_signed(&key, &path)?;
    println!(
        "baseline of {} files written to {} (key {})",
        b.files.len(),
        path.display(),
        key.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// `mamori guard verify`.
fn verify(cfg: &Config) -> Result<ExitCode> {
    let key = GuardKey::load(&cfg.guard_key_file())?;
    let base = Baseline::read_verified(&cfg.guard_baseline_file(), &key)?;
    let now = Baseline::observe(&watch_spec(cfg)?);
    let findings = diff(&base, &now);
    if findings.is_empty() {
        println!("{} files as in the baseline", base.files.len());
        return Ok(ExitCode::SUCCESS);
    }
    for f in &findings {
        let payment = if f.payment { " (touches payment)" } else { "" };
        println!("{}\t{}{payment}", f.kind, f.path);
    }
    Ok(ExitCode::from(1))
}

/// Runs a `mamori guard` command.
pub fn run(cfg: &Config, cmd: GuardCmd) -> Result<ExitCode> {
    match cmd {
        GuardCmd::Baseline { replace } => baseline(cfg, replace),
        GuardCmd::Verify => verify(cfg),
        // Handled by `main` (it needs the gateway).
        GuardCmd::Canary { .. } => Ok(ExitCode::from(2)),
    }
}

/// Where alerts are also posted (`guard.webhook_url` and its secret), if anywhere.
pub fn webhook_target(cfg: &Config) -> Result<Option<WebhookTarget>> {
    let Some(url) = &cfg.guard.webhook_url else {
        return Ok(None);
    };
    let secret = secret_env("MAMORI_ALERT_WEBHOOK_SECRET")?
        .context("MAMORI_ALERT_WEBHOOK_SECRET (or _FILE) is required with guard.webhook_url")?;
    Ok(Some(WebhookTarget {
        url: url.clone(),
        secret: SecretString::from(secret),
    }))
}

/// The alert model as `mamori serve` configures it.
pub fn alerts(
    cfg: &Config,
    gateway: &Gateway,
    backoffice_origin: &str,
    webhook: Option<WebhookTarget>,
) -> Alerts {
    Alerts::new(
        gateway.clone(),
        AlertConfig {
            shop_name: cfg.shop.name.clone(),
            backoffice_origin: Some(backoffice_origin.trim_end_matches('/').to_owned()),
            webhook,
        },
    )
}

/// What `mamori serve` keeps running for the guard.
pub struct Running {
    /// The file watch (dropping it stops it).
    _watch: Option<WatchHandle>,
    /// The webhook worker, when a webhook is configured.
    webhook: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(w) = self.webhook.take() {
            w.abort();
        }
    }
}

/// Starts the guard for `mamori serve`: on the first start (no baseline, no guard key) it
/// records the baseline; otherwise it verifies the baseline (a refused one is an alert and closes
/// card payment), compares the disk with it (raising what differs) and watches. The back office
/// gets the guard for the owner's approval through `slot`.
pub async fn start(
    cfg: &Config,
    alerts: Alerts,
    webhook: Option<WebhookTarget>,
    slot: &std::sync::OnceLock<Arc<FileGuard>>,
) -> Result<Running> {
    let webhook = match webhook {
        Some(target) => {
            let worker = WebhookWorker::new(alerts.records(), target, WebhookConfig::default())
                .context("the alert webhook")?;
            Some(tokio::spawn(worker.run(std::future::pending())))
        }
        None => None,
    };
    if !cfg.guard.enabled {
        println!("file guard:       off (guard.enabled = false)");
        return Ok(Running {
            _watch: None,
            webhook,
        });
    }
    let key_path = cfg.guard_key_file();
    let baseline_path = absolute(&cfg.guard_baseline_file())?;
    if !key_path.exists() && !baseline_path.exists() {
        baseline(cfg, false)?;
    }
    let spec = watch_spec(cfg)?;
    let opened = FileGuard::open(
        spec.clone(),
        baseline_path.clone(),
        GuardKey::load(&key_path)?,
        alerts.clone(),
    );
    let guard = match opened {
        Ok(g) => Arc::new(g),
        Err(why) => {
            FileGuard::refuse_baseline(&alerts, &baseline_path, &why).await?;
            eprintln!(
                "file guard: {why}; card payment is closed until an owner approves a new baseline \
                 in the back office"
            );
            let _ = slot.set(Arc::new(FileGuard::without_baseline(
                spec,
                baseline_path,
                GuardKey::load(&key_path)?,
                alerts,
            )));
            return Ok(Running {
                _watch: None,
                webhook,
            });
        }
    };
    let findings = guard.check_all().await?;
    if !findings.is_empty() {
        eprintln!(
            "file guard: {} watched files differ from the baseline (see the back office's alerts)",
            findings.len()
        );
    }
    let watch = guard.watch(Duration::from_secs(cfg.guard.rehash_secs.max(1)))?;
    let _ = slot.set(guard);
    println!(
        "file guard:       watching (baseline {})",
        baseline_path.display()
    );
    Ok(Running {
        _watch: Some(watch),
        webhook,
    })
}

/// Loads the script inventory (PCI DSS 6.4.3): lists mamori's own scripts when missing (one that
/// differs from its entry raises an alert and stays blocked), installs the storefront's
/// allow-list, and hands the inventory to the back office for the owner's changes.
pub async fn script_inventory(
    alerts: &Alerts,
    slot: &std::sync::OnceLock<mamori_guard::inventory::ScriptInventory>,
) -> Result<mamori_guard::inventory::ScriptInventory> {
    use mamori_guard::inventory::{shop_builtin, ScriptInventory};
    let inventory = ScriptInventory::new(alerts.clone(), Arc::default());
    let builtins = [shop_builtin(), mamori_backoffice::assets::inventory_entry()];
    let seeded = inventory
        .seed(&builtins)
        .await
        .context("loading the script inventory")?;
    for url in &seeded.differing {
        eprintln!(
            "script inventory: {url} differs from its listed digest; browsers will refuse it until              an owner lists the new digest in the back office (スクリプト一覧)"
        );
    }
    println!(
        "script inventory: {} scripts listed; the shop's CSP allows their digests only",
        inventory.list().await?.len()
    );
    let _ = slot.set(inventory.clone());
    Ok(inventory)
}

/// Prepares the browser monitor when `guard.monitor_secs` is not 0: the shop's home page, cart
/// and checkout form under `shop`, and the provider's card page through `psp`. None when it is
/// off. Its walks are started (`BrowserMonitor::spawn`) by the process holding the monitor's
/// lease ([`crate::jobs`]).
pub async fn monitor(
    cfg: &Config,
    alerts: Alerts,
    psp: Arc<dyn mamori_pay::PaymentConnector>,
    shop: &mamori_pay::url::Url,
    inventory: mamori_guard::inventory::ScriptInventory,
) -> Result<Option<Arc<mamori_guard::monitor::BrowserMonitor>>> {
    use mamori_guard::monitor::{BrowserMonitor, MonitorConfig, ProviderProbe, Target};
    if cfg.guard.monitor_secs == 0 {
        println!("page monitor:     off (guard.monitor_secs = 0)");
        return Ok(None);
    }
    let chromium = std::env::var_os("MAMORI_CHROMIUM")
        .filter(|p| !p.is_empty())
        .map_or_else(
            || PathBuf::from(mamori_guard::monitor::DEFAULT_CHROMIUM),
            PathBuf::from,
        );
    if !chromium.is_file() {
        // On by default, but a shop without a browser still opens: the warning says what is
        // missing and how to silence it, and the other detections run as before.
        println!(
            "page monitor:     OFF: no Chromium at {} (install Debian's chromium, set \
             MAMORI_CHROMIUM, or set guard.monitor_secs = 0 to silence this)",
            chromium.display()
        );
        return Ok(None);
    }
    // The customer's path starts on a product page: the first product the shop shows.
    let product = first_shown_product(alerts.records().as_ref()).await?;
    let product_path = product.map_or_else(|| "/".to_owned(), |sku| format!("/product/{sku}"));
    let mut targets = Target::shop_pages(shop, &product_path);
    targets.dedup_by(|a, b| a.page == b.page);
    let pages = targets
        .iter()
        .map(|t| t.page.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut config = MonitorConfig::new(
        targets,
        Some(ProviderProbe {
            connector: psp,
            return_url: shop.join("checkout/return")?,
            cancel_url: shop.join("checkout/cancel")?,
        }),
    );
    config.interval = Duration::from_secs(cfg.guard.monitor_secs);
    config.chromium = chromium;
    let monitor = Arc::new(BrowserMonitor::new(config, alerts).with_inventory(inventory));
    println!(
        "page monitor:     every {} s: {pages} and the provider's card page (on the process \
         holding its lease)",
        cfg.guard.monitor_secs
    );
    Ok(Some(monitor))
}

/// The SKU of the first product the storefront shows (active), if any.
async fn first_shown_product(records: &dyn mamori_store::Records) -> Result<Option<String>> {
    const PAGE: i64 = 100;
    let mut offset = 0;
    loop {
        let page = records.products_page_all(offset, PAGE).await?;
        if let Some(p) = page.items.iter().find(|p| p.active) {
            return Ok(Some(p.sku.clone()));
        }
        offset += PAGE;
        if page.items.is_empty() || offset >= page.total {
            return Ok(None);
        }
    }
}

/// Starts the canary mail listener when `[guard.canary_mail]` is present (it needs
/// `guard.canary_domain`). None when it is off.
pub async fn canary_mail(
    cfg: &Config,
    gateway: &Gateway,
    alerts: Alerts,
) -> Result<Option<mamori_guard::canary_mail::CanaryMailHandle>> {
    use mamori_guard::canary_mail::{CanaryMail, CanaryMailConfig};
    let Some(section) = &cfg.guard.canary_mail else {
        println!("canary mail:      off (no [guard.canary_mail])");
        return Ok(None);
    };
    let Some(domain) = cfg.guard.canary_domain.as_deref() else {
        bail!("[guard.canary_mail] needs guard.canary_domain");
    };
    let mut config = CanaryMailConfig::new(section.listen, domain);
    if let Some(h) = &section.hostname {
        config.smtp.hostname = h.clone();
    }
    if let Some(m) = section.max_message_bytes {
        config.smtp.max_message_bytes = m;
    }
    if let Some(c) = section.max_connections {
        config.smtp.max_connections = c;
    }
    if let Some(a) = section.auth_lookups {
        config.auth_lookups = a;
    }
    let handle = CanaryMail::new(config, gateway.clone(), alerts)
        .start()
        .await
        .context("starting the canary mail listener")?;
    println!(
        "canary mail:      SMTP on {} for {domain} (mail to a canary raises canary.mail)",
        handle.local_addr()
    );
    Ok(Some(handle))
}
