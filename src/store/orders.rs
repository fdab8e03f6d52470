//! Order Health (SPEC 6.5) in the store: the list and one order's timeline
//! (reads, on [`Reader`](super::Reader) connections); what operators do
//! (retry, resolve, ignore, complete a draft, re-sync) is in `actions.rs`,
//! re-exported here.
//!
//! Reads answer typed rows ([`super::rows`]): the admin API serializes them,
//! the dashboard renders the same values, and the CLI reads the API's JSON.

use rusqlite::{Connection, OptionalExtension, types::Value as Sql};
use serde_json::Value as Json;

use super::rows::{
    HealthCounts, HealthRow, LabelMeta, Link, OrderHealth, OrderList, QuarantineList,
    QuarantineRow, Timeline, TimelineDecision, TimelineDelivery, TimelineUpdate, Try,
};

use super::health::{PROBLEMS, RESOLUTIONS, STATUSES};
use super::{order_ref, parse_order_ref};

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
pub(super) fn list(conn: &Connection, f: &ListFilter) -> rusqlite::Result<OrderList> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Sql> = Vec::new();
    let problems = PROBLEMS.map(|p| format!("'{p}'")).join(", ");
    match f.status.as_deref().unwrap_or("problems") {
        "problems" => clauses.push(format!("h.status IN ({problems}) AND h.resolution IS NULL")),
        "all" => {}
        r @ ("resolved" | "ignored") => {
            clauses.push("h.resolution = ?".into());
            args.push(Sql::Text(r.into()));
        }
        s if PROBLEMS.contains(&s) => {
            clauses.push("h.status = ? AND h.resolution IS NULL".into());
            args.push(Sql::Text(s.into()));
        }
        s => {
            clauses.push("h.status = ?".into());
            args.push(Sql::Text(s.into()));
        }
    }
    if let Some(ch) = f.channel.as_deref().filter(|c| !c.is_empty()) {
        clauses.push("(h.destination = ? OR h.source = ?)".into());
        args.push(Sql::Text(ch.into()));
        args.push(Sql::Text(ch.into()));
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        match parse_order_ref(q) {
            Some(id) => {
                clauses.push("h.order_id = ?".into());
                args.push(Sql::Integer(id));
            }
            None => {
                let escaped = q
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                clauses.push(
                    "h.order_id IN (SELECT id FROM orders WHERE search LIKE ? ESCAPE '\\')".into(),
                );
                args.push(Sql::Text(format!("%{escaped}%")));
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
    let counts = Counts::read(conn)?;
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
        "h.updated_at DESC, h.order_id DESC"
    };
    let mut page_args = args.clone();
    page_args.push(Sql::Integer(limit as i64));
    page_args.push(Sql::Integer(((page - 1) * limit) as i64));
    let mut stmt = conn.prepare(&format!(
        "SELECT h.order_id, o.name, o.source, h.destination, h.status, h.detail, h.resolution,
                h.updated_at, h.decision_id, h.delivery_id, {}
         FROM health h JOIN orders o ON o.id = h.order_id {filter}
         ORDER BY {order} LIMIT ? OFFSET ?",
        if searched { "count(*) OVER ()" } else { "0" }
    ))?;
    let mut matched = None;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(page_args.iter()), |r| {
            matched = Some(r.get::<_, i64>(10)?);
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
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let total = match (searched, matched) {
        (false, _) => counts.total(f.status.as_deref().unwrap_or("problems")),
        (true, Some(n)) => n,
        // A page past the end: count the matches on their own.
        (true, None) => conn.query_row(
            &format!("SELECT count(*) FROM health h JOIN orders o ON o.id = h.order_id {filter}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?,
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
    fn read(conn: &Connection) -> rusqlite::Result<Counts> {
        let rows = conn
            .prepare_cached(
                "SELECT destination, status, resolution, n FROM health_counts WHERE n > 0
                 ORDER BY destination",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
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
pub(super) fn timeline(conn: &Connection, order_id: i64) -> rusqlite::Result<Option<Timeline>> {
    let order = conn
        .query_row(
            "SELECT created_at, name, source, updated_at FROM orders WHERE id = ?1",
            [order_id],
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
        .optional()?;
    let Some(mut order) = order else {
        return Ok(None);
    };
    order.links = conn
        .prepare("SELECT channel, external_id FROM links WHERE order_id = ?1 ORDER BY rowid")?
        .query_map([order_id], |r| {
            Ok(Link {
                channel: r.get(0)?,
                external_id: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    order.health = conn
        .prepare(
            "SELECT destination, source, status, detail, resolution, decision_id, delivery_id, updated_at
             FROM health WHERE order_id = ?1 ORDER BY destination",
        )?
        .query_map([order_id], |r| {
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
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT id, channel, event_id, event, via, received_at, status, payload, pruned_at
         FROM updates WHERE order_id = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([order_id])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let payload: Vec<u8> = r.get(7)?;
        let pruned: Option<String> = r.get(8)?;
        order.updates.push(TimelineUpdate {
            id,
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
            decisions: decisions_of(conn, id)?,
        });
    }
    Ok(Some(order))
}

fn decisions_of(conn: &Connection, update_id: i64) -> rusqlite::Result<Vec<TimelineDecision>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.destination, c.outcome, c.detail, c.why, c.rules_version, c.trigger,
                c.changes, c.trace, c.decided_at, c.released_at, c.body,
                d.id, d.status, d.attempts, d.idempotency_key, d.stuck_at, d.source, d.event
         FROM decisions c LEFT JOIN deliveries d ON d.decision_id = c.id
         WHERE c.update_id = ?1 ORDER BY c.id",
    )?;
    let mut rows = stmt.query([update_id])?;
    while let Some(r) = rows.next()? {
        let parse = |s: String| serde_json::from_str::<Json>(&s).unwrap_or(Json::Null);
        let body: Option<String> = r.get(11)?;
        let mut decision = TimelineDecision {
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
        if let Some(delivery_id) = r.get::<_, Option<i64>>(12)? {
            let tries = attempts_of(conn, delivery_id)?;
            let first_external_id = tries.first().and_then(|a| a.external_id.clone());
            decision.delivery = Some(TimelineDelivery {
                id: delivery_id,
                status: r.get(13)?,
                attempts: r.get(14)?,
                idempotency_key: r.get(15)?,
                stuck_at: r.get(16)?,
                source: r.get(17)?,
                event: r.get(18)?,
                first_external_id,
                tries,
                label: label_meta(conn, delivery_id)?,
            });
        }
        out.push(decision);
    }
    Ok(out)
}

/// The label a delivery sent (SPEC 13), without its bytes: where to get them.
fn label_meta(conn: &Connection, delivery_id: i64) -> rusqlite::Result<Option<LabelMeta>> {
    conn.prepare_cached(
        "SELECT format, content_type, filename, length(bytes) FROM labels WHERE delivery_id = ?1",
    )?
    .query_row([delivery_id], |r| {
        Ok(LabelMeta {
            format: r.get(0)?,
            content_type: r.get(1)?,
            filename: r.get(2)?,
            bytes: r.get(3)?,
            href: format!("/api/deliveries/{delivery_id}/label"),
        })
    })
    .optional()
}

fn attempts_of(conn: &Connection, delivery_id: i64) -> rusqlite::Result<Vec<Try>> {
    conn.prepare_cached(
        "SELECT at, http_status, error, response, duration_ms, external_id, step, request
         FROM attempts WHERE delivery_id = ?1 ORDER BY id",
    )?
    .query_map([delivery_id], |r| {
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
            request: request.map(|t| serde_json::from_str::<Json>(&t).unwrap_or(Json::String(t))),
        })
    })?
    .collect()
}

/// The webhook bodies that could not be read, newest first.
pub(super) fn quarantine(conn: &Connection, limit: u32) -> rusqlite::Result<QuarantineList> {
    let rows = conn
        .prepare(
            "SELECT id, channel, received_at, reason, headers, body FROM quarantine
             ORDER BY id DESC LIMIT ?1",
        )?
        .query_map([limit.clamp(1, 500)], |r| {
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
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QuarantineList { rows })
}
