//! The scanner on a mailbox (the `.mbox` name forces the mbox reader; MIME parts, base64 and
//! quoted-printable bodies, attachments).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scan_common.rs"]
mod scan_common;

fuzz_target!(|data: &[u8]| {
    let report = scan_common::scanner().scan_bytes("fuzz.mbox", data);
    scan_common::check(&report);
    // A single message (the .eml reader) from the same bytes.
    let report = scan_common::scanner().scan_bytes("fuzz.eml", data);
    scan_common::check(&report);
});
