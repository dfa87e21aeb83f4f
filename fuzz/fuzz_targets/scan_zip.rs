//! The scanner on a zip archive (and whatever its members hold: nested archives, compressed
//! streams, office files, mail).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scan_common.rs"]
mod scan_common;

fuzz_target!(|data: &[u8]| {
    let report = scan_common::scanner().scan_bytes("fuzz.zip", data);
    scan_common::check(&report);
});
