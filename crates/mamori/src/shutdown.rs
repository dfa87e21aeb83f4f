//! Graceful shutdown of `mamori serve`, on SIGTERM (what systemd and container runtimes send) or
//! SIGINT (Ctrl-C).
//!
//! The sequence, each phase logged at `info` (no personal values):
//! 1. the signal: the shop's and the back office's listeners close (new connections are
//!    refused) and the requests in flight are let finish;
//! 2. the mail worker finishes the round it is in (a mail is marked sent or failed before it
//!    stops) and the other background tasks (housekeeping, monitors, guards, refreshes) are
//!    stopped; a task stopped within a database transaction leaves nothing of it (rolled back);
//! 3. the ledger signs a checkpoint of everything appended, into the database and the witness;
//! 4. exit 0.
//!
//! All of it within `[server] shutdown_timeout_secs` from the signal; past it, or on a second
//! signal, the process logs why and exits with [`EXIT_TIMEOUT`] at once.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use mamori_store::Ledger;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Exit status when the shutdown did not finish within its timeout (or a second signal came).
pub const EXIT_TIMEOUT: i32 = 3;

/// The shutdown request of this process: cheap to clone, every clone sees the same signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    requested: watch::Receiver<bool>,
}

impl Shutdown {
    /// Listens for SIGTERM and SIGINT from now on. On the first, every [`Shutdown::requested`]
    /// completes and a watchdog starts: the process exits with [`EXIT_TIMEOUT`] when the
    /// shutdown is not done within `timeout`, or at a second signal.
    pub fn listen(timeout: Duration) -> Result<Self> {
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let (tx, requested) = watch::channel(false);
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(
                signal = name,
                timeout_secs = timeout.as_secs(),
                "shutdown: signal received; refusing new connections, finishing the requests in flight"
            );
            let _ = tx.send(true);
            let why = tokio::select! {
                () = tokio::time::sleep(timeout) => "not finished within server.shutdown_timeout_secs",
                _ = term.recv() => "a second SIGTERM",
                _ = int.recv() => "a second SIGINT",
            };
            tracing::error!(
                timeout_secs = timeout.as_secs(),
                status = EXIT_TIMEOUT,
                "shutdown: {why}; exiting now, unfinished work is left to the next start"
            );
            eprintln!("mamori serve: shutdown {why}; exiting with status {EXIT_TIMEOUT}");
            std::process::exit(EXIT_TIMEOUT);
        });
        Ok(Self { requested })
    }

    /// Completes once a shutdown is requested (at once when it already was).
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.requested.clone();
        async move {
            // An error means the listener task is gone, which only happens as the runtime stops.
            let _ = rx.wait_for(|asked| *asked).await;
        }
    }

    /// Phases 2 and 3, once the shop's server has returned (its requests are finished).
    pub async fn finish(&self, parts: Stopping) -> Result<()> {
        tracing::info!("shutdown: the shop's requests are finished");
        for (name, server) in parts.servers {
            if let Err(err) = server.await {
                tracing::warn!(server = name, error = %err, "shutdown: a server task failed");
            }
            tracing::info!(server = name, "shutdown: requests finished");
        }
        let (stop, worker) = parts.mail;
        let _ = stop.send(true);
        if let Err(err) = worker.await {
            tracing::warn!(error = %err, "shutdown: the mail worker failed");
        }
        tracing::info!("shutdown: the mail worker stopped between two mails");
        for (name, task) in parts.tasks {
            task.abort();
            // Waits for the task to be gone, so that nothing it does comes after the checkpoint.
            let _ = task.await;
            tracing::info!(task = name, "shutdown: stopped");
        }
        for (name, handle) in parts.handles {
            drop(handle);
            tracing::info!(task = name, "shutdown: stopped");
        }
        let (size, _) = parts
            .ledger
            .checkpoint()
            .await
            .context("signing the ledger's checkpoint at shutdown")?;
        tracing::info!(tree_size = size, "shutdown: ledger checkpoint signed");
        tracing::info!("shutdown: done");
        Ok(())
    }
}

/// What [`Shutdown::finish`] stops, in this order.
pub struct Stopping {
    /// Servers that stop by themselves on [`Shutdown::requested`]: awaited (their requests
    /// finish).
    pub servers: Vec<(&'static str, JoinHandle<()>)>,
    /// The mail worker: the sender of its stop signal and its task, awaited (it stops between
    /// rounds).
    pub mail: (watch::Sender<bool>, JoinHandle<()>),
    /// Background tasks that hold no state across their rounds: aborted and awaited.
    pub tasks: Vec<(&'static str, JoinHandle<()>)>,
    /// Handles whose drop stops their task (monitors, guards, listeners): dropped.
    pub handles: Vec<(&'static str, Box<dyn Send>)>,
    /// The ledger, to sign the last checkpoint.
    pub ledger: Ledger,
}
