//! The statements an update's ingest runs, one method each, with typed rows
//! in and out: the interface both stores implement (River's driver
//! interface). The logic of an ingest (`ingest.rs`), an attempt's record
//! (`attempts.rs`) and the operators' actions (`actions.rs`) is written once
//! against it; SQLite's statements are below, PostgreSQL's in
//! `pg/statements.rs`.
//!
//! The methods are `async` because PostgreSQL's are. SQLite's run to the end
//! the moment they are called (its writer thread owns the connection), so the
//! writer drives the same logic with [`run_now`], which polls it once.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rusqlite::{Connection, OptionalExtension, params};

use super::health::{self, Decided};
use super::{DeliveryStatus, Job, StoreError};
use crate::engine::OrderState;
use crate::order::Event;
use crate::value::Value;

/// An update row about to be stored.
pub(super) struct NewUpdate<'a> {
    pub channel: &'a str,
    pub event_id: &'a str,
    pub event: Event,
    pub occurred_at: Option<&'a str>,
    pub received_at: &'a str,
    pub order_id: i64,
    pub external_id: Option<&'a str>,
    /// `decided`, `ignored` or `stale`.
    pub status: &'static str,
    pub payload: &'a [u8],
    /// `webhook` or `poll`.
    pub via: &'static str,
    pub topic: Option<&'a str>,
}

/// A decision row about to be stored.
pub(super) struct NewDecision<'a> {
    pub update_id: i64,
    pub order_id: i64,
    pub destination: &'a str,
    pub outcome: &'static str,
    pub detail: &'a str,
    pub rules_version: &'a str,
    pub body: Option<&'a str>,
    pub changes: &'a str,
    pub trace: &'a str,
    pub decided_at: &'a str,
    pub why: &'a str,
    /// `update`, `resync` or `draft`.
    pub trigger: &'a str,
}

/// A pending delivery row about to be stored.
pub(super) struct NewDeliveryRow<'a> {
    pub decision_id: i64,
    pub order_id: i64,
    pub destination: &'a str,
    pub source: &'a str,
    pub event: Event,
    pub idempotency_key: &'a str,
    pub at: &'a str,
}

/// One request of a delivery and its answer, about to be stored.
pub(super) struct NewAttempt<'a> {
    pub delivery_id: i64,
    pub at: &'a str,
    pub external_id: Option<&'a str>,
    pub http_status: Option<u16>,
    pub error: Option<&'a str>,
    pub response: &'a [u8],
    pub duration_ms: f64,
    /// A connector's step (`orderCreate`), and the request as sent.
    pub step: Option<&'a str>,
    pub request: Option<&'a str>,
}

/// A delivery's state after an attempt.
pub(super) struct AttemptOutcome<'a> {
    pub delivery_id: i64,
    pub order_id: i64,
    pub destination: &'a str,
    pub status: DeliveryStatus,
    pub next_at: Option<&'a str>,
    pub http_status: Option<u16>,
    pub error: Option<&'a str>,
    /// What Order Health says of it.
    pub detail: &'a str,
    pub at: &'a str,
}

/// A draft decision an operator completes, with its update's source and event.
pub(super) struct DraftRow {
    pub order_id: i64,
    pub update_id: i64,
    pub destination: String,
    pub outcome: String,
    /// The order as the draft holds it (JSON).
    pub body: Option<String>,
    pub released: Option<String>,
    pub source: String,
    pub event: String,
}

/// An order's newest update that is not stale, as re-sync reads it again.
pub(super) struct UpdateRow {
    pub update_id: i64,
    pub channel: String,
    pub event_id: String,
    pub payload: Vec<u8>,
    pub topic: Option<String>,
    pub via: String,
    /// Set when retention dropped its payload.
    pub pruned: Option<String>,
}

/// What an order gets when a new link is made to it: its name and first
/// source (kept if it has them) and new words for its search text.
pub(super) struct OrderNote<'a> {
    pub order_id: i64,
    pub at: &'a str,
    pub name: Option<&'a str>,
    pub source: &'a str,
    /// Lower case, single spaces; added unless already in the text.
    pub words: &'a str,
}

/// The statements of one update's transaction.
pub(super) trait Statements {
    /// Whether an update with this id was stored from the channel.
    async fn seen(&mut self, channel: &str, event_id: &str) -> Result<bool, StoreError>;
    /// The order a (channel, external id) is linked to, and the newest
    /// `updated_at` that channel sent for it; the order is held for this
    /// transaction (PostgreSQL locks its row, SQLite has one writer).
    async fn linked_order(
        &mut self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError>;
    /// Whether the order exists, held for this transaction like `linked_order`.
    async fn hold_order(&mut self, order_id: i64) -> Result<bool, StoreError>;
    /// A new order; its id.
    async fn new_order(&mut self, created_at: &str) -> Result<i64, StoreError>;
    /// Links (channel, external id) to an order.
    async fn add_link(
        &mut self,
        channel: &str,
        external_id: &str,
        order_id: i64,
    ) -> Result<(), StoreError>;
    /// Notes the newest `updated_at` a channel sent for its linked order.
    async fn set_newest(
        &mut self,
        channel: &str,
        external_id: &str,
        updated_at: &str,
    ) -> Result<(), StoreError>;
    /// Stores an update; its id.
    async fn insert_update(&mut self, u: &NewUpdate<'_>) -> Result<i64, StoreError>;
    /// What every channel has of the order, and its drafts.
    async fn state_of(&mut self, order_id: i64) -> Result<OrderState, StoreError>;
    /// What a channel now has of the order (JSON).
    async fn set_known(
        &mut self,
        order_id: i64,
        channel: &str,
        body: &str,
    ) -> Result<(), StoreError>;
    /// Notes a new link on the order's row.
    async fn note_order(&mut self, n: &OrderNote<'_>) -> Result<(), StoreError>;
    /// The destination's own id for the order (its first link), if known.
    async fn destination_id(
        &mut self,
        order_id: i64,
        destination: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a decision; its id.
    async fn insert_decision(&mut self, d: &NewDecision<'_>) -> Result<i64, StoreError>;
    /// Stores a pending delivery; its id.
    async fn insert_delivery(&mut self, d: &NewDeliveryRow<'_>) -> Result<i64, StoreError>;
    /// Moves the order's Order Health row for a new decision (see
    /// `health.rs`), releasing a draft it replaces.
    async fn on_decision(&mut self, d: &Decided<'_>) -> Result<(), StoreError>;

    /// Stores one request of a delivery.
    async fn insert_attempt(&mut self, a: &NewAttempt<'_>) -> Result<(), StoreError>;
    /// Counts an attempt on its delivery, with its new status, and moves
    /// the Order Health row if it is the row's delivery.
    async fn after_attempt(&mut self, o: &AttemptOutcome<'_>) -> Result<(), StoreError>;
    /// Links (channel, external id) to an order unless it is linked already.
    async fn add_link_if_new(
        &mut self,
        channel: &str,
        external_id: &str,
        order_id: i64,
    ) -> Result<(), StoreError>;

    /// A delivery's order, destination and status.
    async fn delivery_row(&mut self, id: i64) -> Result<Option<(i64, String, String)>, StoreError>;
    /// The delivery the Order Health row of (order, destination) is about.
    async fn health_delivery(
        &mut self,
        order_id: i64,
        destination: &str,
    ) -> Result<Option<i64>, StoreError>;
    /// Makes a delivery pending again with a fresh set of attempts, and its
    /// Order Health row `pending` (PostgreSQL opens its lane again).
    async fn reset_for_retry(
        &mut self,
        id: i64,
        order_id: i64,
        destination: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Delivery `id` as a job.
    async fn job(&mut self, id: i64) -> Result<Option<Job>, StoreError>;
    /// A decision's order and destination.
    async fn decision_target(&mut self, id: i64) -> Result<Option<(i64, String)>, StoreError>;
    /// `resolved` or `ignored` on the problem of one Order Health row; false
    /// when it has none open (see `health::set_resolution`).
    async fn set_resolution(
        &mut self,
        order_id: i64,
        destination: &str,
        resolution: &str,
    ) -> Result<bool, StoreError>;
    /// A decision with what completing it as a draft needs.
    async fn draft_row(&mut self, id: i64) -> Result<Option<DraftRow>, StoreError>;
    /// The order's newest update that is not stale.
    async fn newest_update(&mut self, order_id: i64) -> Result<Option<UpdateRow>, StoreError>;
}

/// Runs logic written against [`Statements`] on SQLite's, which never wait.
pub(super) fn run_now<T>(f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(done) => done,
        Poll::Pending => Err(StoreError::Commit(
            "a SQLite statement waited, which it never does".to_string(),
        )),
    }
}

/// SQLite's statements, on the writer's connection inside its transaction.
pub(super) struct Sqlite<'c>(pub &'c Connection);

impl Statements for Sqlite<'_> {
    async fn seen(&mut self, channel: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM updates WHERE channel = ?1 AND event_id = ?2")?
            .query_row(params![channel, event_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    async fn linked_order(
        &mut self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT order_id, newest_updated_at FROM links WHERE channel = ?1 AND external_id = ?2",
            )?
            .query_row(params![channel, external_id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?)
    }

    async fn hold_order(&mut self, order_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT 1 FROM orders WHERE id = ?1")?
            .query_row([order_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    async fn new_order(&mut self, created_at: &str) -> Result<i64, StoreError> {
        self.0
            .prepare_cached("INSERT INTO orders (created_at) VALUES (?1)")?
            .execute([created_at])?;
        Ok(self.0.last_insert_rowid())
    }

    async fn add_link(
        &mut self,
        channel: &str,
        external_id: &str,
        order_id: i64,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO links (channel, external_id, order_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![channel, external_id, order_id])?;
        Ok(())
    }

    async fn set_newest(
        &mut self,
        channel: &str,
        external_id: &str,
        updated_at: &str,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE links SET newest_updated_at = ?3 WHERE channel = ?1 AND external_id = ?2",
            )?
            .execute(params![channel, external_id, updated_at])?;
        Ok(())
    }

    async fn insert_update(&mut self, u: &NewUpdate<'_>) -> Result<i64, StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO updates (channel, event_id, event, occurred_at, received_at, order_id,
                                      external_id, status, payload, via, topic)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                u.channel,
                u.event_id,
                u.event.as_str(),
                u.occurred_at,
                u.received_at,
                u.order_id,
                u.external_id,
                u.status,
                u.payload,
                u.via,
                u.topic
            ])?;
        Ok(self.0.last_insert_rowid())
    }

    async fn state_of(&mut self, order_id: i64) -> Result<OrderState, StoreError> {
        let mut state = OrderState::default();
        let mut stmt = self
            .0
            .prepare_cached("SELECT channel, body FROM known WHERE order_id = ?1")?;
        let mut rows = stmt.query([order_id])?;
        while let Some(row) = rows.next()? {
            let body: String = row.get(1)?;
            if let Ok(v) = Value::from_json(&body) {
                state.known.push((row.get(0)?, v));
            }
        }
        let mut stmt = self.0.prepare_cached(
            "SELECT h.destination, u.event FROM health h
             JOIN decisions c ON c.id = h.decision_id JOIN updates u ON u.id = c.update_id
             WHERE h.order_id = ?1 AND h.status = 'draft'",
        )?;
        let mut rows = stmt.query([order_id])?;
        while let Some(row) = rows.next()? {
            let event: String = row.get(1)?;
            if let Ok(event) = event.parse::<Event>() {
                state.drafts.push((row.get(0)?, event));
            }
        }
        Ok(state)
    }

    async fn set_known(
        &mut self,
        order_id: i64,
        channel: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO known (order_id, channel, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (order_id, channel) DO UPDATE SET body = excluded.body",
            )?
            .execute(params![order_id, channel, body])?;
        Ok(())
    }

    async fn note_order(&mut self, n: &OrderNote<'_>) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE orders SET updated_at = ?2, name = coalesce(name, ?3), source = coalesce(source, ?4),
                     search = CASE WHEN ?5 = '' OR instr(search, ?5) > 0 THEN search
                                   ELSE ltrim(search || ' ' || ?5) END
                 WHERE id = ?1",
            )?
            .execute(params![n.order_id, n.at, n.name, n.source, n.words])?;
        Ok(())
    }

    async fn destination_id(
        &mut self,
        order_id: i64,
        destination: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT external_id FROM links WHERE order_id = ?1 AND channel = ?2
                 ORDER BY rowid LIMIT 1",
            )?
            .query_row(params![order_id, destination], |r| r.get::<_, String>(0))
            .optional()?)
    }

    async fn insert_decision(&mut self, d: &NewDecision<'_>) -> Result<i64, StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO decisions (update_id, order_id, destination, outcome, detail, rules_version,
                                        body, changes, trace, decided_at, why, trigger)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                d.update_id,
                d.order_id,
                d.destination,
                d.outcome,
                d.detail,
                d.rules_version,
                d.body,
                d.changes,
                d.trace,
                d.decided_at,
                d.why,
                d.trigger
            ])?;
        Ok(self.0.last_insert_rowid())
    }

    async fn insert_delivery(&mut self, d: &NewDeliveryRow<'_>) -> Result<i64, StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO deliveries (decision_id, order_id, destination, source, event,
                                         idempotency_key, status, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
            )?
            .execute(params![
                d.decision_id,
                d.order_id,
                d.destination,
                d.source,
                d.event.as_str(),
                d.idempotency_key,
                d.at
            ])?;
        Ok(self.0.last_insert_rowid())
    }

    async fn on_decision(&mut self, d: &Decided<'_>) -> Result<(), StoreError> {
        Ok(health::on_decision(self.0, d)?)
    }

    async fn insert_attempt(&mut self, a: &NewAttempt<'_>) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO attempts (delivery_id, at, external_id, http_status, error, response,
                                       duration_ms, step, request)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                a.delivery_id,
                a.at,
                a.external_id,
                a.http_status,
                a.error,
                a.response,
                a.duration_ms,
                a.step,
                a.request
            ])?;
        Ok(())
    }

    async fn after_attempt(&mut self, o: &AttemptOutcome<'_>) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE deliveries SET status = ?2, attempts = attempts + 1, next_at = ?3,
                     last_status = ?4, last_error = ?5, updated_at = ?6 WHERE id = ?1",
            )?
            .execute(params![
                o.delivery_id,
                o.status.as_str(),
                o.next_at,
                o.http_status,
                o.error,
                o.at
            ])?;
        health::on_attempt(
            self.0,
            o.order_id,
            o.destination,
            o.delivery_id,
            o.status,
            o.detail,
            o.at,
        )?;
        Ok(())
    }

    async fn add_link_if_new(
        &mut self,
        channel: &str,
        external_id: &str,
        order_id: i64,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO links (channel, external_id, order_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (channel, external_id) DO NOTHING",
            )?
            .execute(params![channel, external_id, order_id])?;
        Ok(())
    }

    async fn delivery_row(&mut self, id: i64) -> Result<Option<(i64, String, String)>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT order_id, destination, status FROM deliveries WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    async fn health_delivery(
        &mut self,
        order_id: i64,
        destination: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT delivery_id FROM health WHERE order_id = ?1 AND destination = ?2",
            )?
            .query_row(params![order_id, destination], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten())
    }

    async fn reset_for_retry(
        &mut self,
        id: i64,
        order_id: i64,
        destination: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = NULL, updated_at = ?2
                 WHERE id = ?1",
            )?
            .execute(params![id, at])?;
        self.0
            .prepare_cached(
                "UPDATE health SET status = 'pending', detail = 'retry requested by an operator',
                     resolution = NULL, updated_at = ?3
                 WHERE order_id = ?1 AND destination = ?2",
            )?
            .execute(params![order_id, destination, at])?;
        Ok(())
    }

    async fn job(&mut self, id: i64) -> Result<Option<Job>, StoreError> {
        Ok(super::ops::jobs_where(self.0, "d.id = ?1", &[&id])?.pop())
    }

    async fn decision_target(&mut self, id: i64) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT order_id, destination FROM decisions WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    async fn set_resolution(
        &mut self,
        order_id: i64,
        destination: &str,
        resolution: &str,
    ) -> Result<bool, StoreError> {
        Ok(health::set_resolution(
            self.0,
            order_id,
            destination,
            resolution,
        )?)
    }

    async fn draft_row(&mut self, id: i64) -> Result<Option<DraftRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT c.order_id, c.update_id, c.destination, c.outcome, c.body, c.released_at,
                        u.channel, u.event
                 FROM decisions c JOIN updates u ON u.id = c.update_id WHERE c.id = ?1",
            )?
            .query_row([id], |r| {
                Ok(DraftRow {
                    order_id: r.get(0)?,
                    update_id: r.get(1)?,
                    destination: r.get(2)?,
                    outcome: r.get(3)?,
                    body: r.get(4)?,
                    released: r.get(5)?,
                    source: r.get(6)?,
                    event: r.get(7)?,
                })
            })
            .optional()?)
    }

    async fn newest_update(&mut self, order_id: i64) -> Result<Option<UpdateRow>, StoreError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id, channel, event_id, payload, topic, via, pruned_at FROM updates
                 WHERE order_id = ?1 AND status != 'stale' ORDER BY id DESC LIMIT 1",
            )?
            .query_row([order_id], |r| {
                Ok(UpdateRow {
                    update_id: r.get(0)?,
                    channel: r.get(1)?,
                    event_id: r.get(2)?,
                    payload: r.get(3)?,
                    topic: r.get(4)?,
                    via: r.get(5)?,
                    pruned: r.get(6)?,
                })
            })
            .optional()?)
    }
}
