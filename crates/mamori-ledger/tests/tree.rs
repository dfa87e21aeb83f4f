//! Tree hashing, the frontier and proof generation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, root_of, verify_consistency,
    verify_inclusion, Frontier, Hash, ProofError, EMPTY_ROOT,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

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

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

#[test]
fn hash_primitives() {
    assert_eq!(EMPTY_ROOT, <Hash>::from(Sha256::digest(b"")));
    assert_eq!(root_of(&[]), EMPTY_ROOT);
    assert_eq!(
        hex::encode(leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
    let (l, r) = ([1u8; 32], [2u8; 32]);
    let mut buf = vec![1u8];
    buf.extend_from_slice(&l);
    buf.extend_from_slice(&r);
    assert_eq!(node_hash(&l, &r), <Hash>::from(Sha256::digest(&buf)));
    assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
}

#[test]
fn rfc6962_reference_tree() {
    let leaves = reference_leaves();
    // Roots of every prefix of the reference tree, as published with the upstream test data.
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let mut f = Frontier::new();
    for (i, want) in roots.iter().enumerate() {
        f.push(leaves[i]);
        assert_eq!(hex::encode(root_of(&leaves[..=i])), *want, "size {}", i + 1);
        assert_eq!(hex::encode(f.root()), *want, "frontier size {}", i + 1);
    }
}

#[test]
fn frontier_matches_root_of_up_to_64() {
    let all = leaves(64);
    let mut f = Frontier::new();
    assert_eq!(f.root(), EMPTY_ROOT);
    assert_eq!(f.size(), 0);
    for n in 1..=64 {
        f.push(all[n - 1]);
        assert_eq!(f.size(), n as u64);
        assert_eq!(f.root(), root_of(&all[..n]), "size {n}");
        let back = Frontier::from_bytes(&f.to_bytes()).unwrap();
        assert_eq!(back, f);
        assert_eq!(f.to_bytes().len(), 9 + 32 * n.count_ones() as usize);
    }
}

#[test]
fn all_proofs_up_to_64_verify() {
    let all = leaves(64);
    for size in 1..=64u64 {
        let root = root_of(&all[..size as usize]);
        for index in 0..size {
            let proof = inclusion_proof(&all, index, size).unwrap();
            verify_inclusion(index, size, &all[index as usize], &proof, &root).unwrap();
            // The same proof must not work for a neighbouring leaf or a wrong root.
            let other = all[((index + 1) % 64) as usize];
            assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
            assert!(
                verify_inclusion(index, size, &all[index as usize], &proof, &EMPTY_ROOT).is_err()
            );
        }
        for size1 in 1..=size {
            let root1 = root_of(&all[..size1 as usize]);
            let proof = consistency_proof(&all, size1, size).unwrap();
            verify_consistency(size1, size, &proof, &root1, &root).unwrap();
            if size1 < size {
                // A proof against a different old tree must fail.
                let fake1 = root_of(&all[1..=size1 as usize]);
                assert!(verify_consistency(size1, size, &proof, &fake1, &root).is_err());
                assert!(verify_consistency(size1, size, &proof[1..], &root1, &root).is_err());
            }
        }
    }
}

#[test]
fn proof_generation_rejects_bad_arguments() {
    let all = leaves(8);
    assert_eq!(
        inclusion_proof(&all, 8, 8),
        Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        inclusion_proof(&all, 0, 9),
        Err(ProofError::SizeOutOfRange {
            size: 9,
            available: 8
        })
    );
    assert_eq!(
        consistency_proof(&all, 5, 4),
        Err(ProofError::InvalidSizes { size1: 5, size2: 4 })
    );
    assert_eq!(
        consistency_proof(&all, 0, 4),
        Err(ProofError::InvalidSizes { size1: 0, size2: 4 })
    );
    assert_eq!(consistency_proof(&all, 0, 0), Ok(vec![]));
    assert_eq!(consistency_proof(&all, 3, 3), Ok(vec![]));
    assert!(verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT).is_ok());
    assert!(verify_inclusion(0, 0, &all[0], &[], &EMPTY_ROOT).is_err());
    let long = vec![all[0]; 200];
    assert!(verify_inclusion(0, 8, &all[0], &long, &root_of(&all)).is_err());
}

#[test]
fn frontier_from_bytes_rejects_garbage() {
    let mut f = Frontier::new();
    for l in leaves(5) {
        f.push(l);
    }
    let good = f.to_bytes();
    assert!(Frontier::from_bytes(&[]).is_err());
    assert!(Frontier::from_bytes(&good[..good.len() - 1]).is_err());
    let mut extra = good.clone();
    extra.push(0);
    assert!(Frontier::from_bytes(&extra).is_err());
    let mut version = good.clone();
    version[0] = 2;
    assert!(Frontier::from_bytes(&version).is_err());
    let mut size = good.clone();
    size[8] = 6; // size 6 has two set bits, as 5 does, so the length matches but the root differs
    let other = Frontier::from_bytes(&size).unwrap();
    assert_eq!(other.size(), 6);
    size[8] = 7; // three set bits: length mismatch
    assert!(Frontier::from_bytes(&size).is_err());
    assert_eq!(
        Frontier::from_bytes(&Frontier::new().to_bytes()).unwrap(),
        Frontier::new()
    );
}

#[test]
fn frontier_serde_checks_invariant() {
    let mut f = Frontier::new();
    for l in leaves(3) {
        f.push(l);
    }
    let json = serde_json::to_string(&f).unwrap();
    let back: Frontier = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f);
    let bad = json.replacen("\"size\":3", "\"size\":4", 1);
    assert_ne!(bad, json);
    assert!(serde_json::from_str::<Frontier>(&bad).is_err());
}

proptest! {
    #[test]
    fn random_appends_verify(
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..200),
        picks in proptest::collection::vec(any::<u64>(), 4),
    ) {
        let all: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let mut f = Frontier::new();
        for l in &all {
            f.push(*l);
        }
        let n = all.len() as u64;
        prop_assert_eq!(f.root(), root_of(&all));
        let size = 1 + picks[0] % n;
        let index = picks[1] % size;
        let root = root_of(&all[..size as usize]);
        let proof = inclusion_proof(&all, index, size).unwrap();
        prop_assert!(verify_inclusion(index, size, &all[index as usize], &proof, &root).is_ok());
        let size1 = 1 + picks[2] % size;
        let root1 = root_of(&all[..size1 as usize]);
        let cproof = consistency_proof(&all, size1, size).unwrap();
        prop_assert!(verify_consistency(size1, size, &cproof, &root1, &root).is_ok());
        // Flipping one bit anywhere in a non-empty proof breaks it.
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = (picks[3] % bad.len() as u64) as usize;
            bad[at][(picks[3] % 32) as usize] ^= 1;
            prop_assert!(verify_inclusion(index, size, &all[index as usize], &bad, &root).is_err());
        }
        let back = Frontier::from_bytes(&f.to_bytes()).unwrap();
        prop_assert_eq!(back, f);
    }
}
