//! The scanner: walks paths in parallel, recognises formats by their magic bytes and expands
//! compressed streams, archives, office files, mail and SQLite databases, within limits.

use crate::context::Confidence;
use crate::finding::{Event, Finding, Issue, IssueKind, Summary};
use crate::stream::{Hit, StreamError, StreamScanner, DEFAULT_BUFFER};
use rayon::iter::{ParallelBridge, ParallelIterator};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Instant;

/// Expansion below this many bytes is never called a bomb, whatever the ratio.
const RATIO_SLACK: u64 = 1 << 20;

/// Options for a [`Scanner`].
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// How many archive or compression layers are expanded (a `.tar.gz` is two).
    pub max_depth: u32,
    /// Largest allowed decompressed-to-compressed ratio of one stream or archive member.
    pub max_ratio: u64,
    /// Most bytes decompressed from one top-level file, all layers together.
    pub max_expanded: u64,
    /// Largest archive member, mail message or office XML part held in memory.
    pub max_in_memory: u64,
    /// Findings below this level are counted, not reported.
    pub min_confidence: Confidence,
    /// Drop well-known public test card numbers.
    pub ignore_test_cards: bool,
    /// Follow symbolic links while walking (loops are detected and skipped).
    pub follow_symlinks: bool,
    /// Open SQLite files and scan them row by row (table and column named), besides the raw pages.
    pub sqlite_rows: bool,
    /// Read size for streams.
    pub buffer_size: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            max_depth: 5,
            max_ratio: 250,
            max_expanded: 64 << 30,
            max_in_memory: 512 << 20,
            min_confidence: Confidence::Medium,
            ignore_test_cards: false,
            follow_symlinks: false,
            sqlite_rows: true,
            buffer_size: DEFAULT_BUFFER,
        }
    }
}

/// Everything a scan produced, for library callers that want it collected.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Findings in the order they were found (order across files is not fixed).
    pub findings: Vec<Finding>,
    /// Problems with inputs.
    pub issues: Vec<Issue>,
    /// Totals.
    pub summary: Summary,
}

/// Errors while scanning one input. Messages never hold file content.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Opening or reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// A stream failed part way; what came before was scanned.
    #[error("{0}")]
    Stream(#[from] StreamError),
    /// An archive could not be parsed.
    #[error("corrupt archive: {0}")]
    Archive(String),
    /// A size or ratio limit stopped expansion.
    #[error("{0}")]
    Limit(String),
    /// The SQLite database could not be read row by row.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Marker error inside `io::Error` for limit violations, so they are told apart from corruption.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct LimitError(String);

fn limit_of(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|x| x.downcast_ref::<LimitError>())
        .map(|l| l.0.clone())
}

/// Counts the bytes a decoder pulls from its input, for the ratio check.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Stops a decompressed stream that grows past the ratio or the job's remaining budget.
struct Limited<R> {
    inner: R,
    input: Rc<Cell<u64>>,
    produced: u64,
    max_ratio: u64,
    budget: Rc<Cell<u64>>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let left = self.budget.get();
        if n as u64 > left {
            return Err(io::Error::other(LimitError(format!(
                "decompressed size limit reached after {} bytes",
                self.produced
            ))));
        }
        self.budget.set(left - n as u64);
        if self.produced > RATIO_SLACK
            && self.produced > self.input.get().max(1).saturating_mul(self.max_ratio)
        {
            return Err(io::Error::other(LimitError(format!(
                "compression ratio above {} after {} bytes (decompression bomb?)",
                self.max_ratio, self.produced
            ))));
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    Zip,
    Tar,
    Sqlite,
    Mbox,
    Eml,
    Plain,
}

impl Kind {
    fn is_container(self) -> bool {
        !matches!(self, Kind::Plain | Kind::Sqlite)
    }
}

fn looks_like_mail(head: &[u8]) -> bool {
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(colon) = first.iter().position(|&b| b == b':') else {
        return false;
    };
    if colon == 0
        || !first[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return false;
    }
    let lower = head.to_ascii_lowercase();
    let fields: &[&[u8]] = &[
        b"from:",
        b"to:",
        b"subject:",
        b"date:",
        b"message-id:",
        b"mime-version:",
        b"received:",
        b"return-path:",
        b"content-type:",
    ];
    let hits = fields
        .iter()
        .filter(|f| {
            lower.starts_with(f) || memchr::memmem::find(&lower, &[b"\n", **f].concat()).is_some()
        })
        .count();
    hits >= 2
}

fn sniff(head: &[u8], name: &str) -> Kind {
    let lname = name.to_ascii_lowercase();
    if head.starts_with(&[0x1F, 0x8B]) {
        Kind::Gzip
    } else if head.starts_with(b"BZh") && head.len() > 3 && head[3].is_ascii_digit() {
        Kind::Bzip2
    } else if head.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
        Kind::Xz
    } else if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        Kind::Zstd
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Kind::Zip
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Kind::Tar
    } else if head.starts_with(b"SQLite format 3\0") {
        Kind::Sqlite
    } else if head.starts_with(b"From ") || lname.ends_with(".mbox") {
        Kind::Mbox
    } else if lname.ends_with(".eml") || looks_like_mail(head) {
        Kind::Eml
    } else {
        Kind::Plain
    }
}

fn strip_ext(name: &str) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => name[..i].to_string(),
        _ => name.to_string(),
    }
}

/// Reads up to `buf.len()` bytes, fewer only at end of stream.
fn read_head(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A card-number scanner. Cheap to create; scans run in parallel on a rayon pool.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    opts: ScanOptions,
}

thread_local! {
    static STREAM: RefCell<Option<StreamScanner>> = const { RefCell::new(None) };
}

impl Scanner {
    /// A scanner with the given options.
    pub fn new(opts: ScanOptions) -> Self {
        Self { opts }
    }

    /// The options in force.
    pub fn options(&self) -> &ScanOptions {
        &self.opts
    }

    /// Scans files and directory trees (`-` is standard input) and collects everything.
    pub fn scan_paths(&self, paths: &[PathBuf]) -> Report {
        let report = Mutex::new(Report::default());
        let summary = self.scan_paths_with(paths, &|e| {
            if let Ok(mut r) = report.lock() {
                match e {
                    Event::Finding(f) => r.findings.push(f),
                    Event::Issue(i) => r.issues.push(i),
                    _ => {}
                }
            }
        });
        let mut r = report.into_inner().unwrap_or_else(|p| p.into_inner());
        r.summary = summary;
        r
    }

    /// Scans files and directory trees, delivering events as they happen (from worker threads).
    pub fn scan_paths_with(&self, paths: &[PathBuf], sink: &(dyn Fn(Event) + Sync)) -> Summary {
        let start = Instant::now();
        let summary = Mutex::new(Summary::default());
        let counted = |e: Event| {
            if let Ok(mut s) = summary.lock() {
                s.add(&e);
            }
            sink(e);
        };
        let run = || {
            for p in paths {
                if p.as_os_str() == "-" {
                    let stdin = io::stdin();
                    let mut lock = stdin.lock();
                    self.scan_reader_with("-", &mut lock, &counted);
                    continue;
                }
                self.walk(p, &counted);
            }
        };
        match rayon::ThreadPoolBuilder::new()
            .num_threads(self.opts.threads)
            .build()
        {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        }
        let mut s = summary.into_inner().unwrap_or_else(|p| p.into_inner());
        s.elapsed_ms = start.elapsed().as_millis() as u64;
        s
    }

    /// Scans one stream (standard input, or data from elsewhere) under the display name `name`.
    pub fn scan_reader_with(&self, name: &str, r: &mut dyn Read, sink: &(dyn Fn(Event) + Sync)) {
        let mut job = self.job(name, sink);
        let mut chain = Vec::new();
        if let Err(e) = job.scan_stream(&mut chain, r, 0, name, None) {
            job.report_error(&chain, &e);
        }
        job.finish();
        sink(Event::FileDone);
    }

    /// Scans an in-memory byte slice (any supported format) and collects everything.
    pub fn scan_bytes(&self, name: &str, data: &[u8]) -> Report {
        let report = Mutex::new(Report::default());
        let summary = Mutex::new(Summary::default());
        self.scan_reader_with(name, &mut Cursor::new(data), &|e| {
            if let Ok(mut s) = summary.lock() {
                s.add(&e);
            }
            if let Ok(mut r) = report.lock() {
                match e {
                    Event::Finding(f) => r.findings.push(f),
                    Event::Issue(i) => r.issues.push(i),
                    _ => {}
                }
            }
        });
        let mut r = report.into_inner().unwrap_or_else(|p| p.into_inner());
        r.summary = summary.into_inner().unwrap_or_else(|p| p.into_inner());
        r
    }

    fn job<'a>(&'a self, path: &str, sink: &'a (dyn Fn(Event) + Sync)) -> Job<'a> {
        let mut stream = STREAM
            .with(|s| s.borrow_mut().take())
            .unwrap_or_else(|| StreamScanner::new(self.opts.buffer_size));
        // Only reported findings need a line number (`emit` drops the rest).
        stream.line_min_confidence = self.opts.min_confidence;
        Job {
            ctx: JobCtx {
                opts: &self.opts,
                path: path.to_string(),
                sink,
                hasher: RandomState::new(),
            },
            stream,
            state: JobState {
                budget: Rc::new(Cell::new(self.opts.max_expanded)),
                row_seen: HashSet::new(),
                dedupe_raw: false,
                below_threshold: 0,
                test_cards_ignored: 0,
            },
        }
    }

    fn walk(&self, root: &Path, sink: &(dyn Fn(Event) + Sync)) {
        let walker = walkdir::WalkDir::new(root).follow_links(self.opts.follow_symlinks);
        walker.into_iter().par_bridge().for_each(|entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().unwrap_or(root).display().to_string();
                    let (kind, message) = if e.loop_ancestor().is_some() {
                        (
                            IssueKind::Skipped,
                            "symbolic link loop: skipped".to_string(),
                        )
                    } else {
                        (
                            IssueKind::Unreadable,
                            format!(
                                "cannot read: {}",
                                e.io_error()
                                    .map_or_else(|| e.to_string(), |io| io.to_string())
                            ),
                        )
                    };
                    sink(Event::Issue(Issue {
                        path,
                        members: Vec::new(),
                        kind,
                        message,
                    }));
                    return;
                }
            };
            let ft = entry.file_type();
            if ft.is_dir() || ft.is_symlink() {
                // Symlinks are only seen here when not following them.
                return;
            }
            if !ft.is_file() {
                sink(Event::Issue(Issue {
                    path: entry.path().display().to_string(),
                    members: Vec::new(),
                    kind: IssueKind::Skipped,
                    message: "not a regular file (device, socket or FIFO): skipped".into(),
                }));
                return;
            }
            self.scan_file(entry.path(), sink);
        });
    }

    /// Scans one file on disk.
    pub fn scan_file(&self, path: &Path, sink: &(dyn Fn(Event) + Sync)) {
        let display = path.display().to_string();
        let mut job = self.job(&display, sink);
        let mut chain = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut f) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Err(e) = job.scan_stream(&mut chain, &mut f, 0, &name, Some(path)) {
                    job.report_error(&chain, &e);
                }
            }
            Err(e) => job.report_error(&chain, &ScanError::Io(e)),
        }
        job.finish();
        sink(Event::FileDone);
    }
}

struct JobCtx<'a> {
    opts: &'a ScanOptions,
    path: String,
    sink: &'a (dyn Fn(Event) + Sync),
    hasher: RandomState,
}

struct JobState {
    budget: Rc<Cell<u64>>,
    /// Keyed hashes of numbers already reported from SQLite rows, so the raw-page pass does not
    /// report them again. Only hashes are kept, never the digits.
    row_seen: HashSet<u64>,
    dedupe_raw: bool,
    /// Counted here and sent once per file: look-alikes can number millions.
    below_threshold: u64,
    test_cards_ignored: u64,
}

/// Where a hit came from, beyond the member chain.
#[derive(Clone, Copy)]
struct RowRef<'a> {
    table: &'a str,
    column: &'a str,
    row: u64,
}

struct Job<'a> {
    ctx: JobCtx<'a>,
    stream: StreamScanner,
    state: JobState,
}

impl JobCtx<'_> {
    fn emit(&self, state: &mut JobState, chain: &[String], hit: Hit, row: Option<RowRef<'_>>) {
        let c = &hit.candidate;
        // Hashed only where the raw-page dedupe needs it: plain text yields a hit per look-alike.
        if row.is_some() {
            // Same number in another row is still reported; this only marks it for the raw pass.
            state.row_seen.insert(self.hasher.hash_one(c.digits()));
        } else if state.dedupe_raw && state.row_seen.contains(&self.hasher.hash_one(c.digits())) {
            return;
        }
        let a = hit.assessment;
        if a.test_card && self.opts.ignore_test_cards {
            state.test_cards_ignored += 1;
            return;
        }
        if a.confidence < self.opts.min_confidence {
            state.below_threshold += 1;
            return;
        }
        (self.sink)(Event::Finding(Finding {
            path: self.path.clone(),
            members: chain.to_vec(),
            offset: hit.offset,
            line: hit.line,
            table: row.map(|r| r.table.to_string()),
            column: row.map(|r| r.column.to_string()),
            row: row.map(|r| r.row),
            brand: c.brand,
            masked: c.masked(),
            digits: c.digits().len() as u8,
            kind: a.kind,
            encoding: c.encoding,
            confidence: a.confidence,
            score: a.score,
            test_card: a.test_card,
            reasons: a.reasons,
        }));
    }

    fn issue(&self, chain: &[String], kind: IssueKind, message: String) {
        (self.sink)(Event::Issue(Issue {
            path: self.path.clone(),
            members: chain.to_vec(),
            kind,
            message,
        }));
    }
}

impl Job<'_> {
    fn finish(self) {
        if self.state.below_threshold > 0 {
            (self.ctx.sink)(Event::BelowThreshold(self.state.below_threshold));
        }
        if self.state.test_cards_ignored > 0 {
            (self.ctx.sink)(Event::TestCardIgnored(self.state.test_cards_ignored));
        }
        let stream = self.stream;
        STREAM.with(|s| *s.borrow_mut() = Some(stream));
    }

    fn report_error(&self, chain: &[String], e: &ScanError) {
        let kind = match e {
            ScanError::Io(_) if chain.is_empty() => IssueKind::Unreadable,
            ScanError::Stream(s) if limit_of(&s.source).is_some() => IssueKind::Limit,
            ScanError::Stream(_) if chain.is_empty() => IssueKind::Unreadable,
            ScanError::Limit(_) => IssueKind::Limit,
            _ => IssueKind::Corrupt,
        };
        let message = match e {
            ScanError::Stream(s) => match limit_of(&s.source) {
                Some(l) => format!("{l}; the {} bytes before were scanned", s.read_so_far),
                None => format!(
                    "read failed after {} bytes (those were scanned): {}",
                    s.read_so_far, s.source
                ),
            },
            other => other.to_string(),
        };
        self.ctx.issue(chain, kind, message);
    }

    /// Plain streaming scan of `r`.
    fn scan_plain(
        &mut self,
        chain: &[String],
        r: &mut dyn Read,
        label: Option<&str>,
    ) -> Result<(), ScanError> {
        let Job { ctx, stream, state } = self;
        stream.scan_read(
            r,
            label,
            &mut |hit| ctx.emit(state, chain, hit, None),
            &mut |n| (ctx.sink)(Event::Bytes(n)),
        )?;
        Ok(())
    }

    fn scan_slice(&mut self, chain: &[String], data: &[u8]) {
        let Job { ctx, stream, state } = self;
        (ctx.sink)(Event::Bytes(data.len() as u64));
        stream.scan_slice(data, None, &mut |hit| ctx.emit(state, chain, hit, None));
    }

    fn limited<'r, R: Read + 'r>(&self, inner: R, input: Rc<Cell<u64>>) -> Limited<R> {
        Limited {
            inner,
            input,
            produced: 0,
            max_ratio: self.ctx.opts.max_ratio,
            budget: self.state.budget.clone(),
        }
    }

    /// Recognises the format of `r` and scans it, expanding containers up to the depth limit.
    fn scan_stream(
        &mut self,
        chain: &mut Vec<String>,
        r: &mut dyn Read,
        depth: u32,
        name: &str,
        disk: Option<&Path>,
    ) -> Result<(), ScanError> {
        let mut head_buf = [0u8; 1024];
        let hn = read_head(r, &mut head_buf)?;
        let head = &head_buf[..hn];
        let kind = sniff(head, name);
        let mut whole = Cursor::new(head).chain(r);
        if kind.is_container() && depth >= self.ctx.opts.max_depth {
            self.ctx.issue(
                chain,
                IssueKind::Depth,
                format!(
                    "nested deeper than {} levels: scanned without expanding",
                    self.ctx.opts.max_depth
                ),
            );
            return self.scan_plain(chain, &mut whole, None);
        }
        match kind {
            Kind::Gzip | Kind::Bzip2 | Kind::Xz | Kind::Zstd => {
                let input = Rc::new(Cell::new(0));
                let counted = Counting {
                    inner: whole,
                    count: input.clone(),
                };
                let mut dec: Box<dyn Read + '_> = match kind {
                    Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
                    Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
                    Kind::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(counted)),
                    _ => Box::new(zstd::stream::read::Decoder::new(counted)?),
                };
                let mut lim = self.limited(&mut dec, input);
                self.scan_stream(chain, &mut lim, depth + 1, &strip_ext(name), None)
            }
            Kind::Tar => self.scan_tar(chain, &mut whole, depth),
            Kind::Zip => match disk {
                Some(path) => {
                    let f = std::fs::File::open(path)?;
                    let ar = zip::ZipArchive::new(BufReader::new(f))
                        .map_err(|e| ScanError::Archive(e.to_string()))?;
                    self.scan_zip(chain, ar, depth)
                }
                None => {
                    let cap = self.ctx.opts.max_in_memory;
                    let mut data = Vec::new();
                    (&mut whole).take(cap + 1).read_to_end(&mut data)?;
                    if data.len() as u64 > cap {
                        self.ctx.issue(
                            chain,
                            IssueKind::Limit,
                            format!(
                                "nested zip larger than {cap} bytes: scanned raw, not expanded"
                            ),
                        );
                        return self.scan_plain(chain, &mut Cursor::new(data).chain(whole), None);
                    }
                    match zip::ZipArchive::new(Cursor::new(&data[..])) {
                        Ok(ar) => self.scan_zip(chain, ar, depth),
                        Err(e) => {
                            self.ctx.issue(
                                chain,
                                IssueKind::Corrupt,
                                format!("corrupt zip ({e}): scanned raw"),
                            );
                            self.scan_plain(chain, &mut Cursor::new(&data[..]), None)
                        }
                    }
                }
            },
            Kind::Sqlite => {
                if let (Some(path), true) = (disk, self.ctx.opts.sqlite_rows) {
                    match self.scan_sqlite_rows(chain, path) {
                        Ok(()) => self.state.dedupe_raw = true,
                        Err(e) => self.report_error(chain, &e),
                    }
                }
                // Raw pages too: deleted rows and free pages keep old data.
                self.stream.raw_db_page = self.state.dedupe_raw;
                let res = self.scan_plain(chain, &mut whole, None);
                self.stream.raw_db_page = false;
                self.state.dedupe_raw = false;
                res
            }
            Kind::Mbox => self.scan_mbox(chain, &mut whole, depth),
            Kind::Eml => {
                let data = self.read_bounded(chain, &mut whole)?;
                self.scan_mail(chain, &data, depth)
            }
            Kind::Plain => self.scan_plain(chain, &mut whole, None),
        }
    }

    fn read_bounded(&mut self, chain: &[String], r: &mut dyn Read) -> Result<Vec<u8>, ScanError> {
        let cap = self.ctx.opts.max_in_memory;
        let mut data = Vec::new();
        r.take(cap).read_to_end(&mut data)?;
        if data.len() as u64 >= cap {
            self.ctx.issue(
                chain,
                IssueKind::Limit,
                format!("larger than {cap} bytes: the rest is scanned as plain data"),
            );
            self.scan_plain(chain, r, None)?;
        }
        Ok(data)
    }

    fn scan_tar(
        &mut self,
        chain: &mut Vec<String>,
        r: &mut dyn Read,
        depth: u32,
    ) -> Result<(), ScanError> {
        let mut ar = tar::Archive::new(r);
        let entries = ar
            .entries()
            .map_err(|e| ScanError::Archive(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| ScanError::Archive(e.to_string()))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "?".into());
            chain.push(name.clone());
            let res = self.scan_stream(chain, &mut entry, depth + 1, &name, None);
            let fatal = matches!(&res, Err(ScanError::Stream(_)) | Err(ScanError::Io(_)));
            if let Err(e) = res {
                self.report_error(chain, &e);
            }
            chain.pop();
            if fatal {
                // The outer stream is broken: later entries cannot be reached.
                return Err(ScanError::Archive(
                    "archive ended early; members before were scanned".into(),
                ));
            }
        }
        Ok(())
    }

    fn scan_zip<R: Read + Seek>(
        &mut self,
        chain: &mut Vec<String>,
        mut ar: zip::ZipArchive<R>,
        depth: u32,
    ) -> Result<(), ScanError> {
        let ooxml = ar.index_for_name("[Content_Types].xml").is_some();
        for i in 0..ar.len() {
            let mut f = match ar.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.ctx
                        .issue(chain, IssueKind::Corrupt, format!("zip member {i}: {e}"));
                    continue;
                }
            };
            if f.is_dir() {
                continue;
            }
            let name = f.name().to_string();
            let (size, comp) = (f.size(), f.compressed_size());
            chain.push(name.clone());
            if size > RATIO_SLACK && size > comp.max(1).saturating_mul(self.ctx.opts.max_ratio) {
                self.ctx.issue(
                    chain,
                    IssueKind::Limit,
                    format!("declared ratio {size}:{comp} above the limit: not expanded"),
                );
                chain.pop();
                continue;
            }
            let input = Rc::new(Cell::new(comp));
            let mut lim = self.limited(&mut f, input);
            let lname = name.to_ascii_lowercase();
            let res = if ooxml && (lname.ends_with(".xml") || lname.ends_with(".rels")) {
                self.scan_xml(chain, &mut lim)
            } else {
                self.scan_stream(chain, &mut lim, depth + 1, &name, None)
            };
            if let Err(e) = res {
                self.report_error(chain, &e);
            }
            chain.pop();
        }
        Ok(())
    }

    /// Text of an office XML part: element text joined within paragraphs (Word splits a number
    /// across runs at will), a line break after each paragraph, cell or shared string.
    fn scan_xml(&mut self, chain: &[String], r: &mut dyn Read) -> Result<(), ScanError> {
        use quick_xml::events::Event as X;
        let cap = self.ctx.opts.max_in_memory as usize;
        let mut reader = quick_xml::Reader::from_reader(BufReader::new(r));
        let mut buf = Vec::new();
        let mut text = String::new();
        let mut err = None;
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(X::Text(t)) => match t.unescape() {
                    Ok(s) => text.push_str(&s),
                    Err(_) => text.push_str(&String::from_utf8_lossy(&t)),
                },
                Ok(X::CData(c)) => text.push_str(&String::from_utf8_lossy(&c)),
                Ok(X::End(e)) => {
                    if matches!(
                        e.local_name().as_ref(),
                        b"p" | b"si" | b"c" | b"row" | b"tr" | b"tc"
                    ) {
                        text.push('\n');
                    }
                }
                Ok(X::Empty(e)) => {
                    if matches!(e.local_name().as_ref(), b"br" | b"tab" | b"cr") {
                        text.push('\n');
                    }
                }
                Ok(X::Eof) => break,
                Ok(_) => {}
                Err(e) => {
                    err = Some(ScanError::Archive(format!("XML: {e}")));
                    break;
                }
            }
            buf.clear();
            if text.len() > cap {
                err = Some(ScanError::Limit(format!(
                    "XML text larger than {cap} bytes: the rest was not scanned"
                )));
                break;
            }
        }
        self.scan_slice(chain, text.as_bytes());
        err.map_or(Ok(()), Err)
    }

    fn scan_mbox(
        &mut self,
        chain: &mut Vec<String>,
        r: &mut dyn Read,
        depth: u32,
    ) -> Result<(), ScanError> {
        let it = mail_parser::mailbox::mbox::MessageIterator::new(r);
        for (i, msg) in it.enumerate() {
            chain.push(format!("message {}", i + 1));
            match msg {
                Ok(m) => {
                    if let Err(e) = self.scan_mail(chain, m.contents(), depth + 1) {
                        self.report_error(chain, &e);
                    }
                }
                Err(e) => {
                    chain.pop();
                    return Err(ScanError::Io(e));
                }
            }
            chain.pop();
        }
        Ok(())
    }

    /// One RFC 5322 message: headers raw, text parts decoded (base64, quoted-printable, charsets),
    /// attachments expanded like files, attached messages recursively.
    fn scan_mail(
        &mut self,
        chain: &mut Vec<String>,
        data: &[u8],
        depth: u32,
    ) -> Result<(), ScanError> {
        let Some(msg) = mail_parser::MessageParser::default().parse(data) else {
            self.scan_slice(chain, data);
            return Ok(());
        };
        use mail_parser::{MimeHeaders, PartType};
        let header_end = msg
            .parts
            .first()
            .map_or(0, |p| p.offset_body)
            .min(data.len());
        chain.push("headers".into());
        self.scan_slice(chain, &data[..header_end]);
        if let Some(subject) = msg.subject() {
            self.scan_slice(chain, subject.as_bytes());
        }
        chain.pop();
        for (i, part) in msg.parts.iter().enumerate() {
            let label = part
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("part {}", i + 1));
            chain.push(label.clone());
            match &part.body {
                PartType::Text(t) | PartType::Html(t) => self.scan_slice(chain, t.as_bytes()),
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    if let Err(e) = self.scan_stream(
                        chain,
                        &mut Cursor::new(b.as_ref()),
                        depth + 1,
                        &label,
                        None,
                    ) {
                        self.report_error(chain, &e);
                    }
                }
                PartType::Message(m) => {
                    if depth + 1 >= self.ctx.opts.max_depth {
                        self.scan_slice(chain, m.raw_message());
                    } else if let Err(e) = self.scan_mail(chain, m.raw_message(), depth + 1) {
                        self.report_error(chain, &e);
                    }
                }
                PartType::Multipart(_) => {}
            }
            chain.pop();
        }
        Ok(())
    }

    /// Opens a SQLite file read-only and scans every value of every table, naming table and column.
    fn scan_sqlite_rows(&mut self, chain: &[String], path: &Path) -> Result<(), ScanError> {
        use rusqlite::{types::ValueRef, Connection, OpenFlags};
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // immutable=1: no locks, no journal or -shm files created next to evidence.
        let conn = match path.to_str() {
            Some(p) => {
                let enc = p
                    .replace('%', "%25")
                    .replace('?', "%3f")
                    .replace('#', "%23");
                Connection::open_with_flags(
                    format!("file:{enc}?immutable=1"),
                    flags | OpenFlags::SQLITE_OPEN_URI,
                )?
            }
            None => Connection::open_with_flags(path, flags)?,
        };
        let tables: Vec<String> = {
            let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
            let names = st.query_map([], |r| r.get::<_, String>(0))?;
            names.filter_map(Result::ok).collect()
        };
        for table in tables {
            let sql = format!("SELECT * FROM \"{}\"", table.replace('"', "\"\""));
            let mut st = match conn.prepare(&sql) {
                Ok(s) => s,
                Err(e) => {
                    self.ctx
                        .issue(chain, IssueKind::Corrupt, format!("table {table}: {e}"));
                    continue;
                }
            };
            let cols: Vec<String> = st.column_names().into_iter().map(str::to_string).collect();
            let mut rows = st.query([])?;
            let mut rowno = 0u64;
            let mut text = String::new();
            loop {
                let row = match rows.next() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        self.ctx
                            .issue(chain, IssueKind::Corrupt, format!("table {table}: {e}"));
                        break;
                    }
                };
                rowno += 1;
                for (ci, col) in cols.iter().enumerate() {
                    let bytes: &[u8] = match row.get_ref(ci) {
                        Ok(ValueRef::Text(b)) | Ok(ValueRef::Blob(b)) => b,
                        Ok(ValueRef::Integer(v)) if v.unsigned_abs() >= 1_000_000_000_000 => {
                            text.clear();
                            text.push_str(&v.to_string());
                            text.as_bytes()
                        }
                        _ => continue,
                    };
                    let Job { ctx, stream, state } = &mut *self;
                    let rr = RowRef {
                        table: &table,
                        column: col,
                        row: rowno,
                    };
                    stream.scan_slice(bytes, Some(col), &mut |hit| {
                        ctx.emit(state, chain, hit, Some(rr))
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0x1F, 0x8B, 8], "x"), Kind::Gzip);
        assert_eq!(sniff(b"BZh91AY", "x"), Kind::Bzip2);
        assert_eq!(
            sniff(b"From a@b Mon Jan 1 00:00:00 2024\n", "x"),
            Kind::Mbox
        );
        assert_eq!(
            sniff(b"From: a@b\nTo: c@d\nSubject: x\n\nbody", "x"),
            Kind::Eml
        );
        assert_eq!(sniff(b"Date: today\nsome log\n", "log.txt"), Kind::Plain);
        assert_eq!(sniff(b"hello", "x.txt"), Kind::Plain);
        assert_eq!(sniff(b"SQLite format 3\0....", "db"), Kind::Sqlite);
    }

    #[test]
    fn ratio_limit_stops_a_bomb() {
        let zeros = vec![b'0'; 64 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &zeros).unwrap();
        let data = gz.finish().unwrap();
        let r = Scanner::default().scan_bytes("bomb.gz", &data);
        assert_eq!(r.issues.len(), 1, "{:?}", r.issues);
        assert_eq!(r.issues[0].kind, IssueKind::Limit);
        assert!(r.summary.bytes < 64 << 20);
    }
}
