//! The evidence pack of an incident: one archive (tar, compressed with zstd) that another
//! machine checks with nothing but the pack and the ledger's public key.
//!
//! Contents (each file named, sized and hashed in the manifest, with what it is):
//! - `manifest.json`: the incident, the window, the entry range, the signed tree head, and per
//!   file its name, size, SHA-256 and description;
//! - `manifest.sig`: a C2SP signed note by the ledger's checkpoint key (the key whose public
//!   half `mamori keys show` prints) over the text `mamori evidence pack` / `incident N` /
//!   `manifest sha256 <hex>`; its second line is not a number, so it can never pass for a
//!   checkpoint;
//! - `entries.jsonl`: the ledger entries of the window, a contiguous range `from..to` of leaf
//!   indexes (each with its index, its leaf hash and its exact bytes);
//! - `proof.json`: the signed head (the newest checkpoint), the range's compact prefix (the
//!   frontier of `0..from`, RFC 9162 subtree roots), the consistency proof from the tree of
//!   `0..to` to the head, and the first checkpoint at or after the window's end with its
//!   consistency proof to the head;
//! - `checkpoints.json`, `witness.json`: the checkpoints stored in the database up to the head
//!   and the witness file's lines;
//! - `incident.json`, `timeline.jsonl`, `alerts.jsonl`, `staff_log.jsonl`, `observations.jsonl`
//!   and, when the caller has it, `file_baseline.json` (the guard's signed baseline of files).
//!
//! Nothing personal is in clear: ledger events name customers by id and fields by name; alerts,
//! the staff log, the timeline and the monitor's observations hold ids, codes, hashes and URLs.
//! The staff log keeps the client address of each staff action (evidence of who acted from
//! where).
//!
//! [`verify`] checks, in order: the note's signature, the manifest against the signed digest,
//! every file's size and SHA-256 (and no file more), the checkpoints' and witness lines'
//! signatures, the head against the manifest, each entry against its leaf hash, the range's
//! root through the consistency proof to the signed head, and the window's checkpoint. A
//! failure says which file, and for an entry its leaf index.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;

use mamori_ledger::{
    consistency_proof, leaf_hash, verify_consistency, Checkpoint, Frontier, Hash, LedgerSigner,
    LedgerVerifier,
};
use mamori_store::{AlertFilter, AlertRow, ObservationRow, Records, StaffLogFilter, StaffLogRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::desk::Desk;
use crate::{RespondError, Result};

/// The manifest's format.
pub const FORMAT: &str = "mamori-evidence/1";
/// The manifest file.
pub const MANIFEST: &str = "manifest.json";
/// The signature of the manifest (a signed note).
pub const SIGNATURE: &str = "manifest.sig";
/// The ledger entries of the window.
pub const ENTRIES: &str = "entries.jsonl";
/// The proofs.
pub const PROOF: &str = "proof.json";
/// The database's checkpoints.
pub const CHECKPOINTS: &str = "checkpoints.json";
/// The witness file's lines.
pub const WITNESS: &str = "witness.json";
/// The incident record.
pub const INCIDENT: &str = "incident.json";
/// The incident's timeline.
pub const TIMELINE: &str = "timeline.jsonl";
/// The alerts.
pub const ALERTS: &str = "alerts.jsonl";
/// The staff log.
pub const STAFF_LOG: &str = "staff_log.jsonl";
/// The browser monitor's observations.
pub const OBSERVATIONS: &str = "observations.jsonl";
/// The guard's signed baseline of files.
pub const FILE_BASELINE: &str = "file_baseline.json";

/// The first line of the signed note.
const NOTE_TITLE: &str = "mamori evidence pack";
/// Ledger entries read per query.
const PAGE: u64 = 10_000;
/// Rows per page of alerts and the staff log.
const ROW_PAGE: i64 = 1_000;
/// Observations of each page's history kept in the pack.
const HISTORY: i64 = 1_000;
/// Largest unpacked archive accepted (bytes).
pub const MAX_UNPACKED: u64 = 4 << 30;

/// What the caller adds from outside the database (the binary knows these files).
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The witness file's checkpoint notes.
    pub witness_notes: Vec<String>,
    /// The guard's signed baseline file, as stored.
    pub file_baseline: Option<Vec<u8>>,
}

/// One file of the pack as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name in the archive.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// What it is.
    pub what: String,
}

/// The signed tree head the pack proves against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadRef {
    /// Checkpoint origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root (hex).
    pub root: String,
}

/// The manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The incident's number.
    pub incident: i64,
    /// When the pack was made (Unix seconds).
    pub created_at: i64,
    /// Window start (Unix seconds, inclusive).
    pub window_from: i64,
    /// Window end (Unix seconds, exclusive; the pack's time when the incident has none, and then
    /// every entry up to the head is in the pack).
    pub window_to: i64,
    /// First leaf index of the entries (inclusive).
    pub entries_from: u64,
    /// Last leaf index of the entries (exclusive); equal to `entries_from` when none.
    pub entries_to: u64,
    /// The signed tree head.
    pub tree_head: HeadRef,
    /// The public key that signs it and the checkpoints (C2SP verifier key).
    pub public_key: String,
    /// The files, in archive order after the manifest and its signature.
    pub files: Vec<FileEntry>,
}

/// A built pack.
#[derive(Clone, Debug)]
pub struct EvidencePack {
    /// The archive (tar, zstd).
    pub bytes: Vec<u8>,
    /// Its manifest.
    pub manifest: Manifest,
}

/// What a verified pack holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// Entries proven.
    pub entries: u64,
    /// Checkpoints whose signatures were checked (database and witness).
    pub checkpoints: u64,
}

/// Where and why a pack does not verify. Names the file, and for a ledger entry its leaf index.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct EvidenceError {
    /// The file at fault (None: the archive itself).
    pub file: Option<String>,
    /// The leaf index of the entry at fault.
    pub entry: Option<u64>,
    /// What is wrong.
    pub problem: String,
}

impl EvidenceError {
    fn archive(problem: impl Into<String>) -> Self {
        Self {
            file: None,
            entry: None,
            problem: problem.into(),
        }
    }

    fn file(file: &str, problem: impl Into<String>) -> Self {
        Self {
            file: Some(file.to_owned()),
            entry: None,
            problem: problem.into(),
        }
    }

    fn entry(index: u64, problem: impl Into<String>) -> Self {
        Self {
            file: Some(ENTRIES.to_owned()),
            entry: Some(index),
            problem: problem.into(),
        }
    }

    fn describe(&self) -> String {
        match (&self.file, self.entry) {
            (Some(f), Some(i)) => format!("{f}: entry {i}: {}", self.problem),
            (Some(f), None) => format!("{f}: {}", self.problem),
            (None, _) => format!("archive: {}", self.problem),
        }
    }
}

/// One line of `entries.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct EntryLine {
    index: u64,
    leaf: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_hex: Option<String>,
}

/// A checkpoint with a consistency proof to the head.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProvenCheckpoint {
    note: String,
    consistency: Vec<String>,
}

/// `proof.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Proofs {
    /// The signed head.
    head: String,
    /// The frontier of `0..entries_from` (hex of [`Frontier::to_bytes`]).
    prefix_frontier: String,
    /// Consistency proof from the tree of `0..entries_to` to the head (hex hashes).
    range_consistency: Vec<String>,
    /// The first checkpoint at or after the window's end, with its proof to the head.
    window_checkpoint: Option<ProvenCheckpoint>,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn hexes(h: &[Hash]) -> Vec<String> {
    h.iter().map(hex::encode).collect()
}

fn jsonl<T: Serialize>(rows: impl IntoIterator<Item = T>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut out, &r).map_err(|_| RespondError::Invalid("serialising"))?;
        out.push(b'\n');
    }
    Ok(out)
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|_| RespondError::Invalid("serialising"))?;
    b.push(b'\n');
    Ok(b)
}

fn alert_json(a: &AlertRow) -> serde_json::Value {
    json!({
        "id": a.id, "kind": a.kind, "severity": a.severity, "subject": a.subject,
        "evidence": a.evidence, "state": a.state, "seen_count": a.seen_count,
        "first_seen": a.first_seen, "last_seen": a.last_seen, "acked_by": a.acked_by,
        "acked_at": a.acked_at, "ack_reason": a.ack_reason, "closed_by": a.closed_by,
        "closed_at": a.closed_at,
    })
}

fn staff_log_json(r: &StaffLogRow) -> serde_json::Value {
    json!({
        "seq": r.seq, "at": r.at, "staff_id": r.staff_id, "action": r.action,
        "target": r.target, "detail": r.detail, "request_id": r.request_id, "ip": r.ip,
    })
}

fn observation_json(o: &ObservationRow) -> serde_json::Value {
    json!({
        "id": o.id, "page": o.page, "state": o.state, "scripts": o.scripts,
        "form_origins": o.form_origins, "headers": o.headers, "final_origin": o.final_origin,
        "observed_at": o.observed_at,
    })
}

/// The signed note's text for a manifest.
fn note_text(incident: i64, manifest_sha256: &str) -> String {
    format!("{NOTE_TITLE}\nincident {incident}\nmanifest sha256 {manifest_sha256}\n")
}

/// Builds the evidence pack of incident `id`: the ledger entries whose time falls in the
/// incident's window (no start: from the first entry; no end: up to the head), proven against the
/// newest signed checkpoint (sign one first: entries after it are not in the pack), and the
/// records listed in the module's documentation. Signed with `signer`, the ledger's checkpoint
/// key.
pub async fn build(
    desk: &Desk,
    id: i64,
    signer: &LedgerSigner,
    extras: &Extras,
    now: i64,
) -> Result<EvidencePack> {
    let gw = desk.gateway();
    let records = gw.records();
    let records: &dyn Records = records.as_ref();
    let incident = records
        .incident_by_id(id)
        .await?
        .ok_or(RespondError::NotFound(id))?;
    let window_from = incident.window_from.unwrap_or(0);
    let window_to = incident.window_to.unwrap_or(now);
    let verifier = signer.verifier();

    // The signed head: the newest checkpoint of the database that opens with this key.
    let mut checkpoints: Vec<(Checkpoint, String)> = Vec::new();
    for note in records.ledger_checkpoints().await? {
        if let Ok(cp) = Checkpoint::open(&note, &verifier) {
            checkpoints.push((cp, note));
        }
    }
    checkpoints.sort_by_key(|(cp, _)| cp.size);
    let Some((head, head_note)) = checkpoints.last().cloned() else {
        return Err(RespondError::Invalid(
            "no checkpoint signed by this ledger key: sign one first",
        ));
    };
    let n = head.size;
    let leaves = records.ledger_leaf_hashes(n).await?;
    if leaves.len() as u64 != n {
        return Err(RespondError::LedgerBroken(leaves.len() as u64));
    }

    // The window's range: every entry from the first in the window to the last in it (entries
    // between them are kept even if their clock says otherwise, so that the range is whole).
    // Without an end, every entry up to the signed head (even of the current second).
    let (from_us, to_us) = (
        window_from.saturating_mul(1_000_000),
        incident
            .window_to
            .map_or(i64::MAX, |t| t.saturating_mul(1_000_000)),
    );
    let mut first: Option<u64> = None;
    let mut last: Option<u64> = None;
    let mut before_end = 0u64;
    let scanned = crate::scope::scan_ledger(records, n, |seq, ev| {
        if ev.at_us < to_us {
            before_end = seq + 1;
            if ev.at_us >= from_us {
                first.get_or_insert(seq);
                last = Some(seq);
            }
        }
    })
    .await?;
    if scanned.root != hex::encode(head.root) {
        return Err(RespondError::LedgerBroken(n));
    }
    let (a, b) = match (first, last) {
        (Some(f), Some(l)) => (f, l + 1),
        _ => (before_end, before_end),
    };

    let mut lines = Vec::new();
    let mut at = a;
    while at < b {
        let rows = records.ledger_entries(at, PAGE.min(b - at)).await?;
        if rows.is_empty() {
            return Err(RespondError::LedgerBroken(at));
        }
        for row in rows {
            if at >= b {
                break;
            }
            if row.seq != at as i64 {
                return Err(RespondError::LedgerBroken(at));
            }
            let leaf = leaf_hash(&row.event);
            if leaves.get(at as usize).map(|l| l.as_slice()) != Some(leaf.as_slice()) {
                return Err(RespondError::LedgerBroken(at));
            }
            let (event, event_hex) = match String::from_utf8(row.event) {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(hex::encode(e.into_bytes()))),
            };
            lines.push(EntryLine {
                index: at,
                leaf: hex::encode(leaf),
                event,
                event_hex,
            });
            at += 1;
        }
    }

    let mut prefix = Frontier::new();
    for l in leaves.iter().take(a as usize) {
        prefix.push(*l);
    }
    let proof_err = |_| RespondError::LedgerBroken(n);
    let range_consistency = if b > 0 {
        consistency_proof(&leaves, b, n).map_err(proof_err)?
    } else {
        Vec::new()
    };
    let window_checkpoint = match checkpoints.iter().find(|(cp, _)| cp.size >= b.max(1)) {
        Some((cp, note)) => Some(ProvenCheckpoint {
            note: note.clone(),
            consistency: hexes(&consistency_proof(&leaves, cp.size, n).map_err(proof_err)?),
        }),
        None => None,
    };
    let proofs = Proofs {
        head: head_note,
        prefix_frontier: hex::encode(prefix.to_bytes()),
        range_consistency: hexes(&range_consistency),
        window_checkpoint,
    };

    // The records.
    let timeline = records.incident_timeline(id).await?;
    let mut alerts = Vec::new();
    let mut offset = 0;
    loop {
        let page = records
            .alerts_page(&AlertFilter::default(), offset, ROW_PAGE)
            .await?;
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as i64;
        alerts.extend(
            page.items
                .iter()
                .filter(|a| a.last_seen >= window_from)
                .map(alert_json),
        );
    }
    alerts.sort_by_key(|a| a["first_seen"].as_i64());
    let mut staff = Vec::new();
    let filter = StaffLogFilter {
        from: Some(window_from),
        ..StaffLogFilter::default()
    };
    let mut offset = 0;
    loop {
        let page = records.staff_log_page(&filter, offset, ROW_PAGE).await?;
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as i64;
        staff.extend(page.items.iter().map(staff_log_json));
    }
    staff.sort_by_key(|r| r["seq"].as_i64());
    let current = records.observations_all().await?;
    let pages: BTreeSet<String> = current.iter().map(|o| o.page.clone()).collect();
    let mut observations: Vec<serde_json::Value> = current.iter().map(observation_json).collect();
    for page in &pages {
        let mut hist = records.observation_history(page, HISTORY).await?;
        hist.retain(|o| o.observed_at >= window_from);
        hist.reverse();
        observations.extend(hist.iter().map(observation_json));
    }

    let db_notes: Vec<&String> = checkpoints.iter().map(|(_, note)| note).collect();
    let incident_json = json!({
        "id": incident.id, "kind": incident.kind, "state": incident.state,
        "title": incident.title, "known_at": incident.known_at,
        "window_from": incident.window_from, "window_to": incident.window_to,
        "principal": incident.principal, "malicious": incident.malicious != 0,
        "alert_id": incident.alert_id, "opened_by": incident.opened_by,
        "opened_at": incident.opened_at,
    });
    let timeline_rows = timeline.iter().map(|t| {
        json!({
            "seq": t.seq, "at": t.at, "kind": t.kind, "actor": t.actor, "text": t.text,
            "ref_id": t.ref_id, "ledger_seq": t.ledger_seq,
        })
    });

    let mut files: Vec<(&str, &str, Vec<u8>)> = vec![
        (INCIDENT, "the incident record (kind, 発覚, window, who opened it)", to_json(&incident_json)?),
        (TIMELINE, "the incident's timeline, oldest first (each entry also in the ledger)", jsonl(timeline_rows)?),
        (ENTRIES, "the ledger entries of the window: leaf index, leaf hash, the event's exact bytes (ids and field names, never a value)", jsonl(&lines)?),
        (PROOF, "the signed tree head, the frontier of the entries before the range, the RFC 9162 consistency proof from the range's end to the head, and the window's checkpoint with its consistency proof", to_json(&proofs)?),
        (CHECKPOINTS, "every checkpoint in the database up to the head (C2SP signed notes)", to_json(&db_notes)?),
        (WITNESS, "the witness file's checkpoint notes", to_json(&extras.witness_notes)?),
        (ALERTS, "the alerts seen since the window's start", jsonl(&alerts)?),
        (STAFF_LOG, "the staff log since the window's start (staff ids, actions, targets, client addresses)", jsonl(&staff)?),
        (OBSERVATIONS, "the browser monitor's observations: each page's known-good and pending one, then its history since the window's start (scripts' hashes, form origins, headers)", jsonl(&observations)?),
    ];
    if let Some(b) = &extras.file_baseline {
        files.push((
            FILE_BASELINE,
            "the guard's baseline of the shop's files as stored (signed with the guard's own key)",
            b.clone(),
        ));
    }

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        incident: id,
        created_at: now,
        window_from,
        window_to,
        entries_from: a,
        entries_to: b,
        tree_head: HeadRef {
            origin: head.origin.clone(),
            size: n,
            root: hex::encode(head.root),
        },
        public_key: verifier.to_vkey(),
        files: files
            .iter()
            .map(|(name, what, bytes)| FileEntry {
                name: (*name).to_owned(),
                size: bytes.len() as u64,
                sha256: sha256_hex(bytes),
                what: (*what).to_owned(),
            })
            .collect(),
    };
    let manifest_bytes = to_json(&manifest)?;
    let note = signer
        .sign_note(&note_text(id, &sha256_hex(&manifest_bytes)))
        .map_err(|_| RespondError::Invalid("signing the manifest"))?;
    let mut all: Vec<(String, Vec<u8>)> = vec![
        (MANIFEST.to_owned(), manifest_bytes),
        (SIGNATURE.to_owned(), note.into_bytes()),
    ];
    all.extend(files.into_iter().map(|(n, _, b)| (n.to_owned(), b)));
    let bytes = pack(&all, now).map_err(|_| RespondError::Invalid("writing the archive"))?;
    Ok(EvidencePack { bytes, manifest })
}

/// Packs `files` (name, bytes) as a tar archive compressed with zstd, in the given order.
pub fn pack(files: &[(String, Vec<u8>)], mtime: i64) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(u64::try_from(mtime).unwrap_or(0));
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes.as_slice())?;
    }
    let raw = tar.into_inner()?;
    zstd::encode_all(raw.as_slice(), 9)
}

/// Unpacks an archive made by [`pack`]: its regular files by name, in order. Refuses anything
/// else (directories, links, paths, a name twice, more than [`MAX_UNPACKED`] bytes).
pub fn unpack(bytes: &[u8]) -> std::result::Result<Vec<(String, Vec<u8>)>, EvidenceError> {
    let damaged =
        |e: std::io::Error| EvidenceError::archive(format!("not a zstd-compressed tar: {e}"));
    let decoder = zstd::stream::read::Decoder::new(bytes).map_err(damaged)?;
    let mut raw = Vec::new();
    decoder
        .take(MAX_UNPACKED + 1)
        .read_to_end(&mut raw)
        .map_err(damaged)?;
    if raw.len() as u64 > MAX_UNPACKED {
        return Err(EvidenceError::archive(
            "larger than the largest pack accepted",
        ));
    }
    let mut archive = tar::Archive::new(raw.as_slice());
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let name = entry
            .path()
            .map_err(damaged)?
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| EvidenceError::archive("a file name that is not UTF-8"))?;
        if entry.header().entry_type() != tar::EntryType::Regular
            || name.contains('/')
            || name.contains('\\')
            || name.starts_with('.')
        {
            return Err(EvidenceError::file(&name, "not a plain file of a pack"));
        }
        if !seen.insert(name.clone()) {
            return Err(EvidenceError::file(&name, "in the archive twice"));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(damaged)?;
        out.push((name, data));
    }
    Ok(out)
}

fn parse_hash(file: &str, s: &str) -> std::result::Result<Hash, EvidenceError> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h)
        .map_err(|_| EvidenceError::file(file, "a hash is not 64 hex digits"))?;
    Ok(h)
}

fn parse_hashes(file: &str, v: &[String]) -> std::result::Result<Vec<Hash>, EvidenceError> {
    v.iter().map(|s| parse_hash(file, s)).collect()
}

/// Finds the first line of `entries.jsonl` whose bytes do not hash to its stated leaf hash.
fn locate_bad_entry(bytes: &[u8]) -> Option<EvidenceError> {
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let Ok(e) = serde_json::from_slice::<EntryLine>(line) else {
            return Some(EvidenceError::file(
                ENTRIES,
                format!("line {} is not an entry", n + 1),
            ));
        };
        match entry_leaf(&e) {
            Ok((computed, stated)) if computed != stated => {
                return Some(EvidenceError::entry(
                    e.index,
                    "its bytes do not match its leaf hash",
                ))
            }
            Ok(_) => {}
            Err(err) => return Some(err),
        }
    }
    None
}

/// The leaf hash of an entry's bytes and the one it states.
fn entry_leaf(e: &EntryLine) -> std::result::Result<(Hash, Hash), EvidenceError> {
    let bytes = match (&e.event, &e.event_hex) {
        (Some(s), None) => s.as_bytes().to_vec(),
        (None, Some(h)) => {
            hex::decode(h).map_err(|_| EvidenceError::entry(e.index, "its bytes are not hex"))?
        }
        _ => return Err(EvidenceError::entry(e.index, "no event bytes")),
    };
    let mut stated = [0u8; 32];
    hex::decode_to_slice(&e.leaf, &mut stated)
        .map_err(|_| EvidenceError::entry(e.index, "its leaf hash is not 64 hex digits"))?;
    Ok((leaf_hash(&bytes), stated))
}

fn parse_json<'a, T: Deserialize<'a>>(
    file: &str,
    b: &'a [u8],
) -> std::result::Result<T, EvidenceError> {
    serde_json::from_slice(b).map_err(|e| EvidenceError::file(file, format!("not valid: {e}")))
}

/// Verifies a pack with the ledger's public key alone: see the module's documentation for
/// what is checked. The first failure is returned, naming the file (and the entry).
pub fn verify(
    pack_bytes: &[u8],
    key: &LedgerVerifier,
) -> std::result::Result<Verified, EvidenceError> {
    let files: BTreeMap<String, Vec<u8>> = unpack(pack_bytes)?.into_iter().collect();
    let get = |name: &str| {
        files
            .get(name)
            .ok_or_else(|| EvidenceError::file(name, "missing from the archive"))
    };

    // 1. The signature over the manifest's digest.
    let sig = std::str::from_utf8(get(SIGNATURE)?)
        .map_err(|_| EvidenceError::file(SIGNATURE, "not UTF-8 text"))?;
    let text = key.open_note(sig).map_err(|e| {
        EvidenceError::file(
            SIGNATURE,
            format!("the signature does not verify with this key ({e})"),
        )
    })?;
    let mut lines = text.lines();
    let (title, incident_line, digest_line) = (lines.next(), lines.next(), lines.next());
    if title != Some(NOTE_TITLE) || lines.next().is_some() {
        return Err(EvidenceError::file(
            SIGNATURE,
            "not an evidence pack's signed note",
        ));
    }
    let signed_digest = digest_line
        .and_then(|l| l.strip_prefix("manifest sha256 "))
        .ok_or_else(|| EvidenceError::file(SIGNATURE, "no manifest digest"))?;
    let signed_incident = incident_line
        .and_then(|l| l.strip_prefix("incident "))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| EvidenceError::file(SIGNATURE, "no incident number"))?;

    // 2. The manifest against the signed digest.
    let manifest_bytes = get(MANIFEST)?;
    if sha256_hex(manifest_bytes) != signed_digest {
        return Err(EvidenceError::file(
            MANIFEST,
            "its SHA-256 differs from the digest signed in manifest.sig (altered)",
        ));
    }
    let manifest: Manifest = parse_json(MANIFEST, manifest_bytes)?;
    if manifest.format != FORMAT || manifest.incident != signed_incident {
        return Err(EvidenceError::file(
            MANIFEST,
            "unknown format or another incident",
        ));
    }

    // 3. Every file's size and digest, and no file more.
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    for name in files.keys() {
        if name != MANIFEST && name != SIGNATURE && !listed.contains(name.as_str()) {
            return Err(EvidenceError::file(name, "not listed in the manifest"));
        }
    }
    for f in &manifest.files {
        let b = get(&f.name)?;
        if b.len() as u64 != f.size || sha256_hex(b) != f.sha256 {
            if f.name == ENTRIES {
                if let Some(e) = locate_bad_entry(b) {
                    return Err(e);
                }
            }
            return Err(EvidenceError::file(
                &f.name,
                "its size or SHA-256 differs from the manifest (altered)",
            ));
        }
    }

    // 4. The checkpoints' and witness lines' signatures.
    let mut count = 0u64;
    for file in [CHECKPOINTS, WITNESS] {
        let Some(b) = files.get(file) else { continue };
        let notes: Vec<String> = parse_json(file, b)?;
        for (i, note) in notes.iter().enumerate() {
            Checkpoint::open(note, key).map_err(|e| {
                EvidenceError::file(file, format!("checkpoint {} does not verify ({e})", i + 1))
            })?;
            count += 1;
        }
    }

    // 5. The head, the entries and the proofs.
    let proofs: Proofs = parse_json(PROOF, get(PROOF)?)?;
    let head = Checkpoint::open(&proofs.head, key)
        .map_err(|e| EvidenceError::file(PROOF, format!("the head does not verify ({e})")))?;
    count += 1;
    if head.size != manifest.tree_head.size
        || hex::encode(head.root) != manifest.tree_head.root
        || head.origin != manifest.tree_head.origin
    {
        return Err(EvidenceError::file(
            PROOF,
            "the head is not the manifest's tree head",
        ));
    }
    let (a, b) = (manifest.entries_from, manifest.entries_to);
    if a > b || b > head.size {
        return Err(EvidenceError::file(
            MANIFEST,
            "the entry range is outside the tree",
        ));
    }
    let frontier_bytes = hex::decode(&proofs.prefix_frontier)
        .map_err(|_| EvidenceError::file(PROOF, "the prefix frontier is not hex"))?;
    let mut frontier = Frontier::from_bytes(&frontier_bytes)
        .map_err(|e| EvidenceError::file(PROOF, format!("the prefix frontier: {e}")))?;
    if frontier.size() != a {
        return Err(EvidenceError::file(
            PROOF,
            "the prefix frontier does not end where the entries start",
        ));
    }
    let mut next = a;
    for (n, line) in get(ENTRIES)?.split(|&c| c == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let e: EntryLine = serde_json::from_slice(line)
            .map_err(|_| EvidenceError::file(ENTRIES, format!("line {} is not an entry", n + 1)))?;
        if e.index != next {
            return Err(EvidenceError::entry(
                e.index,
                format!("out of order (expected {next})"),
            ));
        }
        let (computed, stated) = entry_leaf(&e)?;
        if computed != stated {
            return Err(EvidenceError::entry(
                e.index,
                "its bytes do not match its leaf hash",
            ));
        }
        frontier.push(computed);
        next += 1;
    }
    if next != b {
        return Err(EvidenceError::file(
            ENTRIES,
            format!("holds entries {a}..{next}, the manifest says {a}..{b}"),
        ));
    }
    if b > 0 {
        let proof = parse_hashes(PROOF, &proofs.range_consistency)?;
        verify_consistency(b, head.size, &proof, &frontier.root(), &head.root).map_err(|e| {
            EvidenceError::file(
                ENTRIES,
                format!("the entries do not lead to the signed tree head ({e})"),
            )
        })?;
    }
    if let Some(w) = &proofs.window_checkpoint {
        let cp = Checkpoint::open(&w.note, key).map_err(|e| {
            EvidenceError::file(
                PROOF,
                format!("the window's checkpoint does not verify ({e})"),
            )
        })?;
        count += 1;
        let proof = parse_hashes(PROOF, &w.consistency)?;
        verify_consistency(cp.size, head.size, &proof, &cp.root, &head.root).map_err(|e| {
            EvidenceError::file(
                PROOF,
                format!("the window's checkpoint is not consistent with the head ({e})"),
            )
        })?;
    }
    Ok(Verified {
        entries: b - a,
        checkpoints: count,
        manifest,
    })
}
