//! What the channels page shows of each channel (issue 12 section 6), read
//! in a few bounded queries: the last webhook, the poll cursor, the outbox
//! per destination, and the deliveries decided in the last 24 hours by hour
//! and outcome.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, params};

use super::parse_stamp;

/// One channel's numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelStats {
    /// When its last webhook was stored.
    pub last_webhook: Option<String>,
    /// Its polling cursor (the largest `updated_at` seen).
    pub poll_cursor: Option<String>,
    /// When its last poll run started and last succeeded.
    pub last_poll: Option<String>,
    /// When its last poll run succeeded.
    pub last_poll_success: Option<String>,
    /// Deliveries to it not yet delivered, rejected or dead.
    pub outbox: u64,
    /// When the oldest of those was decided.
    pub oldest_pending: Option<String>,
    /// Deliveries to it decided in the last 24 hours: per hour (0 = the
    /// oldest hour, 23 = this one), per status (`delivered`, `pending`,
    /// `rejected`, `dead`).
    pub hours: Vec<BTreeMap<String, u64>>,
}

/// How many deliveries one page read may go through for the 24-hour chart.
const MAX_ROWS: usize = 500_000;

/// The numbers of `channels`, as of `now`.
pub fn channel_stats(
    conn: &Connection,
    channels: &[&str],
    now: DateTime<Utc>,
) -> rusqlite::Result<BTreeMap<String, ChannelStats>> {
    let mut out: BTreeMap<String, ChannelStats> = channels
        .iter()
        .map(|c| {
            (
                c.to_string(),
                ChannelStats {
                    hours: vec![BTreeMap::new(); 24],
                    ..ChannelStats::default()
                },
            )
        })
        .collect();
    for (name, s) in out.iter_mut() {
        // Newest first by rowid: stops at the channel's newest webhook.
        s.last_webhook = conn
            .prepare_cached(
                "SELECT received_at FROM updates WHERE channel = ?1 AND via = 'webhook'
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([name], |r| r.get(0))
            .map(Some)
            .or_else(none_if_empty)?;
        let poll: Option<(Option<String>, Option<String>, Option<String>)> = conn
            .prepare_cached(
                "SELECT cursor, last_run_at, last_success_at FROM poll_cursors WHERE channel = ?1",
            )?
            .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map(Some)
            .or_else(none_if_empty)?;
        if let Some((cursor, run, ok)) = poll {
            s.poll_cursor = cursor;
            s.last_poll = run;
            s.last_poll_success = ok;
        }
    }
    // The pending ones, through the partial index on pending deliveries.
    let mut stmt = conn.prepare_cached(
        "SELECT d.destination, count(*), min(c.decided_at)
         FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         WHERE d.status = 'pending' GROUP BY d.destination",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let dest: String = r.get(0)?;
        if let Some(s) = out.get_mut(&dest) {
            s.outbox = r.get::<_, i64>(1)?.max(0) as u64;
            s.oldest_pending = r.get(2)?;
        }
    }
    // Newest deliveries first, until one was decided before the window.
    let since = now - Duration::hours(24);
    let mut stmt = conn.prepare_cached(
        "SELECT d.destination, d.status, c.decided_at
         FROM deliveries d JOIN decisions c ON c.id = d.decision_id
         ORDER BY d.id DESC",
    )?;
    let mut rows = stmt.query(params![])?;
    let mut read = 0;
    while let Some(r) = rows.next()? {
        read += 1;
        let decided: String = r.get(2)?;
        let Some(at) = parse_stamp(&decided) else {
            continue;
        };
        if at < since || read > MAX_ROWS {
            break;
        }
        let dest: String = r.get(0)?;
        let Some(s) = out.get_mut(&dest) else {
            continue;
        };
        let age_hours = (now - at).num_hours().clamp(0, 23) as usize;
        let status: String = r.get(1)?;
        *s.hours[23 - age_hours].entry(status).or_default() += 1;
    }
    Ok(out)
}

fn none_if_empty<T>(e: rusqlite::Error) -> rusqlite::Result<Option<T>> {
    match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        e => Err(e),
    }
}
