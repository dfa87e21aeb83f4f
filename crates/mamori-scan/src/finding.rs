//! What a scan reports: findings (masked), issues (unreadable or corrupt input) and a summary.

use crate::context::{Confidence, FindingKind};
use crate::finder::TextEncoding;
use crate::issuer::Brand;
use serde::Serialize;

/// One card number found. Holds only the masked number (first six, last four).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// The file on disk (or `-` for standard input).
    pub path: String,
    /// Chain of archive members, mail parts or decompressed streams inside `path`, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Byte offset of the first digit in the innermost stream (for table rows: in the value).
    pub offset: u64,
    /// 1-based line number in the innermost stream.
    pub line: u64,
    /// SQLite table, when found row by row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// SQLite column, when found row by row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// 1-based row number in the table, when found row by row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Card brand.
    pub brand: Brand,
    /// The number with all but the first six and last four digits masked.
    pub masked: String,
    /// Number of digits.
    pub digits: u8,
    /// PAN or magnetic-stripe track.
    pub kind: FindingKind,
    /// How the digits were encoded.
    pub encoding: TextEncoding,
    /// Confidence level.
    pub confidence: Confidence,
    /// The score the level was derived from.
    pub score: i32,
    /// Whether it is a well-known public test card number.
    pub test_card: bool,
    /// What moved the score.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<&'static str>,
}

impl Finding {
    /// `path!member!member` — the full location chain without line or offset.
    pub fn location(&self) -> String {
        location(&self.path, &self.members)
    }
}

/// Joins a path and its member chain with `!`.
pub fn location(path: &str, members: &[String]) -> String {
    let mut s = path.to_string();
    for m in members {
        s.push('!');
        s.push_str(m);
    }
    s
}

/// What went wrong with one input. Never contains file content.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Issue {
    /// The file on disk.
    pub path: String,
    /// Member chain inside it, when the problem is inside an archive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Short category: `unreadable`, `corrupt`, `limit`, `depth`, `skipped`.
    pub kind: IssueKind,
    /// Human-readable description (paths and error text only).
    pub message: String,
}

/// Category of an [`Issue`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IssueKind {
    /// The file could not be opened or read.
    Unreadable,
    /// An archive, compressed stream, database or mail was corrupt; what was read was scanned.
    Corrupt,
    /// A decompression limit (size or ratio) stopped the stream; what was read was scanned.
    Limit,
    /// Nesting deeper than the configured depth was scanned raw, not expanded.
    Depth,
    /// Not a regular file (device, socket, FIFO) or a symlink loop: skipped.
    Skipped,
}

impl IssueKind {
    /// Whether this issue makes the scan incomplete (exit status 2).
    pub fn is_error(self) -> bool {
        !matches!(self, IssueKind::Skipped)
    }
}

/// Totals for a whole scan.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Top-level files scanned (standard input counts as one).
    pub files: u64,
    /// Bytes read, decompressed bytes included.
    pub bytes: u64,
    /// Findings reported (at or above the confidence threshold).
    pub findings: u64,
    /// Reported findings by level: low, medium, high.
    pub by_confidence: [u64; 3],
    /// Candidates below the threshold, not reported.
    pub below_threshold: u64,
    /// Test card numbers dropped because of `ignore_test_cards`.
    pub test_cards_ignored: u64,
    /// Issues that make the scan incomplete.
    pub errors: u64,
    /// Inputs skipped on purpose (devices, sockets, loops).
    pub skipped: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// Something that happened during a scan, delivered as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    /// A finding at or above the threshold.
    Finding(Finding),
    /// A problem with one input.
    Issue(Issue),
    /// A top-level file finished.
    FileDone,
    /// More bytes were read (for progress).
    Bytes(u64),
    /// Candidates below the threshold (counted per file, not reported).
    BelowThreshold(u64),
    /// Test card numbers dropped on request (counted per file).
    TestCardIgnored(u64),
}

impl Summary {
    /// Adds one event to the totals.
    pub fn add(&mut self, e: &Event) {
        match e {
            Event::Finding(f) => {
                self.findings += 1;
                self.by_confidence[f.confidence as usize] += 1;
            }
            Event::Issue(i) => {
                if i.kind.is_error() {
                    self.errors += 1;
                } else {
                    self.skipped += 1;
                }
            }
            Event::FileDone => self.files += 1,
            Event::Bytes(n) => self.bytes += n,
            Event::BelowThreshold(n) => self.below_threshold += n,
            Event::TestCardIgnored(n) => self.test_cards_ignored += n,
        }
    }

    /// The process exit status: 1 findings, 2 errors without findings, 0 clean.
    pub fn exit_code(&self) -> i32 {
        if self.findings > 0 {
            1
        } else if self.errors > 0 {
            2
        } else {
            0
        }
    }
}
