//! Streaming verification of a whole stored log against its signed checkpoints.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::LedgerError;
use crate::note::{Checkpoint, LedgerVerifier};
use crate::tree::{leaf_hash, Frontier, Hash};

/// Where a checkpoint came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckpointSource {
    /// Stored in the database beside the log.
    Database,
    /// Read from the append-only witness file outside the database.
    Witness,
}

impl fmt::Display for CheckpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckpointSource::Database => "database",
            CheckpointSource::Witness => "witness file",
        })
    }
}

/// Why a checkpoint note was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// The note has no signature by the pinned key (for example, it was re-signed with a new key).
    NotSignedByPinnedKey,
    /// The pinned key's signature does not verify: the note text was altered.
    InvalidSignature,
    /// The note or its checkpoint body is malformed.
    Malformed,
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureProblem::NotSignedByPinnedKey => "it is not signed by the pinned ledger key",
            SignatureProblem::InvalidSignature => {
                "its signature by the pinned ledger key does not verify (the note was altered)"
            }
            SignatureProblem::Malformed => "it is not a well-formed signed checkpoint",
        })
    }
}

/// Where and how the log breaks.
///
/// Entry numbers are 0-based positions in the log; a range `a..b` is half-open. Checkpoints are
/// named by their position in the list given to [`LogVerifier::new`] (0-based for the database,
/// a 1-based line number for the witness file, whose lines are given in file order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Break {
    /// A stored row claims a later position than expected: rows were deleted.
    SequenceGap {
        /// The position the next row should have had.
        expected: u64,
        /// The position it claims.
        found: u64,
    },
    /// A stored row claims an earlier position than expected: rows were duplicated, inserted or
    /// reordered.
    SequenceOutOfOrder {
        /// The position the next row should have had.
        expected: u64,
        /// The position it claims.
        found: u64,
    },
    /// An entry's data does not hash to the leaf hash stored beside it.
    LeafHashMismatch {
        /// Position of the entry.
        seq: u64,
    },
    /// The root of the first `size` entries differs from a signed checkpoint of that size.
    RootMismatch {
        /// Size of the checkpoint that does not match.
        size: u64,
        /// Where that checkpoint came from (the witness file if both hold it).
        source: CheckpointSource,
        /// Size of the last checkpoint that matched (0 if none): the change lies in entries
        /// `last_good_size..size`.
        last_good_size: u64,
    },
    /// A checkpoint note is not validly signed by the pinned key.
    BadSignature {
        /// Where the note came from.
        source: CheckpointSource,
        /// 0-based index of the note in the list given.
        index: usize,
        /// The size the note claims, if it can be parsed at all (unverified, for orientation).
        claimed_size: Option<u64>,
        /// What is wrong with it.
        problem: SignatureProblem,
    },
    /// A signed checkpoint covers more entries than the log holds: entries were deleted from the end.
    LogShorterThanCheckpoint {
        /// Number of entries in the log.
        log_size: u64,
        /// Size of the largest signed checkpoint.
        checkpoint_size: u64,
        /// Where that checkpoint came from (the witness file if both hold it).
        source: CheckpointSource,
    },
    /// Two validly signed checkpoints of the same size have different roots: the log was forked
    /// or rewritten and re-signed.
    ConflictingCheckpoints {
        /// The size both claim.
        size: u64,
        /// Source of the first checkpoint seen.
        first: CheckpointSource,
        /// Source of the conflicting one.
        second: CheckpointSource,
    },
    /// A validly signed checkpoint names another log origin than the first checkpoint.
    OriginMismatch {
        /// Where the note came from.
        source: CheckpointSource,
        /// 0-based index of the note in the list given.
        index: usize,
    },
}

/// Formats a checkpoint's place: "database checkpoint #3" or "witness file line 4".
struct Place(CheckpointSource, usize);

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CheckpointSource::Database => write!(f, "database checkpoint #{}", self.1),
            CheckpointSource::Witness => write!(f, "witness file line {}", self.1 + 1),
        }
    }
}

// Display is written by hand rather than with thiserror because several variants have a field
// named `source` (a `CheckpointSource`), which thiserror would treat as the underlying error.
impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::SequenceGap { expected, found } => write!(
                f,
                "entry {expected} is missing: the next stored row claims position {found}, so entries {expected}..{found} were deleted"
            ),
            Break::SequenceOutOfOrder { expected, found } => write!(
                f,
                "a stored row claims position {found} where entry {expected} was expected: entries were duplicated, inserted or reordered"
            ),
            Break::LeafHashMismatch { seq } => write!(
                f,
                "entry {seq} does not match the leaf hash stored beside it: the entry or its hash was altered"
            ),
            Break::RootMismatch {
                size,
                source,
                last_good_size,
            } => write!(
                f,
                "the first {size} entries do not match the signed checkpoint of size {size} from the {source}: the change lies in entries {last_good_size}..{size}"
            ),
            Break::BadSignature {
                source,
                index,
                claimed_size,
                problem,
            } => {
                write!(f, "{} ", Place(*source, *index))?;
                if let Some(size) = claimed_size {
                    write!(f, "(claiming size {size}) ")?;
                }
                write!(f, "is rejected because {problem}")
            }
            Break::LogShorterThanCheckpoint {
                log_size,
                checkpoint_size,
                source,
            } => write!(
                f,
                "the log has {log_size} entries but a signed checkpoint from the {source} covers {checkpoint_size}: entries {log_size}..{checkpoint_size} were deleted from the end"
            ),
            Break::ConflictingCheckpoints {
                size,
                first,
                second,
            } => write!(
                f,
                "two signed checkpoints of size {size} (from the {first} and the {second}) have different roots: the log was rewritten and re-signed"
            ),
            Break::OriginMismatch { source, index } => write!(
                f,
                "{} names a different log origin than the other checkpoints",
                Place(*source, *index)
            ),
        }
    }
}

impl std::error::Error for Break {}

/// Summary of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Number of entries verified.
    pub size: u64,
    /// Root of the whole log.
    pub root: Hash,
    /// Database checkpoint notes checked against the log.
    pub checkpoints_checked: usize,
    /// Witness file checkpoint notes checked against the log.
    pub witness_checkpoints_checked: usize,
    /// Size of the largest checkpoint (0 if none). Entries from here to `size` are covered by
    /// no signed checkpoint yet, so a change to them cannot be detected.
    pub last_checkpoint_size: u64,
}

/// All notes of one size; they have been checked to agree on the root.
struct Expected {
    size: u64,
    root: Hash,
    db_notes: usize,
    witness_notes: usize,
}

impl Expected {
    fn source(&self) -> CheckpointSource {
        if self.witness_notes > 0 {
            CheckpointSource::Witness
        } else {
            CheckpointSource::Database
        }
    }
}

/// Streaming verifier: feed it every stored entry in order, then call [`LogVerifier::finish`].
///
/// Memory use is constant apart from the checkpoints: it keeps only a [`Frontier`].
pub struct LogVerifier {
    frontier: Frontier,
    expected: Vec<Expected>,
    next: usize,
    last_good_size: u64,
    db_checked: usize,
    witness_checked: usize,
    broken: Option<Break>,
}

impl LogVerifier {
    /// Opens every checkpoint note with the pinned verifier and cross-checks them.
    ///
    /// Fails with [`LedgerError::Broken`] when the checkpoints alone show a break: a note not
    /// signed by the pinned key, two notes of one size with different roots, a different origin,
    /// or a size-0 checkpoint whose root is not the empty root.
    pub fn new(
        verifier: LedgerVerifier,
        db_checkpoints: &[String],
        witness_checkpoints: &[String],
    ) -> Result<Self, LedgerError> {
        let mut by_size: BTreeMap<u64, Expected> = BTreeMap::new();
        let mut origin: Option<String> = None;
        let sources = [
            (CheckpointSource::Database, db_checkpoints),
            (CheckpointSource::Witness, witness_checkpoints),
        ];
        for (source, notes) in sources {
            for (index, note) in notes.iter().enumerate() {
                let cp = Checkpoint::open(note, &verifier).map_err(|e| {
                    let problem = match e {
                        LedgerError::NoTrustedSignature => SignatureProblem::NotSignedByPinnedKey,
                        LedgerError::BadSignature => SignatureProblem::InvalidSignature,
                        _ => SignatureProblem::Malformed,
                    };
                    Break::BadSignature {
                        source,
                        index,
                        claimed_size: Checkpoint::parse_unverified(note).ok().map(|c| c.size),
                        problem,
                    }
                })?;
                match &origin {
                    None => origin = Some(cp.origin.clone()),
                    Some(o) if *o != cp.origin => {
                        return Err(Break::OriginMismatch { source, index }.into())
                    }
                    Some(_) => {}
                }
                let entry = by_size.entry(cp.size).or_insert(Expected {
                    size: cp.size,
                    root: cp.root,
                    db_notes: 0,
                    witness_notes: 0,
                });
                if entry.root != cp.root {
                    return Err(Break::ConflictingCheckpoints {
                        size: cp.size,
                        first: entry.source(),
                        second: source,
                    }
                    .into());
                }
                match source {
                    CheckpointSource::Database => entry.db_notes += 1,
                    CheckpointSource::Witness => entry.witness_notes += 1,
                }
            }
        }
        let mut v = LogVerifier {
            frontier: Frontier::new(),
            expected: by_size.into_values().collect(),
            next: 0,
            last_good_size: 0,
            db_checked: 0,
            witness_checked: 0,
            broken: None,
        };
        v.check_due()?;
        Ok(v)
    }

    /// Feeds the next stored entry.
    ///
    /// `seq` is the 0-based position claimed by the stored row, `data` the stored event bytes and
    /// `stored_leaf` the leaf hash stored beside it, if any. After a break every further call
    /// returns the same break.
    pub fn push(&mut self, seq: u64, data: &[u8], stored_leaf: Option<&Hash>) -> Result<(), Break> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        let expected = self.frontier.size();
        if seq != expected {
            return Err(self.fail(if seq > expected {
                Break::SequenceGap {
                    expected,
                    found: seq,
                }
            } else {
                Break::SequenceOutOfOrder {
                    expected,
                    found: seq,
                }
            }));
        }
        let leaf = leaf_hash(data);
        if stored_leaf.is_some_and(|s| *s != leaf) {
            return Err(self.fail(Break::LeafHashMismatch { seq }));
        }
        self.frontier.push(leaf);
        self.check_due()
    }

    /// Ends verification: fails if a checkpoint covers more entries than were fed.
    pub fn finish(self) -> Result<VerifyReport, Break> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        if let Some(last) = self.expected.last() {
            if last.size > self.frontier.size() {
                return Err(Break::LogShorterThanCheckpoint {
                    log_size: self.frontier.size(),
                    checkpoint_size: last.size,
                    source: last.source(),
                });
            }
        }
        Ok(VerifyReport {
            size: self.frontier.size(),
            root: self.frontier.root(),
            checkpoints_checked: self.db_checked,
            witness_checkpoints_checked: self.witness_checked,
            last_checkpoint_size: self.last_good_size,
        })
    }

    /// The frontier of the entries verified so far (e.g. to store it as the new tree head).
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    fn fail(&mut self, b: Break) -> Break {
        self.broken = Some(b.clone());
        b
    }

    /// Compares the root with the checkpoint of the current size, if there is one.
    fn check_due(&mut self) -> Result<(), Break> {
        let size = self.frontier.size();
        let Some(exp) = self.expected.get(self.next) else {
            return Ok(());
        };
        if exp.size != size {
            return Ok(());
        }
        if self.frontier.root() != exp.root {
            let b = Break::RootMismatch {
                size,
                source: exp.source(),
                last_good_size: self.last_good_size,
            };
            return Err(self.fail(b));
        }
        self.db_checked += exp.db_notes;
        self.witness_checked += exp.witness_notes;
        self.last_good_size = size;
        self.next += 1;
        Ok(())
    }
}
