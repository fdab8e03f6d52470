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
//! READY. Shutdown (SIGTERM, Ctrl-C): webhooks answer 503, the listener drains,
//! requests in flight to destinations finish within the deadline, the writer
//! commits its last group, exit 0. What was left undone is pending in the store.

mod dispatch;
mod http;
pub mod reload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use crate::rules::{self, RuleSet};
use crate::store::{self, Writer};

/// How the daemon is started.
#[derive(Clone, Debug)]
pub struct Config {
    /// The rules file or directory.
    pub rules: PathBuf,
    /// The SQLite file.
    pub db: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The largest webhook body accepted.
    pub max_body: usize,
    /// How long shutdown may wait for work in flight.
    pub shutdown_timeout: Duration,
    /// Delivery requests in flight at once, across destinations.
    pub concurrency: usize,
    /// Watch the rules file (and re-hash it) for changes; SIGHUP reloads either way.
    pub watch: bool,
}

/// What the request handlers and delivery tasks share: the rules now in force.
pub struct Live {
    rules: RwLock<Arc<RuleSet>>,
    /// When the rules in force were loaded.
    loaded_at: RwLock<chrono::DateTime<chrono::Utc>>,
    /// The errors of the last refused reload, until one succeeds.
    last_error: RwLock<Option<String>>,
    stopping: AtomicBool,
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
    fn new(rules: Arc<RuleSet>) -> Live {
        Live {
            rules: RwLock::new(rules),
            loaded_at: RwLock::new(chrono::Utc::now()),
            last_error: RwLock::new(None),
            stopping: AtomicBool::new(false),
        }
    }

    /// The rules in force: an update is decided by the set it started with.
    pub fn rules(&self) -> Arc<RuleSet> {
        read(&self.rules)
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
        write(&self.rules, rules);
        write(&self.loaded_at, chrono::Utc::now());
        write(&self.last_error, None);
    }

    fn set_error(&self, error: Option<String>) {
        write(&self.last_error, error);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// Runs the daemon until SIGTERM or Ctrl-C; `Ok` after a clean drain.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let conn = store::open(&config.db)
        .with_context(|| format!("cannot open the store {}", config.db.display()))?;
    let rules = match rules::load(&config.rules) {
        Ok(r) => Arc::new(r),
        Err(errors) => {
            anyhow::bail!(
                "the rules in {} were refused:\n{}",
                config.rules.display(),
                rules::render_all(&errors)
            );
        }
    };
    for ch in rules.channels.iter().filter(|c| c.poll.is_some()) {
        tracing::warn!(
            channel = %ch.name,
            "polling is not built yet (issue 4): this channel's `poll` is not run; its webhooks are"
        );
    }
    let pending = store::pending_jobs(&conn)?;
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let (writer, writer_thread) = Writer::start(conn, jobs_tx.clone())?;
    writer.note_rules(rules.clone()).await?;
    let live = Arc::new(Live::new(rules.clone()));
    reload::start(
        reload::Reloader::new(config.rules.clone(), live.clone(), writer.clone()),
        config.watch,
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut dispatcher = dispatch::start(
        jobs_rx,
        writer.clone(),
        live.clone(),
        config.concurrency,
        stop_rx,
    );
    if !pending.is_empty() {
        tracing::info!(
            deliveries = pending.len(),
            "resuming deliveries left pending"
        );
        let _ = jobs_tx.send(pending);
    }
    drop(jobs_tx);

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = http::router(http::State {
        live: live.clone(),
        writer: writer.clone(),
        max_body: config.max_body,
    });
    tracing::info!(
        %addr,
        rules = %config.rules.display(),
        version = %rules.version,
        db = %config.db.display(),
        "ordersync listening"
    );
    // Tests and scripts that listen on port 0 read the address from here.
    println!("ordersync listening on http://{addr}");
    notify(&[sd_notify::NotifyState::Ready]);

    let signal_live = live.clone();
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        signal_live.stopping.store(true, Ordering::SeqCst);
        notify(&[sd_notify::NotifyState::Stopping]);
        tracing::info!("shutting down: draining requests and deliveries");
        let _ = drained_tx.send(());
    });
    let deadline = config.shutdown_timeout;
    let mut server = tokio::spawn(async move { server.await });
    // The listener drains on its own once the signal came; bound it by the deadline.
    let _ = drained_rx.await;
    let started = tokio::time::Instant::now();
    if tokio::time::timeout(deadline, &mut server).await.is_err() {
        tracing::warn!("webhook requests still open at the deadline were cut off");
        server.abort();
    }
    let _ = stop_tx.send(true);
    let left = deadline.saturating_sub(started.elapsed());
    if tokio::time::timeout(left, dispatcher.finished.recv())
        .await
        .is_err()
    {
        tracing::warn!("deliveries still in flight at the deadline resume at the next start");
    }
    drop(writer);
    drop(live);
    // The writer ends once the last handle is gone, after committing what it
    // holds. A delivery cut off at the deadline may still hold one; each group
    // commits whole, so leaving then is as safe as a crash and loses nothing
    // acknowledged.
    let joined = tokio::task::spawn_blocking(move || writer_thread.join());
    if tokio::time::timeout(Duration::from_secs(2), joined)
        .await
        .is_err()
    {
        tracing::warn!("the store writer was still busy at exit");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
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
