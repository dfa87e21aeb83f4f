//! The ledger area of the store.

use async_trait::async_trait;

use super::CheckpointSigner;
use crate::error::Result;
use crate::model::*;

/// Reading the access ledger (entries name ids and fields, never values).
#[async_trait]
pub trait LedgerReadStore: Send + Sync {
    /// Number of entries in the log.
    async fn ledger_size(&self) -> Result<u64>;

    /// Entries with `seq >= from`, in order, at most `limit`.
    async fn ledger_entries(&self, from: u64, limit: u64) -> Result<Vec<LedgerEntryRow>>;

    /// Stored leaf hashes of entries `0..upto`.
    async fn ledger_leaf_hashes(&self, upto: u64) -> Result<Vec<[u8; 32]>>;

    /// Every checkpoint note stored in the database.
    async fn ledger_checkpoints(&self) -> Result<Vec<String>>;

    /// Sequence numbers of the events that name a customer.
    async fn ledger_events_of(&self, customer_id: &str) -> Result<Vec<u64>>;
}

/// Appending to the access ledger: for the ledger writer only.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Appends events as one transaction (group commit) after the current end of the log, which is
    /// read under a lock so that several processes keep one linear history. When `signer` is given,
    /// the new tree head is signed and stored as a checkpoint in the same transaction.
    async fn ledger_append(
        &self,
        events: &[PendingEvent],
        signer: Option<&CheckpointSigner>,
    ) -> Result<(AppendOutcome, Option<String>)>;

    /// Signs the current tree head if no checkpoint exists at this size yet.
    async fn ledger_checkpoint(&self, signer: &CheckpointSigner) -> Result<(u64, Option<String>)>;

    /// Moves the subjects of recent appends (written in append order, cheap to write) into the
    /// per-customer index in one sorted batch; returns how many rows moved. Readers see every
    /// subject before, during and after (see [`Store::ledger_events_of`]).
    async fn ledger_index(&self) -> Result<u64>;
}
