//! The store's named operations: each a statement or a few, on the writer's
//! transaction or a reader's connection, with typed rows in and out.

use std::sync::Arc;

use super::{
    Attempt, DeliveryStatus, Job, Label, PollState, Quarantined, StoreError, parse_stamp, stamp,
};
use crate::order::Event;
use crate::rules::RuleSet;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension as _, params};

pub(super) fn quarantine(conn: &Connection, q: &Quarantined) -> rusqlite::Result<i64> {
    let headers: serde_json::Map<String, serde_json::Value> = q
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    conn.prepare_cached(
        "INSERT INTO quarantine (channel, received_at, reason, headers, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        q.channel,
        stamp(q.received_at),
        q.reason,
        serde_json::Value::Object(headers).to_string(),
        q.body
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn keep_label(conn: &Connection, delivery_id: i64, l: &Label) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO labels (delivery_id, format, content_type, filename, bytes, kept_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        delivery_id,
        l.format,
        l.content_type,
        l.filename,
        l.bytes,
        stamp(Utc::now())
    ])?;
    Ok(())
}

/// The label kept for a delivery, if any.
pub(super) fn label_of(conn: &Connection, delivery_id: i64) -> rusqlite::Result<Option<Label>> {
    conn.prepare_cached(
        "SELECT format, content_type, filename, bytes FROM labels WHERE delivery_id = ?1",
    )?
    .query_row([delivery_id], |r| {
        Ok(Label {
            format: r.get(0)?,
            content_type: r.get(1)?,
            filename: r.get(2)?,
            bytes: r.get(3)?,
        })
    })
    .optional()
}

/// What Order Health says of a delivery after an attempt.
pub(super) fn attempt_detail(a: &Attempt) -> String {
    // A connector's attempt says why in its platform's words, or which
    // request ended it.
    if let Some(last) = a.steps.last() {
        let answer = match (&a.error, last.http_status) {
            (Some(e), _) => e.clone(),
            (None, Some(code)) => format!("{} {code}", last.step),
            (None, None) => last.step.clone(),
        };
        return match a.status {
            DeliveryStatus::Delivered => format!("delivered: {answer}"),
            DeliveryStatus::Rejected => format!("rejected: {answer}"),
            DeliveryStatus::Dead => format!("dead: no attempts left; last: {answer}"),
            DeliveryStatus::Pending => format!("retrying: {answer}"),
        };
    }
    let answer = match (a.http_status, &a.error) {
        (Some(code), _) => {
            let body = String::from_utf8_lossy(&a.response);
            let body = body.trim();
            if body.is_empty() || body == "{}" {
                format!("{code}")
            } else {
                let short: String = body.chars().take(200).collect();
                format!("{code} {short}")
            }
        }
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".to_string(),
    };
    match a.status {
        DeliveryStatus::Delivered => format!("delivered: {answer}"),
        DeliveryStatus::Rejected => format!("rejected: {answer}"),
        DeliveryStatus::Dead => format!("dead: no attempts left; last: {answer}"),
        DeliveryStatus::Pending => format!("retrying: {answer}"),
    }
}

pub(super) fn note_rules(conn: &Connection, rules: &RuleSet) -> rusqlite::Result<()> {
    let files: Vec<serde_json::Value> = rules
        .files
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "text": f.text}))
        .collect();
    conn.prepare_cached(
        "INSERT INTO rules_versions (version, files, loaded_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (version) DO NOTHING",
    )?
    .execute(params![
        &*rules.version,
        serde_json::Value::Array(files).to_string(),
        stamp(Utc::now())
    ])?;
    Ok(())
}

/// Stores `channel`'s newest refresh token (replacing the one before).
pub(super) fn save_refresh_token(
    conn: &Connection,
    channel: &str,
    token: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO credentials (channel, refresh_token, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (channel) DO UPDATE SET refresh_token = excluded.refresh_token,
             updated_at = excluded.updated_at",
    )?
    .execute(params![channel, token, stamp(Utc::now())])?;
    Ok(())
}

/// `channel`'s stored refresh token, if any.
pub(super) fn stored_refresh_token(
    conn: &Connection,
    channel: &str,
) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached("SELECT refresh_token FROM credentials WHERE channel = ?1")?
        .query_row([channel], |r| r.get(0))
        .optional()
}

pub(super) fn poll_state(conn: &Connection, channel: &str) -> rusqlite::Result<PollState> {
    use rusqlite::OptionalExtension as _;
    let found = conn
        .prepare_cached(
            "SELECT cursor, last_run_at, last_success_at FROM poll_cursors WHERE channel = ?1",
        )?
        .query_row([channel], |r| {
            Ok(PollState {
                cursor: r.get(0)?,
                last_run_at: r.get(1)?,
                last_success_at: r.get(2)?,
            })
        })
        .optional()?;
    Ok(found.unwrap_or_default())
}

pub(super) fn save_poll_state(
    conn: &Connection,
    channel: &str,
    s: &PollState,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO poll_cursors (channel, cursor, last_run_at, last_success_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel) DO UPDATE SET cursor = excluded.cursor,
             last_run_at = excluded.last_run_at, last_success_at = excluded.last_success_at",
    )?
    .execute(params![channel, s.cursor, s.last_run_at, s.last_success_at])?;
    Ok(())
}

pub(super) async fn last_rules(
    q: &impl super::query::Query,
) -> Result<Option<Vec<crate::rules::SourceFile>>, StoreError> {
    let files: Option<String> = q
        .row(
            "SELECT files FROM rules_versions ORDER BY loaded_at DESC LIMIT 1",
            &[],
            |r| r.get(0),
        )
        .await?;
    let Some(files) = files else {
        return Ok(None);
    };
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&files).unwrap_or_default();
    Ok(Some(
        parsed
            .iter()
            .filter_map(|f| {
                Some(crate::rules::SourceFile {
                    name: f["name"].as_str()?.to_string(),
                    text: f["text"].as_str()?.to_string(),
                })
            })
            .collect(),
    ))
}

pub(super) fn pending_refs(conn: &Connection) -> Result<Vec<(i64, i64, Arc<str>)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, order_id, destination FROM deliveries WHERE status = 'pending' ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, Arc::from(r.get::<_, String>(2)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The deliveries matching `filter` (SQL over `deliveries d`), as jobs, oldest first.
/// The order as decided in the newest delivered delivery of `order` to
/// `destination` older than `before`: what the destination was last given.
pub(super) fn last_delivered_body(
    conn: &Connection,
    order: i64,
    destination: &str,
    before: i64,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT c.body FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         WHERE d.order_id = ?1 AND d.destination = ?2 AND d.id < ?3 AND d.status = 'delivered'
         ORDER BY d.id DESC LIMIT 1",
    )?
    .query_row(params![order, destination, before], |r| r.get(0))
    .map(Some)
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        e => Err(e),
    })
    .map(Option::flatten)
}

pub(super) fn jobs_where(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Job>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT d.id, d.order_id, d.destination, d.source, d.event, c.rules_version, c.body,
                (SELECT l.external_id FROM links l WHERE l.order_id = d.order_id AND l.channel = d.destination
                 ORDER BY l.rowid LIMIT 1),
                d.idempotency_key, d.attempts, d.next_at, c.decided_at, d.sent_at IS NOT NULL,
                d.rendered
         FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         WHERE {filter} ORDER BY d.id"
    ))?;
    let rows = stmt.query_map(args, |r| {
        let event: String = r.get(4)?;
        let event = event.parse::<Event>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
        })?;
        let next_at: Option<String> = r.get(10)?;
        let decided_at: String = r.get(11)?;
        Ok(Job {
            delivery_id: r.get(0)?,
            order_id: r.get(1)?,
            destination: Arc::from(r.get::<_, String>(2)?),
            source: Arc::from(r.get::<_, String>(3)?),
            event,
            rules_version: Arc::from(r.get::<_, String>(5)?),
            order_json: Arc::from(r.get::<_, Option<String>>(6)?.unwrap_or_default()),
            external_id: r.get(7)?,
            idempotency_key: Arc::from(r.get::<_, String>(8)?),
            attempts: r.get(9)?,
            not_before: next_at.as_deref().and_then(parse_stamp),
            received_at: parse_stamp(&decided_at).unwrap_or_else(Utc::now),
            sent: r.get(12)?,
            rendered: r.get::<_, Option<String>>(13)?.map(Arc::from),
        })
    })?;
    rows.collect()
}
