//! Two real `mamori serve` processes on one database, as behind a load balancer (one public URL
//! for the back office, each process on its own port): a member of staff enrolled and signed in
//! (password, then TOTP) through A is signed in on B; a sign-out through B ends the session on A;
//! housekeeping runs on exactly one process (the lease table names it), and when that process is
//! killed (SIGKILL) the other takes the job over once the lease has expired.
//!
//! On SQLite (two processes on one file is a supported setup) and on PostgreSQL. Waits are
//! bounded polls, never timed assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{create_owner, enrol_and_sign_in, mamori, run, serve_with, Serve};
use mamori_testkit::web::{Browser, Site};

/// How long anything may take before the test fails (never a measurement).
const BOUND: Duration = Duration::from_secs(60);

/// The lease length the processes are given (`[jobs] lease_secs`).
const LEASE_SECS: i64 = 3;

const PASSWORD: &str = "long enough staff password 2026";
const EMAIL: &str = "owner.multinode@staff.example.jp";

/// The job lease lines `server` logged so far.
fn lease_lines(server: &Serve) -> Vec<String> {
    server.log_lines("job lease")
}

/// A free port on loopback (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mamori --config config serve` in `dir`, its job leases logged.
fn serve(dir: &Path, db: Option<&str>, config: &str) -> Serve {
    let mut cmd = mamori(dir, db);
    cmd.args(["--config", config])
        .env("MAMORI_LOG", "mamori::jobs=info");
    let server = serve_with(cmd);
    assert!(
        server.line("jobs:").is_some(),
        "the jobs line: {:?}",
        server.lines
    );
    server
}

/// The pid part of a holder id (`host/pid/random`).
fn holder_pid(holder: &str) -> u32 {
    holder.split('/').nth(1).unwrap().parse().unwrap()
}

async fn housekeeping_lease(store: &dyn mamori_store::Store) -> Option<mamori_store::JobLeaseRow> {
    store.lease_of("housekeeping").await.unwrap()
}

fn two_processes(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("data")).unwrap();
    // One public URL for the back office (the load balancer's), each process on its own port.
    let (port_a, port_b) = (free_port(), free_port());
    let public = format!("http://localhost:{port_a}");
    for (name, port) in [("a.toml", port_a), ("b.toml", port_b)] {
        std::fs::write(
            p.join(name),
            format!(
                "data_dir = \"data\"\n\
                 [backoffice]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{public}/\"\n\
                 [guard]\nenabled = false\nmonitor_secs = 0\n\
                 [jobs]\nlease_secs = {LEASE_SECS}\n"
            ),
        )
        .unwrap();
    }
    run(p, db, &["--config", "a.toml", "keys", "init"]);
    run(p, db, &["--config", "a.toml", "db", "migrate"]);
    let token = create_owner(p, db, &["--config", "a.toml"], EMAIL);

    let a = serve(p, db, "a.toml");
    let b = serve(p, db, "b.toml");
    let url_a = format!("http://localhost:{port_a}");
    let url_b = format!("http://localhost:{port_b}");
    // The browser sends `Origin: <public URL>` wherever the balancer sends it; its cookie jar
    // keeps one cookie for the host `localhost` (cookies do not depend on the port).
    let browser = |base: &str| {
        Browser::new(Site {
            base,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36",
            resolve: Some(("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))),
            csrf_pages: &["/login"],
            session_cookie: mamori_backoffice::SESSION_COOKIE,
        })
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = match db {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", p.join("data/mamori.db").display()),
    };
    let store = rt.block_on(mamori_store::open_store(&url)).unwrap();

    rt.block_on(async {
        let staff = browser(&public);
        // Enrolment and sign-in through A.
        enrol_and_sign_in(&staff, &url_a, &token, EMAIL, PASSWORD).await;
        let signed_in = staff.session_cookie().unwrap();
        staff.get(&format!("{url_a}/account")).await.expect(200);

        // The same session on B.
        let on_b = staff.get(&format!("{url_b}/account")).await;
        on_b.expect(200);
        assert_eq!(staff.session_cookie().as_deref(), Some(signed_in.as_str()));
        staff.get(&format!("{url_b}/staff")).await.expect(200);
        // A storefront-looking id (any other id) is no back-office session on either.
        staff
            .get_with_session(&format!("{url_b}/account"), "A".repeat(43).as_str())
            .await
            .expect_redirect("/login");

        // Signed out through B: ended on A too.
        staff
            .post_form(&format!("{url_b}/logout"), &[])
            .await
            .expect_redirect("/login");
        staff
            .get_with_session(&format!("{url_a}/account"), &signed_in)
            .await
            .expect_redirect("/login");
        staff
            .get_with_session(&format!("{url_b}/account"), &signed_in)
            .await
            .expect_redirect("/login");
    });

    // Housekeeping: one holder, and it is one of the two processes.
    let start = Instant::now();
    let first = loop {
        if let Some(row) = rt.block_on(housekeeping_lease(store.as_ref())) {
            break row;
        }
        assert!(start.elapsed() < BOUND, "no process took the lease");
        std::thread::sleep(Duration::from_millis(100));
    };
    let pid = holder_pid(&first.holder);
    assert!(
        pid == a.child.id() || pid == b.child.id(),
        "{}",
        first.holder
    );
    // For two lease lengths, the holder keeps it (renewing), and only it runs the job.
    std::thread::sleep(Duration::from_secs(2 * LEASE_SECS as u64));
    let row = rt.block_on(housekeeping_lease(store.as_ref())).unwrap();
    assert_eq!(row.holder, first.holder, "the holder renews its lease");
    assert!(row.expires_at > first.expires_at, "renewed");
    let mut procs = [a, b];
    let (held, free) = if pid == procs[0].child.id() {
        (0, 1)
    } else {
        (1, 0)
    };
    let taken = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("job lease taken") && l.contains("housekeeping"))
            .count()
    };
    assert_eq!(
        taken(&lease_lines(&procs[held])),
        1,
        "the holder started it once"
    );
    assert_eq!(
        taken(&lease_lines(&procs[free])),
        0,
        "the other never ran it"
    );

    // The holder dies without a word: the other takes over once the lease has expired.
    let killed = procs[held].child.id();
    procs[held].child.kill().unwrap();
    procs[held].child.wait().unwrap();
    let last = rt.block_on(housekeeping_lease(store.as_ref())).unwrap();
    assert_eq!(
        holder_pid(&last.holder),
        killed,
        "a killed process gives nothing up"
    );
    let start = Instant::now();
    let next = loop {
        let row = rt.block_on(housekeeping_lease(store.as_ref())).unwrap();
        if row.holder != last.holder {
            break row;
        }
        assert!(start.elapsed() < BOUND, "no process took the lease over");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(holder_pid(&next.holder), procs[free].child.id());
    assert!(
        next.taken_at >= last.expires_at,
        "taken over at {} before the lease ended at {}",
        next.taken_at,
        last.expires_at
    );
    let start = Instant::now();
    let mut lines = Vec::new();
    while taken(&lines) == 0 {
        assert!(
            start.elapsed() < BOUND,
            "the survivor never ran the job: {lines:?}"
        );
        lines = lease_lines(&procs[free]);
        std::thread::sleep(Duration::from_millis(50));
    }

    // Stopped with Ctrl-C (SIGINT), the survivor gives its lease up for the next one.
    procs[free].signal(rustix::process::Signal::INT);
    procs[free].wait_exit(BOUND);
    assert_eq!(rt.block_on(housekeeping_lease(store.as_ref())), None);
    drop(procs);
    drop(store);
    drop(rt);
}

#[test]
fn two_serve_processes_share_staff_sessions_and_one_housekeeper_sqlite() {
    two_processes(None);
}

#[test]
fn two_serve_processes_share_staff_sessions_and_one_housekeeper_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(mamori_testkit::fresh_pg_database()).unwrap();
    drop(rt);
    two_processes(Some(&url));
}
