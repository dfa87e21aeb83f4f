//! SQL of the ledger area, shared by both backends (expanded in `sqlite.rs` and `postgres.rs`).

/// Emits `impl LedgerReadStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_ledger_read_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::LedgerReadStore for $store {
        $($own)*
        async fn ledger_size(&self) -> Result<u64> {
            let size: Option<i64> = sqlx::query_scalar("SELECT size FROM ledger_state WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
            Ok(size.unwrap_or(0).max(0) as u64)
        }
        async fn ledger_entries(&self, from: u64, limit: u64) -> Result<Vec<LedgerEntryRow>> {
            let rows = sqlx::query_as::<_, LedgerEntryRow>(
                "SELECT seq, leaf_hash, event FROM ledger_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )
            .bind(from as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        }
        async fn ledger_leaf_hashes(&self, upto: u64) -> Result<Vec<[u8; 32]>> {
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, leaf_hash FROM ledger_entries WHERE seq < $1 ORDER BY seq",
            )
            .bind(upto as i64)
            .fetch_all(&self.pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for (i, (seq, h)) in rows.into_iter().enumerate() {
                if seq != i as i64 {
                    return Err(StoreError::LedgerInconsistent {
                        entry: i as u64,
                        what: "a gap in the entries",
                    });
                }
                out.push($crate::backend::hash32(&h)?);
            }
            Ok(out)
        }
        async fn ledger_checkpoints(&self) -> Result<Vec<String>> {
            let notes: Vec<String> = sqlx::query_scalar("SELECT note FROM ledger_checkpoints ORDER BY size")
                .fetch_all(&self.pool)
                .await?;
            Ok(notes)
        }
        async fn ledger_events_of(&self, customer_id: &str) -> Result<Vec<u64>> {
            // One statement, so one snapshot: a concurrent `ledger_index` moves rows between the
            // two tables without this read missing or doubling any of them.
            let seqs: Vec<i64> = sqlx::query_scalar(
                "SELECT seq FROM ledger_subjects WHERE customer_id = $1 \
                 UNION SELECT seq FROM ledger_subjects_recent WHERE customer_id = $1 ORDER BY seq",
            )
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(seqs.into_iter().map(|s| s.max(0) as u64).collect())
        }
        }
    };
}
pub(crate) use impl_ledger_read_store;

/// Emits `impl LedgerStore for $store`: the shared methods plus the backend's own (`$own`).
macro_rules! impl_ledger_store {
    ($store:ty, $db:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::LedgerStore for $store {
        $($own)*
        }
    };
}
pub(crate) use impl_ledger_store;
