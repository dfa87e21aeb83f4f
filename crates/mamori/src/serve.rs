//! `mamori serve`: the shop, the back office on its own listener (loopback and an IP allow-list
//! by default), for local use the sandbox payment provider on another port (another origin), and
//! the mail worker.
//!
//! On a fresh machine with an empty data directory it creates the keys, migrates the embedded
//! SQLite database and loads the demo catalogue, so one command gives a working shop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{bail, Context, Result};
use mamori_ledger::LedgerSigner;
use mamori_mail::{
    dkim::DkimSigner,
    outbox::{run_worker, WorkerConfig},
    transport::{MailTransport, MaildirTransport, SmtpTransport},
    Composer,
};
use mamori_pay::{
    secrecy::SecretString, spawn_sandbox, url::Url, HttpConnector, PaymentConnector, SandboxConfig,
};
use mamori_shop::{assemble, Parts, ShopConfig, WEBHOOK_PATH};
use mamori_store::{Gateway, Ledger, SqlOutbox};
use mamori_vault::KeyRing;
use rand::RngCore as _;

use crate::config::{secret_env, Config};

/// Flags of `mamori serve` (each overrides the configuration file).
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address of the shop (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Address of the sandbox payment provider started alongside (default 127.0.0.1:8081).
    #[arg(long)]
    pub psp_listen: Option<SocketAddr>,
    /// Do not load the demo catalogue into an empty database.
    #[arg(long)]
    pub no_demo: bool,
}

fn random_secret(prefix: &str) -> SecretString {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    SecretString::from(format!("{prefix}{}", hex::encode(b)))
}

/// Creates the key files in development when neither exists and no master key comes from the
/// environment (the first `mamori serve`). The data directory exists already.
fn ensure_keys(cfg: &Config) -> Result<()> {
    let key_file = cfg.key_file();
    let ledger_file = cfg.ledger_key_file();
    if KeyRing::from_env("MAMORI_MASTER_KEY")?.is_none()
        && !key_file.exists()
        && !ledger_file.exists()
    {
        KeyRing::init(&key_file)?;
        LedgerSigner::create_key_file(&ledger_file, "mamori-ledger")?;
        println!(
            "created {} and {} (mode 0600); keep a copy of the master key offline",
            key_file.display(),
            ledger_file.display()
        );
    }
    Ok(())
}

/// Runs until SIGTERM or Ctrl-C, then shuts down gracefully (see [`crate::shutdown`]).
pub async fn serve(cfg: &Config, args: ServeArgs) -> Result<()> {
    let shutdown = crate::shutdown::Shutdown::listen(cfg.server.shutdown_timeout())?;
    let shop_cfg = &cfg.shop;
    let listen = args.listen.unwrap_or(shop_cfg.listen);
    let psp_listen = args.psp_listen.unwrap_or(shop_cfg.psp_listen);
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    ensure_keys(cfg)?;
    let ring = crate::load_keys(cfg)?;
    let signer = crate::load_signer(cfg)?;
    let store = crate::open_migrated(cfg).await?;
    if !args.no_demo && store.categories().await?.is_empty() {
        mamori_demo::seed_demo_catalogue(store.as_ref()).await?;
        println!("loaded the demo catalogue");
    }
    let ledger = Ledger::start(store.clone(), signer, crate::ledger_config(cfg));
    let keys = Arc::new(ring);
    let gateway = Gateway::new(store.clone(), keys.clone(), ledger.clone())
        .with_read_budgets(cfg.guard.read_budgets.budgets());
    // A rotation (the incident desk's switch, or `mamori keys rotate`) is picked up from the key
    // file while serving.
    let gateway = match crate::key_file_in_use(cfg) {
        Some(path) => gateway.with_key_file(path),
        None => gateway,
    };

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let shop_addr = listener.local_addr()?;
    let scheme = if shop_cfg.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let public_url = match &shop_cfg.public_url {
        Some(u) => Url::parse(u).context("shop.public_url")?,
        None => Url::parse(&format!("{scheme}://{shop_addr}/"))?,
    };

    // The payment provider: an external one by URL, or the sandbox on its own port.
    let (psp, provider_origin, webhook_secret, _sandbox) = match &shop_cfg.psp_url {
        Some(url) => {
            let base = Url::parse(url).context("shop.psp_url")?;
            let key = secret_env("MAMORI_PSP_API_KEY")?
                .context("MAMORI_PSP_API_KEY (or _FILE) is required with shop.psp_url")?;
            let secret = secret_env("MAMORI_PSP_WEBHOOK_SECRET")?
                .context("MAMORI_PSP_WEBHOOK_SECRET (or _FILE) is required with shop.psp_url")?;
            let connector = HttpConnector::new(base.clone(), SecretString::from(key))?;
            let psp: Arc<dyn PaymentConnector> = Arc::new(connector);
            (psp, base, SecretString::from(secret), None)
        }
        None => {
            let api_key = random_secret("sk_sandbox_");
            let secret = random_secret("whsec_");
            let webhook = public_url.join(WEBHOOK_PATH.trim_start_matches('/'))?;
            let mut sc = SandboxConfig::new(api_key.clone()).with_webhook(webhook, secret.clone());
            sc.listen = psp_listen;
            let sandbox = spawn_sandbox(sc)
                .await
                .context("starting the sandbox provider")?;
            let connector = HttpConnector::new(sandbox.base_url.clone(), api_key)?;
            let psp: Arc<dyn PaymentConnector> = Arc::new(connector);
            (psp, sandbox.base_url.clone(), secret, Some(sandbox))
        }
    };

    let config = ShopConfig {
        shop_name: shop_cfg.name.clone(),
        public_url: public_url.clone(),
        registration_number: shop_cfg.registration_number.clone(),
        legal_name: shop_cfg.legal_name.clone(),
        support_email: shop_cfg.support_email.clone(),
        provider_origin: provider_origin.clone(),
        bank_account: shop_cfg.bank_account.clone(),
        shipping_fee: shop_cfg.shipping_fee,
        free_shipping_from: shop_cfg.free_shipping_from,
        delivery_lead_days: shop_cfg.delivery_lead_days,
        cache_ttl: std::time::Duration::from_secs(shop_cfg.cache_secs),
    };
    let mut bound = bind_backoffice(cfg).await?;
    // The self-check asks the storefront's own listener (not its public URL, which may be a
    // proxy) for back-office paths; planting from the back office uses the canary domain.
    let probe_ip = match shop_addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    bound.config.storefront_url = Url::parse(&format!(
        "http://{}/",
        std::net::SocketAddr::new(probe_ip, shop_addr.port())
    ))
    .ok()
    .filter(|_| scheme == "http");
    bound.config.canary_domain = cfg.guard.canary_domain.clone();
    // The self-check's measure 5 shows the card-testing thresholds in force.
    let card = cfg.guard.fraud.config().card;
    let per = |w: mamori_store::fraud::Window| format!("{}/{}s", w.max, w.secs);
    bound.config.card_testing = Some(format!(
        "address {}, session {}, card {}, shop-wide {} (then an extra step and {} s)",
        per(card.ip),
        per(card.session),
        per(card.fingerprint),
        per(card.shop),
        card.shop_delay_secs
    ));
    let webhook = crate::guard::webhook_target(cfg)?;
    let alerts = crate::guard::alerts(
        cfg,
        &gateway,
        bound.config.public_url.as_str(),
        webhook.clone(),
    );
    let backoffice_csp = Arc::new(mamori_guard::csp::GuardCspSink::for_backoffice(
        alerts.clone(),
    ));
    // Card testing and credential stuffing (the shop's checkout and sign-ins, the back office's
    // sign-in) are raised as these alerts too, counted in the database by every process.
    let fraud_alarm: Arc<dyn mamori_store::fraud::FraudAlarm> =
        Arc::new(mamori_guard::GuardFraudAlarm::new(alerts.clone()));
    let fraud = mamori_store::fraud::FraudWatch::new(gateway.records(), cfg.guard.fraud.config())
        .with_alarm(fraud_alarm.clone());
    let backoffice = start_backoffice(
        bound,
        &gateway,
        psp.clone(),
        backoffice_csp,
        fraud,
        shutdown.requested(),
    )
    .await?;
    // The incident desk's switches: read from the store now and every 500 ms, so that a switch
    // set through any process on this database reaches this one within a second.
    let switches = backoffice.switches.clone();
    switches.set_default_notice(shop_cfg.notice_url.clone());
    switches
        .refresh(&gateway)
        .await
        .context("reading the incident switches")?;
    let _switches_refresh =
        switches.spawn_refresh(gateway.clone(), mamori_respond::switches::REFRESH);
    // The gateway's detections (mass-read stops, canary reads) are raised as these alerts.
    gateway.set_read_alarm(Arc::new(mamori_guard::GuardReadAlarm::new(
        mamori_guard::AlertConfig {
            shop_name: cfg.shop.name.clone(),
            backoffice_origin: Some(
                backoffice
                    .public_url
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            webhook: webhook.clone(),
        },
    )));
    let csp_sink = Arc::new(mamori_guard::csp::GuardCspSink::new(alerts.clone()));
    let scripts = crate::guard::script_inventory(&alerts, &backoffice.scripts).await?;
    let _scripts_refresh = scripts.spawn_refresh(Duration::from_secs(2));
    let monitor = crate::guard::monitor(
        cfg,
        alerts.clone(),
        psp.clone(),
        &public_url,
        scripts.clone(),
    )
    .await?;
    let _canary_mail = crate::guard::canary_mail(cfg, &gateway, alerts.clone()).await?;
    let _notice_bounces = notice_bounces(cfg, &gateway).await?;
    let _guard = crate::guard::start(cfg, alerts, webhook, &backoffice.guard).await?;
    let assembly = assemble(Parts {
        gateway: gateway.clone(),
        psp,
        webhook_secret,
        config,
        tls: shop_cfg.tls_cert.is_some(),
        clock: Arc::new(mamori_web::clock::SystemClock),
    })
    .with_csp_sink(csp_sink)
    .with_script_policy(scripts.policy())
    .with_maintenance(switches.maintenance())
    .with_fraud(cfg.guard.fraud.config(), Some(fraud_alarm));
    // The public notice's banner: read now and every 500 ms, as the switches.
    let notices = assembly.notices();
    notices
        .refresh()
        .await
        .context("reading the published notices")?;
    let _notices_refresh = notices.spawn_refresh(mamori_respond::switches::REFRESH);
    let app = assembly.router();
    // Housekeeping and the monitor's walks run on one process at a time (see `jobs`).
    let singles = crate::jobs::start(
        cfg,
        gateway.records(),
        assembly.housekeeper(),
        backoffice.session_purger.clone(),
        monitor,
    );

    // Mail: SMTP when configured, else a maildir in the data directory.
    let transport: Arc<dyn MailTransport> = match &shop_cfg.smtp {
        Some(s) => Arc::new(SmtpTransport::new(s).context("SMTP settings")?),
        None => {
            let dir = cfg.data_dir.join("maildir");
            println!("mail goes to {} (no SMTP configured)", dir.display());
            Arc::new(MaildirTransport::new(dir).context("maildir")?)
        }
    };
    let domain = public_url.host_str().unwrap_or("localhost").to_owned();
    let mut composer = Composer::new(&shop_cfg.mail_from, &domain).context("shop.mail_from")?;
    let from_domain = composer.from_mailbox().email.domain().to_owned();
    if let Some(signer) = dkim_signer(cfg, &from_domain)? {
        composer = composer.with_dkim(signer);
    }
    let composer = Arc::new(composer);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut worker_stop = stop_rx.clone();
    let worker = tokio::spawn(run_worker(
        Arc::new(SqlOutbox::new(gateway.clone())),
        transport,
        composer,
        WorkerConfig {
            poll_interval: Duration::from_secs(1),
            ..WorkerConfig::default()
        },
        async move {
            let _ = worker_stop.wait_for(|v| *v).await;
        },
    ));

    println!("shop:             {public_url}");
    println!("back office:      {}", backoffice.public_url);
    println!("payment provider: {provider_origin}");
    println!("press Ctrl-C to stop");

    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    match (&shop_cfg.tls_cert, &shop_cfg.tls_key) {
        (Some(cert), Some(key)) => {
            // One process-wide TLS provider (ring); an error only means one is installed already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .context("loading the TLS certificate and key")?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            let (requested, timeout) = (shutdown.requested(), cfg.server.shutdown_timeout());
            tokio::spawn(async move {
                requested.await;
                h.graceful_shutdown(Some(timeout));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, tls)
                .handle(handle)
                .serve(make)
                .await
                .context("serving HTTPS")?;
        }
        (None, None) => {
            axum::serve(listener, make)
                .with_graceful_shutdown(shutdown.requested())
                .await
                .context("serving HTTP")?;
        }
        _ => bail!("shop.tls_cert and shop.tls_key must be given together"),
    }
    // The jobs held by lease stop first and give their leases up, so that another process
    // takes them at once instead of after the lease runs out.
    singles.shutdown().await;
    let stopping = crate::shutdown::Stopping {
        servers: vec![("back office", backoffice.server)],
        mail: (stop_tx, worker),
        tasks: vec![
            ("switch refresh", _switches_refresh),
            ("public notice refresh", _notices_refresh),
            ("script inventory refresh", _scripts_refresh),
        ],
        handles: vec![
            ("canary mail", Box::new(_canary_mail)),
            ("notice bounces", Box::new(_notice_bounces)),
            ("guard", Box::new(_guard)),
            ("sandbox provider", Box::new(_sandbox)),
        ],
        ledger,
    };
    shutdown.finish(stopping).await
}

/// The signer of the shop's mail for `domain` (the From address's): `shop.dkim_key_file`, else `<data_dir>/dkim.key`, created
/// (Ed25519) on the first start with the DNS record to publish printed; none when
/// `shop.dkim_selector` is empty.
/// The incident notices' bounce listener, when `[respond.notices]` has both a domain and an
/// address to listen on.
async fn notice_bounces(
    cfg: &Config,
    gateway: &Gateway,
) -> Result<Option<mamori_guard::smtp_in::SmtpHandle>> {
    let n = &cfg.respond.notices;
    let (Some(domain), Some(listen)) = (&n.bounce_domain, &n.bounce_listen) else {
        return Ok(None);
    };
    let listen: SocketAddr = listen
        .parse()
        .with_context(|| format!("respond.notices.bounce_listen: {listen:?}"))?;
    let handle = mamori_respond::notices::bounce::BounceSink::new(
        mamori_respond::Desk::new(gateway.clone()),
        domain,
    )
    .listen(listen)
    .await
    .context("starting the notice bounce listener")?;
    println!(
        "notice bounces:   SMTP on {} for {domain}",
        handle.local_addr()
    );
    Ok(Some(handle))
}

fn dkim_signer(cfg: &Config, domain: &str) -> Result<Option<DkimSigner>> {
    let selector = cfg.shop.dkim_selector.trim();
    if selector.is_empty() {
        return Ok(None);
    }
    let (path, created) = match &cfg.shop.dkim_key_file {
        Some(p) => (p.clone(), false),
        None => {
            let p = cfg.data_dir.join("dkim.key");
            let created = !p.exists();
            if created {
                DkimSigner::create_ed25519_key_file(&p).context("creating the DKIM key")?;
            }
            (p, created)
        }
    };
    let signer = DkimSigner::from_key_file(selector, domain, &path)
        .with_context(|| format!("the DKIM key {}", path.display()))?;
    if created {
        println!(
            "created {} (DKIM, mode 0600); publish TXT {} \"{}\"",
            path.display(),
            signer.dns_name(),
            signer.dns_record()
        );
    }
    Ok(Some(signer))
}

/// The back office, serving on its own listener.
struct RunningBackoffice {
    /// Where staff reach it.
    public_url: Url,
    /// Its server task.
    server: tokio::task::JoinHandle<()>,
    /// Where `mamori serve` hands it the file guard (for the owner's approval).
    guard: Arc<std::sync::OnceLock<Arc<mamori_guard::files::FileGuard>>>,
    /// Where `mamori serve` hands it the script inventory (for the owner's changes).
    scripts: Arc<std::sync::OnceLock<mamori_guard::inventory::ScriptInventory>>,
    /// The incident desk's switches of this process (shared with the shop).
    switches: mamori_respond::Switchboard,
    /// Removes expired staff sessions (with the housekeeping, on one process).
    session_purger: mamori_backoffice::sessions::StaffSessionPurger,
}

/// Starts the back office on `[backoffice].listen` (its own port, never the shop's), behind its
/// IP allow-list, until `stop` completes.
/// The back office's listener and settings, bound before anything that names its URL (alerts).
struct BoundBackoffice {
    listener: tokio::net::TcpListener,
    config: mamori_backoffice::config::BackofficeConfig,
}

async fn bind_backoffice(cfg: &Config) -> Result<BoundBackoffice> {
    let section = &cfg.backoffice;
    let listener = tokio::net::TcpListener::bind(section.listen)
        .await
        .with_context(|| format!("listening on {} (backoffice.listen)", section.listen))?;
    let addr = listener.local_addr()?;
    let mut config = section.to_config(addr, &cfg.shop)?;
    config.notice_bounce_domain = cfg.respond.notices.bounce_domain.clone();
    Ok(BoundBackoffice { listener, config })
}

async fn start_backoffice(
    bound: BoundBackoffice,
    gateway: &Gateway,
    psp: Arc<dyn PaymentConnector>,
    csp_sink: Arc<dyn mamori_web::security::CspReportSink>,
    fraud: mamori_store::fraud::FraudWatch,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<RunningBackoffice> {
    let BoundBackoffice { listener, config } = bound;
    let public_url = config.public_url.clone();
    let mut assembly = mamori_backoffice::assemble(mamori_backoffice::Parts {
        gateway: gateway.clone(),
        psp,
        config,
        clock: Arc::new(mamori_web::clock::SystemClock),
    })
    .context("the back office's WebAuthn settings (backoffice.public_url)")?;
    // The back office's own CSP reports are stored and alerted like the shop's, under a page
    // name of their own.
    assembly.stack = assembly.stack.with_csp_sink(csp_sink);
    let _ = assembly.state.fraud.set(fraud);
    let guard = assembly.state.guard.clone();
    let scripts = assembly.state.scripts.clone();
    let switches = assembly.state.switches.clone();
    let session_purger = assembly.session_purger();
    let app = assembly
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
        if let Err(err) = served {
            tracing::error!(error = %err, "the back office stopped");
        }
    });
    Ok(RunningBackoffice {
        public_url,
        server,
        guard,
        scripts,
        switches,
        session_purger,
    })
}
