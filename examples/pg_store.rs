//! The PostgreSQL store's throughput, in-process, on a server you start:
//! N "daemons" (each its own pool, claimer and an instant recording
//! dispatcher, as `daemon/delivery/claims.rs` runs them) ingest updates of
//! distinct orders from C tasks each for S seconds; then the floor: the same
//! rows written by plain statements (one transaction per update, one per
//! delivery's outcome) from twice as many tasks (ingest and delivery
//! together). Both on the same server, one after the other.
//!
//! ```sh
//! cargo run --release --example pg_store -- postgres://postgres@%2Ftmp%2Fpg/bench 3 16 10
//! ```
//! (URL, daemons, tasks per daemon, seconds; the database must exist and be
//! empty.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use ordersync::daemon::delivery::claims;
use ordersync::ingress::Incoming;
use ordersync::order::Event;
use ordersync::store::pg::PgStore;
use ordersync::store::{Attempt, DeliveryStatus, IngestRequest, Via, Writer};
use ordersync::value::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const RULES: &str = r#"version: 1
channels:
  shop: { role: commerce_platform, webhook: { format: ordersync, secret: s } }
  market: { role: marketplace, deliver: { url: "http://127.0.0.1:9/market" } }
  supplier: { role: fulfillment, deliver: { url: "http://127.0.0.1:9/supplier" } }
"#;

fn order(n: u64) -> String {
    format!(
        r##"{{"id": "B-{n}", "name": "#{n}", "updated_at": "2026-11-20T10:00:00Z", "customer": {{"email": "c{n}@example.com"}}, "total_price": "49.90", "currency": "EUR", "line_items": [{{"sku": "DS-1", "quantity": 1, "price": "49.90"}}], "tags": []}}"##
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("a postgres:// URL").clone();
    let daemons: usize = args.get(2).map_or(1, |a| a.parse().unwrap());
    let tasks: usize = args.get(3).map_or(16, |a| a.parse().unwrap());
    let secs: u64 = args.get(4).map_or(10, |a| a.parse().unwrap());
    let rules = Arc::new(
        ordersync::rules::load_str(
            "rules.yaml",
            RULES,
            &ordersync::rules::LoadOptions { env: &|_| None },
        )
        .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let delivered = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..daemons {
        let store = PgStore::open(&url, 2 * tasks + 4, Arc::new(ordersync::pipeline::Pipeline))
            .await
            .unwrap();
        let (jobs, mut inbox) = mpsc::unbounded_channel();
        let writer = Writer::postgres(store, jobs.clone());
        writer.note_rules(rules.clone()).await.unwrap();
        tokio::spawn(claims::run(
            writer.clone(),
            jobs,
            shutdown.clone(),
            shutdown.clone(),
        ));
        let (recorder, delivered) = (writer.clone(), delivered.clone());
        // The dispatcher sends lanes at once (its semaphore: 64 here).
        let permits = Arc::new(tokio::sync::Semaphore::new(64));
        tokio::spawn(async move {
            while let Some(batch) = inbox.recv().await {
                for job in batch {
                    let permit = permits.clone().acquire_owned().await.unwrap();
                    let (recorder, delivered) = (recorder.clone(), delivered.clone());
                    tokio::spawn(async move {
                        let _permit = permit;
                        let attempt = Attempt {
                            http_status: Some(200),
                            response: b"{}".to_vec(),
                            duration: Duration::from_millis(1),
                            status: DeliveryStatus::Delivered,
                            ..Attempt::begun(&job, Utc::now())
                        };
                        if recorder.record(attempt).await.is_ok() {
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            }
        });
        writers.push(writer);
    }
    let next = Arc::new(AtomicU64::new(0));
    let stored = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut load = Vec::new();
    for w in &writers {
        for _ in 0..tasks {
            let (w, next, stored, rules) = (w.clone(), next.clone(), stored.clone(), rules.clone());
            load.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let text = order(n);
                    w.ingest(IngestRequest {
                        channel: Arc::from("shop"),
                        via: Via::Webhook,
                        topic: None,
                        incoming: Incoming {
                            id: format!("e-{n}"),
                            event: Event::Created,
                            occurred_at: None,
                            order: Value::from_json(&text).unwrap(),
                        },
                        payload: text.into_bytes(),
                        received_at: Utc::now(),
                        rules: rules.clone(),
                    })
                    .await
                    .unwrap();
                    stored.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    for t in load {
        t.await.unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    let ingested = stored.load(Ordering::Relaxed);
    // The deliveries still on their way are let finish.
    let wait = Instant::now();
    while delivered.load(Ordering::Relaxed) < 2 * ingested
        && wait.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = started.elapsed().as_secs_f64();
    shutdown.cancel();
    println!(
        "ordersync: {daemons} daemon(s) x {tasks} tasks: {ingested} updates in {took:.1} s = {:.0} updates/s stored and decided; {} deliveries recorded, all done after {drained:.1} s = {:.0} updates/s end to end",
        ingested as f64 / took,
        delivered.load(Ordering::Relaxed),
        ingested as f64 / drained
    );
    floor(&url, 2 * daemons * tasks, secs).await;
}

/// The same rows per update by plain statements, one transaction each:
/// the update, its order and link, what the channel has, two decisions,
/// two deliveries with their lanes, two health rows; then each delivery's
/// attempt and status in a transaction of its own, as recording does.
async fn floor(url: &str, tasks: usize, secs: u64) {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let next = Arc::new(AtomicU64::new(1 << 40));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut load = Vec::new();
    for _ in 0..tasks {
        let (config, next, done) = (config.clone(), next.clone(), done.clone());
        load.push(tokio::spawn(async move {
            let (mut client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            // Each statement prepared once per connection, as the store's are.
            let mut st = Vec::new();
            for sql in [
                "INSERT INTO orders (created_at, name, source, search, updated_at) VALUES ('t', 'n', 'shop', 's', 't') RETURNING id",
                "INSERT INTO links (channel, external_id, order_id) VALUES ('shop', $1, $2)",
                "INSERT INTO updates (channel, event_id, event, received_at, order_id, external_id, status, payload, via) VALUES ('shop', $1, 'created', 't', $2, $1, 'decided', $3, 'webhook') RETURNING id",
                "INSERT INTO known (order_id, channel, body) VALUES ($1, 'shop', $2)",
                "INSERT INTO decisions (update_id, order_id, destination, outcome, detail, rules_version, body, changes, trace, decided_at, why, trigger) VALUES ($1, $2, $3, 'deliver', 'deliver', 'v', $4, '[]', '[]', 't', 'w', 'update') RETURNING id",
                "INSERT INTO known (order_id, channel, body) VALUES ($1, $2, $3)",
                "INSERT INTO lanes (order_id, destination) VALUES ($1, $2)",
                "INSERT INTO deliveries (decision_id, order_id, destination, source, event, idempotency_key, status, updated_at) VALUES ($1, $2, $3, 'shop', 'created', 'k', 'pending', 't') RETURNING id",
                "INSERT INTO health (order_id, destination, source, status, decision_id, delivery_id, detail, updated_at) VALUES ($1, $2, 'shop', 'pending', $3, $4, 'd', 't')",
                "INSERT INTO attempts (delivery_id, at, http_status, response, duration_ms) VALUES ($1, 't', 200, '\\x7b7d', 1)",
                "UPDATE deliveries SET status = 'delivered', attempts = 1 WHERE id = $1",
                "UPDATE health SET status = 'delivered' WHERE order_id = $1 AND destination = $2",
                "DELETE FROM lanes WHERE order_id = $1 AND destination = $2",
            ] {
                st.push(client.prepare(sql).await.unwrap());
            }
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed) as i64;
                let body = order(n as u64);
                let tx = client.transaction().await.unwrap();
                let order_id: i64 = tx
                    .query_one(&st[0], &[])
                    .await
                    .unwrap()
                    .get(0);
                let ext = format!("F-{n}");
                tx.execute(&st[1], &[&ext, &order_id]).await.unwrap();
                let update_id: i64 = tx
                    .query_one(&st[2], &[&ext, &order_id, &body.as_bytes()])
                    .await
                    .unwrap()
                    .get(0);
                tx.execute(&st[3], &[&order_id, &body]).await.unwrap();
                let mut deliveries = Vec::new();
                for dest in ["market", "supplier"] {
                    let decision: i64 = tx
                        .query_one(&st[4], &[&update_id, &order_id, &dest, &body])
                        .await
                        .unwrap()
                        .get(0);
                    tx.execute(&st[5], &[&order_id, &dest, &body]).await.unwrap();
                    tx.execute(&st[6], &[&order_id, &dest]).await.unwrap();
                    let delivery: i64 = tx
                        .query_one(&st[7], &[&decision, &order_id, &dest])
                        .await
                        .unwrap()
                        .get(0);
                    tx.execute(&st[8], &[&order_id, &dest, &decision, &delivery]).await.unwrap();
                    deliveries.push(delivery);
                }
                tx.commit().await.unwrap();
                for (dest, delivery) in ["market", "supplier"].into_iter().zip(deliveries) {
                    let tx = client.transaction().await.unwrap();
                    tx.execute(&st[9], &[&delivery]).await.unwrap();
                    tx.execute(&st[10], &[&delivery]).await.unwrap();
                    tx.execute(&st[11], &[&order_id, &dest]).await.unwrap();
                    tx.execute(&st[12], &[&order_id, &dest]).await.unwrap();
                    tx.commit().await.unwrap();
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in load {
        t.await.unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "floor: {tasks} tasks of plain prepared statements: {n} updates (each stored, 2 deliveries recorded) in {took:.1} s = {:.0} updates/s",
        n as f64 / took
    );
}
