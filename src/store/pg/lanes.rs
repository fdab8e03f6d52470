//! Deliveries on leases (SPEC 11): how several daemons share the outbox.
//!
//! Every (order, destination) with pending deliveries has a row in `lanes`.
//! A daemon claims due lanes in a short transaction (`FOR UPDATE SKIP
//! LOCKED`, so daemons claiming at once never wait for each other or take
//! the same lane); the claim bumps the lane's `token` and sets a lease, and
//! hands back only the lane's lowest pending delivery. The request is sent
//! outside any transaction. Its outcome is recorded only if the daemon still
//! holds the lane with that token: a daemon that was paused or cut off past
//! its lease, and whose lane another daemon claimed, finds it taken over (`StoreError::LeaseLost`) and records
//! nothing, and the daemon that took it over sends the same delivery again,
//! with the same `Idempotency-Key`.
//!
//! Leases are timed by the server's clock (`now()`), so daemons whose clocks
//! disagree still agree on when a lease has run out. A retry's back-off is
//! the daemon's `next_at`, which the lane waits for (`due_at`).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Transaction;

use super::statements::Pg;
use super::{PgError, PgStore};
use crate::order::Event;
use crate::store::{Attempt, Job, StoreError, attempts, parse_stamp};

/// A daemon's hold on one lane, as its claim gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub order_id: i64,
    pub destination: Arc<str>,
    /// Goes up on every claim of the lane: only the newest may record.
    pub token: i64,
}

/// A lane's next delivery, and the lease it is sent under.
#[derive(Clone, Debug)]
pub struct Leased {
    pub lease: Lease,
    pub job: Job,
}

/// A delivery as a job: `ops::jobs_where`'s columns, over `deliveries d`.
macro_rules! job_select {
    () => {
        "SELECT d.id, d.order_id, d.destination, d.source, d.event, c.rules_version, c.body,
            (SELECT l.external_id FROM links l WHERE l.order_id = d.order_id AND l.channel = d.destination
             ORDER BY l.id LIMIT 1),
            d.idempotency_key, d.attempts, d.next_at, c.decided_at, d.sent_at IS NOT NULL, d.rendered
         FROM deliveries d JOIN decisions c ON c.id = d.decision_id"
    };
}
pub(super) use job_select;

/// The lane's lowest pending delivery.
const HEAD: &str = concat!(
    job_select!(),
    " WHERE d.order_id = $1 AND d.destination = $2 AND d.status = 'pending' ORDER BY d.id LIMIT 1"
);

/// Delivery `$1`.
pub(super) const BY_ID: &str = concat!(job_select!(), " WHERE d.id = $1");

pub(super) fn job(r: &tokio_postgres::Row) -> Result<Job, StoreError> {
    let event: &str = r.get(4);
    let event = event.parse::<Event>().map_err(|e| {
        StoreError::Postgres(PgError {
            message: format!("delivery {}: {e}", r.get::<_, i64>(0)),
            retry: false,
            unavailable: false,
        })
    })?;
    let next_at: Option<&str> = r.get(10);
    let decided_at: &str = r.get(11);
    Ok(Job {
        delivery_id: r.get(0),
        order_id: r.get(1),
        destination: Arc::from(r.get::<_, &str>(2)),
        source: Arc::from(r.get::<_, &str>(3)),
        event,
        rules_version: Arc::from(r.get::<_, &str>(5)),
        order_json: Arc::from(r.get::<_, Option<&str>>(6).unwrap_or_default()),
        external_id: r.get(7),
        idempotency_key: Arc::from(r.get::<_, &str>(8)),
        attempts: u32::try_from(r.get::<_, i32>(9)).unwrap_or(0),
        not_before: next_at.and_then(parse_stamp),
        received_at: parse_stamp(decided_at).unwrap_or_else(Utc::now),
        sent: r.get(12),
        rendered: r.get::<_, Option<&str>>(13).map(Arc::from),
    })
}

async fn head(
    tx: &Transaction<'_>,
    order_id: i64,
    destination: &str,
) -> Result<Option<Job>, StoreError> {
    let stmt = tx.prepare_cached(HEAD).await?;
    tx.query_opt(&stmt, &[&order_id, &destination])
        .await?
        .map(|r| job(&r))
        .transpose()
}

impl PgStore {
    /// Claims up to `limit` due lanes no live daemon holds, each with its
    /// lowest pending delivery. A lane found with nothing pending is removed.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Leased>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare_cached(
                "WITH c AS (
                     SELECT order_id, destination FROM lanes
                     WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                     ORDER BY due_at LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE lanes l SET owner = $1, token = l.token + 1,
                     lease_until = now() + make_interval(secs => $2)
                 FROM c WHERE l.order_id = c.order_id AND l.destination = c.destination
                 RETURNING l.order_id, l.destination, l.token",
            )
            .await?;
        let lanes = tx
            .query(
                &stmt,
                &[&&*self.owner, &self.lease.as_secs_f64(), &(limit as i64)],
            )
            .await?;
        let mut claimed = Vec::with_capacity(lanes.len());
        for lane in lanes {
            let lease = Lease {
                order_id: lane.get(0),
                destination: Arc::from(lane.get::<_, &str>(1)),
                token: lane.get(2),
            };
            match head(&tx, lease.order_id, &lease.destination).await? {
                Some(job) => claimed.push(Leased { lease, job }),
                None => {
                    tx.execute(
                        "DELETE FROM lanes WHERE order_id = $1 AND destination = $2",
                        &[&lease.order_id, &&*lease.destination],
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for c in &claimed {
            held.insert(c.job.delivery_id, c.lease.clone());
        }
        Ok(claimed)
    }

    /// The lease this daemon holds `delivery_id` under (its lane's newest
    /// claim by this daemon), or why it holds none.
    pub(super) fn held(&self, delivery_id: i64) -> Result<Lease, StoreError> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&delivery_id).cloned().ok_or_else(|| {
            StoreError::LeaseLost(format!(
                "store: this daemon holds no lease on delivery {delivery_id}; its outcome is not recorded"
            ))
        })
    }

    /// Extends the lease of every lane and job this daemon holds (answers
    /// how many lanes), and notes the daemon as alive on the roll call (`ops.rs`).
    pub async fn renew(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE lanes SET lease_until = now() + make_interval(secs => $2)
                 WHERE owner = $1 AND lease_until IS NOT NULL",
            )
            .await?;
        let renewed = client
            .execute(&stmt, &[&&*self.owner, &self.lease.as_secs_f64()])
            .await?;
        // The singleton jobs it holds too: a poll run longer than a lease
        // must not let another daemon poll the same channel meanwhile.
        client
            .execute(
                "UPDATE job_leases SET lease_until = now() + make_interval(secs => $2)
                 WHERE owner = $1 AND lease_until > now()",
                &[&&*self.owner, &self.lease.as_secs_f64()],
            )
            .await?;
        client
            .execute(
                "UPDATE daemons SET seen_at = now() WHERE owner = $1",
                &[&&*self.owner],
            )
            .await?;
        Ok(renewed)
    }

    /// Gives up every lane and job this daemon holds (at shutdown), so the
    /// others take them at once rather than after the lease; answers how
    /// many lanes.
    pub async fn release_all(&self) -> Result<u64, StoreError> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.jobs_held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let client = self.client().await?;
        client
            .execute(
                "UPDATE job_leases SET lease_until = now() WHERE owner = $1",
                &[&&*self.owner],
            )
            .await?;
        Ok(client
            .execute(
                "UPDATE lanes SET owner = NULL, lease_until = NULL WHERE owner = $1",
                &[&&*self.owner],
            )
            .await?)
    }

    /// Fails unless this daemon still holds `lease`; locks the lane's row
    /// until the transaction ends.
    pub(super) async fn check(
        &self,
        tx: &Transaction<'_>,
        lease: &Lease,
    ) -> Result<(), StoreError> {
        let stmt = tx
            .prepare_cached(
                "SELECT owner, token FROM lanes
                 WHERE order_id = $1 AND destination = $2 FOR UPDATE",
            )
            .await?;
        let row = tx
            .query_opt(&stmt, &[&lease.order_id, &&*lease.destination])
            .await?;
        // A lease that ran out with nobody claiming the lane since (the token
        // is still this claim's) still holds: what this daemon sent is the
        // lane's newest news, and recording it saves a needless resend.
        let held = row.is_some_and(|r| {
            r.get::<_, Option<&str>>(0) == Some(&*self.owner) && r.get::<_, i64>(1) == lease.token
        });
        if held {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(format!(
                "store: the lease on the lane of ord_{} to {} ran out and another daemon took it; this daemon's outcome is not recorded",
                lease.order_id, lease.destination
            )))
        }
    }

    /// Records an attempt made under the lease its delivery was claimed with
    /// (see `attempts.rs`), then moves the lane on: to its next pending
    /// delivery, answered here when it is due now (the lease is extended for
    /// it); else the lane waits for its retry and is given up, or, with
    /// nothing pending, removed.
    pub async fn record(&self, attempt: &Attempt) -> Result<Option<Leased>, StoreError> {
        let lease = self.held(attempt.delivery_id)?;
        let mut tries = 0;
        let next = loop {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let done = self.record_in(&tx, &lease, attempt).await;
            let done = match done {
                Ok(next) => tx.commit().await.map(|()| next).map_err(StoreError::from),
                Err(e) => Err(e),
            };
            match done {
                Err(StoreError::Postgres(PgError { retry: true, .. }))
                    if tries < super::RETRIES =>
                {
                    tries += 1;
                }
                done => break done,
            }
        };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(_) | Err(StoreError::LeaseLost(_)) = &next {
            // Recorded, or refused for good: this daemon is done with it.
            held.remove(&attempt.delivery_id);
        }
        if let Ok(Some(n)) = &next {
            held.insert(n.job.delivery_id, n.lease.clone());
        }
        next
    }

    async fn record_in(
        &self,
        tx: &Transaction<'_>,
        lease: &Lease,
        attempt: &Attempt,
    ) -> Result<Option<Leased>, StoreError> {
        self.check(tx, lease).await?;
        attempts::record(&mut Pg(tx), attempt).await?;
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
            [&lease.order_id, &&*lease.destination];
        let Some(next) = head(tx, lease.order_id, &lease.destination).await? else {
            tx.execute(
                "DELETE FROM lanes WHERE order_id = $1 AND destination = $2",
                &key,
            )
            .await?;
            return Ok(None);
        };
        match next.not_before.filter(|t| *t > Utc::now()) {
            Some(due) => {
                let due = crate::store::stamp(due);
                tx.execute(
                    "UPDATE lanes SET owner = NULL, lease_until = NULL, due_at = $3::text::timestamptz
                     WHERE order_id = $1 AND destination = $2",
                    &[&lease.order_id, &&*lease.destination, &due],
                )
                .await?;
                Ok(None)
            }
            None => {
                tx.execute(
                    "UPDATE lanes SET lease_until = now() + make_interval(secs => $3)
                     WHERE order_id = $1 AND destination = $2",
                    &[
                        &lease.order_id,
                        &&*lease.destination,
                        &self.lease.as_secs_f64(),
                    ],
                )
                .await?;
                Ok(Some(Leased {
                    lease: lease.clone(),
                    job: next,
                }))
            }
        }
    }

    /// Runs `sql` with (`delivery_id`, `value`) under the lease the delivery
    /// is held with, in one transaction.
    pub(super) async fn fenced(
        &self,
        delivery_id: i64,
        sql: &str,
        value: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> Result<(), StoreError> {
        let lease = self.held(delivery_id)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.check(&tx, &lease).await?;
        tx.execute(sql, &[&delivery_id, value]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes, under the delivery's lease, that a request whose outcome may be
    /// unknown is about to be sent for it (see `Job::sent`).
    pub async fn mark_sent(&self, delivery_id: i64) -> Result<(), StoreError> {
        self.fenced(
            delivery_id,
            "UPDATE deliveries SET sent_at = coalesce(sent_at, $2) WHERE id = $1",
            &crate::store::stamp(Utc::now()),
        )
        .await
    }

    /// Stores, under the delivery's lease, the request a template rendered
    /// for it; a request already stored is kept (the first one wins).
    pub async fn save_rendered(&self, delivery_id: i64, rendered: &str) -> Result<(), StoreError> {
        self.fenced(
            delivery_id,
            "UPDATE deliveries SET rendered = coalesce(rendered, $2) WHERE id = $1",
            &rendered,
        )
        .await
    }

    /// How long a claim holds a lane without being renewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }
}
