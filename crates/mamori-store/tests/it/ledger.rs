//! The ledger in a real database: group commit under concurrency, proofs, and tampering with the
//! stored rows detected by `verify` against the witness file.

use mamori_ledger::{Break, Checkpoint, LedgerSigner};
use mamori_store::access::{AccessEvent, Action};
use mamori_store::{Accessor, Backend, StoreError};

use crate::both_backends;
use crate::common::*;

fn event(i: usize) -> AccessEvent {
    let acc = Accessor::system("test", &format!("purpose-{i}"));
    AccessEvent::new(
        &acc,
        Action::Read,
        vec![format!("customer-{}", i % 7)],
        &["customers.name"],
    )
}

/// 50 events with checkpoints at 20 and 50 (in the database and the witness file).
async fn filled(backend: Backend) -> Env {
    let env = env(backend).await;
    for i in 0..50 {
        env.ledger.record(&event(i)).await.unwrap();
        if i == 19 {
            env.ledger.checkpoint().await.unwrap();
        }
    }
    env.ledger.checkpoint().await.unwrap();
    let report = env.verify().await.unwrap();
    assert_eq!(report.size, 50);
    assert!(report.witness_checkpoints_checked >= 2);
    env
}

async fn group_commit_keeps_every_event(backend: Backend) {
    let env = env(backend).await;
    let mut tasks = Vec::new();
    for t in 0..50 {
        let ledger = env.ledger.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..20 {
                seqs.push(ledger.record(&event(t * 100 + i)).await.unwrap());
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (0..1000).collect::<Vec<u64>>(),
        "every event got its own leaf index"
    );
    env.ledger.checkpoint().await.unwrap();
    let report = env.verify().await.unwrap();
    assert_eq!(report.size, 1000);
    // Far fewer transactions than events: each checkpoint-less batch shows as one recorded_at value.
    let rows = env.store.ledger_entries(0, 1000).await.unwrap();
    let purposes: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| AccessEvent::from_bytes(&r.event).unwrap().purpose)
        .collect();
    assert_eq!(purposes.len(), 1000);
}

async fn inclusion_proofs_verify(backend: Backend) {
    let env = filled(backend).await;
    for index in [0u64, 19, 20, 49] {
        let p = mamori_store::ledger::prove(env.store.as_ref(), &env.verifier, index)
            .await
            .unwrap();
        assert_eq!(p.tree_size, 50);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let leaf: [u8; 32] = b64.decode(&p.leaf_hash).unwrap().try_into().unwrap();
        let root: [u8; 32] = b64.decode(&p.root).unwrap().try_into().unwrap();
        let path: Vec<[u8; 32]> = p
            .proof
            .iter()
            .map(|h| b64.decode(h).unwrap().try_into().unwrap())
            .collect();
        mamori_ledger::verify_inclusion(index, 50, &leaf, &path, &root).unwrap();
        assert!(mamori_ledger::verify_inclusion(
            index,
            50,
            &mamori_ledger::leaf_hash(b"forged"),
            &path,
            &root
        )
        .is_err());
        let cp = Checkpoint::open(&p.checkpoint, &env.verifier).unwrap();
        assert_eq!(cp.root, root);
    }
    // Beyond the log, and in the log but after the newest checkpoint: no checkpoint covers it.
    let err = mamori_store::ledger::prove(env.store.as_ref(), &env.verifier, 50)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotCheckpointed { index: 50 }),
        "{err}"
    );
    env.ledger.record(&event(50)).await.unwrap();
    let err = mamori_store::ledger::prove(env.store.as_ref(), &env.verifier, 50)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotCheckpointed { index: 50 }),
        "{err}"
    );
}

fn assert_broken(res: Result<mamori_ledger::VerifyReport, Break>, expect: &str) -> Break {
    match res {
        Ok(r) => panic!(
            "tampering not detected ({expect}); verified {} entries",
            r.size
        ),
        Err(b) => {
            let msg = b.to_string();
            assert!(
                msg.chars().any(|c| c.is_ascii_digit()),
                "the break names a place: {msg}"
            );
            b
        }
    }
}

async fn changed_event_is_detected(backend: Backend) {
    let env = filled(backend).await;
    let forged = event(999).to_bytes();
    env.sql(
        "UPDATE ledger_entries SET event = $1 WHERE seq = 10",
        vec![Bind::Bytes(forged)],
    )
    .await;
    let b = assert_broken(env.verify().await, "changed event");
    assert!(matches!(b, Break::LeafHashMismatch { seq: 10 }), "{b}");
}

async fn changed_event_and_hash_is_detected(backend: Backend) {
    let env = filled(backend).await;
    let forged = event(999).to_bytes();
    let leaf = mamori_ledger::leaf_hash(&forged).to_vec();
    env.sql(
        "UPDATE ledger_entries SET event = $1, leaf_hash = $2 WHERE seq = 10",
        vec![Bind::Bytes(forged), Bind::Bytes(leaf)],
    )
    .await;
    let b = assert_broken(env.verify().await, "changed event and leaf hash");
    assert!(matches!(b, Break::RootMismatch { size: 20, .. }), "{b}");
    assert!(b.to_string().contains("..20"), "{b}");
}

async fn deleted_event_is_detected(backend: Backend) {
    let env = filled(backend).await;
    env.sql("DELETE FROM ledger_entries WHERE seq = 33", vec![])
        .await;
    let b = assert_broken(env.verify().await, "deleted event");
    assert!(matches!(b, Break::SequenceGap { .. }), "{b}");
    assert!(b.to_string().contains("33"), "{b}");
}

async fn reordered_events_are_detected(backend: Backend) {
    let env = filled(backend).await;
    env.sql(
        "UPDATE ledger_entries SET seq = 1000 WHERE seq = 30",
        vec![],
    )
    .await;
    env.sql("UPDATE ledger_entries SET seq = 30 WHERE seq = 31", vec![])
        .await;
    env.sql(
        "UPDATE ledger_entries SET seq = 31 WHERE seq = 1000",
        vec![],
    )
    .await;
    let b = assert_broken(env.verify().await, "reordered events");
    assert!(
        matches!(
            b,
            Break::RootMismatch {
                size: 50,
                last_good_size: 20,
                ..
            }
        ),
        "{b}"
    );
}

async fn inserted_event_is_detected(backend: Backend) {
    let env = filled(backend).await;
    env.sql(
        "UPDATE ledger_entries SET seq = seq + 1000000 WHERE seq >= 40",
        vec![],
    )
    .await;
    env.sql(
        "UPDATE ledger_entries SET seq = seq - 999999 WHERE seq >= 1000000",
        vec![],
    )
    .await;
    let forged = event(999).to_bytes();
    let leaf = mamori_ledger::leaf_hash(&forged).to_vec();
    env.sql(
        "INSERT INTO ledger_entries (seq, leaf_hash, event, recorded_at) VALUES (40, $2, $1, 0)",
        vec![Bind::Bytes(forged), Bind::Bytes(leaf)],
    )
    .await;
    let b = assert_broken(env.verify().await, "inserted event");
    assert!(matches!(b, Break::RootMismatch { .. }), "{b}");
}

/// An attacker with the database (not the witness) cuts the tail, rewrites it and signs new
/// checkpoints: with a key of their own, or with the stolen ledger key.
async fn rewritten_tail_is_detected(backend: Backend) {
    for stolen_key in [false, true] {
        let env = filled(backend).await;
        env.sql("DELETE FROM ledger_entries WHERE seq >= 40", vec![])
            .await;
        env.sql("DELETE FROM ledger_checkpoints WHERE size > 20", vec![])
            .await;
        let mut leaves = env.store.ledger_leaf_hashes(40).await.unwrap();
        for i in 0..10 {
            let forged = event(5000 + i).to_bytes();
            let leaf = mamori_ledger::leaf_hash(&forged);
            leaves.push(leaf);
            env.sql(&format!("INSERT INTO ledger_entries (seq, leaf_hash, event, recorded_at) VALUES ({}, $2, $1, 0)", 40 + i), vec![Bind::Bytes(forged), Bind::Bytes(leaf.to_vec())])
            .await;
        }
        let signer = if stolen_key {
            LedgerSigner::load_key_file(&env.dir.path().join("ledger.key")).unwrap()
        } else {
            LedgerSigner::generate("mamori-ledger")
        };
        let note = Checkpoint {
            origin: "mamori/access-ledger".into(),
            size: 50,
            root: mamori_ledger::root_of(&leaves),
        }
        .sign(&signer);
        env.sql(
            "INSERT INTO ledger_checkpoints (size, note, created_at) VALUES ($1, $2, 0)",
            vec![Bind::Int(50), Bind::Text(note)],
        )
        .await;
        let b = assert_broken(env.verify().await, "rewritten tail");
        if stolen_key {
            // Only the witness, outside the database, still holds the true head.
            assert!(
                matches!(
                    b,
                    Break::RootMismatch { size: 50, .. } | Break::ConflictingCheckpoints { .. }
                ),
                "{b}"
            );
        } else {
            assert!(matches!(b, Break::BadSignature { .. }), "{b}");
        }
    }
}

/// Subjects are written in append order and moved into the per-customer index in batches: a
/// customer's events are found before, after and between the moves.
async fn subjects_are_found_while_and_after_they_are_indexed(backend: Backend) {
    let env = env(backend).await;
    let mut config = mamori_store::LedgerConfig::new(env.dir.path().join("witness-2.jsonl"));
    config.index_batch = 10;
    let ledger =
        mamori_store::Ledger::start(env.store.clone(), LedgerSigner::generate("t"), config);
    let mut seqs_of_3 = Vec::new();
    for i in 0..25 {
        let seq = ledger.record(&event(i)).await.unwrap();
        if i % 7 == 3 {
            seqs_of_3.push(seq);
        }
        assert_eq!(
            env.store.ledger_events_of("customer-3").await.unwrap(),
            seqs_of_3,
            "after event {i}"
        );
    }
    assert_eq!(seqs_of_3.len(), 4);
    // The writer moved the first 20 (two batches of 10); 5 are still recent.
    assert_eq!(env.store.ledger_index().await.unwrap(), 5);
    assert_eq!(env.store.ledger_index().await.unwrap(), 0);
    assert_eq!(
        env.store.ledger_events_of("customer-3").await.unwrap(),
        seqs_of_3
    );
    assert!(env
        .store
        .ledger_events_of("customer-9")
        .await
        .unwrap()
        .is_empty());
}

both_backends!(
    subjects_are_found_while_and_after_they_are_indexed,
    group_commit_keeps_every_event,
    inclusion_proofs_verify,
    changed_event_is_detected,
    changed_event_and_hash_is_detected,
    deleted_event_is_detected,
    reordered_events_are_detected,
    inserted_event_is_detected,
    rewritten_tail_is_detected,
);
