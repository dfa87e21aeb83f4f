//! The scanner on a SQLite file: rows (SQLite opens the file read-only and immutable) and raw
//! pages. SQLite reads files only, so each input is written to one file in a temporary folder.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "scan_common.rs"]
mod scan_common;

fn db_path() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("fuzz.sqlite");
        Some((dir, path))
    })
    .as_ref()
    .map(|(_, p)| p)
}

fuzz_target!(|data: &[u8]| {
    let Some(path) = db_path() else { return };
    if std::fs::write(path, data).is_err() {
        return;
    }
    let report = scan_common::scanner().scan_paths(&[path.clone()]);
    scan_common::check(&report);
});
