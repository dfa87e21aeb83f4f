//! Card-number discovery for `mamori scan`: finds primary account numbers and magnetic-stripe
//! track data in files, directory trees, archives, compressed streams, office files, mail and
//! SQLite databases, and reports them masked (first six, last four digits only).
//!
//! Library use:
//! ```no_run
//! use mamori_scan::{ScanOptions, Scanner};
//! let report = Scanner::new(ScanOptions::default()).scan_paths(&["/srv/backup".into()]);
//! for f in &report.findings {
//!     println!("{} {} {}", f.location(), f.brand, f.masked);
//! }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod context;
pub mod corpus;
pub mod finder;
pub mod finding;
pub mod issuer;
pub mod luhn;
pub mod output;
pub mod scanner;
pub mod stream;

pub use cli::{run_cli, ScanArgs};
pub use context::{Confidence, FindingKind};
pub use finder::TextEncoding;
pub use finding::{Event, Finding, Issue, IssueKind, Summary};
pub use issuer::Brand;
pub use scanner::{Report, ScanError, ScanOptions, Scanner};
