//! RFC 9162 Merkle tree hashing and the incremental tree head ([`Frontier`]).

use sha2::{Digest, Sha256};

use crate::error::LedgerError;

/// A SHA-256 digest: leaf hash, node hash or tree root.
pub type Hash = [u8; 32];

/// Root of the empty tree, SHA-256 of the empty string (RFC 9162 section 2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Hash of a log entry: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    // Feeding the prefix and the data separately avoids copying each entry into a new buffer,
    // which matters when verifying millions of entries.
    Sha256::new()
        .chain_update([0x00])
        .chain_update(data)
        .finalize()
        .into()
}

/// Hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Largest power of two strictly below `n` (the RFC 9162 split point `k`); `n` must be at least 2.
pub(crate) fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let p = n.next_power_of_two();
    if p == n {
        n / 2
    } else {
        p / 2
    }
}

/// RFC 9162 Merkle Tree Hash over already-hashed leaves; [`EMPTY_ROOT`] for no leaves.
///
/// This follows the recursive definition literally and is deliberately independent of
/// [`Frontier`], so that each can be tested against the other.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Version byte of the [`Frontier::to_bytes`] encoding.
const FRONTIER_V1: u8 = 1;

/// O(log n) incremental tree head: the roots of the perfect subtrees along the right edge
/// of the tree (a "compact range" covering `0..size`).
///
/// There is one subtree root per set bit of `size`, largest subtree first. Appending a leaf costs
/// one leaf-level operation plus one node hash per trailing one bit of the old size (amortised
/// below two), and computing the root costs at most 63 node hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "FrontierWire", into = "FrontierWire")]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// Serde form of [`Frontier`]; converting back checks the invariant between size and hashes.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct FrontierWire {
    size: u64,
    hashes: Vec<Hash>,
}

impl From<Frontier> for FrontierWire {
    fn from(f: Frontier) -> Self {
        FrontierWire {
            size: f.size,
            hashes: f.hashes,
        }
    }
}

impl TryFrom<FrontierWire> for Frontier {
    type Error = LedgerError;
    fn try_from(w: FrontierWire) -> Result<Self, LedgerError> {
        if w.hashes.len() != w.size.count_ones() as usize {
            return Err(LedgerError::InvalidFrontier(
                "number of hashes does not match the tree size",
            ));
        }
        Ok(Frontier {
            size: w.size,
            hashes: w.hashes,
        })
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash (see [`leaf_hash`]).
    ///
    /// A tree of `u64::MAX` leaves cannot grow further; pushing then does nothing. No real log
    /// gets there (it would take 2^64 hash computations), and this keeps the method panic-free.
    pub fn push(&mut self, leaf: Hash) {
        if self.size == u64::MAX {
            return;
        }
        let mut node = leaf;
        let mut s = self.size;
        // Each trailing one bit of the old size is a perfect subtree of the same height as `node`
        // that now gets a right sibling, so the two merge.
        while s & 1 == 1 {
            match self.hashes.pop() {
                Some(left) => node = node_hash(&left, &node),
                None => break,
            }
            s >>= 1;
        }
        self.hashes.push(node);
        self.size += 1;
    }

    /// Root of the tree of the leaves appended so far ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return EMPTY_ROOT;
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// Compact, stable encoding: version byte 0x01, size as 8 bytes big-endian, then the
    /// subtree roots (32 bytes each, largest subtree first). At most 2,057 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 32 * self.hashes.len());
        out.push(FRONTIER_V1);
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Decodes [`Frontier::to_bytes`]; rejects any other length, version or trailing data.
    pub fn from_bytes(b: &[u8]) -> Result<Self, LedgerError> {
        let (&version, rest) = b
            .split_first()
            .ok_or(LedgerError::InvalidFrontier("empty input"))?;
        if version != FRONTIER_V1 {
            return Err(LedgerError::InvalidFrontier("unknown version"));
        }
        let (size_bytes, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(LedgerError::InvalidFrontier("truncated size"))?;
        let size = u64::from_be_bytes(*size_bytes);
        let count = size.count_ones() as usize;
        if rest.len() != count * 32 {
            return Err(LedgerError::InvalidFrontier(
                "number of hashes does not match the tree size",
            ));
        }
        let hashes = rest
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Frontier { size, hashes })
    }
}
