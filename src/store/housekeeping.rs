//! Housekeeping, inside the writer's transaction: marks deliveries that made no
//! progress for too long as stuck, and after the retention period drops what
//! is no longer needed to explain or redo an order.
//!
//! Each pass does a bounded amount of work (`batch` rows per kind) so the
//! writer's transaction stays short and webhooks are not held up; the caller
//! runs passes until one reports nothing more to do.
//!
//! What retention keeps: every row that a duplicate check or the timeline
//! needs (updates keep their id, event and status; deliveries their outcome),
//! every update that still has an open problem (a draft, an error, a delivery
//! not delivered), and each order's newest update whole, so an old order can
//! still be re-synced. What it drops: the raw payload of older, settled
//! updates, and the attempts of delivered deliveries.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::stamp;

/// One pass's parameters.
#[derive(Clone, Debug)]
pub struct Housekeeping {
    /// Now.
    pub now: DateTime<Utc>,
    /// Pending deliveries decided before this are marked stuck.
    pub stuck_before: DateTime<Utc>,
    /// Settled updates and delivered attempts older than this are pruned.
    pub retain_after: DateTime<Utc>,
    /// The most rows of each kind to touch in this pass.
    pub batch: usize,
    /// Run `PRAGMA optimize` instead (kept statistics fresh for the query planner).
    pub optimize: bool,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Deliveries newly marked stuck.
    pub stuck: usize,
    /// Attempts deleted.
    pub attempts: usize,
    /// Update payloads dropped.
    pub payloads: usize,
    /// A kind hit its batch limit: run another pass.
    pub more: bool,
}

pub(super) fn run(conn: &Connection, h: &Housekeeping) -> rusqlite::Result<Pruned> {
    if h.optimize {
        conn.execute_batch("PRAGMA optimize")?;
        return Ok(Pruned::default());
    }
    let now = stamp(h.now);
    let batch = h.batch as i64;
    let stuck = conn
        .prepare_cached(
            "UPDATE deliveries SET stuck_at = ?1 WHERE id IN (
                 SELECT d.id FROM deliveries d JOIN decisions c ON c.id = d.decision_id
                 WHERE d.status = 'pending' AND d.stuck_at IS NULL AND c.decided_at < ?2
                 LIMIT ?3)",
        )?
        .execute(params![now, stamp(h.stuck_before), batch])?;
    if stuck > 0 {
        super::health::on_stuck(conn, &now)?;
    }
    let cutoff = stamp(h.retain_after);
    let attempts = conn
        .prepare_cached(
            "DELETE FROM attempts WHERE id IN (
                 SELECT a.id FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
                 WHERE d.status = 'delivered' AND a.at < ?1 ORDER BY a.id LIMIT ?2)",
        )?
        .execute(params![cutoff, batch])?;
    let payloads = conn
        .prepare_cached(
            "UPDATE updates SET payload = X'', pruned_at = ?1 WHERE id IN (
                 SELECT u.id FROM updates u
                 WHERE u.pruned_at IS NULL AND u.received_at < ?2
                   AND u.id < (SELECT max(n.id) FROM updates n WHERE n.order_id = u.order_id)
                   AND NOT EXISTS (
                       SELECT 1 FROM decisions c LEFT JOIN deliveries d ON d.decision_id = c.id
                       WHERE c.update_id = u.id
                         AND (c.outcome IN ('draft', 'error')
                              OR (d.id IS NOT NULL AND d.status != 'delivered')))
                 ORDER BY u.id LIMIT ?3)",
        )?
        .execute(params![now, cutoff, batch])?;
    Ok(Pruned::counted(stuck, attempts, payloads, h.batch))
}

impl Pruned {
    /// What a pass of `batch` rows per kind did; `more` when a kind hit it.
    pub(super) fn counted(stuck: usize, attempts: usize, payloads: usize, batch: usize) -> Pruned {
        Pruned {
            stuck,
            attempts,
            payloads,
            more: [stuck, attempts, payloads].iter().any(|n| *n >= batch),
        }
    }
}
