//! Mail for tests: worker settings that retry within a test, and a mail worker delivering over
//! real SMTP to a [`MailCatcher`].
#![allow(clippy::expect_used)] // a failed set-up is a failed test

use std::sync::Arc;
use std::time::Duration;

use mamori_mail::catcher::MailCatcher;
use mamori_mail::outbox::OutboxStore;
use mamori_mail::{Backoff, Composer, SmtpSettings, SmtpTransport, WorkerConfig};
use tokio::{sync::oneshot, task::JoinHandle};

/// Worker settings scaled down for tests: short backoff and polling (20 ms), so retries happen
/// within the test; correctness never depends on these values.
pub fn fast_worker_config() -> WorkerConfig {
    WorkerConfig {
        batch_size: 10,
        lease: Duration::from_secs(30),
        lease_margin: Duration::from_secs(1),
        poll_interval: Duration::from_millis(20),
        max_attempts: 5,
        max_permanent_attempts: 3,
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
    }
}

/// A running mail worker; dropping it stops the worker.
pub struct MailWorker {
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for MailWorker {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

/// Starts a mail catcher and a worker that delivers `outbox`'s mail to it over SMTP, as
/// `守り商店 <shop@shop.mamori.example>`, with [`fast_worker_config`].
pub async fn start_mail_worker(outbox: Arc<dyn OutboxStore>) -> (MailCatcher, MailWorker) {
    let catcher = MailCatcher::start()
        .await
        .expect("starting the mail catcher");
    let mut smtp = SmtpSettings::plaintext("127.0.0.1", catcher.port());
    smtp.hello_name = Some("shop.mamori.example".into());
    let transport = SmtpTransport::new(&smtp).expect("an SMTP transport");
    let composer = Composer::new("守り商店 <shop@shop.mamori.example>", "shop.mamori.example")
        .expect("a composer");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        mamori_mail::run_worker(
            outbox,
            Arc::new(transport),
            Arc::new(composer),
            fast_worker_config(),
            async move {
                let _ = stopped.await;
            },
        )
        .await;
    });
    (
        catcher,
        MailWorker {
            task,
            stop: Some(stop),
        },
    )
}
