//! Order Health (SPEC 6.5) in the store: the list and one order's timeline
//! (reads, on [`Reader`](super::Reader) connections); what operators do
//! (retry, resolve, ignore, complete a draft, re-sync) is in `actions.rs`,
//! re-exported here.
//!
//! Reads answer typed rows ([`super::rows`]): the admin API serializes them,
//! the dashboard renders the same values, and the CLI reads the API's JSON.

use serde_json::Value as Json;

use super::rows::{
    HealthCounts, HealthRow, LabelMeta, Link, OrderHealth, OrderList, QuarantineList,
    QuarantineRow, Timeline, TimelineDecision, TimelineDelivery, TimelineUpdate, Try,
};

use super::health::{PROBLEMS, RESOLUTIONS, STATUSES};
use super::query::{Arg, Dialect, Query};
use super::{StoreError, order_ref, parse_order_ref};

pub use super::actions::{Done, Owned, Target};

/// What the order list shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// `problems` (default: every open problem), one status, `resolved`,
    /// `ignored`, or `all`.
    pub status: Option<String>,
    /// Orders from or to this channel.
    pub channel: Option<String>,
    /// Text in the order's name, its ids in any channel, or the customer's email;
    /// or `ord_N`.
    pub q: Option<String>,
    /// From 1.
    pub page: u32,
    /// Rows a page (at most 500).
    pub limit: u32,
}

/// Why a filter was refused.
pub fn check_status(status: &str) -> Result<(), String> {
    let known = ["problems", "all"];
    if known.contains(&status) || STATUSES.contains(&status) || RESOLUTIONS.contains(&status) {
        Ok(())
    } else {
        Err(format!(
            "unknown status `{status}`; use problems, all, resolved, ignored, or one of {}",
            STATUSES.join(", ")
        ))
    }
}

/// The rows of Order Health matching `f`, newest first, with counts per
/// status and per channel of open problems.
pub(super) async fn list(q: &impl Query, f: &ListFilter) -> Result<OrderList, StoreError> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    // The next parameter, as `$N`.
    let bind = |args: &mut Vec<Arg>, a: Arg| {
        args.push(a);
        format!("${}", args.len())
    };
    let problems = PROBLEMS.map(|p| format!("'{p}'")).join(", ");
    match f.status.as_deref().unwrap_or("problems") {
        "problems" => clauses.push(format!("h.status IN ({problems}) AND h.resolution IS NULL")),
        "all" => {}
        r @ ("resolved" | "ignored") => {
            let p = bind(&mut args, Arg::Text(r.into()));
            clauses.push(format!("h.resolution = {p}"));
        }
        s if PROBLEMS.contains(&s) => {
            let p = bind(&mut args, Arg::Text(s.into()));
            clauses.push(format!("h.status = {p} AND h.resolution IS NULL"));
        }
        s => {
            let p = bind(&mut args, Arg::Text(s.into()));
            clauses.push(format!("h.status = {p}"));
        }
    }
    if let Some(ch) = f.channel.as_deref().filter(|c| !c.is_empty()) {
        let p = bind(&mut args, Arg::Text(ch.into()));
        clauses.push(format!("(h.destination = {p} OR h.source = {p})"));
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        match parse_order_ref(text) {
            Some(id) => {
                let p = bind(&mut args, Arg::Int(id));
                clauses.push(format!("h.order_id = {p}"));
            }
            None => {
                let escaped = text
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = bind(&mut args, Arg::Text(format!("%{escaped}%")));
                clauses.push(format!(
                    "h.order_id IN (SELECT id FROM orders WHERE search LIKE {p} ESCAPE '\\')"
                ));
            }
        }
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = f.limit.clamp(1, 500);
    let page = f.page.max(1);
    let counts = Counts::read(q).await?;
    // Filtered by status alone, the total is in the counts; otherwise the
    // page query counts its matches in the same pass.
    let searched = f.channel.as_deref().is_some_and(|c| !c.is_empty())
        || f.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    // By a status, newest change first (its index holds that order); every
    // status at once, newest order first (the table's own order): no index
    // on the time alone, which each webhook would pay to keep.
    let order = if clauses.is_empty() {
        "h.order_id DESC, h.destination"
    } else {
        "h.updated_at DESC, h.order_id DESC, h.destination"
    };
    let mut page_args = args.clone();
    let limit_p = bind(&mut page_args, Arg::Int(limit as i64));
    let offset_p = bind(&mut page_args, Arg::Int(((page - 1) * limit) as i64));
    let sql = format!(
        "SELECT h.order_id, o.name, o.source, h.destination, h.status, h.detail, h.resolution,
                h.updated_at, h.decision_id, h.delivery_id, {}
         FROM health h JOIN orders o ON o.id = h.order_id {filter}
         ORDER BY {order} LIMIT {limit_p} OFFSET {offset_p}",
        if searched { "count(*) OVER ()" } else { "0" }
    );
    let mut matched = None;
    let rows = q
        .rows(&sql, &page_args, |r| {
            matched = Some(r.get::<i64>(10)?);
            Ok(HealthRow {
                order: order_ref(r.get(0)?),
                name: r.get(1)?,
                source: r.get(2)?,
                destination: r.get(3)?,
                status: r.get(4)?,
                detail: r.get(5)?,
                resolution: r.get(6)?,
                updated_at: r.get(7)?,
                decision: r.get(8)?,
                delivery: r.get(9)?,
            })
        })
        .await?;
    let total = match (searched, matched) {
        (false, _) => counts.total(f.status.as_deref().unwrap_or("problems")),
        (true, Some(n)) => n,
        // A page past the end: count the matches on their own.
        (true, None) => q
            .row(
                &format!(
                    "SELECT count(*) FROM health h JOIN orders o ON o.id = h.order_id {filter}"
                ),
                &args,
                |r| r.get(0),
            )
            .await?
            .unwrap_or(0),
    };
    Ok(OrderList {
        rows,
        total,
        page,
        limit,
        counts: counts.by_status(),
    })
}

/// `health_counts`: rows per destination, status and resolution ('' when open).
struct Counts(Vec<(String, String, String, i64)>);

impl Counts {
    /// SQLite keeps the counts in a table its triggers update; PostgreSQL
    /// counts its index (a counts row would be one every writer of every
    /// daemon queues on).
    async fn read(q: &impl Query) -> Result<Counts, StoreError> {
        let sql = match q.dialect() {
            Dialect::Sqlite => {
                "SELECT destination, status, resolution, n FROM health_counts WHERE n > 0
                 ORDER BY destination"
            }
            Dialect::Postgres => {
                "SELECT destination, status, coalesce(resolution, ''), count(*) FROM health
                 GROUP BY 1, 2, 3 ORDER BY 1"
            }
        };
        let rows = q
            .rows(sql, &[], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .await?;
        Ok(Counts(rows))
    }

    fn sum(&self, keep: impl Fn(&str, &str) -> bool) -> i64 {
        self.0
            .iter()
            .filter(|(_, s, r, _)| keep(s, r))
            .map(|(.., n)| n)
            .sum()
    }

    /// How many rows a status filter matches.
    fn total(&self, status: &str) -> i64 {
        match status {
            "all" => self.sum(|_, _| true),
            "problems" => self.sum(|s, r| r.is_empty() && PROBLEMS.contains(&s)),
            "resolved" | "ignored" => self.sum(|_, r| r == status),
            s if PROBLEMS.contains(&s) => self.sum(|st, r| st == s && r.is_empty()),
            s => self.sum(|st, _| st == s),
        }
    }

    /// Open rows per status, resolved and ignored ones, and open problems per destination.
    fn by_status(&self) -> HealthCounts {
        let mut counts = HealthCounts::default();
        for s in STATUSES {
            let n = self.sum(|st, r| st == s && r.is_empty());
            counts.status.insert(s.to_string(), n);
        }
        for r in RESOLUTIONS {
            counts
                .status
                .insert(r.to_string(), self.sum(|_, res| res == r));
        }
        for (dest, status, resolution, n) in &self.0 {
            if resolution.is_empty() && PROBLEMS.contains(&status.as_str()) {
                *counts
                    .problems_by_destination
                    .entry(dest.clone())
                    .or_insert(0) += n;
            }
        }
        counts
    }
}

/// One order's timeline: every update received (with its raw payload), each
/// decision with its trace and rules version, each delivery with the request
/// it sends and every attempt's response. `None` if there is no such order.
pub(super) async fn timeline(
    q: &impl Query,
    order_id: i64,
) -> Result<Option<Timeline>, StoreError> {
    let id = [Arg::Int(order_id)];
    let order = q
        .row(
            "SELECT created_at, name, source, updated_at FROM orders WHERE id = $1",
            &id,
            |r| {
                Ok(Timeline {
                    id: order_ref(order_id),
                    created_at: r.get(0)?,
                    name: r.get(1)?,
                    source: r.get(2)?,
                    updated_at: r.get(3)?,
                    links: Vec::new(),
                    health: Vec::new(),
                    updates: Vec::new(),
                })
            },
        )
        .await?;
    let Some(mut order) = order else {
        return Ok(None);
    };
    // The order links were made in: SQLite's rowid, PostgreSQL's identity.
    let links = match q.dialect() {
        Dialect::Sqlite => {
            "SELECT channel, external_id FROM links WHERE order_id = $1 ORDER BY rowid"
        }
        Dialect::Postgres => {
            "SELECT channel, external_id FROM links WHERE order_id = $1 ORDER BY id"
        }
    };
    order.links = q
        .rows(links, &id, |r| {
            Ok(Link {
                channel: r.get(0)?,
                external_id: r.get(1)?,
            })
        })
        .await?;
    order.health = q
        .rows(
            "SELECT destination, source, status, detail, resolution, decision_id, delivery_id, updated_at
             FROM health WHERE order_id = $1 ORDER BY destination",
            &id,
            |r| {
                Ok(OrderHealth {
                    destination: r.get(0)?,
                    source: r.get(1)?,
                    status: r.get(2)?,
                    detail: r.get(3)?,
                    resolution: r.get(4)?,
                    decision: r.get(5)?,
                    delivery: r.get(6)?,
                    updated_at: r.get(7)?,
                })
            },
        )
        .await?;
    order.updates = q
        .rows(
            "SELECT id, channel, event_id, event, via, received_at, status, payload, pruned_at
             FROM updates WHERE order_id = $1 ORDER BY id",
            &id,
            |r| {
                let payload: Vec<u8> = r.get(7)?;
                let pruned: Option<String> = r.get(8)?;
                Ok(TimelineUpdate {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    event_id: r.get(2)?,
                    event: r.get(3)?,
                    via: r.get(4)?,
                    received_at: r.get(5)?,
                    status: r.get(6)?,
                    payload: match pruned {
                        Some(_) => None,
                        None => Some(String::from_utf8_lossy(&payload).into_owned()),
                    },
                    pruned_at: pruned,
                    decisions: Vec::new(),
                })
            },
        )
        .await?;
    for update in &mut order.updates {
        update.decisions = decisions_of(q, update.id).await?;
    }
    Ok(Some(order))
}

async fn decisions_of(q: &impl Query, update_id: i64) -> Result<Vec<TimelineDecision>, StoreError> {
    let parse = |s: String| serde_json::from_str::<Json>(&s).unwrap_or(Json::Null);
    let rows = q
        .rows(
            "SELECT c.id, c.destination, c.outcome, c.detail, c.why, c.rules_version, c.trigger,
                    c.changes, c.trace, c.decided_at, c.released_at, c.body,
                    d.id, d.status, d.attempts, d.idempotency_key, d.stuck_at, d.source, d.event
             FROM decisions c LEFT JOIN deliveries d ON d.decision_id = c.id
             WHERE c.update_id = $1 ORDER BY c.id",
            &[Arg::Int(update_id)],
            |r| {
                let body: Option<String> = r.get(11)?;
                let decision = TimelineDecision {
                    id: r.get(0)?,
                    destination: r.get(1)?,
                    outcome: r.get(2)?,
                    detail: r.get(3)?,
                    why: r.get(4)?,
                    rules_version: r.get(5)?,
                    trigger: r.get(6)?,
                    changes: parse(r.get(7)?),
                    trace: parse(r.get(8)?),
                    decided_at: r.get(9)?,
                    released_at: r.get(10)?,
                    order: body.map(parse),
                    delivery: None,
                };
                let delivery = match r.get::<Option<i64>>(12)? {
                    Some(id) => Some(TimelineDelivery {
                        id,
                        status: r.get(13)?,
                        attempts: r.get(14)?,
                        idempotency_key: r.get(15)?,
                        stuck_at: r.get(16)?,
                        source: r.get(17)?,
                        event: r.get(18)?,
                        first_external_id: None,
                        tries: Vec::new(),
                        label: None,
                    }),
                    None => None,
                };
                Ok((decision, delivery))
            },
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (mut decision, delivery) in rows {
        if let Some(mut delivery) = delivery {
            delivery.tries = attempts_of(q, delivery.id).await?;
            delivery.first_external_id = delivery.tries.first().and_then(|a| a.external_id.clone());
            delivery.label = label_meta(q, delivery.id).await?;
            decision.delivery = Some(delivery);
        }
        out.push(decision);
    }
    Ok(out)
}

/// The label a delivery sent (SPEC 13), without its bytes: where to get them.
async fn label_meta(q: &impl Query, delivery_id: i64) -> Result<Option<LabelMeta>, StoreError> {
    q.row(
        "SELECT format, content_type, filename, length(bytes) FROM labels WHERE delivery_id = $1",
        &[Arg::Int(delivery_id)],
        |r| {
            Ok(LabelMeta {
                format: r.get(0)?,
                content_type: r.get(1)?,
                filename: r.get(2)?,
                bytes: r.get(3)?,
                href: format!("/api/deliveries/{delivery_id}/label"),
            })
        },
    )
    .await
}

async fn attempts_of(q: &impl Query, delivery_id: i64) -> Result<Vec<Try>, StoreError> {
    q.rows(
        "SELECT at, http_status, error, response, duration_ms, external_id, step, request
         FROM attempts WHERE delivery_id = $1 ORDER BY id",
        &[Arg::Int(delivery_id)],
        |r| {
            let response: Option<Vec<u8>> = r.get(3)?;
            let request: Option<String> = r.get(7)?;
            Ok(Try {
                at: r.get(0)?,
                http_status: r.get(1)?,
                error: r.get(2)?,
                response: response.map(|b| String::from_utf8_lossy(&b).into_owned()),
                duration_ms: r.get(4)?,
                external_id: r.get(5)?,
                step: r.get(6)?,
                request: request
                    .map(|t| serde_json::from_str::<Json>(&t).unwrap_or(Json::String(t))),
            })
        },
    )
    .await
}

/// The webhook bodies that could not be read, newest first.
pub(super) async fn quarantine(q: &impl Query, limit: u32) -> Result<QuarantineList, StoreError> {
    let rows = q
        .rows(
            "SELECT id, channel, received_at, reason, headers, body FROM quarantine
             ORDER BY id DESC LIMIT $1",
            &[Arg::Int(limit.clamp(1, 500).into())],
            |r| {
                let headers: String = r.get(4)?;
                let body: Vec<u8> = r.get(5)?;
                Ok(QuarantineRow {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    received_at: r.get(2)?,
                    reason: r.get(3)?,
                    headers: serde_json::from_str::<Json>(&headers).unwrap_or(Json::Null),
                    body: String::from_utf8_lossy(&body).into_owned(),
                })
            },
        )
        .await?;
    Ok(QuarantineList { rows })
}
