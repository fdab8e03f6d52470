//! Polling against the running daemon (SPEC 6.2): `GET url?since=` on the
//! channel's cron schedule (every second here), with a local HTTP server as
//! the marketplace. The tests run in parallel; the longest is the 100 periods.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, metric, post_update, update};

/// A store `shop` and a marketplace `market` polled on `schedule` (and also
/// taking webhooks), its updates imported into the store.
fn rules(dir: &Path, mock: &Mock, schedule: &str) -> PathBuf {
    let poll = if schedule.is_empty() {
        String::new()
    } else {
        format!(
            "    poll: {{ schedule: \"{schedule}\", url: \"{}/market/orders\", format: ordersync, overlap: 10s }}\n",
            mock.base
        )
    };
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver: {{ url: "{base}/shop/orders" }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
{poll}rules:
  market:
    attributes:
      tags: Market
"#,
        base = mock.base
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn polled(mock: &Mock) -> Vec<support::Received> {
    mock.on("/market/orders")
}

async fn metrics_text(client: &reqwest::Client, daemon: &Daemon) -> String {
    let r = client.get(daemon.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn readyz(client: &reqwest::Client, daemon: &Daemon) -> Json {
    let r = client.get(daemon.url("/readyz")).send().await.unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

fn gaps(requests: &[support::Received]) -> Vec<Duration> {
    requests
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_at_the_cron_times_for_100_consecutive_periods() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, "[]"));
    let path = rules(dir.path(), &mock, "* * * * * *");
    let daemon = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let got = mock
        .wait_for("/market/orders", 101, Duration::from_secs(130))
        .await;
    let took = started.elapsed();
    // 100 periods after the first run: about 100 s, never a long silence.
    assert!(took < Duration::from_secs(115), "101 runs took {took:?}");
    let gaps = gaps(&got[..101]);
    let longest = gaps.iter().max().unwrap();
    let shortest = gaps.iter().min().unwrap();
    assert!(
        *longest < Duration::from_millis(2500),
        "a gap of {longest:?}"
    );
    assert!(
        *shortest > Duration::from_millis(300),
        "two runs {shortest:?} apart"
    );
    // Each run started on a whole second (the scheduler checks every 500 ms).
    let text = metrics_text(&client, &daemon).await;
    let ok = metric(
        &text,
        "ordersync_poll_runs_total{channel=\"market\",outcome=\"ok\"}",
    )
    .unwrap();
    assert!(ok >= 100.0, "{text}");
    assert_eq!(
        metric(&text, "ordersync_poll_stalled{channel=\"market\"}"),
        Some(0.0)
    );
    assert_eq!(
        readyz(&client, &daemon).await["polling"]["market"]["stalled"],
        false
    );
    // An empty list never moves the cursor, and the first run asked for everything.
    assert_eq!(got[0].query, "");
}

/// The marketplace: updates with `updated_at`, answered when at or after `since`.
#[derive(Clone, Default)]
struct Market(Arc<Mutex<Vec<Json>>>);

impl Market {
    fn add(&self, event_id: &str, order_id: &str, updated_at: &str) {
        self.0.lock().unwrap().push(json!({
            "id": event_id,
            "event": "created",
            "order": { "id": order_id, "updated_at": updated_at, "tags": [] },
        }));
    }

    fn serve(&self, mock: &Mock) {
        let market = self.clone();
        mock.respond(move |req, _| {
            if req.path != "/market/orders" {
                return Reply::new(200, "{}");
            }
            let since = req
                .query
                .strip_prefix("since=")
                .map(|s| s.replace("%3A", ":"));
            let items: Vec<Json> = market
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|u| {
                    since
                        .as_deref()
                        .is_none_or(|since| u["order"]["updated_at"].as_str().unwrap() >= since)
                })
                .cloned()
                .collect();
            Reply::new(200, &Json::Array(items).to_string())
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_the_stored_cursor_after_a_restart_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let market = Market::default();
    market.serve(&mock);
    market.add("e1", "M-1", "2026-11-20T10:00:00Z");
    market.add("e2", "M-2", "2026-11-20T10:05:00Z");
    let path = rules(dir.path(), &mock, "* * * * * *");
    let mut daemon = Daemon::start(dir.path(), &path, &[]);
    mock.wait_for("/shop/orders", 2, Duration::from_secs(10))
        .await;
    // The cursor is the largest `updated_at` seen, once a run has stored them.
    let wait = Instant::now();
    while daemon.count("SELECT count(*) FROM poll_cursors WHERE cursor = '2026-11-20T10:05:00Z'")
        == 0
    {
        assert!(wait.elapsed() < Duration::from_secs(5), "no cursor stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Killed between a send and its record, a delivery is rightly sent again
    // (same Idempotency-Key); this test is about the cursor, so it kills only
    // once both sends are recorded.
    while daemon.count("SELECT count(*) FROM deliveries WHERE status = 'delivered'") != 2 {
        assert!(
            wait.elapsed() < Duration::from_secs(5),
            "deliveries not recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill();

    // While it was down: a new update, and a late one inside the overlap window.
    market.add("e3", "M-3", "2026-11-20T10:09:00Z");
    market.add("e2-late", "M-4", "2026-11-20T10:04:55Z");
    let before = polled(&mock).len();
    let daemon = Daemon::start(dir.path(), &path, &[]);
    let shop = mock
        .wait_for("/shop/orders", 4, Duration::from_secs(10))
        .await;
    let after = polled(&mock);
    // The first run after the restart asked from the cursor less the 10 s overlap.
    assert_eq!(after[before].query, "since=2026-11-20T10%3A04%3A50Z");
    let mut ids: Vec<&str> = shop
        .iter()
        .map(|r| r.body["order"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["M-1", "M-2", "M-3", "M-4"], "each delivered once");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        mock.on("/shop/orders").len(),
        4,
        "re-reading the overlap delivers nothing again"
    );
    assert_eq!(
        daemon.count("SELECT count(*) FROM updates WHERE via = 'poll'"),
        4
    );
    // A webhook carrying an update already polled is a duplicate, stored once.
    let client = reqwest::Client::new();
    let body = update(
        "e3",
        "created",
        json!({"id": "M-3", "updated_at": "2026-11-20T10:09:00Z", "tags": []}),
    );
    let (status, answer) = post_update(&client, &daemon, "market", "market-secret", &body).await;
    assert_eq!((status, answer), (200, json!({"duplicate": true})));
    let text = metrics_text(&client, &daemon).await;
    assert!(
        metric(
            &text,
            "ordersync_updates_duplicate_total{channel=\"market\"}"
        )
        .unwrap()
            >= 2.0,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_runs_twice_at_once_and_never_bursts_after_a_stall() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    const SLOW: Duration = Duration::from_millis(3200);
    mock.respond(|req, n| {
        let mut r = Reply::new(200, "[]");
        if req.path == "/market/orders" && n == 2 {
            r.delay = SLOW;
        }
        r
    });
    let path = rules(dir.path(), &mock, "* * * * * *");
    let daemon = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let got = mock
        .wait_for("/market/orders", 3, Duration::from_secs(10))
        .await;
    let slow_at = got[2].at;
    // Two periods into the slow run, the schedule shows as stalled.
    tokio::time::sleep_until((slow_at + Duration::from_millis(2600)).into()).await;
    let r = readyz(&client, &daemon).await;
    assert_eq!(
        r["polling"]["market"]["stalled"],
        true,
        "{r}\n{:?}",
        slow_at.elapsed()
    );
    let text = metrics_text(&client, &daemon).await;
    assert_eq!(
        metric(&text, "ordersync_poll_stalled{channel=\"market\"}"),
        Some(1.0)
    );
    mock.wait_for("/market/orders", 6, Duration::from_secs(10))
        .await;
    let got = polled(&mock);
    // Nothing else was asked while the slow run was out: one run at a time.
    let next = got[3].at.duration_since(slow_at);
    assert!(next >= SLOW, "a run started {next:?} into the slow one");
    let text = metrics_text(&client, &daemon).await;
    let skipped = metric(
        &text,
        "ordersync_poll_runs_total{channel=\"market\",outcome=\"skipped\"}",
    )
    .unwrap_or(0.0);
    assert!(
        skipped >= 2.0,
        "the ticks during the slow run were skipped and counted: {text}"
    );
    // No catching up afterwards: the runs after it keep their period.
    assert!(
        gaps(&got[3..])
            .iter()
            .all(|g| *g > Duration::from_millis(300))
    );

    // A stalled process (SIGSTOP for 3 s) wakes to one run, not a burst.
    let pid = daemon.pid().to_string();
    let kill = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
    };
    kill("-STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = polled(&mock).len();
    let woke = Instant::now();
    kill("-CONT");
    tokio::time::sleep(Duration::from_millis(1900)).await;
    let after: Vec<_> = polled(&mock)[before..]
        .iter()
        .filter(|r| r.at >= woke)
        .cloned()
        .collect();
    assert!(
        (1..=3).contains(&after.len()),
        "{} runs in the 1.9 s after waking",
        after.len()
    );
    assert!(gaps(&after).iter().all(|g| *g > Duration::from_millis(300)));
    assert!(readyz(&client, &daemon).await["polling"]["market"]["stalled"] == false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_reschedules_polling_and_bad_poll_data_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|req, _| {
        if req.path == "/market/orders" {
            Reply::new(
                200,
                r#"[{"id": "bad-1", "event": "teleported", "order": {"id": "M-9"}}]"#,
            )
        } else {
            Reply::new(200, "{}")
        }
    });
    // Once a year: no run during the test.
    let path = rules(dir.path(), &mock, "0 0 0 1 1 *");
    let daemon = Daemon::start(dir.path(), &path, &[]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(polled(&mock).is_empty());
    rules(dir.path(), &mock, "* * * * * *");
    mock.wait_for("/market/orders", 2, Duration::from_secs(5))
        .await;
    // The unreadable item is kept, with why, and the run still succeeds.
    let reason: String = daemon
        .text("SELECT reason FROM quarantine ORDER BY id LIMIT 1")
        .unwrap();
    assert_eq!(reason, "poll item: unknown event `teleported`");
    assert!(
        daemon
            .log_text()
            .contains("unreadable poll data quarantined")
    );
    // Polling removed from the rules: no more runs.
    rules(dir.path(), &mock, "");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = polled(&mock).len();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(polled(&mock).len(), n, "polling stopped");
    assert!(
        daemon
            .log_text()
            .contains("polling stopped: the channel has no `poll` now")
    );
}
