//! The Shopify connector end to end (SPEC 12.1): the real daemon on port 0
//! delivering to a fake Shopify Admin GraphQL API that checks every request
//! against Shopify's documented shapes (`tests/support/shopify_fake.rs`).

#[path = "support/shopify_fake.rs"]
mod shopify_fake;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use shopify_fake::{Behaviour, FakeShopify};
use support::{Daemon, Mock, post_update, update};

const TOKEN: &str = "shpat_e2e_secret_token";
const VERSION: &str = "2025-10";
const WAIT: Duration = Duration::from_secs(15);

/// A store on the fake Shopify, eBay and a supplier on `mock`; `poll` adds
/// polling of the store through the connector.
fn rules(dir: &Path, shop: &FakeShopify, mock: &Mock, poll: bool) -> PathBuf {
    let poll = if poll {
        "    poll: { schedule: \"*/1 * * * * *\", overlap: 1s }\n"
    } else {
        ""
    };
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ secret: shop-secret }}
    connector:
      kind: shopify
      shop: acme.myshopify.com
      api_version: "{VERSION}"
      token: "${{SHOPIFY_TOKEN}}"
      base_url: "{base}"
      restock_on_cancel: true
{poll}    deliver:
      accepts: [created, updated, cancelled, shipped]
      timeout: 1s
      retry: {{ attempts: 6, first: 300ms, max: 1s }}
  ebay:
    role: marketplace
    webhook: {{ format: ordersync, secret: ebay-secret }}
    deliver: {{ url: "{mock}/ebay", accepts: [shipped] }}
  supplier:
    role: fulfillment
    webhook: {{ format: ordersync, secret: supplier-secret }}
    deliver: {{ url: "{mock}/supplier", accepts: [created] }}
currency_rates: {{ base: USD, EUR: 1.10 }}
rules:
  ebay:
    attributes:
      tags: eBay
  shop:
    overwrites:
      ebay:
        attributes:
          publish: {{ when: tags contains "eBay", then: true, otherwise: false }}
      supplier:
        attributes:
          publish: false
"#,
        base = shop.base_url(),
        mock = mock.base,
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, rules: &Path) -> Daemon {
    Daemon::start_with(dir, rules, "127.0.0.1:0", &[], &[("SHOPIFY_TOKEN", TOKEN)])
}

fn ebay_order(id: &str, updated_at: &str) -> Json {
    json!({
        "id": id, "name": format!("eBay {id}"), "financial_status": "paid", "currency": "USD",
        "total_price": 104.5, "tags": [], "updated_at": updated_at,
        "customer": {"email": "buyer@example.com"},
        "shipping_address": {"name": "Ada Lovelace", "address1": "1 Main St", "city": "Springfield",
                             "province": "IL", "zip": "62701", "country": "US"},
        "line_items": [
            {"sku": "MUG-1", "title": "Mug", "quantity": 2, "price": 20.25},
            {"sku": "TEE-2", "title": "Tee", "quantity": 1, "price": 64}
        ]
    })
}

async fn wait_until(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < until, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn send(client: &reqwest::Client, d: &Daemon, channel: &str, body: &str) {
    let (status, answer) =
        post_update(client, d, channel, &format!("{channel}-secret"), body).await;
    assert_eq!(status, 202, "{answer}");
}

fn status_of(d: &Daemon, delivery: i64) -> String {
    d.text(&format!(
        "SELECT status FROM deliveries WHERE id = {delivery}"
    ))
    .unwrap_or_default()
}

/// Creates eBay order 27-1138 in the store; answers the store's gid.
async fn created(client: &reqwest::Client, d: &Daemon, shop: &FakeShopify) -> String {
    send(
        client,
        d,
        "ebay",
        &update(
            "e-1",
            "created",
            ebay_order("27-1138", "2026-11-20T10:00:00Z"),
        ),
    )
    .await;
    wait_until(WAIT, "the create delivered", || {
        status_of(d, 1) == "delivered"
    })
    .await;
    let orders = shop.orders();
    assert_eq!(orders.len(), 1, "one order in Shopify");
    orders[0]["id"].as_str().unwrap().to_string()
}

async fn admin(client: &reqwest::Client, d: &Daemon, path: &str) -> Json {
    let r = client.get(d.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json_text().await
}

trait JsonText {
    async fn json_text(self) -> Json;
}
impl JsonText for reqwest::Response {
    async fn json_text(self) -> Json {
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ebay_order_is_created_in_shopify_tagged_with_its_lines_and_money() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    let gid = created(&client, &d, &shop).await;

    let sent = shop.requests_for("orderCreate");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("x-shopify-access-token"), TOKEN);
    assert_eq!(sent[0].path, "/admin/api/2025-10/graphql.json");
    let o = &sent[0].variables["order"];
    assert_eq!(o["tags"], json!(["eBay", "ordersync:ord_1"]));
    assert_eq!(o["currency"], "USD");
    assert_eq!(o["financialStatus"], "PAID");
    assert_eq!(o["sourceName"], "ordersync");
    assert_eq!(o["sourceIdentifier"], "ord_1");
    assert_eq!(o["email"], "buyer@example.com");
    assert_eq!(
        o["lineItems"],
        json!([
            {"sku": "MUG-1", "title": "Mug", "quantity": 2,
             "priceSet": {"shopMoney": {"amount": "20.25", "currencyCode": "USD"}}},
            {"sku": "TEE-2", "title": "Tee", "quantity": 1,
             "priceSet": {"shopMoney": {"amount": "64.00", "currencyCode": "USD"}}}
        ])
    );
    assert_eq!(
        o["shippingAddress"],
        json!({"firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St",
               "city": "Springfield", "provinceCode": "IL", "zip": "62701", "countryCode": "US"})
    );
    assert_eq!(sent[0].variables["options"]["sendReceipt"], false);
    // Shopify's numeric id is the link, the id its webhooks carry.
    let numeric = gid.rsplit('/').next().unwrap().to_string();
    let link: String = d
        .text("SELECT external_id FROM links WHERE channel = 'shop' AND order_id = 1")
        .unwrap();
    assert_eq!(link, numeric);

    // Order Health shows each step's request, the token masked, and nowhere
    // in what the API returns or the database keeps is the token.
    let order = admin(&client, &d, "/api/orders/ord_1").await;
    let text = order.to_string();
    assert!(!text.contains(TOKEN), "the token leaked into the API");
    assert!(text.contains("orderCreate"), "{text}");
    assert!(text.contains("[masked]"), "{text}");
    let kept = d.attempts_kept();
    assert!(!kept.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_cancellation_and_later_tags_go_to_shopify_as_their_own_operations() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    shop.set_job_polls(2);
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    let gid = created(&client, &d, &shop).await;

    // A later tag from eBay: tagsAdd, never a tags-replacing orderUpdate.
    let mut later = ebay_order("27-1138", "2026-11-20T11:00:00Z");
    later["tags"] = json!(["VIP"]);
    send(&client, &d, "ebay", &update("e-2", "updated", later)).await;
    wait_until(WAIT, "the tag delivered", || {
        status_of(&d, 2) == "delivered"
    })
    .await;
    let added = shop.requests_for("tagsAdd");
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].variables, json!({"id": gid, "tags": ["VIP"]}));
    assert!(
        shop.requests_for("orderUpdate")
            .iter()
            .all(|r| r.variables["input"].get("tags").is_none()),
        "tags are never replaced"
    );
    let tags = shop.order(&gid).unwrap()["tags"].clone();
    assert_eq!(tags, json!(["eBay", "ordersync:ord_1", "VIP"]));

    // The supplier's tracking: fulfillmentCreate on the order's fulfillment
    // order, the shipment's line by SKU and quantity.
    let tracking = json!({"id": "SUP-9", "tags": ["ordersync:ord_1"], "updated_at": "2026-11-21T09:00:00Z",
        "shipments": [{"carrier": "UPS", "tracking_number": "1Z999AA1", "tracking_url": "https://ups.example/1Z999AA1",
                       "line_items": [{"sku": "MUG-1", "quantity": 2}]}]});
    send(&client, &d, "supplier", &update("s-1", "shipped", tracking)).await;
    wait_until(WAIT, "the shipment delivered", || {
        status_of(&d, 3) == "delivered"
    })
    .await;
    let fos = shop.fulfillment_orders(&gid);
    let mug_line = fos[0]["lineItems"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lineItem"]["sku"] == "MUG-1")
        .unwrap()["id"]
        .clone();
    let made = shop.requests_for("fulfillmentCreate");
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].variables["fulfillment"],
        json!({
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fos[0]["id"],
                "fulfillmentOrderLineItems": [{"id": mug_line, "quantity": 2}]}],
            "trackingInfo": {"company": "UPS", "number": "1Z999AA1", "url": "https://ups.example/1Z999AA1"},
            "notifyCustomer": false
        })
    );
    assert_eq!(shop.fulfillments().len(), 1);

    // eBay cancels: orderCancel with restock, delivered once the job is done
    // and the order reads back cancelled.
    let mut cancel = ebay_order("27-1138", "2026-11-22T08:00:00Z");
    cancel["status"] = json!("cancelled");
    send(&client, &d, "ebay", &update("e-3", "cancelled", cancel)).await;
    wait_until(WAIT, "the cancel delivered", || {
        status_of(&d, 4) == "delivered"
    })
    .await;
    let c = shop.requests_for("orderCancel");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].variables["orderId"], gid);
    assert_eq!(c[0].variables["restock"], true);
    assert!(shop.count("job") >= 2, "followed the job until done");
    assert!(!shop.order(&gid).unwrap()["cancelledAt"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_reject_once_with_shopifys_words_in_order_health() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    shop.script(
        "orderCreate",
        Behaviour::UserErrors(vec![(
            "lineItems.0.sku".into(),
            "SKU DS-404 not found".into(),
        )]),
    );
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    send(
        &client,
        &d,
        "ebay",
        &update(
            "e-1",
            "created",
            ebay_order("27-1138", "2026-11-20T10:00:00Z"),
        ),
    )
    .await;
    wait_until(WAIT, "rejected", || status_of(&d, 1) == "rejected").await;
    assert_eq!(shop.count("orderCreate"), 1, "one attempt");
    assert!(shop.orders().is_empty());
    let order = admin(&client, &d, "/api/orders/ord_1").await;
    let health = &order["health"][0];
    assert_eq!(health["status"], "rejected");
    assert_eq!(
        health["detail"],
        "rejected: SKU DS-404 not found (lineItems.0.sku)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_holds_the_channel_then_delivers_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    shop.script("orderCreate", Behaviour::Throttled200);
    shop.script(
        "orderCreate",
        Behaviour::Throttled429 {
            retry_after: Some(1),
        },
    );
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    let began = Instant::now();
    created(&client, &d, &shop).await;
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "waited out the Retry-After"
    );
    assert_eq!(shop.count("orderCreate"), 3);
    assert_eq!(shop.orders().len(), 1);
    // The throttles were waited out within one attempt: nothing failed.
    assert_eq!(d.count("SELECT attempts FROM deliveries WHERE id = 1"), 1);
    let metrics = client
        .get(d.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        support::metric(
            &metrics,
            "ordersync_connector_throttled_total{channel=\"shop\"}"
        ),
        Some(2.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_shopify_created_the_order_still_makes_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    // Shopify creates the order, then answers after the 1 s timeout.
    shop.script(
        "orderCreate",
        Behaviour::CommitThenSlow(Duration::from_secs(3)),
    );
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    let gid = created(&client, &d, &shop).await;
    assert_eq!(shop.count("orderCreate"), 1, "never sent again");
    assert!(shop.count("orders") >= 1, "looked for it by its tag first");
    let search = &shop.requests_for("orders")[0];
    assert_eq!(search.variables["query"], "tag:'ordersync:ord_1'");
    let link: String = d
        .text("SELECT external_id FROM links WHERE channel = 'shop'")
        .unwrap();
    assert_eq!(format!("gid://shopify/Order/{link}"), gid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_create_still_makes_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    shop.script(
        "orderCreate",
        Behaviour::CommitThenSlow(Duration::from_millis(900)),
    );
    let path = rules(dir.path(), &shop, &mock, false);
    let mut d = start(dir.path(), &path);
    let client = reqwest::Client::new();
    send(
        &client,
        &d,
        "ebay",
        &update(
            "e-1",
            "created",
            ebay_order("27-1138", "2026-11-20T10:00:00Z"),
        ),
    )
    .await;
    // Shopify has the order; the daemon has not heard back: kill it now.
    wait_until(WAIT, "Shopify has the order", || shop.orders().len() == 1).await;
    d.kill();
    assert_eq!(status_of(&d, 1), "pending");
    let d = start(dir.path(), &path);
    wait_until(WAIT, "delivered after the restart", || {
        status_of(&d, 1) == "delivered"
    })
    .await;
    assert_eq!(shop.orders().len(), 1, "still one order");
    assert_eq!(shop.count("orderCreate"), 1);
    assert_eq!(
        d.count("SELECT count(*) FROM links WHERE channel = 'shop'"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start("shpat_some_other_token", VERSION).await;
    let mock = Mock::start().await;
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    send(
        &client,
        &d,
        "ebay",
        &update(
            "e-1",
            "created",
            ebay_order("27-1138", "2026-11-20T10:00:00Z"),
        ),
    )
    .await;
    wait_until(WAIT, "rejected", || status_of(&d, 1) == "rejected").await;
    let order = admin(&client, &d, "/api/orders/ord_1").await;
    assert_eq!(
        order["health"][0]["detail"],
        "rejected: Shopify refused the access token"
    );
    let metrics = client
        .get(d.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        support::metric(
            &metrics,
            "ordersync_connector_auth_failures_total{channel=\"shop\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_answers_and_5xx_are_retried_until_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    shop.script("orderCreate", Behaviour::NotJson);
    shop.script("orders", Behaviour::NoDataNoErrors);
    shop.script("orders", Behaviour::Status(502));
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    created(&client, &d, &shop).await;
    // The HTML answer may have created it, so each retry looked first.
    assert_eq!(shop.count("orderCreate"), 2);
    assert_eq!(shop.orders().len(), 1);
    let errors: Vec<String> = d
        .rows("SELECT error FROM attempts WHERE error IS NOT NULL ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert!(
        errors[0].starts_with("Shopify's answer is not JSON: <"),
        "{errors:?}"
    );
    assert_eq!(
        errors[1],
        "Shopify's answer has neither `data` nor `errors`"
    );
    assert_eq!(errors[2], "Shopify answered 502");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_through_the_connector_delivers_each_order_once_and_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    // 23 store orders tagged eBay and shipped: three pages of ten.
    for i in 0..23 {
        shop.seed_order(json!({
            "name": format!("#{}", 1001 + i),
            "createdAt": "2026-11-20T10:00:00Z",
            "updatedAt": format!("2026-11-20T11:{:02}:00Z", i),
            "currencyCode": "USD",
            "tags": ["eBay"],
            "displayFinancialStatus": "PAID",
            "lineItems": [{"sku": "MUG-1", "title": "Mug", "quantity": 1,
                           "originalUnitPriceSet": {"shopMoney": {"amount": "20.00", "currencyCode": "USD"}}}],
            "fulfillments": [{"createdAt": "2026-11-20T11:00:00Z",
                              "trackingInfo": [{"company": "UPS", "number": format!("1Z{i}"), "url": null}]}]
        }));
    }
    let path = rules(dir.path(), &shop, &mock, true);
    let mut d = start(dir.path(), &path);
    let until = Instant::now() + WAIT;
    while mock.on("/ebay").len() < 23 {
        assert!(
            Instant::now() < until,
            "polled orders not delivered:\n{}",
            d.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = mock.wait_for("/ebay", 23, WAIT).await;
    let mut numbers: Vec<String> = got
        .iter()
        .map(|r| {
            r.body["order"]["shipments"][0]["tracking_number"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 23, "each polled order delivered once");
    assert!(got.iter().all(|r| r.body["event"] == "shipped"));
    let pages = shop.requests_for("orders");
    assert!(pages.len() >= 3);
    assert_eq!(pages[0].variables["first"], 10);
    d.kill();

    // A new change after the restart: the next run starts from the cursor.
    let gid = shop.seed_order(json!({
        "name": "#2001", "createdAt": "2026-11-21T10:00:00Z", "updatedAt": "2026-11-21T10:00:00Z",
        "currencyCode": "USD", "tags": ["eBay"], "displayFinancialStatus": "PAID",
        "lineItems": [{"sku": "TEE-2", "title": "Tee", "quantity": 1}],
        "fulfillments": [{"createdAt": "2026-11-21T10:00:00Z", "trackingInfo": [{"company": "DHL", "number": "JD1", "url": null}]}]
    }));
    let before = shop.count("orders");
    let d = start(dir.path(), &path);
    let got = mock.wait_for("/ebay", 24, WAIT).await;
    assert_eq!(
        got[23].body["order"]["shipments"][0]["tracking_number"],
        "JD1"
    );
    let after_restart = &shop.requests_for("orders")[before];
    assert_eq!(
        after_restart.variables["query"], "updated_at:>='2026-11-20T11:21:59Z'",
        "from the stored cursor less the overlap"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mock.on("/ebay").len(), 24, "nothing twice");
    assert!(!gid.is_empty());
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shopify_webhooks_are_refused_with_why_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    let d = start(dir.path(), &rules(dir.path(), &shop, &mock, false));
    let client = reqwest::Client::new();
    let fixture = include_str!("fixtures/shopify/orders-create.json");
    let post = |topic: Option<&'static str>, body: String| {
        let client = client.clone();
        let url = d.url("/webhooks/shop");
        async move {
            let mut r = client
                .post(url)
                .header(
                    "X-Shopify-Hmac-Sha256",
                    support::sign_shopify("shop-secret", &body),
                )
                .header("X-Shopify-Event-Id", "evt-1");
            if let Some(t) = topic {
                r = r.header("X-Shopify-Topic", t);
            }
            let resp = r.body(body).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    // The documented example is read (its id is above 2^53).
    let (status, _) = post(Some("orders/create"), fixture.to_string()).await;
    assert_eq!(status, 202);
    let mut bad: Json = serde_json::from_str(fixture).unwrap();
    bad["total_price"] = json!("abc");
    let (status, text) = post(Some("orders/updated"), bad.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("`total_price` is not an amount: \\\"abc\\\""),
        "{text}"
    );
    let (status, text) = post(None, fixture.to_string()).await;
    assert_eq!(status, 400);
    assert!(text.contains("X-Shopify-Topic"), "{text}");
    // 10 MB: refused at the 2 MiB limit; the daemon answers before it has
    // read it all, so the answer is read off the socket as a client would.
    let addr = d.base.trim_start_matches("http://").to_string();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let len = 10 * 1024 * 1024;
        let head = format!(
            "POST /webhooks/shop HTTP/1.1\r\nHost: x\r\nX-Shopify-Topic: orders/create\r\nX-Shopify-Event-Id: big\r\nX-Shopify-Hmac-Sha256: x\r\nContent-Length: {len}\r\n\r\n"
        );
        let _ = s.write_all(head.as_bytes());
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..(len / chunk.len()) {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.contains("the body is over the limit of 2097152 bytes"),
        "{answer}"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM quarantine"),
        2,
        "the unreadable ones are kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_money_reaches_shopify_with_exactly_the_currencys_minor_units() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(TOKEN, VERSION).await;
    let mock = Mock::start().await;
    let path = rules(dir.path(), &shop, &mock, false);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "      tags: eBay\n",
        "      tags: eBay\n      total_shipping: { value: 'convert(total_shipping, currency, \"USD\")' }\n      currency: USD\n",
    );
    std::fs::write(&path, text).unwrap();
    let d = start(dir.path(), &path);
    let client = reqwest::Client::new();
    let mut order = ebay_order("27-1138", "2026-11-20T10:00:00Z");
    order["currency"] = json!("EUR");
    order["total_shipping"] = json!(95);
    send(&client, &d, "ebay", &update("e-1", "created", order)).await;
    wait_until(WAIT, "delivered", || status_of(&d, 1) == "delivered").await;
    let sent = shop.requests_for("orderCreate");
    // 95 EUR at 1.10 is exactly 104.5 USD, written with two places.
    assert_eq!(
        sent[0].variables["order"]["shippingLines"],
        json!([{"title": "Shipping", "priceSet": {"shopMoney": {"amount": "104.50", "currencyCode": "USD"}}}])
    );
    let body: String = d.text("SELECT body FROM decisions WHERE id = 1").unwrap();
    assert!(body.contains("\"total_shipping\":104.5,"), "{body}");
}
