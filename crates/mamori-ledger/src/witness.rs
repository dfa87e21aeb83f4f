//! Append-only witness file kept outside the database.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::LedgerError;
use crate::note::{parse_note, sync_parent_dir};

/// One line of the witness file.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessLine {
    note: String,
}

/// Append-only witness file: JSON Lines, one `{"note": "<signed checkpoint>"}` object per line,
/// each append followed by fsync.
///
/// Keeping signed checkpoints outside the database means that whoever rewrites the database
/// (even with the signing key) cannot also rewrite what the witness file has already recorded.
#[derive(Clone, Debug)]
pub struct WitnessFile {
    path: PathBuf,
}

impl WitnessFile {
    /// Refers to the witness file at `path`; nothing is touched until the first call.
    pub fn open(path: &Path) -> Self {
        WitnessFile {
            path: path.to_owned(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one signed note (checked to be structurally a signed note, not verified) as a
    /// line, then fsyncs. Creates the file if needed.
    ///
    /// Refuses to append after an incomplete last line (an interrupted earlier write), so that
    /// the damage stays visible instead of being glued to a new line.
    pub fn append(&self, note: &str) -> Result<(), LedgerError> {
        parse_note(note)?;
        let mut line = serde_json::to_string(&WitnessLine {
            note: note.to_owned(),
        })
        .map_err(|_| LedgerError::MalformedNote("cannot encode the note as JSON"))?;
        line.push('\n');

        let io = |action| {
            let path = self.path.clone();
            move |source| LedgerError::Io {
                action,
                path,
                source,
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(io("cannot open witness file"))?;
        let len = file
            .metadata()
            .map_err(io("cannot read witness file"))?
            .len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(io("cannot read witness file"))?;
            if last[0] != b'\n' {
                return Err(LedgerError::WitnessUnterminated(self.path.clone()));
            }
        }
        // One write call per line: with O_APPEND the line lands whole at the end of the file.
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("cannot append to witness file"))?;
        if len == 0 {
            sync_parent_dir(&self.path);
        }
        Ok(())
    }

    /// Reads every note in file order. A missing file is an empty list; a corrupt line is an
    /// error naming its 1-based line number. Signatures are not verified here.
    pub fn read_all(&self) -> Result<Vec<String>, LedgerError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(LedgerError::Io {
                    action: "cannot open witness file",
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|source| LedgerError::Io {
                action: "cannot read witness file",
                path: self.path.clone(),
                source,
            })?;
        let terminated = bytes.last().is_none_or(|&b| b == b'\n');
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
        let count = lines.len();
        let mut notes = Vec::with_capacity(count);
        for (i, raw) in lines.into_iter().enumerate() {
            let line = i + 1;
            let corrupt = |reason| LedgerError::WitnessCorrupt { line, reason };
            if line == count && !terminated {
                // Still parse it, but a failure here most likely means an interrupted write.
                let parsed = parse_line(raw);
                notes.push(parsed.map_err(|_| {
                    corrupt("incomplete last line (an append was probably interrupted)")
                })?);
                continue;
            }
            notes.push(parse_line(raw).map_err(corrupt)?);
        }
        Ok(notes)
    }
}

fn parse_line(raw: &[u8]) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("empty line");
    }
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8")?;
    let parsed: WitnessLine =
        serde_json::from_str(text).map_err(|_| "not a JSON object with a single \"note\" field")?;
    parse_note(&parsed.note).map_err(|_| "the note is not a well-formed signed note")?;
    Ok(parsed.note)
}
