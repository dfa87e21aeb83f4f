//! The PostgreSQL backend: several `mamori` processes may share one database.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The end of the log is read `FOR UPDATE`: appenders in other processes wait for this batch to
/// commit and then continue after it, so the ledger stays one linear history.
const STATE_SQL: &str = "SELECT size, frontier FROM ledger_state WHERE id = 1 FOR UPDATE";

/// PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`).
    pub async fn open(url: &str) -> Result<Self> {
        let opts = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    /// The underlying pool (benchmarks and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction that writes (the same as any on PostgreSQL; see the SQLite store's).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Appended to a `SELECT` that locks the rows it reads until the transaction ends.
    pub(crate) const FOR_UPDATE: &'static str = " FOR UPDATE";

    async fn begin_ledger(&self) -> Result<sqlx::Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO ledger_state (id, size, frontier) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING")
            .bind(mamori_ledger::Frontier::new().to_bytes())
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        // Products written before the search migration get their search text.
        self.refold_search_text(None).await
    }
}

impl_customer_store!(PgStore, Postgres, {});
impl_order_store!(PgStore, Postgres, {});
impl_sealed_order_store!(PgStore, Postgres, {});
impl_catalogue_store!(PgStore, Postgres, {});
impl_web_session_store!(PgStore, Postgres, {});
impl_token_store!(PgStore, Postgres, {});
impl_mail_outbox_store!(PgStore, Postgres, {
    async fn outbox_claim(
        &self,
        limit: i64,
        lease_secs: i64,
        now: i64,
    ) -> Result<Vec<OutboxClaimRow>> {
        // Rows another worker has locked are skipped rather than waited for; the conditional
        // UPDATE re-checks each row, so a row claimed and committed meanwhile is not taken twice.
        let mut tx = self.pool.begin().await?;
        let out = outbox_claim_in_tx!(
            &mut *tx,
            concat!(outbox_due_sql!(), " FOR UPDATE SKIP LOCKED"),
            limit,
            lease_secs,
            now
        )?;
        tx.commit().await?;
        Ok(out)
    }
});
impl_staff_store!(PgStore, Postgres, {});
impl_backoffice_store!(PgStore, Postgres, {});
impl_ledger_read_store!(PgStore, Postgres, {});
impl_ledger_store!(PgStore, Postgres, {
    async fn ledger_append(
        &self,
        events: &[PendingEvent],
        signer: Option<&CheckpointSigner>,
    ) -> Result<(AppendOutcome, Option<String>)> {
        let mut tx = self.begin_ledger().await?;
        let out = ledger_append_in_tx!(Postgres, &mut *tx, STATE_SQL, events, signer)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn ledger_index(&self) -> Result<u64> {
        // One statement: the rows deleted are exactly the rows copied, even while appenders in
        // other processes add new ones.
        let moved = sqlx::query(
            "WITH moved AS (DELETE FROM ledger_subjects_recent RETURNING customer_id, seq) \
             INSERT INTO ledger_subjects (customer_id, seq) \
             SELECT customer_id, seq FROM moved ORDER BY customer_id, seq ON CONFLICT DO NOTHING",
        )
        .execute(&self.pool)
        .await?;
        Ok(moved.rows_affected())
    }

    async fn ledger_checkpoint(&self, signer: &CheckpointSigner) -> Result<(u64, Option<String>)> {
        let mut tx = self.begin_ledger().await?;
        let (o, note) = ledger_append_in_tx!(Postgres, &mut *tx, STATE_SQL, &[], Some(signer))?;
        tx.commit().await?;
        Ok((o.size, note))
    }
});
