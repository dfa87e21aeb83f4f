//! mamori's vault: everything that touches key material.
//!
//! * A [`KeyRing`] lives in a key file outside the database (JSON, mode 0600). It holds master
//!   keys (one active, older ones kept for unwrapping), the Argon2 pepper and the blind-index key.
//! * Every customer gets a random [`DataKey`]; only its [`WrappedKey`] (sealed under the active
//!   master key, bound to the owner) is stored. Deleting the wrapped key crypto-shreds every field
//!   sealed under it.
//! * [`DataKey::seal`] encrypts one field with AES-256-GCM, bound to its [`FieldPlace`] (table,
//!   column, row id) and the key id, so ciphertext moved elsewhere does not decrypt.
//! * [`KeyRing::blind_index`] gives keyed HMAC-SHA256 values for exact-match lookups.
//! * [`KeyRing::hash_password`] / [`KeyRing::verify_password`] use Argon2id with the pepper.
//!
//! Errors never carry a plaintext value, key or password: only file paths, environment variable
//! names, key ids, owner ids and field places.
//!
//! ```
//! use mamori_vault::{FieldPlace, KeyRing};
//! # fn main() -> Result<(), mamori_vault::VaultError> {
//! let ring = KeyRing::generate()?; // production: KeyRing::load(path)
//! let (key, wrapped) = ring.new_data_key("customer:42")?;
//! let place = FieldPlace::new("customers", "email", "42");
//! let sealed = key.seal(&place, b"hanako@example.jp")?;
//!
//! // Later: only `wrapped` and `sealed` came from the database.
//! let key = ring.unwrap_data_key("customer:42", &wrapped)?;
//! assert_eq!(&key.open(&place, &sealed)?[..], b"hanako@example.jp");
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod datakey;
mod error;
mod keyring;
mod password;
mod primitives;

pub use datakey::{DataKey, FieldPlace, WrappedKey};
pub use error::VaultError;
pub use keyring::KeyRing;
pub use password::{PasswordCheck, PasswordParams};
/// Re-exported so callers name the same secret types as the vault's signatures.
pub use secrecy::{ExposeSecret, SecretString};
/// Re-exported: [`DataKey::open`] returns plaintext in a [`Zeroizing`] buffer.
pub use zeroize::Zeroizing;
