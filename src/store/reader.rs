//! Reads that do not go through the writer. On SQLite, a small pool of
//! read-only connections, so a scrape or a dashboard query never waits
//! behind a group commit (WAL lets readers and the one writer run at once);
//! on PostgreSQL, the store's pool. The reads written once for both stores
//! (`query.rs`) run through [`read!`]; the few each store has of its own
//! are matched by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, OpenFlags};

use super::channels::ChannelStats;
use super::orders::{self, ListFilter, Owned};
use super::pg::{LiveDaemon, PgStore};
use super::query::{PgRead, SqliteRead};
use super::rows::{OrderList, QuarantineList, Timeline};
use super::statements::run_now;
use super::{Job, Label, StoreError, parse_stamp};

/// The most idle read connections kept open.
const KEEP: usize = 4;

/// A handle for read-only queries; cheap to clone.
#[derive(Clone)]
pub struct Reader {
    front: Front,
}

#[derive(Clone)]
enum Front {
    Sqlite(Files),
    Postgres(PgStore),
}

/// SQLite's read connections.
#[derive(Clone)]
struct Files {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

/// Runs a read written against [`Query`] on either store: `$q` names the
/// connection in `$body`, which SQLite runs on a read connection off the
/// async threads (the values it uses are moved there).
macro_rules! read {
    ($self:expr, |$q:ident| $body:expr) => {
        match &$self.front {
            Front::Sqlite(files) => {
                files
                    .with(move |conn| {
                        let $q = SqliteRead(conn);
                        run_now($body)
                    })
                    .await
            }
            Front::Postgres(pg) => {
                let $q = PgRead(pg.client().await?);
                $body.await
            }
        }
    };
}

/// The deliveries waiting to be handed over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outbox {
    /// Pending deliveries.
    pub depth: u64,
    /// How long the oldest has waited since its update arrived.
    pub oldest_age: Duration,
    /// Pending deliveries marked stuck.
    pub stuck: u64,
}

impl Reader {
    /// Reads the database at `path` (already opened and migrated by the writer).
    pub fn new(path: &Path) -> Reader {
        Reader {
            front: Front::Sqlite(Files {
                path: Arc::new(path.to_path_buf()),
                idle: Arc::new(Mutex::new(Vec::new())),
            }),
        }
    }

    /// Reads the shared store, on the pool's connections.
    pub fn postgres(store: PgStore) -> Reader {
        Reader {
            front: Front::Postgres(store),
        }
    }

    /// A page of the Order Health list (SPEC 6.5).
    pub async fn orders(&self, filter: ListFilter) -> Result<OrderList, StoreError> {
        read!(self, |q| orders::list(&q, &filter))
    }

    /// One order's timeline; `None` when there is no such order.
    pub async fn timeline(&self, order_id: i64) -> Result<Option<Timeline>, StoreError> {
        read!(self, |q| orders::timeline(&q, order_id))
    }

    /// The newest `limit` quarantined bodies.
    pub async fn quarantined(&self, limit: u32) -> Result<QuarantineList, StoreError> {
        read!(self, |q| orders::quarantine(&q, limit))
    }

    /// What the channels page shows of each of `channels`.
    pub async fn channel_stats(
        &self,
        channels: Vec<String>,
        now: chrono::DateTime<Utc>,
    ) -> Result<BTreeMap<String, ChannelStats>, StoreError> {
        read!(self, |q| super::channels::channel_stats(&q, &channels, now))
    }

    /// The order (`ord_<id>`) a delivery or a decision belongs to.
    pub async fn owner(&self, what: Owned, id: i64) -> Result<Option<String>, StoreError> {
        match &self.front {
            Front::Sqlite(f) => {
                f.with(move |c| Ok(super::actions::owner(c, what, id)?))
                    .await
            }
            Front::Postgres(pg) => pg.order_of(what, id).await,
        }
    }

    /// The label kept for a delivery, if any.
    pub async fn label(&self, delivery_id: i64) -> Result<Option<Label>, StoreError> {
        match &self.front {
            Front::Sqlite(f) => {
                f.with(move |c| Ok(super::ops::label_of(c, delivery_id)?))
                    .await
            }
            Front::Postgres(pg) => pg.label(delivery_id).await,
        }
    }

    /// Delivery `id` as a job, while it is still pending.
    pub async fn pending_job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        match &self.front {
            Front::Sqlite(f) => {
                f.with(move |c| {
                    Ok(
                        super::ops::jobs_where(c, "d.id = ?1 AND d.status = 'pending'", &[&id])?
                            .pop(),
                    )
                })
                .await
            }
            Front::Postgres(pg) => pg.pending_job(id).await,
        }
    }

    /// The order as decided in the newest delivered delivery of `order` to
    /// `destination` older than delivery `before`: what the destination was
    /// last given.
    pub async fn last_delivered_body(
        &self,
        order: i64,
        destination: String,
        before: i64,
    ) -> Result<Option<String>, StoreError> {
        match &self.front {
            Front::Sqlite(f) => {
                f.with(move |c| {
                    Ok(super::ops::last_delivered_body(
                        c,
                        order,
                        &destination,
                        before,
                    )?)
                })
                .await
            }
            Front::Postgres(pg) => pg.last_delivered_body(order, &destination, before).await,
        }
    }

    /// The outbox: pending deliveries, the oldest one's wait, the stuck ones.
    pub async fn outbox(&self) -> Result<Outbox, StoreError> {
        match &self.front {
            Front::Sqlite(f) => f.with(|conn| Ok(outbox(conn)?)).await,
            Front::Postgres(pg) => pg.outbox().await,
        }
    }

    /// On a shared store, the daemons serving it and the rules each runs;
    /// `None` on SQLite, whose one daemon shows its own rules.
    pub async fn live_daemons(&self) -> Result<Option<Vec<LiveDaemon>>, StoreError> {
        match &self.front {
            Front::Sqlite(_) => Ok(None),
            Front::Postgres(pg) => pg.live_daemons().await.map(Some),
        }
    }
}

impl Files {
    /// Runs `f` on a read connection, off the async threads.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle.lock().ok().and_then(|mut v| v.pop()) {
                Some(c) => c,
                None => this.open()?,
            };
            let result = f(&conn);
            if let Ok(mut idle) = this.idle.lock()
                && idle.len() < KEEP
            {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Commit(format!("a read task failed: {e}")))?
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &*self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }
}

/// SQLite's outbox.
fn outbox(conn: &Connection) -> rusqlite::Result<Outbox> {
    conn.query_row(
        "SELECT count(*), min(c.decided_at), count(d.stuck_at)
         FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         WHERE d.status = 'pending'",
        [],
        |r| {
            let oldest: Option<String> = r.get(1)?;
            let oldest_age = oldest
                .as_deref()
                .and_then(parse_stamp)
                .and_then(|t| (Utc::now() - t).to_std().ok())
                .unwrap_or_default();
            Ok(Outbox {
                depth: r.get::<_, i64>(0)?.max(0) as u64,
                oldest_age,
                stuck: r.get::<_, i64>(2)?.max(0) as u64,
            })
        },
    )
}
