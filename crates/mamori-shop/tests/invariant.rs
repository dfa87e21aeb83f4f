//! The invariant "personal plaintext only through the gateway, after its ledger event" is held by
//! the types: each file under `tests/invariant/` is a handler that tries to reach a sealed row, the
//! whole store, a data key or the key ring from what the shop hands a handler, and must not
//! compile. The expected compiler messages sit beside each file (`.stderr`); regenerate them with
//! `TRYBUILD=overwrite cargo test -p mamori-shop --test invariant` after reading the diff.

#[test]
fn a_handler_cannot_reach_plaintext_without_the_gateway() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/invariant/*.rs");
}
