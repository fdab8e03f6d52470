//! Running ordersync for months (SPEC 9): `/metrics` after known traffic, the
//! admin token, log formats for journald and shippers, housekeeping, and the
//! systemd watchdog. Each test runs the real daemon on port 0.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, get_with_token, metric, post_update, sign, update};

const TOKEN: &str = "t0ken-for-tests";

/// A store `shop` and a marketplace `market` whose orders it imports.
fn rules(dir: &Path, mock: &Mock) -> PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver:
      url: "{base}/shop/orders"
      retry: {{ attempts: 50, first: 1s, max: 1s }}
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

fn start(dir: &Path, rules: &Path, extra: &[&str]) -> Daemon {
    Daemon::start_with(
        dir,
        rules,
        "127.0.0.1:0",
        extra,
        &[("ORDERSYNC_ADMIN_TOKEN", TOKEN)],
    )
}

async fn send(client: &reqwest::Client, daemon: &Daemon, id: &str, order: Json) -> (u16, Json) {
    post_update(
        client,
        daemon,
        "market",
        "market-secret",
        &update(id, "created", order),
    )
    .await
}

/// Checks the exposition format line by line: every sample's family has
/// `# HELP` and `# TYPE` before it, names carry the prefix, counters end in
/// `_total`, values are numbers.
fn check_format(text: &str) {
    let mut typed: std::collections::HashMap<String, String> = Default::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.split_once(' ').is_some(), "{line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        value.parse::<f64>().expect(line);
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("ordersync_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no # TYPE before {line}");
        let labels = &series[name.len()..];
        if !labels.is_empty() {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split(',') {
                let (k, v) = pair.split_once('=').expect(line);
                assert!(k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
                assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_known_traffic_in_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(dir.path(), &mock);
    let daemon = start(dir.path(), &path, &["--no-watch"]);
    let client = reqwest::Client::new();

    let o1 = json!({"id": "M-1", "updated_at": "2026-11-20T10:00:00Z", "tags": []});
    let o2 = json!({"id": "M-2", "updated_at": "2026-11-20T10:00:00Z", "tags": []});
    assert_eq!(send(&client, &daemon, "e1", o1.clone()).await.0, 202);
    assert_eq!(send(&client, &daemon, "e2", o2).await.0, 202);
    assert_eq!(send(&client, &daemon, "e1", o1).await.0, 200);
    let older = json!({"id": "M-1", "updated_at": "2026-11-20T09:00:00Z", "tags": []});
    assert_eq!(send(&client, &daemon, "e3", older).await.0, 202);
    let bad = client
        .post(daemon.url("/webhooks/market"))
        .header("X-Ordersync-Signature", sign("wrong", "{}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let unknown = client
        .post(daemon.url("/webhooks/nowhere-7f3a"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    mock.wait_for("/shop/orders", 2, Duration::from_secs(10))
        .await;
    // A refused reload shows as a metric too.
    std::fs::write(&path, "version: 1\nchannels: [\n").unwrap();
    let r = client
        .post(daemon.url("/api/rules/reload"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // The delivery is counted once its outcome is recorded: wait for it.
    let started = Instant::now();
    let text = loop {
        let (status, text) = get_with_token(&client, &daemon, "/metrics", TOKEN).await;
        assert_eq!(status, 200);
        let delivered =
            "ordersync_delivery_attempts_total{destination=\"shop\",outcome=\"delivered\"}";
        if metric(&text, delivered) == Some(2.0) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    check_format(&text);
    let expect = [
        (
            "ordersync_webhook_requests_total{channel=\"market\",outcome=\"accepted\"}",
            2.0,
        ),
        (
            "ordersync_webhook_requests_total{channel=\"market\",outcome=\"duplicate\"}",
            1.0,
        ),
        (
            "ordersync_webhook_requests_total{channel=\"market\",outcome=\"stale\"}",
            1.0,
        ),
        (
            "ordersync_webhook_requests_total{channel=\"market\",outcome=\"unauthorized\"}",
            1.0,
        ),
        (
            "ordersync_webhook_requests_total{channel=\"unknown\",outcome=\"unknown_channel\"}",
            1.0,
        ),
        (
            "ordersync_webhook_signature_failures_total{channel=\"market\"}",
            1.0,
        ),
        ("ordersync_updates_duplicate_total{channel=\"market\"}", 1.0),
        ("ordersync_updates_stale_total{channel=\"market\"}", 1.0),
        (
            "ordersync_decisions_total{destination=\"shop\",outcome=\"deliver\"}",
            2.0,
        ),
        (
            "ordersync_delivery_latency_seconds_count{destination=\"shop\"}",
            2.0,
        ),
        (
            "ordersync_delivery_latency_seconds_bucket{destination=\"shop\",le=\"+Inf\"}",
            2.0,
        ),
        ("ordersync_outbox_depth", 0.0),
        ("ordersync_outbox_oldest_age_seconds", 0.0),
        ("ordersync_rules_reloads_total{outcome=\"rejected\"}", 1.0),
        ("ordersync_rules_reload_failing", 1.0),
    ];
    for (series, value) in expect {
        assert_eq!(metric(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(
        !text.contains("nowhere-7f3a"),
        "an unknown channel's name is not a label"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("ordersync_build_info{version=\"") && l.ends_with("\"} 1")),
        "{text}"
    );
    let loaded = metric(&text, "ordersync_rules_loaded_timestamp_seconds").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - loaded).abs() < 120.0, "{loaded} vs {now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_and_metrics_need_the_token_and_webhooks_and_health_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(dir.path(), &mock);
    let daemon = start(dir.path(), &path, &["--no-watch"]);
    let client = reqwest::Client::new();
    for path in ["/metrics", "/api/rules"] {
        let r = client.get(daemon.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer realm=\"ordersync\""
        );
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"error":"this needs `Authorization: Bearer <admin token>`"}"#
        );
        let (status, body) = get_with_token(&client, &daemon, path, "not-the-token").await;
        assert_eq!(
            (status, body.as_str()),
            (401, r#"{"error":"the admin token is wrong"}"#)
        );
    }
    let r = client
        .post(daemon.url("/api/rules/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for path in ["/healthz", "/readyz"] {
        let r = client.get(daemon.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let o = json!({"id": "M-1", "tags": []});
    assert_eq!(send(&client, &daemon, "e1", o).await.0, 202);
    let (status, body) = get_with_token(&client, &daemon, "/api/rules", TOKEN).await;
    assert_eq!(status, 200);
    let rules: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(rules["path"], path.display().to_string());
    assert_eq!(rules["channels"], json!(["shop", "market"]));
    assert_eq!(rules["last_error"], Json::Null);
    assert_eq!(rules["last_reload"], Json::Null);
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nchannels:\n  shop: { role: commerce_platform, deliver: { url: \"http://127.0.0.1:9/x\" } }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["serve", "--listen", "0.0.0.0:0", "--rules"])
        .arg(&rules)
        .arg("--db")
        .arg(dir.path().join("o.db"))
        .env_remove("ORDERSYNC_ADMIN_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: refusing to listen on 0.0.0.0:0 without an admin token: the admin API and \
         /metrics would be open to the network; set ORDERSYNC_ADMIN_TOKEN or \
         --admin-token-file, or listen on 127.0.0.1\n"
    );
    assert!(!dir.path().join("o.db").exists(), "nothing was opened");
}

/// An order full of personal data, and the secrets: none may reach the log.
const PRIVATE: [&str; 4] = [
    "jane.doe@example.com",
    "221B Baker Street",
    "market-secret",
    TOKEN,
];

fn private_order(id: &str) -> Json {
    json!({
        "id": id, "tags": [], "total_price": 12.5,
        "customer": {"email": "jane.doe@example.com", "first_name": "Jane"},
        "shipping_address": {"address1": "221B Baker Street", "city": "London"},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_without_order_contents_or_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, n| {
        if n == 0 {
            Reply::new(500, "try later")
        } else {
            Reply::new(200, "{}")
        }
    });
    let path = rules(dir.path(), &mock);
    let mut daemon = start(dir.path(), &path, &["--log-format", "json"]);
    let client = reqwest::Client::new();
    assert_eq!(
        send(&client, &daemon, "e1", private_order("M-1")).await.0,
        202
    );
    mock.wait_for("/shop/orders", 2, Duration::from_secs(10))
        .await;
    let (status, _) = get_with_token(&client, &daemon, "/metrics", TOKEN).await;
    assert_eq!(status, 200);
    assert!(daemon.terminate(Duration::from_secs(10)).unwrap().success());
    let log = daemon.log_text();
    let lines: Vec<Json> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let find = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in\n{log}"))
    };
    assert_eq!(find("ordersync listening")["level"], "INFO");
    let retry = find("delivery failed; trying again");
    assert_eq!(retry["level"], "WARN");
    assert_eq!(retry["destination"], "shop");
    assert_eq!(retry["status"], 500);
    assert_eq!(find("delivered")["order"], "ord_1");
    assert_eq!(find("stopped")["level"], "INFO");
    for private in PRIVATE {
        assert!(!log.contains(private), "{private} in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_journald_every_line_carries_its_syslog_level() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(dir.path(), &mock);
    // `auto` detects the journal by JOURNAL_STREAM naming standard error's device and inode.
    let daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &[("JOURNAL_STREAM", support::LOG_DEV_INO)],
    );
    let client = reqwest::Client::new();
    assert_eq!(
        send(&client, &daemon, "e1", private_order("M-1")).await.0,
        202
    );
    mock.wait_for("/shop/orders", 1, Duration::from_secs(10))
        .await;
    // A refused reload: a multi-line error, every line at `err`.
    std::fs::write(&path, "version: 1\nchannels:\n  shop: { role: seller }\n").unwrap();
    let started = Instant::now();
    while !daemon.log_text().contains("rules reload refused") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = daemon.log_text();
    assert!(log.lines().all(|l| l.starts_with('<')), "{log}");
    assert!(
        !log.contains("tokio_cron_scheduler"),
        "the scheduler's chatter is not at info: {log}"
    );
    let info = log
        .lines()
        .find(|l| l.contains("ordersync listening"))
        .unwrap();
    assert!(
        info.starts_with("<6> INFO ordersync::daemon: ordersync listening"),
        "{info}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("<4> WARN") && l.contains("no admin token")),
        "{log}"
    );
    let refused: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("rules reload refused"))
        .take_while(|l| l.starts_with("<3>"))
        .collect();
    assert!(refused.len() > 3, "{log}");
    assert!(
        refused.iter().any(|l| l.starts_with("<3> --> ")),
        "the place is on an error line too: {log}"
    );
    for private in PRIVATE {
        assert!(!log.contains(private), "{private} in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_marks_stuck_deliveries_and_prunes_what_is_settled() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    // The store refuses M-2 for ever (500): it stays pending, and becomes stuck.
    mock.respond(|r, _| {
        if r.body["order"]["id"] == "M-2" {
            Reply::new(500, "down")
        } else {
            Reply::new(200, "{}")
        }
    });
    let path = rules(dir.path(), &mock);
    let daemon = start(
        dir.path(),
        &path,
        &[
            "--housekeeping-schedule",
            "* * * * * *",
            "--stuck-after",
            "1s",
            "--retention",
            "2s",
        ],
    );
    let client = reqwest::Client::new();
    let m1 = |n: u32| json!({"id": "M-1", "tags": [], "note": format!("v{n}")});
    assert_eq!(send(&client, &daemon, "e1", m1(1)).await.0, 202);
    assert_eq!(send(&client, &daemon, "e2", m1(2)).await.0, 202);
    assert_eq!(
        send(&client, &daemon, "e3", json!({"id": "M-2", "tags": []}))
            .await
            .0,
        202
    );
    mock.wait_for("/shop/orders", 3, Duration::from_secs(10))
        .await;
    let started = Instant::now();
    loop {
        let pruned = daemon.count("SELECT count(*) FROM updates WHERE pruned_at IS NOT NULL");
        let stuck = daemon.count("SELECT count(*) FROM deliveries WHERE stuck_at IS NOT NULL");
        if pruned > 0 && stuck > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pruned {pruned}, stuck {stuck}\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only the first update of M-1 is settled and not its order's newest.
    let rows: Vec<(String, i64, bool)> = daemon
        .rows("SELECT event_id, length(payload), pruned_at FROM updates ORDER BY id")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].as_deref().unwrap().parse().unwrap(),
                r[2].is_some(),
            )
        })
        .collect();
    assert_eq!(rows[0].0, "e1");
    assert_eq!((rows[0].1, rows[0].2), (0, true));
    assert!(
        rows[1].1 > 0 && !rows[1].2,
        "the order's newest update is kept whole"
    );
    assert!(
        rows[2].1 > 0 && !rows[2].2,
        "an update still being delivered is kept whole"
    );
    // The stuck one is M-2's; the delivered ones' attempts are gone once old enough.
    let stuck: String = daemon
        .text("SELECT status FROM deliveries WHERE stuck_at IS NOT NULL")
        .unwrap();
    assert_eq!(stuck, "pending");
    let started = Instant::now();
    while daemon.count(
        "SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.status = 'delivered'",
    ) > 0
    {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(daemon.count(
        "SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.status = 'pending'",
    ) > 0, "the failing delivery's attempts are kept");
    let (_, text) = get_with_token(&client, &daemon, "/metrics", TOKEN).await;
    assert_eq!(
        metric(&text, "ordersync_deliveries_stuck"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(metric(&text, "ordersync_outbox_depth"), Some(1.0));
    assert!(metric(&text, "ordersync_outbox_oldest_age_seconds").unwrap() >= 1.0);
    assert!(
        metric(
            &text,
            "ordersync_housekeeping_rows_total{kind=\"payloads\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(daemon.log_text().contains("housekeeping"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_the_systemd_watchdog_while_the_store_and_scheduler_answer() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let path = rules(dir.path(), &mock);
    let _daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &["--no-watch"],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "600000"),
        ],
    );
    let mut buf = [0u8; 256];
    let mut pings = 0;
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_millis(1800) {
        let n = socket.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap().trim().to_string();
        if msg == "WATCHDOG=1" {
            pings += 1;
        }
        seen.push(msg);
    }
    assert_eq!(seen[0], "READY=1");
    // Every 300 ms (half of WatchdogSec): about 6 in 1.8 s.
    assert!(pings >= 4, "{seen:?}");
}
