//! Several daemons on one PostgreSQL store (SPEC 11), as real processes: three
//! `ordersync serve` on one database of a throwaway cluster
//! (`support/pg_cluster.rs`), signed webhooks spread across them, a slow
//! sink, one daemon killed mid-delivery, one paused past its lease, the
//! server restarted. Nothing accepted is lost, every decision has one key,
//! each lane keeps its order, polls never overlap, lanes pass on within the
//! lease.
//!
//! Without PostgreSQL's server binaries the test says why, on its own line,
//! and passes; `.ci/run` installs them and sets `ORDERSYNC_PG_REQUIRED=1`,
//! which makes their absence a failure.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use support::pg_cluster::{Cluster, skipped};
use support::{Daemon, Mock, Reply, post_update, update};

/// Short, so the test waits seconds, not the default 15 s.
const LEASE: Duration = Duration::from_secs(3);

/// How long the marketplace takes to answer a poll.
const POLL_TAKES: Duration = Duration::from_millis(300);

/// A store `shop` that gets each marketplace order; the marketplace takes
/// webhooks and is polled every second.
fn rules(dir: &Path, mock: &Mock) -> PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver:
      url: "{base}/shop/orders"
      retry: {{ attempts: 20, first: 200ms, max: 1s }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
    poll: {{ schedule: "* * * * * *", url: "{base}/market/orders", format: ordersync }}
rules:
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

fn count(url: &str, sql: &str) -> i64 {
    support::pg_rows(url, sql)[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// A GET's body.
async fn get(client: &reqwest::Client, daemon: &Daemon, path: &str) -> String {
    let answer = client.get(daemon.url(path)).send().await.unwrap();
    answer.text().await.unwrap()
}

/// Version `v` of marketplace order `M-<n>`.
fn order_update(n: usize, v: u32) -> String {
    update(
        &format!("e-{n}-{v}"),
        if v == 1 { "created" } else { "updated" },
        json!({
            "id": format!("M-{n}"),
            "updated_at": format!("2026-11-20T10:0{v}:00Z"),
            "note": format!("v{v}"),
            "tags": [],
        }),
    )
}

/// Sends version `v` of orders `0..n`, the k-th to `to[k % len]`; each must be taken.
async fn send_all(client: &reqwest::Client, to: &[&Daemon], n: usize, v: u32) {
    for k in 0..n {
        let body = order_update(k, v);
        let daemon = to[k % to.len()];
        let (status, answer) = post_update(client, daemon, "market", "market-secret", &body).await;
        assert_eq!(status, 202, "version {v} of M-{k}: {answer}");
    }
}

/// Waits until `n` distinct keys reached the sink.
async fn wait_keys(mock: &Mock, n: usize, within: Duration) -> Instant {
    let until = Instant::now() + within;
    loop {
        let keys: BTreeSet<String> = mock
            .on("/shop/orders")
            .iter()
            .map(|r| r.header("idempotency-key").to_string())
            .collect();
        if keys.len() >= n {
            return Instant::now();
        }
        assert!(
            Instant::now() < until,
            "{} of {n} deliveries reached the sink within {within:?}",
            keys.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_lose_nothing_through_a_kill_a_pause_and_a_server_restart() {
    let name = "three_daemons_lose_nothing_through_a_kill_a_pause_and_a_server_restart";
    // A cluster of its own: this test restarts it.
    let cluster = match Cluster::new() {
        Ok(c) => c,
        Err(why) => return skipped(name, &why),
    };
    let url = cluster.database().await.unwrap();
    let mock = Mock::start().await;
    // The sink is slow: 100 ms an order, 1 s while `slow` is set.
    let slow = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_sink = slow.clone();
    mock.respond(move |req, _| {
        let mut reply = match req.path.as_str() {
            "/market/orders" => Reply::new(200, "[]"),
            _ => Reply::new(200, "{}"),
        };
        reply.delay = match req.path.as_str() {
            "/market/orders" => POLL_TAKES,
            _ if slow_sink.load(std::sync::atomic::Ordering::Relaxed) => Duration::from_secs(1),
            _ => Duration::from_millis(100),
        };
        reply
    });
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let path = rules(dirs[0].path(), &mock);
    let lease = format!("{}s", LEASE.as_secs());
    let args = ["--db", url.as_str(), "--lease", lease.as_str()];
    let mut daemons: Vec<Daemon> = dirs
        .iter()
        .map(|d| Daemon::start(d.path(), &path, &args))
        .collect();
    let client = reqwest::Client::new();
    const ORDERS: usize = 20;

    // 1. Created orders to all three; one is killed while they are being sent.
    let all: Vec<&Daemon> = daemons.iter().collect();
    send_all(&client, &all, ORDERS, 1).await;
    mock.wait_for("/shop/orders", 3, Duration::from_secs(10))
        .await;
    daemons[0].kill();
    let killed = Instant::now();
    let done = wait_keys(&mock, ORDERS, Duration::from_secs(20)).await;
    assert!(
        done.duration_since(killed) < LEASE + Duration::from_secs(3),
        "the killed daemon's lanes passed on after {:?}",
        done.duration_since(killed)
    );

    // 2. Updates to the two left; one is paused, with requests in flight,
    //    for twice the lease: the other takes its lanes over within the
    //    lease (and a claim and a slow answer).
    slow.store(true, std::sync::atomic::Ordering::Relaxed);
    send_all(&client, &[&daemons[1], &daemons[2]], ORDERS, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemons[1].signal("STOP");
    let stopped = Instant::now();
    wait_keys(&mock, 2 * ORDERS, LEASE + Duration::from_secs(3)).await;
    tokio::time::sleep((2 * LEASE).saturating_sub(stopped.elapsed())).await;
    daemons[1].signal("CONT");
    slow.store(false, std::sync::atomic::Ordering::Relaxed);

    // 3. The server restarts: meanwhile a webhook is refused with 503 (never
    //    a 2xx that is not durable); after it, each daemon reconnects.
    cluster.stop().unwrap();
    let body = order_update(0, 3);
    let (status, answer) =
        post_update(&client, &daemons[2], "market", "market-secret", &body).await;
    assert_eq!(
        (status, answer),
        (
            503,
            json!({"error": "the store cannot be reached; nothing was stored, send it again later"})
        )
    );
    cluster.start().unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    for k in 0..ORDERS {
        let body = order_update(k, 3);
        let daemon = &daemons[1 + k % 2];
        loop {
            let (status, answer) =
                post_update(&client, daemon, "market", "market-secret", &body).await;
            if status == 202 {
                break;
            }
            assert_eq!(status, 503, "{answer}");
            assert!(Instant::now() < until, "no reconnect after the restart");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    wait_keys(&mock, 3 * ORDERS, Duration::from_secs(30)).await;

    // Every accepted update was decided once and delivered, under one key.
    let until = Instant::now() + Duration::from_secs(20);
    while count(
        &url,
        "SELECT count(*) FROM deliveries WHERE status = 'pending'",
    ) > 0
    {
        assert!(Instant::now() < until, "deliveries still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&url, "SELECT count(*) FROM updates"), 60);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
        ),
        60
    );
    assert_eq!(count(&url, "SELECT count(*) FROM lanes"), 0);
    let stored = support::pg_rows(
        &url,
        "SELECT d.idempotency_key, d.order_id, d.id FROM deliveries d ORDER BY d.id",
    );
    let key_of: BTreeMap<String, (String, i64)> = stored
        .iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                (
                    r[1].clone().unwrap(),
                    r[2].as_deref().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(key_of.len(), 60, "one key per decision");
    let sent = mock.on("/shop/orders");
    let sent_keys: BTreeSet<&str> = sent.iter().map(|r| r.header("idempotency-key")).collect();
    assert_eq!(
        sent_keys,
        key_of.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        "the sink got exactly the stored deliveries"
    );
    // Each order's deliveries first reached the sink in the order decided; a
    // resend (same key) after a takeover may come again later.
    let mut firsts: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in &sent {
        let key = r.header("idempotency-key");
        if seen.insert(key) {
            let (order, id) = &key_of[key];
            firsts.entry(order).or_default().push(*id);
        }
    }
    for (order, ids) in &firsts {
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "order {order} out of order: {ids:?}"
        );
    }
    println!(
        "{} requests for 60 deliveries ({} resent with their key after a takeover)",
        sent.len(),
        sent.len() - 60
    );
    // The paused daemon found its lanes taken and recorded nothing for them.
    assert!(
        daemons[1]
            .log_text()
            .contains("a delivery's lane was taken over; its outcome here is dropped"),
        "{}",
        daemons[1].log_text()
    );

    // Never two polls of the channel in flight (each takes POLL_TAKES).
    let polls = mock.on("/market/orders");
    assert!(polls.len() >= 2, "{} polls", polls.len());
    for w in polls.windows(2) {
        let gap = w[1].at.duration_since(w[0].at);
        assert!(
            gap >= POLL_TAKES - Duration::from_millis(10),
            "two polls {gap:?} apart"
        );
    }

    // GET /api/rules lists the live daemons with the rules each runs.
    let r: serde_json::Value =
        serde_json::from_str(&get(&client, &daemons[2], "/api/rules").await).unwrap();
    let listed = r["daemons"].as_array().unwrap();
    assert!((2..=3).contains(&listed.len()), "{r}");
    assert!(
        listed.iter().all(|d| d["rules_version"] == r["version"]),
        "{r}"
    );
    assert_eq!(
        listed.iter().filter(|d| d["this"] == true).count(),
        1,
        "{r}"
    );
    for d in &mut daemons[1..] {
        assert!(
            d.terminate(Duration::from_secs(10))
                .is_some_and(|s| s.success()),
            "{}",
            d.log_text()
        );
    }
}

/// Two daemons on one store with different rules: each lists both, with the
/// version each runs, and the channels page warns until the same file is
/// loaded on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_rules_are_listed_and_a_difference_is_shown() {
    let name = "the_daemons_rules_are_listed_and_a_difference_is_shown";
    let Some(url) = support::pg_cluster::database_for(name).await else {
        return;
    };
    let mock = Mock::start().await;
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a_rules = rules(a_dir.path(), &mock);
    let b_rules = rules(b_dir.path(), &mock);
    let text = std::fs::read_to_string(&b_rules).unwrap();
    std::fs::write(&b_rules, text.replace("tags: Market", "tags: Marketplace")).unwrap();
    let args = ["--db", url.as_str(), "--no-watch"];
    let a = Daemon::start(a_dir.path(), &a_rules, &args);
    let b = Daemon::start(b_dir.path(), &b_rules, &args);
    let client = reqwest::Client::new();
    let version = async |daemon: &Daemon| {
        let r: serde_json::Value =
            serde_json::from_str(&get(&client, daemon, "/api/rules").await).unwrap();
        r["version"].as_str().unwrap().to_string()
    };
    let (va, vb) = (version(&a).await, version(&b).await);
    assert_ne!(va, vb);
    let listed: serde_json::Value =
        serde_json::from_str(&get(&client, &a, "/api/rules").await).unwrap();
    let mut pairs: Vec<(String, bool)> = listed["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rules_version"].as_str().unwrap().to_string(),
                d["this"] == true,
            )
        })
        .collect();
    pairs.sort();
    let mut expected = vec![(va.clone(), true), (vb.clone(), false)];
    expected.sort();
    assert_eq!(pairs, expected, "{listed}");
    let page = get(&client, &a, "/channels").await;
    let mut both = [va.as_str(), vb.as_str()];
    both.sort();
    assert!(
        page.contains(&format!(
            "<b>The daemons run different rules: {}, {}.</b>",
            both[0], both[1]
        )),
        "{page}"
    );
    assert!(page.contains("<h2>Daemons on this store</h2>"), "{page}");
    assert_eq!(
        page.matches("<small>(this one)</small>").count(),
        1,
        "{page}"
    );
    // The same file on both: the warning goes.
    std::fs::copy(&a_rules, &b_rules).unwrap();
    let reloaded = client
        .post(b.url("/api/rules/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(reloaded.status(), 200);
    assert_eq!(version(&b).await, va);
    let page = get(&client, &a, "/channels").await;
    assert!(!page.contains("The daemons run different rules"), "{page}");
    assert_eq!(page.matches(r#"<tr class="daemon">"#).count(), 2, "{page}");
}
