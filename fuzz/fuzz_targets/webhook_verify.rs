//! The payment webhook verifier on arbitrary headers and bodies. The first byte picks the case:
//! a forged header (the rest is `<header>\n<body>`), or a body correctly signed with the
//! verifier's secret, which must pass the signature check and then reach the body checks.
#![no_main]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use mamori_pay::secrecy::SecretString;
use mamori_pay::{MemoryReplayGuard, WebhookError, WebhookVerifier};

/// The secret the signed case signs with.
const SECRET: &str = "whsec_fuzz_only_not_a_real_secret";
/// The forged case's verifier secret: no corpus input is signed with it.
const UNKNOWN_SECRET: &str = "whsec_fuzz_unknown_to_the_corpus";
const NOW: i64 = 1_780_000_000;

/// Runs a future that never waits (the in-memory replay guard does not).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(now) = Utc.timestamp_opt(NOW, 0).single() else {
        return;
    };
    let verifier = |secret: &str| {
        WebhookVerifier::new(
            SecretString::from(secret.to_owned()),
            Arc::new(MemoryReplayGuard::with_capacity(16)),
        )
    };
    if mode & 1 == 0 {
        // Forged: any header, any body. Without the secret nothing may be accepted.
        let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let Ok(header) = std::str::from_utf8(&rest[..split]) else {
            return;
        };
        let body = rest.get(split + 1..).unwrap_or_default();
        let result = block_on(verifier(UNKNOWN_SECRET).verify(header, body, now));
        assert!(
            !matches!(result, Ok(_) | Err(WebhookError::Duplicate { .. })),
            "a webhook without the secret's signature was accepted"
        );
    } else {
        // Signed with the secret, up to the tolerance away from now: the signature check passes
        // and the body checks decide; the same event a second time is a duplicate.
        let skew = i64::from(mode >> 1) - 64;
        let ts = NOW + skew;
        let header = mamori_pay::webhook::signature_header(&[SECRET.as_bytes()], ts, rest);
        let verifier = verifier(SECRET);
        assert_eq!(verifier.verify_signature(&header, rest, now).ok(), Some(ts));
        if block_on(verifier.verify(&header, rest, now)).is_ok() {
            let again = block_on(verifier.verify(&header, rest, now));
            assert!(
                matches!(again, Err(WebhookError::Duplicate { .. })),
                "a replayed event was accepted twice"
            );
        }
    }
});
