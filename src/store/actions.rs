//! What operators do to orders (SPEC 6.5): retry, resolve, ignore, complete a
//! draft, re-sync. Writes inside the store's transaction (the
//! [`Writer`](super::Writer) methods of the same names), written once for
//! both stores against [`Statements`].

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value as Json, json};

use super::ingest::{self, Context, Recorded};
use super::statements::{DraftRow, Statements, UpdateRow};
use super::{Decide, Draft, Job, StoreError, StoredPayload, order_ref, stamp};
use crate::engine::OutcomeKind;
use crate::order::Event;
use crate::rules::RuleSet;
use crate::value::Value;

/// What an operator's action came to: its answer, and deliveries to hand over.
#[derive(Debug, Default)]
pub struct Done {
    /// The answer, as JSON.
    pub answer: Json,
    /// New or retried deliveries, handed to the dispatcher after the commit.
    pub jobs: Vec<Job>,
}

fn not_found(what: String) -> StoreError {
    StoreError::NotFound(what)
}

async fn delivery_row<S: Statements>(
    db: &mut S,
    id: i64,
) -> Result<(i64, String, String), StoreError> {
    db.delivery_row(id)
        .await?
        .ok_or_else(|| not_found(format!("no delivery {id}")))
}

/// Sends a rejected or dead delivery again, with a fresh set of attempts and
/// the same idempotency key. Only the newest delivery of its order and
/// destination: an older one would overwrite a newer state.
pub(super) async fn retry<S: Statements>(db: &mut S, id: i64) -> Result<Done, StoreError> {
    let (order_id, destination, status) = delivery_row(db, id).await?;
    db.hold_order(order_id).await?;
    if !matches!(status.as_str(), "rejected" | "dead") {
        return Err(StoreError::Conflict(format!(
            "delivery {id} is {status}; only rejected or dead deliveries are retried"
        )));
    }
    if let Some(newest) = db.health_delivery(order_id, &destination).await?
        && newest != id
    {
        return Err(StoreError::Conflict(format!(
            "delivery {id} was superseded by delivery {newest} to {destination}; re-sync {} to send its newest state",
            order_ref(order_id)
        )));
    }
    let now = stamp(Utc::now());
    db.reset_for_retry(id, order_id, &destination, &now).await?;
    let jobs = db.job(id).await?.into_iter().collect();
    Ok(Done {
        answer: json!({ "delivery": id, "status": "pending" }),
        jobs,
    })
}

/// The problem a delivery or a decision stands for: `resolved` or `ignored`.
pub(super) async fn resolve<S: Statements>(
    db: &mut S,
    what: Target,
    id: i64,
    resolution: &str,
) -> Result<Done, StoreError> {
    let (order_id, destination) = match what {
        Target::Delivery => {
            let (o, d, _) = delivery_row(db, id).await?;
            (o, d)
        }
        Target::Decision => db
            .decision_target(id)
            .await?
            .ok_or_else(|| not_found(format!("no decision {id}")))?,
    };
    db.hold_order(order_id).await?;
    if !db
        .set_resolution(order_id, &destination, resolution)
        .await?
    {
        return Err(StoreError::Conflict(format!(
            "{} has no open problem at {destination}",
            order_ref(order_id)
        )));
    }
    Ok(Done {
        answer: json!({ "order": order_ref(order_id), "destination": destination, "resolution": resolution }),
        jobs: Vec::new(),
    })
}

/// What `resolve` acts on.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// A delivery id (rejected, dead, stuck).
    Delivery,
    /// A decision id (error, draft).
    Decision,
}

/// Fills a draft's missing fields and delivers it, if nothing required is
/// still empty under the current rules.
pub(super) async fn complete_draft<S: Statements>(
    db: &mut S,
    decide: &dyn Decide,
    rules: &RuleSet,
    id: i64,
    set: &[(String, Value)],
) -> Result<Done, StoreError> {
    let DraftRow {
        order_id,
        update_id,
        destination,
        outcome,
        body,
        released,
        source,
        event,
    } = db
        .draft_row(id)
        .await?
        .ok_or_else(|| not_found(format!("no draft {id}")))?;
    db.hold_order(order_id).await?;
    if OutcomeKind::parse(&outcome) != Some(OutcomeKind::Draft) {
        return Err(StoreError::Conflict(format!(
            "decision {id} is not a draft"
        )));
    }
    if released.is_some() {
        return Err(StoreError::Conflict(format!(
            "draft {id} was already released"
        )));
    }
    let order = body
        .as_deref()
        .and_then(|b| Value::from_json(b).ok())
        .ok_or_else(|| StoreError::Conflict(format!("draft {id} has no order to complete")))?;
    let event: Event = event.parse().map_err(|e: String| StoreError::Conflict(e))?;
    let draft = Draft {
        id,
        destination: &destination,
        source: &source,
        event,
        order,
    };
    let explained = decide.complete(rules, draft, set)?;
    let now = Utc::now();
    let at = stamp(now);
    let mut out = Recorded::default();
    ingest::record_decisions(
        db,
        &Context {
            order_id,
            update_id,
            at: &at,
            received_at: now,
            trigger: "draft",
        },
        &explained,
        &mut out,
    )
    .await?;
    let (Some(decision_id), Some(job)) = (out.decisions.first(), out.jobs.first()) else {
        return Err(StoreError::Conflict(format!(
            "draft {id} was not delivered"
        )));
    };
    Ok(Done {
        answer: json!({
            "draft": id, "decision": decision_id, "delivery": job.delivery_id, "status": "pending",
        }),
        jobs: out.jobs,
    })
}

/// Decides the order's newest update again with the rules in force and
/// delivers every `deliver`, even when the destination already has it.
pub(super) async fn resync<S: Statements>(
    db: &mut S,
    decide: &dyn Decide,
    rules: &RuleSet,
    order_id: i64,
) -> Result<Done, StoreError> {
    let UpdateRow {
        update_id,
        channel,
        event_id,
        payload,
        topic,
        via,
        pruned,
    } = db
        .newest_update(order_id)
        .await?
        .ok_or_else(|| not_found(format!("no order {}", order_ref(order_id))))?;
    db.hold_order(order_id).await?;
    if pruned.is_some() {
        return Err(StoreError::Conflict(format!(
            "update {update_id}'s payload was pruned by retention"
        )));
    }
    let now = Utc::now();
    let stored = StoredPayload {
        update_id,
        channel: &channel,
        event_id: &event_id,
        payload: &payload,
        topic: topic.as_deref(),
        polled: via == "poll",
    };
    let explained = decide.resync(rules, stored, now)?;
    let at = stamp(now);
    let mut out = Recorded::default();
    ingest::record_decisions(
        db,
        &Context {
            order_id,
            update_id,
            at: &at,
            received_at: now,
            trigger: "resync",
        },
        &explained,
        &mut out,
    )
    .await?;
    let decided = explained.decided();
    let decisions: Vec<Json> = decided
        .decisions
        .iter()
        .map(|d| json!({"destination": &*d.destination, "outcome": d.outcome.to_string()}))
        .collect();
    Ok(Done {
        answer: json!({
            "order": order_ref(order_id),
            "update": update_id,
            "rules_version": &*rules.version,
            "decisions": decisions,
        }),
        jobs: out.jobs,
    })
}

/// What an operator's action names: a delivery or a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owned {
    /// A row of `deliveries`.
    Delivery,
    /// A row of `decisions`.
    Decision,
}

/// The order a delivery or decision belongs to, as `ord_<id>`.
pub(super) fn owner(conn: &Connection, what: Owned, id: i64) -> rusqlite::Result<Option<String>> {
    let sql = match what {
        Owned::Delivery => "SELECT order_id FROM deliveries WHERE id = ?1",
        Owned::Decision => "SELECT order_id FROM decisions WHERE id = ?1",
    };
    conn.prepare_cached(sql)?
        .query_row([id], |r| r.get::<_, i64>(0))
        .optional()
        .map(|o| o.map(order_ref))
}
