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
        toml::from_str(&text)
            .with_context(|| format!("in the configuration file {}", path.display()))
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
}
