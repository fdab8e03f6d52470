//! [`Writer`]: every change to the store, through one handle over either
//! store. On SQLite each call is an op sent to the writer thread, which
//! commits groups (see the module above); on PostgreSQL each is its own
//! transaction on the shared database ([`PgStore`]).
//!
//! Where the stores differ for the caller:
//! - New deliveries: SQLite's writer hands them to the dispatcher once
//!   committed; PostgreSQL's are claimed from their lanes by whichever daemon
//!   gets them first, so the writer only wakes this daemon's claimer
//!   ([`Writer::claims`]). A recorded delivery's next one in its lane, under
//!   the same lease, goes to the dispatcher as a new job.
//! - Singleton jobs (a poll schedule, housekeeping): with one daemon on a
//!   SQLite file there is nobody to share them with, so [`Writer::take_job`]
//!   always says yes; on PostgreSQL it takes the job's lease.

use std::sync::{Arc, Weak};

use tokio::sync::{Notify, mpsc, oneshot};

use super::pg::PgStore;
use super::{
    Action, Attempt, Housekeeping, IngestRequest, Ingested, Job, Label, Op, PollState, Pruned,
    Quarantined, StoreError, orders,
};
use crate::rules::RuleSet;
use crate::value::Value;

/// A handle on the store's writes; cheap to clone. On SQLite the writer
/// thread ends when every handle is dropped, after committing what it was sent.
#[derive(Clone)]
pub struct Writer {
    front: Front,
}

#[derive(Clone)]
enum Front {
    Sqlite(mpsc::Sender<Op>),
    Postgres(Arc<Shared>),
}

/// What the handles on a PostgreSQL store share.
struct Shared {
    store: PgStore,
    /// The dispatcher's inbox, for a lane's next delivery.
    jobs: mpsc::UnboundedSender<Vec<Job>>,
    /// Woken when this daemon made deliveries that lanes now hold.
    claims: Arc<Notify>,
}

/// A handle that does not keep the writer running: background jobs hold
/// this, so the writer stops (and commits its last group) once the daemon
/// drops its own handles at shutdown.
#[derive(Clone)]
pub struct WeakWriter(WeakFront);

#[derive(Clone)]
enum WeakFront {
    Sqlite(mpsc::WeakSender<Op>),
    Postgres(Weak<Shared>),
}

impl WeakWriter {
    /// The writer, unless it has stopped.
    pub fn upgrade(&self) -> Result<Writer, StoreError> {
        let front = match &self.0 {
            WeakFront::Sqlite(tx) => tx.upgrade().map(Front::Sqlite),
            WeakFront::Postgres(shared) => shared.upgrade().map(Front::Postgres),
        };
        front
            .map(|front| Writer { front })
            .ok_or(StoreError::Closed)
    }
}

impl Writer {
    /// The handle on SQLite's writer thread.
    pub(super) fn sqlite(tx: mpsc::Sender<Op>) -> Writer {
        Writer {
            front: Front::Sqlite(tx),
        }
    }

    /// The handle on a PostgreSQL store; a lane's next delivery, once the one
    /// before it is recorded, is sent to `jobs`.
    pub fn postgres(store: PgStore, jobs: mpsc::UnboundedSender<Vec<Job>>) -> Writer {
        Writer {
            front: Front::Postgres(Arc::new(Shared {
                store,
                jobs,
                claims: Arc::default(),
            })),
        }
    }

    /// The PostgreSQL store, if that is what this writes to.
    pub fn postgres_store(&self) -> Option<&PgStore> {
        match &self.front {
            Front::Sqlite(_) => None,
            Front::Postgres(shared) => Some(&shared.store),
        }
    }

    /// Woken when this daemon's writes left deliveries in lanes to claim
    /// (PostgreSQL; SQLite's writer hands deliveries over itself).
    pub fn claims(&self) -> Option<Arc<Notify>> {
        match &self.front {
            Front::Sqlite(_) => None,
            Front::Postgres(shared) => Some(shared.claims.clone()),
        }
    }

    /// A handle that does not keep the writer running.
    pub fn downgrade(&self) -> WeakWriter {
        WeakWriter(match &self.front {
            Front::Sqlite(tx) => WeakFront::Sqlite(tx.downgrade()),
            Front::Postgres(shared) => WeakFront::Postgres(Arc::downgrade(shared)),
        })
    }

    async fn call<T>(
        tx: &mpsc::Sender<Op>,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        tx.send(op(reply)).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores an update and decides it (SPEC 5 steps 1-4); answers once committed.
    pub async fn ingest(&self, request: IngestRequest) -> Result<Ingested, StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::Ingest(Box::new(request), r)).await,
            Front::Postgres(pg) => {
                let mut ingested = pg.store.ingest(&request).await?;
                if let Some(jobs) = ingested.jobs_mut()
                    && !jobs.is_empty()
                {
                    jobs.clear();
                    pg.claims.notify_one();
                }
                Ok(ingested)
            }
        }
    }

    /// Keeps an unreadable body; answers with its quarantine id once committed.
    pub async fn quarantine(&self, q: Quarantined) -> Result<i64, StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::Quarantine(Box::new(q), r)).await,
            Front::Postgres(pg) => pg.store.quarantine(&q).await,
        }
    }

    /// Records a delivery attempt and the delivery's new status (on
    /// PostgreSQL, only while this daemon holds the delivery's lane).
    pub async fn record(&self, attempt: Attempt) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::Record(Box::new(attempt), r)).await,
            Front::Postgres(pg) => {
                if let Some(next) = pg.store.record(&attempt).await? {
                    // The dispatcher is gone only at shutdown: the lane is
                    // then released and claimed again.
                    let _ = pg.jobs.send(vec![next.job]);
                }
                Ok(())
            }
        }
    }

    /// Notes, durably, that a request whose outcome may be unknown is about
    /// to be sent for this delivery (see the `sent_at` column).
    pub async fn mark_sent(&self, delivery_id: i64) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::MarkSent(delivery_id, r)).await,
            Front::Postgres(pg) => pg.store.mark_sent(delivery_id).await,
        }
    }

    /// Stores a channel's newest OAuth refresh token; answers once it is
    /// committed (durable), so it may be relied on from then on.
    pub async fn save_refresh_token(&self, channel: &str, token: &str) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => {
                let (channel, token) = (channel.to_string(), token.to_string());
                Self::call(tx, |r| Op::SaveRefreshToken(channel, token, r)).await
            }
            Front::Postgres(pg) => pg.store.save_refresh_token(channel, token).await,
        }
    }

    /// A channel's stored refresh token, if one was ever stored (never older
    /// than the last one saved).
    pub async fn refresh_token(&self, channel: &str) -> Result<Option<String>, StoreError> {
        match &self.front {
            Front::Sqlite(tx) => {
                let channel = channel.to_string();
                Self::call(tx, |r| Op::RefreshToken(channel, r)).await
            }
            Front::Postgres(pg) => pg.store.refresh_token(channel).await,
        }
    }

    /// Stores, durably, the request a template rendered for this delivery, before
    /// it is first sent; a request already stored is kept (the first one wins).
    pub async fn save_rendered(
        &self,
        delivery_id: i64,
        rendered: String,
    ) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => {
                Self::call(tx, |r| Op::SaveRendered(delivery_id, rendered, r)).await
            }
            Front::Postgres(pg) => pg.store.save_rendered(delivery_id, &rendered).await,
        }
    }

    /// Keeps the label a delivery sends (the first one kept stays: a retry
    /// sends the same bytes).
    pub async fn keep_label(&self, delivery_id: i64, label: Label) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => {
                Self::call(tx, |r| Op::KeepLabel(delivery_id, Box::new(label), r)).await
            }
            Front::Postgres(pg) => pg.store.keep_label(delivery_id, &label).await,
        }
    }

    /// Stores a rules version's text, so its decisions can be explained later
    /// (on PostgreSQL, also as the version this daemon runs).
    pub async fn note_rules(&self, rules: Arc<RuleSet>) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::Rules(rules, r)).await,
            Front::Postgres(pg) => pg.store.note_rules(&rules).await,
        }
    }

    /// A channel's polling cursor and run times.
    pub async fn poll_state(&self, channel: &str) -> Result<PollState, StoreError> {
        match &self.front {
            Front::Sqlite(tx) => {
                let channel = channel.to_string();
                Self::call(tx, |r| Op::PollState(channel, r)).await
            }
            Front::Postgres(pg) => pg.store.poll_state(channel).await,
        }
    }

    /// Stores a channel's polling cursor and run times (on PostgreSQL, only
    /// while this daemon holds the channel's poll job, `poll:<channel>`).
    pub async fn save_poll_state(&self, channel: &str, state: PollState) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => {
                let channel = channel.to_string();
                Self::call(tx, |r| Op::SavePoll(channel, state, r)).await
            }
            Front::Postgres(pg) => pg.store.save_poll_state(channel, &state).await,
        }
    }

    /// Whether this daemon may run singleton job `job` now: always with one
    /// daemon on SQLite; on PostgreSQL when it takes (or still holds) the
    /// job's lease, and not while another live daemon holds it.
    pub async fn take_job(&self, job: &str) -> Result<bool, StoreError> {
        match &self.front {
            Front::Sqlite(_) => Ok(true),
            Front::Postgres(pg) => Ok(pg.store.take_job(job).await?.is_some()),
        }
    }

    /// One bounded pass of housekeeping; call again while it reports `more`.
    /// On PostgreSQL it runs under the `housekeeping` job's lease: while
    /// another daemon holds it, the pass does nothing (that daemon does it).
    pub async fn housekeep(&self, h: Housekeeping) -> Result<Pruned, StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::Housekeep(h, r)).await,
            Front::Postgres(pg) => {
                if pg.store.take_job("housekeeping").await?.is_none() {
                    return Ok(Pruned::default());
                }
                pg.store.housekeep(&h).await
            }
        }
    }

    async fn act(&self, action: Action) -> Result<orders::Done, StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, |r| Op::Act(Box::new(action), r)).await,
            Front::Postgres(pg) => {
                let mut done = match action {
                    Action::Retry(id) => pg.store.retry(id).await,
                    Action::Resolve(what, id, resolution) => {
                        pg.store.resolve(what, id, resolution).await
                    }
                    Action::CompleteDraft(rules, id, set) => {
                        pg.store.complete_draft(&rules, id, &set).await
                    }
                    Action::Resync(rules, id) => pg.store.resync(&rules, id).await,
                }?;
                if !done.jobs.is_empty() {
                    done.jobs.clear();
                    pg.claims.notify_one();
                }
                Ok(done)
            }
        }
    }

    /// Sends a rejected or dead delivery again, with a fresh set of attempts
    /// and the same idempotency key (only the newest of its order and
    /// destination). Its job is handed to the dispatcher once committed.
    pub async fn retry(&self, delivery_id: i64) -> Result<orders::Done, StoreError> {
        self.act(Action::Retry(delivery_id)).await
    }

    /// Marks the problem a delivery or a decision stands for `resolved` or
    /// `ignored`.
    pub async fn resolve(
        &self,
        what: orders::Target,
        id: i64,
        resolution: &'static str,
    ) -> Result<orders::Done, StoreError> {
        self.act(Action::Resolve(what, id, resolution)).await
    }

    /// Fills draft `id`'s fields `set` and delivers it under `rules`, if
    /// nothing required is still empty.
    pub async fn complete_draft(
        &self,
        rules: Arc<RuleSet>,
        id: i64,
        set: Vec<(String, Value)>,
    ) -> Result<orders::Done, StoreError> {
        self.act(Action::CompleteDraft(rules, id, set)).await
    }

    /// Decides the order's newest update again with `rules` and delivers
    /// every `deliver`, even when the destination already has it.
    pub async fn resync(
        &self,
        rules: Arc<RuleSet>,
        order_id: i64,
    ) -> Result<orders::Done, StoreError> {
        self.act(Action::Resync(rules, order_id)).await
    }

    /// Answers once the store has committed everything sent before it (on
    /// PostgreSQL, once the server answers).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.front {
            Front::Sqlite(tx) => Self::call(tx, Op::Ping).await,
            Front::Postgres(pg) => pg.store.ping().await,
        }
    }
}
