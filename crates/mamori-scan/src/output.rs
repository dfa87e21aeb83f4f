//! Report formats: human-readable lines, JSON Lines and SARIF 2.1.0.
//! Only masked numbers ever reach these writers.

use crate::context::{Confidence, FindingKind};
use crate::finding::{location, Finding, Issue, Summary};
use serde::Serialize;
use serde_json::json;
use std::io::{self, Write};

/// Output format of `mamori scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per finding, issues on standard error, a summary at the end.
    Human,
    /// One JSON object per line: `{"type":"finding"|"issue"|"summary", ...}`.
    Jsonl,
    /// A SARIF 2.1.0 log (for code-scanning dashboards), written when the scan ends.
    Sarif,
}

/// Writes findings, issues and the summary in one format.
pub struct ReportWriter<W: Write> {
    out: W,
    format: Format,
    sarif_results: Vec<serde_json::Value>,
    sarif_notes: Vec<serde_json::Value>,
    issues_to_stderr: bool,
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

fn uri_of(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for ch in path.replace('\\', "/").chars() {
        match ch {
            ' ' => s.push_str("%20"),
            '%' => s.push_str("%25"),
            '#' => s.push_str("%23"),
            '?' => s.push_str("%3F"),
            c => s.push(c),
        }
    }
    s
}

fn describe(f: &Finding) -> String {
    let what = match f.kind {
        FindingKind::Pan => "card number",
        FindingKind::Track1 => "magnetic-stripe track 1 with card number",
        FindingKind::Track2 => "magnetic-stripe track 2 with card number",
    };
    let mut s = format!(
        "{} {what} {} ({:?} confidence)",
        f.brand, f.masked, f.confidence
    );
    if let (Some(t), Some(c)) = (&f.table, &f.column) {
        s.push_str(&format!(" in table {t}, column {c}"));
        if let Some(r) = f.row {
            s.push_str(&format!(", row {r}"));
        }
    }
    if f.test_card {
        s.push_str(" [well-known test number]");
    }
    s
}

impl<W: Write> ReportWriter<W> {
    /// A writer for `format`. Issues go to standard error in the human format when `issues_to_stderr`.
    pub fn new(out: W, format: Format, issues_to_stderr: bool) -> Self {
        Self {
            out,
            format,
            sarif_results: Vec::new(),
            sarif_notes: Vec::new(),
            issues_to_stderr,
        }
    }

    /// Writes one finding.
    pub fn finding(&mut self, f: &Finding) -> io::Result<()> {
        match self.format {
            Format::Human => {
                let conf = match f.confidence {
                    Confidence::High => "HIGH",
                    Confidence::Medium => "medium",
                    Confidence::Low => "low",
                };
                let mut line = format!(
                    "{}:{}: {} [{conf}] offset {}",
                    f.location(),
                    f.line,
                    describe(f),
                    f.offset
                );
                if f.encoding != crate::finder::TextEncoding::Ascii {
                    line.push_str(&format!(" ({:?})", f.encoding));
                }
                writeln!(self.out, "{line}")
            }
            Format::Jsonl => {
                serde_json::to_writer(
                    &mut self.out,
                    &Tagged {
                        kind: "finding",
                        inner: f,
                    },
                )?;
                self.out.write_all(b"\n")
            }
            Format::Sarif => {
                let level = match f.confidence {
                    Confidence::High => "error",
                    Confidence::Medium => "warning",
                    Confidence::Low => "note",
                };
                let rule = if f.kind == FindingKind::Pan {
                    "card-number"
                } else {
                    "card-track-data"
                };
                let mut phys = json!({ "artifactLocation": { "uri": uri_of(&f.path) } });
                if f.members.is_empty() && f.table.is_none() {
                    phys["region"] = json!({ "startLine": f.line, "byteOffset": f.offset });
                }
                let mut result = json!({
                    "ruleId": rule,
                    "level": level,
                    "message": { "text": format!("{} at {}", describe(f), f.location()) },
                    "locations": [{ "physicalLocation": phys }],
                    "properties": serde_json::to_value(f)?,
                });
                if !f.members.is_empty() {
                    result["locations"][0]["logicalLocations"] = json!([{
                        "fullyQualifiedName": f.location(),
                        "kind": "member"
                    }]);
                }
                self.sarif_results.push(result);
                Ok(())
            }
        }
    }

    /// Writes one issue.
    pub fn issue(&mut self, i: &Issue) -> io::Result<()> {
        match self.format {
            Format::Human => {
                let line = format!(
                    "{}: {:?}: {}",
                    location(&i.path, &i.members),
                    i.kind,
                    i.message
                );
                if self.issues_to_stderr {
                    eprintln!("mamori scan: {line}");
                    Ok(())
                } else {
                    writeln!(self.out, "issue: {line}")
                }
            }
            Format::Jsonl => {
                serde_json::to_writer(
                    &mut self.out,
                    &Tagged {
                        kind: "issue",
                        inner: i,
                    },
                )?;
                self.out.write_all(b"\n")
            }
            Format::Sarif => {
                self.sarif_notes.push(json!({
                    "level": if i.kind.is_error() { "error" } else { "note" },
                    "message": { "text": format!("{}: {}", location(&i.path, &i.members), i.message) },
                    "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri_of(&i.path) } } }],
                    "properties": serde_json::to_value(i)?,
                }));
                Ok(())
            }
        }
    }

    /// Writes the summary (and, for SARIF, the whole log) and flushes.
    pub fn finish(mut self, s: &Summary) -> io::Result<W> {
        match self.format {
            Format::Human => {
                writeln!(
                    self.out,
                    "scanned {} files, {} bytes in {:.2} s: {} findings ({} high, {} medium, {} low), {} below threshold, {} test cards ignored, {} errors, {} skipped",
                    s.files,
                    s.bytes,
                    s.elapsed_ms as f64 / 1000.0,
                    s.findings,
                    s.by_confidence[2],
                    s.by_confidence[1],
                    s.by_confidence[0],
                    s.below_threshold,
                    s.test_cards_ignored,
                    s.errors,
                    s.skipped
                )?;
            }
            Format::Jsonl => {
                serde_json::to_writer(
                    &mut self.out,
                    &Tagged {
                        kind: "summary",
                        inner: s,
                    },
                )?;
                self.out.write_all(b"\n")?;
            }
            Format::Sarif => {
                let rule = |id: &str, name: &str, text: &str| {
                    json!({
                        "id": id,
                        "name": name,
                        "shortDescription": { "text": text },
                        "fullDescription": { "text": format!("{text}. Only the first six and last four digits are reported. Remove or truncate the data (PCI DSS 3.3, 3.4).") },
                        "defaultConfiguration": { "level": "error" },
                        "help": { "text": "Card data must not be stored after authorisation. Delete the file or the data, or keep at most the first six and last four digits." }
                    })
                };
                let log = json!({
                    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                    "version": "2.1.0",
                    "runs": [{
                        "tool": { "driver": {
                            "name": "mamori-scan",
                            "version": env!("CARGO_PKG_VERSION"),
                            "rules": [
                                rule("card-number", "CardNumber", "Payment card number (PAN) stored in data"),
                                rule("card-track-data", "CardTrackData", "Magnetic-stripe track data stored in data"),
                            ]
                        }},
                        "invocations": [{
                            "executionSuccessful": s.errors == 0,
                            "toolExecutionNotifications": self.sarif_notes,
                        }],
                        "results": self.sarif_results,
                        "properties": { "summary": serde_json::to_value(s)? },
                    }]
                });
                serde_json::to_writer_pretty(&mut self.out, &log)?;
                self.out.write_all(b"\n")?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}
