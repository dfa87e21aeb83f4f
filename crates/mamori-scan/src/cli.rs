//! The `mamori scan` command line.

use crate::context::Confidence;
use crate::finding::{Event, Summary};
use crate::output::{Format, ReportWriter};
use crate::scanner::{ScanOptions, Scanner};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Parses sizes like `512M`, `64G`, `4096`.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M, G or T)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .map_err(|e| format!("bad size {s:?}: {e}"))?
        .checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}

/// Find payment card numbers in files, backups, exports, databases and mail.
///
/// Reports each card number masked (first six and last four digits) with its location,
/// brand and confidence. Exit status: 0 no findings, 1 findings, 2 errors (unreadable or
/// corrupt input, limits hit) and no findings. Use it in CI and cron: non-zero means act.
#[derive(clap::Args, Debug, Clone)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Report format: human lines, JSON Lines, or a SARIF 2.1.0 log.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Report findings at or above this confidence; lower ones are only counted.
    #[arg(long, value_enum, default_value_t = Confidence::Medium)]
    pub min_confidence: Confidence,

    /// Do not report well-known public test card numbers (4111 1111 1111 1111 and friends).
    #[arg(long)]
    pub ignore_test_cards: bool,

    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, default_value_t = 0)]
    pub threads: usize,

    /// How many archive/compression layers to expand (a .tar.gz counts two).
    #[arg(long, default_value_t = 5)]
    pub max_depth: u32,

    /// Stop a stream whose decompressed size exceeds this many times its compressed size.
    #[arg(long, default_value_t = 250)]
    pub max_ratio: u64,

    /// Most bytes decompressed from one input file, all layers together (K, M, G, T suffixes).
    #[arg(long, default_value = "64G", value_parser = parse_size)]
    pub max_expanded: u64,

    /// Largest nested archive, mail message or office part held in memory.
    #[arg(long, default_value = "512M", value_parser = parse_size)]
    pub max_in_memory: u64,

    /// Follow symbolic links (loops are detected and skipped).
    #[arg(short = 'L', long)]
    pub follow_symlinks: bool,

    /// Scan SQLite files only as raw pages, without opening them row by row.
    #[arg(long)]
    pub no_sqlite_rows: bool,

    /// Never show the progress bar (it is only shown when standard error is a terminal).
    #[arg(long)]
    pub no_progress: bool,

    /// Read size per stream.
    #[arg(long, default_value = "1M", value_parser = parse_size, hide = true)]
    pub buffer_size: u64,
}

impl ScanArgs {
    /// The library options these arguments ask for.
    pub fn options(&self) -> ScanOptions {
        ScanOptions {
            threads: self.threads,
            max_depth: self.max_depth,
            max_ratio: self.max_ratio.max(1),
            max_expanded: self.max_expanded,
            max_in_memory: self.max_in_memory.max(1 << 16),
            min_confidence: self.min_confidence,
            ignore_test_cards: self.ignore_test_cards,
            follow_symlinks: self.follow_symlinks,
            sqlite_rows: !self.no_sqlite_rows,
            buffer_size: usize::try_from(self.buffer_size)
                .unwrap_or(usize::MAX)
                .clamp(1 << 12, 1 << 30),
        }
    }
}

fn progress_bar(enabled: bool) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
    {
        pb.set_style(style);
    }
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(pb)
}

/// Runs a scan as the command line would and returns the process exit code
/// (0 no findings, 1 findings, 2 errors).
pub fn run_cli(args: ScanArgs) -> i32 {
    let out: Box<dyn Write + Send> = match &args.output {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("mamori scan: cannot create {}: {e}", p.display());
                return 2;
            }
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let scanner = Scanner::new(args.options());
    let pb = progress_bar(!args.no_progress);
    let (tx, rx) = crossbeam_channel::unbounded::<Event>();
    let mut writer = ReportWriter::new(out, args.format, true);
    let (summary, write_ok) = std::thread::scope(|s| {
        let pb_ref = pb.as_ref();
        let handle = s.spawn(move || {
            let mut ok = true;
            let mut live = Summary::default();
            for e in rx {
                live.add(&e);
                let res = match &e {
                    Event::Finding(f) => writer.finding(f),
                    Event::Issue(i) => match pb_ref {
                        Some(pb) => pb.suspend(|| writer.issue(i)),
                        None => writer.issue(i),
                    },
                    _ => Ok(()),
                };
                ok &= res.is_ok();
                if let Some(pb) = pb_ref {
                    pb.set_message(format!(
                        "files {}  bytes {}  findings {}  errors {}",
                        live.files,
                        indicatif::HumanBytes(live.bytes),
                        live.findings,
                        live.errors
                    ));
                }
            }
            (writer, ok)
        });
        let summary = scanner.scan_paths_with(&args.paths, &move |e| {
            // The receiver only goes away if the writer thread died; then nothing can be reported.
            let _ = tx.send(e);
        });
        let joined = handle.join();
        (summary, joined)
    });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let Ok((writer, ok)) = write_ok else {
        eprintln!("mamori scan: report writer failed");
        return 2;
    };
    if let Err(e) = writer.finish(&summary) {
        eprintln!("mamori scan: cannot write report: {e}");
        return 2;
    }
    if !ok {
        eprintln!("mamori scan: cannot write report");
        return 2;
    }
    summary.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("64g"), Ok(64 << 30));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
