//! The append-only witness file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use mamori_ledger::{leaf_hash, Checkpoint, LedgerError, LedgerSigner, WitnessFile};

fn notes(n: u64) -> Vec<String> {
    let signer = LedgerSigner::generate("mamori-ledger");
    (1..=n)
        .map(|size| {
            Checkpoint {
                origin: "mamori.example/ledger".to_owned(),
                size,
                root: leaf_hash(&size.to_be_bytes()),
            }
            .sign(&signer)
        })
        .collect()
}

#[test]
fn append_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("witness.jsonl");
    let w = WitnessFile::open(&path);
    assert_eq!(
        w.read_all().unwrap(),
        Vec::<String>::new(),
        "missing file is empty"
    );
    assert!(!path.exists(), "open and read_all must not create the file");

    let all = notes(3);
    for n in &all {
        w.append(n).unwrap();
    }
    assert_eq!(w.read_all().unwrap(), all);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3, "one line per note");
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["note"].as_str().unwrap().contains('\u{2014}'));
    }
    // A second handle sees the same content and appends after it.
    let w2 = WitnessFile::open(&path);
    w2.append(&notes(1)[0]).unwrap();
    assert_eq!(w.read_all().unwrap().len(), 4);
}

#[test]
fn append_rejects_non_notes() {
    let dir = tempfile::tempdir().unwrap();
    let w = WitnessFile::open(&dir.path().join("w.jsonl"));
    for bad in ["", "hello\n", "a\n\nnot a signature\n"] {
        assert!(matches!(w.append(bad), Err(LedgerError::MalformedNote(_))));
    }
    assert_eq!(w.read_all().unwrap().len(), 0);
}

#[test]
fn corrupt_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.jsonl");
    let w = WitnessFile::open(&path);
    let all = notes(3);
    for n in &all {
        w.append(n).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();

    for (bad, what) in [
        ("{\"note\": 5}".to_owned(), "wrong type"),
        ("not json".to_owned(), "not json"),
        (String::new(), "empty line"),
        ("{\"note\":\"x\\n\"}".to_owned(), "not a signed note"),
        (lines[1].replacen("{", "{\"extra\":1,", 1), "unknown field"),
    ] {
        let original = std::mem::replace(&mut lines[1], bad);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = w.read_all().unwrap_err();
        assert!(
            matches!(err, LedgerError::WitnessCorrupt { line: 2, .. }),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
        lines[1] = original;
    }
}

#[test]
fn torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.jsonl");
    let w = WitnessFile::open(&path);
    let all = notes(2);
    w.append(&all[0]).unwrap();
    // Simulate a crash in the middle of the second append.
    let line = serde_json::json!({ "note": all[1] }).to_string();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
    drop(f);

    let err = w.read_all().unwrap_err();
    assert!(
        matches!(err, LedgerError::WitnessCorrupt { line: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert!(matches!(
        w.append(&all[1]),
        Err(LedgerError::WitnessUnterminated(_))
    ));

    // A complete last line without its newline is still read.
    std::fs::write(&path, &line).unwrap();
    assert_eq!(w.read_all().unwrap(), vec![all[1].clone()]);
}
