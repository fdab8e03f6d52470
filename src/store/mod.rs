//! The durable store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! Every change goes through one writer thread ([`Writer`]), which takes the
//! requests waiting at that moment and commits them in one transaction (group
//! commit): durability costs one fsync per group, not per webhook, and nobody
//! gets an answer before their change is on disk. Each request runs in its own
//! savepoint, so one failing request does not take the others with it.
//!
//! [`ingest`](Writer::ingest) is the heart of SPEC 5: store the update, find or
//! create its order, drop it as stale or a duplicate, decide it, and write the
//! decisions and outgoing deliveries, all in the same transaction.

pub mod channels;
pub mod floor;
pub mod health;
pub mod history;
mod housekeeping;
mod ingest;
pub mod orders;
mod reader;
mod schema;

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension as _, params};
use tokio::sync::{mpsc, oneshot};

use crate::ingress::Incoming;
use crate::order::Event;
use crate::rules::RuleSet;

pub use housekeeping::{Housekeeping, Pruned};
pub use ingest::Ingested;
pub use reader::{Outbox, Reader};
pub use schema::MIGRATIONS;

/// The most requests committed in one transaction.
const MAX_GROUP: usize = 1024;

/// What became of a stored update (`updates.status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateStatus {
    /// Decided for its route.
    #[default]
    Decided,
    /// Dropped by its source's `import` filter.
    Ignored,
    /// Older than the newest update already seen for its order: not decided.
    Stale,
}

impl UpdateStatus {
    /// As stored and answered.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Decided => "decided",
            UpdateStatus::Ignored => "ignored",
            UpdateStatus::Stale => "stale",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<UpdateStatus> {
        [
            UpdateStatus::Decided,
            UpdateStatus::Ignored,
            UpdateStatus::Stale,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A failure of the store itself (disk, corruption), not of the request.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The group this request was in failed to commit.
    #[error("store: commit failed: {0}")]
    Commit(String),
    /// The update could not be decided at all (its source left the rules).
    #[error("{0}")]
    Decide(String),
    /// The writer thread has stopped.
    #[error("store: the writer has stopped")]
    Closed,
    /// What an operator named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// What an operator asked cannot be done in the state things are in.
    #[error("{0}")]
    Conflict(String),
    /// What an operator gave is not enough or not valid.
    #[error("{0}")]
    Invalid(String),
    /// The database was migrated by a newer ordersync than this one.
    #[error(
        "store: the database has schema version {found}, newer than this ordersync knows ({known}); run the ordersync that last opened it, or a newer one"
    )]
    Newer {
        /// The database's `user_version`.
        found: i64,
        /// The newest version this binary migrates to.
        known: i64,
    },
}

/// Opens (creating if needed) the database and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // 16 MiB of page cache (negative: KiB).
    conn.pragma_update(None, "cache_size", -16_000)?;
    Ok(())
}

/// How often the checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints the WAL from a connection of its own, so that the writer's
/// commits never wait for the copy into the database (the writer's own
/// automatic checkpoints are turned off). Ends when `writer` is dropped.
fn checkpointer(path: &Path, stop: std::sync::mpsc::Receiver<()>) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return Ok(()),
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; trying again");
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = schema::MIGRATIONS.len() as i64;
    if applied > known {
        return Err(StoreError::Newer {
            found: applied,
            known,
        });
    }
    for (i, sql) in schema::MIGRATIONS
        .iter()
        .enumerate()
        .skip(applied.max(0) as usize)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// A time as stored: RFC 3339 UTC with microseconds, so text order is time order.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored time read back.
pub fn parse_stamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.into())
}

/// ordersync's id for an order, as shown and as written into the orders it creates.
pub fn order_ref(id: i64) -> String {
    format!("ord_{id}")
}

/// The order row id of an `ord_<id>` reference.
pub fn parse_order_ref(text: &str) -> Option<i64> {
    text.strip_prefix("ord_")?.parse().ok().filter(|n| *n > 0)
}

/// One decided update waiting to be handed to a destination.
#[derive(Clone, Debug)]
pub struct Job {
    /// The delivery row.
    pub delivery_id: i64,
    /// ordersync's order.
    pub order_id: i64,
    /// Where it goes.
    pub destination: Arc<str>,
    /// Where it came from.
    pub source: Arc<str>,
    /// What happened.
    pub event: Event,
    /// The rules version that decided it.
    pub rules_version: Arc<str>,
    /// The order as decided for the destination (JSON).
    pub order_json: Arc<str>,
    /// The destination's own id for the order, if known when decided.
    pub external_id: Option<String>,
    /// The same on every attempt.
    pub idempotency_key: Arc<str>,
    /// Attempts already made.
    pub attempts: u32,
    /// Not before this time (a retry's back-off that outlived a restart).
    pub not_before: Option<DateTime<Utc>>,
    /// When the update it delivers arrived (for the latency metric).
    pub received_at: DateTime<Utc>,
    /// A request whose outcome may be unknown was sent for it before (a
    /// connector looks for what it made before sending it again).
    pub sent: bool,
    /// The request a template rendered for it at its first attempt (JSON,
    /// `${NAME}` markers for secrets): every later attempt sends it again.
    pub rendered: Option<Arc<str>>,
}

/// The shipping label a delivery sends, as kept (SPEC 13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// `pdf`, `html` or `zpl`: what it is as sent.
    pub format: String,
    /// Its MIME type.
    pub content_type: String,
    /// `label-<order name or id>.pdf`.
    pub filename: String,
    /// The bytes as sent.
    pub bytes: Vec<u8>,
}

/// What one delivery attempt came to.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The delivery row.
    pub delivery_id: i64,
    /// ordersync's order.
    pub order_id: i64,
    /// The destination.
    pub destination: Arc<str>,
    /// The external id the request carried.
    pub external_id: Option<String>,
    /// When the request was sent.
    pub at: DateTime<Utc>,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    /// The transport error, if none came.
    pub error: Option<String>,
    /// The response body (capped).
    pub response: Vec<u8>,
    /// How long the request took.
    pub duration: Duration,
    /// The delivery's status after this attempt.
    pub status: DeliveryStatus,
    /// When to try again (for `Pending`).
    pub next_at: Option<DateTime<Utc>>,
    /// The destination's id for the order from a 2xx `{"id": ...}`.
    pub linked_id: Option<String>,
    /// A connector's requests, each kept as its own row; empty for an
    /// envelope delivery, whose one request is this attempt itself.
    pub steps: Vec<StepRecord>,
}

/// One request of a connector's delivery and its answer.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// What the request was for (`orderCreate`, `order lookup`).
    pub step: String,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The request as sent, secrets masked: JSON `{"method", "url", "headers", "body"}`.
    pub request: String,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    /// The transport error, or the platform's reason.
    pub error: Option<String>,
    /// The answer's body (capped).
    pub response: Vec<u8>,
    /// How long it took.
    pub duration: Duration,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet delivered; more attempts will be made.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// A 4xx other than 408 and 429: not tried again.
    Rejected,
    /// The retry policy's attempts are used up.
    Dead,
}

impl DeliveryStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Rejected => "rejected",
            DeliveryStatus::Dead => "dead",
        }
    }
}

/// A webhook body that could not be read.
#[derive(Clone, Debug)]
pub struct Quarantined {
    /// The channel it was sent to.
    pub channel: String,
    /// When it came.
    pub received_at: DateTime<Utc>,
    /// Why it could not be read.
    pub reason: String,
    /// Its headers (name, value), for the dashboard.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// How an update came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `POST /webhooks/{channel}`.
    Webhook,
    /// A poll run's response.
    Poll,
}

impl Via {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Webhook => "webhook",
            Via::Poll => "poll",
        }
    }
}

/// A channel's polling state as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollState {
    /// The largest `updated_at` seen (RFC 3339).
    pub cursor: Option<String>,
    /// When the last run started.
    pub last_run_at: Option<String>,
    /// When the last run succeeded.
    pub last_success_at: Option<String>,
}

/// One update to store and decide.
pub struct IngestRequest {
    /// The source channel.
    pub channel: Arc<str>,
    /// Webhook or poll.
    pub via: Via,
    /// A Shopify webhook's `X-Shopify-Topic`, kept to read the payload again.
    pub topic: Option<String>,
    /// What was read from the body.
    pub incoming: Incoming,
    /// The raw body, kept.
    pub payload: Vec<u8>,
    /// When it came; also the `now()` its rules see.
    pub received_at: DateTime<Utc>,
    /// The rules it is decided with: those current when it arrived.
    pub rules: Arc<RuleSet>,
}

enum Op {
    Ingest(
        Box<IngestRequest>,
        oneshot::Sender<Result<Ingested, StoreError>>,
    ),
    Quarantine(Box<Quarantined>, oneshot::Sender<Result<i64, StoreError>>),
    Record(Box<Attempt>, oneshot::Sender<Result<(), StoreError>>),
    MarkSent(i64, oneshot::Sender<Result<(), StoreError>>),
    SaveRefreshToken(String, String, oneshot::Sender<Result<(), StoreError>>),
    RefreshToken(String, oneshot::Sender<Result<Option<String>, StoreError>>),
    SaveRendered(i64, String, oneshot::Sender<Result<(), StoreError>>),
    KeepLabel(i64, Box<Label>, oneshot::Sender<Result<(), StoreError>>),
    Rules(Arc<RuleSet>, oneshot::Sender<Result<(), StoreError>>),
    PollState(String, oneshot::Sender<Result<PollState, StoreError>>),
    SavePoll(String, PollState, oneshot::Sender<Result<(), StoreError>>),
    Housekeep(Housekeeping, oneshot::Sender<Result<Pruned, StoreError>>),
    Admin(AdminOp, oneshot::Sender<Result<orders::Done, StoreError>>),
    Ping(oneshot::Sender<Result<(), StoreError>>),
}

/// An operator's action, run by the writer inside its transaction.
pub type AdminOp = Box<dyn FnOnce(&Connection) -> Result<orders::Done, StoreError> + Send>;

/// A handle on the writer thread; cheap to clone. The thread ends when every
/// handle is dropped, after committing what it was sent.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Op>,
}

/// A handle that does not keep the writer running: background jobs hold
/// this, so the writer stops (and commits its last group) once the daemon
/// drops its own handles at shutdown.
#[derive(Clone)]
pub struct WeakWriter(mpsc::WeakSender<Op>);

impl WeakWriter {
    /// The writer, unless it has stopped.
    pub fn upgrade(&self) -> Result<Writer, StoreError> {
        self.0
            .upgrade()
            .map(|tx| Writer { tx })
            .ok_or(StoreError::Closed)
    }
}

/// The running writer thread.
pub struct WriterThread(thread::JoinHandle<()>);

impl WriterThread {
    /// Waits for the thread to commit its last group and stop.
    pub fn join(self) {
        // A panic in the writer has already been reported by the panic hook.
        let _ = self.0.join();
    }
}

impl Writer {
    /// Starts the writer on an open connection. New deliveries are sent to
    /// `jobs` once their transaction has committed.
    pub fn start(
        conn: Connection,
        jobs: mpsc::UnboundedSender<Vec<Job>>,
    ) -> Result<(Writer, WriterThread), StoreError> {
        let (tx, rx) = mpsc::channel(8 * MAX_GROUP);
        let path = conn.path().map(std::path::PathBuf::from);
        let (stop_checkpoints, stop) = std::sync::mpsc::channel();
        if let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            thread::Builder::new()
                .name("ordersync-wal".into())
                .spawn(move || {
                    if let Err(e) = checkpointer(&path, stop) {
                        tracing::error!(error = %e, "the WAL checkpointer stopped");
                    }
                })
                .map_err(|e| StoreError::Commit(e.to_string()))?;
        }
        let handle = thread::Builder::new()
            .name("ordersync-store".into())
            .spawn(move || {
                run(conn, rx, jobs);
                drop(stop_checkpoints);
            })
            .map_err(|e| StoreError::Commit(e.to_string()))?;
        Ok((Writer { tx }, WriterThread(handle)))
    }

    /// A handle that does not keep the writer running.
    pub fn downgrade(&self) -> WeakWriter {
        WeakWriter(self.tx.downgrade())
    }

    async fn call<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(op(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores an update and decides it (SPEC 5 steps 1-4); answers once committed.
    pub async fn ingest(&self, request: IngestRequest) -> Result<Ingested, StoreError> {
        self.call(|r| Op::Ingest(Box::new(request), r)).await
    }

    /// Keeps an unreadable body; answers with its quarantine id once committed.
    pub async fn quarantine(&self, q: Quarantined) -> Result<i64, StoreError> {
        self.call(|r| Op::Quarantine(Box::new(q), r)).await
    }

    /// Records a delivery attempt and the delivery's new status.
    pub async fn record(&self, attempt: Attempt) -> Result<(), StoreError> {
        self.call(|r| Op::Record(Box::new(attempt), r)).await
    }

    /// Notes, durably, that a request whose outcome may be unknown is about
    /// to be sent for this delivery (see the `sent_at` column).
    pub async fn mark_sent(&self, delivery_id: i64) -> Result<(), StoreError> {
        self.call(|r| Op::MarkSent(delivery_id, r)).await
    }

    /// Stores a channel's newest OAuth refresh token; answers once it is
    /// committed (durable), so it may be relied on from then on.
    pub async fn save_refresh_token(&self, channel: &str, token: &str) -> Result<(), StoreError> {
        let (channel, token) = (channel.to_string(), token.to_string());
        self.call(|r| Op::SaveRefreshToken(channel, token, r)).await
    }

    /// A channel's stored refresh token, if one was ever stored (read by the
    /// writer, so it is never older than the last one saved).
    pub async fn refresh_token(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let channel = channel.to_string();
        self.call(|r| Op::RefreshToken(channel, r)).await
    }

    /// Stores, durably, the request a template rendered for this delivery, before
    /// it is first sent; a request already stored is kept (the first one wins).
    pub async fn save_rendered(
        &self,
        delivery_id: i64,
        rendered: String,
    ) -> Result<(), StoreError> {
        self.call(|r| Op::SaveRendered(delivery_id, rendered, r))
            .await
    }

    /// Keeps the label a delivery sends (the first one kept stays: a retry
    /// sends the same bytes).
    pub async fn keep_label(&self, delivery_id: i64, label: Label) -> Result<(), StoreError> {
        self.call(|r| Op::KeepLabel(delivery_id, Box::new(label), r))
            .await
    }

    /// Stores a rules version's text, so its decisions can be explained later.
    pub async fn note_rules(&self, rules: Arc<RuleSet>) -> Result<(), StoreError> {
        self.call(|r| Op::Rules(rules, r)).await
    }

    /// A channel's polling cursor and run times.
    pub async fn poll_state(&self, channel: &str) -> Result<PollState, StoreError> {
        let channel = channel.to_string();
        self.call(|r| Op::PollState(channel, r)).await
    }

    /// Stores a channel's polling cursor and run times.
    pub async fn save_poll_state(&self, channel: &str, state: PollState) -> Result<(), StoreError> {
        let channel = channel.to_string();
        self.call(|r| Op::SavePoll(channel, state, r)).await
    }

    /// One bounded pass of housekeeping; call again while it reports `more`.
    pub async fn housekeep(&self, h: Housekeeping) -> Result<Pruned, StoreError> {
        self.call(|r| Op::Housekeep(h, r)).await
    }

    /// Runs an operator's action (see [`orders`]); its deliveries are handed
    /// to the dispatcher once it has committed.
    pub async fn admin(
        &self,
        op: impl FnOnce(&Connection) -> Result<orders::Done, StoreError> + Send + 'static,
    ) -> Result<orders::Done, StoreError> {
        self.call(|r| Op::Admin(Box::new(op), r)).await
    }

    /// Answers once the writer has committed everything sent before it.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(Op::Ping).await
    }
}

/// What one op produced, waiting for the commit before it is answered.
enum Done {
    Ingest(
        oneshot::Sender<Result<Ingested, StoreError>>,
        Result<Ingested, StoreError>,
    ),
    Quarantine(
        oneshot::Sender<Result<i64, StoreError>>,
        Result<i64, StoreError>,
    ),
    Unit(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
    PollState(
        oneshot::Sender<Result<PollState, StoreError>>,
        Result<PollState, StoreError>,
    ),
    Housekeep(
        oneshot::Sender<Result<Pruned, StoreError>>,
        Result<Pruned, StoreError>,
    ),
    Token(
        oneshot::Sender<Result<Option<String>, StoreError>>,
        Result<Option<String>, StoreError>,
    ),
    Admin(
        oneshot::Sender<Result<orders::Done, StoreError>>,
        Result<orders::Done, StoreError>,
    ),
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>, jobs: mpsc::UnboundedSender<Vec<Job>>) {
    run_groups(&mut conn, &mut rx, &jobs);
    // Leave a small WAL behind: the next start opens faster.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "the last WAL checkpoint failed");
    }
}

fn run_groups(
    conn: &mut Connection,
    rx: &mut mpsc::Receiver<Op>,
    jobs: &mpsc::UnboundedSender<Vec<Job>>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        let mut done = Vec::with_capacity(group.len());
        let committed = commit_group(conn, &mut group, &mut done);
        let mut new_jobs = Vec::new();
        for d in done {
            match d {
                Done::Ingest(reply, result) => {
                    let result = match (&committed, result) {
                        (Ok(()), Ok(mut ingested)) => {
                            if let Some(jobs) = ingested.jobs_mut() {
                                new_jobs.append(jobs);
                            }
                            Ok(ingested)
                        }
                        (Ok(()), Err(e)) => Err(e),
                        (Err(e), _) => Err(StoreError::Commit(e.to_string())),
                    };
                    let _ = reply.send(result);
                }
                Done::Quarantine(reply, result) => {
                    let _ = reply.send(committed_or(&committed, result));
                }
                Done::Unit(reply, result) => {
                    let _ = reply.send(committed_or(&committed, result));
                }
                Done::PollState(reply, result) => {
                    let _ = reply.send(committed_or(&committed, result));
                }
                Done::Housekeep(reply, result) => {
                    let _ = reply.send(committed_or(&committed, result));
                }
                Done::Token(reply, result) => {
                    let _ = reply.send(committed_or(&committed, result));
                }
                Done::Admin(reply, result) => {
                    let result = match committed_or(&committed, result) {
                        Ok(mut done) => {
                            new_jobs.append(&mut done.jobs);
                            Ok(done)
                        }
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(result);
                }
            }
        }
        if let Err(e) = &committed {
            tracing::error!(error = %e, "a group of store writes failed to commit");
        }
        if !new_jobs.is_empty() {
            // The dispatcher may be gone while shutting down: the jobs are
            // pending in the store and resume at the next start.
            let _ = jobs.send(new_jobs);
        }
    }
}

fn committed_or<T>(
    committed: &Result<(), rusqlite::Error>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match committed {
        Ok(()) => result,
        Err(e) => Err(StoreError::Commit(e.to_string())),
    }
}

fn commit_group(
    conn: &mut Connection,
    group: &mut Vec<Op>,
    done: &mut Vec<Done>,
) -> Result<(), rusqlite::Error> {
    let mut tx = conn.transaction()?;
    for op in group.drain(..) {
        let mut sp = tx.savepoint()?;
        let (entry, ok) = match op {
            Op::Ingest(req, reply) => {
                let r = ingest::ingest(&sp, &req);
                let ok = r.is_ok();
                (Done::Ingest(reply, r), ok)
            }
            Op::Quarantine(q, reply) => {
                let r = quarantine(&sp, &q).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Quarantine(reply, r), ok)
            }
            Op::Record(a, reply) => {
                let r = record(&sp, &a).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::MarkSent(id, reply) => {
                let r = sp
                    .prepare_cached(
                        "UPDATE deliveries SET sent_at = coalesce(sent_at, ?2) WHERE id = ?1",
                    )
                    .and_then(|mut st| st.execute(params![id, stamp(Utc::now())]))
                    .map(|_| ())
                    .map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::SaveRefreshToken(channel, token, reply) => {
                let r = save_refresh_token(&sp, &channel, &token).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::RefreshToken(channel, reply) => {
                let r = stored_refresh_token(&sp, &channel).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Token(reply, r), ok)
            }
            Op::SaveRendered(id, rendered, reply) => {
                let r = sp
                    .prepare_cached(
                        "UPDATE deliveries SET rendered = coalesce(rendered, ?2) WHERE id = ?1",
                    )
                    .and_then(|mut st| st.execute(params![id, rendered]))
                    .map(|_| ())
                    .map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::KeepLabel(id, label, reply) => {
                let r = keep_label(&sp, id, &label).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::Rules(rules, reply) => {
                let r = note_rules(&sp, &rules).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::PollState(channel, reply) => {
                let r = poll_state(&sp, &channel).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::PollState(reply, r), ok)
            }
            Op::SavePoll(channel, state, reply) => {
                let r = save_poll_state(&sp, &channel, &state).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Unit(reply, r), ok)
            }
            Op::Housekeep(h, reply) => {
                let r = housekeeping::run(&sp, &h).map_err(StoreError::from);
                let ok = r.is_ok();
                (Done::Housekeep(reply, r), ok)
            }
            Op::Admin(op, reply) => {
                let r = op(&sp);
                let ok = r.is_ok();
                (Done::Admin(reply, r), ok)
            }
            Op::Ping(reply) => (Done::Unit(reply, Ok(())), true),
        };
        if ok {
            sp.commit()?;
        } else {
            sp.rollback()?;
            drop(sp);
        }
        done.push(entry);
    }
    let ingests = done.iter().any(|d| matches!(d, Done::Ingest(..)));
    if ingests {
        crate::failpoint::hit("ingest-before-commit");
    }
    tx.commit()?;
    if ingests {
        crate::failpoint::hit("ingest-after-commit");
    }
    Ok(())
}

fn quarantine(conn: &Connection, q: &Quarantined) -> rusqlite::Result<i64> {
    let headers: serde_json::Map<String, serde_json::Value> = q
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    conn.prepare_cached(
        "INSERT INTO quarantine (channel, received_at, reason, headers, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        q.channel,
        stamp(q.received_at),
        q.reason,
        serde_json::Value::Object(headers).to_string(),
        q.body
    ])?;
    Ok(conn.last_insert_rowid())
}

fn keep_label(conn: &Connection, delivery_id: i64, l: &Label) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO labels (delivery_id, format, content_type, filename, bytes, kept_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        delivery_id,
        l.format,
        l.content_type,
        l.filename,
        l.bytes,
        stamp(Utc::now())
    ])?;
    Ok(())
}

/// The label kept for a delivery, if any.
pub fn label_of(conn: &Connection, delivery_id: i64) -> rusqlite::Result<Option<Label>> {
    conn.prepare_cached(
        "SELECT format, content_type, filename, bytes FROM labels WHERE delivery_id = ?1",
    )?
    .query_row([delivery_id], |r| {
        Ok(Label {
            format: r.get(0)?,
            content_type: r.get(1)?,
            filename: r.get(2)?,
            bytes: r.get(3)?,
        })
    })
    .optional()
}

fn record(conn: &Connection, a: &Attempt) -> rusqlite::Result<()> {
    let at = stamp(a.at);
    if a.steps.is_empty() {
        conn.prepare_cached(
            "INSERT INTO attempts (delivery_id, at, external_id, http_status, error, response, duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            a.delivery_id,
            at,
            a.external_id,
            a.http_status,
            a.error,
            a.response,
            a.duration.as_secs_f64() * 1000.0
        ])?;
    }
    for s in &a.steps {
        conn.prepare_cached(
            "INSERT INTO attempts (delivery_id, at, external_id, http_status, error, response,
                                   duration_ms, step, request)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            a.delivery_id,
            stamp(s.at),
            a.external_id,
            s.http_status,
            s.error,
            s.response,
            s.duration.as_secs_f64() * 1000.0,
            s.step,
            s.request
        ])?;
    }
    conn.prepare_cached(
        "UPDATE deliveries SET status = ?2, attempts = attempts + 1, next_at = ?3,
             last_status = ?4, last_error = ?5, updated_at = ?6 WHERE id = ?1",
    )?
    .execute(params![
        a.delivery_id,
        a.status.as_str(),
        a.next_at.map(stamp),
        a.http_status,
        a.error,
        at
    ])?;
    health::on_attempt(
        conn,
        a.order_id,
        &a.destination,
        a.delivery_id,
        a.status,
        &attempt_detail(a),
        &at,
    )?;
    if let Some(id) = &a.linked_id {
        conn.prepare_cached(
            "INSERT INTO links (channel, external_id, order_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel, external_id) DO NOTHING",
        )?
        .execute(params![&*a.destination, id, a.order_id])?;
    }
    Ok(())
}

/// What Order Health says of a delivery after an attempt.
fn attempt_detail(a: &Attempt) -> String {
    // A connector's attempt says why in its platform's words, or which
    // request ended it.
    if let Some(last) = a.steps.last() {
        let answer = match (&a.error, last.http_status) {
            (Some(e), _) => e.clone(),
            (None, Some(code)) => format!("{} {code}", last.step),
            (None, None) => last.step.clone(),
        };
        return match a.status {
            DeliveryStatus::Delivered => format!("delivered: {answer}"),
            DeliveryStatus::Rejected => format!("rejected: {answer}"),
            DeliveryStatus::Dead => format!("dead: no attempts left; last: {answer}"),
            DeliveryStatus::Pending => format!("retrying: {answer}"),
        };
    }
    let answer = match (a.http_status, &a.error) {
        (Some(code), _) => {
            let body = String::from_utf8_lossy(&a.response);
            let body = body.trim();
            if body.is_empty() || body == "{}" {
                format!("{code}")
            } else {
                let short: String = body.chars().take(200).collect();
                format!("{code} {short}")
            }
        }
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".to_string(),
    };
    match a.status {
        DeliveryStatus::Delivered => format!("delivered: {answer}"),
        DeliveryStatus::Rejected => format!("rejected: {answer}"),
        DeliveryStatus::Dead => format!("dead: no attempts left; last: {answer}"),
        DeliveryStatus::Pending => format!("retrying: {answer}"),
    }
}

fn note_rules(conn: &Connection, rules: &RuleSet) -> rusqlite::Result<()> {
    let files: Vec<serde_json::Value> = rules
        .files
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "text": f.text}))
        .collect();
    conn.prepare_cached(
        "INSERT INTO rules_versions (version, files, loaded_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (version) DO NOTHING",
    )?
    .execute(params![
        &*rules.version,
        serde_json::Value::Array(files).to_string(),
        stamp(Utc::now())
    ])?;
    Ok(())
}

/// Stores `channel`'s newest refresh token (replacing the one before).
fn save_refresh_token(conn: &Connection, channel: &str, token: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO credentials (channel, refresh_token, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (channel) DO UPDATE SET refresh_token = excluded.refresh_token,
             updated_at = excluded.updated_at",
    )?
    .execute(params![channel, token, stamp(Utc::now())])?;
    Ok(())
}

/// `channel`'s stored refresh token, if any.
pub fn stored_refresh_token(conn: &Connection, channel: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached("SELECT refresh_token FROM credentials WHERE channel = ?1")?
        .query_row([channel], |r| r.get(0))
        .optional()
}

fn poll_state(conn: &Connection, channel: &str) -> rusqlite::Result<PollState> {
    use rusqlite::OptionalExtension as _;
    let found = conn
        .prepare_cached(
            "SELECT cursor, last_run_at, last_success_at FROM poll_cursors WHERE channel = ?1",
        )?
        .query_row([channel], |r| {
            Ok(PollState {
                cursor: r.get(0)?,
                last_run_at: r.get(1)?,
                last_success_at: r.get(2)?,
            })
        })
        .optional()?;
    Ok(found.unwrap_or_default())
}

fn save_poll_state(conn: &Connection, channel: &str, s: &PollState) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO poll_cursors (channel, cursor, last_run_at, last_success_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel) DO UPDATE SET cursor = excluded.cursor,
             last_run_at = excluded.last_run_at, last_success_at = excluded.last_success_at",
    )?
    .execute(params![channel, s.cursor, s.last_run_at, s.last_success_at])?;
    Ok(())
}

/// The files of the rules version recorded last, if any: what the daemon
/// runs when the file on disk is refused at start.
pub fn last_rules(conn: &Connection) -> Result<Option<Vec<crate::rules::SourceFile>>, StoreError> {
    use rusqlite::OptionalExtension as _;
    let files: Option<String> = conn
        .query_row(
            "SELECT files FROM rules_versions ORDER BY loaded_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(files) = files else {
        return Ok(None);
    };
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&files).unwrap_or_default();
    Ok(Some(
        parsed
            .iter()
            .filter_map(|f| {
                Some(crate::rules::SourceFile {
                    name: f["name"].as_str()?.to_string(),
                    text: f["text"].as_str()?.to_string(),
                })
            })
            .collect(),
    ))
}

/// The deliveries still pending, oldest first, to resume after a restart:
/// each one's id, order and destination (their bodies are read when their
/// turn comes, so a long outbox costs little memory).
pub fn pending_refs(conn: &Connection) -> Result<Vec<(i64, i64, Arc<str>)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, order_id, destination FROM deliveries WHERE status = 'pending' ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, Arc::from(r.get::<_, String>(2)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The deliveries matching `filter` (SQL over `deliveries d`), as jobs, oldest first.
/// The order as decided in the newest delivered delivery of `order` to
/// `destination` older than `before`: what the destination was last given.
pub fn last_delivered_body(
    conn: &Connection,
    order: i64,
    destination: &str,
    before: i64,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT c.body FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         WHERE d.order_id = ?1 AND d.destination = ?2 AND d.id < ?3 AND d.status = 'delivered'
         ORDER BY d.id DESC LIMIT 1",
    )?
    .query_row(params![order, destination, before], |r| r.get(0))
    .map(Some)
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        e => Err(e),
    })
    .map(Option::flatten)
}

pub(crate) fn jobs_where(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT d.id, d.order_id, d.destination, d.source, d.event, c.rules_version, c.body,
                (SELECT l.external_id FROM links l WHERE l.order_id = d.order_id AND l.channel = d.destination
                 ORDER BY l.rowid LIMIT 1),
                d.idempotency_key, d.attempts, d.next_at, c.decided_at, d.sent_at IS NOT NULL,
                d.rendered
         FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         WHERE {filter} ORDER BY d.id"
    ))?;
    let rows = stmt.query_map(args, |r| {
        let event: String = r.get(4)?;
        let event = event.parse::<Event>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
        })?;
        let next_at: Option<String> = r.get(10)?;
        let decided_at: String = r.get(11)?;
        Ok(Job {
            delivery_id: r.get(0)?,
            order_id: r.get(1)?,
            destination: Arc::from(r.get::<_, String>(2)?),
            source: Arc::from(r.get::<_, String>(3)?),
            event,
            rules_version: Arc::from(r.get::<_, String>(5)?),
            order_json: Arc::from(r.get::<_, Option<String>>(6)?.unwrap_or_default()),
            external_id: r.get(7)?,
            idempotency_key: Arc::from(r.get::<_, String>(8)?),
            attempts: r.get(9)?,
            not_before: next_at.as_deref().and_then(parse_stamp),
            received_at: parse_stamp(&decided_at).unwrap_or_else(Utc::now),
            sent: r.get(12)?,
            rendered: r.get::<_, Option<String>>(13)?.map(Arc::from),
        })
    })?;
    rows.collect()
}
