//! Reads that do not go through the writer: a small pool of read-only
//! connections, so a scrape or a dashboard query never waits behind a group
//! commit (WAL lets readers and the one writer run at once).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, OpenFlags};

use super::orders::{self, ListFilter, Owned};
use super::rows::{OrderList, QuarantineList, Timeline};
use super::{Job, Label, StoreError, parse_stamp};

/// The most idle read connections kept open.
const KEEP: usize = 4;

/// A handle for read-only queries; cheap to clone.
#[derive(Clone)]
pub struct Reader {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
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
            path: Arc::new(path.to_path_buf()),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `f` on a read connection, off the async threads.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
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
            Ok(result?)
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

    /// A page of the Order Health list (SPEC 6.5).
    pub async fn orders(&self, filter: ListFilter) -> Result<OrderList, StoreError> {
        self.with(move |c| orders::list(c, &filter)).await
    }

    /// One order's timeline; `None` when there is no such order.
    pub async fn timeline(&self, order_id: i64) -> Result<Option<Timeline>, StoreError> {
        self.with(move |c| orders::timeline(c, order_id)).await
    }

    /// The newest `limit` quarantined bodies.
    pub async fn quarantined(&self, limit: u32) -> Result<QuarantineList, StoreError> {
        self.with(move |c| orders::quarantine(c, limit)).await
    }

    /// The order (`ord_<id>`) a delivery or a decision belongs to.
    pub async fn owner(&self, what: Owned, id: i64) -> Result<Option<String>, StoreError> {
        self.with(move |c| super::actions::owner(c, what, id)).await
    }

    /// The label kept for a delivery, if any.
    pub async fn label(&self, delivery_id: i64) -> Result<Option<Label>, StoreError> {
        self.with(move |c| super::ops::label_of(c, delivery_id))
            .await
    }

    /// Delivery `id` as a job, while it is still pending.
    pub async fn pending_job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.with(move |c| {
            Ok(super::ops::jobs_where(c, "d.id = ?1 AND d.status = 'pending'", &[&id])?.pop())
        })
        .await
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
        self.with(move |c| super::ops::last_delivered_body(c, order, &destination, before))
            .await
    }

    /// What the channels page shows of each of `channels`.
    pub async fn channel_stats(
        &self,
        channels: Vec<String>,
        now: chrono::DateTime<Utc>,
    ) -> Result<std::collections::BTreeMap<String, super::channels::ChannelStats>, StoreError> {
        self.with(move |conn| {
            let names: Vec<&str> = channels.iter().map(String::as_str).collect();
            super::channels::channel_stats(conn, &names, now)
        })
        .await
    }

    /// The outbox: pending deliveries, the oldest one's wait, the stuck ones.
    pub async fn outbox(&self) -> Result<Outbox, StoreError> {
        self.with(|conn| {
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
        })
        .await
    }
}
