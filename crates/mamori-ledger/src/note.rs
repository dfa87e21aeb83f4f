//! C2SP signed notes (Ed25519), the ledger signing key and C2SP tlog-checkpoints.
//!
//! The note format is small and fully specified (c2sp.org/signed-note, c2sp.org/tlog-checkpoint);
//! it is written here by hand because no maintained Rust crate implements it on the
//! ed25519-dalek 2 / RustCrypto generation this workspace is pinned to.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::LedgerError;
use crate::tree::Hash;

/// Signature type byte of Ed25519 in the signed-note specification.
const ALG_ED25519: u8 = 0x01;
/// Prefix of the private key encoding of golang.org/x/mod/sumdb/note, kept for interoperability.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";
/// Upper bound on a note; a checkpoint with a few signatures is well under 1 KiB.
const MAX_NOTE_LEN: usize = 64 * 1024;
/// The specification asks verifiers to accept at least 16 signatures.
const MAX_SIGNATURES: usize = 100;
/// Upper bound on the key file, so a wrong path cannot make us read a huge file.
const MAX_KEY_FILE_LEN: u64 = 4096;

/// Key names must be non-empty and free of Unicode spaces, `+` and control characters.
fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4].
fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Ed25519 checkpoint signer. It has its own key, never the shop's master key.
///
/// The secret lives in an `ed25519_dalek::SigningKey`, which is wiped from memory on drop;
/// `Debug` shows only the key name and key ID.
pub struct LedgerSigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl fmt::Debug for LedgerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl LedgerSigner {
    /// Generates a new key from the operating system's random source.
    ///
    /// `name` is the key name of the signed note, e.g. `"mamori-ledger"`. Characters not allowed
    /// in key names (spaces, `+`, control characters) are replaced by `-`, and an empty name
    /// becomes `"mamori-ledger"`; use [`LedgerSigner::try_generate`] to get an error instead.
    pub fn generate(name: &str) -> Self {
        let cleaned: String = name
            .chars()
            .map(|c| {
                if c.is_whitespace() || c == '+' || c.is_control() {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        let cleaned = if cleaned.is_empty() {
            "mamori-ledger".to_owned()
        } else {
            cleaned
        };
        Self::from_key(cleaned, SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Generates a new key, rejecting an invalid key name.
    pub fn try_generate(name: &str) -> Result<Self, LedgerError> {
        if !valid_key_name(name) {
            return Err(LedgerError::InvalidKeyName);
        }
        Ok(Self::from_key(
            name.to_owned(),
            SigningKey::generate(&mut rand::rngs::OsRng),
        ))
    }

    fn from_key(name: String, key: SigningKey) -> Self {
        let key_id = key_id(&name, &key.verifying_key());
        LedgerSigner { name, key_id, key }
    }

    /// Generates a key and writes it to a new file with mode 0600 (on Unix).
    ///
    /// Refuses to overwrite an existing file. The file holds one line in the private key format
    /// of Go's `golang.org/x/mod/sumdb/note` (`PRIVATE+KEY+<name>+<key id>+<base64>`).
    pub fn create_key_file(path: &Path, name: &str) -> Result<Self, LedgerError> {
        let signer = Self::try_generate(name)?;
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        raw.push(ALG_ED25519);
        raw.extend_from_slice(signer.key.as_bytes());
        let text = Zeroizing::new(format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}\n",
            signer.name,
            hex::encode(signer.key_id),
            B64.encode(raw.as_slice())
        ));

        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(LedgerError::KeyFileExists(path.to_owned()))
            }
            Err(source) => {
                return Err(LedgerError::Io {
                    action: "cannot create ledger key file",
                    path: path.to_owned(),
                    source,
                })
            }
        };
        if let Err(source) = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
        {
            drop(file);
            // A half-written key file would block the next attempt (we never overwrite), so
            // remove it; if removal fails too, the original error is the one worth reporting.
            let _ = std::fs::remove_file(path);
            return Err(LedgerError::Io {
                action: "cannot write ledger key file",
                path: path.to_owned(),
                source,
            });
        }
        sync_parent_dir(path);
        Ok(signer)
    }

    /// Loads a key written by [`LedgerSigner::create_key_file`].
    ///
    /// On Unix a file readable or writable by group or others is refused, as ssh does.
    pub fn load_key_file(path: &Path) -> Result<Self, LedgerError> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(LedgerError::KeyFileMissing(path.to_owned()))
            }
            Err(source) => {
                return Err(LedgerError::Io {
                    action: "cannot open ledger key file",
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let io_err = |source| LedgerError::Io {
            action: "cannot read ledger key file",
            path: path.to_owned(),
            source,
        };
        let meta = file.metadata().map_err(io_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(LedgerError::KeyFilePermissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let corrupt = |reason| LedgerError::KeyFileCorrupt {
            path: path.to_owned(),
            reason,
        };
        if meta.len() > MAX_KEY_FILE_LEN {
            return Err(corrupt("file is too large to be a key"));
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes).map_err(io_err)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| corrupt("not UTF-8 text"))?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let rest = text
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or_else(|| corrupt("missing PRIVATE+KEY+ prefix"))?;
        // Only the first two '+' separate fields: base64 itself may contain '+'.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt("expected PRIVATE+KEY+<name>+<key id>+<key>"));
        };
        if !valid_key_name(name) {
            return Err(corrupt("invalid key name"));
        }
        let id = parse_key_id(id_hex).ok_or_else(|| corrupt("invalid key ID"))?;
        let raw = Zeroizing::new(
            B64.decode(key_b64)
                .map_err(|_| corrupt("key is not valid base64"))?,
        );
        let (alg, seed) = raw.split_first().ok_or_else(|| corrupt("key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(corrupt("unsupported signature type"));
        }
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| corrupt("Ed25519 key must be 32 bytes"))?,
        );
        let signer = Self::from_key(name.to_owned(), SigningKey::from_bytes(&seed));
        if signer.key_id != id {
            return Err(corrupt("key ID does not match the key"));
        }
        Ok(signer)
    }

    /// The key name used in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public verification key, to be pinned by whoever verifies the log.
    pub fn verifier(&self) -> LedgerVerifier {
        LedgerVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs an arbitrary note text and returns the complete signed note.
    ///
    /// The text must be non-empty, end in a newline, contain no control characters other than
    /// newlines and fit the note size limit. Checkpoints are signed with [`Checkpoint::sign`].
    pub fn sign_note(&self, text: &str) -> Result<String, LedgerError> {
        if text.is_empty() || !text.ends_with('\n') {
            return Err(LedgerError::MalformedNote(
                "note text must be non-empty and end with a newline",
            ));
        }
        if text.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(LedgerError::MalformedNote(
                "note contains control characters",
            ));
        }
        if text.len() > MAX_NOTE_LEN / 2 {
            return Err(LedgerError::MalformedNote("note is too large"));
        }
        Ok(self.sign_text(text))
    }

    /// Signs `text` (which must end in a newline) and returns the complete signed note.
    fn sign_text(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(4 + 64);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&sig.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(raw))
    }
}

/// Best effort: makes a newly created directory entry durable. Some file systems refuse to
/// fsync directories; the file's own data is already synced, so that is not an error.
pub(crate) fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn parse_key_id(s: &str) -> Option<[u8; 4]> {
    if s.len() != 8 {
        return None;
    }
    let mut id = [0u8; 4];
    hex::decode_to_slice(s, &mut id).ok()?;
    Some(id)
}

/// Public verification key of the ledger.
///
/// Its text form is the C2SP signed-note verifier key `<name>+<8 hex key ID>+<base64(0x01 || key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl LedgerVerifier {
    /// Parses a verifier key; checks the name, the signature type, the key and that the key ID
    /// matches the name and key.
    pub fn parse(vkey: &str) -> Result<Self, LedgerError> {
        // Only the first two '+' separate fields: base64 itself may contain '+'.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LedgerError::InvalidVerifierKey(
                "expected <name>+<key id>+<key>",
            ));
        };
        if !valid_key_name(name) {
            return Err(LedgerError::InvalidKeyName);
        }
        let id = parse_key_id(id_hex).ok_or(LedgerError::InvalidVerifierKey(
            "key ID is not 8 hex digits",
        ))?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| LedgerError::InvalidVerifierKey("key is not valid base64"))?;
        let (alg, key) = raw
            .split_first()
            .ok_or(LedgerError::InvalidVerifierKey("key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(LedgerError::InvalidVerifierKey(
                "unsupported signature type (only Ed25519 is accepted)",
            ));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| LedgerError::InvalidVerifierKey("Ed25519 key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| LedgerError::InvalidVerifierKey("not a valid Ed25519 public key"))?;
        if key.is_weak() {
            return Err(LedgerError::InvalidVerifierKey(
                "weak Ed25519 public key (small order)",
            ));
        }
        if key_id(name, &key) != id {
            return Err(LedgerError::InvalidVerifierKey(
                "key ID does not match the name and key",
            ));
        }
        Ok(LedgerVerifier {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The verifier key text, `<name>+<key id>+<base64 key>`.
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID, as it appears at the start of each signature.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// Verifies a signed note and returns its text (including the final newline).
    ///
    /// Follows c2sp.org/signed-note: signatures by other keys are ignored, a signature by this
    /// key that fails to verify rejects the note, and a note without a valid signature by this
    /// key is rejected.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, LedgerError> {
        let parsed = parse_note(note)?;
        let mut verified = false;
        for sig in &parsed.signatures {
            if sig.name != self.name || sig.key_id != self.key_id {
                continue;
            }
            if verified {
                return Err(LedgerError::MalformedNote("two signatures by the same key"));
            }
            let signature =
                Signature::from_slice(&sig.signature).map_err(|_| LedgerError::BadSignature)?;
            self.key
                .verify_strict(parsed.text.as_bytes(), &signature)
                .map_err(|_| LedgerError::BadSignature)?;
            verified = true;
        }
        if verified {
            Ok(parsed.text)
        } else {
            Err(LedgerError::NoTrustedSignature)
        }
    }
}

/// A signed note split into text and signature lines, signatures not yet verified.
pub(crate) struct ParsedNote<'a> {
    pub(crate) text: &'a str,
    pub(crate) signatures: Vec<SignatureLine<'a>>,
}

/// One `— <name> <base64>` line.
pub(crate) struct SignatureLine<'a> {
    pub(crate) name: &'a str,
    pub(crate) key_id: [u8; 4],
    pub(crate) signature: Vec<u8>,
}

/// Parses the structure of a signed note without verifying anything.
pub(crate) fn parse_note(note: &str) -> Result<ParsedNote<'_>, LedgerError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(LedgerError::MalformedNote("note is too large"));
    }
    if note.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(LedgerError::MalformedNote(
            "note contains control characters",
        ));
    }
    if !note.ends_with('\n') {
        return Err(LedgerError::MalformedNote(
            "note does not end with a newline",
        ));
    }
    // The text is separated from the signatures by the last blank line.
    let split = note.rfind("\n\n").ok_or(LedgerError::MalformedNote(
        "no blank line before the signatures",
    ))?;
    let text = &note[..split + 1];
    let block = &note[split + 2..];
    let Some(block) = block.strip_suffix('\n') else {
        return Err(LedgerError::MalformedNote("no signature lines"));
    };
    let mut signatures = Vec::new();
    for line in block.split('\n') {
        if signatures.len() == MAX_SIGNATURES {
            return Err(LedgerError::MalformedNote("too many signatures"));
        }
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or(LedgerError::MalformedNote(
                "signature line does not start with an em dash and a space",
            ))?;
        let (name, b64) = rest.split_once(' ').ok_or(LedgerError::MalformedNote(
            "signature line has no key name and signature",
        ))?;
        if !valid_key_name(name) {
            return Err(LedgerError::MalformedNote(
                "signature line has an invalid key name",
            ));
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| LedgerError::MalformedNote("signature is not valid base64"))?;
        if raw.len() < 5 {
            return Err(LedgerError::MalformedNote("signature is too short"));
        }
        signatures.push(SignatureLine {
            name,
            key_id: [raw[0], raw[1], raw[2], raw[3]],
            signature: raw[4..].to_vec(),
        });
    }
    Ok(ParsedNote { text, signatures })
}

/// A C2SP tlog-checkpoint: the log's origin, tree size and root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identifier of the log (first line of the note).
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// RFC 9162 root of the first `size` entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Signs the checkpoint and returns the whole signed note.
    ///
    /// The origin must be non-empty and contain no control characters (line breaks included);
    /// a note signed with such an origin is refused by [`Checkpoint::open`]. Use
    /// [`Checkpoint::try_sign`] to be told at signing time.
    pub fn sign(&self, signer: &LedgerSigner) -> String {
        signer.sign_text(&self.body())
    }

    /// Like [`Checkpoint::sign`], but rejects an invalid origin.
    pub fn try_sign(&self, signer: &LedgerSigner) -> Result<String, LedgerError> {
        if self.origin.is_empty() || self.origin.chars().any(char::is_control) {
            return Err(LedgerError::MalformedCheckpoint(
                "origin must be non-empty and contain no control characters",
            ));
        }
        Ok(self.sign(signer))
    }

    /// Verifies the note's signature with the pinned verifier, then parses the checkpoint.
    ///
    /// Checkpoints with extension lines are refused: this ledger never writes them.
    pub fn open(note: &str, verifier: &LedgerVerifier) -> Result<Checkpoint, LedgerError> {
        let text = verifier.open_note(note)?;
        parse_body(text)
    }

    /// Parses a note's checkpoint without verifying any signature. Only for diagnostics, e.g.
    /// naming the size claimed by a note whose signature is bad; never trust the result.
    pub fn parse_unverified(note: &str) -> Result<Checkpoint, LedgerError> {
        parse_body(parse_note(note)?.text)
    }
}

fn parse_body(text: &str) -> Result<Checkpoint, LedgerError> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = body.split('\n');
    let (Some(origin), Some(size_line), Some(root_line)) =
        (lines.next(), lines.next(), lines.next())
    else {
        return Err(LedgerError::MalformedCheckpoint("fewer than three lines"));
    };
    if lines.next().is_some() {
        return Err(LedgerError::MalformedCheckpoint(
            "extension lines are not supported",
        ));
    }
    if origin.is_empty() {
        return Err(LedgerError::MalformedCheckpoint("empty origin line"));
    }
    let canonical_size = !size_line.is_empty()
        && size_line.bytes().all(|b| b.is_ascii_digit())
        && (size_line == "0" || !size_line.starts_with('0'));
    let size: u64 = if canonical_size {
        size_line.parse().ok()
    } else {
        None
    }
    .ok_or(LedgerError::MalformedCheckpoint(
        "tree size is not a canonical decimal number",
    ))?;
    let raw = B64
        .decode(root_line)
        .map_err(|_| LedgerError::MalformedCheckpoint("root hash is not valid base64"))?;
    let root: Hash = raw
        .as_slice()
        .try_into()
        .map_err(|_| LedgerError::MalformedCheckpoint("root hash is not 32 bytes"))?;
    // The base64 decoder tolerates no padding errors, but re-encoding also pins the exact text.
    if B64.encode(root) != root_line {
        return Err(LedgerError::MalformedCheckpoint(
            "root hash is not canonical base64",
        ));
    }
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}
