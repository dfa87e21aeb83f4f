//! `mamori incident ...`: the incident desk from the command line (the same desk as the back
//! office's, `mamori_respond::Desk`). Entries made here are by the principal `cli:incident`.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use mamori_domain::time::jst;
use mamori_ledger::{LedgerSigner, WitnessFile};
use mamori_respond::evidence;
use mamori_respond::notices::letter::{LetterRenderer, LETTER_BATCH};
use mamori_respond::report::pdf::{PdfRenderer, ReportFonts};
use mamori_respond::{
    deadlines::jst_date, Desk, EntryKind, IncidentKind, NewIncident, NoticeDraft, NoticeOptions,
    ReportKind, Switch, SwitchChange, Switchboard,
};
use mamori_store::{Gateway, Principal};

#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// Open an incident. Times: RFC 3339 (2027-01-08T09:30:00+09:00), or `YYYY-MM-DD HH:MM` /
    /// `YYYY-MM-DD` in Japanese time.
    Open {
        /// database_copied, staff_misuse, payment_page_altered, card_script_altered,
        /// card_data_found or other.
        #[arg(long)]
        kind: String,
        /// 発覚: when the shop knew (starts every deadline).
        #[arg(long)]
        known_at: String,
        /// Start of the suspected window.
        #[arg(long)]
        from: Option<String>,
        /// End of the suspected window.
        #[arg(long)]
        to: Option<String>,
        /// The alert it is opened from (its id).
        #[arg(long)]
        alert: Option<String>,
        /// The staff account suspected (its id), for staff_misuse.
        #[arg(long)]
        principal: Option<String>,
        /// The cause is 不正の目的 (規則7条3号): the 確報 is due in 60 days.
        #[arg(long)]
        malicious: bool,
        /// A short title (default: the kind). No customer's personal data.
        #[arg(long)]
        title: Option<String>,
    },
    /// List incidents, newest first.
    List,
    /// One incident: its deadlines with days left and its timeline.
    Show {
        /// The incident's number.
        id: i64,
    },
    /// Add a note to the timeline (recorded in the ledger). No customer's personal data.
    Note {
        /// The incident's number.
        id: i64,
        /// The note.
        text: String,
    },
    /// Set an incident's state: open, contained or closed (on the timeline).
    State {
        /// The incident's number.
        id: i64,
        /// open, contained or closed.
        state: String,
    },
    /// Compute the scope (who, which data items) against the current ledger tree head, save it
    /// as a snapshot and print its counts.
    Scope {
        /// The incident's number.
        id: i64,
        /// card_data_found: a `mamori scan --format jsonl` report whose findings (brand, masked
        /// number, file) are kept with the scope.
        #[arg(long, value_name = "FILE.jsonl")]
        scan_report: Option<std::path::PathBuf>,
        /// card_data_found: scan these paths now (as `mamori scan` does) and keep the findings.
        #[arg(long, value_name = "PATH", num_args = 1..)]
        scan: Vec<std::path::PathBuf>,
    },
    /// database_copied: answer whether the key file (master key) may have leaked with the copy
    /// (施行規則7条 括弧書き): no, yes or unknown. On the timeline; the next scope says what is
    /// owed.
    KeyLeak {
        /// The incident's number.
        id: i64,
        /// no, yes or unknown.
        answer: String,
    },
    /// Turn a switch for the incident (on the timeline and in the ledger; every running
    /// `mamori serve` on the database applies it within a second): `shop` closes the storefront
    /// (maintenance page), `card` stops card payment only, `staff` freezes every member of
    /// staff but the owners, `keys` rotates the master key and re-wraps the data keys (`on`
    /// only).
    Switch {
        /// The incident's number.
        id: i64,
        /// shop, card, staff or keys.
        switch: String,
        /// on or off.
        to: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        /// For `shop on`: the public notice's URL linked from the maintenance page.
        #[arg(long)]
        notice_url: Option<String>,
    },
    /// Write the report to the PPC (速報 or 確報): the latest saved version (or a draft from the
    /// incident, its scope and the shop settings), as a Japanese PDF or as text for the PPC's
    /// online form.
    Report {
        /// The incident's number.
        id: i64,
        /// sokuho (速報) or kakuho (確報).
        #[arg(long, default_value = "sokuho")]
        kind: String,
        /// pdf or text.
        #[arg(long, default_value = "pdf")]
        format: String,
        /// A saved version's id (default: the latest, or a draft).
        #[arg(long)]
        version: Option<String>,
        /// The directory holding the IPAex fonts (default: Debian's font directories).
        #[arg(long, env = "MAMORI_REPORT_FONT_DIR")]
        font_dir: Option<std::path::PathBuf>,
        /// The file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Notices to individuals (本人通知) by signed mail: `--draft FILE` starts the run (a TOML
    /// file with overview, cause, secondary_harm, what_to_do and desk: the operator's words, no
    /// customer's value), `--resume` queues what a stopped run left, `--status` prints the
    /// counts. The mail worker of `mamori serve` sends them at the run's rate.
    Notify {
        /// The incident's number.
        id: i64,
        /// Start the run with this draft.
        #[arg(long, value_name = "FILE.toml", conflicts_with_all = ["resume", "status"])]
        draft: Option<std::path::PathBuf>,
        /// Notices per minute handed to the mail worker (with --draft).
        #[arg(long, default_value_t = 500)]
        rate: i64,
        /// Queue what a stopped run left.
        #[arg(long, conflicts_with = "status")]
        resume: bool,
        /// Print the run's counts.
        #[arg(long)]
        status: bool,
        /// People per batch (one ledger read event and one transaction each).
        #[arg(long, default_value_t = mamori_respond::notices::BATCH)]
        batch: usize,
    },
    /// Write the print files of the letters to send (notices that bounced for good): per batch
    /// of at most --batch-size letters, a PDF (A4, for 長形3号 window envelopes) and the print
    /// shop's CSV list, in --out (created 0700; files 0600, never overwritten). Each batch's
    /// names and addresses are one read on the ledger; the files are plaintext: delete them
    /// once printed.
    Letters {
        /// The incident's number.
        id: i64,
        /// The directory to write to.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Letters per print file.
        #[arg(long, default_value_t = LETTER_BATCH)]
        batch_size: usize,
        /// The directory holding the IPAex fonts (default: Debian's font directories).
        #[arg(long, env = "MAMORI_REPORT_FONT_DIR")]
        font_dir: Option<std::path::PathBuf>,
    },
    /// Write the incident's evidence pack (tar + zstd, 0600, never overwritten): the ledger
    /// entries of the window with their proofs to the signed tree head (a checkpoint is signed
    /// first), the checkpoints, the witness lines, the alerts, the staff log, the browser
    /// monitor's observations and the file baseline, under a manifest signed with the ledger's
    /// key. `mamori evidence verify FILE --public-key KEY` checks it anywhere.
    Evidence {
        /// The incident's number.
        id: i64,
        /// The file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Write the card companies' / acquirer's list of the payment attempts of the scope's
    /// window (CSV, UTF-8 with a BOM); with --timeline-out, the timeline as a second CSV.
    CardCsv {
        /// The incident's number.
        id: i64,
        /// The file to write.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Where to write the timeline's CSV.
        #[arg(long)]
        timeline_out: Option<std::path::PathBuf>,
    },
}

/// Parses a time as the commands take it.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    match mamori_respond::deadlines::parse_time(s) {
        Some(t) => Ok(t),
        None => bail!(
            "not a time: {s:?} (use 2027-01-08T09:30:00+09:00, or 2027-01-08 09:30 in Japanese time)"
        ),
    }
}

fn show_time(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn actor() -> Principal {
    Principal::System("cli:incident".to_owned())
}

/// Runs one incident command.
pub async fn run(
    gateway: Gateway,
    cmd: IncidentCmd,
    cfg: &crate::config::Config,
) -> Result<ExitCode> {
    let desk = Desk::new(gateway.clone());
    match cmd {
        IncidentCmd::Open {
            kind,
            known_at,
            from,
            to,
            alert,
            principal,
            malicious,
            title,
        } => {
            let Some(kind) = IncidentKind::parse(&kind) else {
                bail!(
                    "unknown kind {kind:?}: use {}",
                    IncidentKind::ALL.map(|k| k.as_str()).join(", ")
                );
            };
            let new = NewIncident {
                kind,
                title: title.unwrap_or_else(|| kind.label_ja().to_owned()),
                known_at: parse_time(&known_at)?,
                window_from: from.as_deref().map(parse_time).transpose()?,
                window_to: to.as_deref().map(parse_time).transpose()?,
                principal,
                malicious,
                alert_id: alert,
            };
            let id = desk.open(&actor(), &new).await?;
            println!(
                "incident {id} opened: {} ({})",
                kind.label_ja(),
                kind.as_str()
            );
            print_deadlines(&desk, id).await?;
        }
        IncidentCmd::List => {
            let rows = desk.list(0, 1000).await?;
            if rows.is_empty() {
                println!("no incidents");
            }
            for r in rows {
                let kind = IncidentKind::parse(&r.kind).unwrap_or(IncidentKind::Other);
                println!(
                    "{:>5}  {:<10} 発覚 {}  {}  {}",
                    r.id,
                    r.state,
                    show_time(r.known_at),
                    kind.label_ja(),
                    r.title
                );
            }
        }
        IncidentCmd::Show { id } => {
            let view = desk.show(id).await?;
            let r = &view.row;
            println!("incident {}: {} ({})", r.id, view.kind.label_ja(), r.kind);
            println!("title: {}", r.title);
            println!("state: {}", r.state);
            println!("発覚 (known at): {} JST", show_time(r.known_at));
            println!(
                "window: {} – {}",
                r.window_from.map(show_time).unwrap_or_else(|| "?".into()),
                r.window_to.map(show_time).unwrap_or_else(|| "?".into())
            );
            if let Some(p) = &r.principal {
                println!("principal: {p}");
            }
            if let Some(a) = &r.alert_id {
                println!("alert: {a}");
            }
            println!(
                "不正の目的 (malicious): {}",
                if r.malicious != 0 { "yes" } else { "no" }
            );
            print_deadlines(&desk, id).await?;
            println!("timeline:");
            for e in &view.timeline {
                println!(
                    "  {:>3}  {} JST  {:<14} {}  {}{}  [ledger #{}]",
                    e.seq,
                    show_time(e.at),
                    EntryKind::label_ja(&e.kind),
                    e.actor,
                    e.text,
                    e.ref_id
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    e.ledger_seq
                );
            }
        }
        IncidentCmd::Note { id, text } => {
            let e = desk.note(id, &actor(), &text).await?;
            println!(
                "note {} added to incident {id} (ledger #{})",
                e.seq, e.ledger_seq
            );
        }
        IncidentCmd::State { id, state } => {
            desk.set_state(id, &actor(), &state).await?;
            println!("incident {id} is now {state}");
        }
        IncidentCmd::KeyLeak { id, answer } => key_leak_cmd(&desk, id, &answer).await?,
        IncidentCmd::Scope {
            id,
            scan_report,
            scan,
        } => {
            let snap = desk
                .compute_scope_with(id, &actor(), card_scan_input(scan_report, &scan)?)
                .await?;
            let s = &snap.scope;
            println!("scope of incident {id} saved as {}", snap.row.id);
            println!(
                "ledger tree head: size {} root {}",
                s.tree.size, s.tree.root
            );
            println!("content SHA-256: {}", snap.row.content_sha256);
            if s.payment_attempts > 0 {
                println!("payment attempts in the window: {}", s.payment_attempts);
            }
            println!("people per category:");
            for (k, n) in &s.categories {
                println!("  {k:<28} {n}");
            }
            println!("people per data item:");
            for (k, n) in &s.data_items {
                println!("  {k:<28} {n}");
            }
            print_scope_kinds(s);
        }
        IncidentCmd::Switch {
            id,
            switch,
            to,
            reason,
            notice_url,
        } => switch_cmd(&desk, id, &switch, &to, reason, notice_url).await?,
        IncidentCmd::Report {
            id,
            kind,
            format,
            version,
            font_dir,
            out,
        } => write_report(&desk, id, &kind, &format, version, font_dir, &out).await?,
        IncidentCmd::Letters {
            id,
            out,
            batch_size,
            font_dir,
        } => write_letters(&desk, id, &out, batch_size, font_dir.as_deref()).await?,
        IncidentCmd::Evidence { id, out } => write_evidence(&desk, &gateway, id, &out, cfg).await?,
        IncidentCmd::CardCsv {
            id,
            out,
            timeline_out,
        } => write_card_csv(&desk, id, &out, timeline_out.as_deref()).await?,
        IncidentCmd::Notify {
            id,
            draft,
            rate,
            resume,
            status,
            batch,
        } => {
            let opts = NoticeOptions {
                bounce_domain: cfg.respond.notices.bounce_domain.clone(),
                batch,
            };
            notify_cmd(&desk, id, draft.as_deref(), rate, resume, status, &opts).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `mamori incident switch N <shop|card|staff|keys> <on|off> --reason ...`.
async fn switch_cmd(
    desk: &Desk,
    id: i64,
    switch: &str,
    to: &str,
    reason: String,
    notice_url: Option<String>,
) -> Result<()> {
    let Some(sw) = Switch::parse(switch) else {
        bail!("unknown switch {switch:?}: use shop, card, staff or keys");
    };
    let on = match to {
        "on" => true,
        "off" => false,
        _ => bail!("use on or off, not {to:?}"),
    };
    let change = SwitchChange {
        switch: sw,
        on,
        reason,
        notice_url,
    };
    let done = Switchboard::default()
        .set(desk, id, &actor(), &change)
        .await?;
    println!(
        "incident {id}: {} (timeline #{}); running `mamori serve` processes apply it within a second",
        sw.label_ja(on),
        done.seq
    );
    if let Some((key, moved)) = done.rotated {
        println!("new active master key {key}; re-wrapped {moved} customer data keys");
    }
    Ok(())
}

/// `mamori incident report`.
async fn write_report(
    desk: &Desk,
    id: i64,
    kind: &str,
    format: &str,
    version: Option<String>,
    font_dir: Option<std::path::PathBuf>,
    out: &std::path::Path,
) -> Result<()> {
    let Some(kind) = ReportKind::parse(kind) else {
        bail!("unknown report kind {kind:?}: use sokuho or kakuho");
    };
    if !matches!(format, "pdf" | "text") {
        bail!("unknown format {format:?}: use pdf or text");
    }
    let report = match version {
        Some(v) => desk.report_version(id, &v).await?,
        None => {
            let settings = desk.shop_settings().await?;
            desk.report_draft(id, kind, Some(&settings)).await?
        }
    };
    let bytes = if format == "pdf" {
        PdfRenderer::new(ReportFonts::locate(font_dir.as_deref())?).render(&report)?
    } else {
        report.to_text().into_bytes()
    };
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let which = match &report.version {
        Some(v) => format!("version {}", v.version),
        None => "draft".to_owned(),
    };
    println!(
        "incident {id}: {} ({which}) written to {} ({} bytes)",
        report.title_ja(),
        out.display(),
        bytes.len()
    );
    Ok(())
}

/// `mamori incident evidence N --out FILE`.
async fn write_evidence(
    desk: &Desk,
    gateway: &Gateway,
    id: i64,
    out: &std::path::Path,
    cfg: &crate::config::Config,
) -> Result<()> {
    if out.exists() {
        bail!(
            "{} exists already; an evidence pack is never overwritten",
            out.display()
        );
    }
    let signer = LedgerSigner::load_key_file(&cfg.ledger_key_file())
        .with_context(|| format!("the ledger key {}", cfg.ledger_key_file().display()))?;
    // Everything recorded so far (this command's own entries too) under a signed head.
    gateway.ledger().checkpoint().await?;
    let witness_notes = WitnessFile::open(&cfg.witness_file()).read_all()?;
    let baseline_path = cfg.guard_baseline_file();
    let file_baseline = match std::fs::read(&baseline_path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", baseline_path.display())),
    };
    let extras = evidence::Extras {
        witness_notes,
        file_baseline,
    };
    let pack = evidence::build(desk, id, &signer, &extras, Utc::now().timestamp()).await?;
    write_private(out, &pack.bytes)?;
    let m = &pack.manifest;
    println!(
        "incident {id}: evidence pack written to {} ({} bytes, {} files): ledger entries {}..{} \
         of the window, proven to the signed tree head of {} entries (root {})",
        out.display(),
        pack.bytes.len(),
        m.files.len() + 2,
        m.entries_from,
        m.entries_to,
        m.tree_head.size,
        m.tree_head.root
    );
    println!("ledger public key: {}", m.public_key);
    println!(
        "verify with: mamori evidence verify {} --public-key {}",
        out.display(),
        m.public_key
    );
    Ok(())
}

/// Writes `bytes` to a new file readable by its owner only (an existing file is not touched).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| {
        format!(
            "creating {} (an existing file is not overwritten)",
            path.display()
        )
    })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// `mamori incident letters`.
async fn write_letters(
    desk: &Desk,
    id: i64,
    out: &std::path::Path,
    batch_size: usize,
    font_dir: Option<&std::path::Path>,
) -> Result<()> {
    // The fonts first: without them nothing is read.
    let renderer = LetterRenderer::new(ReportFonts::locate(font_dir)?);
    let plan = desk.letter_plan(id, batch_size).await?;
    if plan.letters == 0 {
        println!("incident {id}: no letter to send (no notice bounced for good)");
        return Ok(());
    }
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        dir.mode(0o700);
    }
    dir.create(out)
        .with_context(|| format!("creating {}", out.display()))?;
    for n in 1..=plan.batches {
        let input = desk.letter_batch(id, &actor(), n, plan.batch_size).await?;
        if input.letters.is_empty() {
            println!(
                "print file {n}/{}: no one has a postal address ({} notices)",
                plan.batches, input.no_address
            );
            continue;
        }
        let b = renderer.render(&input)?;
        write_private(&out.join(format!("{}.pdf", b.stem())), &b.pdf)?;
        write_private(&out.join(format!("{}.csv", b.stem())), &b.csv)?;
        println!(
            "print file {n}/{}: {} letters ({} without a postal address) written as {}.pdf and .csv",
            plan.batches,
            b.letters,
            b.no_address,
            b.stem()
        );
    }
    Ok(())
}

/// `mamori incident card-csv`.
async fn write_card_csv(
    desk: &Desk,
    id: i64,
    out: &std::path::Path,
    timeline_out: Option<&std::path::Path>,
) -> Result<()> {
    let report = desk.card_report(id).await?;
    std::fs::write(out, report.attempts_csv()?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "incident {id}: {} payment attempts written to {}",
        report.attempts.len(),
        out.display()
    );
    if let Some(t) = timeline_out {
        std::fs::write(t, report.timeline_csv()?)
            .with_context(|| format!("writing {}", t.display()))?;
        println!(
            "incident {id}: {} timeline entries written to {}",
            report.timeline.len(),
            t.display()
        );
    }
    Ok(())
}

async fn print_deadlines(desk: &Desk, id: i64) -> Result<()> {
    let view = desk.show(id).await?;
    let today = jst_date(Utc::now());
    println!("deadlines (today {today}):");
    for d in &view.deadlines {
        let left = d.days_left(today);
        let window = d.from.map(|f| format!("{f} – ")).unwrap_or_default();
        let when = if left >= 0 {
            format!("{left} days left")
        } else {
            format!("{} days overdue", -left)
        };
        println!(
            "  {}: {window}{} ({when}; {})",
            d.kind.label_ja(),
            d.due,
            d.kind.rule_ja()
        );
    }
    Ok(())
}

/// The card scan to keep with a scope: a saved JSON Lines report, or a scan of `paths` run now.
fn card_scan_input(
    report: Option<std::path::PathBuf>,
    paths: &[std::path::PathBuf],
) -> Result<Option<mamori_respond::CardScanScope>> {
    let bytes = match (report, paths.is_empty()) {
        (Some(_), false) => bail!("give either --scan-report or --scan, not both"),
        (Some(file), true) => {
            std::fs::read(&file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?
        }
        (None, false) => {
            let opts = mamori_scan::ScanOptions::default();
            let report = mamori_scan::Scanner::new(opts).scan_paths(paths);
            let mut w = mamori_scan::output::ReportWriter::new(
                Vec::new(),
                mamori_scan::output::Format::Jsonl,
                false,
            );
            for f in &report.findings {
                w.finding(f)?;
            }
            w.finish(&report.summary)?
        }
        (None, true) => return Ok(None),
    };
    Ok(Some(mamori_respond::CardScanScope::from_jsonl(&bytes)?))
}

async fn key_leak_cmd(desk: &Desk, id: i64, answer: &str) -> Result<()> {
    let Some(answer) = mamori_respond::KeyLeak::parse(answer) else {
        bail!("answer no, yes or unknown");
    };
    let e = desk.answer_key_leak(id, &actor(), answer).await?;
    println!(
        "incident {id}: key leak answered {} ({}), timeline #{} (ledger #{}); compute the scope again",
        answer.as_str(),
        answer.label_ja(),
        e.seq,
        e.ledger_seq
    );
    Ok(())
}

/// What the "database copied" and "card data found" scopes add to the counts.
fn print_scope_kinds(s: &mamori_respond::Scope) {
    if let Some(at) = s.stored_at {
        println!("stored at: {} JST", show_time(at));
    }
    for n in &s.notes {
        println!("note: {n}");
    }
    if let Some(a) = &s.appi {
        println!("施行規則7条括弧書き: {}", a.question);
        println!(
            "  answer: {}",
            a.key_leak.map(|k| k.label_ja()).unwrap_or("未回答")
        );
        for o in &a.outcomes {
            println!("  {} → {}", o.answer.label_ja(), o.text);
        }
        println!("  unsealed (none identifies a person alone):");
        for u in &a.unsealed_items {
            println!("    {}: {}", u.item, u.note);
        }
        println!(
            "  report owed: {} ({} people): {}",
            if a.report_owed { "yes" } else { "no" },
            a.reportable_people,
            a.conclusion
        );
    }
    if let Some(c) = &s.card_scan {
        println!(
            "card numbers found: {} ({} distinct), report SHA-256 {}",
            c.findings, c.distinct_masked, c.report_sha256
        );
        for (brand, n) in &c.by_brand {
            println!("  {brand:<20} {n}");
        }
        for f in &c.files {
            println!("  {}  {} ({})", f.location, f.count, f.masked.join(", "));
        }
    }
}

async fn notify_cmd(
    desk: &Desk,
    id: i64,
    draft: Option<&std::path::Path>,
    rate: i64,
    resume: bool,
    status: bool,
    opts: &NoticeOptions,
) -> Result<()> {
    let report = match (draft, resume, status) {
        (Some(file), false, false) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let draft: NoticeDraft =
                toml::from_str(&text).with_context(|| format!("the draft {}", file.display()))?;
            Some(desk.start_notices(id, &actor(), &draft, rate, opts).await?)
        }
        (None, true, false) => Some(desk.resume_notices(id, opts).await?),
        (None, false, true) => None,
        _ => bail!("give one of --draft FILE, --resume or --status"),
    };
    if let Some(r) = report {
        println!(
            "notices: {} people, {} queued now, {} queued before, {} without an address, {} canaries left out",
            r.total, r.queued, r.already, r.unreachable, r.canaries
        );
    }
    match desk.notice_status(id).await? {
        Some(s) => {
            println!(
                "run: started {} by {}, {} per minute, draft sha256 {}",
                show_time(s.run.started_at),
                s.run.started_by,
                s.run.rate_per_min,
                s.run.draft_sha256
            );
            println!(
                "progress: {}/{} queued, {} sent, {} given up, {} bounced (letters to send), {} deferred by the receiver{}",
                s.progress.queued,
                s.run.total,
                s.progress.sent,
                s.progress.dead,
                s.progress.bounced_permanent,
                s.progress.bounced_transient,
                match s.run.completed_at {
                    Some(t) => format!(", complete since {}", show_time(t)),
                    None => ", not complete (run --resume)".to_owned(),
                }
            );
        }
        None => println!("no notice run for incident {id}"),
    }
    Ok(())
}
