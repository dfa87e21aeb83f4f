//! Argon2id password hashing with the key file's pepper as Argon2's secret input.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::keyring::KeyRing;
use crate::primitives;
use crate::VaultError;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl PasswordParams {
    /// OWASP Password Storage Cheat Sheet minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
    pub const OWASP_MINIMUM: PasswordParams = PasswordParams {
        m_cost_kib: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    fn to_argon2(self) -> Result<Params, VaultError> {
        Params::new(
            self.m_cost_kib,
            self.t_cost,
            self.p_cost,
            Some(Params::DEFAULT_OUTPUT_LEN),
        )
        .map_err(|e| VaultError::PasswordHash(e.into()))
    }
}

impl Default for PasswordParams {
    /// [`PasswordParams::OWASP_MINIMUM`].
    fn default() -> Self {
        Self::OWASP_MINIMUM
    }
}

/// Outcome of [`KeyRing::verify_password`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches.
    Valid {
        /// The stored hash uses other parameters (or algorithm/version) than the ring's current
        /// ones: hash the password again and store the new PHC string.
        needs_rehash: bool,
    },
    /// The password does not match (or the hash was made with another pepper).
    Invalid,
}

/// Salt length in bytes (128 bits, the PHC recommendation).
const SALT_LEN: usize = 16;
/// Largest memory cost accepted from a stored PHC string (1 GiB). Verification uses the stored
/// parameters, so without a cap a tampered hash row could make one login allocate unbounded memory.
const MAX_STORED_M_COST_KIB: u32 = 1 << 20;
/// Largest iteration count accepted from a stored PHC string, for the same reason.
const MAX_STORED_T_COST: u32 = 64;

impl KeyRing {
    /// Sets the Argon2id parameters used by [`KeyRing::hash_password`] and as the reference for
    /// `needs_rehash`. Tests use cheap ones; production keeps the default (OWASP minimum) or
    /// stronger.
    pub fn with_password_params(mut self, params: PasswordParams) -> Self {
        self.password_params = params;
        self
    }

    /// The Argon2id parameters in use.
    pub fn password_params(&self) -> PasswordParams {
        self.password_params
    }

    fn argon2(&self, params: Params) -> Result<Argon2<'_>, VaultError> {
        Argon2::new_with_secret(
            self.pepper.as_ref(),
            Algorithm::Argon2id,
            Version::V0x13,
            params,
        )
        .map_err(|e| VaultError::PasswordHash(e.into()))
    }

    /// Hashes a password with Argon2id (pepper as Argon2's secret, random 128-bit salt) and
    /// returns a PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    ///
    /// The pepper is not in the PHC string, so a copied database alone does not allow offline
    /// guessing.
    pub fn hash_password(&self, password: &SecretString) -> Result<String, VaultError> {
        let argon2 = self.argon2(self.password_params.to_argon2()?)?;
        // Salt drawn through the vault's fallible OS RNG helper rather than
        // `SaltString::generate`, which panics if the OS generator fails.
        let salt_bytes = primitives::random_array::<SALT_LEN>()?;
        let salt = SaltString::encode_b64(salt_bytes.as_ref()).map_err(VaultError::PasswordHash)?;
        let hash = argon2
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map_err(VaultError::PasswordHash)?;
        Ok(hash.to_string())
    }

    /// Checks a password against a PHC string made by [`KeyRing::hash_password`].
    ///
    /// A wrong password, or a hash made under another key file's pepper, gives
    /// [`PasswordCheck::Invalid`]. A malformed PHC string is an error. The comparison is done in
    /// constant time by the `password-hash` crate.
    pub fn verify_password(
        &self,
        password: &SecretString,
        phc: &str,
    ) -> Result<PasswordCheck, VaultError> {
        let parsed = PasswordHash::new(phc).map_err(VaultError::PasswordHash)?;
        if Algorithm::try_from(parsed.algorithm).map_err(VaultError::PasswordHash)?
            != Algorithm::Argon2id
        {
            // Argon2i/Argon2d hashes are never produced here; refusing them keeps an attacker who
            // can write a hash from downgrading the algorithm.
            return Err(VaultError::PasswordHash(
                argon2::password_hash::Error::Algorithm,
            ));
        }
        let stored_params = Params::try_from(&parsed).map_err(VaultError::PasswordHash)?;
        if stored_params.m_cost() > MAX_STORED_M_COST_KIB
            || stored_params.t_cost() > MAX_STORED_T_COST
        {
            return Err(VaultError::PasswordHash(
                argon2::password_hash::Error::ParamValueInvalid(
                    argon2::password_hash::errors::InvalidValue::TooLong,
                ),
            ));
        }
        // The verifier takes the cost parameters from the PHC string; the ring's own parameters
        // only matter for `needs_rehash`.
        let argon2 = self.argon2(Params::DEFAULT)?;
        match argon2.verify_password(password.expose_secret().as_bytes(), &parsed) {
            Ok(()) => {
                let current = self.password_params;
                let needs_rehash = parsed.version != Some(Version::V0x13.into())
                    || stored_params.m_cost() != current.m_cost_kib
                    || stored_params.t_cost() != current.t_cost
                    || stored_params.p_cost() != current.p_cost
                    || parsed.hash.map(|h| h.len()) != Some(Params::DEFAULT_OUTPUT_LEN);
                Ok(PasswordCheck::Valid { needs_rehash })
            }
            Err(argon2::password_hash::Error::Password) => Ok(PasswordCheck::Invalid),
            Err(e) => Err(VaultError::PasswordHash(e)),
        }
    }
}
