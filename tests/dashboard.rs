//! The Order Health dashboard in a real headless Chromium (over chromedriver)
//! against the running daemon: sign in with the token, find an order rejected
//! with 422 by its name, read why, retry it once the destination is fixed and
//! see it delivered; complete a draft and see it released; see the banner of a
//! rejected reload. Screenshots of each page are saved under
//! `target/dashboard-screenshots/`. Skipped, with the reason, where Chromium
//! or chromedriver is not installed (`.ci/run` installs both).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::browser::Browser;
use support::{Daemon, Mock, Reply, post_update, update};

const TOKEN: &str = "dashboard-token";

fn rules(mock: &Mock, extra: &str) -> String {
    format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: ordersync, secret: shop-secret }}
    deliver: {{ url: "{base}/shop/orders" }}
  amazon:
    role: marketplace
    webhook: {{ format: ordersync, secret: amazon-secret }}
    deliver: {{ url: "{base}/amazon/updates", accepts: [shipped] }}
  supplier:
    role: fulfillment
    deliver:
      url: "{base}/supplier/orders"
      accepts: [created, cancelled]
      require: [invoice_number]
rules:
  amazon:
    attributes:
      tags: Amazon
  shop:
    overwrites:
      amazon:
        attributes:
          publish: {{ when: tags contains "Amazon", then: true, otherwise: false }}
{extra}"#,
        base = mock.base
    )
}

/// Reloads the page until `css` shows `want` (work happens in the background).
async fn wait_for_text(b: &Browser, css: &str, want: &str) -> String {
    let started = Instant::now();
    loop {
        let t = if b.has(css).await {
            b.text(css).await
        } else {
            String::new()
        };
        if t.contains(want) {
            return t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{want:?} not in {css}: {t}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.goto(&b.url().await).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_explains_retries_and_completes_orders_in_the_browser() {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("dashboard-screenshots");
    let Some(browser) = Browser::start(&shots).await else {
        eprintln!(
            "skipped: the dashboard browser test needs chromium and chromedriver \
             (apt-get install -y chromium chromium-driver; .ci/run does this)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let fixed = Arc::new(AtomicBool::new(false));
    let is_fixed = fixed.clone();
    mock.respond(move |r, _| {
        if r.path == "/shop/orders"
            && r.body["order"]["id"] == "A-9"
            && !is_fixed.load(Ordering::SeqCst)
        {
            Reply::new(422, "SKU ABC-1 not found")
        } else {
            Reply::new(200, "{}")
        }
    });
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, rules(&mock, "")).unwrap();
    let daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &[("ORDERSYNC_ADMIN_TOKEN", TOKEN)],
    );
    let client = reqwest::Client::new();
    let send =
        |channel: &'static str, id: &'static str, event: &'static str, order: serde_json::Value| {
            let (client, daemon) = (&client, &daemon);
            async move {
                let (status, body) = post_update(
                    client,
                    daemon,
                    channel,
                    &format!("{channel}-secret"),
                    &update(id, event, order),
                )
                .await;
                assert_eq!(status, 202, "{body}");
            }
        };
    send(
        "amazon",
        "a1",
        "created",
        json!({"id": "A-1", "name": "#1000 Fine", "tags": []}),
    )
    .await;
    send(
        "amazon",
        "a9",
        "created",
        json!({"id": "A-9", "name": "#1001 Rejected", "tags": []}),
    )
    .await;
    send(
        "shop",
        "s1",
        "created",
        json!({"id": "5001", "name": "#5001 Dropship", "tags": []}),
    )
    .await;
    mock.wait_for("/shop/orders", 2, Duration::from_secs(10))
        .await;

    // Signing in: the dashboard asks for the token once.
    browser.goto(&daemon.url("/")).await;
    assert!(browser.url().await.contains("/login"));
    browser.type_into("#token", "wrong").await;
    browser.click("#sign-in").await;
    assert_eq!(
        browser.text("#login-error").await,
        "That is not this daemon's admin token."
    );
    browser.screenshot("01-sign-in-refused").await;
    browser.type_into("#token", TOKEN).await;
    browser.click("#sign-in").await;
    let counts = wait_for_text(&browser, "#counts", "rejected 1").await;
    assert!(counts.contains("draft 1"), "{counts}");
    browser.screenshot("02-order-health").await;

    // Find the rejected order by its name and read why.
    browser.type_into("#q", "#1001").await;
    browser.click("#search").await;
    let table = browser.text("#orders").await;
    assert!(table.contains("ord_2"), "{table}");
    assert!(
        table.contains("rejected: 422 SKU ABC-1 not found"),
        "{table}"
    );
    assert!(!table.contains("#1000"), "{table}");
    browser.screenshot("03-search").await;
    browser.click("#orders a[href='/orders/ord_2']").await;
    let row = browser.text("#health-shop").await;
    assert!(row.contains("rejected"), "{row}");
    assert!(row.contains("rejected: 422 SKU ABC-1 not found"), "{row}");
    assert!(
        row.contains("shop accepts created, and no rule stops it"),
        "{row}"
    );
    let timeline = browser.text("#timeline").await;
    assert!(
        timeline.contains("created from amazon by webhook"),
        "{timeline}"
    );
    assert!(timeline.contains("422 SKU ABC-1 not found"), "{timeline}");
    browser.screenshot("04-rejected-order").await;

    // The destination is fixed: retry, and it is delivered.
    fixed.store(true, Ordering::SeqCst);
    browser.click("#retry-shop").await;
    assert_eq!(
        browser.text("#flash").await,
        "Delivery 2 is being sent again."
    );
    let row = wait_for_text(&browser, "#health-shop", "delivered").await;
    assert!(row.contains("delivered: 200"), "{row}");
    assert!(!browser.has("#retry-shop").await);
    browser.screenshot("05-retried-and-delivered").await;

    // The amazon skip explains itself in plain words.
    browser.goto(&daemon.url("/orders/ord_3")).await;
    let amazon = browser.text("#health-amazon").await;
    assert!(
        amazon.contains("skip: event created is not accepted"),
        "{amazon}"
    );
    // Complete the supplier's draft and see it released.
    let row = browser.text("#health-supplier").await;
    assert!(row.contains("draft: missing invoice_number"), "{row}");
    browser.type_into("#field-invoice_number", "INV-42").await;
    browser.screenshot("06-draft").await;
    browser.click("#complete-supplier").await;
    assert!(
        browser
            .text("#flash")
            .await
            .starts_with("Draft completed; delivery")
    );
    let row = wait_for_text(&browser, "#health-supplier", "delivered").await;
    assert!(row.contains("delivered"), "{row}");
    let got = mock
        .wait_for("/supplier/orders", 1, Duration::from_secs(10))
        .await;
    assert_eq!(got[0].body["order"]["invoice_number"], "INV-42");
    assert!(browser.text("#timeline").await.contains("(draft released)"));
    browser.screenshot("07-draft-released").await;

    // A rejected reload shows as a banner with its errors on every page.
    let bad = rules(&mock, "").replace(
        "  amazon:\n    attributes:",
        "  amazon:\n    import: total_prce > 1\n    attributes:",
    );
    std::fs::write(&path, bad).unwrap();
    browser.goto(&daemon.url("/")).await;
    let started = Instant::now();
    while !daemon.log_text().contains("rules reload refused") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let banner = wait_for_text(&browser, "#reload-banner", "rejected").await;
    assert!(
        banner.contains("The last rules reload was rejected."),
        "{banner}"
    );
    assert!(
        banner.contains("error: unknown field `total_prce`"),
        "{banner}"
    );
    browser.screenshot("08-reload-rejected").await;
    eprintln!("screenshots in {}", shots.display());
}
