//! The WooCommerce connector end to end: the real daemon on port 0, a fake
//! WooCommerce store (`tests/support/woo_fake.rs`) that checks every request
//! against the REST API v3 docs, and a marketplace and a supplier sending
//! canonical webhooks and receiving on a mock.

mod support;
#[path = "support/woo_fake.rs"]
mod woo_fake;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, post_update, update};
use woo_fake::{Behaviour, FakeWoo};

const KEY: &str = "ck_e2e_consumer_key";
const SECRET: &str = "cs_e2e_consumer_secret";
const HOOK_SECRET: &str = "woo-hook-secret";
const WAIT: Duration = Duration::from_secs(15);

fn rules(dir: &Path, woo: &FakeWoo, mock: &Mock, poll: bool) -> PathBuf {
    let poll = if poll {
        "    poll: { schedule: \"*/1 * * * * *\", overlap: 2s }\n"
    } else {
        ""
    };
    let text = format!(
        r#"version: 1
channels:
  woo:
    role: commerce_platform
    webhook: {{ secret: "{HOOK_SECRET}" }}
    connector:
      kind: woocommerce
      base_url: "{base}"
      consumer_key: "${{WC_KEY}}"
      consumer_secret: "${{WC_SECRET}}"
{poll}    deliver:
      accepts: [created, shipped, cancelled]
      timeout: 1s
      retry: {{ attempts: 6, first: 300ms, max: 1s }}
  ebay:
    role: marketplace
    webhook: {{ format: ordersync, secret: ebay-secret }}
    deliver: {{ url: "{mock}/ebay", accepts: [shipped, cancelled] }}
  supplier:
    role: fulfillment
    webhook: {{ format: ordersync, secret: supplier-secret }}
    deliver: {{ url: "{mock}/supplier", accepts: [created] }}
rules:
  ebay:
    attributes:
      tags: eBay
  woo:
    overwrites:
      ebay:
        attributes:
          publish: {{ when: tags contains "eBay", then: true, otherwise: false }}
      supplier:
        attributes:
          publish: false
"#,
        base = woo.base,
        mock = mock.base,
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, rules: &Path) -> Daemon {
    Daemon::start_with(
        dir,
        rules,
        "127.0.0.1:0",
        &[],
        &[("WC_KEY", KEY), ("WC_SECRET", SECRET)],
    )
}

async fn store() -> FakeWoo {
    let woo = FakeWoo::start(KEY, SECRET).await;
    woo.add_product(22, "MUG", "Mug", "19.00", None);
    woo.add_product(23, "MUG-1", "Mug - Blue", "19.00", Some(22));
    woo.add_product(31, "TEE-2", "Tee", "60.00", None);
    woo
}

fn ebay_order(id: &str) -> Json {
    json!({
        "id": id, "name": format!("eBay {id}"), "financial_status": "paid", "currency": "USD",
        "total_price": 104.5, "tags": [], "updated_at": "2026-11-20T10:00:00Z",
        "total_shipping": 0,
        "customer": {"email": "buyer@example.com", "first_name": "Ada", "last_name": "Lovelace"},
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

fn link(d: &Daemon) -> Option<String> {
    d.text("SELECT external_id FROM links WHERE channel = 'woo'")
}

async fn admin(client: &reqwest::Client, d: &Daemon, path: &str) -> Json {
    let r = client.get(d.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Sends a WooCommerce webhook as WooCommerce does: the JSON body, the topic,
/// the delivery id and the base64 HMAC-SHA256 of the body.
async fn woo_hook(
    client: &reqwest::Client,
    d: &Daemon,
    topic: &str,
    delivery: &str,
    body: &str,
    signature: Option<String>,
) -> (u16, String) {
    let mut r = client
        .post(d.url("/webhooks/woo"))
        .header("Content-Type", "application/json")
        .header("User-Agent", "WooCommerce/9.4.0 Hookshot (WordPress/6.7)")
        .header("X-WC-Webhook-Source", "https://shop.example/")
        .header("X-WC-Webhook-Topic", topic)
        .header("X-WC-Webhook-Resource", "order")
        .header("X-WC-Webhook-Event", topic.trim_start_matches("order."))
        .header("X-WC-Webhook-ID", "3")
        .header("X-WC-Webhook-Delivery-ID", delivery)
        .body(body.to_string());
    let sig = signature.unwrap_or_else(|| {
        ordersync::ingress::signature::sign_woocommerce(HOOK_SECRET.as_bytes(), body.as_bytes())
    });
    r = r.header("X-WC-Webhook-Signature", sig);
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Sends eBay order 27-1138 and waits for it in the store; answers its id.
async fn created(client: &reqwest::Client, d: &Daemon, woo: &FakeWoo) -> i64 {
    send(
        client,
        d,
        "ebay",
        &update("e-1", "created", ebay_order("27-1138")),
    )
    .await;
    wait_until(WAIT, "the order is created and linked", || {
        woo.orders().len() == 1 && link(d).is_some()
    })
    .await;
    woo.orders()[0]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketplace_order_is_created_in_woo_and_the_stores_completion_goes_back_as_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    let d = start(dir.path(), &rules(dir.path(), &woo, &mock, false));
    let client = reqwest::Client::new();
    let id = created(&client, &d, &woo).await;

    let o = &woo.orders()[0];
    assert_eq!(
        link(&d),
        Some(id.to_string()),
        "WooCommerce's id is the link"
    );
    assert_eq!(o["status"], "processing", "created paid");
    assert!(!o["date_paid_gmt"].is_null());
    assert_eq!(o["currency"], "USD");
    assert_eq!(o["total"], "104.50", "money exact");
    let lines: Vec<(Json, Json, Json, Json)> = o["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product_id"].clone(),
                l["variation_id"].clone(),
                l["quantity"].clone(),
                l["total"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (json!(22), json!(23), json!(2), json!("40.50")),
            (json!(31), json!(0), json!(1), json!("64.00")),
        ],
        "products by SKU, the variation with its parent"
    );
    assert_eq!(
        o["shipping"],
        json!({"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Main St",
               "city": "Springfield", "state": "IL", "postcode": "62701", "country": "US"})
    );
    assert_eq!(o["billing"]["email"], "buyer@example.com");
    let meta: Vec<(String, String)> = o["meta_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_string(),
                m["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        meta,
        vec![
            ("_ordersync_id".into(), "ord_1".into()),
            ("_ordersync_tags".into(), "eBay".into())
        ]
    );
    assert!(woo.refused().is_empty(), "{:?}", woo.refused());

    // The merchant completes the order in WooCommerce; WooCommerce's
    // `order.updated` webhook reaches eBay as a shipment of eBay's order.
    let mut done = o.clone();
    done["status"] = json!("completed");
    done["date_modified_gmt"] = json!("2099-01-01T10:00:00");
    done["date_completed_gmt"] = json!("2099-01-01T10:00:00");
    done["meta_data"].as_array_mut().unwrap().push(
        json!({"id": 77, "key": "_wc_shipment_tracking_items", "value": [
            {"tracking_provider": "ups", "custom_tracking_provider": "", "custom_tracking_link": "",
             "tracking_number": "1Z999", "date_shipped": "4070944800", "tracking_id": "t1"}]}),
    );
    let body = done.to_string();
    let (status, text) = woo_hook(&client, &d, "order.updated", "d41d8cd9", &body, None).await;
    assert_eq!(status, 202, "{text}");
    let got = mock.wait_for("/ebay", 1, WAIT).await;
    let e = &got[0].body;
    assert_eq!(e["event"], "shipped");
    assert_eq!(e["external_id"], "27-1138");
    assert_eq!(e["order_id"], "ord_1");
    assert_eq!(e["order"]["shipments"][0]["tracking_number"], "1Z999");
    assert_eq!(e["order"]["shipments"][0]["carrier"], "ups");
    assert_eq!(e["order"]["total_price"], json!(104.5));
    // The same delivery again is a duplicate.
    let (status, _) = woo_hook(&client, &d, "order.updated", "d41d8cd9", &body, None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.on("/ebay").len(), 1);
    assert!(mock.on("/supplier").is_empty(), "publish: false");

    // Nothing kept or shown carries the key or the secret.
    let order = admin(&client, &d, "/api/orders/ord_1").await;
    let text = order.to_string();
    assert!(!text.contains(SECRET) && !text.contains(KEY), "{text}");
    assert!(text.contains("[masked]"), "{text}");
    let kept = d.attempts_kept();
    assert!(!kept.contains(SECRET));
    let basic = base64_of(&format!("{KEY}:{SECRET}"));
    assert!(!kept.contains(&basic));
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_signature_is_401_and_the_ping_200_and_neither_stores_anything() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    let d = start(dir.path(), &rules(dir.path(), &woo, &mock, false));
    let client = reqwest::Client::new();
    let body = json!({"id": 801, "number": "801", "status": "processing", "currency": "USD",
        "date_created_gmt": "2026-11-20T10:00:00", "date_modified_gmt": "2026-11-20T10:00:00",
        "total": "5.00", "line_items": [], "meta_data": []})
    .to_string();

    let wrong = ordersync::ingress::signature::sign_woocommerce(b"not-the-secret", body.as_bytes());
    let (status, text) = woo_hook(&client, &d, "order.created", "a1", &body, Some(wrong)).await;
    assert_eq!(status, 401);
    assert_eq!(
        text,
        r#"{"error":"bad signature in `X-WC-Webhook-Signature`"}"#
    );
    let mut changed = body.clone().into_bytes();
    changed[10] ^= 1;
    let good =
        ordersync::ingress::signature::sign_woocommerce(HOOK_SECRET.as_bytes(), body.as_bytes());
    let (status, _) = woo_hook(
        &client,
        &d,
        "order.created",
        "a2",
        &String::from_utf8(changed).unwrap(),
        Some(good),
    )
    .await;
    assert_eq!(status, 401, "one changed byte");
    let (status, _) = woo_hook(
        &client,
        &d,
        "order.created",
        "a3",
        &body,
        Some(String::new()),
    )
    .await;
    assert_eq!(status, 401);

    // The ping WooCommerce sends when the webhook is saved: a form body, no
    // topic, no signature; WooCommerce keeps the webhook only on a 200.
    let resp = client
        .post(d.url("/webhooks/woo"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("User-Agent", "WooCommerce/9.4.0 Hookshot (WordPress/6.7)")
        .body("webhook_id=3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for table in ["updates", "quarantine", "orders", "deliveries"] {
        assert_eq!(
            d.count(&format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    // A form body that is not a ping is still refused without a signature.
    let resp = client
        .post(d.url("/webhooks/woo"))
        .body("webhook_id=3&x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // The right signature is stored.
    let (status, text) = woo_hook(&client, &d, "order.created", "a4", &body, None).await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(d.count("SELECT count(*) FROM updates"), 1);
    let metrics = admin_text(&client, &d, "/metrics").await;
    assert_eq!(
        support::metric(
            &metrics,
            "ordersync_webhook_signature_failures_total{channel=\"woo\"}"
        ),
        Some(4.0),
        "{metrics}"
    );
}

async fn admin_text(client: &reqwest::Client, d: &Daemon, path: &str) -> String {
    client
        .get(d.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_woo_created_the_order_still_makes_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    // WooCommerce creates the order, then answers after the 1 s timeout.
    woo.script(
        "create order",
        Behaviour::CommitThenSlow(Duration::from_secs(3)),
    );
    let d = start(dir.path(), &rules(dir.path(), &woo, &mock, false));
    let client = reqwest::Client::new();
    let id = created(&client, &d, &woo).await;
    wait_until(WAIT, "delivered", || status_of(&d, 1) == "delivered").await;
    assert_eq!(woo.count("create order"), 1, "never sent again");
    assert_eq!(woo.orders().len(), 1);
    assert_eq!(link(&d), Some(id.to_string()));
    let searches: Vec<String> = woo
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET /wp-json/wc/v3/orders?after="))
        .collect();
    assert!(!searches.is_empty(), "looked for it first: {:?}", woo.log());
    assert!(
        searches[0].contains("dates_are_gmt=true"),
        "{}",
        searches[0]
    );
    assert!(woo.refused().is_empty(), "{:?}", woo.refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wp_errors_and_unknown_skus_are_rejected_with_the_reason_in_order_health() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    woo.script(
        "create order",
        Behaviour::WpError(
            400,
            "woocommerce_rest_invalid_product_id",
            "Product ID provided is invalid.",
        ),
    );
    let d = start(dir.path(), &rules(dir.path(), &woo, &mock, false));
    let client = reqwest::Client::new();
    send(
        &client,
        &d,
        "ebay",
        &update("e-1", "created", ebay_order("27-1138")),
    )
    .await;
    wait_until(WAIT, "rejected", || status_of(&d, 1) == "rejected").await;
    assert_eq!(woo.count("create order"), 1, "one attempt");
    assert!(woo.orders().is_empty());
    let order = admin(&client, &d, "/api/orders/ord_1").await;
    assert_eq!(order["health"][0]["status"], "rejected");
    assert_eq!(
        order["health"][0]["detail"],
        "rejected: WooCommerce answered 400: Product ID provided is invalid. (woocommerce_rest_invalid_product_id)"
    );

    let mut unknown = ebay_order("27-2000");
    unknown["line_items"][1]["sku"] = json!("NOPE-9");
    send(&client, &d, "ebay", &update("e-2", "created", unknown)).await;
    wait_until(WAIT, "rejected", || status_of(&d, 2) == "rejected").await;
    let order = admin(&client, &d, "/api/orders/ord_2").await;
    assert_eq!(
        order["health"][0]["detail"],
        "rejected: WooCommerce has no product with SKU `NOPE-9`"
    );
    assert_eq!(woo.count("create order"), 1, "nothing sent for it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_and_5xx_are_retried_with_a_reason_until_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    woo.script(
        "product lookup",
        Behaviour::Raw(200, "<html>maintenance</html>"),
    );
    woo.script("product lookup", Behaviour::Shape(json!({"products": []})));
    woo.script("product lookup", Behaviour::Raw(502, "Bad Gateway"));
    woo.script(
        "create order",
        Behaviour::Shape(json!({"order": {"id": 1}})),
    );
    let d = start(dir.path(), &rules(dir.path(), &woo, &mock, false));
    let client = reqwest::Client::new();
    let id = created(&client, &d, &woo).await;
    wait_until(WAIT, "delivered", || status_of(&d, 1) == "delivered").await;
    let errors: Vec<String> = d
        .rows("SELECT error FROM attempts WHERE delivery_id = 1 AND error IS NOT NULL ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            "WooCommerce's answer is not JSON: <html>maintenance</html>".to_string(),
            "WooCommerce's product list is not a JSON array".to_string(),
            "WooCommerce answered 502: Bad Gateway".to_string(),
            "WooCommerce's answer has no whole order `id`; the next attempt first looks for the order by its `_ordersync_id`".to_string(),
        ],
        "{errors:?}"
    );
    // The unreadable create answer made nothing (a Shape script changes
    // nothing), so the search found nothing and the create went again: one
    // order in the store, linked.
    assert_eq!(woo.orders().len(), 1);
    assert_eq!(link(&d), Some(id.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketplace_cancel_and_a_suppliers_tracking_reach_the_woo_order() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    let path = rules(dir.path(), &woo, &mock, false);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "  ebay:\n    attributes:\n      tags: eBay\n",
        "  ebay:\n    attributes:\n      tags: eBay\n  supplier:\n    overwrites:\n      woo:\n        attributes:\n          publish: true\n",
    );
    std::fs::write(&path, text).unwrap();
    let d = start(dir.path(), &path);
    let client = reqwest::Client::new();
    let id = created(&client, &d, &woo).await;

    // The supplier ships it: a tracking note, then status completed.
    let mut shipped = ebay_order("27-1138");
    shipped["updated_at"] = json!("2026-11-20T11:00:00Z");
    shipped["tags"] = json!([format!("ordersync:ord_1")]);
    shipped["shipments"] = json!([{"carrier": "UPS", "tracking_number": "1Z999",
        "tracking_url": "https://ups.example/1Z999", "line_items": []}]);
    shipped["id"] = json!("SUP-1");
    send(&client, &d, "supplier", &update("s-1", "shipped", shipped)).await;
    wait_until(WAIT, "completed", || {
        woo.orders()[0]["status"] == "completed"
    })
    .await;
    let notes = woo.notes(id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0]["note"],
        "Shipped via UPS, tracking number 1Z999 (https://ups.example/1Z999)"
    );
    assert_eq!(notes[0]["customer_note"], false);

    // eBay cancels: the order's status becomes cancelled.
    let mut cancel = ebay_order("27-1138");
    cancel["updated_at"] = json!("2026-11-20T12:00:00Z");
    cancel["status"] = json!("cancelled");
    send(&client, &d, "ebay", &update("e-9", "cancelled", cancel)).await;
    wait_until(WAIT, "cancelled", || {
        woo.orders()[0]["status"] == "cancelled"
    })
    .await;
    assert!(woo.refused().is_empty(), "{:?}", woo.refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_reads_every_page_by_modified_after_and_resumes_from_the_cursor_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let woo = store().await;
    let mock = Mock::start().await;
    // 150 completed store orders, made by ordersync for eBay: two pages.
    for i in 0..150 {
        woo.put_order(json!({
            "id": 1000 + i, "number": (1000 + i).to_string(), "status": "completed", "currency": "USD",
            "date_created_gmt": "2026-11-20T09:00:00",
            "date_modified_gmt": format!("2026-11-20T10:{:02}:{:02}", i / 60, i % 60),
            "total": "20.00", "shipping_total": "0.00", "total_tax": "0.00",
            "billing": {}, "shipping": {}, "refunds": [], "shipping_lines": [],
            "line_items": [{"id": 1, "name": "Mug", "sku": "MUG", "quantity": 1, "subtotal": "20.00", "total": "20.00", "price": 20}],
            "meta_data": [{"id": 1, "key": "_ordersync_tags", "value": "eBay"},
                          {"id": 2, "key": "_wc_shipment_tracking_items", "value": [
                              {"tracking_provider": "usps", "tracking_number": format!("94{i}"), "date_shipped": "1763629200"}]}]
        }));
    }
    let path = rules(dir.path(), &woo, &mock, true);
    let mut d = start(dir.path(), &path);
    let got = mock.wait_for("/ebay", 150, WAIT).await;
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
    assert_eq!(numbers.len(), 150, "each polled order delivered once");
    assert!(got.iter().all(|r| r.body["event"] == "shipped"));
    let first = woo.log();
    assert!(
        first[0].starts_with(
            "GET /wp-json/wc/v3/orders?orderby=modified&order=asc&per_page=100&page=1"
        ),
        "{first:?}"
    );
    // The second page is asked for by time: after the first page's last order.
    assert!(
        first
            .iter()
            .any(|l| l.contains("modified_after=2026-11-20T10%3A01%3A38")),
        "{first:?}"
    );
    d.kill();

    // A change after the restart: the next run starts from the stored cursor.
    woo.put_order(json!({
        "id": 2001, "number": "2001", "status": "completed", "currency": "USD",
        "date_created_gmt": "2026-11-21T09:00:00", "date_modified_gmt": "2026-11-21T10:00:00",
        "total": "20.00", "line_items": [], "refunds": [], "shipping_lines": [],
        "meta_data": [{"id": 1, "key": "_ordersync_tags", "value": "eBay"},
                      {"id": 2, "key": "_wc_shipment_tracking_items", "value": [
                          {"tracking_provider": "dhl", "tracking_number": "JD1", "date_shipped": "1763715600"}]}]
    }));
    let before = woo.log().len();
    let d = start(dir.path(), &path);
    let got = mock.wait_for("/ebay", 151, WAIT).await;
    assert_eq!(
        got[150].body["order"]["shipments"][0]["tracking_number"],
        "JD1"
    );
    let after = &woo.log()[before];
    assert!(
        after.contains("modified_after=2026-11-20T10%3A02%3A27&dates_are_gmt=true"),
        "from the stored cursor less the 2 s overlap: {after}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mock.on("/ebay").len(), 151, "nothing twice");
    assert!(woo.refused().is_empty(), "{:?}", woo.refused());
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let woo = FakeWoo::start("ck_other", SECRET).await;
    let mock = Mock::start().await;
    let d = start(dir.path(), &rules(dir.path(), &woo, &mock, false));
    let client = reqwest::Client::new();
    send(
        &client,
        &d,
        "ebay",
        &update("e-1", "created", ebay_order("27-1138")),
    )
    .await;
    wait_until(WAIT, "rejected", || status_of(&d, 1) == "rejected").await;
    let order = admin(&client, &d, "/api/orders/ord_1").await;
    assert_eq!(
        order["health"][0]["detail"],
        "rejected: WooCommerce refused the REST API key: Sorry, you cannot list resources. (woocommerce_rest_cannot_view)"
    );
    let metrics = admin_text(&client, &d, "/metrics").await;
    assert_eq!(
        support::metric(
            &metrics,
            "ordersync_connector_auth_failures_total{channel=\"woo\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
}
