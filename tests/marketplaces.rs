//! eBay and Etsy connectors end to end (SPEC 12.2): the real daemon polls
//! fake eBay and Etsy APIs (`tests/support/{ebay,etsy}_fake.rs`), imports into
//! the fake Shopify store, and sends the store's shipments back with the
//! marketplaces' own line ids; credentials refresh themselves.

#[path = "support/ebay_fake.rs"]
mod ebay_fake;
#[path = "support/etsy_fake.rs"]
mod etsy_fake;
#[path = "support/shopify_fake.rs"]
mod shopify_fake;
mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ebay_fake::FakeEbay;
use etsy_fake::FakeEtsy;
use serde_json::{Value as Json, json};
use shopify_fake::FakeShopify;
use support::{Daemon, sign_shopify};

const SHOP_TOKEN: &str = "shpat_marketplaces";
const EBAY_SECRET: &str = "ebay-cert-secret";
const EBAY_RT: &str = "v^1.1#i^1#r^1#ebay-refresh-seed";
const ETSY_SECRET: &str = "etsy-shared-secret";
const ETSY_RT: &str = "7654321.etsy-refresh-seed";
const WAIT: Duration = Duration::from_secs(20);

fn rules(dir: &Path, shop: &FakeShopify, ebay: &str, etsy: &str) -> PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ secret: shop-secret }}
    connector: {{ kind: shopify, shop: acme.myshopify.com, api_version: "2025-10", token: "${{SHOP_TOKEN}}", base_url: "{shop}" }}
    deliver: {{ accepts: [created, shipped], timeout: 2s, retry: {{ attempts: 8, first: 200ms, max: 1s }} }}
  ebay:
    role: marketplace
    connector:
      kind: ebay
      base_url: "{ebay}"
      client_id: app-id
      client_secret: "${{EBAY_SECRET}}"
      refresh_token: "${{EBAY_RT}}"
    poll: {{ schedule: "*/1 * * * * *", overlap: 1s }}
    deliver: {{ accepts: [shipped, cancelled], timeout: 2s, retry: {{ attempts: 20, first: 200ms, max: 1s }} }}
  etsy:
    role: marketplace
    connector:
      kind: etsy
      base_url: "{etsy}"
      shop_id: "12345678"
      keystring: etsy-key
      shared_secret: "${{ETSY_SECRET}}"
      refresh_token: "${{ETSY_RT}}"
    poll: {{ schedule: "*/1 * * * * *", overlap: 1s }}
    deliver: {{ accepts: [shipped], timeout: 2s, retry: {{ attempts: 20, first: 200ms, max: 1s }} }}
rules:
  ebay:
    attributes:
      tags: eBay
  etsy:
    import: financial_status == "paid" and fulfillment_status is empty
    attributes:
      tags: Etsy
  shop:
    overwrites:
      ebay:
        attributes:
          publish: {{ when: tags contains "eBay", then: true, otherwise: false }}
      etsy:
        attributes:
          publish: {{ when: tags contains "Etsy", then: true, otherwise: false }}
"#,
        shop = shop.base_url(),
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SHOP_TOKEN", SHOP_TOKEN),
        ("EBAY_SECRET", EBAY_SECRET),
        ("EBAY_RT", EBAY_RT),
        ("ETSY_SECRET", ETSY_SECRET),
        ("ETSY_RT", ETSY_RT),
    ]
}

fn start(dir: &Path, rules: &Path, extra_env: &[(&str, &str)]) -> Daemon {
    let mut e = env();
    e.extend_from_slice(extra_env);
    Daemon::start_with(dir, rules, "127.0.0.1:0", &[], &e)
}

async fn wait_until(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < until, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ebay_order(id: &str, legacy: &str) -> Json {
    json!({
        "orderId": id, "legacyOrderId": legacy,
        "creationDate": "2026-01-05T10:00:00.000Z", "lastModifiedDate": "2026-01-05T10:00:00.000Z",
        "orderFulfillmentStatus": "NOT_STARTED", "orderPaymentStatus": "PAID",
        "pricingSummary": {"priceSubtotal": {"value": "119.00", "currency": "USD"},
                           "total": {"value": "119.00", "currency": "USD"}},
        "buyer": {"username": "ada_l"},
        "fulfillmentStartInstructions": [{"shippingStep": {"shipTo": {"fullName": "Ada Lovelace", "email": "ada@example.com",
            "contactAddress": {"addressLine1": "1 Main St", "city": "New York", "stateOrProvince": "NY", "postalCode": "10001", "countryCode": "US"}}}}],
        "lineItems": [
            {"lineItemId": "10000111", "sku": "DS-MUG-12", "title": "Mug", "quantity": 2, "lineItemCost": {"value": "99.00", "currency": "USD"}},
            {"lineItemId": "10000222", "sku": "TEE-M", "title": "Tee", "quantity": 1, "lineItemCost": {"value": "20.00", "currency": "USD"}}
        ]
    })
}

fn etsy_receipt(id: u64, paid: bool, shipped: bool) -> Json {
    let now = 1767607200;
    json!({
        "receipt_id": id, "status": if paid { "Paid" } else { "Open" }, "is_paid": paid, "is_shipped": shipped,
        "name": "Grace Hopper", "first_line": "2 Navy Way", "city": "Arlington", "state": "VA", "zip": "22201",
        "country_iso": "US", "buyer_email": "grace@example.com",
        "create_timestamp": now, "updated_timestamp": now,
        "grandtotal": {"amount": 11900, "divisor": 100, "currency_code": "USD"},
        "transactions": [
            {"transaction_id": id * 10 + 1, "sku": "DS-MUG-12", "title": "Mug", "quantity": 2, "price": {"amount": 4950, "divisor": 100, "currency_code": "USD"}},
            {"transaction_id": id * 10 + 2, "sku": "TEE-M", "title": "Tee", "quantity": 1, "price": {"amount": 2000, "divisor": 100, "currency_code": "USD"}}
        ],
        "shipments": []
    })
}

/// The store's fulfilment webhook for its order `store_id`, tagged as ordersync made it.
fn shopify_fulfilled(store_id: u64, tags: &str) -> String {
    let mut o: Json = serde_json::from_str(include_str!("fixtures/shopify_order.json")).unwrap();
    o["id"] = json!(store_id);
    o["admin_graphql_api_id"] = json!(format!("gid://shopify/Order/{store_id}"));
    o["tags"] = json!(tags);
    o["updated_at"] = json!("2026-11-21T13:00:00Z");
    o.to_string()
}

async fn post_shopify(client: &reqwest::Client, d: &Daemon, topic: &str, event: &str, body: &str) {
    let resp = client
        .post(d.url("/webhooks/shop"))
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Event-Id", event)
        .header("X-Shopify-Hmac-Sha256", sign_shopify("shop-secret", body))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
}

fn store_id_for(shop: &FakeShopify, tag: &str) -> u64 {
    shop.orders()
        .iter()
        .find(|o| {
            o["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == tag))
        })
        .and_then(|o| o["legacyResourceId"].as_str().map(|s| s.parse().unwrap()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebay_orders_come_in_and_tracking_goes_back_with_ebay_line_ids() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(SHOP_TOKEN, "2025-10").await;
    // Access tokens that last 62 s are used for 2 s only (a minute's margin).
    let ebay = FakeEbay::start("app-id", EBAY_SECRET, EBAY_RT, 62).await;
    let etsy = FakeEtsy::start("etsy-key", ETSY_SECRET, "12345678", ETSY_RT, 3600).await;
    ebay.add_order(ebay_order("12-34567-89012", "110123456789-0"));
    let path = rules(dir.path(), &shop, &ebay.base_url(), &etsy.base_url());
    let daemon = start(dir.path(), &path, &[]);

    wait_until(WAIT, "the eBay order in the store", || {
        shop.orders().len() == 1
    })
    .await;
    let created = shop.requests_for("orderCreate");
    let o = &created[0].variables["order"];
    assert_eq!(o["tags"], json!(["eBay", "ordersync:ord_1"]));
    assert_eq!(o["lineItems"][0]["sku"], "DS-MUG-12");
    assert_eq!(
        o["lineItems"][0]["priceSet"]["shopMoney"]["amount"],
        "49.50"
    );
    let token_calls = ebay.requests("token");
    assert!(!token_calls.is_empty());
    assert_eq!(
        daemon.count(
            "SELECT count(*) FROM links WHERE channel = 'ebay' AND external_id = '12-34567-89012'"
        ),
        1
    );

    // Tokens are refreshed before they lapse: no 401 from eBay, several grants.
    wait_until(WAIT, "a refresh before expiry", || ebay.issued() >= 2).await;
    assert!(
        ebay.requests("getOrders").iter().all(|r| r.status == 200),
        "no call went out with a lapsed token"
    );
    let later = ebay
        .requests("getOrders")
        .into_iter()
        .find(|r| r.uri.contains("filter="))
        .expect("a run with a cursor");
    assert!(
        later
            .uri
            .ends_with("filter=lastmodifieddate%3A%5B2026-01-05T09%3A59%3A59.000Z..%5D"),
        "{}",
        later.uri
    );

    // The store ships it; eBay revoked the access token meanwhile: one 401,
    // one refresh, the call again.
    ebay.revoke_access_tokens();
    let store_id = store_id_for(&shop, "eBay");
    let client = reqwest::Client::new();
    post_shopify(
        &client,
        &daemon,
        "orders/fulfilled",
        "ship-1",
        &shopify_fulfilled(store_id, "eBay, ordersync:ord_1"),
    )
    .await;
    wait_until(WAIT, "the eBay fulfillment", || {
        ebay.fulfillments("12-34567-89012").len() == 1
    })
    .await;
    let f = &ebay.fulfillments("12-34567-89012")[0];
    assert_eq!(
        f["lineItems"],
        json!([{"lineItemId": "10000111", "quantity": 2}])
    );
    assert_eq!(f["shipmentTrackingNumber"], "1Z2345");
    assert_eq!(f["shippingCarrierCode"], "UPS");
    wait_until(WAIT, "delivered to eBay", || {
        daemon.count(
            "SELECT count(*) FROM deliveries WHERE destination = 'ebay' AND status = 'delivered'",
        ) == 1
    })
    .await;
    // The 201's Location is kept in the step; no secret is kept anywhere.
    let kept: Vec<(String, String)> = daemon
        .rows("SELECT request, response FROM attempts")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(kept.iter().any(|(_, resp)| {
        resp.contains("Location: /sell/fulfillment/v1/order/12-34567-89012/shipping_fulfillment/")
    }));
    for (req, resp) in &kept {
        for secret in [EBAY_SECRET, EBAY_RT, "v^1.1#i^1#fake", "Basic "] {
            assert!(
                !req.contains(secret) && !resp.contains(secret),
                "{secret} kept in {req} / {resp}"
            );
        }
    }
    assert!(!daemon.log_text().contains(EBAY_RT));
    assert!(!daemon.log_text().contains("fake-1"));
    // Etsy heard nothing of an eBay order.
    assert!(etsy.requests("createReceiptShipment").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etsy_imports_paid_unshipped_receipts_and_takes_tracking_with_a_rotating_token() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(SHOP_TOKEN, "2025-10").await;
    let ebay = FakeEbay::start("app-id", EBAY_SECRET, EBAY_RT, 7200).await;
    let etsy = FakeEtsy::start("etsy-key", ETSY_SECRET, "12345678", ETSY_RT, 62).await;
    etsy.add_receipt(etsy_receipt(1111, true, false));
    etsy.add_receipt(etsy_receipt(2222, false, false));
    etsy.add_receipt(etsy_receipt(3333, true, true));
    let path = rules(dir.path(), &shop, &ebay.base_url(), &etsy.base_url());
    let daemon = start(dir.path(), &path, &[]);

    wait_until(WAIT, "the paid receipt in the store", || {
        shop.orders().len() == 1
    })
    .await;
    wait_until(WAIT, "all three receipts stored", || {
        daemon.count("SELECT count(*) FROM updates WHERE channel = 'etsy'") >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        shop.orders().len(),
        1,
        "only the paid, unshipped receipt is imported"
    );
    // Each refresh rotated the refresh token; the store holds the newest.
    wait_until(WAIT, "a second rotation", || etsy.rotations() >= 2).await;
    let stored = || -> String {
        daemon
            .text("SELECT refresh_token FROM credentials WHERE channel = 'etsy'")
            .unwrap()
    };
    wait_until(WAIT, "the newest refresh token stored", || {
        stored() == etsy.current_refresh_token()
    })
    .await;
    assert!(
        etsy.requests("token").iter().all(|r| r.status == 200),
        "never a voided token"
    );

    let store_id = store_id_for(&shop, "Etsy");
    let client = reqwest::Client::new();
    post_shopify(
        &client,
        &daemon,
        "orders/fulfilled",
        "ship-e",
        &shopify_fulfilled(store_id, "Etsy, ordersync:ord_1"),
    )
    .await;
    wait_until(WAIT, "the Etsy shipment", || {
        !etsy.requests("createReceiptShipment").is_empty()
    })
    .await;
    let r = etsy.receipt(1111).unwrap();
    assert_eq!(r["shipments"][0]["tracking_code"], "1Z2345");
    assert_eq!(r["shipments"][0]["carrier_name"], "UPS");
    assert_eq!(r["is_shipped"], true);
    let sent = &etsy.requests("createReceiptShipment")[0];
    assert!(
        sent.uri
            .ends_with("/v3/application/shops/12345678/receipts/1111/tracking")
    );
    assert!(ebay.requests("createShippingFulfillment").is_empty());
    let kept: Vec<String> = daemon
        .rows("SELECT coalesce(request, '') FROM attempts")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert!(
        kept.iter()
            .all(|k| !k.contains(ETSY_SECRET) && !k.contains("rotated-") && !k.contains("access-"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_holds_deliveries_until_set_token() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(SHOP_TOKEN, "2025-10").await;
    let ebay = FakeEbay::start("app-id", EBAY_SECRET, EBAY_RT, 7200).await;
    let etsy = FakeEtsy::start("etsy-key", ETSY_SECRET, "12345678", ETSY_RT, 3600).await;
    ebay.add_order(ebay_order("12-00000-00001", "110000000001-0"));
    let path = rules(dir.path(), &shop, &ebay.base_url(), &etsy.base_url());
    let daemon = start(dir.path(), &path, &[]);
    wait_until(WAIT, "the eBay order in the store", || {
        shop.orders().len() == 1
    })
    .await;

    // The seller revoked the app: the refresh token is refused.
    ebay.set_refresh_token("v^1.1#i^1#r^1#the-new-one");
    ebay.revoke_access_tokens();
    let store_id = store_id_for(&shop, "eBay");
    let client = reqwest::Client::new();
    post_shopify(
        &client,
        &daemon,
        "orders/fulfilled",
        "ship-2",
        &shopify_fulfilled(store_id, "eBay, ordersync:ord_1"),
    )
    .await;
    let readyz = || async {
        let text = client
            .get(daemon.url("/readyz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let r: Json = serde_json::from_str(&text).unwrap();
        r
    };
    let until = Instant::now() + WAIT;
    loop {
        let r = readyz().await;
        if r["connectors"]["ebay"]["credential"] == "needs reconnect" {
            assert_eq!(
                r["connectors"]["ebay"]["reason"],
                "the eBay refresh token was refused (invalid_grant): the provided authorization refresh token is invalid or was issued to another client; give a new one with `ordersync connector set-token ebay`"
            );
            break;
        }
        assert!(Instant::now() < until, "never marked: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = client
        .get(daemon.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        support::metric(
            &metrics,
            "ordersync_connector_credential_ok{channel=\"ebay\"}"
        ),
        Some(0.0)
    );
    // The dashboard says what to do, on every page.
    let page = client
        .get(daemon.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(
            "<b>ebay needs reconnecting:</b> the eBay refresh token was refused (invalid_grant)"
        ),
        "{page}"
    );
    assert!(
        page.contains("<code>ordersync connector set-token ebay</code>"),
        "{page}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        daemon.count(
            "SELECT count(*) FROM deliveries WHERE destination = 'ebay' AND status = 'pending'"
        ),
        1,
        "the delivery waits, neither dead nor rejected"
    );
    assert!(ebay.fulfillments("12-00000-00001").is_empty());

    // The operator gives the new token on stdin: the delivery resumes.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["connector", "--url", &daemon.url(""), "set-token", "ebay"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"v^1.1#i^1#r^1#the-new-one\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "channel `ebay` has a new refresh token; its deliveries resume\n"
    );
    wait_until(WAIT, "the fulfillment after set-token", || {
        ebay.fulfillments("12-00000-00001").len() == 1
    })
    .await;
    wait_until(WAIT, "delivered", || {
        daemon.count(
            "SELECT count(*) FROM deliveries WHERE destination = 'ebay' AND status = 'delivered'",
        ) == 1
    })
    .await;
    assert_eq!(readyz().await["connectors"]["ebay"]["credential"], "ok");
    assert!(!daemon.log_text().contains("the-new-one"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etsy_rotation_survives_kill_9_between_refresh_and_use() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(SHOP_TOKEN, "2025-10").await;
    let ebay = FakeEbay::start("app-id", EBAY_SECRET, EBAY_RT, 7200).await;
    let etsy = FakeEtsy::start("etsy-key", ETSY_SECRET, "12345678", ETSY_RT, 3600).await;
    etsy.add_receipt(etsy_receipt(4444, true, false));
    let path = rules(dir.path(), &shop, &ebay.base_url(), &etsy.base_url());
    let mut daemon = start(
        dir.path(),
        &path,
        &[("ORDERSYNC_FAILPOINT", "etsy-after-refresh-stored")],
    );
    // The first refresh rotates the token, stores it, and the process aborts.
    assert!(
        daemon.wait_exit(WAIT).is_some(),
        "the failpoint aborts the daemon"
    );
    assert_eq!(etsy.rotations(), 1);
    assert!(
        etsy.requests("getShopReceipts").is_empty(),
        "the new access token was never used"
    );
    daemon.kill();
    // Restarted without the failpoint: the stored token (not the rules file's, now void) is used.
    let daemon = start(dir.path(), &path, &[]);
    wait_until(WAIT, "the receipt in the store", || {
        shop.orders().len() == 1
    })
    .await;
    assert_eq!(etsy.rotations(), 2);
    assert!(
        etsy.requests("token").iter().all(|r| r.status == 200),
        "the voided seed was never sent again"
    );
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_failing_answers_are_retried_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let shop = FakeShopify::start(SHOP_TOKEN, "2025-10").await;
    let ebay = FakeEbay::start("app-id", EBAY_SECRET, EBAY_RT, 7200).await;
    let etsy = FakeEtsy::start("etsy-key", ETSY_SECRET, "12345678", ETSY_RT, 3600).await;
    ebay.add_order(ebay_order("12-00000-00009", "110000000009-0"));
    ebay.script("getOrders", ebay_fake::Behaviour::NotJson);
    ebay.script("getOrders", ebay_fake::Behaviour::Status(503));
    ebay.script("getOrders", ebay_fake::Behaviour::Throttled);
    let path = rules(dir.path(), &shop, &ebay.base_url(), &etsy.base_url());
    let daemon = start(dir.path(), &path, &[]);
    wait_until(WAIT, "the eBay order in the store at last", || {
        shop.orders().len() == 1
    })
    .await;
    let statuses: Vec<u16> = ebay
        .requests("getOrders")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(&statuses[..3], &[200, 503, 429], "{statuses:?}");

    // A rejected fulfillment is rejected with eBay's own words.
    ebay.script(
        "createShippingFulfillment",
        ebay_fake::Behaviour::Error(400, "The shipping carrier code is not valid.".into()),
    );
    let store_id = store_id_for(&shop, "eBay");
    let client = reqwest::Client::new();
    post_shopify(
        &client,
        &daemon,
        "orders/fulfilled",
        "ship-3",
        &shopify_fulfilled(store_id, "eBay, ordersync:ord_1"),
    )
    .await;
    wait_until(WAIT, "rejected", || {
        daemon.count(
            "SELECT count(*) FROM deliveries WHERE destination = 'ebay' AND status = 'rejected'",
        ) == 1
    })
    .await;
    let error: String = daemon
        .text("SELECT error FROM attempts WHERE error LIKE 'eBay:%' ORDER BY id DESC LIMIT 1")
        .unwrap();
    assert_eq!(
        error,
        "eBay: The shipping carrier code is not valid. (errorId 32100)"
    );
}

#[test]
fn an_etsy_channel_cannot_accept_cancelled_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(
        &path,
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: { format: ordersync, secret: s }
  etsy:
    role: marketplace
    connector: { kind: etsy, shop_id: "12345678", keystring: k, shared_secret: s, refresh_token: r, refund: true }
    deliver:
      accepts: [shipped, cancelled]
"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown key `refund` in an `etsy` connector"),
        "{err}"
    );
    assert!(
        err.contains("error: the etsy connector cannot carry `cancelled`: Etsy's Open API v3 has no call to cancel or refund a receipt"),
        "{err}"
    );
    assert!(
        err.contains("cancel or refund it on Etsy's own site"),
        "{err}"
    );
    assert!(err.contains(":10:"), "at the line of `cancelled`: {err}");
}
