//! One environment per test: a fresh, migrated database on the chosen backend, a key ring with
//! cheap Argon2 parameters, a ledger key, a witness file, a running ledger writer and a gateway
//! over them, all in a temporary directory that lives as long as the [`Env`].
//!
//! A failed set-up is a failed test, so this module panics instead of returning errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mamori_ledger::{LedgerSigner, LedgerVerifier};
use mamori_store::{open_store, Backend, Gateway, Ledger, LedgerConfig, Store};
use mamori_vault::{KeyRing, PasswordParams};

/// Argon2 parameters for tests (the real ones are deliberately slow).
pub fn cheap_params() -> PasswordParams {
    PasswordParams {
        m_cost_kib: 1024,
        t_cost: 1,
        p_cost: 1,
    }
}

/// The URL of a fresh database on `backend`, every migration applied: SQLite at
/// `dir/mamori.db`, PostgreSQL cloned from the migrated template.
pub async fn migrated_database(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.join("mamori.db").display());
            let store = open_store(&url).await.expect("opening the SQLite store");
            store.migrate().await.expect("migrating SQLite");
            url
        }
        Backend::Postgres => crate::migrated_pg_database()
            .await
            .expect("a migrated PostgreSQL database"),
    }
}

/// A value bound to raw SQL in [`Env::sql`].
pub enum Bind {
    /// `BLOB` / `BYTEA`.
    Bytes(Vec<u8>),
    /// `TEXT`.
    Text(String),
    /// `INTEGER` / `BIGINT`.
    Int(i64),
}

/// What [`Env::start`] builds.
pub struct Env {
    /// Which database.
    pub backend: Backend,
    /// Key file, ledger key, witness file and SQLite file.
    pub dir: tempfile::TempDir,
    /// The database URL.
    pub url: String,
    /// The store, migrated.
    pub store: Arc<dyn Store>,
    /// The master key file.
    pub key_file: PathBuf,
    /// The key ring of `key_file`, with [`cheap_params`].
    pub keys: Arc<KeyRing>,
    /// The running ledger writer.
    pub ledger: Ledger,
    /// Verifies the ledger's checkpoints (the public half of `dir/ledger.key`).
    pub verifier: LedgerVerifier,
    /// The witness file.
    pub witness: PathBuf,
    /// The gateway over `store`, `keys` and `ledger`.
    pub gw: Gateway,
}

impl Env {
    /// A migrated, empty database and everything over it.
    pub async fn start(backend: Backend) -> Env {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = migrated_database(backend, dir.path()).await;
        let store = open_store(&url).await.expect("opening the store");
        // Nothing left to do on a migrated database; kept so that the store's own call runs.
        store.migrate().await.expect("migrating");
        let key_file = dir.path().join("master.key");
        let keys = Arc::new(
            KeyRing::init(&key_file)
                .expect("a new key file")
                .with_password_params(cheap_params()),
        );
        let signer = LedgerSigner::create_key_file(&dir.path().join("ledger.key"), "mamori-ledger")
            .expect("a new ledger key");
        let verifier = signer.verifier();
        let witness = dir.path().join("witness.jsonl");
        let ledger = Ledger::start(store.clone(), signer, LedgerConfig::new(witness.clone()));
        let gw = Gateway::new(store.clone(), keys.clone(), ledger.clone());
        Env {
            backend,
            dir,
            url,
            store,
            key_file,
            keys,
            ledger,
            verifier,
            witness,
            gw,
        }
    }

    /// [`Env::start`] with the demo catalogue loaded (as `mamori serve` does on first run).
    pub async fn with_demo_catalogue(backend: Backend) -> Env {
        let env = Env::start(backend).await;
        mamori_demo::seed_demo_catalogue(env.store.as_ref())
            .await
            .expect("seeding the demo catalogue");
        env
    }

    /// A gateway with another key ring over the same store and ledger.
    pub fn gateway_with(&self, keys: KeyRing) -> Gateway {
        Gateway::new(self.store.clone(), Arc::new(keys), self.ledger.clone())
    }

    /// What a second `mamori serve` on the same database would hold: its own connection pool,
    /// its own ledger writer (the same ledger key) and the key ring read from the key file as
    /// it is now, remembered so that a rotation by another process can be reloaded.
    pub async fn another_process(&self) -> Gateway {
        let store = open_store(&self.url)
            .await
            .expect("opening the store again");
        let signer = LedgerSigner::load_key_file(&self.dir.path().join("ledger.key"))
            .expect("the ledger key");
        let ledger = Ledger::start(
            store.clone(),
            signer,
            LedgerConfig::new(self.witness.clone()),
        );
        let keys = KeyRing::load(&self.key_file)
            .expect("the key file")
            .with_password_params(cheap_params());
        Gateway::new(store, Arc::new(keys), ledger).with_key_file(self.key_file.clone())
    }

    /// Runs raw SQL against the test database, as an attacker with database access would.
    pub async fn sql(&self, sql: &str, binds: Vec<Bind>) {
        macro_rules! run {
            ($pool:expr) => {{
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = match b {
                        Bind::Bytes(v) => q.bind(v),
                        Bind::Text(v) => q.bind(v),
                        Bind::Int(v) => q.bind(v),
                    };
                }
                q.execute($pool).await.unwrap();
            }};
        }
        match self.backend {
            Backend::Sqlite => run!(mamori_store::SqliteStore::open(&self.url)
                .await
                .unwrap()
                .pool()),
            Backend::Postgres => run!(mamori_store::PgStore::open(&self.url).await.unwrap().pool()),
        }
    }

    /// One integer from raw SQL.
    pub async fn sql_i64(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let s = mamori_store::SqliteStore::open(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap()
            }
            Backend::Postgres => {
                let s = mamori_store::PgStore::open(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap()
            }
        }
    }

    /// Verifies the ledger against the database's checkpoints and the witness file.
    pub async fn verify(&self) -> Result<mamori_ledger::VerifyReport, mamori_ledger::Break> {
        mamori_store::ledger::verify(self.store.as_ref(), &self.verifier, &self.witness)
            .await
            .unwrap()
    }
}
