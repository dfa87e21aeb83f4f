//! Signed notes, checkpoints, verifier keys and key files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mamori_ledger::{leaf_hash, Checkpoint, LedgerError, LedgerSigner, LedgerVerifier};
use sha2::{Digest, Sha256};

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "mamori.example/ledger".to_owned(),
        size: 20_852_163,
        root: leaf_hash(b"root"),
    }
}

#[test]
fn sign_open_round_trip_and_format() {
    let signer = LedgerSigner::generate("mamori-ledger");
    let verifier = signer.verifier();
    let cp = checkpoint();
    let note = cp.sign(&signer);
    assert_eq!(Checkpoint::open(&note, &verifier).unwrap(), cp);
    assert_eq!(
        cp.try_sign(&signer).unwrap(),
        note,
        "Ed25519 signing is deterministic"
    );

    // Exact C2SP layout: body, blank line, one em-dash signature line.
    let body = format!("mamori.example/ledger\n20852163\n{}\n", B64.encode(cp.root));
    assert!(note.starts_with(&body));
    let sig_line = note.strip_prefix(&body).unwrap();
    let rest = sig_line.strip_prefix("\n\u{2014} mamori-ledger ").unwrap();
    let raw = B64.decode(rest.strip_suffix('\n').unwrap()).unwrap();
    assert_eq!(raw.len(), 4 + 64);
    assert_eq!(raw[..4], verifier.key_id());

    // Key ID = SHA-256(name || "\n" || 0x01 || pubkey)[:4], and the vkey carries 0x01 || pubkey.
    let vkey = verifier.to_vkey();
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "mamori-ledger");
    let key = B64.decode(parts[2]).unwrap();
    assert_eq!(key.len(), 33);
    assert_eq!(key[0], 0x01);
    let mut h = Sha256::new();
    h.update(b"mamori-ledger\n");
    h.update(&key);
    assert_eq!(parts[1], hex::encode(&h.finalize()[..4]));
    assert_eq!(LedgerVerifier::parse(&vkey).unwrap(), verifier);
    assert_eq!(verifier.name(), "mamori-ledger");
}

/// Checks the verifier against an independently produced note: the example key and note of
/// Go's golang.org/x/mod/sumdb/note documentation.
#[test]
fn opens_go_sumdb_note_example() {
    let verifier =
        LedgerVerifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .unwrap();
    let note = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n\
                \n\
                \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let text = verifier.open_note(note).unwrap();
    assert!(text.starts_with("If you think"));
    assert!(text.ends_with("problem is.\n"));
    // Not a checkpoint body, so Checkpoint::open rejects it after the signature checks out.
    assert!(matches!(
        Checkpoint::open(note, &verifier),
        Err(LedgerError::MalformedCheckpoint(_))
    ));
}

#[test]
fn tampered_notes_are_rejected() {
    let signer = LedgerSigner::generate("mamori-ledger");
    let verifier = signer.verifier();
    let note = checkpoint().sign(&signer);

    let bigger = note.replacen("20852163", "20852164", 1);
    assert!(matches!(
        Checkpoint::open(&bigger, &verifier),
        Err(LedgerError::BadSignature)
    ));
    let other_origin = note.replacen("mamori.example", "evil.example", 1);
    assert!(matches!(
        Checkpoint::open(&other_origin, &verifier),
        Err(LedgerError::BadSignature)
    ));
    // A flipped bit in the signature itself.
    let sig_start = note.rfind(' ').unwrap() + 1;
    let mut raw = B64.decode(note[sig_start..].trim_end()).unwrap();
    raw[10] ^= 1;
    let flipped = format!("{}{}\n", &note[..sig_start], B64.encode(&raw));
    assert!(matches!(
        Checkpoint::open(&flipped, &verifier),
        Err(LedgerError::BadSignature)
    ));
    // A truncated signature from the pinned key is a bad signature, not an unknown one.
    let short = format!("{}{}\n", &note[..sig_start], B64.encode(&raw[..40]));
    assert!(matches!(
        Checkpoint::open(&short, &verifier),
        Err(LedgerError::BadSignature)
    ));
}

#[test]
fn wrong_key_is_rejected_and_foreign_signatures_ignored() {
    let signer = LedgerSigner::generate("mamori-ledger");
    let other = LedgerSigner::generate("mamori-ledger");
    let cp = checkpoint();
    let foreign = cp.sign(&other);
    let err = Checkpoint::open(&foreign, &signer.verifier()).unwrap_err();
    assert!(matches!(err, LedgerError::NoTrustedSignature));
    assert_eq!(
        err.to_string(),
        "the note has no signature by the pinned ledger key"
    );

    // A cosignature by another key next to ours is ignored (C2SP: unknown keys are skipped).
    let ours = cp.sign(&signer);
    let theirs = foreign.rsplit_once("\n\n").unwrap().1;
    let both = format!("{ours}{theirs}");
    assert_eq!(Checkpoint::open(&both, &signer.verifier()).unwrap(), cp);
    // Our signature line twice is malformed.
    let ours_line = ours.rsplit_once("\n\n").unwrap().1;
    let twice = format!("{ours}{ours_line}");
    assert!(matches!(
        Checkpoint::open(&twice, &signer.verifier()),
        Err(LedgerError::MalformedNote(_))
    ));
}

#[test]
fn malformed_notes_are_rejected() {
    let signer = LedgerSigner::generate("mamori-ledger");
    let v = signer.verifier();
    let note = checkpoint().sign(&signer);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        (note.trim_end().to_owned(), "no final newline"),
        (note.replacen("\n\n", "\n", 1), "no blank line"),
        (note.replace('\u{2014}', "-"), "hyphen instead of em dash"),
        (note.replacen("\n\n", "\n\r\n", 1), "control character"),
        (format!("{note}garbage\n"), "trailing garbage line"),
        (
            note.replacen(" mamori-ledger ", " mamori-ledger", 1),
            "no space after name",
        ),
        ("a\nb\n\n".to_owned(), "no signatures"),
        (
            "x".repeat(70_000) + "\n\n\u{2014} a AAAAAAA=\n",
            "too large",
        ),
    ];
    for (text, what) in cases {
        let err = Checkpoint::open(&text, &v).expect_err(what);
        assert!(
            matches!(err, LedgerError::MalformedNote(_)),
            "{what}: {err:?}"
        );
    }

    // Correctly signed bodies that are not valid checkpoints.
    let bodies = [
        "mamori.example/ledger\n20852163\n",
        "mamori.example/ledger\n020852163\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "mamori.example/ledger\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "mamori.example/ledger\n1\nAAAA\n",
        "mamori.example/ledger\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "mamori.example/ledger\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextension\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "mamori.example/ledger\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ];
    for body in bodies {
        let cp = Checkpoint {
            origin: body.to_owned(),
            size: 0,
            root: [0; 32],
        };
        let signed = signer.sign_note(body).unwrap();
        let err = Checkpoint::open(&signed, &v).expect_err(body);
        assert!(
            matches!(
                err,
                LedgerError::MalformedCheckpoint(_) | LedgerError::MalformedNote(_)
            ),
            "{body:?}: {err:?}"
        );
        // An origin with line breaks is refused at signing time by try_sign.
        assert!(cp.try_sign(&signer).is_err());
    }
    assert!(signer.sign_note("no final newline").is_err());
    assert!(signer.sign_note("").is_err());
    assert!(signer.sign_note("tab\there\n").is_err());
}

#[test]
fn verifier_key_parsing() {
    let signer = LedgerSigner::generate("mamori-ledger");
    let vkey = signer.verifier().to_vkey();
    let (name, rest) = vkey.split_once('+').unwrap();
    let (id, key) = rest.split_once('+').unwrap();
    let bad = [
        String::new(),
        "mamori-ledger".to_owned(),
        format!("{name}+{id}"),
        format!("{name}+{id}+{key}+extra"),
        format!("{name}+{id}+{key}="),
        format!("other-name+{id}+{key}"),
        format!("{name}+00000000+{key}"),
        format!("{name}+{}+{key}", &id[..6]),
        format!("{name}+{id}+{}", &key[..20]),
        format!("{name}+{id}+{}", key.replacen('A', "C", 1)),
        format!("{name}+{id}+{}", B64.encode([2u8; 33])),
        format!("bad name+{id}+{key}"),
    ];
    for b in &bad {
        assert!(LedgerVerifier::parse(b).is_err(), "{b:?} accepted");
    }
    // Type byte other than 0x01 is refused with a clear reason.
    let mut raw = B64.decode(key).unwrap();
    raw[0] = 0x02;
    let err = LedgerVerifier::parse(&format!("{name}+{id}+{}", B64.encode(&raw))).unwrap_err();
    assert!(
        err.to_string().contains("unsupported signature type"),
        "{err}"
    );
}

#[test]
fn signer_debug_hides_secret_and_names_are_checked() {
    let signer = LedgerSigner::generate("mamori-ledger");
    let dbg = format!("{signer:?}");
    assert!(dbg.contains("mamori-ledger"));
    assert!(!dbg.to_lowercase().contains("secret"));
    assert!(!dbg.contains("key:"), "{dbg}");
    assert!(dbg.len() < 100, "{dbg}");

    assert!(matches!(
        LedgerSigner::try_generate("has space"),
        Err(LedgerError::InvalidKeyName)
    ));
    assert!(LedgerSigner::try_generate("a+b").is_err());
    assert!(LedgerSigner::try_generate("").is_err());
    assert_eq!(LedgerSigner::generate("a b+c").name(), "a-b-c");
    assert_eq!(LedgerSigner::generate("").name(), "mamori-ledger");
}

#[test]
fn key_file_create_load_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.key");
    let created = LedgerSigner::create_key_file(&path, "mamori-ledger").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let loaded = LedgerSigner::load_key_file(&path).unwrap();
    assert_eq!(loaded.verifier(), created.verifier());
    let cp = checkpoint();
    assert_eq!(cp.sign(&loaded), cp.sign(&created));

    // Never overwritten.
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        LedgerSigner::create_key_file(&path, "mamori-ledger"),
        Err(LedgerError::KeyFileExists(_))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // Missing.
    let missing = dir.path().join("nope.key");
    let err = LedgerSigner::load_key_file(&missing).unwrap_err();
    assert!(matches!(err, LedgerError::KeyFileMissing(_)));
    assert!(err.to_string().contains("does not exist"));

    // Corrupt variants; none of the error messages may contain key material.
    let text = String::from_utf8(before.clone()).unwrap();
    let secret_part = text.trim_end().splitn(5, '+').nth(4).unwrap().to_owned();
    let corrupt = [
        "".to_owned(),
        "garbage\n".to_owned(),
        text.replacen("PRIVATE+KEY+", "PUBLIC+KEY+", 1),
        text.replacen("mamori-ledger", "other-name", 1),
        text.replacen(&secret_part, &secret_part[..20], 1),
        text.replacen(&secret_part, &B64.encode([7u8; 33]), 1),
    ];
    for (i, c) in corrupt.iter().enumerate() {
        let p = dir.path().join(format!("corrupt{i}.key"));
        write_private(&p, c.as_bytes());
        let err = LedgerSigner::load_key_file(&p).unwrap_err();
        assert!(
            matches!(err, LedgerError::KeyFileCorrupt { .. }),
            "case {i}: {err:?}"
        );
        assert!(!err.to_string().contains(&secret_part));
        assert!(!format!("{err:?}").contains(&secret_part));
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LedgerSigner::load_key_file(&path).unwrap_err();
        assert!(matches!(
            err,
            LedgerError::KeyFilePermissions { mode: 0o644, .. }
        ));
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
