//! A crash between durable steps loses nothing (SPEC 10.1-10.2): the daemon
//! is aborted at each failpoint (`ORDERSYNC_FAILPOINT`, honoured by debug
//! builds), restarted on the same database, and what the sender and the
//! destination saw is checked.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Daemon, Mock, post_update, sign, update};

const WAIT: Duration = Duration::from_secs(10);

fn rules(dir: &std::path::Path, mock: &Mock) -> std::path::PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver: {{ url: "{base}/shop/orders", retry: {{ attempts: 5, first: 100ms, max: 200ms }} }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
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

fn body() -> String {
    update("evt-1", "created", json!({"id": "M-1", "tags": []}))
}

/// Sends the update to a daemon armed with `point`; answers whether a
/// response came, after the daemon has aborted.
async fn send_and_crash(daemon: &mut Daemon, client: &reqwest::Client) -> Option<u16> {
    let sent = client
        .post(daemon.url("/webhooks/market"))
        .header("X-Ordersync-Signature", sign("market-secret", &body()))
        .body(body())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let status = sent.ok().map(|r| r.status().as_u16());
    let exit = daemon
        .wait_exit(WAIT)
        .expect("the failpoint aborted the daemon");
    assert!(!exit.success(), "{exit:?}");
    assert!(
        daemon.log_text().contains("failpoint"),
        "{}",
        daemon.log_text()
    );
    status
}

fn armed(point: &str) -> [(&str, &str); 1] {
    [("ORDERSYNC_FAILPOINT", point)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_commit_leaves_nothing_and_the_resend_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(dir.path(), &mock);
    let client = reqwest::Client::new();
    let mut daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &armed("ingest-before-commit"),
    );
    assert_eq!(
        send_and_crash(&mut daemon, &client).await,
        None,
        "no answer before the commit"
    );
    let daemon = Daemon::start(dir.path(), &path, &[]);
    assert_eq!(daemon.count("SELECT count(*) FROM updates"), 0);
    assert_eq!(daemon.count("SELECT count(*) FROM decisions"), 0);
    // The sender got no 2xx, so it sends again: stored, decided, delivered once.
    let (status, _) = post_update(&client, &daemon, "market", "market-secret", &body()).await;
    assert_eq!(status, 202);
    mock.wait_for("/shop/orders", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mock.on("/shop/orders").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_commit_delivers_once_and_the_resend_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(dir.path(), &mock);
    let client = reqwest::Client::new();
    let mut daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &armed("ingest-after-commit"),
    );
    assert_eq!(send_and_crash(&mut daemon, &client).await, None);
    // Committed before the crash: on restart it is decided and delivered.
    let daemon = Daemon::start(dir.path(), &path, &[]);
    assert_eq!(daemon.count("SELECT count(*) FROM updates"), 1);
    mock.wait_for("/shop/orders", 1, WAIT).await;
    let (status, answer) = post_update(&client, &daemon, "market", "market-secret", &body()).await;
    assert_eq!((status, answer), (200, json!({"duplicate": true})));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mock.on("/shop/orders").len(),
        1,
        "one delivery for one update"
    );
    assert_eq!(daemon.count("SELECT count(*) FROM decisions"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_destination_answered_resends_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(dir.path(), &mock);
    let client = reqwest::Client::new();
    let mut daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &armed("delivery-after-2xx"),
    );
    let sent = client
        .post(daemon.url("/webhooks/market"))
        .header("X-Ordersync-Signature", sign("market-secret", &body()))
        .body(body())
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.status(),
        202,
        "stored and answered before the delivery"
    );
    assert!(
        !daemon
            .wait_exit(WAIT)
            .expect("aborted after the 2xx")
            .success()
    );
    assert_eq!(mock.on("/shop/orders").len(), 1);
    // The 2xx was never recorded: the restart sends it again, with the same key.
    let daemon = Daemon::start(dir.path(), &path, &[]);
    let got = mock.wait_for("/shop/orders", 2, WAIT).await;
    assert_eq!(
        got[0].header("idempotency-key"),
        got[1].header("idempotency-key")
    );
    assert_eq!(got[0].raw, got[1].raw, "the same request");
    let started = std::time::Instant::now();
    while daemon.count("SELECT count(*) FROM deliveries WHERE status = 'delivered'") != 1 {
        assert!(started.elapsed() < WAIT);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(daemon.count("SELECT count(*) FROM attempts"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mock.on("/shop/orders").len(), 2);
}
