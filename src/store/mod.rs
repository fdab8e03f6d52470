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

mod actions;
mod attempts;
pub mod channels;
mod decide;
mod error;
pub mod floor;
pub mod health;
pub mod history;
mod housekeeping;
mod ingest;
mod open;
mod ops;
pub mod orders;
pub mod pg;
mod query;
mod reader;
pub mod rows;
mod schema;
mod statements;
#[cfg(test)]
pub(crate) mod suite;
mod types;
mod writer;

pub use error::{PgError, StoreError};
pub use open::*;
use ops::*;
use statements::{Sqlite, run_now};
pub use types::*;

use std::sync::Arc;
use std::thread;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use crate::rules::RuleSet;
use crate::value::Value;

pub use decide::{Decide, Draft, Explained, Planned, StoredPayload};
pub use housekeeping::{Housekeeping, Pruned};
pub use ingest::Ingested;
pub use reader::{Outbox, Reader};
pub use schema::MIGRATIONS;
pub use writer::{WeakWriter, Writer};

/// The most requests committed in one transaction.
const MAX_GROUP: usize = 1024;

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
    Act(
        Box<Action>,
        oneshot::Sender<Result<orders::Done, StoreError>>,
    ),
    Ping(oneshot::Sender<Result<(), StoreError>>),
}

/// An operator's action (SPEC 6.5), run by the writer inside its transaction.
enum Action {
    Retry(i64),
    Resolve(orders::Target, i64, &'static str),
    CompleteDraft(Arc<RuleSet>, i64, Vec<(String, Value)>),
    Resync(Arc<RuleSet>, i64),
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
    /// Starts the writer on the opened store; `decide` decides what it
    /// records. New deliveries are sent to `jobs` once their transaction has
    /// committed.
    pub fn start(
        store: Opened,
        jobs: mpsc::UnboundedSender<Vec<Job>>,
        decide: Arc<dyn Decide>,
    ) -> Result<(Writer, WriterThread), StoreError> {
        let conn = store.conn;
        let (tx, rx) = mpsc::channel(8 * MAX_GROUP);
        let path = conn.path().map(std::path::PathBuf::from);
        let (stop_checkpoints, stop) = std::sync::mpsc::channel();
        let wal_frames = Arc::new(std::sync::atomic::AtomicI64::new(0));
        if let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            thread::Builder::new()
                .name("ordersync-wal".into())
                .spawn({
                    let wal_frames = wal_frames.clone();
                    move || {
                        if let Err(e) = checkpointer(&path, stop, &wal_frames) {
                            tracing::error!(error = %e, "the WAL checkpointer stopped");
                        }
                    }
                })
                .map_err(|e| StoreError::Commit(e.to_string()))?;
        }
        let handle = thread::Builder::new()
            .name("ordersync-store".into())
            .spawn(move || {
                run(conn, &*decide, rx, jobs, &wal_frames);
                drop(stop_checkpoints);
            })
            .map_err(|e| StoreError::Commit(e.to_string()))?;
        Ok((Writer::sqlite(tx), WriterThread(handle)))
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
    Act(
        oneshot::Sender<Result<orders::Done, StoreError>>,
        Result<orders::Done, StoreError>,
    ),
}

fn run(
    mut conn: Connection,
    decide: &dyn Decide,
    mut rx: mpsc::Receiver<Op>,
    jobs: mpsc::UnboundedSender<Vec<Job>>,
    wal_frames: &std::sync::atomic::AtomicI64,
) {
    run_groups(&mut conn, decide, &mut rx, &jobs, wal_frames);
    // Leave a small WAL behind: the next start opens faster.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "the last WAL checkpoint failed");
    }
}

fn run_groups(
    conn: &mut Connection,
    decide: &dyn Decide,
    rx: &mut mpsc::Receiver<Op>,
    jobs: &mpsc::UnboundedSender<Vec<Job>>,
    wal_frames: &std::sync::atomic::AtomicI64,
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
        let committed = commit_group(conn, decide, &mut group, &mut done);
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
                Done::Act(reply, result) => {
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
        // After the group is answered, so no one waits for it.
        restart_wal(conn, wal_frames);
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
    decide: &dyn Decide,
    group: &mut Vec<Op>,
    done: &mut Vec<Done>,
) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    for op in group.drain(..) {
        // Each op in its own savepoint, by statements prepared once (rusqlite's
        // `Savepoint` parses its SQL anew every time: a tenth of the writer).
        tx.prepare_cached("SAVEPOINT op")?.execute([])?;
        let db: &Connection = &tx;
        let (entry, ok) =
            match op {
                Op::Ingest(req, reply) => {
                    let r = run_now(ingest::ingest(&mut Sqlite(db), decide, &req));
                    let ok = r.is_ok();
                    (Done::Ingest(reply, r), ok)
                }
                Op::Quarantine(q, reply) => {
                    let r = quarantine(db, &q).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Quarantine(reply, r), ok)
                }
                Op::Record(a, reply) => {
                    let r = run_now(attempts::record(&mut Sqlite(db), &a));
                    let ok = r.is_ok();
                    (Done::Unit(reply, r), ok)
                }
                Op::MarkSent(id, reply) => {
                    let r = db
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
                    let r = save_refresh_token(db, &channel, &token).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Unit(reply, r), ok)
                }
                Op::RefreshToken(channel, reply) => {
                    let r = stored_refresh_token(db, &channel).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Token(reply, r), ok)
                }
                Op::SaveRendered(id, rendered, reply) => {
                    let r = db
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
                    let r = keep_label(db, id, &label).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Unit(reply, r), ok)
                }
                Op::Rules(rules, reply) => {
                    let r = note_rules(db, &rules).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Unit(reply, r), ok)
                }
                Op::PollState(channel, reply) => {
                    let r = poll_state(db, &channel).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::PollState(reply, r), ok)
                }
                Op::SavePoll(channel, state, reply) => {
                    let r = save_poll_state(db, &channel, &state).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Unit(reply, r), ok)
                }
                Op::Housekeep(h, reply) => {
                    let r = housekeeping::run(db, &h).map_err(StoreError::from);
                    let ok = r.is_ok();
                    (Done::Housekeep(reply, r), ok)
                }
                Op::Act(action, reply) => {
                    let r =
                        match *action {
                            Action::Retry(id) => run_now(actions::retry(&mut Sqlite(db), id)),
                            Action::Resolve(what, id, resolution) => {
                                run_now(actions::resolve(&mut Sqlite(db), what, id, resolution))
                            }
                            Action::CompleteDraft(rules, id, set) => run_now(
                                actions::complete_draft(&mut Sqlite(db), decide, &rules, id, &set),
                            ),
                            Action::Resync(rules, id) => {
                                run_now(actions::resync(&mut Sqlite(db), decide, &rules, id))
                            }
                        };
                    let ok = r.is_ok();
                    (Done::Act(reply, r), ok)
                }
                Op::Ping(reply) => (Done::Unit(reply, Ok(())), true),
            };
        if !ok {
            tx.prepare_cached("ROLLBACK TO op")?.execute([])?;
        }
        tx.prepare_cached("RELEASE op")?.execute([])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn quarantined(reason: &str) -> Quarantined {
        Quarantined {
            channel: "ebay".into(),
            received_at: Utc::now(),
            reason: reason.into(),
            headers: Vec::new(),
            body: b"{".to_vec(),
        }
    }

    /// One op failing in a group is rolled back alone: the ops before and
    /// after it commit, and each gets its own answer.
    #[test]
    fn a_failing_op_does_not_take_its_group_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("o.db")).unwrap().conn;
        let (first, first_answer) = oneshot::channel();
        let (failing, failing_answer) = oneshot::channel();
        let (last, last_answer) = oneshot::channel();
        let mut group = vec![
            Op::Quarantine(Box::new(quarantined("first")), first),
            Op::Act(Box::new(Action::Retry(42)), failing),
            Op::Quarantine(Box::new(quarantined("last")), last),
        ];
        let mut done = Vec::new();
        commit_group(&mut conn, &crate::pipeline::Pipeline, &mut group, &mut done).unwrap();
        for d in done {
            match d {
                Done::Quarantine(reply, r) => reply.send(r).unwrap(),
                Done::Act(reply, r) => reply.send(r).unwrap(),
                _ => unreachable!("only quarantines and a retry were sent"),
            }
        }
        assert_eq!(first_answer.blocking_recv().unwrap().unwrap(), 1);
        let err = failing_answer.blocking_recv().unwrap().unwrap_err();
        assert_eq!(err.to_string(), "no delivery 42");
        assert_eq!(last_answer.blocking_recv().unwrap().unwrap(), 2);
        let reasons: Vec<String> = conn
            .prepare("SELECT reason FROM quarantine ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(reasons, ["first", "last"]);
    }

    /// Quarantines sent by many tasks at once keep the writer busy without a
    /// pause, which a passive checkpoint alone never catches up with; the
    /// writer still starts the WAL over, so it stays near its limit instead
    /// of holding every page written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_a_writer_that_never_pauses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let (jobs, _pending) = mpsc::unbounded_channel();
        let (writer, thread) = Writer::start(
            open(&path).unwrap(),
            jobs,
            Arc::new(crate::pipeline::Pipeline),
        )
        .unwrap();
        let sending: Vec<_> = (0..32)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    // 32 x 1,500 bodies of 3 KB: about 50,000 pages in all.
                    for _ in 0..1500 {
                        let mut q = quarantined("steady");
                        q.body = vec![b'{'; 3000];
                        writer.quarantine(q).await.unwrap();
                    }
                })
            })
            .collect();
        let wal = dir.path().join("o.db-wal");
        let mut longest = 0;
        while !sending.iter().all(|t| t.is_finished()) {
            longest = longest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for t in sending {
            t.await.unwrap();
        }
        drop(writer);
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap();
        // The restart threshold, plus what the writer adds between two of
        // the checkpointer's passes, with room for a loaded machine; a WAL
        // that never starts over holds all 50,000 pages (over 200 MB).
        let limit = 4 * open::WAL_RESTART_FRAMES as u64 * 4120;
        assert!(longest < limit, "the WAL reached {longest} bytes");
    }
}

/// Where the store is: a SQLite file (one daemon), or a PostgreSQL database
/// that several daemons share (SPEC 11).
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    /// A libpq-style URL.
    Postgres(String),
}

impl Location {
    /// `--db`: a `postgres://` (or `postgresql://`) URL, else a file path.
    pub fn of(db: std::path::PathBuf) -> Location {
        match db.to_str().filter(|d| pg::is_url(d)) {
            Some(url) => Location::Postgres(url.to_string()),
            None => Location::Sqlite(db),
        }
    }

    /// As logged: a URL's password left out.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => without_password(url),
        }
    }
}

/// `scheme://user:secret@host/db` as `scheme://user:***@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod location_tests {
    use super::*;

    #[test]
    fn a_url_is_postgres_and_its_password_is_never_shown() {
        let pg = Location::of("postgres://os:s3cret@db.internal:5432/orders".into());
        assert_eq!(
            pg,
            Location::Postgres("postgres://os:s3cret@db.internal:5432/orders".into())
        );
        assert_eq!(pg.shown(), "postgres://os:***@db.internal:5432/orders");
        let no_password = Location::of("postgresql://os@%2Ftmp%2Fpg/orders".into());
        assert_eq!(no_password.shown(), "postgresql://os@%2Ftmp%2Fpg/orders");
        let file = Location::of("/var/lib/ordersync/ordersync.db".into());
        assert_eq!(
            file,
            Location::Sqlite("/var/lib/ordersync/ordersync.db".into())
        );
        assert_eq!(file.shown(), "/var/lib/ordersync/ordersync.db");
    }
}
