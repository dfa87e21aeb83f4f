//! State kept in memory and read again from the database every interval (the incident desk's
//! switches, the storefront's public-notice banner): a request reads memory, never the database,
//! and a change made through any process reaches every process at its next read.

use std::{future::Future, time::Duration};

/// Runs `read` every `every` (the first at once) until the handle is aborted. A failed read
/// keeps whatever `read` last stored: the failure is logged once (naming `what`), and again
/// when a read succeeds after it.
pub fn spawn_every<F, Fut, E>(
    what: &'static str,
    every: Duration,
    read: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match read().await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("{what} are read again");
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    tracing::error!(error = %err, "could not read {what}; keeping the last state");
                }
                Err(_) => {}
            }
        }
    })
}
