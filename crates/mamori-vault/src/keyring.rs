//! The key ring: master keys, pepper and blind-index key, held in a key file outside the database.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::datakey::{DataKey, WrappedKey};
use crate::password::PasswordParams;
use crate::primitives::{self, OpenError, KEY_LEN};
use crate::VaultError;

/// Value of the `format` field of a key file.
const FILE_FORMAT: &str = "mamori-keyring";
/// Current key-file layout version.
const FILE_VERSION: u32 = 1;
/// A key file is a few hundred bytes per master key; anything this large is not one.
const MAX_FILE_LEN: u64 = 1 << 20;
/// Written into every key file for the operator who opens it.
const FILE_NOTE: &str = "mamori key file. Keep it outside the database and its backups, \
mode 0600. Back it up separately: without it every customer's personal data is unreadable.";

/// Message the master key id is the HMAC of; the id is a fingerprint, so two different keys never
/// share an id by accident and a mismatching key file is recognised before any decryption.
const MASTER_KEY_ID_LABEL: &[u8] = b"mamori master key id";
/// Format byte of wrapped data keys.
const WRAP_VERSION: u8 = 1;
/// Domain label of the associated data of wrapped data keys.
const WRAP_DOMAIN: &[u8] = b"mamori/wrap/v1";
/// Domain label of blind indexes.
const BLIND_INDEX_DOMAIN: &[u8] = b"mamori/blind-index/v1";
/// HKDF salt for system data keys.
const SYSTEM_KEY_SALT: &[u8] = b"mamori/system-data-key/v1";

struct MasterKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
    created_unix: u64,
}

impl MasterKey {
    fn generate() -> Result<Self, VaultError> {
        let key = primitives::random_array::<KEY_LEN>()?;
        Ok(Self {
            id: master_key_id(&key),
            key,
            created_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        })
    }
}

/// `mk-` + 16 hex digits of HMAC-SHA256(key, "mamori master key id").
fn master_key_id(key: &[u8; KEY_LEN]) -> String {
    // Unframed on purpose: the id definition is a fixed public formula that other tools may
    // recompute from a key.
    use hmac::{Hmac, Mac};
    let mut block_key = Zeroizing::new([0u8; 64]);
    block_key[..KEY_LEN].copy_from_slice(key);
    // Same zero-padding argument as `primitives::hmac_sha256`: this is HMAC keyed by `key`.
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(block_key.as_ref().into());
    mac.update(MASTER_KEY_ID_LABEL);
    let tag = mac.finalize().into_bytes();
    format!("mk-{}", hex::encode(&tag[..8]))
}

/// The key file and the operations that need its secrets.
///
/// Holds every master key (the active one wraps new data keys, older ones still unwrap), the
/// Argon2 pepper and the blind-index key. `Debug` prints only master key ids and parameters.
/// Secret bytes are zeroized on drop. Share it across threads behind an `Arc`.
pub struct KeyRing {
    master_keys: Vec<MasterKey>,
    active: usize,
    pub(crate) pepper: Zeroizing<[u8; KEY_LEN]>,
    blind_index_key: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) password_params: PasswordParams,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active_master_key_id", &self.active_master_key_id())
            .field("master_key_ids", &self.master_key_ids())
            .field("password_params", &self.password_params)
            .finish_non_exhaustive()
    }
}

/// On-disk layout. Every string field that holds a secret is zeroized when the document drops.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct KeyFileDoc {
    #[serde(default)]
    note: String,
    format: String,
    version: u32,
    active_master_key: String,
    master_keys: Vec<MasterKeyDoc>,
    pepper: String,
    blind_index_key: String,
}

#[derive(Serialize, Deserialize, Zeroize)]
#[serde(deny_unknown_fields)]
struct MasterKeyDoc {
    id: String,
    key: String,
    #[serde(default)]
    created_unix: u64,
}

/// Decodes a base64 field into a 32-byte key. The reason names the field, never its content.
fn decode_key(field: &str, value: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, String> {
    // Decoded into a roomy buffer because base64's slice decoder rejects outputs shorter than its
    // conservative estimate; the exact length is checked afterwards.
    let mut buf = Zeroizing::new([0u8; KEY_LEN + 16]);
    let n = BASE64
        .decode_slice(value.trim(), buf.as_mut())
        .map_err(|_| format!("field `{field}` is not valid base64"))?;
    if n != KEY_LEN {
        return Err(format!("field `{field}` must decode to {KEY_LEN} bytes"));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&buf[..KEY_LEN]);
    Ok(key)
}

/// Describes a JSON error by category and position only: serde_json messages can quote the
/// offending value, which here would be key material.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "I/O error",
        Category::Syntax => "not valid JSON",
        Category::Data => {
            "JSON does not have the key-file layout (missing, unknown or mistyped field)"
        }
        Category::Eof => "JSON ends early",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

/// Where a key file came from, for error messages.
enum Source<'a> {
    File(&'a Path),
    Env(&'a str),
}

impl Source<'_> {
    fn not_a_key_file(&self, reason: String) -> VaultError {
        match self {
            Source::File(path) => VaultError::NotAKeyFile {
                path: path.to_path_buf(),
                reason,
            },
            Source::Env(var) => VaultError::EnvNotAKeyFile {
                var: (*var).to_owned(),
                reason,
            },
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> VaultError + '_ {
    move |source| VaultError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How [`write_atomically`] treats an existing file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overwrite {
    Refuse,
    Replace,
}

/// Writes `bytes` to `path` via a 0600 temporary file in the same directory, fsync, then rename
/// (or a no-clobber link for `Overwrite::Refuse`), then fsyncs the directory. A crash leaves
/// either the old file or the new one, never a torn file.
fn write_atomically(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), VaultError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".mamori-keyfile-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_error(dir))?;
    #[cfg(unix)]
    {
        // tempfile already creates 0600 files; set it explicitly so the guarantee does not
        // depend on that default.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_error(tmp.path()))?;
    }
    tmp.write_all(bytes).map_err(io_error(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_error(tmp.path()))?;
    match overwrite {
        Overwrite::Replace => tmp.persist(path).map(|_| ()).map_err(|e| VaultError::Io {
            path: path.to_path_buf(),
            source: e.error,
        })?,
        Overwrite::Refuse => tmp.persist_noclobber(path).map(|_| ()).map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                VaultError::KeyFileExists(path.to_path_buf())
            } else {
                VaultError::Io {
                    path: path.to_path_buf(),
                    source: e.error,
                }
            }
        })?,
    }
    #[cfg(unix)]
    {
        // Makes the rename itself durable.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
    }
    Ok(())
}

/// Creates missing parent directories, 0700 on Unix so the key file's directory is private too.
fn create_parent_dirs(path: &Path) -> Result<(), VaultError> {
    let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))
}

impl KeyRing {
    /// A new ring with one fresh master key, pepper and blind-index key, held only in memory.
    ///
    /// For tests and tools: nothing is written, so whatever it encrypts is lost when it drops.
    /// Production code uses [`KeyRing::init`] / [`KeyRing::load`].
    pub fn generate() -> Result<KeyRing, VaultError> {
        Ok(KeyRing {
            master_keys: vec![MasterKey::generate()?],
            active: 0,
            pepper: primitives::random_array::<KEY_LEN>()?,
            blind_index_key: primitives::random_array::<KEY_LEN>()?,
            password_params: PasswordParams::default(),
        })
    }

    /// Creates a new key file at `path` (mode 0600, missing parent directories created 0700) and
    /// returns its ring. Refuses to overwrite an existing file.
    pub fn init(path: &Path) -> Result<KeyRing, VaultError> {
        if fs::symlink_metadata(path).is_ok() {
            return Err(VaultError::KeyFileExists(path.to_path_buf()));
        }
        create_parent_dirs(path)?;
        let ring = KeyRing::generate()?;
        write_atomically(path, &ring.to_json()?, Overwrite::Refuse)?;
        Ok(ring)
    }

    /// Loads a key file.
    ///
    /// On Unix a file that grants any access to group or others is refused with
    /// [`VaultError::KeyFilePermissions`]. Other failures: [`VaultError::KeyFileMissing`],
    /// [`VaultError::KeyFileUnreadable`], [`VaultError::NotAKeyFile`].
    pub fn load(path: &Path) -> Result<KeyRing, VaultError> {
        let unreadable = |source| VaultError::KeyFileUnreadable {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                VaultError::KeyFileMissing(path.to_path_buf())
            } else {
                unreadable(e)
            }
        })?;
        // Checked on the open handle, so the file that is checked is the file that is read.
        let meta = file.metadata().map_err(unreadable)?;
        let source = Source::File(path);
        if !meta.is_file() {
            return Err(source.not_a_key_file("not a regular file".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(VaultError::KeyFilePermissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        if meta.len() > MAX_FILE_LEN {
            return Err(source.not_a_key_file("file is too large".into()));
        }
        let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
        let mut raw = Zeroizing::new(Vec::with_capacity(capacity));
        file.take(MAX_FILE_LEN + 1)
            .read_to_end(&mut raw)
            .map_err(unreadable)?;
        Self::parse(&raw, &source)
    }

    /// Reads the ring from the environment, vaultwarden style: `<var>` holds the key-file contents,
    /// or `<var>_FILE` names the key file (loaded with [`KeyRing::load`], permission check
    /// included). Both set is an error; neither set is `Ok(None)`. An empty value counts as unset.
    ///
    /// Prefer `<var>_FILE`: environment contents are inherited by child processes and readable
    /// through the process table by the same user.
    pub fn from_env(var: &str) -> Result<Option<KeyRing>, VaultError> {
        let direct = std::env::var_os(var).filter(|v| !v.is_empty());
        let file = std::env::var_os(format!("{var}_FILE")).filter(|v| !v.is_empty());
        match (direct, file) {
            (Some(_), Some(_)) => Err(VaultError::BothEnvAndFile(var.to_owned())),
            (None, None) => Ok(None),
            (None, Some(path)) => KeyRing::load(Path::new(&path)).map(Some),
            (Some(value), None) => {
                let source = Source::Env(var);
                let text = Zeroizing::new(
                    value
                        .into_string()
                        .map_err(|_| source.not_a_key_file("value is not UTF-8".into()))?,
                );
                Self::parse(text.as_bytes(), &source).map(Some)
            }
        }
    }

    /// Adds a new master key to the file at `path` and makes it active; older keys stay so that
    /// existing wrapped keys still unwrap (move them with [`KeyRing::rewrap`]). The file is
    /// rewritten atomically and stays 0600.
    ///
    /// Not safe against a concurrent `rotate`/`retire` on the same file: run it as a single
    /// operator action.
    pub fn rotate(path: &Path) -> Result<KeyRing, VaultError> {
        let mut ring = KeyRing::load(path)?;
        ring.master_keys.push(MasterKey::generate()?);
        ring.active = ring.master_keys.len() - 1;
        write_atomically(path, &ring.to_json()?, Overwrite::Replace)?;
        Ok(ring)
    }

    /// Removes a non-active master key from the file at `path` (atomic rewrite, stays 0600).
    ///
    /// The caller must first make sure nothing is still wrapped by it (every wrapped key
    /// rewrapped): anything left becomes unreadable for good.
    pub fn retire(path: &Path, master_key_id: &str) -> Result<KeyRing, VaultError> {
        let mut ring = KeyRing::load(path)?;
        let index = ring
            .master_key_index(master_key_id)
            .ok_or_else(|| VaultError::UnknownMasterKey(master_key_id.to_owned()))?;
        if index == ring.active {
            return Err(VaultError::RetireActiveKey(master_key_id.to_owned()));
        }
        ring.master_keys.remove(index);
        if index < ring.active {
            ring.active -= 1;
        }
        write_atomically(path, &ring.to_json()?, Overwrite::Replace)?;
        Ok(ring)
    }

    fn parse(raw: &[u8], source: &Source<'_>) -> Result<KeyRing, VaultError> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| source.not_a_key_file("content is not UTF-8".into()))?;
        let doc: KeyFileDoc = serde_json::from_str(text)
            .map_err(|e| source.not_a_key_file(describe_json_error(&e)))?;
        Self::from_doc(&doc).map_err(|reason| source.not_a_key_file(reason))
    }

    fn from_doc(doc: &KeyFileDoc) -> Result<KeyRing, String> {
        if doc.format != FILE_FORMAT {
            return Err(format!("field `format` is not \"{FILE_FORMAT}\""));
        }
        if doc.version != FILE_VERSION {
            return Err(format!(
                "unsupported key-file version {} (this build reads {FILE_VERSION})",
                doc.version
            ));
        }
        if doc.master_keys.is_empty() {
            return Err("no master keys".into());
        }
        let mut master_keys: Vec<MasterKey> = Vec::with_capacity(doc.master_keys.len());
        for (i, entry) in doc.master_keys.iter().enumerate() {
            let key = decode_key(&format!("master_keys[{i}].key"), &entry.key)?;
            let id = master_key_id(&key);
            if id != entry.id {
                return Err(format!(
                    "master_keys[{i}]: id does not match its key (altered or mixed-up key file)"
                ));
            }
            if master_keys.iter().any(|k| k.id == id) {
                return Err(format!("master key {id} appears twice"));
            }
            master_keys.push(MasterKey {
                id,
                key,
                created_unix: entry.created_unix,
            });
        }
        let active = master_keys
            .iter()
            .position(|k| k.id == doc.active_master_key)
            .ok_or_else(|| "`active_master_key` names no key in `master_keys`".to_string())?;
        Ok(KeyRing {
            master_keys,
            active,
            pepper: decode_key("pepper", &doc.pepper)?,
            blind_index_key: decode_key("blind_index_key", &doc.blind_index_key)?,
            password_params: PasswordParams::default(),
        })
    }

    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let doc = KeyFileDoc {
            note: FILE_NOTE.to_owned(),
            format: FILE_FORMAT.to_owned(),
            version: FILE_VERSION,
            active_master_key: self.active_master_key_id().to_owned(),
            master_keys: self
                .master_keys
                .iter()
                .map(|k| MasterKeyDoc {
                    id: k.id.clone(),
                    key: BASE64.encode(k.key.as_ref()),
                    created_unix: k.created_unix,
                })
                .collect(),
            pepper: BASE64.encode(self.pepper.as_ref()),
            blind_index_key: BASE64.encode(self.blind_index_key.as_ref()),
        };
        // Sized up front so the serialiser does not reallocate and leave key material behind in
        // freed buffers.
        let mut out = Zeroizing::new(Vec::with_capacity(2048 + 256 * self.master_keys.len()));
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(|_| VaultError::Corrupt {
            what: "key ring (cannot serialise)",
        })?;
        out.push(b'\n');
        Ok(out)
    }

    fn master_key_index(&self, id: &str) -> Option<usize> {
        self.master_keys.iter().position(|k| k.id == id)
    }

    fn active_key(&self) -> &MasterKey {
        // `active` is an index into `master_keys`, maintained by every constructor and mutator.
        &self.master_keys[self.active]
    }

    /// Id of the master key that wraps new data keys.
    pub fn active_master_key_id(&self) -> &str {
        &self.active_key().id
    }

    /// Ids of all master keys in the file, oldest first.
    pub fn master_key_ids(&self) -> Vec<String> {
        self.master_keys.iter().map(|k| k.id.clone()).collect()
    }

    /// A fresh random data key for `owner` (e.g. `customer:42`) and its wrapped form under the
    /// active master key. The wrap's associated data binds the owner and the master key id, so a
    /// wrapped key copied to another owner does not unwrap.
    pub fn new_data_key(&self, owner: &str) -> Result<(DataKey, WrappedKey), VaultError> {
        let key = DataKey::generate()?;
        let wrapped = self.wrap(self.active_key(), owner, &key)?;
        Ok((key, wrapped))
    }

    fn wrap(
        &self,
        master: &MasterKey,
        owner: &str,
        key: &DataKey,
    ) -> Result<WrappedKey, VaultError> {
        let id = key.key_id().as_bytes();
        let id_len = u8::try_from(id.len()).map_err(|_| VaultError::Corrupt {
            what: "data key id too long",
        })?;
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + id.len() + KEY_LEN));
        plain.push(id_len);
        plain.extend_from_slice(id);
        plain.extend_from_slice(key.key_bytes());
        let aad = wrap_aad(owner, &master.id);
        let sealed = primitives::seal(&master.key, WRAP_VERSION, &aad, &plain)?;
        Ok(WrappedKey {
            master_key_id: master.id.clone(),
            sealed,
        })
    }

    /// Unwraps a data key of `owner`.
    ///
    /// Errors: [`VaultError::UnknownMasterKey`] when the wrapping master key is not in this file
    /// (other key file, or retired); [`VaultError::WrongMasterKey`] when it is but the wrap does
    /// not authenticate (wrong owner or altered); [`VaultError::Corrupt`] when the bytes are
    /// malformed.
    pub fn unwrap_data_key(
        &self,
        owner: &str,
        wrapped: &WrappedKey,
    ) -> Result<DataKey, VaultError> {
        let master = self
            .master_key_index(&wrapped.master_key_id)
            .map(|i| &self.master_keys[i])
            .ok_or_else(|| VaultError::UnknownMasterKey(wrapped.master_key_id.clone()))?;
        let aad = wrap_aad(owner, &master.id);
        let plain = primitives::open(&master.key, WRAP_VERSION, &aad, &wrapped.sealed).map_err(
            |e| match e {
                OpenError::Auth => VaultError::WrongMasterKey {
                    owner: owner.to_owned(),
                    master_key_id: master.id.clone(),
                },
                OpenError::Malformed(_) => VaultError::Corrupt {
                    what: "wrapped data key",
                },
            },
        )?;
        let corrupt = || VaultError::Corrupt {
            what: "wrapped data key content",
        };
        let (&id_len, rest) = plain.split_first().ok_or_else(corrupt)?;
        let id_len = usize::from(id_len);
        if rest.len() != id_len + KEY_LEN {
            return Err(corrupt());
        }
        let (id, key_bytes) = rest.split_at(id_len);
        let id = std::str::from_utf8(id).map_err(|_| corrupt())?.to_owned();
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(key_bytes);
        Ok(DataKey::from_parts(id, key))
    }

    /// Re-wraps a data key of `owner` under the active master key (after [`KeyRing::rotate`]).
    /// The data key and its id are unchanged, so sealed fields need no re-encryption.
    pub fn rewrap(&self, owner: &str, wrapped: &WrappedKey) -> Result<WrappedKey, VaultError> {
        let key = self.unwrap_data_key(owner, wrapped)?;
        self.wrap(self.active_key(), owner, &key)
    }

    /// Keyed HMAC-SHA256 blind index for exact-match lookups (email at login, uniqueness checks).
    ///
    /// `purpose` separates domains (e.g. `customer.email`); the caller passes an already
    /// normalised value. Deterministic for one key file, unrelated across key files. It reveals
    /// equality: two rows with the same value have the same index.
    pub fn blind_index(&self, purpose: &str, normalised_value: &str) -> [u8; 32] {
        primitives::hmac_sha256(
            &self.blind_index_key,
            &[
                BLIND_INDEX_DOMAIN,
                purpose.as_bytes(),
                normalised_value.as_bytes(),
            ],
        )
    }

    /// A key for the shop's own secrets that belong to no customer (e.g. staff TOTP secrets),
    /// derived with HKDF-SHA256 from the active master key and `purpose`.
    ///
    /// Store [`KeyRing::active_master_key_id`] next to what it seals: after a rotation, open old
    /// values with [`KeyRing::system_data_key_under`] and re-seal them with this one. Its key id
    /// is `sys:<master key id>:<purpose>`.
    pub fn system_data_key(&self, purpose: &str) -> Result<DataKey, VaultError> {
        derive_system_key(self.active_key(), purpose)
    }

    /// Like [`KeyRing::system_data_key`] but derived from a given (possibly older) master key.
    pub fn system_data_key_under(
        &self,
        purpose: &str,
        master_key_id: &str,
    ) -> Result<DataKey, VaultError> {
        let master = self
            .master_key_index(master_key_id)
            .map(|i| &self.master_keys[i])
            .ok_or_else(|| VaultError::UnknownMasterKey(master_key_id.to_owned()))?;
        derive_system_key(master, purpose)
    }
}

fn wrap_aad(owner: &str, master_key_id: &str) -> Vec<u8> {
    primitives::associated_data(WRAP_DOMAIN, &[owner.as_bytes(), master_key_id.as_bytes()])
}

fn derive_system_key(master: &MasterKey, purpose: &str) -> Result<DataKey, VaultError> {
    let hk = Hkdf::<Sha256>::new(Some(SYSTEM_KEY_SALT), master.key.as_ref());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand(purpose.as_bytes(), key.as_mut())
        .map_err(|_| VaultError::Corrupt {
            what: "system key derivation",
        })?;
    Ok(DataKey::from_parts(
        format!("sys:{}:{purpose}", master.id),
        key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    #[test]
    fn master_key_id_is_the_documented_fingerprint() {
        let key = [0x42u8; KEY_LEN];
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"mamori master key id");
        let expected = format!("mk-{}", hex::encode(&mac.finalize().into_bytes()[..8]));
        assert_eq!(master_key_id(&key), expected);
        assert_ne!(master_key_id(&[0x43u8; KEY_LEN]), expected);
    }
}
