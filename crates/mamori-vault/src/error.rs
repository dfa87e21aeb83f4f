//! The one error type of the vault.
//!
//! Every message names a key-file path, an environment variable, a master-key id, an owner id or a
//! field *place* (table and column) — never a decrypted value, a key or a password.

use std::io;
use std::path::PathBuf;

/// Errors from the key ring, data keys and password hashing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The key file does not exist.
    #[error("key file {} does not exist", .0.display())]
    KeyFileMissing(PathBuf),

    /// `init` found a file already in place and will not overwrite it.
    #[error("key file {} already exists; refusing to overwrite it", .0.display())]
    KeyFileExists(PathBuf),

    /// The key file grants access to group or others.
    #[error(
        "key file {} has mode {mode:03o}, which lets group or others access it; \
         run `chmod 600` on it",
        .path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key file exists but cannot be opened or read.
    #[error("key file {} cannot be read: {source}", .path.display())]
    KeyFileUnreadable {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },

    /// The file was read but is not a valid mamori key file.
    #[error("{} is not a usable mamori key file: {reason}", .path.display())]
    NotAKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (never quotes its content).
        reason: String,
    },

    /// An environment variable was expected to hold key-file contents but does not.
    #[error("environment variable {var} does not hold a usable mamori key file: {reason}")]
    EnvNotAKeyFile {
        /// The variable name.
        var: String,
        /// What is wrong with it (never quotes its content).
        reason: String,
    },

    /// Both `<VAR>` and `<VAR>_FILE` are set.
    #[error("both {0} and {0}_FILE are set; set only one of them")]
    BothEnvAndFile(String),

    /// Another I/O failure while creating or rewriting a key file.
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Random,

    /// The wrapped data key names a master key that is in the ring, but it does not open: the ring
    /// holds a different key under that id, the owner does not match, or the bytes were altered.
    #[error(
        "the wrapped data key of {owner} does not open under master key {master_key_id}: \
         wrong key file, wrong owner, or altered wrapped key"
    )]
    WrongMasterKey {
        /// The owner the caller asked for (e.g. `customer:42`).
        owner: String,
        /// The master key id the wrapped key names.
        master_key_id: String,
    },

    /// The wrapped data key (or a request) names a master key that is not in the key file.
    #[error(
        "master key {0} is not in the key file (wrong key file, or the key was retired \
         while data was still wrapped by it)"
    )]
    UnknownMasterKey(String),

    /// `retire` was asked to drop the active master key.
    #[error("master key {0} is the active key and cannot be retired; rotate first")]
    RetireActiveKey(String),

    /// A field did not decrypt: wrong data key, moved to another place, or altered.
    #[error(
        "field {table}.{column} cannot be decrypted: wrong data key, ciphertext from another \
         row or column, or altered ciphertext"
    )]
    Decrypt {
        /// Table of the field.
        table: String,
        /// Column of the field.
        column: String,
    },

    /// A sealed field is structurally broken (too short, unknown format version).
    #[error("field {table}.{column} holds a corrupt sealed value: {what}")]
    FieldCorrupt {
        /// Table of the field.
        table: String,
        /// Column of the field.
        column: String,
        /// What is wrong.
        what: &'static str,
    },

    /// A field decrypted but was expected to be text and is not UTF-8.
    #[error("field {table}.{column} decrypted but is not UTF-8 text")]
    NotUtf8 {
        /// Table of the field.
        table: String,
        /// Column of the field.
        column: String,
    },

    /// A wrapped key or other vault structure is malformed.
    #[error("corrupt {what}")]
    Corrupt {
        /// What is malformed.
        what: &'static str,
    },

    /// The AEAD refused to encrypt (only possible for absurdly large inputs).
    #[error("encryption failed")]
    Encrypt,

    /// Argon2 or the PHC string parser failed (bad parameters or a malformed stored hash).
    #[error("password hashing failed: {0}")]
    PasswordHash(argon2::password_hash::Error),
}
