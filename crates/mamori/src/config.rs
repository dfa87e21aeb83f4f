//! Configuration, layered: built-in defaults, then a TOML file, then environment variables, then
//! command-line flags. Secrets come from a variable or a `*_FILE` variable, never both.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// Everything the commands need to find the shop's data.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database, keys and witness live by default.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: SQLite in the data directory.
    pub database_url: Option<String>,
    /// The master key file (outside the database).
    pub key_file: Option<PathBuf>,
    /// The ledger's Ed25519 checkpoint key file.
    pub ledger_key_file: Option<PathBuf>,
    /// The witness file every checkpoint is appended to.
    pub witness_file: Option<PathBuf>,
    /// Origin line of the ledger's checkpoints.
    pub ledger_origin: String,
    /// The shop (`mamori serve`).
    pub shop: ShopSection,
    /// The back office (`mamori serve`, on its own listener).
    pub backoffice: BackofficeSection,
    /// Detection (`mamori serve`, `mamori guard`).
    pub guard: GuardSection,
    /// The incident desk (`mamori incident`, the back office).
    pub respond: RespondSection,
    /// The process itself (`mamori serve`): how it stops.
    pub server: ServerSection,
    /// Background jobs that run on one process at a time (`mamori serve`).
    pub jobs: JobsSection,
    /// The configuration file read, if any (the guard watches it).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// `[server]`: the `mamori serve` process itself.
///
/// ```toml
/// [server]
/// shutdown_timeout_secs = 20   # SIGTERM or Ctrl-C: finish within this, else exit non-zero
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// How long a graceful shutdown (SIGTERM or Ctrl-C) may take: the requests in flight, the
    /// background workers and the ledger's last checkpoint. Past it the process exits with
    /// status 3. At least 1.
    pub shutdown_timeout_secs: u64,
}

impl ServerSection {
    /// The shutdown timeout (at least one second).
    pub fn shutdown_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_timeout_secs.max(1))
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            shutdown_timeout_secs: 20,
        }
    }
}

/// `[jobs]`: the leases of the jobs that run on one `mamori serve` process at a time when
/// several share a database (housekeeping, the browser monitor).
///
/// ```toml
/// [jobs]
/// lease_secs = 30   # a holder that stops renewing is replaced after this long
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSection {
    /// How long a lease lasts unless renewed (renewed every third of it); at least 3 seconds.
    pub lease_secs: u64,
}

impl Default for JobsSection {
    fn default() -> Self {
        Self { lease_secs: 30 }
    }
}

/// `[respond]`: the incident desk.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RespondSection {
    /// `[respond.notices]`.
    pub notices: NoticesSection,
}

/// `[respond.notices]`: where the notices' bounces come back.
///
/// ```toml
/// [respond.notices]
/// bounce_domain = "bounce.shop.example"   # its MX points at this host
/// bounce_listen = "0.0.0.0:25"
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoticesSection {
    /// The domain of the notices' VERP envelope senders (none: bounces go to the From address).
    pub bounce_domain: Option<String>,
    /// Where `mamori serve` receives the delivery status notifications for it.
    pub bounce_listen: Option<String>,
}

/// `[guard]`: the watch over the shop's own files and where alerts go besides the owners' mail.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardSection {
    /// Watch the files while serving (default on).
    pub enabled: bool,
    /// The baseline's own Ed25519 key (neither the master key nor the ledger key); default
    /// `<data_dir>/guard.key`, created with the first baseline.
    pub key_file: Option<PathBuf>,
    /// The signed baseline; default `<data_dir>/guard-baseline.json`.
    pub baseline_file: Option<PathBuf>,
    /// Directories of assets or templates served from disk (e.g. by a proxy in front of the
    /// shop): every file in them by content and permissions, and files added.
    pub watch_dirs: Vec<PathBuf>,
    /// Directories whose files the checkout loads: a change there also closes card payment.
    pub checkout_dirs: Vec<PathBuf>,
    /// Seconds between full re-hashes (the safety net under the file events).
    pub rehash_secs: u64,
    /// Alerts are also posted here (JSON, `Mamori-Signature` HMAC-SHA256 with the secret from
    /// `MAMORI_ALERT_WEBHOOK_SECRET(_FILE)`).
    pub webhook_url: Option<String>,
    /// Seconds between two walks of the browser monitor over the shop's pages and the provider's
    /// card page (Debian's chromium, or `MAMORI_CHROMIUM`); 30 by default, 0 is off. Without a
    /// Chromium the shop still starts and says the monitor is off.
    pub monitor_secs: u64,
    /// The mail domain the merchant controls for canary customers' addresses
    /// (`mamori guard canary plant`); none by default, and planting refuses without one.
    pub canary_domain: Option<String>,
    /// Mass-read limits (`[guard.read_budgets]`): overrides of the defaults.
    pub read_budgets: ReadBudgetSection,
    /// The canary mail listener (`[guard.canary_mail]`); off when absent.
    pub canary_mail: Option<CanaryMailSection>,
    /// Card-testing and credential-stuffing thresholds (`[guard.fraud]`): overrides of the
    /// defaults.
    pub fraud: FraudSection,
}

/// `[guard.fraud]`: declines counted per client address, session, card and shop over sliding
/// windows, and failed sign-ins to distinct accounts per source. Anything left out keeps its
/// default (`mamori_store::fraud::FraudConfig::default`, listed in SECURITY.md).
///
/// ```toml
/// [guard.fraud]
/// card_ip = [20, 3600]            # declines, window in seconds
/// card_session = [10, 3600]
/// card_fingerprint = [5, 86400]
/// card_shop = [50, 600]           # shop-wide: every card attempt takes an extra step
/// card_shop_delay_secs = 5
/// login_accounts = [10, 3600]     # distinct accounts failed from one source
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FraudSection {
    /// Declines per client address.
    pub card_ip: Option<(i64, i64)>,
    /// Declines per session.
    pub card_session: Option<(i64, i64)>,
    /// Declines per card (fingerprint).
    pub card_fingerprint: Option<(i64, i64)>,
    /// Declines shop-wide.
    pub card_shop: Option<(i64, i64)>,
    /// The shop-wide extra step's delay.
    pub card_shop_delay_secs: Option<u64>,
    /// Distinct accounts with failed sign-ins per source.
    pub login_accounts: Option<(i64, i64)>,
}

impl FraudSection {
    /// The defaults with this section's overrides (a count or window below 1 becomes 1).
    pub fn config(&self) -> mamori_store::fraud::FraudConfig {
        use mamori_store::fraud::{FraudConfig, Window};
        let w = |v: (i64, i64)| Window {
            max: v.0.max(1),
            secs: v.1.max(1),
        };
        let mut c = FraudConfig::default();
        if let Some(v) = self.card_ip {
            c.card.ip = w(v);
        }
        if let Some(v) = self.card_session {
            c.card.session = w(v);
        }
        if let Some(v) = self.card_fingerprint {
            c.card.fingerprint = w(v);
        }
        if let Some(v) = self.card_shop {
            c.card.shop = w(v);
        }
        if let Some(d) = self.card_shop_delay_secs {
            c.card.shop_delay_secs = d;
        }
        if let Some(v) = self.login_accounts {
            let v = w(v);
            c.stuffing.accounts = v.max;
            c.stuffing.window_secs = v.secs;
        }
        c
    }
}

/// `[guard.canary_mail]`: mamori's own SMTP listener for `guard.canary_domain` (the domain's MX
/// points to it). Mail to a canary's address raises `canary.mail`; it relays nothing.
///
/// ```toml
/// [guard]
/// canary_domain = "mail.shop.example"
/// [guard.canary_mail]
/// listen = "0.0.0.0:25"
/// hostname = "mx.mail.shop.example"   # the greeting; default: the canary domain
/// max_message_bytes = 1048576
/// max_connections = 64
/// auth_lookups = true                  # DKIM and SPF through the system's resolver
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryMailSection {
    /// Where it listens.
    pub listen: std::net::SocketAddr,
    /// The name it greets with (default: the canary domain).
    pub hostname: Option<String>,
    /// Largest message taken (bytes; default 1 MiB).
    pub max_message_bytes: Option<usize>,
    /// Most sessions at once (default 64).
    pub max_connections: Option<usize>,
    /// Check DKIM and SPF through the system's resolver, within 3 s (default true).
    pub auth_lookups: Option<bool>,
}

/// `[guard.read_budgets]`: the distinct customers one principal may open in plaintext. Anything
/// left out keeps its default (`mamori_store::ReadBudgets::default`, listed in SECURITY.md).
///
/// ```toml
/// [guard.read_budgets]
/// ceiling_percent = 1.0          # no one opens more than 1% of the customers a day...
/// ceiling_floor = 100            # ...or 100, whichever is larger, unless the job is approved
/// approved_jobs = ["mail-worker"]
/// [guard.read_budgets.roles.support]
/// per_minute = 60
/// per_hour = 300
/// per_day = 1000
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadBudgetSection {
    /// Per role (`owner`, `manager`, `operator`, `support`, `auditor`, `system`, `guest`).
    pub roles: std::collections::BTreeMap<String, mamori_store::RoleBudget>,
    /// The daily ceiling as a share of the customers, in percent.
    pub ceiling_percent: Option<f64>,
    /// The ceiling's floor.
    pub ceiling_floor: Option<i64>,
    /// System jobs exempt from the ceiling.
    pub approved_jobs: Option<Vec<String>>,
}

impl ReadBudgetSection {
    /// The defaults with this section's overrides.
    pub fn budgets(&self) -> mamori_store::ReadBudgets {
        let mut b = mamori_store::ReadBudgets::default();
        for (role, rb) in &self.roles {
            b.roles.insert(role.clone(), *rb);
        }
        if let Some(p) = self.ceiling_percent {
            b.ceiling_percent = p;
        }
        if let Some(f) = self.ceiling_floor {
            b.ceiling_floor = f;
        }
        if let Some(j) = &self.approved_jobs {
            b.approved_jobs = j.clone();
        }
        b
    }
}

impl Default for GuardSection {
    fn default() -> Self {
        Self {
            enabled: true,
            key_file: None,
            baseline_file: None,
            watch_dirs: Vec::new(),
            checkout_dirs: Vec::new(),
            rehash_secs: 300,
            webhook_url: None,
            monitor_secs: 30,
            canary_domain: None,
            read_budgets: ReadBudgetSection::default(),
            canary_mail: None,
            fraud: FraudSection::default(),
        }
    }
}

/// `[backoffice]`: where the back office listens and who may reach it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackofficeSection {
    /// Where the back office listens (its own port; loopback by default).
    pub listen: std::net::SocketAddr,
    /// Where staff reach it, if not `http://localhost:{port}/`. It is the passkeys' origin, and
    /// its host their relying-party id: WebAuthn refuses IP addresses, so keep a host name.
    pub public_url: Option<String>,
    /// Peer networks allowed to connect (CIDR, e.g. `127.0.0.0/8`, `192.0.2.0/24`, `::1/128`);
    /// everyone else gets 403.
    pub allowed_cidrs: Vec<String>,
}

// The back office's own defaults: its listen address and the loopback allow-list.
impl Default for BackofficeSection {
    fn default() -> Self {
        Self {
            listen: mamori_backoffice::BackofficeConfig::default().listen,
            public_url: None,
            allowed_cidrs: mamori_backoffice::config::loopback_cidrs()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

impl BackofficeSection {
    /// The allow-list, parsed; a wrong entry is an error naming it.
    pub fn cidrs(&self) -> Result<Vec<ipnet::IpNet>> {
        self.allowed_cidrs
            .iter()
            .map(|c| {
                c.trim()
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| c.trim().parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("backoffice.allowed_cidrs: {c:?} is not a CIDR network")
                    })
            })
            .collect()
    }

    /// The back office's settings for a listener bound to `bound` (the public URL follows its
    /// port unless configured); the rest are the back office's defaults.
    /// The shop's name, public URL and support address come from `shop`: the back office's mails
    /// to customers sign with them.
    pub fn to_config(
        &self,
        bound: std::net::SocketAddr,
        shop: &ShopSection,
    ) -> Result<mamori_backoffice::BackofficeConfig> {
        Ok(mamori_backoffice::BackofficeConfig {
            listen: bound,
            public_url: self.public_url(bound)?,
            allowed_cidrs: self.cidrs()?,
            shop_name: shop.name.clone(),
            shop_url: shop.public_url()?.to_string(),
            support_email: shop.support_email.clone(),
            shipping_fee: shop.shipping_fee,
            free_shipping_from: shop.free_shipping_from,
            ..mamori_backoffice::BackofficeConfig::default()
        })
    }

    /// The public URL: the configured one, else `http://localhost:{port}/` of `bound`.
    pub fn public_url(&self, bound: std::net::SocketAddr) -> Result<mamori_pay::url::Url> {
        let text = match &self.public_url {
            Some(u) => u.clone(),
            None => format!("http://localhost:{}/", bound.port()),
        };
        mamori_pay::url::Url::parse(&text).context("backoffice.public_url")
    }
}

/// `[shop]`: what `mamori serve` needs beyond the data.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopSection {
    /// Where the shop listens.
    pub listen: std::net::SocketAddr,
    /// Where customers reach it, if not `http://{listen}/` (behind a proxy, a real domain).
    pub public_url: Option<String>,
    /// Shop name on pages and mail.
    pub name: String,
    /// Operator name on receipts.
    pub legal_name: String,
    /// 適格請求書発行事業者登録番号 (`T` + 13 digits).
    pub registration_number: String,
    /// Support address.
    pub support_email: String,
    /// `From:` of the shop's mail.
    pub mail_from: String,
    /// Bank account shown for bank transfers.
    pub bank_account: String,
    /// Flat shipping fee, tax included.
    pub shipping_fee: i64,
    /// Free shipping from this items total.
    pub free_shipping_from: i64,
    /// Days from order to the earliest delivery.
    pub delivery_lead_days: u32,
    /// Seconds catalogue reads and opened sessions are cached (a price or stock change, or a
    /// logout on another node, shows within this); 0 = off.
    pub cache_secs: u64,
    /// A real payment provider's API base URL; unset starts the sandbox provider. Its API key and
    /// webhook secret come from `MAMORI_PSP_API_KEY(_FILE)` and `MAMORI_PSP_WEBHOOK_SECRET(_FILE)`.
    pub psp_url: Option<String>,
    /// Where the sandbox provider listens (its own origin).
    pub psp_listen: std::net::SocketAddr,
    /// SMTP relay; unset delivers into `<data_dir>/maildir`.
    pub smtp: Option<mamori_mail::transport::SmtpSettings>,
    /// DKIM selector of the shop's mail (`<selector>._domainkey.<domain of mail_from>`); empty:
    /// mail is not signed.
    pub dkim_selector: String,
    /// DKIM private key (RSA or Ed25519, see `mamori_mail::dkim`); default
    /// `<data_dir>/dkim.key`, an Ed25519 key created on the first start.
    pub dkim_key_file: Option<PathBuf>,
    /// TLS certificate chain (PEM); with `tls_key` the shop serves HTTPS with HSTS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// The public notice (お知らせ) the maintenance page links when the incident desk closes
    /// the shop without naming one.
    pub notice_url: Option<String>,
}

impl ShopSection {
    /// Where customers reach the shop: `public_url`, else the listen address (https when a TLS
    /// certificate is set).
    pub fn public_url(&self) -> Result<mamori_pay::url::Url> {
        match &self.public_url {
            Some(u) => mamori_pay::url::Url::parse(u).context("shop.public_url"),
            None => {
                let scheme = if self.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                mamori_pay::url::Url::parse(&format!("{scheme}://{}/", self.listen))
                    .context("shop.listen")
            }
        }
    }
}

impl Default for ShopSection {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            name: "守り商店".into(),
            legal_name: "守り商店株式会社（デモ）".into(),
            // A syntactically valid number (check digit 7) for the demo; a real shop sets its own.
            registration_number: "T7123456789012".into(),
            support_email: "support@shop.example.jp".into(),
            mail_from: "守り商店 <shop@shop.example.jp>".into(),
            bank_account: "守り銀行 本店 普通 1234567 モリシヨウテン（デモ）".into(),
            shipping_fee: 770,
            free_shipping_from: 11_000,
            delivery_lead_days: 2,
            cache_secs: 2,
            psp_url: None,
            psp_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8081)),
            smtp: None,
            dkim_selector: "mamori".into(),
            dkim_key_file: None,
            tls_cert: None,
            tls_key: None,
            notice_url: None,
        }
    }
}

// The database URL may carry a password: Debug shows only which backend it is.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field(
                "database",
                &self
                    .database_url
                    .as_deref()
                    .map(|u| u.split(':').next().unwrap_or("")),
            )
            .field("key_file", &self.key_file)
            .field("ledger_key_file", &self.ledger_key_file)
            .field("witness_file", &self.witness_file)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            key_file: None,
            ledger_key_file: None,
            witness_file: None,
            ledger_origin: "mamori/access-ledger".into(),
            shop: ShopSection::default(),
            backoffice: BackofficeSection::default(),
            guard: GuardSection::default(),
            respond: RespondSection::default(),
            server: ServerSection::default(),
            jobs: JobsSection::default(),
            file: None,
        }
    }
}

/// Reads `NAME` or the file named by `NAME_FILE`; both set is an error.
pub fn secret_env(name: &str) -> Result<Option<String>> {
    let direct = std::env::var(name).ok().filter(|v| !v.is_empty());
    let file_var = format!("{name}_FILE");
    let file = std::env::var(&file_var).ok().filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => bail!("both {name} and {file_var} are set: use one"),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => {
            let v = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {file_var} ({path})"))?;
            Ok(Some(v.trim().to_owned()))
        }
        (None, None) => Ok(None),
    }
}

impl Config {
    /// Loads the layers. `file`: an explicit config file (it must exist); otherwise `MAMORI_CONFIG`,
    /// otherwise `mamori.toml` in the working directory if present.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let explicit = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("MAMORI_CONFIG").map(PathBuf::from));
        let mut cfg = match explicit {
            Some(p) => Self::from_file(&p)?,
            None if Path::new("mamori.toml").exists() => Self::from_file(Path::new("mamori.toml"))?,
            None => Self::default(),
        };
        if let Some(v) = std::env::var_os("MAMORI_DATA_DIR") {
            cfg.data_dir = v.into();
        }
        if let Some(v) = secret_env("MAMORI_DATABASE_URL")? {
            cfg.database_url = Some(v);
        }
        if let Some(v) = std::env::var_os("MAMORI_KEY_FILE") {
            cfg.key_file = Some(v.into());
        }
        if let Some(v) = std::env::var_os("MAMORI_LEDGER_KEY_FILE") {
            cfg.ledger_key_file = Some(v.into());
        }
        if let Some(v) = std::env::var_os("MAMORI_WITNESS_FILE") {
            cfg.witness_file = Some(v.into());
        }
        Ok(cfg)
    }

    fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        let mut cfg: Self = toml::from_str(&text)
            .with_context(|| format!("in the configuration file {}", path.display()))?;
        if cfg.server.shutdown_timeout_secs == 0 {
            bail!(
                "in the configuration file {}: server.shutdown_timeout_secs must be at least 1",
                path.display()
            );
        }
        cfg.file = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("mamori.db").display()))
    }

    /// The master key file in force.
    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The ledger key file in force.
    pub fn ledger_key_file(&self) -> PathBuf {
        self.ledger_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("ledger.key"))
    }

    /// The witness file in force.
    pub fn witness_file(&self) -> PathBuf {
        self.witness_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("ledger-witness.jsonl"))
    }

    /// The guard's key file in force.
    pub fn guard_key_file(&self) -> PathBuf {
        self.guard
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("guard.key"))
    }

    /// The guard's baseline file in force.
    pub fn guard_baseline_file(&self) -> PathBuf {
        self.guard
            .baseline_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("guard-baseline.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn fraud_section_overrides_the_defaults() {
        let cfg: Config = toml::from_str(
            "[guard.fraud]\ncard_ip = [30, 1800]\ncard_shop_delay_secs = 2\nlogin_accounts = [0, 600]\n",
        )
        .unwrap();
        let f = cfg.guard.fraud.config();
        let d = mamori_store::fraud::FraudConfig::default();
        assert_eq!((f.card.ip.max, f.card.ip.secs), (30, 1800));
        assert_eq!(f.card.shop_delay_secs, 2);
        assert_eq!(f.card.session, d.card.session, "left out: the default");
        assert_eq!(f.card.fingerprint, d.card.fingerprint);
        assert_eq!(
            (f.stuffing.accounts, f.stuffing.window_secs),
            (1, 600),
            "at least 1"
        );
        assert!(toml::from_str::<Config>("[guard.fraud]\ncard_ipp = [1, 1]\n").is_err());
        assert_eq!(Config::default().guard.fraud.config(), d);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn server_section_sets_the_shutdown_timeout_and_refuses_zero() {
        assert_eq!(
            Config::default().server.shutdown_timeout(),
            std::time::Duration::from_secs(20)
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mamori.toml");
        std::fs::write(&file, "[server]\nshutdown_timeout_secs = 5\n").unwrap();
        let cfg = Config::load(Some(&file)).unwrap();
        assert_eq!(cfg.server.shutdown_timeout_secs, 5);
        std::fs::write(&file, "[server]\nshutdown_timeout_secs = 0\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file)).unwrap_err());
        assert!(
            err.contains("shutdown_timeout_secs must be at least 1"),
            "{err}"
        );
        std::fs::write(&file, "[server]\nshutdown_timeout = 5\n").unwrap();
        assert!(
            Config::load(Some(&file)).is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn backoffice_section_parses() {
        let cfg: Config = toml::from_str(
            "[backoffice]\nlisten = \"127.0.0.1:9000\"\nallowed_cidrs = [\"10.1.0.0/16\", \"::1\"]\n",
        )
        .unwrap();
        let nets = cfg.backoffice.cidrs().unwrap();
        assert_eq!(nets.len(), 2);
        assert!(nets[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        let url = cfg
            .backoffice
            .public_url("127.0.0.1:9000".parse().unwrap())
            .unwrap();
        assert_eq!(url.as_str(), "http://localhost:9000/");
        let bad = BackofficeSection {
            allowed_cidrs: vec!["everyone".into()],
            ..BackofficeSection::default()
        };
        assert!(bad.cidrs().is_err());
        assert_eq!(Config::default().backoffice.cidrs().unwrap().len(), 2);
    }

    /// The back office's mails to customers sign with the shop's URL and support address, not
    /// the back office's defaults.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_back_office_signs_with_the_shops_url_and_support_address() {
        let cfg: Config = toml::from_str(
            "[shop]\npublic_url = \"https://shop.example.co.jp/\"\nsupport_email = \"help@example.co.jp\"\nname = \"山田商店\"\n",
        )
        .unwrap();
        let bo = cfg
            .backoffice
            .to_config("127.0.0.1:9000".parse().unwrap(), &cfg.shop)
            .unwrap();
        assert_eq!(bo.shop_url, "https://shop.example.co.jp/");
        assert_eq!(bo.support_email, "help@example.co.jp");
        assert_eq!(bo.shop_name, "山田商店");
        let plain = Config::default();
        let bo = plain
            .backoffice
            .to_config("127.0.0.1:9000".parse().unwrap(), &plain.shop)
            .unwrap();
        assert_eq!(bo.shop_url, "http://127.0.0.1:8080/");
    }

    /// The guard's files default into the data directory; a misspelt guard setting is refused.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn guard_section_parses() {
        let cfg: Config = toml::from_str(
            "data_dir = \"shop\"\n[guard]\ncheckout_dirs = [\"public/checkout\"]\nrehash_secs = 60\n",
        )
        .unwrap();
        assert!(cfg.guard.enabled);
        assert_eq!(cfg.guard.rehash_secs, 60);
        assert_eq!(cfg.guard.checkout_dirs, [PathBuf::from("public/checkout")]);
        assert_eq!(cfg.guard_key_file(), PathBuf::from("shop/guard.key"));
        assert_eq!(
            cfg.guard_baseline_file(),
            PathBuf::from("shop/guard-baseline.json")
        );
        assert!(toml::from_str::<Config>("[guard]\nwatch_dir = []\n").is_err());
        let cfg: Config = toml::from_str(
            "[guard]\ncanary_domain = \"mail.shop.example\"\n[guard.read_budgets]\nceiling_floor = 50\n\
             [guard.read_budgets.roles.support]\nper_minute = 30\nper_hour = 200\nper_day = 800\n",
        )
        .unwrap();
        assert_eq!(
            cfg.guard.canary_domain.as_deref(),
            Some("mail.shop.example")
        );
        assert!(cfg.guard.canary_mail.is_none());
        let with_mail: Config = toml::from_str(
            "[guard]\ncanary_domain = \"mail.shop.example\"\n[guard.canary_mail]\n\
             listen = \"127.0.0.1:2525\"\nmax_message_bytes = 65536\n",
        )
        .unwrap();
        let cm = with_mail.guard.canary_mail.unwrap();
        assert_eq!(cm.listen, "127.0.0.1:2525".parse().unwrap());
        assert_eq!(cm.max_message_bytes, Some(65536));
        assert!(toml::from_str::<Config>("[guard.canary_mail]\nlisten = \"x\"\n").is_err());
        let b = cfg.guard.read_budgets.budgets();
        assert_eq!(b.ceiling_floor, 50);
        assert_eq!(
            b.roles["support"],
            mamori_store::RoleBudget::new(30, 200, 800)
        );
        assert_eq!(
            b.roles["owner"],
            mamori_store::ReadBudgets::default().roles["owner"]
        );
    }

    #[test]
    fn the_demo_registration_number_is_valid() {
        let n = ShopSection::default().registration_number;
        assert!(mamori_domain::RegistrationNumber::parse(&n).is_ok());
    }
}
