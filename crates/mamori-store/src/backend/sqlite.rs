//! The embedded SQLite backend: one file (plus its WAL), for a shop on one machine.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use super::{
    backoffice::impl_backoffice_store, catalogue::impl_catalogue_store,
    customers::impl_customer_store, ledger::impl_ledger_read_store, ledger::impl_ledger_store,
    ledger_append_in_tx, order_columns, orders::impl_order_store, orders::impl_sealed_order_store,
    outbox::impl_mail_outbox_store, outbox_claim_in_tx, outbox_due_sql, payment_columns,
    product_columns, sessions::impl_token_store, sessions::impl_web_session_store,
    staff::impl_staff_store,
};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::store::{Backend, CheckpointSigner, OrderInsert, Store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite store. WAL for concurrent readers, `synchronous=FULL` so that a committed ledger batch
/// survives a power cut (group commit pays one fsync per batch), a busy timeout instead of errors.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens or creates the database at `url` (`sqlite://PATH`; parent directories are created).
    pub async fn open(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Fewer, larger WAL checkpoints: each one is a synchronous copy and fsync inside some
            // commit, which stalls every ledger batch queued behind it.
            .pragma("wal_autocheckpoint", "8000");
        if let Some(parent) = opts.get_filename().parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    /// The underlying pool (benchmarks and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that writes, as `BEGIN IMMEDIATE` (see [`Self::begin_immediate`]): a
    /// deferred one that reads first fails at once with "database is locked" when another
    /// connection wrote in between, which the busy timeout does not cover.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Appended to a `SELECT` that locks the rows it reads until the transaction ends: nothing
    /// on SQLite, where [`Self::begin_write`] holds the whole database's write lock.
    pub(crate) const FOR_UPDATE: &'static str = "";

    /// Starts `BEGIN IMMEDIATE`: SQLite's write lock is taken up front, so a transaction that
    /// reads before it writes never fails half-way on a lock upgrade, and two of them (ledger
    /// batches, outbox claims) run one after the other.
    async fn begin_immediate(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        Ok(conn)
    }

    /// [`Self::begin_immediate`] with the ledger's state row created if missing.
    async fn begin_ledger(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>> {
        let mut conn = self.begin_immediate().await?;
        let init = sqlx::query(
            "INSERT INTO ledger_state (id, size, frontier) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(mamori_ledger::Frontier::new().to_bytes())
        .execute(&mut *conn)
        .await;
        match init {
            Ok(_) => Ok(conn),
            Err(e) => Self::finish(conn, Err(e.into())).await,
        }
    }

    /// Commits on success, rolls back on error.
    async fn finish<T>(mut conn: sqlx::pool::PoolConnection<Sqlite>, res: Result<T>) -> Result<T> {
        match res {
            Ok(v) => {
                sqlx::query("COMMIT").execute(&mut *conn).await?;
                Ok(v)
            }
            Err(e) => {
                // If the rollback fails too, the connection is closed rather than reused mid-transaction.
                if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                    conn.detach();
                }
                Err(e)
            }
        }
    }
}

const STATE_SQL: &str = "SELECT size, frontier FROM ledger_state WHERE id = 1";

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        // Products written before the search migration get their search text.
        self.refold_search_text(None).await
    }
}

impl_customer_store!(SqliteStore, Sqlite, {});
impl_order_store!(SqliteStore, Sqlite, {});
impl_sealed_order_store!(SqliteStore, Sqlite, {});
impl_catalogue_store!(SqliteStore, Sqlite, {});
impl_web_session_store!(SqliteStore, Sqlite, {});
impl_token_store!(SqliteStore, Sqlite, {});
impl_mail_outbox_store!(SqliteStore, Sqlite, {
    async fn outbox_claim(
        &self,
        limit: i64,
        lease_secs: i64,
        now: i64,
    ) -> Result<Vec<OutboxClaimRow>> {
        let mut conn = self.begin_immediate().await?;
        let res =
            async { outbox_claim_in_tx!(&mut *conn, outbox_due_sql!(), limit, lease_secs, now) }
                .await;
        Self::finish(conn, res).await
    }
});
impl_staff_store!(SqliteStore, Sqlite, {});
impl_backoffice_store!(SqliteStore, Sqlite, {});
impl_ledger_read_store!(SqliteStore, Sqlite, {});
impl_ledger_store!(SqliteStore, Sqlite, {
    async fn ledger_append(
        &self,
        events: &[PendingEvent],
        signer: Option<&CheckpointSigner>,
    ) -> Result<(AppendOutcome, Option<String>)> {
        let mut conn = self.begin_ledger().await?;
        let res =
            async { ledger_append_in_tx!(Sqlite, &mut *conn, STATE_SQL, events, signer) }.await;
        Self::finish(conn, res).await
    }

    async fn ledger_index(&self) -> Result<u64> {
        // Under SQLite's write lock no append runs between the copy and the delete.
        let mut conn = self.begin_immediate().await?;
        let res = async {
            let moved = sqlx::query(
                "INSERT INTO ledger_subjects (customer_id, seq) SELECT customer_id, seq \
                 FROM ledger_subjects_recent WHERE true ORDER BY customer_id, seq \
                 ON CONFLICT DO NOTHING",
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM ledger_subjects_recent")
                .execute(&mut *conn)
                .await?;
            Ok(moved.rows_affected())
        }
        .await;
        Self::finish(conn, res).await
    }

    async fn ledger_checkpoint(&self, signer: &CheckpointSigner) -> Result<(u64, Option<String>)> {
        let mut conn = self.begin_ledger().await?;
        let res =
            async { ledger_append_in_tx!(Sqlite, &mut *conn, STATE_SQL, &[], Some(signer)) }.await;
        Self::finish(conn, res)
            .await
            .map(|(o, note)| (o.size, note))
    }
});
