//! The whole stored history, read for `ordersync diff` (SPEC 7): every update
//! of each order with an update in a period, with the decisions made when it
//! arrived. The database is opened read-only (the daemon may be running; WAL
//! lets it write meanwhile), and read in one transaction: a consistent
//! snapshot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::UpdateStatus;
use crate::engine::OutcomeKind;

/// The schema version (`PRAGMA user_version`) that first has everything the
/// replay reads: `updates.topic` and `decisions.trigger`.
pub const SCHEMA_NEEDED: i64 = 3;

/// Why the stored history cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// There is no file at the path.
    #[error("cannot open the database `{}`: no such file", path.display())]
    Missing {
        /// The database path.
        path: PathBuf,
    },
    /// SQLite could not open the file.
    #[error("cannot open the database `{}`: {error}", path.display())]
    Open {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The file is a database without ordersync's tables.
    #[error("`{}` is not an ordersync database", path.display())]
    NotOrdersync {
        /// The database path.
        path: PathBuf,
    },
    /// The database was last migrated by an older ordersync.
    #[error(
        "the database `{}` has schema version {found}, older than this ordersync reads ({SCHEMA_NEEDED}); run `ordersync serve` on it once to bring it up to date",
        path.display()
    )]
    Outdated {
        /// The database path.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// A query failed.
    #[error("cannot read the database `{}`: {error}", path.display())]
    Read {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
}

/// Calls `f` with the whole history of each order that has an update at or
/// after `since` (a stamp), order by order, each history in arrival order.
pub fn each_order(
    db: &Path,
    since: &str,
    f: impl FnMut(i64, &[StoredUpdate]),
) -> Result<(), HistoryError> {
    let conn = open(db)?;
    let read = |error| HistoryError::Read {
        path: db.to_path_buf(),
        error,
    };
    conn.execute_batch("BEGIN").map_err(read)?;
    for_each_order(&conn, since, f).map_err(read)?;
    conn.execute_batch("COMMIT").map_err(read)
}

fn open(db: &Path) -> Result<Connection, HistoryError> {
    if !db.exists() {
        return Err(HistoryError::Missing {
            path: db.to_path_buf(),
        });
    }
    let open_error = |error| HistoryError::Open {
        path: db.to_path_buf(),
        error,
    };
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_error)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open_error)?;
    if version == 0 {
        return Err(HistoryError::NotOrdersync {
            path: db.to_path_buf(),
        });
    }
    if version < SCHEMA_NEEDED {
        return Err(HistoryError::Outdated {
            path: db.to_path_buf(),
            found: version,
        });
    }
    Ok(conn)
}

/// One stored update, with the decisions made when it arrived.
#[derive(Clone, Debug, Default)]
pub struct StoredUpdate {
    pub id: i64,
    pub channel: String,
    pub event_id: String,
    pub received_at: String,
    /// `decided`, `ignored` or `stale`.
    pub status: UpdateStatus,
    pub payload: Vec<u8>,
    pub polled: bool,
    pub topic: Option<String>,
    pub pruned: bool,
    pub decided: Vec<StoredDecision>,
}

/// One decision as stored.
#[derive(Clone, Debug)]
pub struct StoredDecision {
    pub destination: String,
    /// `deliver`, `skip`, `draft` or `error`.
    pub outcome: OutcomeKind,
    /// `skip: publish is false`.
    pub detail: String,
    /// The order as decided (JSON), for `deliver` and `draft`.
    pub body: Option<String>,
    pub rules_version: String,
}

/// Calls `f` with the whole history of each order that has an update at or
/// after `since`, order by order, each history in arrival order.
fn for_each_order(
    conn: &Connection,
    since: &str,
    mut f: impl FnMut(i64, &[StoredUpdate]),
) -> rusqlite::Result<()> {
    let mut updates = conn.prepare(
        "SELECT id, order_id, channel, event_id, received_at, status, payload, via, topic,
                pruned_at IS NOT NULL
         FROM updates
         WHERE order_id IN (SELECT order_id FROM updates WHERE received_at >= ?1)
         ORDER BY order_id, id",
    )?;
    let mut decisions = conn.prepare(
        "SELECT destination, outcome, detail, body, rules_version FROM decisions
         WHERE update_id = ?1 AND trigger = 'update' ORDER BY id",
    )?;
    let mut rows = updates.query([since])?;
    let mut current: Option<i64> = None;
    let mut history: Vec<StoredUpdate> = Vec::new();
    while let Some(r) = rows.next()? {
        let order_id: i64 = r.get(1)?;
        if current != Some(order_id) {
            if let Some(id) = current {
                f(id, &history);
            }
            history.clear();
            current = Some(order_id);
        }
        let id: i64 = r.get(0)?;
        let decided = decisions
            .query_map([id], |d| {
                Ok(StoredDecision {
                    destination: d.get(0)?,
                    outcome: outcome_of(&d.get::<_, String>(1)?),
                    detail: d.get(2)?,
                    body: d.get(3)?,
                    rules_version: d.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        history.push(StoredUpdate {
            id,
            channel: r.get(2)?,
            event_id: r.get(3)?,
            received_at: r.get(4)?,
            status: UpdateStatus::parse(&r.get::<_, String>(5)?).unwrap_or(UpdateStatus::Decided),
            payload: r.get(6)?,
            polled: r.get::<_, String>(7)? == "poll",
            topic: r.get(8)?,
            pruned: r.get(9)?,
            decided,
        });
    }
    if let Some(id) = current {
        f(id, &history);
    }
    Ok(())
}

/// A stored outcome; a kind this build does not know reads as an error.
fn outcome_of(text: &str) -> OutcomeKind {
    OutcomeKind::parse(text).unwrap_or(OutcomeKind::Error)
}
