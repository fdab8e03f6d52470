//! The Order Health dashboard with 100,000 orders stored: how long the real
//! daemon takes to answer its pages over HTTP on loopback.
//!
//! Setup (not timed): 100,000 marketplace orders go through the store's own
//! writer (`Writer::ingest`: stored, decided for two destinations, so 200,000
//! health rows), and every delivery gets an outcome through `Writer::record`:
//! 97% delivered, 2% rejected with a 422, 1% dead. Then `ordersync serve`
//! (this build's binary) is started on that database and each page is
//! fetched once per iteration:
//!
//! * `dashboard/problems`: `/`, the default view (every open problem, newest
//!   first, with the counts per status and destination);
//! * `dashboard/delivered`: `/?status=delivered`, the first of ~3,900 pages;
//! * `dashboard/search`: `/?status=all&q=%2377777`, an order by its name;
//! * `dashboard/deep_page`: `/?status=all&page=2000`;
//! * `api/orders`: `/api/orders`, the same list as JSON.
//!
//! Run with: cargo bench --bench dashboard

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use ordersync::ingress::Incoming;
use ordersync::order::Event;
use ordersync::store::{self, Attempt, DeliveryStatus, IngestRequest, Via, Writer};
use ordersync::value::Value;

const ORDERS: usize = 100_000;

const RULES: &str = r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver: { url: "http://127.0.0.1:9/shop" }
  erp:
    role: commerce_platform
    deliver: { url: "http://127.0.0.1:9/erp" }
  market:
    role: marketplace
    webhook: { format: ordersync, secret: bench }
rules:
  market:
    attributes:
      tags: Market
"#;

struct Served {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn populate(rt: &tokio::runtime::Runtime) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let rules_path = dir.path().join("rules.yaml");
    std::fs::write(&rules_path, RULES).unwrap();
    let db = dir.path().join("ordersync.db");
    let rules = Arc::new(ordersync::rules::load(&rules_path).unwrap());
    rt.block_on(async {
        let conn = store::open(&db).unwrap();
        let (jobs_tx, mut jobs_rx) = tokio::sync::mpsc::unbounded_channel();
        let (writer, thread) = Writer::start(conn, jobs_tx, std::sync::Arc::new(ordersync::pipeline::Pipeline)).unwrap();
        for chunk in (0..ORDERS).collect::<Vec<_>>().chunks(2_000) {
            let mut calls = Vec::with_capacity(chunk.len());
            for &n in chunk {
                let order = Value::from_json(&format!(
                    r##"{{"id": "M-{n}", "name": "#{n}", "tags": [], "total_price": {}, "currency": "USD",
                        "customer": {{"email": "buyer{n}@example.com"}},
                        "line_items": [{{"sku": "SKU-{}", "quantity": 1, "price": 10}}]}}"##,
                    10 + n % 90,
                    n % 500
                ))
                .unwrap();
                let w = writer.clone();
                let rules = rules.clone();
                calls.push(tokio::spawn(async move {
                    w.ingest(IngestRequest {
                        channel: Arc::from("market"),
                        via: Via::Webhook,
                        topic: None,
                        incoming: Incoming {
                            id: format!("evt-{n}"),
                            event: Event::Created,
                            occurred_at: None,
                            order,
                        },
                        payload: b"{}".to_vec(),
                        received_at: Utc::now(),
                        rules,
                    })
                    .await
                    .unwrap()
                }));
            }
            for c in calls {
                c.await.unwrap();
            }
        }
        // Every delivery gets its outcome, as the dispatcher would record it.
        let mut jobs = Vec::new();
        while let Ok(batch) = jobs_rx.try_recv() {
            jobs.extend(batch);
        }
        assert_eq!(jobs.len(), 2 * ORDERS);
        let mut calls = Vec::new();
        for (i, job) in jobs.into_iter().enumerate() {
            let (status, http, body) = match i % 100 {
                0 | 1 => (DeliveryStatus::Rejected, 422, "SKU not found"),
                2 => (DeliveryStatus::Dead, 503, "unavailable"),
                _ => (DeliveryStatus::Delivered, 200, "{}"),
            };
            let w = writer.clone();
            calls.push(tokio::spawn(async move {
                w.record(Attempt {
                    delivery_id: job.delivery_id,
                    order_id: job.order_id,
                    destination: job.destination.clone(),
                    external_id: None,
                    at: Utc::now(),
                    http_status: Some(http),
                    error: None,
                    response: body.as_bytes().to_vec(),
                    duration: Duration::from_millis(3),
                    status,
                    next_at: None,
                    linked_id: None,
                    steps: Vec::new(),
                })
                .await
                .unwrap()
            }));
            if calls.len() == 4_000 {
                for c in calls.drain(..) {
                    c.await.unwrap();
                }
            }
        }
        for c in calls {
            c.await.unwrap();
        }
        drop(writer);
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap();
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["serve", "--no-watch", "--listen", "127.0.0.1:0", "--rules"])
        .arg(&rules_path)
        .arg("--db")
        .arg(&db)
        .env("ORDERSYNC_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("ordersync listening on ")
        .unwrap_or_else(|| panic!("the daemon did not start: {line}"))
        .to_string();
    Served {
        child,
        base,
        _dir: dir,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let served = populate(&rt);
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{}{path}", served.base);
        rt.block_on(async {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            r.text().await.unwrap()
        })
    };
    // What the pages show, checked once before timing them.
    let first = get("/");
    assert!(first.contains("rejected <b>4000</b>"), "the counts");
    let found = get("/?status=all&q=%2377777");
    assert!(
        found.contains("<td>#77777</td>") && found.contains("2 in all"),
        "the search"
    );
    let mut group = c.benchmark_group("dashboard");
    group.sample_size(30);
    for (name, path) in [
        ("problems", "/"),
        ("delivered", "/?status=delivered"),
        ("search", "/?status=all&q=%2377777"),
        ("deep_page", "/?status=all&page=2000"),
    ] {
        group.bench_function(name, |b| b.iter(|| get(path)));
    }
    group.finish();
    c.bench_function("api/orders", |b| b.iter(|| get("/api/orders")));
}

criterion_group!(benches, bench);
criterion_main!(benches);
