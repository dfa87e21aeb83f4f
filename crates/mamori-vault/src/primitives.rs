//! Small building blocks shared by the key ring and data keys: randomness, HMAC, framing of
//! associated data, and the AES-256-GCM envelope `version || nonce || ciphertext || tag`.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::VaultError;

/// Length of every symmetric key in the vault (AES-256, HMAC-SHA256 keys).
pub(crate) const KEY_LEN: usize = 32;
/// AES-GCM nonce length (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// Header of a sealed envelope: one version byte and the nonce.
pub(crate) const HEADER_LEN: usize = 1 + NONCE_LEN;

/// Fills a fresh zeroizing buffer from the OS generator; errors instead of panicking when the OS
/// generator fails.
pub(crate) fn random_array<const N: usize>() -> Result<Zeroizing<[u8; N]>, VaultError> {
    let mut out = Zeroizing::new([0u8; N]);
    OsRng
        .try_fill_bytes(out.as_mut())
        .map_err(|_| VaultError::Random)?;
    Ok(out)
}

/// HMAC-SHA256 keyed by a 32-byte key over length-framed `parts`.
///
/// `Hmac::new_from_slice` returns a `Result` that cannot fail for HMAC, and the crate rules forbid
/// `unwrap`. HMAC zero-pads keys shorter than the hash block (64 bytes), so keying it with the
/// 32-byte key followed by 32 zero bytes through the infallible fixed-size constructor computes
/// exactly HMAC(key, ·).
pub(crate) fn hmac_sha256(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    let mut block_key = Zeroizing::new([0u8; 64]);
    block_key[..KEY_LEN].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(block_key.as_ref().into());
    for part in parts {
        mac.update(&frame_len(part));
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Big-endian u64 length prefix; framing every part by its length keeps ("ab","c") and ("a","bc")
/// apart in MACs and associated data.
fn frame_len(part: &[u8]) -> [u8; 8] {
    (part.len() as u64).to_be_bytes()
}

/// Associated data: a domain label followed by length-framed parts.
pub(crate) fn associated_data(domain: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let total = 8 + domain.len() + parts.iter().map(|p| 8 + p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    for part in std::iter::once(&domain).chain(parts.iter()) {
        out.extend_from_slice(&frame_len(part));
        out.extend_from_slice(part);
    }
    out
}

/// Seals `plaintext` as `version || nonce || ciphertext || tag` with a random 96-bit nonce.
///
/// The output buffer is sized up front and encrypted in place so no unencrypted copy of the
/// plaintext is left behind in a reallocated buffer.
pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    version: u8,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = random_array::<NONCE_LEN>()?;
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(version);
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(
            Nonce::from_slice(nonce.as_ref()),
            aad,
            &mut out[HEADER_LEN..],
        )
        .map_err(|_| VaultError::Encrypt)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Why an envelope did not open.
pub(crate) enum OpenError {
    /// Too short or unknown version: the bytes are not an envelope of this format.
    Malformed(&'static str),
    /// Authentication failed: wrong key, wrong associated data or altered bytes.
    Auth,
}

/// Opens an envelope produced by [`seal`] with the same version, key and associated data.
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    version: u8,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(OpenError::Malformed("too short"));
    }
    if sealed[0] != version {
        return Err(OpenError::Malformed("unknown format version"));
    }
    let (nonce, rest) = sealed[1..].split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let cipher = Aes256Gcm::new(key.into());
    // Decrypted in a zeroizing buffer: on a failed tag check the buffer may hold unauthenticated
    // plaintext, which must not outlive this call.
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            aad,
            buf.as_mut_slice(),
            Tag::from_slice(tag),
        )
        .map_err(|_| OpenError::Auth)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_hmac_key_equals_plain_hmac() {
        let key = [7u8; KEY_LEN];
        let ours = hmac_sha256(&key, &[b"abc"]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(&3u64.to_be_bytes());
        mac.update(b"abc");
        let theirs: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn framing_separates_boundaries() {
        let key = [1u8; KEY_LEN];
        assert_ne!(
            hmac_sha256(&key, &[b"ab", b"c"]),
            hmac_sha256(&key, &[b"a", b"bc"])
        );
        assert_ne!(
            associated_data(b"d", &[b"ab", b"c"]),
            associated_data(b"d", &[b"a", b"bc"])
        );
    }
}
