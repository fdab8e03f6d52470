//! One update into the store (SPEC 5 steps 1-4), inside the writer's transaction.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::{IngestRequest, Job, StoreError, order_ref, parse_order_ref, stamp};
use crate::delivery::request::idempotency_key;
use crate::engine::{Outcome, Update, decide};
use crate::identity;
use crate::ingress::id_text;
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
        /// `decided`, `ignored` (by the import filter) or `stale`.
        status: &'static str,
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

pub(super) fn ingest(conn: &Connection, req: &IngestRequest) -> Result<Ingested, StoreError> {
    let IngestRequest {
        channel,
        via,
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
    let insert_update = |status: &str| -> rusqlite::Result<i64> {
        conn.prepare_cached(
            "INSERT INTO updates (channel, event_id, event, occurred_at, received_at, order_id,
                                  external_id, status, payload, via)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            channel,
            incoming.id,
            incoming.event.as_str(),
            incoming.occurred_at,
            received,
            order_id,
            external_id,
            status,
            payload,
            via.as_str()
        ])?;
        Ok(conn.last_insert_rowid())
    };
    if stale {
        let update = insert_update("stale")?;
        return Ok(Ingested::Stored {
            update,
            order: order_id,
            status: "stale",
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

    // What every channel has of this order, for echo suppression.
    let mut known: Vec<(String, Value)> = Vec::new();
    {
        let mut stmt =
            conn.prepare_cached("SELECT channel, body FROM known WHERE order_id = ?1")?;
        let mut rows = stmt.query([order_id])?;
        while let Some(row) = rows.next()? {
            let body: String = row.get(1)?;
            if let Ok(v) = Value::from_json(&body) {
                known.push((row.get(0)?, v));
            }
        }
    }
    let known_refs: Vec<(&str, &Value)> = known.iter().map(|(c, v)| (c.as_str(), v)).collect();
    let update = Update {
        source: channel,
        event: incoming.event,
        order,
        now: *received_at,
    };
    let decided =
        decide(rules, &update, &known_refs).map_err(|e| StoreError::Decide(e.to_string()))?;
    set_known(conn, order_id, channel, &order.to_json())?;
    let status = if decided.ignored {
        "ignored"
    } else {
        "decided"
    };
    let update_id = insert_update(status)?;

    let mut jobs = Vec::new();
    let mut outcomes = Vec::with_capacity(decided.decisions.len());
    for d in &decided.decisions {
        outcomes.push((d.destination.clone(), d.outcome.kind()));
        let mut body = None;
        let mut decided_json = None;
        let mut dest_external = None;
        if let (Outcome::Deliver | Outcome::Draft(_), Some(o)) = (&d.outcome, &d.order) {
            dest_external = conn
                .prepare_cached(
                    "SELECT external_id FROM links WHERE order_id = ?1 AND channel = ?2 ORDER BY rowid LIMIT 1",
                )?
                .query_row(params![order_id, &*d.destination], |r| r.get::<_, String>(0))
                .optional()?;
            // What ordersync creates carries its id, so the echo joins this order.
            let plain = o.to_json();
            body = Some(if dest_external.is_none() {
                identity::with_ordersync_id(o, &order_ref(order_id)).to_json()
            } else {
                plain.clone()
            });
            decided_json = Some(plain);
        }
        conn.prepare_cached(
            "INSERT INTO decisions (update_id, order_id, destination, outcome, detail, rules_version,
                                    body, changes, trace, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            update_id,
            order_id,
            &*d.destination,
            d.outcome.kind(),
            d.outcome.to_string(),
            &*decided.rules_version,
            body,
            to_json(&d.changes),
            to_json(&d.trace),
            received
        ])?;
        let decision_id = conn.last_insert_rowid();
        if d.outcome != Outcome::Deliver {
            continue;
        }
        let body = body.unwrap_or_default();
        set_known(
            conn,
            order_id,
            &d.destination,
            decided_json.as_deref().unwrap_or(&body),
        )?;
        let key = idempotency_key(&order_ref(order_id), &d.destination, decision_id as u64);
        conn.prepare_cached(
            "INSERT INTO deliveries (decision_id, order_id, destination, source, event,
                                     idempotency_key, status, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
        )?
        .execute(params![
            decision_id,
            order_id,
            &*d.destination,
            channel,
            incoming.event.as_str(),
            key,
            received
        ])?;
        jobs.push(Job {
            delivery_id: conn.last_insert_rowid(),
            order_id,
            destination: d.destination.clone(),
            source: decided.source.clone(),
            event: incoming.event,
            rules_version: decided.rules_version.clone(),
            order_json: Arc::from(body),
            external_id: dest_external,
            idempotency_key: Arc::from(key),
            attempts: 0,
            not_before: None,
            received_at: *received_at,
        });
    }
    Ok(Ingested::Stored {
        update: update_id,
        order: order_id,
        status,
        jobs,
        outcomes,
    })
}

fn set_known(conn: &Connection, order_id: i64, channel: &str, body: &str) -> rusqlite::Result<()> {
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
