//! The evidence pack on both backends: a pack of a seeded incident verifies with the ledger's
//! public key alone; one byte changed in an entry, an alert, the manifest or the signature, or
//! another key, fails and names the file (and the entry's leaf index).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use mamori_ledger::{LedgerSigner, WitnessFile};
use mamori_respond::evidence::{self, EvidenceError, Extras, ALERTS, ENTRIES, MANIFEST, SIGNATURE};
use mamori_respond::{Desk, IncidentKind, NewIncident};
use mamori_store::access::AccessEvent;
use mamori_store::{
    Accessor, Action, Backend, NewAlertRow, ObservationRow, Principal, StaffLogRow,
};
use mamori_testkit::{both_backends, Env};

/// The window's start (Unix seconds): after every event the test makes with the real clock.
const T: i64 = 1_900_000_000;
/// Entries in the window.
const IN_WINDOW: u64 = 8;

fn staff() -> Accessor {
    Accessor {
        principal: Principal::Staff("staff-7".into()),
        purpose: "customers.export".into(),
        request_id: "req-1".into(),
        channel: Some("backoffice".into()),
        reason: None,
    }
}

async fn event_at(env: &Env, at: i64, customer: &str) -> u64 {
    let mut ev = AccessEvent::new(
        &staff(),
        Action::Read,
        vec![customer.into()],
        &["customers.name"],
    );
    ev.at_us = at * 1_000_000;
    env.ledger.record(&ev).await.unwrap()
}

/// An incident with the window `[T, T + 100)`: entries before, in and after it, an alert, a
/// staff log entry and an observation; a checkpoint signed at the end. Returns the incident,
/// the first entry of the window, and the pack.
async fn seeded(env: &Env) -> (i64, u64, Vec<u8>) {
    let desk = Desk::new(env.gw.clone());
    let id = desk
        .open(
            &Principal::System("cli:incident".into()),
            &NewIncident {
                kind: IncidentKind::StaffMisuse,
                title: "テスト".into(),
                known_at: Utc.timestamp_opt(T + 500, 0).unwrap(),
                window_from: Some(Utc.timestamp_opt(T, 0).unwrap()),
                window_to: Some(Utc.timestamp_opt(T + 100, 0).unwrap()),
                principal: Some("staff-7".into()),
                malicious: false,
                alert_id: None,
            },
        )
        .await
        .unwrap();
    for i in 0..3 {
        event_at(env, T - 50 + i, &format!("c-before-{i}")).await;
    }
    // A checkpoint before the window: the pack carries it too.
    env.ledger.checkpoint().await.unwrap();
    let mut first = None;
    for i in 0..IN_WINDOW {
        let seq = event_at(env, T + i as i64, &format!("c-{i}")).await;
        first.get_or_insert(seq);
    }
    for i in 0..4 {
        event_at(env, T + 300 + i, &format!("c-after-{i}")).await;
    }
    env.store
        .alert_raise(
            &NewAlertRow {
                id: "alert-1".into(),
                kind: "reads.mass".into(),
                severity: "critical".into(),
                subject: "staff-7".into(),
                evidence: r#"{"opened":8}"#.into(),
                at: T + 20,
            },
            &[],
            None,
        )
        .await
        .unwrap();
    env.store
        .staff_log_append(&StaffLogRow {
            seq: 0,
            at: T + 30,
            staff_id: Some("staff-7".into()),
            action: "customers.export".into(),
            target: "customers".into(),
            detail: "{}".into(),
            request_id: "req-1".into(),
            ip: Some("192.0.2.7".into()),
        })
        .await
        .unwrap();
    env.store
        .observation_put(&ObservationRow {
            id: "obs-1".into(),
            page: "/checkout".into(),
            state: "good".into(),
            scripts: r#"{"inline#0":"sha384-AAAA"}"#.into(),
            form_origins: "[]".into(),
            headers: None,
            final_origin: None,
            observed_at: T + 40,
        })
        .await
        .unwrap();
    env.ledger.checkpoint().await.unwrap();

    let signer = LedgerSigner::load_key_file(&env.dir.path().join("ledger.key")).unwrap();
    let extras = Extras {
        witness_notes: WitnessFile::open(&env.witness).read_all().unwrap(),
        file_baseline: Some(br#"{"baseline":"as stored"}"#.to_vec()),
    };
    let pack = evidence::build(&desk, id, &signer, &extras, T + 600)
        .await
        .unwrap();
    (id, first.unwrap(), pack.bytes)
}

/// The pack with `file` changed by `f`.
fn tampered(pack: &[u8], file: &str, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut files = evidence::unpack(pack).unwrap();
    let (_, bytes) = files.iter_mut().find(|(n, _)| n == file).unwrap();
    f(bytes);
    evidence::pack(&files, T).unwrap()
}

/// Sets the byte `offset` bytes into the first occurrence of `pattern` to `to`.
fn flip(bytes: &mut [u8], pattern: &[u8], offset: usize, to: u8) {
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("the pattern");
    assert_ne!(bytes[at + offset], to);
    bytes[at + offset] = to;
}

fn fails(pack: &[u8], env: &Env) -> EvidenceError {
    evidence::verify(pack, &env.verifier).expect_err("a tampered pack must not verify")
}

async fn pack_verifies_and_tampering_is_named(backend: Backend) {
    let env = Env::start(backend).await;
    let (id, first, pack) = seeded(&env).await;

    let ok = evidence::verify(&pack, &env.verifier).unwrap();
    assert_eq!(ok.manifest.incident, id);
    assert_eq!(ok.entries, IN_WINDOW);
    assert_eq!(ok.manifest.entries_from, first);
    assert_eq!(ok.manifest.entries_to, first + IN_WINDOW);
    assert!(ok.manifest.entries_to < ok.manifest.tree_head.size);
    // Two database checkpoints, at least as many witness lines, the head and the window's.
    assert!(ok.checkpoints >= 6, "{}", ok.checkpoints);
    let names: Vec<String> = evidence::unpack(&pack)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for f in [
        MANIFEST,
        SIGNATURE,
        ENTRIES,
        ALERTS,
        evidence::PROOF,
        evidence::CHECKPOINTS,
        evidence::WITNESS,
        evidence::STAFF_LOG,
        evidence::OBSERVATIONS,
        evidence::TIMELINE,
        evidence::INCIDENT,
        evidence::FILE_BASELINE,
    ] {
        assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
    }
    let files = evidence::unpack(&pack).unwrap();
    let alerts = &files.iter().find(|(n, _)| n == ALERTS).unwrap().1;
    assert!(String::from_utf8_lossy(alerts).contains("reads.mass"));

    // One byte of the third entry of the window: the entry's leaf index is named.
    let bad = tampered(&pack, ENTRIES, |b| flip(b, b"c-2\\\"", 2, b'9'));
    let e = fails(&bad, &env);
    assert_eq!(e.file.as_deref(), Some(ENTRIES), "{e}");
    assert_eq!(e.entry, Some(first + 2), "{e}");
    assert!(
        e.to_string().contains(&format!("entry {}", first + 2)),
        "{e}"
    );

    // One byte of an alert.
    let bad = tampered(&pack, ALERTS, |b| flip(b, b"reads.mass", 6, b'n'));
    let e = fails(&bad, &env);
    assert_eq!(e.file.as_deref(), Some(ALERTS), "{e}");
    assert_eq!(e.entry, None);

    // One byte of the manifest.
    let bad = tampered(&pack, MANIFEST, |b| flip(b, b"\"window_to\": 1", 13, b'2'));
    let e = fails(&bad, &env);
    assert_eq!(e.file.as_deref(), Some(MANIFEST), "{e}");

    // One byte of the signature (a base64 character of the signature line).
    let bad = tampered(&pack, SIGNATURE, |b| {
        let at = b.len() - 10;
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    });
    let e = fails(&bad, &env);
    assert_eq!(e.file.as_deref(), Some(SIGNATURE), "{e}");

    // Another key.
    let other = LedgerSigner::generate("mamori-ledger").verifier();
    let e = evidence::verify(&pack, &other).expect_err("another key must not verify");
    assert_eq!(e.file.as_deref(), Some(SIGNATURE), "{e}");

    // A file added to the archive.
    let mut files = evidence::unpack(&pack).unwrap();
    files.push(("extra.txt".into(), b"x".to_vec()));
    let e = fails(&evidence::pack(&files, T).unwrap(), &env);
    assert_eq!(e.file.as_deref(), Some("extra.txt"), "{e}");

    // A byte of the compressed archive itself.
    let mut raw = pack.clone();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x40;
    assert!(evidence::verify(&raw, &env.verifier).is_err());
}

async fn an_unknown_incident_is_refused(backend: Backend) {
    let env = Env::start(backend).await;
    let signer = LedgerSigner::load_key_file(&env.dir.path().join("ledger.key")).unwrap();
    let desk = Desk::new(env.gw.clone());
    let err = evidence::build(&desk, 4242, &signer, &Extras::default(), T)
        .await
        .unwrap_err();
    assert!(
        matches!(err, mamori_respond::RespondError::NotFound(4242)),
        "{err}"
    );
}

both_backends!(
    pack_verifies_and_tampering_is_named,
    an_unknown_incident_is_refused
);
