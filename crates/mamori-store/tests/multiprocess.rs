//! Two `mamori` processes appending to one PostgreSQL at the same time keep one linear log that
//! verifies and holds every event. The test binary runs itself twice as the appending processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, ExitCode};

use mamori_ledger::LedgerSigner;
use mamori_store::access::{AccessEvent, Action};
use mamori_store::{open_store, Accessor, Ledger, LedgerConfig};

const EVENTS_PER_PROCESS: usize = 600;
const TASKS: usize = 24;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("--child") {
        rt.block_on(child(&args[2], Path::new(&args[3]), &args[4]));
        return ExitCode::SUCCESS;
    }
    match rt.block_on(parent()) {
        Ok(()) => {
            println!("multiprocess: 1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("multiprocess: two processes appending to one PostgreSQL: FAILED: {e}");
            println!("multiprocess: 0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

async fn child(url: &str, dir: &Path, tag: &str) {
    let store = open_store(url).await.unwrap();
    let signer = LedgerSigner::load_key_file(&dir.join("ledger.key")).unwrap();
    let ledger = Ledger::start(store, signer, LedgerConfig::new(dir.join("witness.jsonl")));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let ledger = ledger.clone();
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            for i in (t..EVENTS_PER_PROCESS).step_by(TASKS) {
                let acc = Accessor::system(&tag, &format!("{tag}-{i}"));
                let ev = AccessEvent::new(
                    &acc,
                    Action::Read,
                    vec![format!("c{i}")],
                    &["customers.name"],
                );
                ledger.record(&ev).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ledger.checkpoint().await.unwrap();
}

async fn parent() -> Result<(), String> {
    let url = mamori_testkit::fresh_pg_database()
        .await
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = open_store(&url).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let signer = LedgerSigner::create_key_file(&dir.path().join("ledger.key"), "mamori-ledger")
        .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let spawn = |tag: &str| {
        Command::new(&exe)
            .args(["--child", &url])
            .arg(dir.path())
            .arg(tag)
            .spawn()
            .map_err(|e| e.to_string())
    };
    let mut a = spawn("proc-a")?;
    let mut b = spawn("proc-b")?;
    let (sa, sb) = (
        a.wait().map_err(|e| e.to_string())?,
        b.wait().map_err(|e| e.to_string())?,
    );
    if !sa.success() || !sb.success() {
        return Err(format!("an appending process failed: {sa}, {sb}"));
    }
    let report = mamori_store::ledger::verify(
        store.as_ref(),
        &signer.verifier(),
        &dir.path().join("witness.jsonl"),
    )
    .await
    .map_err(|e| e.to_string())?
    .map_err(|b| format!("the shared log does not verify: {b}"))?;
    if report.size != 2 * EVENTS_PER_PROCESS as u64 {
        return Err(format!(
            "log holds {} entries, expected {}",
            report.size,
            2 * EVENTS_PER_PROCESS
        ));
    }
    if report.witness_checkpoints_checked < 2 {
        return Err("both processes should have written checkpoints to the witness".into());
    }
    let rows = store
        .ledger_entries(0, 10_000)
        .await
        .map_err(|e| e.to_string())?;
    let purposes: HashSet<String> = rows
        .iter()
        .map(|r| AccessEvent::from_bytes(&r.event).unwrap().purpose)
        .collect();
    for tag in ["proc-a", "proc-b"] {
        for i in 0..EVENTS_PER_PROCESS {
            if !purposes.contains(&format!("{tag}-{i}")) {
                return Err(format!("event {i} of {tag} is missing"));
            }
        }
    }
    // How much the two processes' batches interleaved (informational).
    let switches = rows
        .windows(2)
        .filter(|w| {
            let a = AccessEvent::from_bytes(&w[0].event).unwrap().purpose;
            let b = AccessEvent::from_bytes(&w[1].event).unwrap().purpose;
            a[..6] != b[..6]
        })
        .count();
    println!(
        "multiprocess: {} entries from 2 processes, {switches} switches between them, verified",
        report.size
    );
    Ok(())
}
