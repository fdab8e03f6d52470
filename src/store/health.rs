//! Order Health's table (SPEC 6.5), kept by the writer in the same
//! transaction as what it reflects: per order and destination, where the
//! newest decision stands, so the dashboard lists 100,000 orders by status
//! from one index instead of working it out from the history.
//!
//! How a row moves:
//! - a `deliver` decision makes it `pending` (and releases a draft it replaces);
//!   the delivery's outcome then makes it `delivered`, `rejected` or `dead`,
//!   and housekeeping `stuck` while it waits too long;
//! - `draft` and `error` decisions replace whatever was there;
//! - a `skip` replaces only a settled state (`delivered`, `skipped`): "no
//!   change" after a rejected delivery must not hide the rejection;
//! - an outcome of an older delivery than the row's is history, not news.
//!
//! Operators `resolve` a problem (it reopens when it happens again) or
//! `ignore` it (the same kind of problem stays ignored on that row).

use rusqlite::{Connection, params};

use super::DeliveryStatus;
use crate::engine::OutcomeKind;

/// The statuses that need an operator.
pub const PROBLEMS: [&str; 5] = ["rejected", "dead", "error", "draft", "stuck"];

/// What an operator can make of a problem.
pub const RESOLUTIONS: [&str; 2] = ["resolved", "ignored"];

/// Every status a row can have.
pub const STATUSES: [&str; 8] = [
    "rejected",
    "dead",
    "error",
    "draft",
    "stuck",
    "pending",
    "delivered",
    "skipped",
];

/// Where a row stands (`health.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthStatus {
    /// The delivery was refused (4xx).
    Rejected,
    /// The delivery's attempts are used up.
    Dead,
    /// A condition failed.
    Error,
    /// Held: required fields are missing.
    Draft,
    /// The delivery waited too long.
    Stuck,
    /// The delivery is on its way.
    Pending,
    /// Delivered.
    Delivered,
    /// Nothing to send.
    Skipped,
}

impl HealthStatus {
    /// As stored and shown (one of [`STATUSES`]).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Rejected => "rejected",
            HealthStatus::Dead => "dead",
            HealthStatus::Error => "error",
            HealthStatus::Draft => "draft",
            HealthStatus::Stuck => "stuck",
            HealthStatus::Pending => "pending",
            HealthStatus::Delivered => "delivered",
            HealthStatus::Skipped => "skipped",
        }
    }

    /// Where a new decision of `kind` puts its row.
    pub fn of_decision(kind: OutcomeKind) -> HealthStatus {
        match kind {
            OutcomeKind::Deliver => HealthStatus::Pending,
            OutcomeKind::Skip => HealthStatus::Skipped,
            OutcomeKind::Draft => HealthStatus::Draft,
            OutcomeKind::Error => HealthStatus::Error,
        }
    }
}

/// A decision just stored.
pub(super) struct Decided<'a> {
    pub order_id: i64,
    pub destination: &'a str,
    pub source: &'a str,
    pub outcome: OutcomeKind,
    pub decision_id: i64,
    pub delivery_id: Option<i64>,
    pub detail: &'a str,
    pub at: &'a str,
}

/// Updates the row for a new decision.
pub(super) fn on_decision(conn: &Connection, d: &Decided) -> rusqlite::Result<()> {
    let status = HealthStatus::of_decision(d.outcome).as_str();
    // One statement on the hot path: a skip does not replace a problem (the
    // WHERE), an ignored kind of problem stays ignored (the CASE), and the
    // trigger `health_release` releases a draft this replaces.
    conn.prepare_cached(
        "INSERT INTO health (order_id, destination, source, status, decision_id, delivery_id,
                                 detail, resolution, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)
             ON CONFLICT (order_id, destination) DO UPDATE SET
                 source = excluded.source, status = excluded.status,
                 decision_id = excluded.decision_id, delivery_id = excluded.delivery_id,
                 detail = excluded.detail, updated_at = excluded.updated_at,
                 resolution = CASE WHEN health.ignored = excluded.status THEN 'ignored' END
             WHERE excluded.status != 'skipped' OR health.status IN ('delivered', 'skipped')",
    )?
    .execute(params![
        d.order_id,
        d.destination,
        d.source,
        status,
        d.decision_id,
        d.delivery_id,
        d.detail,
        d.at
    ])?;
    Ok(())
}

/// Updates the row for a delivery's new status, if it is the row's delivery.
pub(super) fn on_attempt(
    conn: &Connection,
    order_id: i64,
    destination: &str,
    delivery_id: i64,
    status: DeliveryStatus,
    detail: &str,
    at: &str,
) -> rusqlite::Result<()> {
    // Still pending: the row stays `pending` (or `stuck`); only the detail moves.
    if status == DeliveryStatus::Pending {
        conn.prepare_cached(
            "UPDATE health SET detail = ?4, updated_at = ?5
             WHERE order_id = ?1 AND destination = ?2 AND delivery_id = ?3",
        )?
        .execute(params![order_id, destination, delivery_id, detail, at])?;
    } else {
        conn.prepare_cached(
            "UPDATE health SET status = ?6, detail = ?4, updated_at = ?5,
                 resolution = CASE WHEN ignored = ?6 THEN 'ignored' ELSE NULL END
             WHERE order_id = ?1 AND destination = ?2 AND delivery_id = ?3",
        )?
        .execute(params![
            order_id,
            destination,
            delivery_id,
            detail,
            at,
            status.as_str()
        ])?;
    }
    Ok(())
}

/// Rows whose delivery housekeeping just marked stuck (at `at`).
pub(super) fn on_stuck(conn: &Connection, at: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE health SET status = 'stuck', updated_at = ?1,
             resolution = CASE WHEN ignored = 'stuck' THEN 'ignored' ELSE NULL END
         WHERE status = 'pending'
           AND delivery_id IN (SELECT id FROM deliveries WHERE stuck_at = ?1)",
    )?
    .execute([at])
}

/// `resolve` or `ignore` the problem on one row; false when it has none open.
pub(super) fn set_resolution(
    conn: &Connection,
    order_id: i64,
    destination: &str,
    resolution: &str,
) -> rusqlite::Result<bool> {
    // Ignoring remembers the kind of problem, so it stays ignored when it recurs;
    // resolving forgets it, so a recurrence reopens.
    let ignored = if resolution == "ignored" {
        "status"
    } else {
        "NULL"
    };
    let sql = format!(
        "UPDATE health SET resolution = ?3, ignored = {ignored}
         WHERE order_id = ?1 AND destination = ?2 AND resolution IS DISTINCT FROM ?3
           AND status IN ('rejected', 'dead', 'error', 'draft', 'stuck')"
    );
    let n = conn.execute(&sql, params![order_id, destination, resolution])?;
    Ok(n > 0)
}
