//! Per-owner data keys, the place a field lives in, and the wrapped (stored) form of a data key.

use std::fmt;

use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::primitives::{self, OpenError, KEY_LEN};
use crate::VaultError;

/// Format version byte at the start of every sealed field.
const FIELD_VERSION: u8 = 1;
/// Domain label of the associated data of sealed fields.
const FIELD_DOMAIN: &[u8] = b"mamori/field/v1";
/// Format version byte at the start of [`WrappedKey::to_bytes`].
const WRAPPED_KEY_FORMAT: u8 = 1;
/// Longest master key id accepted in a serialised [`WrappedKey`].
const MAX_MASTER_KEY_ID_LEN: usize = 64;

/// Where a sealed field lives. All three parts go into the AEAD associated data, so a ciphertext
/// copied to another table, column or row does not decrypt.
///
/// `row_id` must be the row's stable primary key (not a value that changes, and not personal data).
#[derive(Clone, Copy, Debug)]
pub struct FieldPlace<'a> {
    /// Table name, e.g. `customers`.
    pub table: &'a str,
    /// Column name, e.g. `email`.
    pub column: &'a str,
    /// Stable row id, e.g. `42`.
    pub row_id: &'a str,
}

impl<'a> FieldPlace<'a> {
    /// Shorthand constructor.
    pub fn new(table: &'a str, column: &'a str, row_id: &'a str) -> Self {
        Self {
            table,
            column,
            row_id,
        }
    }

    fn decrypt_error(&self) -> VaultError {
        VaultError::Decrypt {
            table: self.table.to_owned(),
            column: self.column.to_owned(),
        }
    }
}

/// A data key (AES-256-GCM) for one owner, or a system key derived from the master key.
///
/// The key bytes are zeroized on drop and never printed; `Debug` shows only the key id.
/// Destroying every wrapped copy of a customer's data key makes their sealed fields unreadable
/// (crypto-shredding).
pub struct DataKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    pub(crate) fn from_parts(id: String, key: Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self { id, key }
    }

    /// A fresh random key with a fresh random id (`dk-` + 32 hex digits).
    pub(crate) fn generate() -> Result<Self, VaultError> {
        let id_bytes = primitives::random_array::<16>()?;
        let id = format!("dk-{}", hex::encode(id_bytes.as_ref()));
        Ok(Self {
            id,
            key: primitives::random_array::<KEY_LEN>()?,
        })
    }

    pub(crate) fn key_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The key id, chosen at random when the key was created and carried inside its wrapped form.
    /// It is part of every field's associated data, so a field sealed under one key cannot be
    /// passed off as sealed under another.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    fn field_aad(&self, place: &FieldPlace<'_>) -> Vec<u8> {
        primitives::associated_data(
            FIELD_DOMAIN,
            &[
                place.table.as_bytes(),
                place.column.as_bytes(),
                place.row_id.as_bytes(),
                self.id.as_bytes(),
            ],
        )
    }

    /// Encrypts one field value for `place`.
    ///
    /// Output: one format-version byte, a random 96-bit nonce, the ciphertext and the 16-byte tag
    /// (29 bytes of overhead). The associated data binds table, column, row id and this key id.
    pub fn seal(&self, place: &FieldPlace<'_>, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        primitives::seal(&self.key, FIELD_VERSION, &self.field_aad(place), plaintext)
    }

    /// Decrypts a field sealed by [`DataKey::seal`] for the same `place`. The result is zeroized
    /// when dropped.
    pub fn open(
        &self,
        place: &FieldPlace<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        primitives::open(&self.key, FIELD_VERSION, &self.field_aad(place), sealed).map_err(|e| {
            match e {
                OpenError::Auth => place.decrypt_error(),
                OpenError::Malformed(what) => VaultError::FieldCorrupt {
                    table: place.table.to_owned(),
                    column: place.column.to_owned(),
                    what,
                },
            }
        })
    }

    /// Like [`DataKey::open`] for text fields.
    pub fn open_string(
        &self,
        place: &FieldPlace<'_>,
        sealed: &[u8],
    ) -> Result<SecretString, VaultError> {
        let bytes = self.open(place, sealed)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| VaultError::NotUtf8 {
            table: place.table.to_owned(),
            column: place.column.to_owned(),
        })?;
        // Copy into a buffer of exactly the right capacity: `SecretString::from(String)` boxes the
        // string, and a shrinking reallocation would free an unzeroized copy. The source buffer is
        // zeroized when `bytes` drops.
        let mut owned = String::with_capacity(text.len());
        owned.push_str(text);
        Ok(SecretString::from(owned))
    }
}

/// A data key wrapped (encrypted) under a master key, as stored in the database next to its owner.
///
/// `sealed` is `version || nonce || AES-256-GCM(key id, key) || tag`; the associated data binds the
/// owner and the master key id. Neither field is secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// Id of the master key that wraps it (`mk-` + 16 hex digits).
    pub master_key_id: String,
    /// The sealed key bytes.
    pub sealed: Vec<u8>,
}

impl WrappedKey {
    /// One self-describing blob for a single database column:
    /// `format byte || id length byte || master key id || sealed`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let id = self.master_key_id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + self.sealed.len());
        out.push(WRAPPED_KEY_FORMAT);
        // `from_bytes` and the key ring only ever produce ids far below 256 bytes; a longer id
        // would not round-trip, so it is clamped here and rejected by `from_bytes` instead of
        // panicking.
        let len = u8::try_from(id.len()).unwrap_or(u8::MAX);
        out.push(len);
        out.extend_from_slice(&id[..usize::from(len).min(id.len())]);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Parses [`WrappedKey::to_bytes`] output.
    pub fn from_bytes(b: &[u8]) -> Result<Self, VaultError> {
        let corrupt = |what| VaultError::Corrupt { what };
        let (&format, rest) = b.split_first().ok_or(corrupt("wrapped key: empty"))?;
        if format != WRAPPED_KEY_FORMAT {
            return Err(corrupt("wrapped key: unknown format version"));
        }
        let (&len, rest) = rest
            .split_first()
            .ok_or(corrupt("wrapped key: truncated"))?;
        let len = usize::from(len);
        if len == 0 || len > MAX_MASTER_KEY_ID_LEN || rest.len() < len {
            return Err(corrupt("wrapped key: bad master key id length"));
        }
        let (id, sealed) = rest.split_at(len);
        if !id.iter().all(|c| c.is_ascii_graphic()) {
            return Err(corrupt("wrapped key: master key id is not printable ASCII"));
        }
        // Smallest wrap: header, id-length byte, empty id, key, tag.
        if sealed.len() < primitives::HEADER_LEN + 1 + KEY_LEN + primitives::TAG_LEN {
            return Err(corrupt("wrapped key: sealed part too short"));
        }
        let master_key_id = String::from_utf8(id.to_vec())
            .map_err(|_| corrupt("wrapped key: master key id is not printable ASCII"))?;
        Ok(Self {
            master_key_id,
            sealed: sealed.to_vec(),
        })
    }
}
