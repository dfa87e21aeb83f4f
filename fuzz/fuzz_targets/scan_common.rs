//! Shared by the scanner targets: bounded scan options and the checks every report must pass.

use mamori_scan::{Report, ScanOptions, Scanner};

/// Small limits, so that a crafted archive or compressed stream cannot take the fuzzer's memory.
pub fn scanner() -> Scanner {
    Scanner::new(ScanOptions {
        threads: 1,
        max_depth: 3,
        max_expanded: 16 << 20,
        max_in_memory: 4 << 20,
        buffer_size: 4096,
        ..ScanOptions::default()
    })
}

/// Invariants of any report: findings are masked (first six and last four digits only) and have
/// a card number's length.
pub fn check(report: &Report) {
    for f in &report.findings {
        assert_eq!(
            f.masked.chars().filter(char::is_ascii_digit).count(),
            10,
            "a finding shows more or fewer than ten digits"
        );
        assert!((12..=19).contains(&f.digits), "finding length {}", f.digits);
    }
}
