//! Builds a corpus with every supported format, scans it, and checks 100% recall on the planted
//! numbers; reports precision. Compares masked forms only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mamori_scan::corpus::{generate, Planted};
use mamori_scan::{Confidence, Finding, ScanOptions, Scanner};
use std::path::Path;

fn rel(root: &Path, f: &Finding) -> String {
    Path::new(&f.path)
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn matches(root: &Path, p: &Planted, f: &Finding) -> bool {
    rel(root, f) == p.file
        && f.masked == p.masked
        && f.members.len() >= p.members.len()
        && f.members[..p.members.len()] == p.members[..]
        && (p.table.is_none() || f.table == p.table)
}

fn scan(root: &Path, min: Confidence) -> mamori_scan::Report {
    let opts = ScanOptions {
        min_confidence: min,
        buffer_size: 4096,
        threads: 2,
        ..ScanOptions::default()
    };
    Scanner::new(opts).scan_paths(&[root.to_path_buf()])
}

#[test]
fn planted_numbers_are_all_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let planted = generate(root, 42, 1).unwrap();
    assert!(planted.len() > 60, "corpus too small: {}", planted.len());

    for min in [Confidence::Medium, Confidence::Low] {
        let report = scan(root, min);
        assert!(
            report.issues.iter().all(|i| !i.kind.is_error()),
            "issues: {:?}",
            report.issues
        );
        let missed: Vec<_> = planted
            .iter()
            .filter(|p| !report.findings.iter().any(|f| matches(root, p, f)))
            .map(|p| (p.file.clone(), p.members.clone(), p.masked.clone()))
            .collect();
        let fp: Vec<_> = report
            .findings
            .iter()
            .filter(|f| !planted.iter().any(|p| matches(root, p, f)))
            .collect();
        let tp = report.findings.len() - fp.len();
        let precision = tp as f64 / report.findings.len() as f64;
        let recall = (planted.len() - missed.len()) as f64 / planted.len() as f64;
        // Printed before the checks, so that a failing run still shows its figures.
        println!(
            "min confidence {min:?}: planted {}, missed {}, recall {:.1}%, findings {}, true {}, false {}, precision {:.1}%",
            planted.len(),
            missed.len(),
            100.0 * recall,
            report.findings.len(),
            tp,
            fp.len(),
            100.0 * precision
        );
        assert!(missed.is_empty(), "missed at {min:?}: {missed:?}");
        for f in &fp {
            println!(
                "  false positive: {} {:?} {} {:?} {:?}",
                rel(root, f),
                f.members,
                f.masked,
                f.confidence,
                f.reasons
            );
        }
        assert_eq!(report.summary.exit_code(), 1);
        if min == Confidence::Medium {
            assert!(precision >= 0.9, "precision {precision}");
        }
    }
}

#[test]
fn every_format_is_represented_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let planted = generate(root, 7, 1).unwrap();
    let report = scan(root, Confidence::Medium);
    let found_in = |file: &str| {
        report
            .findings
            .iter()
            .filter(|f| rel(root, f) == file)
            .collect::<Vec<_>>()
    };

    // SQLite rows carry table, column and row; raw-page duplicates are suppressed.
    let db = found_in("db/shop.sqlite");
    let db_planted = planted
        .iter()
        .filter(|p| p.file == "db/shop.sqlite")
        .count();
    assert_eq!(db.len(), db_planted, "{db:?}");
    assert!(db
        .iter()
        .all(|f| f.table.is_some() && f.column.is_some() && f.row.is_some()));
    assert!(db.iter().any(|f| f.column.as_deref() == Some("pan")));

    // Archive chains.
    assert!(found_in("backup/export.zip")
        .iter()
        .any(|f| f.members == ["l1.zip", "l2.zip", "deep.txt"]));
    assert!(found_in("backup/backup.tar.gz")
        .iter()
        .any(|f| f.members == ["logs/old.log.xz"]));

    // Encodings.
    use mamori_scan::TextEncoding as E;
    for (file, enc) in [
        ("exports/utf16le.csv", E::Utf16le),
        ("exports/utf16be.csv", E::Utf16be),
        ("notes/電話メモ.txt", E::FullWidth),
    ] {
        let f = found_in(file);
        assert!(
            !f.is_empty() && f.iter().all(|f| f.encoding == enc),
            "{file}: {f:?}"
        );
    }

    // Tracks.
    let pos = found_in("pos/reader.log");
    assert_eq!(pos.len(), 2);
    assert!(pos
        .iter()
        .any(|f| f.kind == mamori_scan::FindingKind::Track1));
    assert!(pos
        .iter()
        .any(|f| f.kind == mamori_scan::FindingKind::Track2));

    // Line numbers in plain text: the boundary plant is on line 2.
    let b = found_in("logs/boundary.log");
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].line, b[0].offset), (2, 4096 - 9));

    // Masking: no finding carries more than ten digits.
    for f in &report.findings {
        assert_eq!(
            f.masked.chars().filter(|c| c.is_ascii_digit()).count(),
            10,
            "{}",
            f.masked
        );
    }
}

#[test]
fn bad_input_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let planted = generate(root, 3, 1).unwrap();
    // A truncated gzip: the part before the cut is still scanned.
    let good = std::fs::read(root.join("logs/archive/app.log.gz")).unwrap();
    std::fs::write(
        root.join("logs/archive/cut.log.gz"),
        &good[..good.len() * 3 / 4],
    )
    .unwrap();
    // A corrupt zip.
    std::fs::write(root.join("broken.zip"), b"PK\x03\x04garbage garbage").unwrap();
    let report = scan(root, Confidence::Medium);
    let cut: Vec<_> = report
        .issues
        .iter()
        .filter(|i| i.path.ends_with("cut.log.gz"))
        .collect();
    assert_eq!(cut.len(), 1, "{:?}", report.issues);
    assert!(report
        .findings
        .iter()
        .any(|f| f.path.ends_with("cut.log.gz")));
    assert!(report.issues.iter().any(|i| i.path.ends_with("broken.zip")));
    // Everything else still found.
    assert!(planted
        .iter()
        .all(|p| report.findings.iter().any(|f| f.masked == p.masked)));
    assert_eq!(report.summary.exit_code(), 1);

    // Only errors, no findings: exit status 2.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("broken.zip"), b"PK\x03\x04garbage").unwrap();
    let r = Scanner::default().scan_paths(&[empty.path().to_path_buf()]);
    assert_eq!((r.findings.len(), r.summary.exit_code()), (0, 2));
    // Nothing at all: 0.
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(
        clean.path().join("a.log"),
        b"tel 090-1234-5678 jan 4901234567894\n",
    )
    .unwrap();
    assert_eq!(
        Scanner::default()
            .scan_paths(&[clean.path().to_path_buf()])
            .summary
            .exit_code(),
        0
    );
}

#[test]
fn test_cards_can_be_ignored() {
    let data = b"card 4111 1111 1111 1111 and card 4556737586899855\n";
    let all = Scanner::default().scan_bytes("x", data);
    assert_eq!(all.findings.len(), 2);
    assert!(all.findings[0].test_card);
    let opts = ScanOptions {
        ignore_test_cards: true,
        ..ScanOptions::default()
    };
    let some = Scanner::new(opts).scan_bytes("x", data);
    assert_eq!(some.findings.len(), 1);
    assert_eq!(some.summary.test_cards_ignored, 1);
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_fifos_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("a/loop")).unwrap();
    std::fs::write(dir.path().join("a/c.txt"), b"card 4556737586899855\n").unwrap();
    let opts = ScanOptions {
        follow_symlinks: true,
        ..ScanOptions::default()
    };
    let r = Scanner::new(opts).scan_paths(&[dir.path().to_path_buf()]);
    assert_eq!(r.findings.len(), 1);
    assert!(r
        .issues
        .iter()
        .any(|i| i.kind == mamori_scan::IssueKind::Skipped));
    assert_eq!(r.summary.exit_code(), 1);
}

#[test]
fn a_card_alone_under_or_over_a_label_is_reported_at_the_default_confidence() {
    let data = "注文番号\n4556737586899855\n\n5105 1051 0510 5100\ntracking\n".as_bytes();
    let r = Scanner::default().scan_bytes("memo.txt", data);
    let found: Vec<_> = r.findings.iter().map(|f| (f.line, f.confidence)).collect();
    assert_eq!(
        found,
        [(2, Confidence::Medium), (4, Confidence::Medium)],
        "{:?}",
        r.findings
    );
}
