//! On a shared store (PostgreSQL), where this daemon's deliveries come from:
//! the lanes it claims (`store/pg/lanes.rs`). The claimer hands each claimed
//! lane's delivery to the dispatcher as a job, as SQLite's writer hands over
//! the deliveries it commits; the dispatcher sends it and records the
//! outcome, and the writer hands it the lane's next delivery under the same
//! lease.
//!
//! It claims when this daemon's writes made new deliveries (woken by the
//! writer), and every [`EVERY`] for those of other daemons, retries that came
//! due and lanes whose lease ran out. It renews this daemon's leases three
//! times per lease. At shutdown it stops claiming but goes on renewing while
//! the deliveries in flight finish and are recorded; then it gives every
//! lane up, so the other daemons take them at once.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::{Job, Writer};

/// How often lanes are looked for without being woken.
pub const EVERY: Duration = Duration::from_millis(200);

/// Lanes claimed at most in one go.
const BATCH: usize = 64;

/// Claims lanes for the dispatcher (`jobs`) until `shutdown`, and holds
/// them until `held` is cancelled (once what was in flight is recorded); a
/// writer on SQLite has no lanes to claim, and this returns at once.
pub async fn run(
    writer: Writer,
    jobs: mpsc::UnboundedSender<Vec<Job>>,
    shutdown: CancellationToken,
    held: CancellationToken,
) {
    let (Some(store), Some(woken)) = (writer.postgres_store(), writer.claims()) else {
        return;
    };
    let mut renew = tokio::time::interval(store.lease() / 3);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = woken.notified() => {}
            () = tokio::time::sleep(EVERY) => {}
            _ = renew.tick() => {
                if let Err(e) = store.renew().await {
                    tracing::warn!(error = %e, "could not renew this daemon's leases");
                }
                continue;
            }
        }
        // Claim until nothing is left, so a burst is not served 64 per period.
        loop {
            match store.claim(BATCH).await {
                Ok(claimed) if claimed.is_empty() => break,
                Ok(claimed) => {
                    let n = claimed.len();
                    if jobs
                        .send(claimed.into_iter().map(|l| l.job).collect())
                        .is_err()
                    {
                        // The dispatcher is gone: shutting down.
                        break;
                    }
                    if n < BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim delivery lanes");
                    break;
                }
            }
        }
    }
    drop(jobs);
    loop {
        tokio::select! {
            () = held.cancelled() => break,
            _ = renew.tick() => {
                if let Err(e) = store.renew().await {
                    tracing::warn!(error = %e, "could not renew this daemon's leases");
                }
            }
        }
    }
    match store.release_all().await {
        Ok(n) => tracing::info!(lanes = n, "delivery lanes given up for the other daemons"),
        Err(e) => {
            tracing::warn!(error = %e, "could not give up the delivery lanes; they pass on when their leases run out")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use chrono::Utc;

    use super::*;
    use crate::order::Event;
    use crate::store::pg::{PgStore, testdb};
    use crate::store::suite::update;
    use crate::store::{Attempt, DeliveryStatus};

    const RULES: &str = r#"version: 1
channels:
  shop: { role: commerce_platform, webhook: { format: ordersync, secret: s } }
  market: { role: marketplace, deliver: { url: "http://127.0.0.1:9/market" } }
  supplier: { role: fulfillment, deliver: { url: "http://127.0.0.1:9/supplier" } }
"#;

    /// Three daemons, each a claimer and a dispatcher that records every job
    /// delivered after a slow sink's answer, on one database; updates of 20
    /// orders spread across them. Every delivery is sent and recorded once, by
    /// one daemon, in its lane's order, and no daemon loses a lane it holds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_daemons_deliver_every_lane_once_and_in_order() {
        let Some(url) =
            testdb::database_for("three_daemons_deliver_every_lane_once_and_in_order").await
        else {
            return;
        };
        let rules = Arc::new(
            crate::rules::load_str(
                "rules.yaml",
                RULES,
                &crate::rules::LoadOptions { env: &|_| None },
            )
            .unwrap(),
        );
        let shutdown = CancellationToken::new();
        let refused = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let mut writers = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let store = PgStore::open(&url, 4, Arc::new(crate::pipeline::Pipeline))
                .await
                .unwrap();
            let (jobs, mut inbox) = mpsc::unbounded_channel::<Vec<Job>>();
            let writer = Writer::postgres(store, jobs.clone());
            tasks.push(tokio::spawn(run(
                writer.clone(),
                jobs,
                shutdown.clone(),
                shutdown.clone(),
            )));
            // The dispatcher: a slow sink (20 ms a request), then each job
            // recorded as delivered; a refused record is counted.
            let recorder = writer.clone();
            let refused = refused.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(batch) = inbox.recv().await {
                    for job in batch {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let recorded = recorder
                            .record(Attempt {
                                http_status: Some(200),
                                response: b"{}".to_vec(),
                                duration: Duration::from_millis(1),
                                status: DeliveryStatus::Delivered,
                                ..Attempt::begun(&job, Utc::now())
                            })
                            .await;
                        if let Err(e) = recorded {
                            refused.lock().unwrap().push(e.to_string());
                        }
                    }
                }
            }));
            writers.push(writer);
        }
        for version in 1..=3 {
            for order in 0..20 {
                let text = format!(
                    r#"{{"id": "M-{order}", "updated_at": "2026-11-20T10:0{version}:00Z", "note": "v{version}", "tags": []}}"#
                );
                let event = if version == 1 {
                    Event::Created
                } else {
                    Event::Updated
                };
                let id = format!("e-{order}-{version}");
                writers[(order + version) % 3]
                    .ingest(update(&rules, &id, event, &text, version as u32))
                    .await
                    .unwrap();
            }
        }
        let store = writers[0].postgres_store().unwrap().clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let pending = store
                .text_rows("SELECT count(*) FROM deliveries WHERE status = 'pending'")
                .await
                .unwrap();
            if pending == [vec![Some("0".to_string())]] {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still pending: {pending:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        assert_eq!(*refused.lock().unwrap(), Vec::<String>::new());
        let rows = store
            .text_rows(
                "SELECT d.order_id, d.destination, a.delivery_id, (SELECT count(*) FROM attempts x WHERE x.delivery_id = d.id)
                 FROM attempts a JOIN deliveries d ON d.id = a.delivery_id ORDER BY a.id",
            )
            .await
            .unwrap();
        // 20 orders: the market gets 3 each, the supplier 3 each.
        assert_eq!(rows.len(), 120);
        let mut lanes: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for r in &rows {
            assert_eq!(
                r[3].as_deref(),
                Some("1"),
                "a delivery recorded twice: {r:?}"
            );
            lanes
                .entry((r[0].clone().unwrap(), r[1].clone().unwrap()))
                .or_default()
                .push(r[2].as_deref().unwrap().parse().unwrap());
        }
        assert_eq!(lanes.len(), 40);
        for (lane, sent) in &lanes {
            assert!(
                sent.windows(2).all(|w| w[0] < w[1]),
                "lane {lane:?} out of order: {sent:?}"
            );
        }
        for t in tasks {
            t.abort();
        }
    }
}
