//! Argon2id off the async threads, shared by the members' [`crate::Gateway`] and the staff
//! service (`mamori-staff`).

use std::sync::Arc;

use mamori_vault::{KeyRing, PasswordCheck, SecretString, VaultError, Zeroizing};
use rand::RngCore as _;

use crate::error::{Result, StoreError};

/// Hashes and verifies passwords with a key ring's Argon2id and pepper on the blocking pool (each
/// takes tens of milliseconds of CPU), and keeps a hash of a random password made with the ring's
/// parameters, made once on first use, to verify against when a login names no account, so that
/// it costs what a wrong password costs. Cheap to clone; clones share the dummy hash.
///
/// Errors: [`StoreError::Vault`] when the ring cannot hash or verify, [`StoreError::Internal`]
/// when the blocking task was lost.
#[derive(Clone)]
pub struct PasswordHasher {
    keys: Arc<KeyRing>,
    dummy: Arc<tokio::sync::OnceCell<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

impl PasswordHasher {
    /// A hasher with `keys`' parameters and pepper.
    pub fn new(keys: Arc<KeyRing>) -> Self {
        Self {
            keys,
            dummy: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The Argon2id PHC string of `password`, hashed on the blocking pool.
    pub async fn hash(&self, password: &SecretString) -> Result<String> {
        let keys = self.keys.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || keys.hash_password(&password))
            .await
            .map_err(|_| StoreError::Internal {
                what: "the password hashing task failed",
            })?
            .map_err(StoreError::from)
    }

    /// Checks `password` against the PHC string `phc` on the blocking pool.
    pub async fn verify(&self, password: &SecretString, phc: String) -> Result<PasswordCheck> {
        let keys = self.keys.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || keys.verify_password(&password, &phc))
            .await
            .map_err(|_| StoreError::Internal {
                what: "the password check task failed",
            })?
            .map_err(StoreError::from)
    }

    /// The hash to verify against when there is no stored one (made on first use).
    pub async fn dummy_hash(&self) -> Result<String> {
        self.dummy
            .get_or_try_init(|| async {
                let mut raw = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng
                    .try_fill_bytes(raw.as_mut())
                    .map_err(|_| StoreError::Vault(VaultError::Random))?;
                self.hash(&SecretString::from(hex::encode(raw.as_ref())))
                    .await
            })
            .await
            .cloned()
    }
}
