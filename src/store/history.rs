//! The whole stored history, read for `ordersync diff` (SPEC 7): every update
//! of each order with an update in a period, with the decisions made when it
//! arrived, on either store (the reads written once, `query.rs`). The
//! database is opened read-only (the daemons may be running; SQLite's WAL
//! lets them write meanwhile), and read in one transaction: a consistent
//! snapshot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::query::{Arg, PgClient, Query, SqliteRead};
use super::statements::run_now;
use super::{StoreError, UpdateStatus};
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
        /// What the store said.
        error: String,
    },
    /// The PostgreSQL database (its URL as shown, without a password) could
    /// not be reached or read, or is not ordersync's.
    #[error("cannot read the database {url}: {error}")]
    Postgres {
        /// The URL, its password left out.
        url: String,
        /// What went wrong.
        error: String,
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
    let read = |error: StoreError| HistoryError::Read {
        path: db.to_path_buf(),
        error: error.to_string(),
    };
    conn.execute_batch("BEGIN").map_err(|e| read(e.into()))?;
    run_now(for_each_order(&SqliteRead(&conn), since, f)).map_err(read)?;
    conn.execute_batch("COMMIT").map_err(|e| read(e.into()))
}

/// [`each_order`] on a PostgreSQL database (`url`), in one read-only
/// repeatable-read transaction: a consistent snapshot while daemons write.
pub async fn each_order_postgres(
    url: &str,
    since: &str,
    f: impl FnMut(i64, &[StoredUpdate]),
) -> Result<(), HistoryError> {
    let shown = super::Location::Postgres(url.to_string()).shown();
    let failed = |error: StoreError| HistoryError::Postgres {
        url: shown.clone(),
        error: error.to_string(),
    };
    let client = super::pg::connect_one(url).await.map_err(failed)?;
    let versioned = client
        .query_opt(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'ordersync_schema'",
            &[],
        )
        .await
        .map_err(|e| failed(e.into()))?;
    if versioned.is_none() {
        return Err(HistoryError::Postgres {
            url: shown,
            error: "not an ordersync database (no ordersync_schema table)".into(),
        });
    }
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| failed(e.into()))?;
    for_each_order(&PgClient(&client), since, f)
        .await
        .map_err(failed)?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| failed(e.into()))
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
/// after `since`, order by order, each history in arrival order: the orders'
/// ids first, then each order's updates and their decisions (two indexed
/// reads an order, so a long period never holds every payload at once).
async fn for_each_order(
    q: &impl Query,
    since: &str,
    mut f: impl FnMut(i64, &[StoredUpdate]),
) -> Result<(), StoreError> {
    let orders = q
        .rows(
            "SELECT DISTINCT order_id FROM updates WHERE received_at >= $1 ORDER BY order_id",
            &[Arg::Text(since.to_string())],
            |r| r.get::<i64>(0),
        )
        .await?;
    for order_id in orders {
        let order = [Arg::Int(order_id)];
        let mut history = q
            .rows(
                "SELECT id, channel, event_id, received_at, status, payload, via, topic, pruned_at
                 FROM updates WHERE order_id = $1 ORDER BY id",
                &order,
                |r| {
                    Ok(StoredUpdate {
                        id: r.get(0)?,
                        channel: r.get(1)?,
                        event_id: r.get(2)?,
                        received_at: r.get(3)?,
                        status: UpdateStatus::parse(&r.get::<String>(4)?)
                            .unwrap_or(UpdateStatus::Decided),
                        payload: r.get(5)?,
                        polled: r.get::<String>(6)? == "poll",
                        topic: r.get(7)?,
                        pruned: r.get::<Option<String>>(8)?.is_some(),
                        decided: Vec::new(),
                    })
                },
            )
            .await?;
        let decided = q
            .rows(
                "SELECT update_id, destination, outcome, detail, body, rules_version FROM decisions
                 WHERE update_id IN (SELECT id FROM updates WHERE order_id = $1)
                   AND trigger = 'update'
                 ORDER BY update_id, id",
                &order,
                |d| {
                    Ok((
                        d.get::<i64>(0)?,
                        StoredDecision {
                            destination: d.get(1)?,
                            outcome: outcome_of(&d.get::<String>(2)?),
                            detail: d.get(3)?,
                            body: d.get(4)?,
                            rules_version: d.get(5)?,
                        },
                    ))
                },
            )
            .await?;
        for (update_id, decision) in decided {
            if let Some(u) = history.iter_mut().find(|u| u.id == update_id) {
                u.decided.push(decision);
            }
        }
        f(order_id, &history);
    }
    Ok(())
}

/// A stored outcome; a kind this build does not know reads as an error.
fn outcome_of(text: &str) -> OutcomeKind {
    OutcomeKind::parse(text).unwrap_or(OutcomeKind::Error)
}
