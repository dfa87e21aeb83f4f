//! Random secrets handed to people (enrolment links, recovery codes, device cookies) and the
//! hashes stored in their place.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Result, StaffError};

/// Random bytes in an enrolment token or device cookie.
pub const TOKEN_BYTES: usize = 32;
/// Recovery codes handed out at a time.
pub const RECOVERY_CODES: usize = 10;
/// Characters in one recovery code (without the hyphen): 50 bits.
pub const RECOVERY_CODE_CHARS: usize = 10;
/// RFC 4648 base32 alphabet: no 0/1/8/9, so nothing is mistaken for O, I, L or B.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `N` bytes from the operating system's generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    OsRng
        .try_fill_bytes(out.as_mut())
        .map_err(|_| StaffError::Vault(mamori_store::VaultError::Random))?;
    Ok(out)
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// A fresh token (32 random bytes, base64url without padding) and the SHA-256 of its text, which
/// is what gets stored.
pub(crate) fn new_token() -> Result<(SecretString, Vec<u8>)> {
    let bytes = random_bytes::<TOKEN_BYTES>()?;
    let text = URL_SAFE_NO_PAD.encode(bytes.as_ref());
    let hash = sha256(text.as_bytes());
    Ok((SecretString::from(text), hash))
}

/// The stored hash of a token or cookie value as typed or sent back (surrounding space removed).
pub(crate) fn token_hash(text: &str) -> Vec<u8> {
    sha256(text.trim().as_bytes())
}

/// Normalises what a person typed: NFKC (full-width letters and digits from a Japanese input
/// method become ASCII), spaces and hyphens removed, upper case.
pub(crate) fn normalise_typed(input: &str) -> Zeroizing<String> {
    Zeroizing::new(
        input
            .nfkc()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect(),
    )
}

/// A new set of recovery codes: what is shown once (`xxxxx-xxxxx`, lower case) and the SHA-256
/// of each normalised code, which is what gets stored.
pub(crate) fn new_recovery_codes() -> Result<(Vec<SecretString>, Vec<Vec<u8>>)> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let bytes = random_bytes::<RECOVERY_CODE_CHARS>()?;
        // Hand-written rather than a base32 encoder: each character is one random byte taken
        // modulo 32, which is unbiased because 256 is a multiple of 32.
        let code: Zeroizing<String> = Zeroizing::new(
            bytes
                .iter()
                .map(|b| char::from(BASE32[usize::from(b % 32)]))
                .collect(),
        );
        hashes.push(sha256(code.as_bytes()));
        let lower = code.to_lowercase();
        let (a, b) = lower.split_at(RECOVERY_CODE_CHARS / 2);
        shown.push(SecretString::from(format!("{a}-{b}")));
    }
    Ok((shown, hashes))
}

/// The stored hash of a recovery code as typed.
pub(crate) fn recovery_hash(typed: &SecretString) -> Vec<u8> {
    sha256(normalise_typed(typed.expose_secret()).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_base64url_and_hashed() {
        let (a, ha) = new_token().unwrap();
        let (b, hb) = new_token().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43);
        assert!(a
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(ha, token_hash(a.expose_secret()));
        assert_eq!(ha, token_hash(&format!(" {} ", a.expose_secret())));
        assert_ne!(ha, hb);
        assert_eq!(ha.len(), 32);
    }

    #[test]
    fn recovery_codes_have_the_shown_shape_and_normalise() {
        let (shown, hashes) = new_recovery_codes().unwrap();
        assert_eq!(shown.len(), 10);
        assert_eq!(hashes.len(), 10);
        for (code, hash) in shown.iter().zip(&hashes) {
            let c = code.expose_secret();
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(c
                .chars()
                .all(|ch| ch == '-' || ch.is_ascii_lowercase() || ('2'..='7').contains(&ch)));
            assert_eq!(&recovery_hash(code), hash);
            // Upper case, no hyphen, spaces, full-width: the same code.
            let variants = [
                c.to_uppercase(),
                c.replace('-', ""),
                format!(" {} ", c.replace('-', " ")),
                c.chars()
                    .map(|ch| match ch {
                        'a'..='z' => char::from_u32(ch as u32 - 'a' as u32 + 'Ａ' as u32).unwrap(),
                        '2'..='7' => char::from_u32(ch as u32 - '0' as u32 + '０' as u32).unwrap(),
                        other => other,
                    })
                    .collect(),
            ];
            for v in variants {
                assert_eq!(&recovery_hash(&SecretString::from(v)), hash);
            }
        }
        let mut unique = hashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }
}
