//! LogVerifier: detection and location of every kind of tampering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_ledger::{
    leaf_hash, root_of, Break, Checkpoint, CheckpointSource, Hash, LedgerError, LedgerSigner,
    LedgerVerifier, LogVerifier, SignatureProblem, VerifyReport, EMPTY_ROOT,
};
use proptest::prelude::*;

const ORIGIN: &str = "mamori.example/ledger";

/// A stored row: claimed position, event bytes, stored leaf hash.
type Row = (u64, Vec<u8>, Option<Hash>);

fn rows_of(entries: &[Vec<u8>]) -> Vec<Row> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u64, e.clone(), Some(leaf_hash(e))))
        .collect()
}

fn sign_sizes(signer: &LedgerSigner, entries: &[Vec<u8>], sizes: &[u64]) -> Vec<String> {
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    sizes
        .iter()
        .map(|&s| {
            Checkpoint {
                origin: ORIGIN.to_owned(),
                size: s,
                root: root_of(&leaves[..s as usize]),
            }
            .sign(signer)
        })
        .collect()
}

fn run(
    v: &LedgerVerifier,
    db: &[String],
    witness: &[String],
    rows: &[Row],
) -> Result<VerifyReport, Break> {
    let mut lv = match LogVerifier::new(v.clone(), db, witness) {
        Ok(lv) => lv,
        Err(LedgerError::Broken(b)) => return Err(b),
        Err(e) => panic!("unexpected error {e}"),
    };
    for (seq, data, leaf) in rows {
        lv.push(*seq, data, leaf.as_ref())?;
    }
    lv.finish()
}

/// Renumbers rows to their positions, as an attacker hiding a deletion or insertion would.
fn renumber(rows: &mut [Row]) {
    for (i, r) in rows.iter_mut().enumerate() {
        r.0 = i as u64;
    }
}

/// The break points at a checkpoint range that contains entry `i`, or at the log's end.
fn names_range_containing(b: &Break, i: u64) -> bool {
    match b {
        Break::RootMismatch {
            size,
            last_good_size,
            ..
        } => *last_good_size <= i && i < *size,
        Break::LogShorterThanCheckpoint {
            log_size,
            checkpoint_size,
            ..
        } => *log_size <= *checkpoint_size && i <= *log_size,
        _ => false,
    }
}

fn entry(i: usize, salt: &[u8]) -> Vec<u8> {
    // Entries are distinct by construction, so that every mutation really changes the log.
    let mut e = format!("{{\"seq\":{i},\"actor\":\"staff-7\",\"read\":\"customer\"}}").into_bytes();
    e.extend_from_slice(salt);
    e
}

/// A random log with checkpoints: (entries, witness sizes, database sizes). Both always include
/// the full size, so that every entry is covered by a signed checkpoint.
fn log_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u64>, Vec<u64>)> {
    // Sparse checkpoints keep the number of (slow in debug builds) signatures per case small.
    (2usize..32).prop_flat_map(|n| {
        (
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..24), n),
            proptest::collection::vec(proptest::bool::weighted(0.25), n),
            proptest::collection::vec(proptest::bool::weighted(0.25), n),
        )
            .prop_map(move |(salts, wmask, dmask)| {
                let entries: Vec<Vec<u8>> =
                    salts.iter().enumerate().map(|(i, s)| entry(i, s)).collect();
                let pick = |mask: &[bool]| -> Vec<u64> {
                    (1..=n as u64)
                        .filter(|s| *s == n as u64 || mask[*s as usize - 1])
                        .collect()
                };
                (entries, pick(&wmask), pick(&dmask))
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn untouched_log_verifies((entries, wsizes, dsizes) in log_strategy()) {
        let signer = LedgerSigner::generate("mamori-ledger");
        let v = signer.verifier();
        let w = sign_sizes(&signer, &entries, &wsizes);
        let d = sign_sizes(&signer, &entries, &dsizes);
        let report = run(&v, &d, &w, &rows_of(&entries)).unwrap();
        prop_assert_eq!(report.size, entries.len() as u64);
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        prop_assert_eq!(report.root, root_of(&leaves));
        prop_assert_eq!(report.checkpoints_checked, d.len());
        prop_assert_eq!(report.witness_checkpoints_checked, w.len());
        prop_assert_eq!(report.last_checkpoint_size, entries.len() as u64);
        // Rows without stored leaf hashes verify too.
        let bare: Vec<Row> = rows_of(&entries).into_iter().map(|(s, e, _)| (s, e, None)).collect();
        prop_assert!(run(&v, &d, &w, &bare).is_ok());
    }

    #[test]
    fn changed_entry_is_located((entries, wsizes, dsizes) in log_strategy(), pick in any::<usize>(), fix_leaf in any::<bool>()) {
        let signer = LedgerSigner::generate("mamori-ledger");
        let v = signer.verifier();
        let w = sign_sizes(&signer, &entries, &wsizes);
        let d = sign_sizes(&signer, &entries, &dsizes);
        let i = pick % entries.len();
        let mut rows = rows_of(&entries);
        rows[i].1.push(b'!');
        if fix_leaf {
            rows[i].2 = Some(leaf_hash(&rows[i].1));
        }
        let b = run(&v, &d, &w, &rows).unwrap_err();
        if fix_leaf {
            prop_assert!(names_range_containing(&b, i as u64), "{b:?} for entry {i}");
        } else {
            prop_assert_eq!(b, Break::LeafHashMismatch { seq: i as u64 });
        }
    }

    #[test]
    fn deleted_entry_is_located((entries, wsizes, dsizes) in log_strategy(), pick in any::<usize>(), renum in any::<bool>()) {
        let signer = LedgerSigner::generate("mamori-ledger");
        let v = signer.verifier();
        let w = sign_sizes(&signer, &entries, &wsizes);
        let d = sign_sizes(&signer, &entries, &dsizes);
        let n = entries.len() as u64;
        let i = pick % entries.len();
        let mut rows = rows_of(&entries);
        rows.remove(i);
        if renum {
            renumber(&mut rows);
        }
        let b = run(&v, &d, &w, &rows).unwrap_err();
        if i as u64 == n - 1 {
            prop_assert_eq!(
                b,
                Break::LogShorterThanCheckpoint { log_size: n - 1, checkpoint_size: n, source: CheckpointSource::Witness }
            );
        } else if renum {
            prop_assert!(names_range_containing(&b, i as u64), "{b:?} for entry {i}");
        } else {
            prop_assert_eq!(b, Break::SequenceGap { expected: i as u64, found: i as u64 + 1 });
        }
    }

    #[test]
    fn reordered_entries_are_located((entries, wsizes, dsizes) in log_strategy(), a in any::<usize>(), c in any::<usize>(), renum in any::<bool>()) {
        let signer = LedgerSigner::generate("mamori-ledger");
        let v = signer.verifier();
        let w = sign_sizes(&signer, &entries, &wsizes);
        let d = sign_sizes(&signer, &entries, &dsizes);
        let n = entries.len();
        let i = a % (n - 1);
        let j = i + 1 + c % (n - 1 - i);
        let mut rows = rows_of(&entries);
        rows.swap(i, j);
        if renum {
            renumber(&mut rows);
        }
        let b = run(&v, &d, &w, &rows).unwrap_err();
        if renum {
            prop_assert!(names_range_containing(&b, i as u64), "{b:?} for swap {i}/{j}");
        } else {
            prop_assert_eq!(b, Break::SequenceGap { expected: i as u64, found: j as u64 });
        }
    }

    #[test]
    fn inserted_entry_is_located((entries, wsizes, dsizes) in log_strategy(), pick in any::<usize>(), renum in any::<bool>()) {
        let signer = LedgerSigner::generate("mamori-ledger");
        let v = signer.verifier();
        let w = sign_sizes(&signer, &entries, &wsizes);
        let d = sign_sizes(&signer, &entries, &dsizes);
        let i = pick % entries.len();
        let forged = b"{\"forged\":true}".to_vec();
        let mut rows = rows_of(&entries);
        rows.insert(i, (i as u64, forged.clone(), Some(leaf_hash(&forged))));
        if renum {
            renumber(&mut rows);
        }
        let b = run(&v, &d, &w, &rows).unwrap_err();
        let plausible = names_range_containing(&b, i as u64)
            || b == Break::SequenceOutOfOrder { expected: i as u64 + 1, found: i as u64 };
        prop_assert!(plausible, "{b:?} for insertion at {i}");
    }

    #[test]
    fn rewritten_tail_is_detected((entries, wsizes, dsizes) in log_strategy(), pick in any::<usize>(), mode in 0u8..3) {
        let signer = LedgerSigner::generate("mamori-ledger");
        let v = signer.verifier();
        let w = sign_sizes(&signer, &entries, &wsizes);
        let d = sign_sizes(&signer, &entries, &dsizes);
        let k = pick % entries.len();
        let mut forged = entries.clone();
        for e in &mut forged[k..] {
            e.extend_from_slice(b" rewritten");
        }
        let rows = rows_of(&forged);
        let b = match mode {
            // Re-sign the database checkpoints with a new key; the pinned key catches it.
            0 => {
                let attacker = LedgerSigner::generate("mamori-ledger");
                let d2 = sign_sizes(&attacker, &forged, &dsizes);
                let b = run(&v, &d2, &w, &rows).unwrap_err();
                let ok = matches!(b, Break::BadSignature {
                    source: CheckpointSource::Database,
                    claimed_size: Some(_),
                    problem: SignatureProblem::NotSignedByPinnedKey,
                    ..
                });
                prop_assert!(ok, "{b:?}");
                b
            }
            // Keep the old checkpoints.
            1 => {
                let b = run(&v, &d, &w, &rows).unwrap_err();
                prop_assert!(names_range_containing(&b, k as u64), "{b:?} for tail from {k}");
                b
            }
            // Stolen key: re-sign the database checkpoints with the real key; the witness differs.
            _ => {
                let d2 = sign_sizes(&signer, &forged, &dsizes);
                let b = run(&v, &d2, &w, &rows).unwrap_err();
                let ok = match &b {
                    Break::ConflictingCheckpoints { size, .. } => *size > k as u64,
                    other => names_range_containing(other, k as u64),
                };
                prop_assert!(ok, "{b:?} for tail from {k}");
                b
            }
        };
        // Every break reads as one sentence with numbers in it.
        let text = b.to_string();
        prop_assert!(text.chars().any(|c| c.is_ascii_digit()), "{text}");
        prop_assert!(!text.contains('\n'));
    }
}

fn fixture(n: usize) -> (LedgerSigner, Vec<Vec<u8>>) {
    let signer = LedgerSigner::generate("mamori-ledger");
    let entries = (0..n).map(|i| entry(i, b"")).collect();
    (signer, entries)
}

#[test]
fn messages_name_entries_and_sizes() {
    let (signer, entries) = fixture(10);
    let v = signer.verifier();
    let w = sign_sizes(&signer, &entries, &[4, 10]);
    let d = sign_sizes(&signer, &entries, &[2, 4, 8]);
    let mut rows = rows_of(&entries);
    rows[6].1 = b"{\"changed\":1}".to_vec();
    rows[6].2 = Some(leaf_hash(&rows[6].1));
    let b = run(&v, &d, &w, &rows).unwrap_err();
    assert_eq!(
        b,
        Break::RootMismatch {
            size: 8,
            source: CheckpointSource::Database,
            last_good_size: 4
        }
    );
    assert_eq!(
        b.to_string(),
        "the first 8 entries do not match the signed checkpoint of size 8 from the database: the change lies in entries 4..8"
    );

    let truncated = &rows_of(&entries)[..7];
    let b = run(&v, &d, &w, truncated).unwrap_err();
    assert_eq!(
        b.to_string(),
        "the log has 7 entries but a signed checkpoint from the witness file covers 10: entries 7..10 were deleted from the end"
    );

    let mut gap = rows_of(&entries);
    gap.remove(3);
    assert_eq!(
        run(&v, &d, &w, &gap).unwrap_err().to_string(),
        "entry 3 is missing: the next stored row claims position 4, so entries 3..4 were deleted"
    );

    let other = LedgerSigner::generate("mamori-ledger");
    let mut w2 = w.clone();
    w2[1] = sign_sizes(&other, &entries, &[10]).remove(0);
    assert_eq!(
        run(&v, &d, &w2, &rows_of(&entries)).unwrap_err().to_string(),
        "witness file line 2 (claiming size 10) is rejected because it is not signed by the pinned ledger key"
    );
}

#[test]
fn checkpoint_level_breaks() {
    let (signer, entries) = fixture(6);
    let v = signer.verifier();
    let good = sign_sizes(&signer, &entries, &[3, 6]);

    // Same size, different root, both validly signed.
    let mut forked = entries.clone();
    forked[1].push(b'x');
    let fork = sign_sizes(&signer, &forked, &[3]);
    let err = LogVerifier::new(v.clone(), &fork, &good).err().unwrap();
    assert!(matches!(
        err,
        LedgerError::Broken(Break::ConflictingCheckpoints {
            size: 3,
            first: CheckpointSource::Database,
            second: CheckpointSource::Witness
        })
    ));

    // Another origin.
    let foreign_origin = Checkpoint {
        origin: "other.example/log".to_owned(),
        size: 6,
        root: [0; 32],
    }
    .sign(&signer);
    let err = LogVerifier::new(v.clone(), &good, &[foreign_origin])
        .err()
        .unwrap();
    assert!(matches!(
        err,
        LedgerError::Broken(Break::OriginMismatch {
            source: CheckpointSource::Witness,
            index: 0
        })
    ));

    // Altered note text.
    let altered = good[0].replacen("\n3\n", "\n2\n", 1);
    let err = LogVerifier::new(v.clone(), &[altered], &[]).err().unwrap();
    assert!(matches!(
        err,
        LedgerError::Broken(Break::BadSignature {
            source: CheckpointSource::Database,
            index: 0,
            claimed_size: Some(2),
            problem: SignatureProblem::InvalidSignature
        })
    ));

    // Garbage note.
    let err = LogVerifier::new(v.clone(), &[], &["junk".to_owned()])
        .err()
        .unwrap();
    assert!(matches!(
        err,
        LedgerError::Broken(Break::BadSignature {
            claimed_size: None,
            problem: SignatureProblem::Malformed,
            ..
        })
    ));

    // A size-0 checkpoint must carry the empty root.
    let zero_bad = Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 0,
        root: [1; 32],
    }
    .sign(&signer);
    let err = LogVerifier::new(v.clone(), &[zero_bad], &[]).err().unwrap();
    assert!(matches!(
        err,
        LedgerError::Broken(Break::RootMismatch { size: 0, .. })
    ));
    let zero_ok = Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 0,
        root: EMPTY_ROOT,
    }
    .sign(&signer);
    let report = run(&v, &[zero_ok], &[], &[]).unwrap();
    assert_eq!(
        (report.size, report.root, report.checkpoints_checked),
        (0, EMPTY_ROOT, 1)
    );
}

#[test]
fn break_is_sticky_and_duplicates_are_counted() {
    let (signer, entries) = fixture(4);
    let v = signer.verifier();
    let cps = sign_sizes(&signer, &entries, &[2, 4]);
    let mut lv = LogVerifier::new(v.clone(), &cps, &cps).unwrap();
    lv.push(0, &entries[0], None).unwrap();
    let b = lv.push(2, &entries[2], None).unwrap_err();
    assert_eq!(
        b,
        Break::SequenceGap {
            expected: 1,
            found: 2
        }
    );
    assert_eq!(lv.push(1, &entries[1], None).unwrap_err(), b);
    assert_eq!(lv.finish().unwrap_err(), b);

    let report = run(&v, &cps, &cps, &rows_of(&entries)).unwrap();
    assert_eq!(report.checkpoints_checked, 2);
    assert_eq!(report.witness_checkpoints_checked, 2);

    // Entries beyond the last checkpoint verify but are reported as not yet covered.
    let mut more = entries.clone();
    more.push(entry(4, b""));
    let report = run(&v, &cps, &[], &rows_of(&more)).unwrap();
    assert_eq!((report.size, report.last_checkpoint_size), (5, 4));
}

#[test]
fn frontier_of_verifier_can_resume_appending() {
    let (signer, entries) = fixture(5);
    let v = signer.verifier();
    let mut lv = LogVerifier::new(v, &[], &[]).unwrap();
    for (s, e, l) in rows_of(&entries) {
        lv.push(s, &e, l.as_ref()).unwrap();
    }
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    assert_eq!(lv.frontier().root(), root_of(&leaves));
}
