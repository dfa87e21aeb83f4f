//! Background jobs that run on one `mamori serve` process at a time, when several share one
//! database behind a load balancer.
//!
//! Each such job has a lease in the store (`job_leases`, [`mamori_store::JobLeaseStore`]): a
//! process runs the job only while it holds the lease, renews it every third of its length, and
//! stops the job as soon as a renewal fails or is refused (the database unreachable counts as
//! refused). When the holder dies, another process takes the lease once it expires and starts
//! the job; at shutdown the holder stops the job and gives the lease up, so another takes it at
//! its next renewal.
//!
//! | job | where | why |
//! |---|---|---|
//! | housekeeping (expired storefront and staff sessions, sent mail, tokens, fraud counts) | one process ([`HOUSEKEEPING`]) | the same purges from every process would only repeat each other's deletes |
//! | the browser monitor's walk | one process ([`MONITOR`]) | it walks the shop's public URL, which is the same for all: one walk per process would multiply Chromium's load and raise the same alert once per process |
//! | the mail worker, the alert webhook worker | every process | each claims rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's write lock): no row is sent twice, and more processes send faster |
//! | the switches and script-inventory pollers | every process | each process keeps its own copy in memory |
//! | the file guard | every process | each machine watches its own files |
//! | the ledger writer | every process | appends are serialised by the ledger's row lock in the store; the witness file is each machine's own |
//!
//! A process that stalls for longer than the lease (a frozen VM) may briefly overlap with the
//! one that took over; both jobs tolerate that (purges are idempotent, a walk raises at worst
//! one more alert).

use std::{sync::Arc, time::Duration};

use mamori_store::Records;
use tokio::{sync::watch, task::JoinHandle};

/// The lease of housekeeping.
pub const HOUSEKEEPING: &str = "housekeeping";
/// The lease of the browser monitor's walks.
pub const MONITOR: &str = "monitor";

/// What a running job leaves behind: dropping it stops the job.
pub type Running = Box<dyn Send + Sync>;

/// Starts a job (when its lease is taken).
type Start = Box<dyn Fn() -> Running + Send + Sync>;

/// A tokio task that is aborted when dropped.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This process's id in the lease table: the host name, the process id and random bits (a
/// restarted process is a new holder).
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let mut bits = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bits);
    format!("{host}/{}/{}", std::process::id(), hex::encode(bits))
}

/// The single-instance jobs of this process, each behind its lease.
pub struct Singles {
    records: Arc<dyn Records>,
    holder: Arc<str>,
    lease: Duration,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Singles {
    /// No jobs yet; leases of `lease` (at least 3 s) in `records` under `holder`.
    pub fn new(records: Arc<dyn Records>, holder: String, lease: Duration) -> Self {
        Self {
            records,
            holder: holder.into(),
            lease: lease.max(Duration::from_secs(3)),
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// This process's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Runs `start`'s job while this process holds the lease `job`.
    pub fn add(&mut self, job: &'static str, start: impl Fn() -> Running + Send + Sync + 'static) {
        let task = LeasedJob {
            job,
            records: self.records.clone(),
            holder: self.holder.clone(),
            lease: self.lease,
            start: Box::new(start),
        };
        self.tasks
            .push(tokio::spawn(task.run(self.stop.subscribe())));
    }

    /// Stops every job and gives its lease up.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Singles {
    fn drop(&mut self) {
        // Without a shutdown (an error path): the jobs stop, the leases expire by themselves.
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct LeasedJob {
    job: &'static str,
    records: Arc<dyn Records>,
    holder: Arc<str>,
    lease: Duration,
    start: Start,
}

impl LeasedJob {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let lease_secs = i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX / 2);
        let renew = self.lease / 3;
        let mut running: Option<Running> = None;
        loop {
            let now = mamori_store::model::now();
            let held = match self
                .records
                .lease_take(self.job, &self.holder, now, now.saturating_add(lease_secs))
                .await
            {
                Ok(held) => held,
                Err(err) => {
                    tracing::error!(job = self.job, error = %err, "could not renew a job's lease");
                    false
                }
            };
            match (held, running.is_some()) {
                (true, false) => {
                    tracing::info!(job = self.job, holder = %self.holder, "job lease taken: the job runs here");
                    running = Some((self.start)());
                }
                (false, true) => {
                    tracing::warn!(job = self.job, holder = %self.holder, "job lease lost: the job stops here");
                    running = None;
                }
                _ => {}
            }
            tokio::select! {
                () = tokio::time::sleep(renew) => {}
                _ = stop.wait_for(|v| *v) => break,
            }
        }
        if running.take().is_some() {
            match self.records.lease_release(self.job, &self.holder).await {
                Ok(_) => {
                    tracing::info!(job = self.job, holder = %self.holder, "job lease released")
                }
                Err(err) => {
                    tracing::warn!(job = self.job, error = %err, "could not release a job's lease")
                }
            }
        }
    }
}

/// How often housekeeping runs on the process holding its lease.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10 * 60);

/// Starts `mamori serve`'s single-instance jobs behind their leases: housekeeping (the shop's
/// and the expired staff sessions) and, when it is on, the browser monitor's walks.
pub fn start(
    cfg: &crate::config::Config,
    records: Arc<dyn Records>,
    housekeeper: mamori_shop::housekeeping::Housekeeper,
    staff_sessions: mamori_backoffice::sessions::StaffSessionPurger,
    monitor: Option<Arc<mamori_guard::monitor::BrowserMonitor>>,
) -> Singles {
    let mut singles = Singles::new(
        records,
        holder_id(),
        Duration::from_secs(cfg.jobs.lease_secs),
    );
    println!(
        "jobs:             housekeeping{} on the process holding its lease; this one is {}",
        if monitor.is_some() {
            " and the page monitor"
        } else {
            ""
        },
        singles.holder()
    );
    singles.add(HOUSEKEEPING, move || {
        let shop = AbortOnDrop(tokio::spawn(housekeeper.clone().run(HOUSEKEEPING_EVERY)));
        let staff = staff_sessions.clone();
        let staff = AbortOnDrop(tokio::spawn(async move {
            let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match staff.run_once().await {
                    Ok(n) => tracing::info!(staff_sessions = n, "housekeeping"),
                    Err(err) => {
                        tracing::error!(error = %err, "housekeeping of staff sessions failed")
                    }
                }
            }
        }));
        Box::new((shop, staff))
    });
    if let Some(monitor) = monitor {
        singles.add(MONITOR, move || Box::new(monitor.spawn()));
    }
    singles
}
