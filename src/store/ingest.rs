//! One update into the store (SPEC 5 steps 1-4), inside the writer's transaction.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use chrono::{DateTime, Utc};

use super::{
    Decide, Explained, IngestRequest, Job, StoreError, UpdateStatus, health, idempotency_key,
    order_ref, parse_order_ref, stamp,
};
use crate::engine::{OrderState, Outcome, Update};
use crate::identity;
use crate::ingress::id_text;
use crate::order::Event;
use crate::value::Value;

/// What became of an update.
#[derive(Clone, Debug)]
pub enum Ingested {
    /// Stored (and decided, unless stale).
    Stored {
        /// The update's row id, answered as `{"update": id}`.
        update: i64,
        /// ordersync's order it joined or created.
        order: i64,
        /// Decided, ignored (by the import filter) or stale.
        status: UpdateStatus,
        /// The deliveries it created; handed to the dispatcher after the commit.
        jobs: Vec<Job>,
        /// Each decision's destination and outcome kind, for the metrics.
        outcomes: Vec<(Arc<str>, &'static str)>,
    },
    /// Its id was already stored: nothing was written.
    Duplicate,
}

impl Ingested {
    pub(super) fn jobs_mut(&mut self) -> Option<&mut Vec<Job>> {
        match self {
            Ingested::Stored { jobs, .. } => Some(jobs),
            Ingested::Duplicate => None,
        }
    }
}

pub(super) fn ingest(
    conn: &Connection,
    decide: &dyn Decide,
    req: &IngestRequest,
) -> Result<Ingested, StoreError> {
    let IngestRequest {
        channel,
        via,
        topic,
        incoming,
        payload,
        received_at,
        rules,
    } = req;
    let channel: &str = channel;
    let seen = conn
        .prepare_cached("SELECT 1 FROM updates WHERE channel = ?1 AND event_id = ?2")?
        .query_row(params![channel, incoming.id], |_| Ok(()))
        .optional()?;
    if seen.is_some() {
        return Ok(Ingested::Duplicate);
    }
    let order = &incoming.order;
    let external_id = order.get("id").and_then(id_text);
    let received = stamp(*received_at);

    // Find the order: by its link, by the ordersync id it carries back, or new.
    let mut link = None;
    if let Some(ext) = &external_id {
        link = conn
            .prepare_cached(
                "SELECT order_id, newest_updated_at FROM links WHERE channel = ?1 AND external_id = ?2",
            )?
            .query_row(params![channel, ext], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?;
    }
    // A new link is when the order gets a new name to be found by.
    let linked_now = link.is_none();
    let (order_id, newest) = match link {
        Some(found) => found,
        None => {
            let tagged = identity::ordersync_id(order)
                .and_then(parse_order_ref)
                .map(|id| {
                    conn.prepare_cached("SELECT id FROM orders WHERE id = ?1")?
                        .query_row([id], |r| r.get::<_, i64>(0))
                        .optional()
                })
                .transpose()?
                .flatten();
            let id = match tagged {
                Some(id) => id,
                None => {
                    conn.prepare_cached("INSERT INTO orders (created_at) VALUES (?1)")?
                        .execute([&received])?;
                    conn.last_insert_rowid()
                }
            };
            if let Some(ext) = &external_id {
                conn.prepare_cached(
                    "INSERT INTO links (channel, external_id, order_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![channel, ext, id])?;
            }
            (id, None)
        }
    };

    let updated_at = order.get("updated_at").and_then(Value::as_str);
    let stale = identity::is_stale(newest.as_deref(), updated_at);
    let insert_update = |status: UpdateStatus| -> rusqlite::Result<i64> {
        conn.prepare_cached(
            "INSERT INTO updates (channel, event_id, event, occurred_at, received_at, order_id,
                                  external_id, status, payload, via, topic)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            channel,
            incoming.id,
            incoming.event.as_str(),
            incoming.occurred_at,
            received,
            order_id,
            external_id,
            status.as_str(),
            payload,
            via.as_str(),
            topic
        ])?;
        Ok(conn.last_insert_rowid())
    };
    if stale {
        let update = insert_update(UpdateStatus::Stale)?;
        return Ok(Ingested::Stored {
            update,
            order: order_id,
            status: UpdateStatus::Stale,
            jobs: Vec::new(),
            outcomes: Vec::new(),
        });
    }
    if let (Some(ext), Some(at)) = (&external_id, updated_at)
        && newest.as_deref() != Some(at)
    {
        conn.prepare_cached(
            "UPDATE links SET newest_updated_at = ?3 WHERE channel = ?1 AND external_id = ?2",
        )?
        .execute(params![channel, ext, at])?;
    }

    // What ordersync holds of this order; the pure step decides on it.
    let state = state_of(conn, order_id)?;
    let update = Update {
        source: channel,
        event: incoming.event,
        order,
        now: *received_at,
    };
    let step = decide.step(rules, &state, &update)?;
    set_known(conn, order_id, channel, &order.to_json())?;
    if linked_now {
        note_order(
            conn,
            order_id,
            channel,
            external_id.as_deref(),
            order,
            &received,
        )?;
    }
    let status = if step.decided.decided().ignored {
        UpdateStatus::Ignored
    } else {
        UpdateStatus::Decided
    };
    let update_id = insert_update(status)?;
    let mut out = Recorded::default();
    let cx = Context {
        order_id,
        update_id,
        at: &received,
        received_at: *received_at,
        trigger: "update",
    };
    record_decisions(conn, &cx, &step.decided, &mut out)?;
    for released in &step.released {
        let cx = Context {
            trigger: "draft",
            ..cx
        };
        record_decisions(conn, &cx, released, &mut out)?;
    }
    Ok(Ingested::Stored {
        update: update_id,
        order: order_id,
        status,
        jobs: out.jobs,
        outcomes: out.outcomes,
    })
}

/// Where a set of decisions comes from.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    pub order_id: i64,
    pub update_id: i64,
    /// The stamp stored as `decided_at`.
    pub at: &'a str,
    /// When the update arrived (the deliveries' latency counts from here).
    pub received_at: DateTime<Utc>,
    /// `update`, `resync` or `draft`.
    pub trigger: &'a str,
}

/// What recording decisions produced: the deliveries to hand over after the
/// commit, and each decision's outcome for the metrics.
#[derive(Default)]
pub(super) struct Recorded {
    pub jobs: Vec<Job>,
    pub outcomes: Vec<(Arc<str>, &'static str)>,
    /// The decisions' ids, in order.
    pub decisions: Vec<i64>,
}

/// What ordersync holds of an order: what every channel has of it (what it
/// last sent, or what we last decided for it) and the drafts held for it.
pub(super) fn state_of(conn: &Connection, order_id: i64) -> rusqlite::Result<OrderState> {
    let mut state = OrderState::default();
    let mut stmt = conn.prepare_cached("SELECT channel, body FROM known WHERE order_id = ?1")?;
    let mut rows = stmt.query([order_id])?;
    while let Some(row) = rows.next()? {
        let body: String = row.get(1)?;
        if let Ok(v) = Value::from_json(&body) {
            state.known.push((row.get(0)?, v));
        }
    }
    let mut stmt = conn.prepare_cached(
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

/// Notes the order's name and first source, and adds its new id (and the
/// customer's email) to the text it is searched by; run when a link is made.
fn note_order(
    conn: &Connection,
    order_id: i64,
    channel: &str,
    external_id: Option<&str>,
    order: &Value,
    at: &str,
) -> rusqlite::Result<()> {
    let name = order.get("name").and_then(Value::as_str);
    let email = order
        .get_path("customer.email")
        .and_then(Value::as_str)
        .unwrap_or("");
    let words = format!(
        "{} {} {}",
        name.unwrap_or(""),
        external_id.unwrap_or(""),
        email
    )
    .to_lowercase();
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    conn.prepare_cached(
        "UPDATE orders SET updated_at = ?2, name = coalesce(name, ?3), source = coalesce(source, ?4),
             search = CASE WHEN ?5 = '' OR instr(search, ?5) > 0 THEN search
                           ELSE ltrim(search || ' ' || ?5) END
         WHERE id = ?1",
    )?
    .execute(params![order_id, at, name, channel, words])?;
    Ok(())
}

/// Stores one decision per destination, the deliveries of `deliver` ones,
/// and their Order Health rows.
pub(super) fn record_decisions(
    conn: &Connection,
    cx: &Context,
    explained: &Explained,
    out: &mut Recorded,
) -> Result<(), StoreError> {
    let order_id = cx.order_id;
    let decided = explained.decided();
    let channel: &str = &decided.source;
    for (d, why) in explained.each() {
        out.outcomes
            .push((d.destination.clone(), d.outcome.kind().as_str()));
        let mut body = None;
        let mut decided_json = None;
        let mut dest_external = None;
        if let (Outcome::Deliver | Outcome::Draft(_), Some(o)) = (&d.outcome, &d.order) {
            dest_external = destination_id(conn, order_id, &d.destination)?;
            // What ordersync creates carries its id, so the echo joins this order.
            let plain = o.to_json();
            body = Some(if dest_external.is_none() {
                identity::with_ordersync_id(o, &order_ref(order_id)).to_json()
            } else {
                plain.clone()
            });
            decided_json = Some(plain);
        }
        let detail = d.outcome.to_string();
        conn.prepare_cached(
            "INSERT INTO decisions (update_id, order_id, destination, outcome, detail, rules_version,
                                    body, changes, trace, decided_at, why, trigger)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            cx.update_id,
            order_id,
            &*d.destination,
            d.outcome.kind().as_str(),
            detail,
            &*decided.rules_version,
            body,
            to_json(&d.changes),
            to_json(&d.trace),
            cx.at,
            why,
            cx.trigger
        ])?;
        let decision_id = conn.last_insert_rowid();
        out.decisions.push(decision_id);
        let mut delivery_id = None;
        if d.outcome == Outcome::Deliver {
            let body = body.unwrap_or_default();
            set_known(
                conn,
                order_id,
                &d.destination,
                decided_json.as_deref().unwrap_or(&body),
            )?;
            let job = insert_delivery(
                conn,
                &NewDelivery {
                    decision_id,
                    order_id,
                    destination: d.destination.clone(),
                    source: decided.source.clone(),
                    event: decided.event,
                    rules_version: decided.rules_version.clone(),
                    body,
                    external_id: dest_external,
                    at: cx.at,
                    received_at: cx.received_at,
                },
            )?;
            delivery_id = Some(job.delivery_id);
            out.jobs.push(job);
        }
        health::on_decision(
            conn,
            &health::Decided {
                order_id,
                destination: &d.destination,
                source: channel,
                outcome: d.outcome.kind(),
                decision_id,
                delivery_id,
                detail: &detail,
                at: cx.at,
            },
        )?;
    }
    Ok(())
}

/// The destination's own id for an order, if known.
pub(super) fn destination_id(
    conn: &Connection,
    order_id: i64,
    destination: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT external_id FROM links WHERE order_id = ?1 AND channel = ?2 ORDER BY rowid LIMIT 1",
    )?
    .query_row(params![order_id, destination], |r| r.get::<_, String>(0))
    .optional()
}

/// A `deliver` decision's hand-over, about to be stored.
pub(super) struct NewDelivery<'a> {
    pub decision_id: i64,
    pub order_id: i64,
    pub destination: Arc<str>,
    pub source: Arc<str>,
    pub event: Event,
    pub rules_version: Arc<str>,
    pub body: String,
    pub external_id: Option<String>,
    pub at: &'a str,
    pub received_at: DateTime<Utc>,
}

/// Stores a pending delivery; answers the job for the dispatcher.
pub(super) fn insert_delivery(conn: &Connection, n: &NewDelivery) -> rusqlite::Result<Job> {
    let key = idempotency_key(&order_ref(n.order_id), &n.destination, n.decision_id as u64);
    conn.prepare_cached(
        "INSERT INTO deliveries (decision_id, order_id, destination, source, event,
                                 idempotency_key, status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
    )?
    .execute(params![
        n.decision_id,
        n.order_id,
        &*n.destination,
        &*n.source,
        n.event.as_str(),
        key,
        n.at
    ])?;
    Ok(Job {
        delivery_id: conn.last_insert_rowid(),
        order_id: n.order_id,
        destination: n.destination.clone(),
        source: n.source.clone(),
        event: n.event,
        rules_version: n.rules_version.clone(),
        order_json: Arc::from(n.body.as_str()),
        external_id: n.external_id.clone(),
        idempotency_key: Arc::from(key),
        attempts: 0,
        not_before: None,
        received_at: n.received_at,
        sent: false,
        rendered: None,
    })
}

pub(super) fn set_known(
    conn: &Connection,
    order_id: i64,
    channel: &str,
    body: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO known (order_id, channel, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (order_id, channel) DO UPDATE SET body = excluded.body",
    )?
    .execute(params![order_id, channel, body])?;
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Traces and changes are plain data: they always serialize.
    serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
