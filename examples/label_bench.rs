//! Times HTML-to-PDF label conversion as the daemon does it (one headless
//! Chromium per label, `Renderer::render`), for `BENCHMARKS.md`:
//!
//! ```text
//! cargo run --example label_bench -- [SEQUENTIAL=30] [BURST=10] [CONCURRENCY=2]
//! ```
//!
//! Prints the median and p99 of sequential conversions, labels per second,
//! how long a burst takes with the daemon's default concurrency, and the peak
//! memory (PSS) of all Chromium processes together (sampled from /proc
//! every 20 ms).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ordersync::delivery::label::{self, chromium::Renderer};
use ordersync::rules::Page;

fn pss_of_chromium(tag: &str) -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for e in dir.flatten() {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmd).contains(tag) {
            continue;
        }
        // PSS: shared pages split between the processes sharing them, so
        // the sum is what the browsers really hold.
        let status = std::fs::read_to_string(e.path().join("smaps_rollup")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            total += kb;
        }
    }
    total
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let sequential = args.first().copied().unwrap_or(30);
    let burst = args.get(1).copied().unwrap_or(10);
    let concurrency = args.get(2).copied().unwrap_or(2);
    let path = std::env::var_os("PATH");
    let program = label::chromium::find(None, path.as_deref()).expect("chromium on PATH");
    // Every Chromium started here has this directory in its command line.
    // Short: Chromium's sockets live under it, and a socket path has 108 bytes.
    let tmp = std::path::PathBuf::from(format!("/tmp/olb-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // SAFETY: set before any thread that reads the environment starts work.
    unsafe { std::env::set_var("TMPDIR", &tmp) };
    let tag = tmp.to_string_lossy().into_owned();
    let html = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/label_4x6.html"
    ))
    .unwrap();
    let html = label::for_printing(&html, Page::In4x6);
    let renderer = Arc::new(Renderer::new(
        program.clone(),
        Duration::from_secs(30),
        concurrency,
    ));

    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, tag) = (peak.clone(), done.clone(), tag.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(pss_of_chromium(&tag), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // One first run, not counted: the page cache warms up.
    renderer.render(&html).await.expect("a PDF");
    let mut times = Vec::new();
    let started = Instant::now();
    for _ in 0..sequential {
        let t = Instant::now();
        let pdf = renderer.render(&html).await.expect("a PDF");
        times.push(t.elapsed());
        assert!(pdf.starts_with(b"%PDF-"));
    }
    let wall = started.elapsed();
    let seq_peak = peak.swap(0, Ordering::Relaxed);
    times.sort();

    let t = Instant::now();
    let tasks: Vec<_> = (0..burst)
        .map(|_| {
            let (r, h) = (renderer.clone(), html.clone());
            tokio::spawn(async move { r.render(&h).await.map(|p| p.len()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("a PDF");
    }
    let burst_time = t.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let burst_peak = peak.load(Ordering::Relaxed);

    println!("chromium: {}", program.display());
    println!(
        "label: tests/fixtures/label_4x6.html ({} bytes), 4x6in",
        html.len()
    );
    println!(
        "sequential, {sequential} labels: p50 {:.0} ms, p99 {:.0} ms, min {:.0} ms, max {:.0} ms, {:.2} labels/s",
        pct(&times, 0.5).as_secs_f64() * 1000.0,
        pct(&times, 0.99).as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        sequential as f64 / wall.as_secs_f64()
    );
    println!(
        "burst of {burst} at concurrency {concurrency}: all converted in {:.2} s ({:.2} labels/s)",
        burst_time.as_secs_f64(),
        burst as f64 / burst_time.as_secs_f64()
    );
    println!(
        "peak memory (PSS, all Chromium processes together): {:.0} MiB sequential, {:.0} MiB in the burst",
        seq_peak as f64 / 1024.0,
        burst_peak as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
