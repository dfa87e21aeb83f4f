//! `mamori incident ...`: the incident desk from the command line (the same desk as the back
//! office's, `mamori_respond::Desk`). Entries made here are by the principal `cli:incident`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use mamori_domain::time::jst;
use mamori_respond::{
    deadlines::jst_date, Desk, EntryKind, IncidentKind, NewIncident, Switch, SwitchChange,
    Switchboard,
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
pub async fn run(gateway: Gateway, cmd: IncidentCmd) -> Result<ExitCode> {
    let desk = Desk::new(gateway);
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
        IncidentCmd::Scope { id } => {
            let snap = desk.compute_scope(id, &actor()).await?;
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
        }
        IncidentCmd::Switch {
            id,
            switch,
            to,
            reason,
            notice_url,
        } => switch_cmd(&desk, id, &switch, &to, reason, notice_url).await?,
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
