//! The crash-and-fault harness (issue 6): signed webhooks and polled updates
//! at load, SIGKILL at random moments, a destination that in turns answers
//! slowly, answers 500, answers 429 with `Retry-After`, and stops answering
//! at all (the daemon's requests time out, as when it goes away), and the
//! rules file rewritten with good and bad versions during the load. At the
//! end it checks the invariants and prints a summary table:
//!
//! - every update answered 2xx, and every update the poll offered, was
//!   decided once and delivered;
//! - no order's updates reached the destination out of order;
//! - no decision reached it under two `Idempotency-Key`s;
//! - every decision names a rules version that was valid (no bad file ever
//!   decided anything).
//!
//! Loopback only. It runs for `ORDERSYNC_HARNESS_SECS` seconds of load
//! (default 20; `.ci/run` runs a 300-second round, `RELIABILITY.md` a soak),
//! killing every 1-4 s (`ORDERSYNC_HARNESS_KILL_EVERY=MIN-MAX` seconds
//! changes that: a soak lets each daemon live longer so its memory over time
//! means something), sending `ORDERSYNC_HARNESS_RATE` webhooks a second
//! (default 100: below what the faulty destination takes, so the outbox
//! drains), then waits for the deliveries to drain, and stops by itself.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, update};

/// The destination's moods, cycled by the fault controller.
const FAULTS: [&str; 5] = ["ok", "slow", "error500", "retry429", "away"];

fn rules_text(mock: &Mock, tag: &str) -> String {
    format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver:
      url: "{base}/shop/orders"
      timeout: 1s
      retry: {{ attempts: 1000, first: 50ms, max: 1s }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
  feed:
    role: marketplace
    poll: {{ schedule: "* * * * * *", url: "{base}/feed/orders", format: ordersync, overlap: 2s }}
rules:
  market:
    attributes:
      tags: {tag}
  feed:
    attributes:
      tags: {tag}
"#,
        base = mock.base
    )
}

/// The polled marketplace: updates offered so far, answered from `since`.
#[derive(Clone, Default)]
struct Feed(Arc<Mutex<Vec<Json>>>);

impl Feed {
    fn answer(&self, query: &str) -> String {
        let since = query.strip_prefix("since=").map(|s| s.replace("%3A", ":"));
        let items: Vec<Json> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|u| {
                since
                    .as_deref()
                    .is_none_or(|s| u["order"]["updated_at"].as_str().unwrap() >= s)
            })
            .cloned()
            .collect();
        Json::Array(items).to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariants_hold_under_kills_faults_and_reloads() {
    let secs: u64 = std::env::var("ORDERSYNC_HARNESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let kill_every: (u64, u64) = std::env::var("ORDERSYNC_HARNESS_KILL_EVERY")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((1, 4));
    let rate: f64 = std::env::var("ORDERSYNC_HARNESS_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|r: &f64| *r > 0.0)
        .unwrap_or(100.0);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let fault = Arc::new(AtomicU8::new(0));
    let feed = Feed::default();
    {
        let (fault, feed) = (fault.clone(), feed.clone());
        mock.respond(move |req, n| {
            if req.path == "/feed/orders" {
                return Reply::new(200, &feed.answer(&req.query));
            }
            let mut r = Reply::new(200, "{}");
            match FAULTS[fault.load(Ordering::Relaxed) as usize] {
                "slow" => r.delay = Duration::from_millis(300),
                "error500" if n % 2 == 0 => r = Reply::new(500, "try again"),
                "retry429" if n % 2 == 0 => {
                    r = Reply::new(429, "slow down");
                    r.headers.push(("retry-after", "1".to_string()));
                }
                // Longer than the daemon's 1 s timeout: as good as gone.
                "away" => r.delay = Duration::from_millis(1500),
                _ => {}
            }
            r
        });
    }
    let path = dir.path().join("rules.yaml");
    let good = ["H1", "H2"].map(|t| rules_text(&mock, t));
    let bad = good[0].replace("tags: H1", "tags: { value: total_prce }");
    let valid: HashSet<String> = good
        .iter()
        .map(|t| {
            ordersync::rules::load_str(
                "rules.yaml",
                t,
                &ordersync::rules::LoadOptions { env: &|_| None },
            )
            .unwrap()
            .version
            .to_string()
        })
        .collect();
    std::fs::write(&path, &good[0]).unwrap();
    let first = Daemon::start(dir.path(), &path, &[]);
    let listen = first.base.trim_start_matches("http://").to_string();
    let daemon = Arc::new(Mutex::new(Some(first)));
    let done = Arc::new(AtomicBool::new(false));
    let load_ends = Instant::now() + Duration::from_secs(secs);
    let deadline = load_ends + Duration::from_secs(120);

    // SIGKILL every 1-4 s, and start again on the same port and database.
    let killer = {
        let (daemon, done, path, dir, listen) = (
            daemon.clone(),
            done.clone(),
            path.clone(),
            dir.path().to_path_buf(),
            listen.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut kills = 0;
            let mut peak_rss = 0u64;
            let mut samples = Vec::new();
            while !done.load(Ordering::SeqCst) {
                // Sleep in steps, sampling the daemon's memory every 5 s.
                let nap = Instant::now()
                    + Duration::from_millis(fastrand::u64(
                        kill_every.0 * 1000..kill_every.1 * 1000 + 1,
                    ));
                while Instant::now() < nap && !done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                    let t = started.elapsed().as_secs();
                    if samples.last().is_none_or(|(last, _)| t >= last + 5)
                        && let Some(d) = daemon.lock().unwrap().as_ref()
                    {
                        samples.push((t, rss_kib(d.pid())));
                    }
                }
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let mut slot = daemon.lock().unwrap();
                if let Some(mut d) = slot.take() {
                    peak_rss = peak_rss.max(rss_kib(d.pid()));
                    d.kill();
                }
                kills += 1;
                std::thread::sleep(Duration::from_millis(fastrand::u64(0..200)));
                *slot = Some(Daemon::start_at(&dir, &path, &listen, &[]));
            }
            (kills, peak_rss, samples)
        })
    };
    // The destination's mood changes every 2 s; the rules file every 1.5 s.
    let faults_seen = Arc::new(AtomicUsize::new(0));
    let chaos = {
        let (fault, done, faults_seen) = (fault.clone(), done.clone(), faults_seen.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !done.load(Ordering::SeqCst) && Instant::now() < load_ends {
                i += 1;
                fault.store((i % FAULTS.len()) as u8, Ordering::Relaxed);
                if i % FAULTS.len() != 0 {
                    faults_seen.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            fault.store(0, Ordering::Relaxed);
        })
    };
    let reloads = {
        let (path, good, bad, done) = (path.clone(), good.clone(), bad.clone(), done.clone());
        tokio::spawn(async move {
            let (mut good_writes, mut bad_writes) = (0, 0);
            let mut i = 0usize;
            while !done.load(Ordering::SeqCst) && Instant::now() < load_ends {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                i += 1;
                if i.is_multiple_of(3) {
                    std::fs::write(&path, &bad).unwrap();
                    bad_writes += 1;
                } else {
                    std::fs::write(&path, &good[i % 2]).unwrap();
                    good_writes += 1;
                }
            }
            std::fs::write(&path, &good[0]).unwrap();
            (good_writes, bad_writes)
        })
    };
    // The feed offers a new update every 100 ms.
    let feeder = {
        let (feed, done) = (feed.clone(), done.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) && Instant::now() < load_ends {
                let o = n % 50;
                feed.0.lock().unwrap().push(json!({
                    "id": format!("f-{n}"),
                    "event": "updated",
                    "order": {"id": format!("F-{o}"), "note": format!("f-{o}-{n}"),
                              "updated_at": stamp(n)},
                }));
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            n
        })
    };

    // Webhook senders retry each update (same body, same id) until a 2xx.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acked = Arc::new(Mutex::new(HashSet::<String>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    // Paced below what the destination takes even at its worst, so the
    // outbox drains and the end checks every update, however long the run.
    let round = Duration::from_secs_f64(10.0 * 4.0 / rate);
    let mut senders = Vec::new();
    for s in 0..4usize {
        let (client, acked, refused) = (client.clone(), acked.clone(), refused.clone());
        let url = format!("http://{listen}/webhooks/market");
        senders.push(tokio::spawn(async move {
            let mut k = 0usize;
            while Instant::now() < load_ends {
                let round_started = tokio::time::Instant::now();
                for o in (s..40).step_by(4) {
                    let id = format!("w-{o}-{k}");
                    let body = update(
                        &id,
                        if k == 0 { "created" } else { "updated" },
                        json!({"id": format!("W-{o}"), "note": id,
                               "updated_at": format!("2026-11-20T10:00:00.{k:06}Z")}),
                    );
                    let tries = support::send_until_accepted(
                        &client,
                        &url,
                        "market-secret",
                        &body,
                        deadline,
                    )
                    .await;
                    refused.fetch_add(tries, Ordering::Relaxed);
                    acked.lock().unwrap().insert(id.clone());
                }
                k += 1;
                tokio::time::sleep_until(round_started + round).await;
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    chaos.await.unwrap();
    let (good_writes, bad_writes) = reloads.await.unwrap();
    let offered = feeder.await.unwrap();
    done.store(true, Ordering::SeqCst);
    let (kills, peak_rss, samples) = killer.await.unwrap();
    let peak_rss = samples
        .iter()
        .map(|(_, r)| *r)
        .max()
        .unwrap_or(0)
        .max(peak_rss);
    let step = samples.len().div_ceil(30).max(1);
    let rss_over_time: Vec<String> = samples
        .iter()
        .step_by(step)
        .map(|(t, r)| format!("{t}s {:.1}", *r as f64 / 1024.0))
        .collect();
    let acked = acked.lock().unwrap().clone();

    // Drain: every acknowledged and every offered update reaches the store's destination.
    let offered_notes: HashSet<String> = feed
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|u| u["order"]["note"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = acked.union(&offered_notes).cloned().collect();
    let mut delivered = HashSet::new();
    while Instant::now() < deadline {
        delivered = mock
            .on("/shop/orders")
            .iter()
            .filter_map(|r| r.body["order"]["note"].as_str().map(str::to_string))
            .collect();
        if expected.is_subset(&delivered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lost: Vec<_> = expected.difference(&delivered).take(10).cloned().collect();

    // One key per decision; each order in order; every decision by valid rules.
    let received = mock.on("/shop/orders");
    let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
    let mut seen_keys = HashSet::new();
    let mut duplicates = 0;
    let mut last: HashMap<String, usize> = HashMap::new();
    let mut out_of_order = Vec::new();
    for r in &received {
        let Some(note) = r.body["order"]["note"].as_str() else {
            continue;
        };
        let key = r.header("idempotency-key").to_string();
        if !seen_keys.insert(key.clone()) {
            duplicates += 1;
        }
        keys.entry(note.to_string()).or_default().insert(key);
        let (order, k) = note.rsplit_once('-').unwrap();
        let k: usize = k.parse().unwrap();
        let prev = last.entry(order.to_string()).or_insert(0);
        if k + 1 < *prev {
            out_of_order.push(format!("{order}: {k} after {}", *prev - 1));
        }
        *prev = (*prev).max(k + 1);
    }
    let two_keys: Vec<_> = keys.iter().filter(|(_, k)| k.len() > 1).take(5).collect();
    let db = daemon.lock().unwrap().as_ref().unwrap().db.clone();
    let sql = rusqlite::Connection::open(&db).unwrap();
    let versions: Vec<String> = sql
        .prepare("SELECT DISTINCT rules_version FROM decisions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let invalid: Vec<_> = versions.iter().filter(|v| !valid.contains(*v)).collect();
    let decided_twice: i64 = sql
        .query_row(
            "SELECT count(*) FROM (SELECT update_id FROM decisions GROUP BY update_id, destination HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let stored: i64 = sql
        .query_row("SELECT count(*) FROM updates", [], |r| r.get(0))
        .unwrap();

    eprintln!(
        "\nharness summary ({secs} s of load, {rate} webhooks/s)\n\
         | webhook updates acknowledged | {} |\n\
         | polled updates offered | {offered} |\n\
         | updates stored | {stored} |\n\
         | sends refused or cut off, retried by the sender | {} |\n\
         | kills (SIGKILL) | {kills} |\n\
         | destination fault phases | {} |\n\
         | rules rewrites: good / bad | {good_writes} / {bad_writes} |\n\
         | rules versions that decided | {} |\n\
         | deliveries received | {} |\n\
         | duplicates delivered (same key again) | {duplicates} |\n\
         | losses | {} |\n\
         | out of order | {} |\n\
         | decisions under two keys | {} |\n\
         | decided twice | {decided_twice} |\n\
         | peak daemon RSS | {} KiB |\n\
         daemon RSS over time (MiB): {}",
        acked.len(),
        refused.load(Ordering::Relaxed),
        faults_seen.load(Ordering::Relaxed),
        versions.len(),
        received.len(),
        lost.len(),
        out_of_order.len(),
        two_keys.len(),
        peak_rss,
        rss_over_time.join(", "),
    );
    assert!(
        lost.is_empty(),
        "acknowledged or offered, never delivered: {lost:?}"
    );
    assert!(out_of_order.is_empty(), "{out_of_order:?}");
    assert!(
        two_keys.is_empty(),
        "a decision sent under two keys: {two_keys:?}"
    );
    assert!(
        invalid.is_empty(),
        "decided by rules that were never valid: {invalid:?}"
    );
    assert_eq!(
        decided_twice, 0,
        "an update decided twice for one destination"
    );
    assert!(
        kills as u64 >= secs / (kill_every.1 + 1),
        "only {kills} kills"
    );
    assert!(bad_writes >= 1 && good_writes >= 2);
}

/// A second apart per update, so the poll's overlap window re-reads only a few.
fn stamp(n: usize) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap()
        + chrono::Duration::seconds(n as i64);
    t.to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The resident set of a process, in KiB (0 when it cannot be read).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
