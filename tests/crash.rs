//! SPEC 10, guarantees 1-3 under fire: 2,000 signed updates sent while the
//! daemon is killed with SIGKILL at random moments and restarted. Afterwards
//! every update that was answered 2xx has been delivered, no decision reached
//! the destination under two different `Idempotency-Key`s, and no order's
//! updates arrived out of order. Loopback only; bounded in time.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Daemon, Mock, Reply, update};

const ORDERS: usize = 200;
const UPDATES_PER_ORDER: usize = 10;
const SENDERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_across_random_kills() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, "{}"));
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver:
      url: "{base}/shop/orders"
      retry: {{ attempts: 50, first: 50ms, max: 500ms }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
"#,
            base = mock.base
        ),
    )
    .unwrap();
    let first = Daemon::start(dir.path(), &rules, &[]);
    let listen = first.base.trim_start_matches("http://").to_string();
    let daemon = Arc::new(Mutex::new(Some(first)));
    let done = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(HashSet::<String>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(120);

    // The killer: SIGKILL at a random moment, then start again on the same port.
    let killer = {
        let (daemon, done, rules, dir, listen) = (
            daemon.clone(),
            done.clone(),
            rules.clone(),
            dir.path().to_path_buf(),
            listen.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut kills = 0;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(fastrand::u64(40..250)));
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let mut slot = daemon.lock().unwrap();
                if let Some(mut d) = slot.take() {
                    d.kill();
                }
                kills += 1;
                std::thread::sleep(Duration::from_millis(fastrand::u64(0..100)));
                *slot = Some(Daemon::start_at(&dir, &rules, &listen, &[]));
            }
            kills
        })
    };

    // Senders: each owns some orders and sends each order's updates in turn,
    // retrying (same body, same id) until it gets a 2xx, as a real sender does.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let (client, acked, refused, url) = (
            client.clone(),
            acked.clone(),
            refused.clone(),
            format!("http://{listen}/webhooks/market"),
        );
        senders.push(tokio::spawn(async move {
            for k in 0..UPDATES_PER_ORDER {
                for o in (s..ORDERS).step_by(SENDERS) {
                    let id = format!("u-{o}-{k}");
                    let body = update(
                        &id,
                        if k == 0 { "created" } else { "updated" },
                        json!({"id": format!("O-{o}"), "note": id,
                               "updated_at": format!("2026-11-20T10:{k:02}:00Z")}),
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
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let kills = killer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), ORDERS * UPDATES_PER_ORDER);
    assert!(kills >= 5, "only {kills} kills: the test did not test much");

    // Let the last daemon finish delivering.
    let mut delivered = HashSet::new();
    while Instant::now() < deadline {
        delivered = mock
            .on("/shop/orders")
            .iter()
            .map(|r| r.body["order"]["note"].as_str().unwrap().to_string())
            .collect();
        if delivered.len() == acked.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<_> = acked.difference(&delivered).take(10).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but never delivered: {missing:?}"
    );

    // One key per decision, and each order's updates in order.
    let mut keys: HashMap<String, HashSet<String>> = HashMap::new();
    let mut last: HashMap<String, usize> = HashMap::new();
    let received = mock.on("/shop/orders");
    for r in &received {
        let note = r.body["order"]["note"].as_str().unwrap();
        keys.entry(note.to_string())
            .or_default()
            .insert(r.header("idempotency-key").to_string());
        let (order, k) = note.rsplit_once('-').unwrap();
        let k: usize = k.parse().unwrap();
        let prev = last.entry(order.to_string()).or_insert(0);
        assert!(
            k + 1 >= *prev,
            "{order}: update {k} arrived after update {}",
            *prev - 1
        );
        *prev = (*prev).max(k + 1);
    }
    let two_keys: Vec<_> = keys.iter().filter(|(_, k)| k.len() > 1).take(5).collect();
    assert!(
        two_keys.is_empty(),
        "a decision sent under two keys: {two_keys:?}"
    );
    eprintln!(
        "crash test: {} updates acknowledged, {kills} kills, {} refused sends retried, {} deliveries received for {} decisions",
        acked.len(),
        refused.load(Ordering::Relaxed),
        received.len(),
        keys.len()
    );
}
