//! Opening the database: pragmas (WAL, `synchronous=FULL`), the checkpointer,
//! and the migrations (a database newer than this binary is refused).

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::{StoreError, schema};

use rusqlite::Connection;

/// The database, open and up to date, before its writer starts: what a
/// start needs to read first (the last rules, the pending deliveries), then
/// handed to [`Writer::start`](super::Writer::start).
pub struct Opened {
    pub(super) conn: Connection,
}

/// Opens (creating if needed) the database and brings its schema up to date.
pub fn open(path: &Path) -> Result<Opened, StoreError> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(Opened { conn })
}

impl Opened {
    /// The files of the rules version recorded last, if any: what the daemon
    /// runs when the file on disk is refused at start.
    pub fn last_rules(&self) -> Result<Option<Vec<crate::rules::SourceFile>>, StoreError> {
        super::run_now(super::ops::last_rules(&super::query::SqliteRead(
            &self.conn,
        )))
    }

    /// The deliveries still pending, oldest first, to resume after a
    /// restart: each one's id, order and destination (their bodies are read
    /// when their turn comes, so a long outbox costs little memory).
    pub fn pending_refs(&self) -> Result<Vec<(i64, i64, std::sync::Arc<str>)>, StoreError> {
        super::ops::pending_refs(&self.conn)
    }
}

pub(super) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // Each request runs in its own savepoint, whose undo pages (the
    // sub-journal) SQLite writes to a temporary file once they pass 64 KiB:
    // about 27 page writes per update, more than the WAL itself takes. They
    // are only ever needed to roll a savepoint back, so keep them in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Every statement is prepared once and kept: the writer alone uses some
    // forty, and rusqlite's default cache of 16 made it parse SQL again on
    // almost every update.
    conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    // A WAL started over is cut back to this size (see `checkpointer`).
    conn.pragma_update(None, "journal_size_limit", WAL_RESTART_FRAMES * PAGE_SIZE)?;
    // The query planner's stability guarantee: without it, the bundled
    // SQLite (built with STAT4) prepares a query with `?` in its WHERE again
    // whenever a new value is bound, which was a fifth of the writer's time.
    // The read pool does not run `configure`, so the dashboard's `LIKE ?`
    // keeps its optimisation.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // 16 MiB of page cache (negative: KiB).
    conn.pragma_update(None, "cache_size", -16_000)?;
    Ok(())
}

/// Prepared statements kept per connection: more than the store has.
const STATEMENTS_KEPT: usize = 256;

/// How often the checkpointer copies the WAL back into the database.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL frames (pages) past which the writer makes the WAL start over.
pub(super) const WAL_RESTART_FRAMES: i64 = 4096;

/// SQLite's default page size, which the store keeps.
const PAGE_SIZE: i64 = 4096;

/// Checkpoints the WAL from a connection of its own, so that the writer's
/// commits never wait for the copy into the database (the writer's own
/// automatic checkpoints are turned off). Ends when `writer` is dropped.
///
/// A passive checkpoint never waits, but under a steady stream of commits
/// it never catches up with the WAL's end either, and SQLite starts a WAL
/// over only once a checkpoint has copied all of it: the file grew past
/// 1.5 GB in a few minutes of load. So each pass stores the WAL's length in
/// `wal_frames`, and the writer, between two groups, restarts a WAL longer
/// than [`WAL_RESTART_FRAMES`] ([`restart_wal`]); it cannot be done from
/// here, since a writer that never pauses never lets a RESTART in.
pub(super) fn checkpointer(
    path: &Path,
    stop: std::sync::mpsc::Receiver<()>,
    wal_frames: &AtomicI64,
) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return Ok(()),
        }
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(frames) => wal_frames.store(frames, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; trying again"),
        }
    }
}

/// Run by the writer between groups: copies what the checkpointer has not
/// yet copied (a fraction of a second of commits) and makes the next commit
/// write the WAL from its start; `journal_size_limit` cuts the file back.
pub(super) fn restart_wal(conn: &Connection, wal_frames: &AtomicI64) {
    if wal_frames.load(Ordering::Relaxed) <= WAL_RESTART_FRAMES {
        return;
    }
    wal_frames.store(0, Ordering::Relaxed);
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "restarting the WAL failed; trying again later");
    }
}

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
