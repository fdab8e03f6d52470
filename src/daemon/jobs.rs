//! The daemon's clock: one tokio-cron-scheduler running the polling jobs,
//! housekeeping and a heartbeat of its own; and the systemd watchdog, which
//! pings only while that heartbeat advances and the store answers, so a
//! wedged scheduler or store gets the service restarted.
//!
//! Every job is a cron job: tokio-cron-scheduler's `new_repeated` jobs can
//! stop firing (its issue #113), and a cron job's next tick is computed from
//! the current time, so a stalled process does not burst when it wakes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::Live;
use crate::store::{Housekeeping, Pruned, WeakWriter, Writer};

/// The heartbeat's schedule: every second.
const HEARTBEAT: &str = "* * * * * *";

/// The heartbeat counts as advancing while it is younger than this. The
/// scheduler checks its jobs every 500 ms, so a beat is at most ~1.5 s apart.
const HEARTBEAT_STALE: Duration = Duration::from_secs(5);

/// How many rows of each kind one housekeeping pass may touch.
const HOUSEKEEPING_BATCH: usize = 5_000;

/// How often `PRAGMA optimize` runs (as part of a housekeeping pass).
const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);

/// Housekeeping's settings.
#[derive(Clone, Debug)]
pub struct HousekeepingConfig {
    /// When it runs (cron with seconds).
    pub schedule: String,
    /// How long settled updates keep their payload and delivered deliveries their attempts.
    pub retention: Duration,
    /// A pending delivery with no progress for this long is marked stuck.
    pub stuck_after: Duration,
}

/// Starts the scheduler with the heartbeat job.
pub async fn start(live: Arc<Live>) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    live.beat();
    scheduler
        .add(Job::new(HEARTBEAT, move |_, _| live.beat())?)
        .await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// Adds the housekeeping job.
pub async fn housekeeping(
    scheduler: &JobScheduler,
    writer: WeakWriter,
    live: Arc<Live>,
    config: HousekeepingConfig,
) -> Result<(), JobSchedulerError> {
    let running = Arc::new(tokio::sync::Mutex::new(None::<Instant>));
    let schedule = config.schedule.clone();
    let job = Job::new_async(schedule.as_str(), move |_, _| {
        let (writer, live, config, running) = (
            writer.clone(),
            live.clone(),
            config.clone(),
            running.clone(),
        );
        Box::pin(async move {
            // One pass at a time; a tick during a long pass is simply dropped.
            let Ok(mut last_optimize) = running.try_lock() else {
                return;
            };
            let Ok(writer) = writer.upgrade() else {
                return;
            };
            if let Err(e) = housekeep(&writer, &live, &config, &mut last_optimize).await {
                tracing::warn!(error = %e, "housekeeping failed; it runs again on schedule");
            }
        })
    })?;
    scheduler.add(job).await?;
    Ok(())
}

async fn housekeep(
    writer: &Writer,
    live: &Live,
    config: &HousekeepingConfig,
    last_optimize: &mut Option<Instant>,
) -> Result<(), crate::store::StoreError> {
    let now = Utc::now();
    let back = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let mut total = Pruned::default();
    loop {
        let pass = writer
            .housekeep(Housekeeping {
                now,
                stuck_before: back(config.stuck_after),
                retain_after: back(config.retention),
                batch: HOUSEKEEPING_BATCH,
                optimize: false,
            })
            .await?;
        total.stuck += pass.stuck;
        total.attempts += pass.attempts;
        total.payloads += pass.payloads;
        if !pass.more || live.is_stopping() {
            break;
        }
    }
    let m = &live.metrics.housekeeping;
    m.add(&["stuck"], total.stuck as u64);
    m.add(&["attempts"], total.attempts as u64);
    m.add(&["payloads"], total.payloads as u64);
    if total != Pruned::default() {
        tracing::info!(
            stuck = total.stuck,
            attempts_pruned = total.attempts,
            payloads_pruned = total.payloads,
            "housekeeping"
        );
    }
    if last_optimize.is_none_or(|t| t.elapsed() >= OPTIMIZE_EVERY) {
        writer
            .housekeep(Housekeeping {
                now,
                stuck_before: back(config.stuck_after),
                retain_after: back(config.retention),
                batch: 0,
                optimize: true,
            })
            .await?;
        *last_optimize = Some(Instant::now());
        tracing::debug!("PRAGMA optimize ran");
    }
    Ok(())
}

/// True when the watchdog may be pinged: the heartbeat is recent and the store answered.
pub fn healthy(beat_age: Duration, store_ok: bool) -> bool {
    store_ok && beat_age < HEARTBEAT_STALE
}

/// Pings systemd's watchdog (when `WatchdogSec=` set `WATCHDOG_USEC`) at half
/// its interval, only while the scheduler's heartbeat advances and the store
/// answers; otherwise systemd restarts the service. It stops at shutdown.
pub fn watchdog(live: Arc<Live>, writer: WeakWriter, tracker: &tokio_util::task::TaskTracker) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (interval / 2).max(Duration::from_millis(100));
    tracing::info!(
        interval_ms = interval.as_millis() as u64,
        "systemd watchdog enabled"
    );
    let shutdown = live.shutdown.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let Ok(writer) = writer.upgrade() else {
                return;
            };
            // A shared store's outage is the server's, not this daemon's:
            // restarting it would not help (webhooks get 503 meanwhile and
            // the pool reconnects by itself), so only SQLite's writer counts.
            let store_ok = writer.postgres_store().is_some()
                || matches!(tokio::time::timeout(every, writer.ping()).await, Ok(Ok(())));
            drop(writer);
            let age = live.beat_age();
            if healthy(age, store_ok) {
                super::notify(&[sd_notify::NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    store_ok,
                    heartbeat_age_ms = age.as_millis() as u64,
                    "not pinging the systemd watchdog: the store or the scheduler is not answering"
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_pinged_only_while_both_answer() {
        assert!(healthy(Duration::from_secs(1), true));
        assert!(!healthy(Duration::from_secs(1), false));
        assert!(!healthy(Duration::from_secs(6), true));
    }
}
