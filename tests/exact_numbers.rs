//! Every number is exact through the real daemon (SPEC 3.6): a converted price
//! is delivered as `104.5`, ids sent as JSON numbers keep every digit, and a
//! number a decimal cannot hold is a 400 with the reason, never a rounding.
//! Assertions on deliveries read the raw bytes sent, not a float parse of them.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;
use support::{Daemon, Mock, Reply, post_update, sign_shopify};

const WAIT: Duration = Duration::from_secs(10);

/// A store (Shopify webhooks) whose orders go to a supplier in USD, and a
/// marketplace (canonical webhooks) whose orders are imported into the store.
fn rules(dir: &Path, mock: &Mock) -> PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: shopify, secret: shop-secret }}
    deliver: {{ url: "{base}/shop/orders", accepts: [created] }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
    deliver: {{ url: "{base}/market/updates", accepts: [shipped] }}
  supplier:
    role: fulfillment
    deliver: {{ url: "{base}/supplier/orders", accepts: [created] }}
currency_rates:
  base: USD
  EUR: 1.10
rules:
  shop:
    overwrites:
      supplier:
        attributes:
          total_price: {{ value: 'convert(total_price, currency, "USD")' }}
          currency: {{ constant: USD }}
"#,
        base = mock.base
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn post_shopify(
    client: &reqwest::Client,
    daemon: &Daemon,
    event: &str,
    body: &str,
) -> (u16, Json) {
    let resp = client
        .post(daemon.url("/webhooks/shop"))
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Event-Id", event)
        .header("X-Shopify-Hmac-Sha256", sign_shopify("shop-secret", body))
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

fn raw_text(r: &support::Received) -> String {
    String::from_utf8(r.raw.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_money_and_long_ids_are_delivered_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, "{}"));
    let daemon = Daemon::start(dir.path(), &rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();

    // A 95 EUR Shopify order, its numeric id above 2^53 and no GraphQL id: the
    // supplier gets 95 × 1.10 USD, which a float makes 104.50000000000001.
    let body = r#"{"id": 9007199254740993, "name": "No. 1", "currency": "EUR", "total_price": "95.00",
        "financial_status": "paid", "tags": "", "updated_at": "2026-11-20T10:00:00Z",
        "line_items": [{"sku": "A-1", "title": "Mug", "quantity": 1, "price": "95.00"}]}"#;
    let (status, answer) = post_shopify(&client, &daemon, "shop-evt-1", body).await;
    assert_eq!(status, 202, "{answer}");
    let sent = mock.wait_for("/supplier/orders", 1, WAIT).await;
    let raw = raw_text(&sent[0]);
    assert!(raw.contains(r#""total_price":104.5,"#), "{raw}");
    assert!(raw.contains(r#""currency":"USD""#), "{raw}");
    assert!(raw.contains(r#""id":"9007199254740993""#), "{raw}");
    assert!(raw.contains(r#""price":95}"#), "{raw}");
    assert!(!raw.contains("0000000"), "no binary noise: {raw}");

    // A marketplace order whose id (and a line's) is a 19- and 20-digit JSON
    // number: the store's envelope carries every digit.
    let body = r#"{"id": "market-evt-1", "event": "created", "order": {"id": 9223372036854775807,
        "total_price": 0.30, "ref": 18446744073709551615, "line_items": [{"sku": "B-2", "quantity": 3, "price": 0.1}]}}"#;
    let (status, answer) = post_update(&client, &daemon, "market", "market-secret", body).await;
    assert_eq!(status, 202, "{answer}");
    let sent = mock.wait_for("/shop/orders", 1, WAIT).await;
    let raw = raw_text(&sent[0]);
    assert!(raw.contains(r#""id":9223372036854775807,"#), "{raw}");
    assert!(raw.contains(r#""ref":18446744073709551615"#), "{raw}");
    assert!(raw.contains(r#""total_price":0.3,"#), "{raw}");
    assert!(raw.contains(r#""price":0.1}"#), "{raw}");
    assert_eq!(sent[0].body["external_id"], Json::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_that_cannot_be_kept_exactly_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = Daemon::start(dir.path(), &rules(dir.path(), &mock), &[]);
    let client = reqwest::Client::new();

    let body = r#"{"id": "e1", "event": "created", "order": {"id": "1", "total_price": 1e400}}"#;
    let (status, answer) = post_update(&client, &daemon, "market", "market-secret", body).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "number `1e400` is out of range (an exact number is at most 28 digits, below 7.9e28) \
         at line 1 column 70"
    );
    assert!(answer["quarantined"].is_i64(), "{answer}");

    let body = r#"{"id": "e2", "event": "created", "order": {"id": "1", "total_price": 0.12345678901234567890123456789}}"#;
    let (status, answer) = post_update(&client, &daemon, "market", "market-secret", body).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "number `0.12345678901234567890123456789` has more digits than can be kept exactly \
         (at most 28 significant digits and 28 after the point) at line 1 column 70"
    );

    let body = r#"{"id": "e3", "event": "created", "order": {"id": 1.5}}"#;
    let (status, answer) = post_update(&client, &daemon, "market", "market-secret", body).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["error"],
        "the order's `id` must be non-empty text or a whole number, not 1.5"
    );

    let body = r#"{"id": 5001, "currency": "EUR", "total_price": "abc", "updated_at": "2026-11-20T10:00:00Z"}"#;
    let (status, answer) = post_shopify(&client, &daemon, "shop-evt-9", body).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "`total_price` is not an amount: \"abc\"");
    assert!(answer["quarantined"].is_i64(), "{answer}");

    assert_eq!(daemon.count("SELECT count(*) FROM quarantine"), 4);
    assert_eq!(daemon.count("SELECT count(*) FROM updates"), 0);
    assert!(mock.received().is_empty());
}

/// A rules file's own tests compare numbers exactly: each expectation below
/// fails with binary floats (`102.60000000000001`, `140.292`, `0.30000000000000004`),
/// and a near miss fails here too.
#[test]
fn rules_tests_compare_numbers_exactly() {
    let text = r#"version: 1
channels:
  shop: { role: commerce_platform, webhook: { format: ordersync, secret: s } }
  supplier: { role: fulfillment, deliver: { url: "http://127.0.0.1:1/x", accepts: [created] } }
fields: { in_kwd: number }
currency_rates: { base: USD, EUR: 1.08, KWD: 3.25 }
rules:
  shop:
    overwrites:
      supplier:
        attributes:
          in_kwd: { value: 'convert(total_price, currency, "KWD")' }
          total_price: { value: 'convert(total_price, currency, "USD")' }
          total_tax: { value: 'sum(line_items, price * quantity) - 0.3' }
          note: { value: '"exact: " + (0.1 + 0.2 == 0.3)' }
tests:
  - name: 95 EUR is 102.60 USD to the cent
    from: shop
    event: created
    order: { id: "1", currency: EUR, total_price: 95, line_items: [{ price: 0.1, quantity: 3 }] }
    expect:
      supplier: { total_price: 102.6, total_tax: 0, note: "exact: true", in_kwd: 31.569 }
  - name: 129.90 EUR is 140.29 USD, half to even
    from: shop
    event: created
    order: { id: "2", currency: EUR, total_price: 129.90, line_items: [] }
    expect:
      supplier: { total_price: 140.29, total_tax: -0.3 }
  - name: a near miss fails
    from: shop
    event: created
    order: { id: "3", currency: EUR, total_price: 95, line_items: [] }
    expect:
      supplier: { total_price: 102.60000000000001 }
"#;
    let opts = ordersync::rules::LoadOptions { env: &|_| None };
    let rules = ordersync::rules::load_str("exact.yaml", text, &opts)
        .unwrap_or_else(|e| panic!("{}", ordersync::rules::render_all(&e)));
    let results = ordersync::engine::testing::run_tests(&rules);
    let passed: Vec<(&str, bool)> = results
        .iter()
        .map(|r| (r.name.as_str(), r.passed()))
        .collect();
    assert_eq!(
        passed,
        [
            ("95 EUR is 102.60 USD to the cent", true),
            ("129.90 EUR is 140.29 USD, half to even", true),
            ("a near miss fails", false),
        ]
    );
}
