//! The SQLite floor that `ordersync-loadgen` measures the daemon against: the
//! rows the daemon writes per update, inserted by plain SQL.

use std::path::Path;
use std::time::Instant;

use rusqlite::params;

use super::StoreError;

/// SQLite's limit here: the rows one update makes (the update, its order and
/// link, what each side has, one decision, one delivery, its attempt and the
/// delivery's new status, and with `health` the Order Health row written at
/// the decision and moved by the attempt) inserted by plain SQL in batches,
/// with the daemon's schema, triggers and pragmas, each update carrying
/// `payload`. Answers updates per second. `ordersync-loadgen` compares the
/// daemon with this.
pub fn floor(
    path: &Path,
    payload: &[u8],
    updates: u64,
    batch: usize,
    health: bool,
) -> Result<f64, StoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut conn = super::open(path)?.conn;
    let body = String::from_utf8_lossy(payload).into_owned();
    let trace =
        r#"[{"rule":"tags","place":"rules.yaml:9","expression":"","seen":[],"result":null}]"#;
    let started = Instant::now();
    let mut i = 0u64;
    while i < updates {
        let tx = conn.transaction()?;
        for _ in 0..batch.min((updates - i) as usize) {
            let ext = format!("L-{i}");
            let now = "2026-11-20T10:00:00.000000Z";
            tx.prepare_cached("INSERT INTO orders (created_at) VALUES (?1)")?
                .execute([now])?;
            let order = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO links (channel, external_id, order_id, newest_updated_at) VALUES ('load', ?1, ?2, ?3)")?
                .execute(params![ext, order, now])?;
            tx.prepare_cached(
                "INSERT INTO known (order_id, channel, body) VALUES (?1, 'load', ?2)",
            )?
            .execute(params![order, body])?;
            tx.prepare_cached("INSERT INTO updates (channel, event_id, event, received_at, order_id, external_id, status, payload) VALUES ('load', ?1, 'created', ?2, ?3, ?4, 'decided', ?5)")?
                .execute(params![format!("load-{i}"), now, order, ext, payload])?;
            let update = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO decisions (update_id, order_id, destination, outcome, detail, rules_version, body, changes, trace, decided_at) VALUES (?1, ?2, 'store', 'deliver', 'deliver', 'v', ?3, '[]', ?4, ?5)")?
                .execute(params![update, order, body, trace, now])?;
            let decision = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO known (order_id, channel, body) VALUES (?1, 'store', ?2)",
            )?
            .execute(params![order, body])?;
            tx.prepare_cached("INSERT INTO deliveries (decision_id, order_id, destination, source, event, idempotency_key, status, updated_at) VALUES (?1, ?2, 'store', 'load', 'created', 'k', 'pending', ?3)")?
                .execute(params![decision, order, now])?;
            let delivery = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO attempts (delivery_id, at, http_status, response, duration_ms) VALUES (?1, ?2, 200, x'7b7d', 1.0)")?
                .execute(params![delivery, now])?;
            tx.prepare_cached(
                "UPDATE deliveries SET status = 'delivered', attempts = 1 WHERE id = ?1",
            )?
            .execute([delivery])?;
            if health {
                tx.prepare_cached(
                    "INSERT INTO health (order_id, destination, source, status, decision_id, delivery_id, detail, updated_at)
                     VALUES (?1, 'store', 'load', 'pending', ?2, ?3, 'deliver', ?4)",
                )?
                .execute(params![order, decision, delivery, now])?;
                tx.prepare_cached(
                    "UPDATE health SET status = 'delivered', detail = 'delivered: 200', updated_at = ?3
                     WHERE order_id = ?1 AND destination = 'store' AND delivery_id = ?2",
                )?
                .execute(params![order, delivery, "2026-11-20T10:00:00.100000Z"])?;
            }
            i += 1;
        }
        tx.commit()?;
    }
    Ok(updates as f64 / started.elapsed().as_secs_f64())
}
