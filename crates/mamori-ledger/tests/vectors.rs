//! Upstream RFC 6962 / RFC 9162 proof test vectors (see tests/vectors/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mamori_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, root_of, verify_consistency, verify_inclusion,
    Hash,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

/// The vectors also contain values that are not 32-byte hashes ("WrongRoot", empty strings,
/// hashes with garbage around them). The API takes `&Hash`, so roots and proof components of
/// another length are mapped to the SHA-256 of a tagged copy of their bytes: equal inputs stay
/// equal, different inputs stay different, and none can equal a real tree hash, so those vectors
/// still go through the verifier's own logic. (A leaf hash of the wrong length is different: it
/// cannot be passed at all, see `exact_hash`.)
fn to_hash(b64: &str) -> Hash {
    let bytes = B64.decode(b64).unwrap_or_else(|_| b64.as_bytes().to_vec());
    match <Hash>::try_from(bytes.as_slice()) {
        Ok(h) => h,
        Err(_) => Sha256::new()
            .chain_update(b"not a 32-byte hash:")
            .chain_update(&bytes)
            .finalize()
            .into(),
    }
}

/// A leaf hash must be exactly 32 bytes; anything else is rejected before reaching the API,
/// as the upstream verifier rejects it by length.
fn exact_hash(b64: &str) -> Option<Hash> {
    <Hash>::try_from(B64.decode(b64).ok()?.as_slice()).ok()
}

fn to_proof(p: &Option<Vec<String>>) -> Vec<Hash> {
    p.iter().flatten().map(|s| to_hash(s)).collect()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn vector_files(kind: &str) -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(kind);
    let mut files = Vec::new();
    json_files(&root, &mut files);
    let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        by_dir
            .entry(f.parent().unwrap().to_owned())
            .or_default()
            .push(f);
    }
    by_dir
}

/// The RFC 6962 reference tree the numbered vector directories are built from.
fn reference_leaves() -> Vec<Hash> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| leaf_hash(&hex::decode(h).unwrap()))
    .collect()
}

/// Numbered directories (0..4) hold vectors over the reference tree; others are edge cases.
fn is_reference_dir(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.parse::<u32>().is_ok())
        && dir
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "inclusion" || n == "consistency")
}

#[test]
fn inclusion_vectors() {
    let leaves = reference_leaves();
    let dirs = vector_files("inclusion");
    assert!(dirs.len() >= 5, "expected the inclusion vector directories");
    let (mut accepted, mut rejected, mut cross_checked) = (0, 0, 0);
    let mut rejected_by_type = 0;
    for (dir, files) in &dirs {
        assert!(!files.is_empty(), "no vectors in {}", dir.display());
        for file in files {
            let v: InclusionVector =
                serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            let proof = to_proof(&v.proof);
            let result = match exact_hash(&v.leaf_hash) {
                Some(leaf) => {
                    verify_inclusion(v.leaf_idx, v.tree_size, &leaf, &proof, &to_hash(&v.root))
                }
                None => {
                    rejected_by_type += 1;
                    Err(mamori_ledger::ProofError::RootMismatch)
                }
            };
            assert_eq!(
                result.is_err(),
                v.want_err,
                "{} ({}): got {result:?}",
                file.display(),
                v.desc
            );
            if v.want_err {
                rejected += 1;
            } else {
                accepted += 1;
                if is_reference_dir(dir) {
                    // Our proof generator must produce exactly the upstream proof.
                    let ours = inclusion_proof(&leaves, v.leaf_idx, v.tree_size).unwrap();
                    assert_eq!(ours, proof, "{}", file.display());
                    let size = usize::try_from(v.tree_size).unwrap();
                    assert_eq!(root_of(&leaves[..size]), to_hash(&v.root));
                    cross_checked += 1;
                }
            }
        }
    }
    assert!(accepted > 0 && rejected > 0);
    assert_eq!(cross_checked, 5);
    assert_eq!(accepted + rejected, 98, "number of inclusion vectors run");
    // Exactly the 5 "wrong leaf" ("WrongLeaf", 9 bytes) and 6 empty-leaf vectors are decided by
    // the type; all others ran through the verifier.
    assert_eq!(rejected_by_type, 11);
}

#[test]
fn consistency_vectors() {
    let leaves = reference_leaves();
    let dirs = vector_files("consistency");
    assert!(
        dirs.len() >= 5,
        "expected the consistency vector directories"
    );
    let (mut accepted, mut rejected, mut cross_checked) = (0, 0, 0);
    for (dir, files) in &dirs {
        assert!(!files.is_empty(), "no vectors in {}", dir.display());
        for file in files {
            let v: ConsistencyVector =
                serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
            let proof = to_proof(&v.proof);
            let result = verify_consistency(
                v.size1,
                v.size2,
                &proof,
                &to_hash(&v.root1),
                &to_hash(&v.root2),
            );
            assert_eq!(
                result.is_err(),
                v.want_err,
                "{} ({}): got {result:?}",
                file.display(),
                v.desc
            );
            if v.want_err {
                rejected += 1;
            } else {
                accepted += 1;
                if is_reference_dir(dir) {
                    let ours = consistency_proof(&leaves, v.size1, v.size2).unwrap();
                    assert_eq!(ours, proof, "{}", file.display());
                    cross_checked += 1;
                }
            }
        }
    }
    assert!(accepted > 0 && rejected > 0);
    assert_eq!(cross_checked, 5);
    assert_eq!(accepted + rejected, 98, "number of consistency vectors run");
}
