//! The daemon end to end (SPEC 5, 6.1, 6.3, 10): the real `ordersync serve`
//! on port 0 with a SQLite file in a temp dir, and local HTTP servers as the
//! store, the marketplaces and the supplier.

#[path = "support/shopify_fake.rs"]
mod shopify_fake;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, post_update, sign, sign_shopify, update};

const WAIT: Duration = Duration::from_secs(10);

/// The bundled `rules.example.yaml` with its store on the fake Shopify
/// `shop` and its other destinations moved to `mock`.
fn seed_rules(dir: &Path, mock: &Mock, shop: &shopify_fake::FakeShopify) -> PathBuf {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules.example.yaml"))
        .unwrap();
    let store = "${SHOPIFY_BASE_URL:-http://127.0.0.1:9101}";
    assert!(text.contains(store));
    let text = text.replace(store, &shop.base_url());
    let text = regex::Regex::new(r"http://127\.0\.0\.1:91\d\d")
        .unwrap()
        .replace_all(&text, mock.base.as_str())
        .into_owned();
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A small recipe: orders from `market` are imported into `shop`, tagged; the
/// shop's shipments go back to `market`. Retries are quick.
fn small_rules(dir: &Path, mock: &Mock) -> PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: ordersync, secret: shop-secret }}
    deliver:
      url: "{base}/shop/orders"
      secret: deliver-secret
      retry: {{ attempts: 3, first: 200ms, max: 400ms }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
    deliver:
      url: "{base}/market/updates"
      accepts: [shipped]
      retry: {{ attempts: 3, first: 200ms, max: 400ms }}
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

/// The store's Shopify order webhook body for store order `id`.
fn shopify_order(id: u64, tags: &str, updated_at: &str) -> String {
    let mut o: Json = serde_json::from_str(include_str!("fixtures/shopify_order.json")).unwrap();
    o["id"] = json!(id);
    o["admin_graphql_api_id"] = json!(format!("gid://shopify/Order/{id}"));
    o["tags"] = json!(tags);
    o["updated_at"] = json!(updated_at);
    for item in o["line_items"].as_array_mut().unwrap() {
        let sku = item["sku"]
            .as_str()
            .unwrap()
            .trim_start_matches("DS-")
            .to_string();
        item["sku"] = json!(sku);
    }
    o.to_string()
}

async fn post_shopify(
    client: &reqwest::Client,
    daemon: &Daemon,
    topic: &str,
    event_id: &str,
    body: &str,
) -> (u16, Json) {
    let resp = client
        .post(daemon.url("/webhooks/shopify"))
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Event-Id", event_id)
        .header(
            "X-Shopify-Hmac-Sha256",
            sign_shopify("dev-only-shopify", body),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_recipe_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    // The store (the fake Shopify, with the example's dev token) creates the
    // order at once but answers the create only after its echo of the new
    // order has already been sent to ordersync (below).
    let shop = shopify_fake::FakeShopify::start("dev-only-token", "2025-10").await;
    shop.script(
        "orderCreate",
        shopify_fake::Behaviour::CommitThenSlow(Duration::from_secs(2)),
    );
    mock.respond(|_, _| Reply::new(200, "{}"));
    let daemon = Daemon::start(dir.path(), &seed_rules(dir.path(), &mock, &shop), &[]);
    let client = reqwest::Client::new();

    // 1. An eBay order comes in and is created in the store, tagged eBay.
    let order = json!({"id": "27-1138", "financial_status": "paid", "tags": [],
                       "total_price": 20, "currency": "USD", "updated_at": "2026-11-20T10:00:00Z",
                       "line_items": [{"sku": "MUG-1", "title": "Mug", "quantity": 1, "price": 20}]});
    let (status, body) = post_update(
        &client,
        &daemon,
        "ebay",
        "dev-only-ebay",
        &update("ebay-evt-1", "created", order),
    )
    .await;
    assert_eq!((status, body), (202, json!({"update": 1})));
    wait_until(WAIT, || shop.orders().len() == 1).await;
    let created = shop.requests_for("orderCreate");
    let c = &created[0].variables["order"];
    assert_eq!(c["tags"], json!(["eBay", "ordersync:ord_1"]));
    assert_eq!(c["sourceIdentifier"], "ord_1");
    assert_eq!(
        c["lineItems"][0]["priceSet"]["shopMoney"]["amount"],
        "20.00"
    );
    let store_id: u64 = shop.orders()[0]["legacyResourceId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // 2. The store's echo of the order it just created arrives before its
    //    answer to the create call: it joins ord_1 and goes nowhere.
    let echo = shopify_order(store_id, "eBay, ordersync:ord_1", "2026-11-20T10:00:05Z");
    let (status, _) = post_shopify(&client, &daemon, "orders/create", "shop-evt-1", &echo).await;
    assert_eq!(status, 202);
    wait_until(WAIT, || {
        daemon.count("SELECT count(*) FROM deliveries WHERE status = 'delivered'") == 1
    })
    .await;
    assert_eq!(
        daemon.count("SELECT count(*) FROM orders"),
        1,
        "no second order"
    );
    assert_eq!(shop.orders().len(), 1, "one order in the store");
    assert_eq!(
        daemon.count("SELECT count(*) FROM links WHERE order_id = 1"),
        2,
        "ebay 27-1138 and the store's order are both ord_1"
    );

    // 3. The store ships it: the shipment goes to eBay only, as eBay's order.
    let shipped = shopify_order(store_id, "eBay, ordersync:ord_1", "2026-11-21T13:00:00Z");
    let (status, _) =
        post_shopify(&client, &daemon, "orders/fulfilled", "shop-evt-2", &shipped).await;
    assert_eq!(status, 202);
    let to_ebay = mock.wait_for("/ebay/updates", 1, WAIT).await;
    let e = &to_ebay[0].body;
    assert_eq!(e["event"], "shipped");
    assert_eq!(e["external_id"], "27-1138");
    assert_eq!(e["order_id"], "ord_1");
    assert_eq!(e["source"], "shopify");
    assert_eq!(e["order"]["shipments"][0]["tracking_number"], "1Z2345");
    assert_eq!(e["order"]["note"], "synced by ordersync from shopify");

    wait_until(WAIT, || {
        daemon.count("SELECT count(*) FROM deliveries WHERE status != 'pending'") == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paths: Vec<String> = mock.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/ebay/updates"], "Amazon never hears of it");
    let amazon =
        daemon.text("SELECT detail FROM decisions WHERE destination = 'amazon' AND update_id = 3");
    assert_eq!(amazon.as_deref(), Some("skip: publish is false"));
}

/// Sends a signed update from `market` and expects it stored (202).
async fn accept(client: &reqwest::Client, daemon: &Daemon, body: &str) {
    let (status, answer) = post_update(client, daemon, "market", "market-secret", body).await;
    assert_eq!(status, 202, "{answer}");
}

async fn wait_until(within: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ok() {
        assert!(
            Instant::now() < until,
            "condition not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_stored_once_and_stale_updates_are_not_routed() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = Daemon::start(dir.path(), &small_rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();
    let at = |t: &str, note: &str| json!({"id": "M-1", "tags": [], "note": note, "updated_at": t});
    let first = update("evt-1", "created", at("2026-11-20T10:00:00Z", "one"));
    accept(&client, &daemon, &first).await;
    for _ in 0..3 {
        let answer = post_update(&client, &daemon, "market", "market-secret", &first).await;
        assert_eq!(answer, (200, json!({"duplicate": true})));
    }

    let newer = update("evt-2", "updated", at("2026-11-20T11:00:00Z", "two"));
    accept(&client, &daemon, &newer).await;
    let older = update("evt-3", "updated", at("2026-11-20T10:30:00Z", "late"));
    assert_eq!(
        post_update(&client, &daemon, "market", "market-secret", &older).await,
        (202, json!({"update": 3}))
    );
    let got = mock.wait_for("/shop/orders", 2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mock.on("/shop/orders").len(), 2);
    assert_eq!(got[0].body["order"]["note"], "one");
    assert_eq!(got[1].body["order"]["note"], "two");
    assert_eq!(daemon.count("SELECT count(*) FROM updates"), 3);
    assert_eq!(
        daemon.count("SELECT count(*) FROM updates WHERE status = 'stale' AND event_id = 'evt-3'"),
        1
    );
    assert_eq!(daemon.count("SELECT count(*) FROM decisions"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_unknown_channels_and_oversized_bodies_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = Daemon::start(
        dir.path(),
        &small_rules(dir.path(), &mock),
        &["--max-body-bytes", "2048"],
    );
    let client = reqwest::Client::new();
    let body = update("evt-1", "created", json!({"id": "M-1", "tags": []}));
    let post = |sig: Option<String>, body: String, channel: &str| {
        let mut req = client.post(daemon.url(&format!("/webhooks/{channel}")));
        if let Some(sig) = sig {
            req = req.header("X-Ordersync-Signature", sig);
        }
        async move {
            let resp = req.body(body).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(
        post(None, body.clone(), "market").await,
        (
            401,
            r#"{"error":"missing signature in `X-Ordersync-Signature`"}"#.into()
        )
    );
    assert_eq!(
        post(Some(sign("wrong", &body)), body.clone(), "market").await,
        (
            401,
            r#"{"error":"bad signature in `X-Ordersync-Signature`"}"#.into()
        )
    );
    // Every single changed byte of a signed body is refused.
    let sig = sign("market-secret", &body);
    for i in 0..body.len() {
        let mut bytes = body.clone().into_bytes();
        bytes[i] ^= 0x01;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(
            post(Some(sig.clone()), changed, "market").await.0,
            401,
            "byte {i}"
        );
    }
    assert_eq!(
        post(Some(sig.clone()), body.clone(), "nowhere").await,
        (404, r#"{"error":"unknown channel `nowhere`"}"#.into())
    );
    let big = update(
        "evt-2",
        "created",
        json!({"id": "M-2", "note": "x".repeat(4096)}),
    );
    assert_eq!(
        post(Some(sign("market-secret", &big)), big, "market").await,
        (
            413,
            r#"{"error":"the body is over the limit of 2048 bytes"}"#.into()
        )
    );
    assert_eq!(daemon.count("SELECT count(*) FROM updates"), 0);
    assert_eq!(daemon.count("SELECT count(*) FROM quarantine"), 0);

    // A signed body that cannot be read is kept in quarantine, not dropped.
    let junk = r#"{"id": "evt-3", "event": "teleported", "order": {"id": "M-3"}}"#;
    let (status, text) = post(Some(sign("market-secret", junk)), junk.into(), "market").await;
    assert_eq!(status, 400);
    let answer: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["quarantined"], 1);
    assert!(
        answer["error"].as_str().unwrap().contains("teleported"),
        "{text}"
    );
    let kept = daemon.text("SELECT body FROM quarantine WHERE id = 1");
    assert_eq!(kept.as_deref(), Some(junk));
    assert_eq!(daemon.count("SELECT count(*) FROM updates"), 0);
    // Nothing was delivered anywhere.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(mock.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delivery_keeps_its_idempotency_key_and_422_is_rejected_with_its_body() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    // M-1: 500 on the first attempt, then 200 with the store's id. M-2: 422.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let counter = seen.clone();
    mock.respond(move |r, _| match r.body["order"]["id"].as_str() {
        Some("M-1") => {
            let mut n = counter.lock().unwrap();
            *n += 1;
            if *n == 1 {
                Reply::new(500, "try later")
            } else {
                Reply::new(200, r#"{"id": "S-1"}"#)
            }
        }
        Some("M-2") => Reply::new(422, r#"{"error": "SKU ABC-1 not found"}"#),
        _ => Reply::new(200, "{}"),
    });
    let daemon = Daemon::start(dir.path(), &small_rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();
    for (evt, id) in [("evt-1", "M-1"), ("evt-2", "M-2")] {
        let body = update(evt, "created", json!({"id": id, "tags": []}));
        accept(&client, &daemon, &body).await;
    }
    wait_until(WAIT, || {
        daemon.count("SELECT count(*) FROM deliveries WHERE status IN ('delivered', 'rejected')")
            == 2
    })
    .await;
    let m1: Vec<_> = mock
        .on("/shop/orders")
        .into_iter()
        .filter(|r| r.body["order"]["id"] == "M-1")
        .collect();
    assert_eq!(m1.len(), 2);
    assert_eq!(
        m1[0].header("idempotency-key"),
        m1[1].header("idempotency-key")
    );
    let m2: Vec<_> = mock
        .on("/shop/orders")
        .into_iter()
        .filter(|r| r.body["order"]["id"] == "M-2")
        .collect();
    assert_eq!(m2.len(), 1, "a 422 is not retried");
    assert_ne!(
        m1[0].header("idempotency-key"),
        m2[0].header("idempotency-key")
    );

    let delivery =
        daemon.rows("SELECT status, attempts, last_status FROM deliveries WHERE order_id = 2");
    assert_eq!(
        delivery,
        [[
            Some("rejected".into()),
            Some("1".into()),
            Some("422".into())
        ]]
    );
    let response = daemon.text(
        "SELECT a.response FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.order_id = 2",
    );
    assert_eq!(
        response.as_deref(),
        Some(r#"{"error": "SKU ABC-1 not found"}"#)
    );
    let statuses = daemon.rows("SELECT a.http_status FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.order_id = 1 ORDER BY a.id");
    assert_eq!(statuses, [[Some("500".into())], [Some("200".into())]]);
    assert_eq!(
        daemon.count("SELECT count(*) FROM links WHERE channel = 'shop' AND external_id = 'S-1' AND order_id = 1"),
        1,
        "the store's id from the 2xx body is linked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_orders_updates_arrive_in_order_while_another_orders_destination_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|r, _| match r.body["order"]["id"].as_str() {
        Some("BAD") => Reply::new(503, "down"),
        // Answer slowly now and then, so a later update could overtake.
        _ if fastrand::u8(..) < 40 => Reply {
            delay: Duration::from_millis(30),
            ..Reply::new(200, "{}")
        },
        _ => Reply::new(200, "{}"),
    });
    let daemon = Daemon::start(dir.path(), &small_rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();
    let bad = update("bad-1", "created", json!({"id": "BAD", "tags": []}));
    accept(&client, &daemon, &bad).await;
    // 50 updates of one order, one after another.
    for i in 0..50 {
        let body = update(
            &format!("good-{i}"),
            "updated",
            json!({"id": "GOOD", "tags": [], "note": format!("v{i}")}),
        );
        accept(&client, &daemon, &body).await;
    }
    // The failing order's retries come in between: wait for all 50 of the other.
    let good = || -> Vec<String> {
        mock.on("/shop/orders")
            .iter()
            .filter(|r| r.body["order"]["id"] == "GOOD")
            .map(|r| r.body["order"]["note"].as_str().unwrap().to_string())
            .collect()
    };
    wait_until(Duration::from_secs(20), || good().len() >= 50).await;
    let notes = good();
    let expected: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
    assert_eq!(notes, expected);
    // The failing order's delivery ends `dead` after its 3 attempts, its last answer kept.
    wait_until(WAIT, || {
        daemon.count("SELECT count(*) FROM deliveries WHERE order_id = 1 AND status = 'dead'") == 1
    })
    .await;
    let delivery = daemon.rows("SELECT attempts, last_status FROM deliveries WHERE order_id = 1");
    assert_eq!(delivery, [[Some("3".into()), Some("503".into())]]);
    let responses = daemon.rows(
        "SELECT a.response FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.order_id = 1",
    );
    assert_eq!(responses, vec![vec![Some("down".to_string())]; 3]);
    assert_eq!(
        mock.on("/shop/orders")
            .iter()
            .filter(|r| r.body["order"]["id"] == "BAD")
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_0_with_idle_keep_alive_connections_open() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let mut daemon = Daemon::start(dir.path(), &small_rules(dir.path(), &mock), &[]);
    let addr = daemon.base.trim_start_matches("http://").to_string();
    // Two idle keep-alive connections, each after one answered request.
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(
            std::str::from_utf8(&buf[..n])
                .unwrap()
                .starts_with("HTTP/1.1 200")
        );
        idle.push(s);
    }
    let started = Instant::now();
    let status = daemon
        .terminate(Duration::from_secs(10))
        .expect("exits within the deadline");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        daemon.log_text().contains("stopped"),
        "{}",
        daemon.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_resume_after_a_restart_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(503, "maintenance"));
    let rules = small_rules(dir.path(), &mock);
    let mut daemon = Daemon::start(dir.path(), &rules, &[]);
    let client = reqwest::Client::new();
    let body = update("evt-1", "created", json!({"id": "M-1", "tags": []}));
    accept(&client, &daemon, &body).await;
    let first = mock.wait_for("/shop/orders", 1, WAIT).await;
    daemon.kill();
    mock.respond(|_, _| Reply::new(200, "{}"));
    let daemon = Daemon::start(dir.path(), &rules, &[]);
    wait_until(WAIT, || {
        daemon.count("SELECT count(*) FROM deliveries WHERE status = 'delivered'") == 1
    })
    .await;
    let all = mock.on("/shop/orders");
    assert!(all.len() >= 2);
    assert!(
        all.iter()
            .all(|r| r.header("idempotency-key") == first[0].header("idempotency-key"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = Daemon::start(dir.path(), &small_rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();
    let health = client.get(daemon.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), r#"{"status":"alive"}"#);
    let ready = client.get(daemon.url("/readyz")).send().await.unwrap();
    let ready: Json = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"], "ok");
    assert_eq!(ready["rules_version"].as_str().unwrap().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_no_sooner_than_its_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, before| {
        if before == 0 {
            Reply {
                headers: vec![("retry-after", "1".to_string())],
                ..Reply::new(429, "slow down")
            }
        } else {
            Reply::new(200, "{}")
        }
    });
    let daemon = Daemon::start(dir.path(), &small_rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();
    let body = update("evt-1", "created", json!({"id": "M-1", "tags": []}));
    accept(&client, &daemon, &body).await;
    let got = mock.wait_for("/shop/orders", 2, WAIT).await;
    let waited = got[1].at - got[0].at;
    // The policy alone would wait 100-200 ms; the destination asked for 1 s.
    assert!(
        waited >= Duration::from_millis(990),
        "retried after {waited:?}"
    );
    assert_eq!(
        got[0].header("idempotency-key"),
        got[1].header("idempotency-key")
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tells_systemd_ready_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let rules = small_rules(dir.path(), &mock);
    let mut daemon = Daemon::start_with(
        dir.path(),
        &rules,
        "127.0.0.1:0",
        &["--no-watch"],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap().trim(), "READY=1");
    // READY came after the listener was up: the daemon answers at once.
    let health = reqwest::get(daemon.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    // A reload (ExecReload sends SIGHUP) is framed by RELOADING and READY.
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, text.replace("tags: Market", "tags: Marketplace")).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    let n = socket.recv(&mut buf).unwrap();
    let reloading = std::str::from_utf8(&buf[..n]).unwrap().to_string();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap().trim(), "READY=1");
    let status = daemon.terminate(WAIT).expect("exits");
    assert!(status.success());
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap().trim(), "STOPPING=1");
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/ordersync.service"
    ))
    .unwrap();
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: systemd-analyze is not installed here, so the unit is not verified");
        return;
    };
    assert!(out.status.success());
    // Verify the unit as shipped, with ExecStart pointing at this build.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ordersync.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/ordersync", env!("CARGO_BIN_EXE_ordersync")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Type=notify",
        "ExecReload=/usr/local/bin/ordersync reload --url http://127.0.0.1:8080",
        "WatchdogSec=30s",
        "LoadCredential=admin-token:",
        "DynamicUser=yes",
        "StateDirectory=ordersync",
        "LoadCredential=",
    ] {
        assert!(unit.contains(line), "the unit lacks {line}");
    }
}
