//! What the channels page shows of each channel (issue 12 section 6), read
//! in a few bounded queries: the last webhook, the poll cursor, the outbox
//! per destination, and the deliveries decided in the last 24 hours by hour
//! and outcome.

use std::collections::BTreeMap;

use super::query::{Arg, Query};
use super::{StoreError, parse_stamp};
use chrono::{DateTime, Duration, Utc};

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

/// How many deliveries the 24-hour chart may go through.
const MAX_ROWS: usize = 500_000;

/// How many it reads a query, newest first.
const BATCH: i64 = 2_000;

/// The numbers of `channels`, as of `now`.
pub(super) async fn channel_stats(
    q: &impl Query,
    channels: &[String],
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, ChannelStats>, StoreError> {
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
        let channel = [Arg::Text(name.clone())];
        // Newest first by id: stops at the channel's newest webhook.
        s.last_webhook = q
            .row(
                "SELECT received_at FROM updates WHERE channel = $1 AND via = 'webhook'
                 ORDER BY id DESC LIMIT 1",
                &channel,
                |r| r.get(0),
            )
            .await?;
        let poll: Option<(Option<String>, Option<String>, Option<String>)> = q
            .row(
                "SELECT cursor, last_run_at, last_success_at FROM poll_cursors WHERE channel = $1",
                &channel,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .await?;
        if let Some((cursor, run, ok)) = poll {
            s.poll_cursor = cursor;
            s.last_poll = run;
            s.last_poll_success = ok;
        }
    }
    // The pending ones, through the partial index on pending deliveries.
    let pending = q
        .rows(
            "SELECT d.destination, count(*), min(c.decided_at)
             FROM deliveries d JOIN decisions c ON c.id = d.decision_id
             WHERE d.status = 'pending' GROUP BY d.destination",
            &[],
            |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get(2)?)),
        )
        .await?;
    for (dest, n, oldest) in pending {
        if let Some(s) = out.get_mut(&dest) {
            s.outbox = n.max(0) as u64;
            s.oldest_pending = oldest;
        }
    }
    // Newest deliveries first, a batch at a time, until one was decided
    // before the window.
    let since = now - Duration::hours(24);
    let mut below = i64::MAX;
    let mut read = 0;
    'batches: loop {
        let batch = q
            .rows(
                "SELECT d.id, d.destination, d.status, c.decided_at
                 FROM deliveries d JOIN decisions c ON c.id = d.decision_id
                 WHERE d.id < $1 ORDER BY d.id DESC LIMIT $2",
                &[Arg::Int(below), Arg::Int(BATCH)],
                |r| {
                    Ok((
                        r.get::<i64>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<String>(3)?,
                    ))
                },
            )
            .await?;
        let full = batch.len() as i64 == BATCH;
        for (id, dest, status, decided) in batch {
            below = id;
            read += 1;
            let Some(at) = parse_stamp(&decided) else {
                continue;
            };
            if at < since || read > MAX_ROWS {
                break 'batches;
            }
            let Some(s) = out.get_mut(&dest) else {
                continue;
            };
            let age_hours = (now - at).num_hours().clamp(0, 23) as usize;
            *s.hours[23 - age_hours].entry(status).or_default() += 1;
        }
        if !full {
            break;
        }
    }
    Ok(out)
}
