//! Project tasks. `cargo xtask test` is the one test command: it installs what the tests need
//! (Debian packages and the cargo tools `cargo-deny` and `cargo-machete`, when missing), checks
//! the formatting (`cargo fmt --check`), the dependency tree (`cargo deny`: licences, advisories,
//! bans with duplicate versions as warnings, sources) and unused dependencies (`cargo machete`),
//! starts a throwaway PostgreSQL for the whole run, runs clippy and every test on both databases,
//! then the drills (`cargo xtask drill`), and stops what it started; then, when all of that
//! passed, runs each fuzz target briefly (`cargo xtask fuzz`).

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the system packages the tests need (apt-get, as root).
    Setup,
    /// Everything CI runs: setup, formatting, dependency checks, clippy, all tests on SQLite
    /// and PostgreSQL, the drills, then a short fuzz run.
    Test {
        /// Extra arguments passed to `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The drills: each breach notice replayed against real `mamori serve` processes (SQLite and
    /// PostgreSQL, Chromium, the sandbox provider, SMTP), one at a time; the times go to
    /// `<target>/drill-report.md` (and `.jsonl`).
    Drill {
        /// Extra arguments passed to `cargo test` (e.g. a drill name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the fuzz targets (cargo-fuzz, libFuzzer; `fuzz/`) and run each for a while, failing
    /// if any crashes. Installs cargo-fuzz when missing.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = FUZZ_SECONDS)]
        seconds: u64,
        /// Only these targets (all of them when none is named).
        targets: Vec<String>,
    },
    /// Run the criterion benchmarks (see BENCHMARKS.md for the figures).
    Bench {
        /// Arguments passed to `cargo bench` (e.g. `-p mamori-store --bench ledger`); the whole
        /// workspace when there are none.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Debian packages the test suite needs, with a file that shows each is installed.
const PACKAGES: &[(&str, &str)] = &[
    ("postgresql", "/usr/lib/postgresql"),
    // End-to-end tests drive Debian's Chromium; the CJK fonts make the screenshots legible.
    ("chromium", "/usr/bin/chromium"),
    (
        "fonts-noto-cjk",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ),
    // The incident desk's PDF reports: typst with the IPAex fonts (read at run time), and
    // pdftotext to read the Japanese text back out of a rendered report in the tests.
    (
        "fonts-ipaexfont-gothic",
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    ),
    (
        "fonts-ipaexfont-mincho",
        "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
    ),
    ("poppler-utils", "/usr/bin/pdftotext"),
    // The incident notices' test checks their DKIM signatures with an independent verifier.
    ("python3-dkim", "/usr/bin/dkimverify"),
    // webauthn-rs (staff passkeys) links OpenSSL.
    ("libssl-dev", "/usr/include/openssl/ssl.h"),
    ("pkg-config", "/usr/bin/pkg-config"),
];

/// Cargo tools the checks need: (subcommand, crate that installs `cargo-<subcommand>`).
const CARGO_TOOLS: &[(&str, &str)] = &[
    ("deny", "cargo-deny"),
    ("machete", "cargo-machete"),
    ("fuzz", "cargo-fuzz"),
];

/// Seconds each fuzz target runs by default (and in `cargo xtask test`).
const FUZZ_SECONDS: u64 = 20;

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Setup => setup(),
        Cmd::Test { args } => test(&args),
        Cmd::Drill { args } => {
            setup()?;
            let cluster = mamori_testkit::start_cluster(Some(std::process::id()))?;
            let result = drill(&args, &cluster.url);
            mamori_testkit::stop_cluster(&cluster)?;
            result
        }
        Cmd::Fuzz { seconds, targets } => {
            cargo_tools()?;
            fuzz(seconds, &targets, Profile::Release)
        }
        Cmd::Bench { args } => bench(&args),
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn setup() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, probe)| !std::path::Path::new(probe).exists())
        .map(|(p, _)| *p)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !mamori_testkit::is_root() {
        bail!(
            "missing packages {missing:?}: run `sudo apt-get install {}`",
            missing.join(" ")
        );
    }
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// Installs the cargo tools that are missing (`cargo install --locked`, from crates.io).
fn cargo_tools() -> Result<()> {
    for (sub, krate) in CARGO_TOOLS {
        let present = Command::new(format!("cargo-{sub}"))
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            run(Command::new("cargo").args(["install", "--locked", krate]))?;
        }
    }
    Ok(())
}

/// Whether a copy of an advisory database is on this machine (where `cargo deny` keeps them).
fn advisory_db_present() -> bool {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Some(dir) = cargo_home.map(|h| h.join("advisory-dbs")) else {
        return false;
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|db| db.path().join("crates").is_dir())
}

/// `cargo deny`: bans, licences and sources always; advisories against the RustSec database when
/// it can be fetched or a copy is here already. Without either (no access to the database's git
/// host), the run says so loudly and goes on: the other checks do not need the network.
fn deny() -> Result<()> {
    let check = ["deny", "check", "--hide-inclusion-graph"];
    run(Command::new("cargo")
        .args(check)
        .args(["bans", "licenses", "sources"]))?;
    let fetched = Command::new("cargo")
        .args(["deny", "fetch", "db"])
        .status()
        .is_ok_and(|s| s.success());
    if fetched || advisory_db_present() {
        run(Command::new("cargo")
            .args(check)
            .args(["--disable-fetch", "advisories"]))?;
    } else {
        eprintln!(
            "xtask: ADVISORIES NOT CHECKED: the RustSec advisory database could not be fetched \
             and no copy is on this machine"
        );
    }
    Ok(())
}

fn test(args: &[String]) -> Result<()> {
    setup()?;
    cargo_tools()?;
    run(Command::new("cargo").args(["fmt", "--all", "--check"]))?;
    deny()?;
    // Called by its own name: as `cargo machete` under `cargo run` (which sets CARGO_PKG_NAME),
    // it takes "machete" for the directory to analyse.
    run(&mut Command::new("cargo-machete"))?;
    let cluster = mamori_testkit::start_cluster(Some(std::process::id()))?;
    eprintln!("xtask: throwaway PostgreSQL on port {}", cluster.port);
    let result = (|| {
        run(Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]))?;
        // The drills run afterwards, on their own and one at a time (their times are figures).
        let mut args = args.to_vec();
        if !args.iter().any(|a| a == "--") {
            args.push("--".to_owned());
        }
        args.extend(["--skip".to_owned(), DRILLS.to_owned()]);
        let tests = run(Command::new("cargo")
            // Every failing test binary reported in one run, not only the first.
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(&args)
            .env(mamori_testkit::PG_URL_VAR, &cluster.url));
        // Run even when a test failed; both failures are reported after.
        let drills = drill(&[], &cluster.url);
        if let (Err(t), Err(d)) = (&tests, &drills) {
            bail!("the tests failed ({t:#}) and the drills failed ({d:#})");
        }
        tests.and(drills)
    })();
    mamori_testkit::stop_cluster(&cluster)?;
    // The fuzz run only when everything before passed.
    result?;
    // Unoptimised: the short run is a smoke test, and the sanitizer build of every dependency
    // is the slow part of it (the figures in BENCHMARKS.md come from `cargo xtask fuzz`).
    fuzz(FUZZ_SECONDS, &[], Profile::Dev)
}

/// How the fuzz targets are compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// cargo-fuzz's default: optimised, with debug assertions.
    Release,
    /// `--dev`: no optimisation, a quicker build.
    Dev,
}

/// libFuzzer's limits: the longest input, memory, and the time one input may take (seconds).
/// The scanner's targets take whole archives and databases; the parsers take one field or body.
fn fuzz_limits(target: &str) -> [String; 3] {
    let max_len = if target.starts_with("scan_") {
        65_536
    } else {
        4_096
    };
    [
        format!("-max_len={max_len}"),
        "-rss_limit_mb=2048".to_owned(),
        "-timeout=10".to_owned(),
    ]
}

/// Builds the fuzz targets in `fuzz/` (their own workspace and target folder, `fuzz/target`) and
/// runs each for `seconds`, starting from the seed corpus in `fuzz/corpus/<target>` (read only:
/// what the run finds goes to `fuzz/target/corpus/<target>`). Fails if any target crashes,
/// leaks, runs out of memory or time; libFuzzer keeps the input in `fuzz/artifacts/<target>/`.
fn fuzz(seconds: u64, only: &[String], profile: Profile) -> Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the xtask folder has no parent")?
        .join("fuzz");
    let cargo_fuzz = || {
        let mut cmd = Command::new("cargo");
        // cargo-fuzz passes nightly-only flags (sanitizers); this lets the stable compiler take them.
        cmd.arg("fuzz")
            .current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            // Always `fuzz/target`: a target folder set for the main workspace would mix the
            // sanitizer builds into it.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        // What `cargo run` sets for xtask itself: some build scripts (ring's) rerun when
        // CARGO_MANIFEST_DIR changes, which would rebuild part of `fuzz/target` between a run
        // through xtask and one by hand.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || matches!(
                    k.as_ref(),
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                )
            {
                cmd.env_remove(&key);
            }
        }
        cmd
    };
    let listed = cargo_fuzz()
        .arg("list")
        .output()
        .context("running cargo fuzz list")?;
    if !listed.status.success() {
        bail!("cargo fuzz list failed with {}", listed.status);
    }
    let all: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(unknown) = only.iter().find(|t| !all.contains(t)) {
        bail!("no fuzz target {unknown}; there are {all:?}");
    }
    let targets: Vec<&String> = all
        .iter()
        .filter(|t| only.is_empty() || only.contains(t))
        .collect();
    let dev: &[&str] = if profile == Profile::Dev {
        &["--dev"]
    } else {
        &[]
    };
    run(cargo_fuzz().arg("build").args(dev))?;
    let logs = dir.join("target").join("fuzz-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut failed = Vec::new();
    let mut rates = Vec::new();
    for target in targets {
        let work = dir.join("target").join("corpus").join(target);
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let log_path = logs.join(format!("{target}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = cargo_fuzz();
        cmd.args(["run", target.as_str()])
            .args(dev)
            .arg(&work)
            .arg(dir.join("corpus").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(fuzz_limits(target))
            .arg("-print_final_stats=1")
            // The bundled SQLite has two static arrays of one name in different functions, which
            // AddressSanitizer's one-definition check takes for a violation at start-up.
            .env("ASAN_OPTIONS", "detect_odr_violation=0")
            .stdout(log.try_clone().context("duplicating the log file")?)
            .stderr(log);
        eprintln!(
            "xtask: fuzzing {target} for {seconds} s (log: {})",
            log_path.display()
        );
        let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let stat = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| "?".to_owned())
        };
        let (runs, rate) = (
            stat("stat::number_of_executed_units:"),
            stat("stat::average_exec_per_sec:"),
        );
        if !status.success() {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
            eprintln!("xtask: {target} FAILED ({status})");
            failed.push(target.clone());
        }
        rates.push(format!("{target:<16} {runs:>10} runs {rate:>8} exec/s"));
    }
    eprintln!("xtask: fuzzing, {seconds} s per target:");
    for line in &rates {
        eprintln!("  {line}");
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {failed:?} (inputs in fuzz/artifacts/<target>/)");
    }
    Ok(())
}

/// The drills' test names start with this (the module `drills` of `crates/mamori/tests/drill.rs`).
const DRILLS: &str = "drills::";

/// The target directory cargo builds into.
fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
            std::path::PathBuf::from,
        )
}

/// Runs the drills against the PostgreSQL at `pg_url` (and SQLite), one at a time, and writes
/// their figures to `<target>/drill-report.md`.
fn drill(args: &[String], pg_url: &str) -> Result<()> {
    let target = target_dir();
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let jsonl = target.join("drill-report.jsonl");
    if jsonl.exists() {
        std::fs::remove_file(&jsonl).with_context(|| format!("removing {}", jsonl.display()))?;
    }
    let mut test_args: Vec<String> = args.to_vec();
    if !test_args.iter().any(|a| a == "--") {
        test_args.push("--".to_owned());
    }
    test_args.extend(["--test-threads=1".to_owned(), "--nocapture".to_owned()]);
    let tools = drill_tools(&target)?;
    let result = run(Command::new("cargo")
        .args(["test", "-p", "mamori", "--test", "drill"])
        .args(&test_args)
        .env(mamori_testkit::PG_URL_VAR, pg_url)
        .env("MAMORI_DRILL_REPORT", &jsonl)
        .env("MAMORI_DRILL_TOOLS", &tools));
    // The figures of the drills that ran, even when one failed.
    let md = target.join("drill-report.md");
    let lines = std::fs::read_to_string(&jsonl).unwrap_or_default();
    std::fs::write(&md, drill_report(&lines))
        .with_context(|| format!("writing {}", md.display()))?;
    eprintln!("xtask: drill figures in {}", md.display());
    result
}

/// The attacker's tools the injection probe of drill 000 runs, from PyPI at fixed versions.
const DRILL_TOOLS: &[(&str, &str)] = &[("sqlmap", "sqlmap==1.10.10"), ("wapiti", "wapiti3==3.2.3")];

/// A virtual environment under the target directory with the drill's tools (created and
/// filled when missing, so that their libraries never touch the system's Python); its `bin`.
fn drill_tools(target: &std::path::Path) -> Result<std::path::PathBuf> {
    let venv = target.join("drill-tools");
    let bin = venv.join("bin");
    if DRILL_TOOLS.iter().all(|(exe, _)| bin.join(exe).exists()) {
        return Ok(bin);
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .context("no python3 for the drill's tools (sqlmap, wapiti)")?;
    if run(Command::new(python).args(["-m", "venv"]).arg(&venv)).is_err() {
        // Debian's own Python keeps venv in a package of its own.
        if !mamori_testkit::is_root() {
            bail!("python3 cannot make a virtual environment: run `sudo apt-get install python3-venv`");
        }
        run(Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "python3-venv",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        run(Command::new(python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv))?;
    }
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(DRILL_TOOLS.iter().map(|(_, spec)| *spec)))?;
    Ok(bin)
}

/// The drills' figures (JSON Lines: drill, backend, step, and ms or count) as a Markdown table.
fn drill_report(jsonl: &str) -> String {
    let mut out = String::from(
        "# Drill report\n\nOne run of `cargo xtask drill` (times measured by polling; not \
         assertions).\n\n| drill | backend | step | value |\n|---|---|---|---|\n",
    );
    for line in jsonl.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let value = match (v["ms"].as_f64(), v["count"].as_u64()) {
            (Some(ms), _) => format!("{ms:.0} ms"),
            (None, Some(n)) => n.to_string(),
            (None, None) => continue,
        };
        out.push_str(&format!(
            "| {} | {} | {} | {value} |\n",
            text("drill"),
            text("backend"),
            text("step")
        ));
    }
    out
}

fn bench(args: &[String]) -> Result<()> {
    setup()?;
    let cluster = mamori_testkit::start_cluster(Some(std::process::id()))?;
    let whole: &[String] = &["--workspace".to_owned()];
    let result = run(Command::new("cargo")
        .arg("bench")
        .args(if args.is_empty() { whole } else { args })
        .env(mamori_testkit::PG_URL_VAR, &cluster.url));
    mamori_testkit::stop_cluster(&cluster)?;
    result
}
