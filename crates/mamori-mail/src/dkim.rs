//! DKIM signing (RFC 6376, RFC 8463) with lettre's signer and a key read from a file.
//!
//! Accepted key files:
//! - RSA: PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`) or PKCS#8 PEM (`BEGIN PRIVATE KEY`, what
//!   `openssl genpkey -algorithm RSA` writes);
//! - Ed25519: PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) or the base64 of the 32-byte
//!   seed (lettre's own format).
//!
//! Canonicalization is relaxed/relaxed, the choice that survives the header refolding and
//! trailing-space changes relays make. [`DkimSigner::dns_record`] prints the TXT record to
//! publish at `<selector>._domainkey.<domain>`.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::Message;
use zeroize::Zeroizing;

/// Headers covered by the signature, in this order. lettre signs each name once and skips the
/// ones a message does not carry (it still lists them in `h=`, which per RFC 6376 §5.4 also
/// forbids adding them later).
///
/// `Content-Type` and `Content-Transfer-Encoding` are deliberately absent: lettre writes them
/// with the body part, after the point where it computes the signature, so listing them would
/// make the signature cover a header the signer never hashed and every verifier would reject
/// it (found by the independent verification in this crate's tests). The body hash (`bh=`)
/// still covers every byte of the body.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Auto-Submitted",
];

/// Why a DKIM signer could not be set up. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The key file could not be read.
    #[error("cannot read the DKIM key file: {0}")]
    Io(#[from] std::io::Error),
    /// The file holds no key this module understands.
    #[error("the DKIM key is neither an RSA (PKCS#1/PKCS#8 PEM) nor an Ed25519 (PKCS#8 PEM or base64 seed) private key")]
    UnrecognisedKey,
    /// The selector or domain is not a DNS label sequence.
    #[error("invalid DKIM {0}")]
    InvalidName(&'static str),
    /// The RSA key is shorter than 2048 bits (RFC 8301 forbids signing with shorter keys).
    #[error("RSA DKIM key too short: {0} bits, at least 2048 required")]
    RsaKeyTooShort(usize),
}

/// The signing algorithm of a [`DkimSigner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// `rsa-sha256`.
    Rsa,
    /// `ed25519-sha256` (RFC 8463). Not yet verified by every receiver: sign with both if that
    /// matters (two signers, two selectors).
    Ed25519,
}

/// Signs messages for one domain and selector. `Debug` shows neither key.
pub struct DkimSigner {
    config: DkimConfig,
    selector: String,
    domain: String,
    algorithm: DkimAlgorithm,
    /// DER SubjectPublicKeyInfo (RSA) or the 32 raw bytes (Ed25519), as DNS wants them.
    public_key: Vec<u8>,
}

impl fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimSigner")
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn valid_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl DkimSigner {
    /// Creates a new Ed25519 key file at `path` (the base64 of a random 32-byte seed, mode
    /// 0600); refused when the file exists. What `mamori serve` does on its first start, so that
    /// its mail is signed from the start; publish [`DkimSigner::dns_record`] at
    /// [`DkimSigner::dns_name`] for receivers to verify it.
    pub fn create_ed25519_key_file(path: impl AsRef<Path>) -> Result<(), DkimError> {
        use rand::RngCore as _;
        use std::io::Write as _;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut_slice());
        let text =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(seed.as_slice()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        Ok(())
    }

    /// Reads the private key from `path` (see the module docs for formats).
    pub fn from_key_file(
        selector: &str,
        domain: &str,
        path: impl AsRef<Path>,
    ) -> Result<Self, DkimError> {
        let text = Zeroizing::new(std::fs::read_to_string(path)?);
        Self::from_key_text(selector, domain, &text)
    }

    /// Parses a private key given as text (see the module docs for formats).
    pub fn from_key_text(selector: &str, domain: &str, key: &str) -> Result<Self, DkimError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
        use rsa::pkcs8::EncodePublicKey as _;
        use rsa::traits::PublicKeyParts as _;

        if !valid_dns_name(selector) {
            return Err(DkimError::InvalidName("selector"));
        }
        if !valid_dns_name(domain) {
            return Err(DkimError::InvalidName("domain"));
        }
        let key = key.trim();

        let rsa_key = rsa::RsaPrivateKey::from_pkcs1_pem(key)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(key))
            .ok();
        let (signing_key, algorithm, public_key) = if let Some(rsa_key) = rsa_key {
            let bits = rsa_key.size() * 8;
            if bits < 2048 {
                return Err(DkimError::RsaKeyTooShort(bits));
            }
            let pkcs1 = rsa_key
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|_| DkimError::UnrecognisedKey)?;
            let public = rsa::RsaPublicKey::from(&rsa_key)
                .to_public_key_der()
                .map_err(|_| DkimError::UnrecognisedKey)?;
            (
                DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
                    .map_err(|_| DkimError::UnrecognisedKey)?,
                DkimAlgorithm::Rsa,
                public.as_bytes().to_vec(),
            )
        } else {
            let ed_key = match ed25519_dalek::SigningKey::from_pkcs8_pem(key) {
                Ok(k) => k,
                Err(_) => {
                    let seed = Zeroizing::new(
                        base64::engine::general_purpose::STANDARD
                            .decode(key)
                            .map_err(|_| DkimError::UnrecognisedKey)?,
                    );
                    let seed: [u8; 32] = seed
                        .as_slice()
                        .try_into()
                        .map_err(|_| DkimError::UnrecognisedKey)?;
                    ed25519_dalek::SigningKey::from_bytes(&seed)
                }
            };
            let seed_b64 =
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(ed_key.to_bytes()));
            (
                DkimSigningKey::new(&seed_b64, DkimSigningAlgorithm::Ed25519)
                    .map_err(|_| DkimError::UnrecognisedKey)?,
                DkimAlgorithm::Ed25519,
                ed_key.verifying_key().to_bytes().to_vec(),
            )
        };

        let headers = SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let config = DkimConfig::new(
            selector.to_owned(),
            domain.to_owned(),
            signing_key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(Self {
            config,
            selector: selector.to_owned(),
            domain: domain.to_owned(),
            algorithm,
            public_key,
        })
    }

    /// Adds a `DKIM-Signature` header to `message`.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }

    /// The selector.
    #[must_use]
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The signing domain (`d=`).
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// The public key as DNS publishes it: DER SubjectPublicKeyInfo for RSA, the 32 raw bytes
    /// for Ed25519.
    #[must_use]
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The name of the TXT record: `<selector>._domainkey.<domain>`.
    #[must_use]
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record value: `v=DKIM1; k=rsa; p=...` or `v=DKIM1; k=ed25519; p=...`.
    #[must_use]
    pub fn dns_record(&self) -> String {
        let k = match self.algorithm {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        };
        format!(
            "v=DKIM1; k={k}; p={}",
            base64::engine::general_purpose::STANDARD.encode(&self.public_key)
        )
    }
}
