//! RFC 9162 inclusion and consistency proofs (sections 2.1.3 and 2.1.4).
//!
//! Written by hand rather than taken from a crate: the Rust Merkle crates either use other
//! hashing conventions or pull in their own storage layers, and these algorithms are short,
//! fully specified by the RFC and covered here by the upstream test vectors.

use crate::error::ProofError;
use crate::tree::{node_hash, root_of, split_point, Hash, EMPTY_ROOT};

/// A proof never needs more hashes than this (two per level of a 2^64 tree); longer input is
/// rejected before any hashing.
const MAX_PROOF_LEN: usize = 128;

fn prefix(leaves: &[Hash], size: u64) -> Result<&[Hash], ProofError> {
    let available = leaves.len() as u64;
    match usize::try_from(size) {
        Ok(n) if n <= leaves.len() => Ok(&leaves[..n]),
        _ => Err(ProofError::SizeOutOfRange { size, available }),
    }
}

/// Inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaf hashes.
pub fn inclusion_proof(leaves: &[Hash], index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    let tree = prefix(leaves, size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    // `index < size <= leaves.len()`, so the conversion cannot fail.
    let m = usize::try_from(index).map_err(|_| ProofError::IndexOutOfRange { index, size })?;
    path(m, tree, &mut proof);
    Ok(proof)
}

/// RFC 9162 PATH(m, D[n]); hashes are appended leaf-side first.
fn path(m: usize, tree: &[Hash], out: &mut Vec<Hash>) {
    if tree.len() <= 1 {
        return;
    }
    let k = split_point(tree.len());
    if m < k {
        path(m, &tree[..k], out);
        out.push(root_of(&tree[k..]));
    } else {
        path(m - k, &tree[k..], out);
        out.push(root_of(&tree[..k]));
    }
}

/// Consistency proof between the trees of the first `size1` and `size2` leaf hashes.
///
/// Equal sizes give an empty proof. A proof from the empty tree is refused, as the verifier
/// refuses it: every tree extends the empty tree, so such a proof would prove nothing.
pub fn consistency_proof(leaves: &[Hash], size1: u64, size2: u64) -> Result<Vec<Hash>, ProofError> {
    let tree = prefix(leaves, size2)?;
    if size1 > size2 || (size1 == 0 && size2 > 0) {
        return Err(ProofError::InvalidSizes { size1, size2 });
    }
    let mut proof = Vec::new();
    if size1 < size2 {
        let m = usize::try_from(size1).map_err(|_| ProofError::InvalidSizes { size1, size2 })?;
        subproof(m, tree, true, &mut proof);
    }
    Ok(proof)
}

/// RFC 9162 SUBPROOF(m, D[n], b).
fn subproof(m: usize, tree: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = tree.len();
    if m == n {
        if !complete {
            out.push(root_of(tree));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, &tree[..k], complete, out);
        out.push(root_of(&tree[k..]));
    } else {
        subproof(m - k, &tree[k..], false, out);
        out.push(root_of(&tree[..k]));
    }
}

/// Checks that `leaf` is the leaf hash at `index` in the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::WrongProofLength { len: proof.len() });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongProofLength { len: proof.len() });
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength { len: proof.len() });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
/// with root `root1`.
///
/// Equal sizes need an empty proof and equal roots (the empty root for size 0). A proof from
/// size 0 to a larger size is refused, as in the upstream test vectors: it would prove nothing.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::InvalidSizes { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength { len: proof.len() });
        }
        if root1 != root2 || (size1 == 0 && *root1 != EMPTY_ROOT) {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if size1 == 0 {
        return Err(ProofError::InvalidSizes { size1, size2 });
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::WrongProofLength { len: proof.len() });
    }
    // When size1 is a power of two its root is a node of the larger tree and the proof omits it.
    let (first, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongProofLength { len: proof.len() });
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength { len: proof.len() });
    }
    if fr != *root1 || sr != *root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
