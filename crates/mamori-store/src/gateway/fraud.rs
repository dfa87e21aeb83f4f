//! Keys for the fraud signals ([`crate::fraud`]): client addresses, sessions and typed account
//! names become keyed hashes before they are counted, so the tables hold no address and no
//! name, and a stolen copy cannot be reversed by trying every IPv4 address.

use super::Gateway;

/// Blind-index purpose prefix of fraud keys (a purpose of its own per kind).
const FRAUD_INDEX: &str = "fraud.";

impl Gateway {
    /// The keyed hash of `value` for `kind` (`ip`, `session`, `member`, `staff`): 32 hex digits
    /// (the first 16 bytes of the blind-index HMAC under the purpose `fraud.<kind>`).
    pub fn fraud_key(&self, kind: &str, value: &str) -> String {
        let full = self
            .keys
            .load()
            .blind_index(&format!("{FRAUD_INDEX}{kind}"), value);
        hex::encode(&full[..16])
    }
}
