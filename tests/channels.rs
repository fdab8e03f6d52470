//! The channels page (issue 12 section 6): `GET /api/channels` through the
//! real daemon, and `/channels` in a real headless Chromium with a
//! screenshot saved under `target/dashboard-screenshots/`.

#[path = "support/shopify_fake.rs"]
mod shopify_fake;
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use shopify_fake::{Behaviour, FakeShopify};
use support::browser::Browser;
use support::{Daemon, Mock, Reply, post_update, update};

const TOKEN: &str = "channels-token";
const SHOP_TOKEN: &str = "shpat_channels";

fn rules(shop: &FakeShopify, mock: &Mock) -> String {
    format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ secret: shop-secret }}
    connector:
      kind: shopify
      shop: acme.myshopify.com
      api_version: "2025-10"
      token: "{SHOP_TOKEN}"
      base_url: "{base}"
    poll: {{ schedule: "*/1 * * * * *" }}
    deliver:
      retry: {{ attempts: 2, first: 100ms, max: 100ms }}
  amazon:
    role: marketplace
    webhook: {{ format: ordersync, secret: amazon-secret }}
    deliver: {{ url: "{mock}/amazon", accepts: [shipped] }}
rules:
  amazon:
    attributes:
      tags: Amazon
"#,
        base = shop.base_url(),
        mock = mock.base
    )
}

async fn channels(client: &reqwest::Client, d: &Daemon) -> Json {
    let r = client
        .get(d.url("/api/channels"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

fn channel<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

async fn start() -> (tempfile::TempDir, FakeShopify, Mock, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(SHOP_TOKEN, "2025-10").await;
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, "{}"));
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, rules(&shop, &mock)).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &[("ORDERSYNC_ADMIN_TOKEN", TOKEN)],
    );
    (dir, shop, mock, d)
}

async fn send(client: &reqwest::Client, d: &Daemon, id: &str, order: Json) {
    let (status, body) = post_update(
        client,
        d,
        "amazon",
        "amazon-secret",
        &update(id, "created", order),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}

fn line() -> Json {
    json!([{"sku": "MUG-1", "title": "Mug", "quantity": 1, "price": 10}])
}

async fn until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let began = Instant::now();
    while !ok().await {
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channels_api_says_how_each_connection_is_doing() {
    let (_dir, shop, _mock, d) = start().await;
    let client = reqwest::Client::new();
    // Unauthenticated: refused like every /api route.
    let r = client.get(d.url("/api/channels")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    shop.script(
        "orderCreate",
        Behaviour::UserErrors(vec![(
            "lineItems.0.sku".into(),
            "SKU MUG-1 not found".into(),
        )]),
    );
    send(
        &client,
        &d,
        "a-1",
        json!({"id": "A-1", "currency": "USD", "line_items": line()}),
    )
    .await;
    send(
        &client,
        &d,
        "a-2",
        json!({"id": "A-2", "currency": "USD", "line_items": line()}),
    )
    .await;
    until("both settled", async || {
        let doc = channels(&client, &d).await;
        let s = channel(&doc, "shop");
        s["last_24h"]["delivered"] == 1 && s["last_24h"]["rejected"] == 1
    })
    .await;
    until("polled", async || {
        channel(&channels(&client, &d).await, "shop")["poll"]["last_run_at"].is_string()
    })
    .await;
    let doc = channels(&client, &d).await;
    let s = channel(&doc, "shop");
    assert_eq!(s["kind"], "shopify");
    assert_eq!(s["api_version"], "2025-10");
    assert_eq!(s["role"], "commerce_platform");
    assert_eq!(s["credential"], json!({"state": "ok"}));
    assert_eq!(s["outbox"], 0);
    assert_eq!(s["throttled_for_ms"], Json::Null);
    assert_eq!(
        s["last_webhook_at"],
        Json::Null,
        "the store sent no webhook"
    );
    assert_eq!(s["poll"]["schedule"], "*/1 * * * * *");
    assert_eq!(s["hours"].as_array().unwrap().len(), 24);
    assert_eq!(s["hours"][23], json!({"delivered": 1, "rejected": 1}));
    let a = channel(&doc, "amazon");
    assert_eq!(a["kind"], "envelope");
    assert_eq!(a["credential"], Json::Null);
    assert!(a["last_webhook_at"].as_str().unwrap().starts_with("20"));
    assert_eq!(a["poll"], Json::Null);
    assert!(
        !doc.to_string().contains(SHOP_TOKEN),
        "no secret in the page's data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channels_page_in_the_browser() {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("dashboard-screenshots");
    let Some(b) = Browser::start(&shots).await else {
        eprintln!(
            "skipped: the channels browser test needs chromium and chromedriver \
             (apt-get install -y chromium chromium-driver; .ci/run does this)"
        );
        return;
    };
    let (_dir, shop, _mock, d) = start().await;
    let client = reqwest::Client::new();
    // Two first attempts and one retry fail: one order ends dead (two
    // attempts), the other is delivered.
    for _ in 0..3 {
        shop.script("orderCreate", Behaviour::Status(503));
    }
    send(
        &client,
        &d,
        "a-1",
        json!({"id": "A-1", "currency": "USD", "line_items": line()}),
    )
    .await;
    send(
        &client,
        &d,
        "a-2",
        json!({"id": "A-2", "currency": "USD", "line_items": line()}),
    )
    .await;
    until("settled", async || {
        let s = channels(&client, &d).await;
        let s = channel(&s, "shop");
        s["last_24h"]["delivered"].as_u64().unwrap_or(0)
            + s["last_24h"]["dead"].as_u64().unwrap_or(0)
            == 2
    })
    .await;
    b.goto(&d.url("/login")).await;
    b.type_into("#token", TOKEN).await;
    b.click("#sign-in").await;
    until("signed in", async || b.has("#filters").await).await;
    b.click("#nav-channels").await;
    until("on the channels page", async || b.has("#channels").await).await;
    let row = b.text("#channel-shop").await;
    assert!(row.contains("shopify (API 2025-10)"), "{row}");
    assert!(row.contains("ok"), "{row}");
    assert!(
        b.has("#channel-shop svg.chart rect").await,
        "a chart per channel"
    );
    b.screenshot("channels").await;
    b.click("#channel-shop a").await;
    let table = b.text("#channel").await;
    assert!(table.contains("poll cursor"), "{table}");
    assert!(table.contains("outbox"), "{table}");
    let legend = b.text(".legend").await;
    assert!(legend.contains("delivered 1"), "{legend}");
    assert!(legend.contains("dead 1"), "{legend}");
    b.screenshot("channel-shop").await;
}
