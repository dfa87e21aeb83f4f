//! The access ledger as a service: a writer task that appends events with group commit, signs
//! checkpoints into the database and the witness file, and the verifier and prover over a store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mamori_ledger::{Break, LedgerSigner, LedgerVerifier, LogVerifier, VerifyReport, WitnessFile};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::access::AccessEvent;
use crate::backend::hash32;
use crate::error::{Result, StoreError};
use crate::model::PendingEvent;
use crate::store::{CheckpointSigner, Store};

/// How the ledger writer behaves.
#[derive(Clone, Debug)]
pub struct LedgerConfig {
    /// Origin line of the checkpoints (the log's name), e.g. `mamori.example/ledger`.
    pub origin: String,
    /// The witness file outside the database that every checkpoint is appended to.
    pub witness_path: PathBuf,
    /// At most one checkpoint per interval while events arrive.
    pub checkpoint_interval: Duration,
    /// Largest number of events committed in one transaction.
    pub max_batch: usize,
    /// Subjects of this many appended events are moved into the per-customer index at once
    /// ([`Store::ledger_index`]): the larger the batch, the fewer index pages written per event.
    pub index_batch: usize,
}

impl LedgerConfig {
    /// Defaults with the given witness file.
    pub fn new(witness_path: PathBuf) -> Self {
        Self {
            origin: "mamori/access-ledger".into(),
            witness_path,
            checkpoint_interval: Duration::from_secs(1),
            max_batch: 8192,
            index_batch: 50_000,
        }
    }
}

/// Why the writer did not append an event.
enum AppendFail {
    /// The ledger could not record (the message of the store's error).
    Ledger(String),
    /// The event's read budget is spent: it was not appended.
    Refused(crate::model::BudgetRefusal),
}

/// Where the writer answers an append: the leaf index, or why the event was not recorded.
type AppendReply = oneshot::Sender<std::result::Result<u64, AppendFail>>;
/// Where the writer answers a checkpoint request: the tree size and the new note, if any.
type CheckpointReply = oneshot::Sender<std::result::Result<(u64, Option<String>), String>>;

enum Job {
    Append(PendingEvent, AppendReply),
    Checkpoint(CheckpointReply),
}

/// Handle to the ledger writer. Cheap to clone; the writer stops when the last handle is dropped.
#[derive(Clone)]
pub struct Ledger {
    jobs: mpsc::Sender<Job>,
    /// The public half of the checkpoint key, to check the log's own checkpoints.
    verifier: mamori_ledger::LedgerVerifier,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Ledger {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>, signer: LedgerSigner, config: LedgerConfig) -> Self {
        let (tx, rx) = mpsc::channel(config.max_batch * 4);
        let verifier = signer.verifier();
        let writer = Writer {
            store,
            signer: CheckpointSigner {
                origin: config.origin.clone(),
                signer,
            },
            witness: Arc::new(WitnessFile::open(&config.witness_path)),
            config,
            last_checkpoint: None,
            unsigned: 0,
            unindexed: 0,
            last_prune: None,
        };
        tokio::spawn(writer.run(rx));
        Self { jobs: tx, verifier }
    }

    /// The verifier of this ledger's checkpoints (the public key only).
    pub fn verifier(&self) -> &mamori_ledger::LedgerVerifier {
        &self.verifier
    }

    /// Appends an event and waits until it is durable; returns its leaf index.
    /// An error here means the access must not happen.
    pub async fn record(&self, event: &AccessEvent) -> Result<u64> {
        self.record_charged(event, None).await
    }

    /// [`Ledger::record`] of a read charged to `budget`: the writer checks and counts the
    /// customers it names in the append's transaction, and refuses the event
    /// ([`StoreError::ReadBudgetExceeded`], nothing appended) when it would cross a limit or
    /// the principal is stopped.
    pub async fn record_charged(
        &self,
        event: &AccessEvent,
        budget: Option<crate::model::ReadBudget>,
    ) -> Result<u64> {
        let bytes = event.to_bytes();
        let pending = PendingEvent {
            leaf_hash: mamori_ledger::leaf_hash(&bytes),
            event: bytes,
            subjects: {
                // One subject row per customer, however often the event names them.
                let mut s = event.customers.clone();
                s.sort_unstable();
                s.dedup();
                s
            },
            budget,
        };
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Append(pending, tx))
            .await
            .map_err(|_| StoreError::LedgerUnavailable("the ledger writer has stopped".into()))?;
        match rx.await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(AppendFail::Ledger(e))) => Err(StoreError::LedgerUnavailable(e)),
            Ok(Err(AppendFail::Refused(r))) => Err(StoreError::ReadBudgetExceeded {
                principal: r.principal,
                window_secs: r.window_secs,
                opened: r.opened,
                max: r.max,
                new_stop: r.new_stop,
            }),
            Err(_) => Err(StoreError::LedgerUnavailable(
                "the ledger writer has stopped".into(),
            )),
        }
    }

    /// Signs a checkpoint of the current tree head now (also written to the witness file).
    pub async fn checkpoint(&self) -> Result<(u64, Option<String>)> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Checkpoint(tx))
            .await
            .map_err(|_| StoreError::LedgerUnavailable("the ledger writer has stopped".into()))?;
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::LedgerUnavailable(e)),
            Err(_) => Err(StoreError::LedgerUnavailable(
                "the ledger writer has stopped".into(),
            )),
        }
    }
}

struct Writer {
    store: Arc<dyn Store>,
    signer: CheckpointSigner,
    witness: Arc<WitnessFile>,
    config: LedgerConfig,
    last_checkpoint: Option<Instant>,
    unsigned: usize,
    /// Events appended by this writer whose subjects are not in the per-customer index yet.
    unindexed: usize,
    /// When the read budgets' opens older than a day were last pruned.
    last_prune: Option<Instant>,
}

/// How often the read budgets' opens older than the longest window are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut events = Vec::new();
        let mut replies = Vec::new();
        let mut checkpoints = Vec::new();
        // Group commit: take everything that queued up while the previous batch was committing.
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            // The callers woken by the previous commit are still queuing their next events: give
            // them a few scheduler turns, as long as each turn brings more, before committing.
            let mut turns = 0;
            loop {
                while let Some(job) = next.take() {
                    match job {
                        Job::Append(e, reply) => {
                            events.push(e);
                            replies.push(reply);
                        }
                        Job::Checkpoint(reply) => checkpoints.push(reply),
                    }
                    if events.len() < self.config.max_batch {
                        next = rx.try_recv().ok();
                    }
                }
                if turns >= 4 || events.len() >= self.config.max_batch {
                    break;
                }
                turns += 1;
                tokio::task::yield_now().await;
                next = rx.try_recv().ok();
                if next.is_none() {
                    break;
                }
            }
            self.commit(&mut events, &mut replies, &mut checkpoints)
                .await;
            // After the callers have their answers; appends queued meanwhile make the next batch.
            if self.unindexed >= self.config.index_batch {
                self.index().await;
            }
            if self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                self.last_prune = Some(Instant::now());
                let before = crate::now() - crate::gateway::WINDOWS[2];
                if let Err(e) = self.store.read_opens_prune(before).await {
                    tracing::error!(error = %e, "could not prune the read budgets' opens");
                }
            }
        }
        // Last handle dropped: sign what is not signed yet, so a clean shutdown leaves a checkpoint.
        if self.unsigned > 0 {
            let _ = self.checkpoint_now().await;
        }
        if self.unindexed > 0 {
            self.index().await;
        }
    }

    /// Moves recent subjects into the per-customer index. On failure they stay where they are
    /// (still found by queries) and the next batch tries again.
    async fn index(&mut self) {
        match self.store.ledger_index().await {
            Ok(_) => self.unindexed = 0,
            Err(e) => tracing::error!(error = %e, "could not index ledger subjects"),
        }
    }

    async fn commit(
        &mut self,
        events: &mut Vec<PendingEvent>,
        replies: &mut Vec<AppendReply>,
        checkpoints: &mut Vec<CheckpointReply>,
    ) {
        if !events.is_empty() {
            let due = !checkpoints.is_empty()
                || self
                    .last_checkpoint
                    .is_none_or(|t| t.elapsed() >= self.config.checkpoint_interval);
            let signer = due.then_some(&self.signer);
            let result = self.store.ledger_append(events, signer).await;
            let count = events.len();
            events.clear();
            match result {
                Ok((mut outcome, note)) => {
                    let appended = count - outcome.refused.len();
                    self.unsigned += appended;
                    self.unindexed += appended;
                    if let Some(note) = note {
                        self.after_checkpoint(&note).await;
                    }
                    // Refused events took no place in the log: the others are numbered in order.
                    outcome.refused.reverse();
                    let mut seq = outcome.first_seq;
                    for (i, reply) in replies.drain(..).enumerate() {
                        if outcome.refused.last().is_some_and(|(at, _)| *at == i) {
                            if let Some((_, r)) = outcome.refused.pop() {
                                let _ = reply.send(Err(AppendFail::Refused(r)));
                            }
                            continue;
                        }
                        let _ = reply.send(Ok(seq));
                        seq += 1;
                    }
                    for reply in checkpoints.drain(..) {
                        let _ = reply.send(Ok((outcome.size, None)));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, events = count, "ledger append failed");
                    let msg = e.to_string();
                    for reply in replies.drain(..) {
                        let _ = reply.send(Err(AppendFail::Ledger(msg.clone())));
                    }
                    for reply in checkpoints.drain(..) {
                        let _ = reply.send(Err(msg.clone()));
                    }
                }
            }
        } else if !checkpoints.is_empty() {
            let res = self.checkpoint_now().await.map_err(|e| e.to_string());
            for reply in checkpoints.drain(..) {
                let _ = reply.send(res.clone());
            }
        }
    }

    async fn checkpoint_now(&mut self) -> Result<(u64, Option<String>)> {
        let (size, note) = self.store.ledger_checkpoint(&self.signer).await?;
        if let Some(n) = &note {
            self.after_checkpoint(n).await;
        }
        Ok((size, note))
    }

    async fn after_checkpoint(&mut self, note: &str) {
        self.last_checkpoint = Some(Instant::now());
        self.unsigned = 0;
        let witness = self.witness.clone();
        let note = note.to_owned();
        // The witness is a second copy: if it cannot be written the log is still durable in the
        // database, so the access goes on, but loudly: verification will name the missing checkpoint.
        match tokio::task::spawn_blocking(move || witness.append(&note)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not append the checkpoint to the witness file")
            }
            Err(e) => tracing::error!(error = %e, "witness writer failed"),
        }
    }
}

/// Checks the whole log in the store against its database checkpoints and the witness file.
/// The outer error is an I/O or database problem; the inner one says where the log breaks.
pub async fn verify(
    store: &dyn Store,
    verifier: &LedgerVerifier,
    witness_path: &std::path::Path,
) -> Result<std::result::Result<VerifyReport, Break>> {
    let db_checkpoints = store.ledger_checkpoints().await?;
    let witness = WitnessFile::open(witness_path).read_all()?;
    let mut v = match LogVerifier::new(verifier.clone(), &db_checkpoints, &witness) {
        Ok(v) => v,
        // The checkpoints alone already show the break (bad signature, conflicting roots).
        Err(mamori_ledger::LedgerError::Broken(b)) => return Ok(Err(b)),
        Err(e) => return Err(e.into()),
    };
    const CHUNK: u64 = 50_000;
    let mut from = 0u64;
    // Reads the next chunk while the current one is being hashed.
    let mut next = store.ledger_entries(from, CHUNK).await?;
    while !next.is_empty() {
        let rows = next;
        from = rows.last().map(|r| r.seq.max(0) as u64 + 1).unwrap_or(from);
        let (fetched, checked) = tokio::join!(store.ledger_entries(from, CHUNK), async {
            for r in &rows {
                let leaf = hash32(&r.leaf_hash)?;
                if let Err(b) = v.push(r.seq.max(0) as u64, &r.event, Some(&leaf)) {
                    return Ok::<_, StoreError>(Some(b));
                }
            }
            Ok(None)
        });
        if let Some(b) = checked? {
            return Ok(Err(b));
        }
        next = fetched?;
    }
    Ok(v.finish())
}

/// An inclusion proof of one event against a signed checkpoint, as printed by `mamori ledger prove`.
#[derive(Debug, Serialize)]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size of the checkpoint the proof is against.
    pub tree_size: u64,
    /// The event (JSON), as stored.
    pub event: serde_json::Value,
    /// Leaf hash, base64.
    pub leaf_hash: String,
    /// Audit path, base64 hashes.
    pub proof: Vec<String>,
    /// Root of the checkpoint, base64.
    pub root: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// Builds an inclusion proof of entry `index` against the newest checkpoint covering it.
pub async fn prove(
    store: &dyn Store,
    verifier: &LedgerVerifier,
    index: u64,
) -> Result<InclusionProof> {
    let notes = store.ledger_checkpoints().await?;
    let mut best: Option<(mamori_ledger::Checkpoint, String)> = None;
    for n in notes {
        let cp = mamori_ledger::Checkpoint::open(&n, verifier)?;
        if cp.size > index && best.as_ref().is_none_or(|(b, _)| cp.size > b.size) {
            best = Some((cp, n));
        }
    }
    let Some((cp, note)) = best else {
        return Err(StoreError::NotCheckpointed { index });
    };
    let leaves = store.ledger_leaf_hashes(cp.size).await?;
    let leaf = *leaves
        .get(index as usize)
        .ok_or(StoreError::NotInLedger { index })?;
    // The index is below the checkpoint's size, so only missing leaves can make this fail.
    let path = mamori_ledger::inclusion_proof(&leaves, index, cp.size).map_err(|_| {
        StoreError::LedgerInconsistent {
            entry: leaves.len() as u64,
            what: "the log holds fewer entries than its signed checkpoint",
        }
    })?;
    mamori_ledger::verify_inclusion(index, cp.size, &leaf, &path, &cp.root).map_err(|_| {
        StoreError::LedgerInconsistent {
            entry: index,
            what: "the entry does not match the signed checkpoint",
        }
    })?;
    let entry = store
        .ledger_entries(index, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotInLedger { index })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(InclusionProof {
        index,
        tree_size: cp.size,
        event: serde_json::from_slice(&entry.event).unwrap_or(serde_json::Value::Null),
        leaf_hash: b64.encode(leaf),
        proof: path.iter().map(|h| b64.encode(h)).collect(),
        root: b64.encode(cp.root),
        checkpoint: note,
    })
}
