//! `mamori`: the one program a shop owner runs.
//!
//! Exit codes: 0 success; 1 a check found a problem (`ledger verify` found a break, `evidence
//! verify` refused a pack, `scan` found card data); 2 the command could not run (bad input, missing key file, wrong key, unreachable database);
//! 3 `mamori serve` did not shut down within `[server] shutdown_timeout_secs`.

mod config;
mod demo;
mod guard;
mod incident;
mod jobs;
mod serve;
mod shutdown;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use mamori_ledger::{LedgerSigner, LedgerVerifier};
use mamori_store::{open_store, Accessor, Gateway, Ledger, LedgerConfig, Store};
use mamori_vault::KeyRing;

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "mamori",
    version,
    about = "mamori (守り): an online shop that keeps its customers' data safe"
)]
struct Cli {
    /// Configuration file (TOML). Default: $MAMORI_CONFIG, else ./mamori.toml when present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (embedded database, keys, witness). Overrides the configuration.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the shop: on an empty data directory, create keys, migrate, load the demo catalogue;
    /// start the shop, the sandbox payment provider (second port) and the mail worker.
    Serve(serve::ServeArgs),
    /// Synthetic data for benchmarks and incident drills.
    Demo {
        #[command(subcommand)]
        cmd: DemoCmd,
    },
    /// Master key and ledger key management.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// The access ledger.
    Ledger {
        #[command(subcommand)]
        cmd: LedgerCmd,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
    /// The watch over the shop's own files: record or check the signed baseline.
    Guard {
        #[command(subcommand)]
        cmd: guard::GuardCmd,
    },
    /// The incident desk: open, list, show (deadlines and timeline), note, scope.
    Incident {
        #[command(subcommand)]
        cmd: incident::IncidentCmd,
    },
    /// Evidence packs of incidents (`mamori incident evidence N` writes one).
    Evidence {
        #[command(subcommand)]
        cmd: EvidenceCmd,
    },
    /// Back-office staff.
    Staff {
        #[command(subcommand)]
        cmd: StaffCmd,
    },
    /// Find card numbers in files, archives, databases and mail (exit 0 none, 1 found, 2 error).
    #[command(
        long_about = "Find card numbers wherever old card data may still lie: files and directory trees, \
logs, CSV, JSON, SQL dumps, SQLite databases, gzip/bzip2/xz/zstd, zip and tar (nested), docx/xlsx, mbox and .eml. \
Only the first six and last four digits are ever shown.\n\nExit status: 0 no card data found; 1 card data found \
(even if some inputs could not be read); 2 errors and nothing found, so the scan is incomplete. In CI and cron, \
treat any non-zero status as a reason to act."
    )]
    Scan(mamori_scan::ScanArgs),
    /// Run the sandbox payment provider (its own server and origin, hosted card page, signed webhooks).
    PspSandbox(Box<mamori_pay::SandboxArgs>),
}

#[derive(Subcommand, Debug)]
enum DemoCmd {
    /// Create N customers and M orders through the gateway (sealed, on the ledger).
    Populate(demo::PopulateArgs),
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// Create the master key file and the ledger key file (mode 0600). Refuses to overwrite.
    Init,
    /// Add a new master key, make it active, and re-wrap every customer's data key under it while
    /// the shop keeps running. With --retire, drop the old master keys once nothing uses them.
    Rotate {
        /// Remove the previous master keys from the key file after re-wrapping.
        #[arg(long)]
        retire: bool,
    },
    /// Show the master key ids, how many data keys each wraps, and the ledger's public key.
    Show,
}

#[derive(Subcommand, Debug)]
enum LedgerCmd {
    /// Verify the whole log against its checkpoints and the witness file; says where it breaks.
    Verify,
    /// Sign a checkpoint of the current tree head (database and witness file).
    Checkpoint,
    /// Print an inclusion proof of one event as JSON.
    Prove {
        /// Leaf index (0-based) of the event.
        index: u64,
    },
}

#[derive(Subcommand, Debug)]
enum EvidenceCmd {
    /// Check an evidence pack with nothing but the pack and the ledger's public key (as
    /// `mamori keys show` prints it): the manifest's signature, every file's SHA-256, each
    /// ledger entry through the proofs to the signed tree head, and the checkpoints'
    /// signatures. Exit 0 verified, 1 it does not verify (the file, and the entry, named), 2
    /// the pack or the key could not be read.
    Verify {
        /// The pack.
        file: PathBuf,
        /// The ledger's public key (`<name>+<key id>+<base64>`), or a file holding it.
        #[arg(long)]
        public_key: String,
    },
}

#[derive(Subcommand)]
enum StaffCmd {
    /// Invite a member of staff (the first owner, typically) and print their one-time enrolment
    /// link (valid 72 hours): they set a password and a passkey or authenticator app there.
    Create {
        /// owner, manager, operator, support or auditor.
        #[arg(long)]
        role: String,
        /// Their work email address.
        #[arg(long)]
        email: String,
        /// Their name as the back office shows it.
        #[arg(long)]
        name: String,
    },
}

/// Shows the role only: the email and name are a person's.
impl std::fmt::Debug for StaffCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Create { role, .. } => f
                .debug_struct("Create")
                .field("role", role)
                .finish_non_exhaustive(),
        }
    }
}

#[derive(Subcommand, Debug)]
enum DbCmd {
    /// Apply pending migrations.
    Migrate,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MAMORI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Command::Scan(args) = cli.command {
        return ExitCode::from(mamori_scan::run_cli(args).clamp(0, 255) as u8);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli));
    // Work still running on the blocking pool must not hold the exit up past what
    // `[server] shutdown_timeout_secs` promised.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::PspSandbox(args) = cli.command {
        mamori_pay::run_sandbox(*args).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Evidence {
        cmd: EvidenceCmd::Verify { file, public_key },
    } = &cli.command
    {
        return evidence_verify(file, public_key);
    }
    let mut cfg = Config::load(cli.config.as_deref())?;
    if let Some(d) = cli.data_dir {
        cfg.data_dir = d;
    }
    match cli.command {
        Command::Serve(args) => {
            serve::serve(&cfg, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            cmd: DemoCmd::Populate(args),
        } => {
            let store = open_migrated(&cfg).await?;
            if store.categories().await?.is_empty() {
                mamori_demo::seed_demo_catalogue(store.as_ref()).await?;
            }
            let ledger = Ledger::start(store.clone(), load_signer(&cfg)?, ledger_config(&cfg));
            let gateway = Gateway::new(store, Arc::new(load_keys(&cfg)?), ledger);
            demo::populate(&gateway, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { cmd: KeysCmd::Init } => keys_init(&cfg),
        Command::Keys {
            cmd: KeysCmd::Rotate { retire },
        } => keys_rotate(&cfg, retire).await,
        Command::Keys { cmd: KeysCmd::Show } => keys_show(&cfg).await,
        Command::Db {
            cmd: DbCmd::Migrate,
        } => {
            let store = open_migrated(&cfg).await?;
            println!("database is up to date ({:?})", store.backend());
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger { cmd } => ledger_cmd(&cfg, cmd).await,
        Command::Guard {
            cmd:
                guard::GuardCmd::Canary {
                    cmd: guard::CanaryCmd::Plant { count, seed },
                },
        } => {
            let domain = cfg
                .guard
                .canary_domain
                .clone()
                .context("set guard.canary_domain (a mail domain you control) first")?;
            let store = open_migrated(&cfg).await?;
            let ledger = Ledger::start(store.clone(), load_signer(&cfg)?, ledger_config(&cfg));
            let gateway = Gateway::new(store, Arc::new(load_keys(&cfg)?), ledger)
                .with_read_budgets(cfg.guard.read_budgets.budgets());
            let seed = seed.unwrap_or_else(rand::random);
            let acc = Accessor::system("cli:guard-canary", mamori_guard::canary::PLANT_PURPOSE)
                .via("guard");
            let ids = mamori_guard::canary::plant(&gateway, &acc, count, &domain, seed).await?;
            println!("planted {} canary customers at {domain}", ids.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Guard { cmd } => guard::run(&cfg, cmd),
        Command::Incident { cmd } => {
            let store = open_migrated(&cfg).await?;
            let ledger = Ledger::start(store.clone(), load_signer(&cfg)?, ledger_config(&cfg));
            let gateway = Gateway::new(store, Arc::new(load_keys(&cfg)?), ledger.clone())
                .with_read_budgets(cfg.guard.read_budgets.budgets());
            let gateway = match key_file_in_use(&cfg) {
                Some(path) => gateway.with_key_file(path),
                None => gateway,
            };
            let code = incident::run(gateway, cmd, &cfg).await?;
            // Entries appended here are signed into a checkpoint before the process ends.
            ledger.checkpoint().await?;
            Ok(code)
        }
        Command::Staff {
            cmd: StaffCmd::Create { role, email, name },
        } => staff_create(&cfg, &role, &email, &name).await,
        Command::Scan(_) | Command::Evidence { .. } => Ok(ExitCode::from(2)),
        Command::PspSandbox(_) => Ok(ExitCode::from(2)),
    }
}

/// `mamori evidence verify FILE --public-key KEY`: needs no configuration, database or key file.
fn evidence_verify(file: &Path, public_key: &str) -> Result<ExitCode> {
    let key = match LedgerVerifier::parse(public_key.trim()) {
        Ok(k) => k,
        Err(parse_err) => {
            let path = Path::new(public_key);
            if !path.is_file() {
                bail!("--public-key: {parse_err} (give the key as `mamori keys show` prints it, or a file holding it)");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let text = text.trim();
            let text = text
                .strip_prefix("ledger public key:")
                .unwrap_or(text)
                .trim();
            LedgerVerifier::parse(text)
                .with_context(|| format!("the public key in {}", path.display()))?
        }
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    match mamori_respond::evidence::verify(&bytes, &key) {
        Ok(v) => {
            let m = &v.manifest;
            println!(
                "evidence pack OK: incident {}, {} ledger entries ({}..{}) proven to the signed tree head of {} entries (root {}), {} files, {} checkpoint signatures",
                m.incident,
                v.entries,
                m.entries_from,
                m.entries_to,
                m.tree_head.size,
                m.tree_head.root,
                m.files.len() + 2,
                v.checkpoints
            );
            println!("ledger public key: {}", key.to_vkey());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("evidence pack BROKEN: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `mamori staff create`: invites a member of staff and prints the enrolment link on the back
/// office's public URL. The invitation goes to the staff log as a system action.
async fn staff_create(cfg: &Config, role: &str, email: &str, name: &str) -> Result<ExitCode> {
    use mamori_staff::Role;
    let Some(role) = Role::parse(role) else {
        bail!("unknown role {role:?}: use owner, manager, operator, support or auditor");
    };
    let store = open_migrated(cfg).await?;
    let ledger = Ledger::start(store.clone(), load_signer(cfg)?, ledger_config(cfg));
    let gateway = Gateway::new(store.clone(), Arc::new(load_keys(cfg)?), ledger);
    let config = cfg.backoffice.to_config(cfg.backoffice.listen, &cfg.shop)?;
    let clock: Arc<dyn mamori_web::clock::Clock> = Arc::new(mamori_web::clock::SystemClock);
    let auth = mamori_backoffice::auth::build_staff_auth(&gateway, &config, &clock)
        .context("the back office's WebAuthn settings (backoffice.public_url)")?;
    let (row, token) = match auth.invite(role, email, name, None).await {
        Ok(invited) => invited,
        Err(e) => bail!("{} / {}", e.message_ja(), e.message_en()),
    };
    let by = mamori_backoffice::stafflog::Source {
        staff_id: None,
        request_id: &uuid_like(),
        ip: None,
    };
    mamori_backoffice::stafflog::append(
        store.as_ref(),
        mamori_store::model::now(),
        by,
        "staff.invite",
        &row.id,
        &serde_json::json!({ "role": role.as_str(), "by": "cli" }),
    )
    .await?;
    println!("invited {} as {}", row.email, role.as_str());
    println!(
        "enrolment link (works once, until {} JST):",
        mamori_backoffice::state::fmt_secs(token.expires_at)
    );
    println!("{}", config.enrol_link(&token));
    Ok(ExitCode::SUCCESS)
}

/// A random id for a command's staff-log entry (no request to take one from).
fn uuid_like() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    format!("cli-{}", hex::encode(b))
}

fn keys_init(cfg: &Config) -> Result<ExitCode> {
    let key_file = cfg.key_file();
    let ledger_file = cfg.ledger_key_file();
    if key_file.exists() {
        bail!(
            "{} exists already; `mamori keys rotate` adds a new master key",
            key_file.display()
        );
    }
    if ledger_file.exists() {
        bail!("{} exists already", ledger_file.display());
    }
    let ring = KeyRing::init(&key_file)?;
    let signer = LedgerSigner::create_key_file(&ledger_file, "mamori-ledger")?;
    println!(
        "master key {} written to {}",
        ring.active_master_key_id(),
        key_file.display()
    );
    println!("ledger key written to {}", ledger_file.display());
    println!("ledger public key: {}", signer.verifier().to_vkey());
    println!(
        "Keep both files off the database server's backups; keep a copy of the master key offline."
    );
    Ok(ExitCode::SUCCESS)
}

/// The key file the master key is loaded from (`MAMORI_MASTER_KEY_FILE`, else the configured
/// one); None when it comes from `MAMORI_MASTER_KEY` itself (it cannot be rotated or reloaded
/// while serving).
fn key_file_in_use(cfg: &Config) -> Option<std::path::PathBuf> {
    let set = |v: &str| std::env::var_os(v).filter(|x| !x.is_empty());
    if set("MAMORI_MASTER_KEY").is_some() {
        return None;
    }
    Some(set("MAMORI_MASTER_KEY_FILE").map_or_else(|| cfg.key_file(), std::path::PathBuf::from))
}

/// Loads the master key from `MAMORI_MASTER_KEY`/`MAMORI_MASTER_KEY_FILE`, else the key file.
fn load_keys(cfg: &Config) -> Result<KeyRing> {
    if let Some(ring) = KeyRing::from_env("MAMORI_MASTER_KEY")? {
        return Ok(ring);
    }
    let path = cfg.key_file();
    KeyRing::load(&path).with_context(|| {
        format!(
            "loading the master key (run `mamori keys init` to create {})",
            path.display()
        )
    })
}

fn load_signer(cfg: &Config) -> Result<LedgerSigner> {
    let path = cfg.ledger_key_file();
    LedgerSigner::load_key_file(&path).with_context(|| {
        format!(
            "loading the ledger key (run `mamori keys init` to create {})",
            path.display()
        )
    })
}

async fn open_migrated(cfg: &Config) -> Result<Arc<dyn Store>> {
    let store = open_store(&cfg.database_url())
        .await
        .context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

fn ledger_config(cfg: &Config) -> LedgerConfig {
    let mut lc = LedgerConfig::new(cfg.witness_file());
    lc.origin = cfg.ledger_origin.clone();
    lc
}

async fn keys_rotate(cfg: &Config, retire: bool) -> Result<ExitCode> {
    let path = cfg.key_file();
    let before = load_keys(cfg)?;
    let old_ids: Vec<String> = before.master_key_ids();
    let ring = KeyRing::rotate(&path)?;
    println!("new active master key: {}", ring.active_master_key_id());
    let store = open_migrated(cfg).await?;
    let ledger = Ledger::start(store.clone(), load_signer(cfg)?, ledger_config(cfg));
    let gateway = Gateway::new(store.clone(), Arc::new(ring), ledger.clone());
    let acc = Accessor::system("cli:keys-rotate", "keys.rotate");
    // Running `mamori serve` processes read the new key file when they see this (within a
    // second), before any of them meets a key wrapped by the new master key.
    store
        .guard_switch_set(&mamori_store::GuardSwitchRow {
            name: mamori_store::store::alerts::KEY_RING.to_owned(),
            state: mamori_store::switch_state::OPEN.to_owned(),
            reason: "mamori keys rotate".to_owned(),
            changed_by: Some("cli:keys-rotate".to_owned()),
            changed_at: chrono::Utc::now().timestamp(),
            detail: Some(gateway.active_master_key_id()),
            ..Default::default()
        })
        .await?;
    let moved = gateway.rotate_data_keys(&acc, 1000).await?;
    ledger.checkpoint().await?;
    println!("re-wrapped {moved} customer data keys");
    if retire {
        let counts = store.key_counts().await?;
        for id in old_ids {
            if counts.iter().any(|(k, n)| *k == id && *n > 0) {
                bail!("master key {id} still wraps data keys; not retired");
            }
            KeyRing::retire(&path, &id)?;
            println!("retired master key {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn keys_show(cfg: &Config) -> Result<ExitCode> {
    let ring = load_keys(cfg)?;
    let signer = load_signer(cfg)?;
    let store = open_migrated(cfg).await?;
    let counts = store.key_counts().await?;
    for id in ring.master_key_ids() {
        let n = counts
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let active = if id == ring.active_master_key_id() {
            " (active)"
        } else {
            ""
        };
        println!("master key {id}{active}: wraps {n} data keys");
    }
    for (id, n) in counts
        .iter()
        .filter(|(k, _)| !ring.master_key_ids().contains(k))
    {
        println!("master key {id} (NOT in the key file): wraps {n} data keys");
    }
    println!("ledger public key: {}", signer.verifier().to_vkey());
    Ok(ExitCode::SUCCESS)
}

async fn ledger_cmd(cfg: &Config, cmd: LedgerCmd) -> Result<ExitCode> {
    let signer = load_signer(cfg)?;
    let verifier = signer.verifier();
    let store = open_migrated(cfg).await?;
    match cmd {
        LedgerCmd::Verify => {
            let started = std::time::Instant::now();
            match mamori_store::ledger::verify(store.as_ref(), &verifier, &cfg.witness_file())
                .await?
            {
                Ok(report) => {
                    println!(
                        "ledger OK: {} entries, {} database checkpoints and {} witness checkpoints verified in {:.2?}",
                        report.size,
                        report.checkpoints_checked,
                        report.witness_checkpoints_checked,
                        started.elapsed()
                    );
                    let unsigned = report.size - report.last_checkpoint_size.min(report.size);
                    if unsigned > 0 {
                        println!(
                            "note: the last {unsigned} entries are not covered by a signed checkpoint yet \
                             (`mamori ledger checkpoint` signs them)"
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(brk) => {
                    println!("ledger BROKEN: {brk}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        LedgerCmd::Checkpoint => {
            let ledger = Ledger::start(store, signer, ledger_config(cfg));
            let (size, _) = ledger.checkpoint().await?;
            println!("checkpoint signed at tree size {size}");
            Ok(ExitCode::SUCCESS)
        }
        LedgerCmd::Prove { index } => {
            let size = store.ledger_size().await?;
            if index >= size {
                bail!("entry {index} does not exist: the log holds {size} entries");
            }
            let ledger = Ledger::start(store.clone(), signer, ledger_config(cfg));
            ledger.checkpoint().await?;
            let proof = mamori_store::ledger::prove(store.as_ref(), &verifier, index).await?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
