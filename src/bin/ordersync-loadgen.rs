//! `ordersync-loadgen`: measures the daemon end to end on this machine.
//!
//! It starts a local sink (the destination), writes a rules file that imports
//! every order from a `load` marketplace into a `store` whose deliveries go to
//! the sink, starts `ordersync serve` on it with a fresh SQLite file (or
//! `--daemons N` of them on a fresh database of the PostgreSQL server
//! `--postgres` names, the webhooks spread across them), and sends signed
//! webhooks at a given rate and concurrency. It reports accepted/s,
//! delivered/s, time to 2xx (p50/p99, measured from when each request was due,
//! so a stalled daemon cannot hide its queue), and the daemon's RSS. It also
//! measures SQLite's own limit here: the same rows inserted in batches by
//! hand-written SQL, with the same pragmas, for the ratio.
//!
//! Loopback only; it stops by itself.

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use clap::Parser;
use tokio::sync::Mutex;

/// Sends signed webhooks to a fresh ordersync daemon and reports its throughput.
#[derive(Debug, Parser)]
#[command(name = "ordersync-loadgen")]
struct Args {
    /// Updates per second to send; 0 sends as fast as the concurrency allows.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to send (e.g. 60s); ignored with --updates.
    #[arg(long, default_value = "10s", value_parser = duration_arg)]
    duration: Duration,
    /// Send exactly this many updates instead of for a duration.
    #[arg(long)]
    updates: Option<u64>,
    /// Distinct orders the updates are spread over.
    #[arg(long, default_value_t = 10_000)]
    orders: u64,
    /// The ordersync binary (default: the one beside this program).
    #[arg(long)]
    daemon: Option<PathBuf>,
    /// Keep the database and log in this directory instead of a temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rows per transaction for the SQLite floor measurement (0 skips it).
    #[arg(long, default_value_t = 1000)]
    floor_batch: usize,
    /// Updates inserted for the SQLite floor measurement.
    #[arg(long, default_value_t = 100_000)]
    floor_updates: u64,
    /// A PostgreSQL server (a URL to one of its databases, e.g.
    /// `postgres://postgres@%2Ftmp%2Fpg/postgres`): the daemons run on a new
    /// database there, dropped at the end (no SQLite floor then).
    #[arg(long)]
    postgres: Option<String>,
    /// Daemons to start (with --postgres), each taking its share of the webhooks.
    #[arg(long, default_value_t = 1)]
    daemons: usize,
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").context("--postgres: not a URL")? + 3;
    let slash = base[after_scheme..]
        .find('/')
        .map(|i| i + after_scheme)
        .unwrap_or(base.len());
    Ok(format!("{}/{name}{query}", &base[..slash]))
}

/// Runs `sql` on the server `url` names.
async fn admin_sql(
    url: &str,
    sql: &str,
) -> anyhow::Result<Vec<tokio_postgres::SimpleQueryMessage>> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    tokio::spawn(conn);
    Ok(client.simple_query(sql).await?)
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    ordersync::rules::parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration"))
}

const SECRET: &str = "loadgen-secret";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

struct Sink {
    delivered: AtomicU64,
    last: Mutex<Option<Instant>>,
}

async fn run(args: Args) -> anyhow::Result<()> {
    let temp = std::env::temp_dir().join(format!("ordersync-loadgen-{}", std::process::id()));
    let dir = args.dir.clone().unwrap_or_else(|| temp.clone());
    std::fs::create_dir_all(&dir)?;
    let result = measure(&args, &dir).await;
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

async fn measure(args: &Args, dir: &Path) -> anyhow::Result<()> {
    // The sink: counts deliveries, answers 200 at once.
    let sink = Arc::new(Sink {
        delivered: AtomicU64::new(0),
        last: Mutex::new(None),
    });
    let app = Router::new()
        .fallback(
            |axum::extract::State(s): axum::extract::State<Arc<Sink>>| async move {
                s.delivered.fetch_add(1, Ordering::Relaxed);
                *s.last.lock().await = Some(Instant::now());
                "{}"
            },
        )
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let rules = dir.join("loadgen-rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "version: 1\n\
             channels:\n  \
               load:\n    role: marketplace\n    webhook: {{ format: ordersync, secret: {SECRET} }}\n  \
               store:\n    role: commerce_platform\n    deliver: {{ url: \"http://{sink_addr}/orders\" }}\n\
             rules:\n  load:\n    attributes:\n      tags: Load\n"
        ),
    )?;
    let db = dir.join("loadgen.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let (db, count) = match &args.postgres {
        Some(server) => {
            let name = format!("loadgen_{}", std::process::id());
            admin_sql(server, &format!("CREATE DATABASE {name}")).await?;
            (with_database(server, &name)?, args.daemons.max(1))
        }
        None => (db.display().to_string(), 1),
    };
    let exe = match &args.daemon {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory for the daemon")?
            .join("ordersync"),
    };
    let mut children = Vec::new();
    let mut bases = Vec::new();
    for n in 0..count {
        let (child, base) = start_daemon(&exe, &rules, &db, dir, n)?;
        println!(
            "daemon {} (pid {}) at {base}, sink at {sink_addr}",
            exe.display(),
            child.id()
        );
        children.push(child);
        bases.push(base);
    }

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let total = args.updates.unwrap_or(u64::MAX);
    let started = Instant::now();
    let stop_at = match args.updates {
        Some(_) => None,
        None => Some(started + args.duration),
    };
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let url = format!("{}/webhooks/load", bases[w % bases.len()]);
        let (client, url, next, rate, orders) =
            (client.clone(), url, next.clone(), args.rate, args.orders);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = if rate > 0 {
                    started + Duration::from_secs_f64(i as f64 / rate as f64)
                } else {
                    Instant::now()
                };
                if stop_at.is_some_and(|s| due >= s) {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let body = update_body(i, orders);
                let sig = ordersync::ingress::signature::sign(SECRET.as_bytes(), body.as_bytes());
                let sent = client
                    .post(&url)
                    .header("X-Ordersync-Signature", sig)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(due.elapsed().as_micros() as u32);
                    }
                    _ => refused += 1,
                }
            }
            (latencies, refused)
        }));
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    for w in workers {
        let (l, r) = w.await?;
        latencies.extend(l);
        refused += r;
    }
    let send_time = started.elapsed();
    let accepted = latencies.len() as u64;
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let rss_sent: u64 = pids.iter().map(|p| rss_kib(*p)).sum();

    // Wait for the deliveries to catch up (at most a minute past the sending).
    let wait_until = Instant::now() + Duration::from_secs(60).max(send_time);
    while sink.delivered.load(Ordering::Relaxed) < accepted && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = sink.delivered.load(Ordering::Relaxed);
    let last = sink.last.lock().await.unwrap_or(started);
    let deliver_time = last.duration_since(started);
    let rss_end: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
    for (pid, child) in pids.iter().zip(&mut children) {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = child.wait();
    }

    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let idx = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[idx] as f64 / 1000.0
    };
    println!(
        "sent for {:.1} s at rate {} (0 = open), concurrency {}",
        send_time.as_secs_f64(),
        args.rate,
        args.concurrency
    );
    println!(
        "accepted   {accepted} updates, {:.0}/s; refused or failed {refused}",
        accepted as f64 / send_time.as_secs_f64()
    );
    println!(
        "delivered  {delivered} updates, {:.0}/s end to end (last delivery {:.1} s after the start)",
        delivered as f64 / deliver_time.as_secs_f64().max(1e-9),
        deliver_time.as_secs_f64()
    );
    println!(
        "time to 2xx  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    let size = match &args.postgres {
        Some(server) => {
            let name = format!("loadgen_{}", std::process::id());
            let size = admin_sql(&db, "SELECT pg_database_size(current_database())")
                .await?
                .into_iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        r.get(0).and_then(|v| v.parse::<f64>().ok())
                    }
                    _ => None,
                })
                .unwrap_or(0.0);
            admin_sql(server, &format!("DROP DATABASE {name}")).await?;
            size / (1024.0 * 1024.0)
        }
        None => file_mib(Path::new(&db)),
    };
    println!(
        "daemon RSS  {:.1} MiB when sending ended, {:.1} MiB at the end ({count} daemon{}); database {size:.1} MiB",
        rss_sent as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        if count == 1 { "" } else { "s" },
    );
    if args.floor_batch > 0 && args.postgres.is_none() {
        let payload = update_body(0, 1).into_bytes();
        let floor = ordersync::store::floor::floor(
            &dir.join("floor.db"),
            &payload,
            args.floor_updates,
            args.floor_batch,
            true,
        )?;
        let without = ordersync::store::floor::floor(
            &dir.join("floor.db"),
            &payload,
            args.floor_updates,
            args.floor_batch,
            false,
        )?;
        println!(
            "SQLite floor  {floor:.0} updates/s (the same rows, {} per transaction, synchronous=FULL); \
             end to end is {:.2} of it; without the Order Health rows the floor is {without:.0}/s ({:.2})",
            args.floor_batch,
            (delivered as f64 / deliver_time.as_secs_f64().max(1e-9)) / floor,
            floor / without
        );
    }
    if delivered < accepted {
        bail!(
            "{} accepted updates were not delivered within the wait",
            accepted - delivered
        );
    }
    Ok(())
}

fn start_daemon(
    exe: &Path,
    rules: &Path,
    db: &str,
    dir: &Path,
    n: usize,
) -> anyhow::Result<(Child, String)> {
    let log = dir.join(format!("loadgen-daemon-{n}.log"));
    let mut child = Command::new(exe)
        .arg("serve")
        .arg("--rules")
        .arg(rules)
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0"])
        .env("ORDERSYNC_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
    match line.trim().strip_prefix("ordersync listening on ") {
        Some(base) => Ok((child, base.to_string())),
        None => {
            let _ = child.kill();
            bail!("the daemon did not start; see {}", log.display())
        }
    }
}

/// A canonical update of a realistic size (about 1 KiB): update `i` of order `i % orders`.
fn update_body(i: u64, orders: u64) -> String {
    let order = i % orders.max(1);
    let seq = i / orders.max(1);
    format!(
        r##"{{"id":"load-{i}","event":"{event}","occurred_at":"2026-11-20T10:00:00Z","order":{{"id":"L-{order}","name":"#{order}","created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:00:{s:02}.{ms:06}Z","status":"open","financial_status":"paid","fulfillment_status":null,"currency":"USD","total_price":{price}.90,"subtotal_price":{price}.00,"total_tax":0.9,"total_shipping":4.5,"tags":["wholesale"],"note":"update {seq}","customer":{{"email":"buyer{order}@example.com","first_name":"Ada","last_name":"Lovelace","phone":"+44 20 7946 0000"}},"shipping_address":{{"name":"Ada Lovelace","address1":"12 Analytical Row","city":"London","zip":"N1 9GU","country":"GB","phone":"+44 20 7946 0000"}},"line_items":[{{"sku":"MUG-12","title":"Hand-glazed mug","quantity":2,"price":24.99}},{{"sku":"TEE-M","title":"T-shirt","quantity":1,"price":19.99}}]}}}}"##,
        event = if seq == 0 { "created" } else { "updated" },
        s = (seq / 1_000_000) % 60,
        ms = seq % 1_000_000,
        price = 20 + order % 200,
    )
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn file_mib(db: &Path) -> f64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len() as f64 / (1024.0 * 1024.0))
        .sum()
}
