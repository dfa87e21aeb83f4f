//! Error types of the ledger library.
//!
//! Messages never echo note text, entry data or key material: they name line numbers, sizes and
//! fixed reasons only, so that no personal value can leak into a log line through an error.

use std::path::PathBuf;

use crate::verify::Break;

/// Errors from keys, notes, checkpoints, the witness file and the frontier encoding.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// An I/O operation on a ledger file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "cannot read witness file".
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `create_key_file` found an existing file and refused to overwrite it.
    #[error("ledger key file {0} already exists; refusing to overwrite it")]
    KeyFileExists(PathBuf),
    /// The key file does not exist.
    #[error("ledger key file {0} does not exist")]
    KeyFileMissing(PathBuf),
    /// The key file exists but its content is not a valid ledger signing key.
    #[error("ledger key file {path} is corrupt: {reason}")]
    KeyFileCorrupt {
        /// The file concerned.
        path: PathBuf,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The key file can be read by other users (Unix only).
    #[error("ledger key file {path} has mode {mode:o}; it must not be accessible to group or others (chmod 600)")]
    KeyFilePermissions {
        /// The file concerned.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key name is empty or contains spaces, `+` or control characters.
    #[error(
        "invalid key name: it must be non-empty and contain no spaces, '+' or control characters"
    )]
    InvalidKeyName,
    /// A verifier key string is malformed.
    #[error("invalid verifier key: {0}")]
    InvalidVerifierKey(&'static str),
    /// The text is not a well-formed C2SP signed note.
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The note carries no signature by the pinned key (it may be signed by another key).
    #[error("the note has no signature by the pinned ledger key")]
    NoTrustedSignature,
    /// A signature by the pinned key (same name and key ID) does not verify: the note was altered.
    #[error(
        "the signature by the pinned ledger key does not verify; the note was altered or forged"
    )]
    BadSignature,
    /// The signed note text is not a well-formed C2SP checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// `Frontier::from_bytes` got bytes that are not a frontier encoding.
    #[error("invalid frontier encoding: {0}")]
    InvalidFrontier(&'static str),
    /// A line of the witness file cannot be read.
    #[error("witness file line {line} is corrupt: {reason}")]
    WitnessCorrupt {
        /// 1-based line number.
        line: usize,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The witness file's last line has no newline (an append was interrupted); it must be
    /// repaired by hand before anything else is appended.
    #[error("witness file {0} does not end with a newline (an earlier append was interrupted); repair its last line before appending")]
    WitnessUnterminated(PathBuf),
    /// The log is broken (reported by `LogVerifier::new` for problems visible in the checkpoints alone).
    #[error(transparent)]
    Broken(#[from] Break),
}

/// Errors from building or verifying Merkle proofs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The requested tree size exceeds the number of leaves supplied.
    #[error("tree size {size} exceeds the {available} leaves available")]
    SizeOutOfRange {
        /// Requested size.
        size: u64,
        /// Leaves supplied.
        available: u64,
    },
    /// The pair of tree sizes admits no consistency proof.
    #[error("no consistency proof exists from size {size1} to size {size2}")]
    InvalidSizes {
        /// Older size.
        size1: u64,
        /// Newer size.
        size2: u64,
    },
    /// The proof has the wrong number of hashes for the given sizes.
    #[error("proof has the wrong length ({len} hashes)")]
    WrongProofLength {
        /// Number of hashes received.
        len: usize,
    },
    /// The proof does not lead to the expected root(s).
    #[error("proof does not match the root hash")]
    RootMismatch,
}
