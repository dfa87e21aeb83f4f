//! Tamper-evident ledger of personal-data reads: an RFC 9162 Merkle log with C2SP signed
//! checkpoints, an append-only witness file and a streaming verifier.
//!
//! This crate is pure: it hashes, proves, signs and verifies, and leaves storage to its caller.
//! Every entry is hashed as `SHA-256(0x00 || data)` and the tree follows RFC 9162 exactly, so
//! proofs interoperate with other RFC 6962/9162 tooling. Checkpoints are C2SP tlog-checkpoints
//! signed as C2SP signed notes with a dedicated Ed25519 key.
//!
//! Typical use:
//! - on append: `frontier.push(leaf_hash(&event))`, store the event, the leaf hash and
//!   `frontier.to_bytes()`; periodically sign `Checkpoint { origin, size, root }` and store
//!   the note in the database and in the [`WitnessFile`];
//! - on audit: feed every stored entry to a [`LogVerifier`] built with the pinned
//!   [`LedgerVerifier`] and both sets of checkpoints; a [`Break`] says where the log breaks.

#![warn(missing_docs)]

mod error;
mod note;
mod proof;
mod tree;
mod verify;
mod witness;

pub use error::{LedgerError, ProofError};
pub use note::{Checkpoint, LedgerSigner, LedgerVerifier};
pub use proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use tree::{leaf_hash, node_hash, root_of, Frontier, Hash, EMPTY_ROOT};
pub use verify::{Break, CheckpointSource, LogVerifier, SignatureProblem, VerifyReport};
pub use witness::WitnessFile;
