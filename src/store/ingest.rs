//! One update into the store (SPEC 5 steps 1-4), inside its transaction:
//! the logic, written once against [`Statements`] for both stores.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::health::Decided;
use super::statements::{NewDecision, NewDeliveryRow, NewUpdate, OrderNote, Statements};
use super::{
    Decide, Explained, IngestRequest, Job, StoreError, UpdateStatus, idempotency_key, order_ref,
    parse_order_ref, stamp,
};
use crate::engine::{Outcome, Update};
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

pub(super) async fn ingest<S: Statements>(
    db: &mut S,
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
    if db.seen(channel, &incoming.id).await? {
        return Ok(Ingested::Duplicate);
    }
    let order = &incoming.order;
    let external_id = order.get("id").and_then(id_text);
    let received = stamp(*received_at);

    // Find the order: by its link, by the ordersync id it carries back, or new.
    let mut link = None;
    if let Some(ext) = &external_id {
        link = db.linked_order(channel, ext).await?;
    }
    // A new link is when the order gets a new name to be found by.
    let linked_now = link.is_none();
    let (order_id, newest) = match link {
        Some(found) => found,
        None => {
            let tagged = match identity::ordersync_id(order).and_then(parse_order_ref) {
                Some(id) if db.hold_order(id).await? => Some(id),
                _ => None,
            };
            let id = match tagged {
                Some(id) => id,
                None => db.new_order(&received).await?,
            };
            if let Some(ext) = &external_id {
                db.add_link(channel, ext, id).await?;
            }
            (id, None)
        }
    };

    let updated_at = order.get("updated_at").and_then(Value::as_str);
    let stale = identity::is_stale(newest.as_deref(), updated_at);
    let new_update = |status: UpdateStatus| NewUpdate {
        channel,
        event_id: &incoming.id,
        event: incoming.event,
        occurred_at: incoming.occurred_at.as_deref(),
        received_at: &received,
        order_id,
        external_id: external_id.as_deref(),
        status: status.as_str(),
        payload,
        via: via.as_str(),
        topic: topic.as_deref(),
    };
    if stale {
        let update = db.insert_update(&new_update(UpdateStatus::Stale)).await?;
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
        db.set_newest(channel, ext, at).await?;
    }

    // What ordersync holds of this order; the pure step decides on it.
    let state = db.state_of(order_id).await?;
    let update = Update {
        source: channel,
        event: incoming.event,
        order,
        now: *received_at,
    };
    let step = decide.step(rules, &state, &update)?;
    db.set_known(order_id, channel, &order.to_json()).await?;
    if linked_now {
        let words = search_words(order, external_id.as_deref());
        db.note_order(&OrderNote {
            order_id,
            at: &received,
            name: order.get("name").and_then(Value::as_str),
            source: channel,
            words: &words,
        })
        .await?;
    }
    let status = if step.decided.decided().ignored {
        UpdateStatus::Ignored
    } else {
        UpdateStatus::Decided
    };
    let update_id = db.insert_update(&new_update(status)).await?;
    let mut out = Recorded::default();
    let cx = Context {
        order_id,
        update_id,
        at: &received,
        received_at: *received_at,
        trigger: "update",
    };
    record_decisions(db, &cx, &step.decided, &mut out).await?;
    for released in &step.released {
        let cx = Context {
            trigger: "draft",
            ..cx
        };
        record_decisions(db, &cx, released, &mut out).await?;
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

/// The words an order is searched by, from a new link: its name, the
/// channel's id for it and the customer's email, lower case.
fn search_words(order: &Value, external_id: Option<&str>) -> String {
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
    words.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Stores one decision per destination, the deliveries of `deliver` ones,
/// and their Order Health rows.
pub(super) async fn record_decisions<S: Statements>(
    db: &mut S,
    cx: &Context<'_>,
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
            dest_external = db.destination_id(order_id, &d.destination).await?;
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
        let decision_id = db
            .insert_decision(&NewDecision {
                update_id: cx.update_id,
                order_id,
                destination: &d.destination,
                outcome: d.outcome.kind().as_str(),
                detail: &detail,
                rules_version: &decided.rules_version,
                body: body.as_deref(),
                changes: &to_json(&d.changes),
                trace: &to_json(&d.trace),
                decided_at: cx.at,
                why,
                trigger: cx.trigger,
            })
            .await?;
        out.decisions.push(decision_id);
        let mut delivery_id = None;
        if d.outcome == Outcome::Deliver {
            let body = body.unwrap_or_default();
            db.set_known(
                order_id,
                &d.destination,
                decided_json.as_deref().unwrap_or(&body),
            )
            .await?;
            let key = idempotency_key(&order_ref(order_id), &d.destination, decision_id as u64);
            let id = db
                .insert_delivery(&NewDeliveryRow {
                    decision_id,
                    order_id,
                    destination: &d.destination,
                    source: &decided.source,
                    event: decided.event,
                    idempotency_key: &key,
                    at: cx.at,
                })
                .await?;
            delivery_id = Some(id);
            out.jobs.push(Job {
                delivery_id: id,
                order_id,
                destination: d.destination.clone(),
                source: decided.source.clone(),
                event: decided.event,
                rules_version: decided.rules_version.clone(),
                order_json: Arc::from(body),
                external_id: dest_external,
                idempotency_key: Arc::from(key),
                attempts: 0,
                not_before: None,
                received_at: cx.received_at,
                sent: false,
                rendered: None,
            });
        }
        db.on_decision(&Decided {
            order_id,
            destination: &d.destination,
            source: channel,
            outcome: d.outcome.kind(),
            decision_id,
            delivery_id,
            detail: &detail,
            at: cx.at,
        })
        .await?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Traces and changes are plain data: they always serialize.
    serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
