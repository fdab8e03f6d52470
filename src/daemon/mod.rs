//! `ordersync serve`: the long-running daemon (SPEC 6).
//!
//! ```text
//!  POST /webhooks/{ch} --verify HMAC--> decode --> Writer::ingest (store, decide, deliveries; one commit)
//!                                                        |  after commit
//!                                                        v
//!                                 dispatch: one lane per (order, destination) --> POST deliver.url
//!                                                        |  each attempt
//!                                                        v
//!                                                 Writer::record
//! ```
//!
//! Start-up order: open the store (migrations), load the rules, queue the
//! deliveries left pending by the last run, then listen and tell systemd
//! READY. Shutdown is the caller's [`CancellationToken`] (`main` cancels it on
//! SIGTERM or Ctrl-C, see [`signalled`]): webhooks answer 503, the listener
//! drains, no new delivery attempt starts and those in flight finish within
//! the deadline (every task that must finish is on one [`TaskTracker`]), the
//! writer commits its last group, exit 0. What was left undone is pending in
//! the store.

pub mod admin;
pub mod delivery;
pub mod ingress;
pub mod jobs;
pub mod reload;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::rules::{self, RuleSet};
use crate::store::{self, Reader, Writer};

/// How the daemon is started.
#[derive(Clone, Debug)]
pub struct Config {
    /// The rules file or directory.
    pub rules: PathBuf,
    /// The store: a SQLite file, or a PostgreSQL database shared with other daemons.
    pub db: store::Location,
    /// On PostgreSQL: the most connections kept open.
    pub pool: usize,
    /// On PostgreSQL: how long a claim on a lane or a job lasts unless renewed.
    pub lease: Duration,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The largest webhook body accepted.
    pub max_body: usize,
    /// Webhook requests a second per channel (0: no limit).
    pub webhook_rate: u32,
    /// How long shutdown may wait for work in flight.
    pub shutdown_timeout: Duration,
    /// Delivery requests in flight at once, across destinations.
    pub concurrency: usize,
    /// Watch the rules file (and re-hash it) for changes; SIGHUP reloads either way.
    pub watch: bool,
    /// The bearer token the admin API and `/metrics` require; `None` leaves
    /// them open, which `serve` allows only on a loopback address.
    pub admin_token: Option<String>,
    /// Retention, stuck deliveries, `PRAGMA optimize`.
    pub housekeeping: jobs::HousekeepingConfig,
    /// Shipping labels: the renderer.
    pub labels: LabelConfig,
}

/// How HTML labels are printed to PDF (SPEC 13).
#[derive(Clone, Debug)]
pub struct LabelConfig {
    /// `--chromium PATH`; else `chromium` on `PATH`.
    pub chromium: Option<PathBuf>,
    /// Conversions at once, at most.
    pub concurrency: usize,
    /// One conversion's time limit.
    pub timeout: Duration,
}

/// What the request handlers and delivery tasks share: the rules now in
/// force, the metrics, the shutdown token.
pub struct Live {
    /// A watch channel, so the poller hears of every swap.
    rules: watch::Sender<Arc<RuleSet>>,
    /// When the rules in force were loaded.
    loaded_at: RwLock<chrono::DateTime<chrono::Utc>>,
    /// The errors of the last refused reload, until one succeeds.
    last_error: RwLock<Option<String>>,
    /// The last reload attempt: when, what triggered it, what it came to.
    last_reload: RwLock<Option<(chrono::DateTime<chrono::Utc>, String, &'static str)>>,
    /// Cancelled when the daemon shuts down (the token `serve` was given).
    shutdown: CancellationToken,
    /// Everything `/metrics` shows.
    pub metrics: admin::metrics::Metrics,
    /// Channels a platform throttled (connectors): delivery and polling wait.
    pub throttles: Arc<crate::delivery::connector::Throttles>,
    /// Connector channels whose credentials were refused for good.
    pub credentials: Arc<crate::delivery::connector::CredentialStates>,
    /// OAuth access tokens per connector channel (kept until a minute before they expire).
    pub tokens: Arc<crate::delivery::connector::credential::Tokens>,
    /// Prints HTML labels to PDF; `None` on a host without Chromium.
    pub renderer: Option<Arc<crate::delivery::label::chromium::Renderer>>,
    /// When the scheduler's heartbeat job last ran (ms since `started`).
    heartbeat: AtomicU64,
    started: Instant,
}

/// Each warning of a rule set, once, where it is loaded.
pub(crate) fn log_warnings(rules: &RuleSet) {
    for w in &rules.warnings {
        tracing::warn!(file = %w.file, line = w.line, column = w.column, "rules warning: {}", w.message);
    }
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(v) => v.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn write<T>(lock: &RwLock<T>, value: T) {
    match lock.write() {
        Ok(mut v) => *v = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
}

impl Live {
    fn new(
        rules: Arc<RuleSet>,
        renderer: Option<Arc<crate::delivery::label::chromium::Renderer>>,
        shutdown: CancellationToken,
    ) -> Live {
        let live = Live {
            rules: watch::Sender::new(rules),
            loaded_at: RwLock::new(chrono::Utc::now()),
            last_error: RwLock::new(None),
            last_reload: RwLock::new(None),
            shutdown,
            metrics: admin::metrics::Metrics::new(),
            throttles: Arc::default(),
            credentials: Arc::default(),
            tokens: Arc::default(),
            renderer,
            heartbeat: AtomicU64::new(0),
            started: Instant::now(),
        };
        live.metrics
            .last_reload_success
            .set(unix_seconds(live.loaded_at()));
        live.metrics.reload_failing.set(0);
        live
    }

    /// The rules in force: an update is decided by the set it started with.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.borrow().clone()
    }

    /// The scheduler's heartbeat: called by its every-second job.
    fn beat(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.heartbeat.store(ms, Ordering::Relaxed);
    }

    /// How long since the scheduler's last heartbeat.
    fn beat_age(&self) -> Duration {
        let now = self.started.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.heartbeat.load(Ordering::Relaxed)))
    }

    /// When the rules in force were loaded.
    pub fn loaded_at(&self) -> chrono::DateTime<chrono::Utc> {
        read(&self.loaded_at)
    }

    /// The errors of the last refused reload, if it has not been followed by a good one.
    pub fn last_error(&self) -> Option<String> {
        read(&self.last_error)
    }

    fn swap(&self, rules: Arc<RuleSet>) {
        self.rules.send_replace(rules);
        let now = chrono::Utc::now();
        write(&self.loaded_at, now);
        self.metrics.last_reload_success.set(unix_seconds(now));
        self.set_error(None);
    }

    fn set_error(&self, error: Option<String>) {
        let failing = i64::from(error.is_some());
        write(&self.last_error, error);
        self.metrics.reload_failing.set(failing);
    }

    /// Notes a reload attempt's outcome (`applied`, `unchanged`, `rejected`).
    fn note_reload(&self, trigger: &str, outcome: &'static str) {
        self.metrics.reloads.inc(&[outcome]);
        write(
            &self.last_reload,
            Some((chrono::Utc::now(), trigger.to_string(), outcome)),
        );
    }

    /// The last reload attempt: when, its trigger, its outcome.
    pub fn last_reload(&self) -> Option<(chrono::DateTime<chrono::Utc>, String, &'static str)> {
        read(&self.last_reload)
    }

    fn is_stopping(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}

fn unix_seconds(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Runs the daemon until `shutdown` is cancelled (or the listener ends, which
/// cancels it); `Ok` after a clean drain within `config.shutdown_timeout`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let opened = Store::open(&config, jobs_tx.clone())
        .await
        .with_context(|| format!("cannot open the store {}", config.db.shown()))?;
    // A bad file at start does not stop the daemon when the store has the
    // rules it ran last: those keep routing, the refusal shows as a refused
    // reload, and saving a good file takes over (SPEC 10.6).
    let mut refused_at_start = None;
    let path_var = std::env::var_os("PATH");
    let chromium = crate::delivery::label::chromium::find(
        config.labels.chromium.as_deref(),
        path_var.as_deref(),
    );
    match &chromium {
        Some(p) => {
            tracing::info!(chromium = %p.display(), "HTML labels are printed by this Chromium")
        }
        None if config.labels.chromium.is_some() => tracing::warn!(
            "--chromium does not name an executable: HTML labels to convert will be rejected"
        ),
        None => {}
    }
    let renderer = chromium.map(|p| {
        Arc::new(crate::delivery::label::chromium::Renderer::new(
            p,
            config.labels.timeout,
            config.labels.concurrency,
        ))
    });
    let has_chromium = renderer.is_some();
    let rules = match rules::load(&config.rules) {
        Ok(mut r) => {
            r.note_chromium(has_chromium);
            log_warnings(&r);
            Arc::new(r)
        }
        Err(errors) => {
            let errors = rules::render_all(&errors);
            let base = if config.rules.is_dir() {
                config.rules.clone()
            } else {
                config.rules.parent().map(PathBuf::from).unwrap_or_default()
            };
            let last = opened
                .last_rules
                .clone()
                .map(|files| rules::load_sources(files, &base));
            match last {
                Some(Ok(mut last)) => {
                    last.note_chromium(has_chromium);
                    tracing::error!(
                        version = %last.version,
                        "the rules in {} were refused; running the last good version from the store until a good file is saved:\n{errors}",
                        config.rules.display()
                    );
                    refused_at_start = Some(errors);
                    Arc::new(last)
                }
                _ => anyhow::bail!(
                    "the rules in {} were refused:\n{errors}",
                    config.rules.display()
                ),
            }
        }
    };
    let Store {
        writer,
        reader,
        pending,
        thread: writer_thread,
        ..
    } = opened;
    writer.note_rules(rules.clone()).await?;
    let live = Arc::new(Live::new(rules.clone(), renderer, shutdown.clone()));
    if let Some(errors) = refused_at_start {
        live.set_error(Some(errors));
        live.note_reload("start", "rejected");
    }
    let reloader = reload::Reloader::new(config.rules.clone(), live.clone(), writer.downgrade());
    reload::start(reloader.clone(), config.watch);

    let scheduler = jobs::start(live.clone())
        .await
        .context("cannot start the scheduler")?;
    jobs::housekeeping(
        &scheduler,
        writer.downgrade(),
        live.clone(),
        config.housekeeping.clone(),
    )
    .await
    .context("cannot schedule housekeeping")?;
    let poller = ingress::poll::Poller::new(scheduler.clone(), writer.downgrade(), live.clone());
    poller.apply(&rules).await;
    {
        // A reload that changes a channel's `poll` rebuilds its schedule.
        let (poller, mut swaps) = (poller.clone(), live.rules.subscribe());
        tokio::spawn(async move {
            while swaps.changed().await.is_ok() {
                let rules = swaps.borrow_and_update().clone();
                poller.apply(&rules).await;
            }
        });
    }

    // What shutdown waits for: the listener, the dispatcher and its delivery
    // tasks, the watchdog.
    let tracker = TaskTracker::new();
    if !pending.is_empty() {
        tracing::info!(
            deliveries = pending.len(),
            "resuming deliveries left pending"
        );
    }
    delivery::dispatch::start(
        jobs_rx,
        pending,
        writer.clone(),
        reader.clone(),
        live.clone(),
        config.concurrency,
        shutdown.clone(),
        &tracker,
    );
    // On a shared store, deliveries come from the lanes this daemon claims;
    // it stops claiming at shutdown, and gives its lanes up once the
    // deliveries in flight are recorded.
    let lanes_held = CancellationToken::new();
    let claimer = tokio::spawn(delivery::claims::run(
        writer.clone(),
        jobs_tx,
        shutdown.clone(),
        lanes_held.clone(),
    ));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = state::State {
        live: live.clone(),
        writer: writer.clone(),
        reader,
        poller: poller.clone(),
        reloader,
        max_body: config.max_body,
        limiter: Arc::new(ingress::limit::Limiter::new(config.webhook_rate)),
        admin_token: config.admin_token.clone().map(Arc::from),
    };
    let app = axum::Router::new()
        .merge(ingress::webhook::routes())
        .merge(admin::router(state.clone()))
        .with_state(state);
    tracing::info!(
        %addr,
        rules = %config.rules.display(),
        version = %rules.version,
        db = %config.db.shown(),
        "ordersync listening"
    );
    if config.admin_token.is_none() {
        tracing::warn!(
            "no admin token: /api and /metrics answer anyone who can reach {addr}; set ORDERSYNC_ADMIN_TOKEN"
        );
    }
    // Tests and scripts that listen on port 0 read the address from here.
    println!("ordersync listening on http://{addr}");
    notify(&[sd_notify::NotifyState::Ready]);
    jobs::watchdog(live.clone(), writer.downgrade(), &tracker);

    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let mut server = tracker.spawn(async move { server.await });
    let ended = tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = &mut server => true,
    };
    // A listener that ended on its own stops the rest too.
    shutdown.cancel();
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down: draining requests and deliveries");
    let deadline = config.shutdown_timeout;
    let started = tokio::time::Instant::now();
    // The listener drains on its own once cancelled; bound it by the deadline.
    if !ended && tokio::time::timeout(deadline, &mut server).await.is_err() {
        tracing::warn!("webhook requests still open at the deadline were cut off");
        server.abort();
    }
    let mut scheduler = scheduler;
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = %e, "the scheduler did not stop cleanly");
    }
    tracker.close();
    let left = deadline.saturating_sub(started.elapsed());
    if tokio::time::timeout(left, tracker.wait()).await.is_err() {
        tracing::warn!("deliveries still in flight at the deadline resume at the next start");
    }
    lanes_held.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(2), claimer).await;
    drop(writer);
    drop(live);
    // The writer ends once the last handle is gone, after committing what it
    // holds. A delivery cut off at the deadline may still hold one; each group
    // commits whole, so leaving then is as safe as a crash and loses nothing
    // acknowledged.
    if let Some(writer_thread) = writer_thread {
        let joined = tokio::task::spawn_blocking(move || writer_thread.join());
        if tokio::time::timeout(Duration::from_secs(2), joined)
            .await
            .is_err()
        {
            tracing::warn!("the store writer was still busy at exit");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The store `serve` runs on, opened and migrated.
struct Store {
    writer: Writer,
    reader: Reader,
    /// The rules any daemon loaded last, for a start on a refused file.
    last_rules: Option<Vec<rules::SourceFile>>,
    /// SQLite: the deliveries the last run left pending, to resume (on
    /// PostgreSQL they wait in their lanes for whichever daemon claims them).
    pending: Vec<delivery::dispatch::PendingRef>,
    /// SQLite's writer thread, joined at exit.
    thread: Option<store::WriterThread>,
}

impl Store {
    async fn open(
        config: &Config,
        jobs: mpsc::UnboundedSender<Vec<store::Job>>,
    ) -> anyhow::Result<Store> {
        let decide = Arc::new(crate::pipeline::Pipeline);
        match &config.db {
            store::Location::Sqlite(path) => {
                let opened = store::open(path)?;
                let last_rules = opened.last_rules()?;
                let pending = opened.pending_refs()?;
                let (writer, thread) = Writer::start(opened, jobs, decide)?;
                Ok(Store {
                    writer,
                    reader: Reader::new(path),
                    last_rules,
                    pending,
                    thread: Some(thread),
                })
            }
            store::Location::Postgres(url) => {
                let pg = store::pg::PgStore::open(url, config.pool, decide)
                    .await?
                    .with_lease(config.lease);
                tracing::info!(
                    daemon = pg.owner(),
                    pool = config.pool,
                    "on a shared PostgreSQL store"
                );
                Ok(Store {
                    last_rules: pg.last_rules().await?,
                    reader: Reader::postgres(pg.clone()),
                    writer: Writer::postgres(pg, jobs),
                    pending: Vec::new(),
                    thread: None,
                })
            }
        }
    }
}

/// Resolves at SIGTERM or Ctrl-C: what `main` cancels `serve`'s token on.
pub async fn signalled() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Tells systemd (when run under it with `Type=notify`); otherwise does nothing.
pub(crate) fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}
