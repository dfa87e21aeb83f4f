//! The shop's own files: a signed baseline of what `mamori` runs from, and a watch that raises an
//! alert within a second of a change and closes card payment when the change touches payment.
//!
//! What is watched ([`WatchSpec`]): the binary and the configuration file by content (SHA-256)
//! and permissions; the key files and the witness file by permissions only (their content
//! changes legitimately: rotation, checkpoints); asset and template directories served from
//! disk, every file in them by content and permissions, and files added to them.
//!
//! The baseline ([`Baseline`]) is JSON signed with Ed25519 under a key of its own (`guard.key`,
//! neither the master key nor the ledger key). A baseline that is missing, malformed, unsigned or
//! signed by another key is refused ([`GuardError::Baseline`]).
//!
//! A change that touches payment (the binary; the configuration's payment-provider URL, as the
//! configuration's own extractor reads it; a directory marked as the checkout's) closes the
//! `card_payment` switch before the alert is raised (fail closed). Only an owner's approval of a
//! new baseline ([`FileGuard::approve`]) reopens it: it writes the new baseline, reopens card
//! payment and closes the file alerts in one call.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use mamori_store::access::{AccessEvent, Accessor, Action};
use mamori_store::{switch_state, GuardSwitchRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::alert::{kinds, Alert, Alerts, GuardError, Severity, Subject};

/// The switch a payment-touching change closes.
pub const CARD_PAYMENT: &str = mamori_store::store::alerts::CARD_PAYMENT;

/// Domain separation of the baseline signature.
const SIGNING_CONTEXT: &[u8] = b"mamori-guard-baseline-v1\n";

/// What a watched path is to the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    /// The running binary.
    Binary,
    /// The configuration file.
    Config,
    /// A key file (permissions only).
    Key,
    /// The ledger's witness file (permissions only).
    Witness,
    /// A directory of assets served from disk.
    Assets,
    /// A directory of templates read from disk.
    Templates,
}

/// How a change to an item bears on payment.
#[derive(Clone, Copy, Debug)]
pub enum PaymentRule {
    /// It does not.
    No,
    /// Any change does (the binary, the checkout's assets).
    Any,
    /// A change does when this value, read from the file's bytes, changes (the configuration's
    /// payment-provider URL). `None` (unreadable) counts as a change: fail closed.
    Extract(fn(&[u8]) -> Option<String>),
}

/// How an item is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Content (SHA-256) and permissions.
    Content,
    /// Permissions only.
    ModeOnly,
    /// A directory: every file in it by content and permissions, and files added.
    Tree,
}

/// One watched path.
#[derive(Clone, Debug)]
pub struct WatchItem {
    /// The path (made absolute by [`WatchSpec::new`]'s caller).
    pub path: PathBuf,
    /// What it is.
    pub role: FileRole,
    /// How it is checked.
    pub check: Check,
    /// How it bears on payment.
    pub payment: PaymentRule,
}

/// Everything watched.
#[derive(Clone, Debug, Default)]
pub struct WatchSpec {
    /// The items.
    pub items: Vec<WatchItem>,
}

/// One file's recorded state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// What it is.
    pub role: FileRole,
    /// SHA-256 (hex) of the content, when content is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Whether a change to it touches payment.
    pub payment: bool,
    /// SHA-256 of the payment-relevant value, for a file with an extractor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_sha256: Option<String>,
}

/// The recorded state of every watched path: files by absolute path, and the watched
/// directories (a file under one that is not in `files` was added).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Format version (1).
    pub version: u32,
    /// When it was taken (Unix seconds).
    pub created_at: i64,
    /// Files.
    pub files: BTreeMap<String, FileEntry>,
    /// Watched directories and whether they are the checkout's.
    pub dirs: BTreeMap<String, bool>,
}

/// The signed file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedBaseline {
    /// The baseline's JSON, exactly as signed.
    baseline: String,
    /// Hex of the first 8 bytes of SHA-256 of the public key.
    key_id: String,
    /// Hex Ed25519 signature over the context and `baseline`.
    signature: String,
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> GuardError {
    move |source| GuardError::Io { what, source }
}

/// The baseline's own signing key (`guard.key`: the 32-byte seed in hex, mode 0600).
pub struct GuardKey {
    key: SigningKey,
}

impl std::fmt::Debug for GuardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardKey")
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl GuardKey {
    /// Creates a new key file at `path` (refused when it exists), mode 0600.
    pub fn create(path: &Path) -> Result<Self, GuardError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io("creating the guard key file"))?;
        let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(key.to_bytes())));
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io("writing the guard key file"))?;
        Ok(Self { key })
    }

    /// Reads the key file at `path`.
    pub fn load(path: &Path) -> Result<Self, GuardError> {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path).map_err(io("reading the guard key file"))?,
        );
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), seed.as_mut_slice())
            .map_err(|_| GuardError::Baseline("the guard key file is malformed"))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Loads the key at `path`, creating it first when there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, GuardError> {
        if path.exists() {
            Self::load(path)
        } else {
            Self::create(path)
        }
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Hex of the first 8 bytes of SHA-256 of the public key.
    pub fn key_id(&self) -> String {
        key_id(&self.verifying_key())
    }
}

fn key_id(vk: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(vk.as_bytes())[..8])
}

fn signed_message(baseline: &str) -> Vec<u8> {
    let mut m = SIGNING_CONTEXT.to_vec();
    m.extend_from_slice(baseline.as_bytes());
    m
}

impl Baseline {
    /// The state of every item of `spec` now (reads and hashes every file: run it off the async
    /// threads, e.g. in `spawn_blocking`).
    pub fn observe(spec: &WatchSpec) -> Self {
        Self::observe_with(spec, &mut HashCache::default(), Rehash::All)
    }

    /// [`Baseline::observe`] that keeps each file's digest in `cache` and, with
    /// [`Rehash::Changed`], reuses it for a file whose stamp (device, inode, size, modification
    /// and change times) is the one it had when hashed.
    pub fn observe_with(spec: &WatchSpec, cache: &mut HashCache, rehash: Rehash) -> Self {
        let mut b = Baseline {
            version: 1,
            created_at: chrono::Utc::now().timestamp(),
            ..Baseline::default()
        };
        let mut seen = HashCache::default();
        for item in &spec.items {
            observe_item(item, &mut b, cache, &mut seen, rehash);
        }
        // Only what is still watched stays (a removed file's stamp is dropped).
        *cache = seen;
        b
    }

    /// Writes the baseline signed with `key` to `path` (a temporary file renamed over it).
    pub fn write_signed(&self, key: &GuardKey, path: &Path) -> Result<(), GuardError> {
        let baseline = serde_json::to_string(self)
            .map_err(|_| GuardError::Baseline("the baseline could not be serialised"))?;
        let signature = key.key.sign(&signed_message(&baseline));
        let file = SignedBaseline {
            baseline,
            key_id: key.key_id(),
            signature: hex::encode(signature.to_bytes()),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|_| GuardError::Baseline("the baseline could not be serialised"))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text.as_bytes()).map_err(io("writing the baseline"))?;
        std::fs::rename(&tmp, path).map_err(io("replacing the baseline"))?;
        Ok(())
    }

    /// Reads the baseline at `path` and verifies its signature under `key`'s public half.
    pub fn read_verified(path: &Path, key: &GuardKey) -> Result<Self, GuardError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                GuardError::Baseline("there is no baseline (run `mamori guard baseline`)")
            } else {
                GuardError::Io {
                    what: "reading the baseline",
                    source: e,
                }
            }
        })?;
        let file: SignedBaseline = serde_json::from_str(&text)
            .map_err(|_| GuardError::Baseline("the baseline file is malformed or unsigned"))?;
        let vk = key.verifying_key();
        if file.key_id != key_id(&vk) {
            return Err(GuardError::Baseline(
                "the baseline is signed by another key",
            ));
        }
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&file.signature, &mut sig)
            .map_err(|_| GuardError::Baseline("the baseline's signature is malformed"))?;
        vk.verify(
            &signed_message(&file.baseline),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| GuardError::Baseline("the baseline's signature does not verify"))?;
        let b: Baseline = serde_json::from_str(&file.baseline)
            .map_err(|_| GuardError::Baseline("the signed baseline is malformed"))?;
        if b.version != 1 {
            return Err(GuardError::Baseline("unknown baseline version"));
        }
        Ok(b)
    }
}

fn path_key(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// Whether a check reads every file again or trusts the stamps of the files it hashed before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rehash {
    /// Hash every file (the periodic safety net, an approval, the baseline).
    All,
    /// Hash only the files whose stamp changed (a file event: a 300 MB binary is not read again
    /// because a script next to it changed).
    Changed,
}

/// What identifies a file's content without reading it: device, inode, size, and modification
/// and change times in nanoseconds. Writing a file moves its change time, which user space
/// cannot set back; the periodic [`Rehash::All`] covers the rest (a clock set back by root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Self {
        let ns = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128)
        };
        Self {
            dev: 0,
            ino: 0,
            size: meta.len(),
            mtime_ns: ns(meta.modified()),
            ctime_ns: ns(meta.created()),
        }
    }
}

/// The digests of the files a guard hashed, by path, with the stamp each had then.
#[derive(Debug, Default)]
pub struct HashCache(HashMap<PathBuf, Hashed>);

/// A file's digests and the stamp it had when they were taken.
#[derive(Clone, Debug)]
struct Hashed {
    stamp: Stamp,
    sha256: Option<String>,
    payment_sha256: Option<String>,
}

/// The entry of one file now; None when it cannot be read (gone).
fn entry_of(
    path: &Path,
    role: FileRole,
    check: Check,
    payment: PaymentRule,
    cache: &HashCache,
    seen: &mut HashCache,
    rehash: Rehash,
) -> Option<FileEntry> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mode = mode_of(&meta);
    let stamp = Stamp::of(&meta);
    if rehash == Rehash::Changed && !matches!(check, Check::ModeOnly) {
        if let Some(hashed) = cache.0.get(path).filter(|h| h.stamp == stamp) {
            seen.0.insert(path.to_path_buf(), hashed.clone());
            return Some(FileEntry {
                role,
                sha256: hashed.sha256.clone(),
                mode,
                payment: !matches!(payment, PaymentRule::No),
                payment_sha256: hashed.payment_sha256.clone(),
            });
        }
    }
    let (sha256, payment_sha256) = match check {
        Check::ModeOnly => (None, None),
        Check::Content | Check::Tree => {
            let sha = sha256_file(path).ok()?;
            let extracted = match payment {
                PaymentRule::Extract(f) => {
                    let bytes = std::fs::read(path).ok()?;
                    Some(match f(&bytes) {
                        Some(v) => hex::encode(Sha256::digest(v.as_bytes())),
                        None => "unreadable".to_owned(),
                    })
                }
                _ => None,
            };
            (Some(sha), extracted)
        }
    };
    if !matches!(check, Check::ModeOnly) {
        seen.0.insert(
            path.to_path_buf(),
            Hashed {
                stamp,
                sha256: sha256.clone(),
                payment_sha256: payment_sha256.clone(),
            },
        );
    }
    Some(FileEntry {
        role,
        sha256,
        mode,
        payment: !matches!(payment, PaymentRule::No),
        payment_sha256,
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

fn observe_item(
    item: &WatchItem,
    b: &mut Baseline,
    cache: &HashCache,
    seen: &mut HashCache,
    rehash: Rehash,
) {
    match item.check {
        Check::Tree => {
            b.dirs.insert(
                path_key(&item.path),
                !matches!(item.payment, PaymentRule::No),
            );
            let mut files = Vec::new();
            walk(&item.path, &mut files);
            for f in files {
                if let Some(e) = entry_of(
                    &f,
                    item.role,
                    Check::Tree,
                    item.payment,
                    cache,
                    seen,
                    rehash,
                ) {
                    b.files.insert(path_key(&f), e);
                }
            }
        }
        check => {
            if let Some(e) = entry_of(
                &item.path,
                item.role,
                check,
                item.payment,
                cache,
                seen,
                rehash,
            ) {
                b.files.insert(path_key(&item.path), e);
            }
        }
    }
}

/// One difference between the baseline and the disk.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Alert kind ([`kinds`]).
    pub kind: &'static str,
    /// The file.
    pub path: String,
    /// Whether it touches payment.
    pub payment: bool,
    /// Evidence (hashes, modes, role).
    pub evidence: serde_json::Value,
}

fn mode_text(m: u32) -> String {
    format!("{m:04o}")
}

/// The differences between `baseline` and `now`.
pub fn diff(baseline: &Baseline, now: &Baseline) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, want) in &baseline.files {
        match now.files.get(path) {
            None => out.push(Finding {
                kind: kinds::FILE_MISSING,
                path: path.clone(),
                payment: want.payment,
                evidence: json!({ "role": want.role, "expected_sha256": want.sha256 }),
            }),
            Some(got) => {
                if got.sha256 != want.sha256 {
                    // A file with an extractor touches payment only when its value changed.
                    let payment = match (&want.payment_sha256, &got.payment_sha256) {
                        (Some(a), Some(b)) => a != b,
                        _ => want.payment,
                    };
                    out.push(Finding {
                        kind: kinds::FILE_CHANGED,
                        path: path.clone(),
                        payment,
                        evidence: json!({
                            "role": want.role,
                            "expected_sha256": want.sha256,
                            "found_sha256": got.sha256,
                            "payment_value_changed": want.payment_sha256 != got.payment_sha256,
                        }),
                    });
                }
                if got.mode != want.mode {
                    out.push(Finding {
                        kind: kinds::FILE_MODE,
                        path: path.clone(),
                        payment: false,
                        evidence: json!({
                            "role": want.role,
                            "expected_mode": mode_text(want.mode),
                            "found_mode": mode_text(got.mode),
                        }),
                    });
                }
            }
        }
    }
    for (path, got) in &now.files {
        // A permissions-only file (a key, the witness) that was not there when the baseline was
        // taken (the witness appears with the first checkpoint) is not a finding: the next
        // baseline records it. Files by content and files in watched directories are.
        if !baseline.files.contains_key(path) && got.sha256.is_some() {
            out.push(Finding {
                kind: kinds::FILE_ADDED,
                path: path.clone(),
                payment: got.payment,
                evidence: json!({ "role": got.role, "found_sha256": got.sha256 }),
            });
        }
    }
    out
}

/// The watch over the shop's files, with the baseline in force. Shared (`Arc`) by the watcher
/// and the back office's approval.
pub struct FileGuard {
    spec: WatchSpec,
    baseline_path: PathBuf,
    key: GuardKey,
    alerts: Alerts,
    current: RwLock<Baseline>,
    /// Held by a check and by an approval, one at a time: a check that began before an approval
    /// would otherwise compare with the old baseline and raise again what was just approved.
    busy: tokio::sync::Mutex<()>,
    /// The digests of the last check, for a file event's check (taken and put back under `busy`).
    hashes: std::sync::Mutex<HashCache>,
}

impl std::fmt::Debug for FileGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileGuard")
            .field("items", &self.spec.items.len())
            .finish()
    }
}

impl FileGuard {
    /// The guard over `spec` with the baseline at `baseline_path` verified under `key`. A
    /// baseline that does not verify is refused (the caller raises it and closes payment with
    /// [`FileGuard::refuse_baseline`]).
    pub fn open(
        spec: WatchSpec,
        baseline_path: PathBuf,
        key: GuardKey,
        alerts: Alerts,
    ) -> Result<Self, GuardError> {
        let current = Baseline::read_verified(&baseline_path, &key)?;
        Ok(Self {
            spec,
            baseline_path,
            key,
            alerts,
            current: RwLock::new(current),
            busy: tokio::sync::Mutex::new(()),
            hashes: std::sync::Mutex::new(HashCache::default()),
        })
    }

    /// The guard over `spec` when the baseline at `baseline_path` was refused: no baseline is in
    /// force (so nothing is watched), but an owner can still approve the disk as it is as the new
    /// baseline ([`FileGuard::approve`]), which reopens card payment.
    pub fn without_baseline(
        spec: WatchSpec,
        baseline_path: PathBuf,
        key: GuardKey,
        alerts: Alerts,
    ) -> Self {
        Self {
            spec,
            baseline_path,
            key,
            alerts,
            current: RwLock::new(Baseline::default()),
            busy: tokio::sync::Mutex::new(()),
            hashes: std::sync::Mutex::new(HashCache::default()),
        }
    }

    /// Raises a refused baseline as an alert and closes card payment (fail closed): what
    /// `mamori serve` does when [`FileGuard::open`] fails on the signature.
    pub async fn refuse_baseline(
        alerts: &Alerts,
        baseline_path: &Path,
        why: &GuardError,
    ) -> Result<(), GuardError> {
        close_card_payment(alerts, kinds::BASELINE_INVALID).await?;
        alerts
            .raise(&Alert::new(
                kinds::BASELINE_INVALID,
                Severity::Critical,
                Subject::File(path_key(baseline_path)),
                json!({ "reason": why.to_string() }),
            ))
            .await?;
        Ok(())
    }

    /// Reads the stored baseline file again and checks its signature under the guard key (the
    /// back office's self-check, at each look): how many files it lists. An error when it is
    /// missing, unreadable or not signed by this guard's key.
    pub fn verify_stored(&self) -> Result<usize, GuardError> {
        Ok(Baseline::read_verified(&self.baseline_path, &self.key)?
            .files
            .len())
    }

    /// The baseline in force.
    pub fn baseline(&self) -> Baseline {
        match self.current.read() {
            Ok(b) => b.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Compares the whole disk with the baseline and raises what differs; returns the findings.
    /// Every file is read again.
    pub async fn check_all(&self) -> Result<Vec<Finding>, GuardError> {
        self.check(Rehash::All).await
    }

    /// [`FileGuard::check_all`] for a file event: a file whose stamp is unchanged since the last
    /// check keeps its digest, so the check takes as long as reading the changed files.
    pub async fn check_changed(&self) -> Result<Vec<Finding>, GuardError> {
        self.check(Rehash::Changed).await
    }

    async fn check(&self, rehash: Rehash) -> Result<Vec<Finding>, GuardError> {
        let _one = self.busy.lock().await;
        let spec = self.spec.clone();
        let mut cache = match self.hashes.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        let (now, cache) = tokio::task::spawn_blocking(move || {
            let now = Baseline::observe_with(&spec, &mut cache, rehash);
            (now, cache)
        })
        .await
        .map_err(|_| GuardError::Invalid("the file check stopped"))?;
        match self.hashes.lock() {
            Ok(mut c) => *c = cache,
            Err(p) => *p.into_inner() = cache,
        }
        let findings = diff(&self.baseline(), &now);
        self.raise_all(&findings).await?;
        Ok(findings)
    }

    /// The differences on disk now, without raising anything (for the guard's page).
    pub async fn pending(&self) -> Result<Vec<Finding>, GuardError> {
        let spec = self.spec.clone();
        let now = tokio::task::spawn_blocking(move || Baseline::observe(&spec))
            .await
            .map_err(|_| GuardError::Invalid("the file check stopped"))?;
        Ok(diff(&self.baseline(), &now))
    }

    async fn raise_all(&self, findings: &[Finding]) -> Result<(), GuardError> {
        // Payment first: card payment is closed before anything else is done.
        if let Some(f) = findings.iter().find(|f| f.payment) {
            close_card_payment(&self.alerts, f.kind).await?;
        }
        for f in findings {
            let severity = if f.payment || f.evidence["role"] == "key" {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut evidence = f.evidence.clone();
            evidence["closes_card_payment"] = json!(f.payment);
            self.alerts
                .raise(&Alert::new(
                    f.kind,
                    severity,
                    Subject::File(f.path.clone()),
                    evidence,
                ))
                .await?;
        }
        Ok(())
    }

    /// An owner's approval, in one call: the disk as it is now becomes the signed baseline
    /// (written over the old one), the browser monitor's pending observations become its
    /// known-good ones, card payment reopens and every open file and monitor alert closes, and the
    /// approval is appended to the ledger with the reason. The caller checked the role and the
    /// fresh second factor, and records the staff log.
    pub async fn approve(
        &self,
        staff_id: &str,
        reason: &str,
        request_id: &str,
    ) -> Result<Baseline, GuardError> {
        let reason = crate::alert::check_reason(reason)?;
        let _one = self.busy.lock().await;
        let spec = self.spec.clone();
        let now = tokio::task::spawn_blocking(move || Baseline::observe(&spec))
            .await
            .map_err(|_| GuardError::Invalid("the file check stopped"))?;
        now.write_signed(&self.key, &self.baseline_path)?;
        match self.current.write() {
            Ok(mut b) => *b = now.clone(),
            Err(p) => *p.into_inner() = now.clone(),
        }
        let at = chrono::Utc::now().timestamp();
        // The browser monitor's latest observations become its known-good ones.
        self.alerts.records().observations_approve().await?;
        self.alerts
            .records()
            .guard_approve(
                &GuardSwitchRow {
                    name: CARD_PAYMENT.to_owned(),
                    state: switch_state::OPEN.to_owned(),
                    reason: reason.to_owned(),
                    alert_id: None,
                    changed_by: Some(staff_id.to_owned()),
                    changed_at: at,
                    ..Default::default()
                },
                &[
                    kinds::FILE_CHANGED,
                    kinds::FILE_MISSING,
                    kinds::FILE_MODE,
                    kinds::FILE_ADDED,
                    kinds::BASELINE_INVALID,
                    kinds::SCRIPT_CHANGED,
                    kinds::SCRIPT_ADDED,
                    kinds::SCRIPT_REMOVED,
                    kinds::FORM_ACTION,
                    kinds::PAGE_HEADERS,
                    kinds::PAGE_REDIRECT,
                ],
            )
            .await?;
        let acc = Accessor::staff(staff_id, "guard.approve_baseline", request_id).because(reason);
        self.alerts
            .ledger()
            .record(&AccessEvent::new(&acc, Action::Approve, Vec::new(), &[]))
            .await?;
        Ok(now)
    }

    /// Starts watching: file events (inotify) are checked at once, and the whole disk every
    /// `rehash`. Runs until the returned handle is dropped.
    pub fn watch(self: &Arc<Self>, rehash: Duration) -> Result<WatchHandle, GuardError> {
        use notify::Watcher as _;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let paths = match res {
                Ok(ev) => ev.paths,
                // Lost events (queue overflow): check everything.
                Err(_) => Vec::new(),
            };
            let _ = tx.send(paths);
        })
        .map_err(|_| GuardError::Invalid("the file watch could not start"))?;
        let mut watched_dirs: Vec<PathBuf> = Vec::new();
        for item in &self.spec.items {
            let (dir, mode) = match item.check {
                Check::Tree => (item.path.clone(), notify::RecursiveMode::Recursive),
                // The parent, so that a file replaced by a rename is still seen.
                _ => (
                    item.path
                        .parent()
                        .map_or_else(|| item.path.clone(), Path::to_path_buf),
                    notify::RecursiveMode::NonRecursive,
                ),
            };
            if watched_dirs.contains(&dir) {
                continue;
            }
            if watcher.watch(&dir, mode).is_err() {
                tracing::warn!(path = %dir.display(), "a watched directory could not be watched");
            }
            watched_dirs.push(dir);
        }
        let guard = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(rehash);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    got = rx.recv() => {
                        let Some(paths) = got else { return };
                        let mut relevant = paths.is_empty() || paths.iter().any(|p| guard.concerns(p));
                        // Take what else arrived meanwhile: one check for a burst.
                        while let Ok(more) = rx.try_recv() {
                            relevant |= more.is_empty() || more.iter().any(|p| guard.concerns(p));
                        }
                        if relevant {
                            if let Err(err) = guard.check_changed().await {
                                tracing::error!(error = %err, "file check failed");
                            }
                        }
                    }
                    _ = tick.tick() => {
                        if let Err(err) = guard.check_all().await {
                            tracing::error!(error = %err, "periodic file check failed");
                        }
                    }
                }
            }
        });
        Ok(WatchHandle {
            _watcher: watcher,
            task,
        })
    }

    /// Whether an event's path is one of ours.
    fn concerns(&self, p: &Path) -> bool {
        // The baseline itself (and its temporary file) is verified by signature, not watched.
        if p == self.baseline_path || p == self.baseline_path.with_extension("tmp") {
            return false;
        }
        self.spec.items.iter().any(|i| match i.check {
            Check::Tree => p.starts_with(&i.path),
            _ => p == i.path,
        })
    }
}

/// Keeps the watch running; dropping it stops it.
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Closes card payment unless it is closed already.
pub(crate) async fn close_card_payment(alerts: &Alerts, why: &str) -> Result<(), GuardError> {
    let records = alerts.records();
    let closed = records
        .guard_switch(CARD_PAYMENT)
        .await?
        .is_some_and(|s| s.state == switch_state::CLOSED);
    if !closed {
        records
            .guard_switch_set(&GuardSwitchRow {
                name: CARD_PAYMENT.to_owned(),
                state: switch_state::CLOSED.to_owned(),
                reason: why.to_owned(),
                alert_id: None,
                changed_by: Some("guard".to_owned()),
                changed_at: chrono::Utc::now().timestamp(),
                ..Default::default()
            })
            .await?;
        tracing::warn!(reason = why, "card payment closed by the file guard");
    }
    Ok(())
}
