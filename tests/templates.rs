//! Request templates (SPEC 12.2, `kind: http`) end to end: the real daemon on
//! port 0 sends a supplier the request its templates render, links the id
//! its answer gives, reads `rejected_if` and `retry_if_status`, and resends
//! the stored bytes on every retry, across a rules change and a restart.
//! Load errors are checked with their exact text.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, post_update, update};

const TOKEN: &str = "sup-tok-123";
const WAIT: Duration = Duration::from_secs(15);

/// The supplier's `created` body template (a block scalar, as users write it).
const BODY: &str = r#"          body: |
            {"reference": {{ order_id | tojson }}, "source_id": {{ order.id | tojson }},
             "ship_to": {{ order.shipping_address.name | tojson }}, "note": {{ order.note | tojson }},
             "lines": [{% for l in order.line_items %}{"sku": {{ l.sku | tojson }}, "qty": {{ l.quantity | tojson }}}{% if not loop.last %}, {% endif %}{% endfor %}]}
"#;

fn rules_text(mock: &Mock, body: &str) -> String {
    format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: ordersync, secret: shop-secret }}
  supplier:
    role: fulfillment
    connector:
      kind: http
      requests:
        created:
          method: POST
          url: "{mock}/v2/orders"
          headers:
            Authorization: "Bearer ${{SUPPLIER_TOKEN}}"
            Idempotency-Key: "{{{{ idempotency_key }}}}"
            Content-Type: application/json
{body}          answer:
            id: /data/id
            rejected_if: /errors/0
            retry_if_status: [409]
        cancelled:
          method: DELETE
          url: "{mock}/v2/orders/{{{{ external_id }}}}"
        updated:
          method: PUT
          url: "{mock}/v2/orders/{{{{ external_id }}}}"
          body: '{{% for i in range(100000) %}}{{{{ i | tojson }}}}{{% endfor %}}'
        shipped:
          method: POST
          url: "{mock}/v2/big"
          body: 'big: {{{{ "x" * 2000000 }}}}'
    deliver:
      accepts: [created, cancelled, updated, shipped]
      timeout: 1s
      retry: {{ attempts: 6, first: 300ms, max: 1s }}
"#,
        mock = mock.base,
    )
}

fn write_rules(dir: &Path, mock: &Mock, body: &str) -> PathBuf {
    let path = dir.join("rules.yaml");
    std::fs::write(&path, rules_text(mock, body)).unwrap();
    path
}

fn start(dir: &Path, rules: &Path) -> Daemon {
    Daemon::start_with(dir, rules, "127.0.0.1:0", &[], &[("SUPPLIER_TOKEN", TOKEN)])
}

fn order(id: &str) -> Json {
    json!({
        "id": id, "name": format!("#{id}"), "financial_status": "paid", "currency": "USD",
        "total_price": 104.5, "tags": [],
        "shipping_address": {"name": "Ada Lovelace", "address1": "1 Main St", "city": "Springfield",
                             "zip": "62701", "country": "US"},
        "line_items": [
            {"sku": "DS-1", "title": "Mug", "quantity": 2, "price": 20.25},
            {"sku": "DS-2", "title": "Tee", "quantity": 1, "price": 64}
        ]
    })
}

async fn send(client: &reqwest::Client, d: &Daemon, id: &str, event: &str, o: Json) {
    let (status, answer) =
        post_update(client, d, "shop", "shop-secret", &update(id, event, o)).await;
    assert_eq!(status, 202, "{answer}");
}

async fn wait_until(within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < until, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn status_of(d: &Daemon, delivery: i64) -> String {
    d.text(&format!(
        "SELECT status FROM deliveries WHERE id = {delivery}"
    ))
    .unwrap_or_default()
}

fn errors_of(d: &Daemon, delivery: i64) -> Vec<String> {
    d.rows(&format!(
        "SELECT coalesce(error, '') FROM attempts WHERE delivery_id = {delivery} ORDER BY id"
    ))
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

async fn order_json(client: &reqwest::Client, d: &Daemon, id: &str) -> Json {
    let r = client
        .get(d.url(&format!("/api/orders/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// The exact bytes the `created` template renders for `order("5001")` as ord_1.
const CREATED_BYTES: &str = r#"{"reference": "ord_1", "source_id": "5001",
 "ship_to": "Ada Lovelace", "note": null,
 "lines": [{"sku": "DS-1", "qty": 2}, {"sku": "DS-2", "qty": 1}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_supplier_gets_the_rendered_body_and_its_id_is_linked() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|r, _| match r.path.as_str() {
        "/v2/orders" => Reply::new(201, r#"{"data": {"id": 820982911946154508}}"#),
        _ => Reply::new(204, ""),
    });
    let d = start(dir.path(), &write_rules(dir.path(), &mock, BODY));
    let client = reqwest::Client::new();
    send(&client, &d, "e-1", "created", order("5001")).await;
    let got = mock.wait_for("/v2/orders", 1, WAIT).await;
    assert_eq!(String::from_utf8_lossy(&got[0].raw), CREATED_BYTES);
    assert_eq!(got[0].header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(got[0].header("content-type"), "application/json");
    let key: String = d
        .text("SELECT idempotency_key FROM deliveries WHERE id = 1")
        .unwrap();
    assert_eq!(got[0].header("idempotency-key"), key);
    wait_until(WAIT, "delivered", || status_of(&d, 1) == "delivered").await;
    let linked: String = d
        .text("SELECT external_id FROM links WHERE order_id = 1 AND channel = 'supplier'")
        .unwrap();
    assert_eq!(linked, "820982911946154508", "every digit of a numeric id");

    // The cancel goes to the linked id.
    let mut cancelled = order("5001");
    cancelled["status"] = json!("cancelled");
    send(&client, &d, "e-2", "cancelled", cancelled).await;
    let del = mock
        .wait_for("/v2/orders/820982911946154508", 1, WAIT)
        .await;
    assert!(del[0].raw.is_empty());

    // No secret is stored or shown: the stored request keeps the marker, Order
    // Health masks the header.
    let stored: String = d
        .text("SELECT rendered FROM deliveries WHERE id = 1")
        .unwrap();
    assert!(stored.contains("Bearer ${SUPPLIER_TOKEN}"), "{stored}");
    assert!(!stored.contains(TOKEN));
    let kept: i64 = d.count(&format!(
        "SELECT count(*) FROM attempts WHERE request LIKE '%{TOKEN}%' OR response LIKE '%{TOKEN}%'"
    ));
    assert_eq!(kept, 0);
    let health = order_json(&client, &d, "ord_1").await.to_string();
    assert!(!health.contains(TOKEN), "{health}");
    assert!(health.contains(r#""Authorization":"[masked]""#), "{health}");
    assert!(!d.log_text().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_if_answer_is_rejected_with_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, r#"{"errors": ["SKU DS-9 is discontinued"]}"#));
    let d = start(dir.path(), &write_rules(dir.path(), &mock, BODY));
    let client = reqwest::Client::new();
    send(&client, &d, "e-1", "created", order("5001")).await;
    wait_until(WAIT, "rejected", || status_of(&d, 1) == "rejected").await;
    assert_eq!(mock.on("/v2/orders").len(), 1, "never retried");
    let o = order_json(&client, &d, "ord_1").await;
    assert_eq!(o["health"][0]["status"], "rejected");
    assert_eq!(
        o["health"][0]["detail"],
        "rejected: SKU DS-9 is discontinued"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM links WHERE channel = 'supplier'"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_if_status_resends_the_same_bytes_after_a_rules_change_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|r, before| match (r.path.as_str(), before) {
        ("/v2/orders", 0 | 1) => Reply::new(409, "locked, try again"),
        _ => Reply::new(201, r#"{"data": {"id": "S-77"}}"#),
    });
    let rules = write_rules(dir.path(), &mock, BODY);
    let mut d = start(dir.path(), &rules);
    let client = reqwest::Client::new();
    send(&client, &d, "e-1", "created", order("5001")).await;
    let first = mock.wait_for("/v2/orders", 1, WAIT).await[0].raw.clone();
    assert_eq!(String::from_utf8_lossy(&first), CREATED_BYTES);

    // The rules change between attempts: the body template is another now.
    let changed = BODY.replace(r#"{"reference""#, r#"{"v": 2, "reference""#);
    write_rules(dir.path(), &mock, &changed);
    let r = client
        .post(d.url("/api/rules/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let got = mock.wait_for("/v2/orders", 2, WAIT).await;
    assert_eq!(got[1].raw, first, "the retry sends the stored bytes");
    wait_until(WAIT, "two attempts recorded", || {
        d.count("SELECT count(*) FROM attempts WHERE delivery_id = 1") == 2
    })
    .await;
    assert_eq!(status_of(&d, 1), "pending");
    assert_eq!(
        errors_of(&d, 1),
        vec!["HTTP 409 (retry_if_status): locked, try again"; 2]
    );

    // A crash, and a start with the changed rules: still the first bytes.
    d.kill();
    let d = start(dir.path(), &rules);
    let got = mock.wait_for("/v2/orders", 3, WAIT).await;
    assert_eq!(got[2].raw, first);
    wait_until(WAIT, "delivered", || status_of(&d, 1) == "delivered").await;

    // A new order is rendered with the changed rules: the test above could tell.
    send(&client, &d, "e-9", "created", order("5002")).await;
    let got = mock.wait_for("/v2/orders", 4, WAIT).await;
    let text = String::from_utf8_lossy(&got[3].raw).into_owned();
    assert!(
        text.starts_with(r#"{"v": 2, "reference": "ord_2""#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_template_is_stopped_by_its_fuel_and_its_output_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let d = start(dir.path(), &write_rules(dir.path(), &mock, BODY));
    let client = reqwest::Client::new();
    send(&client, &d, "e-1", "updated", order("5001")).await;
    wait_until(WAIT, "rejected", || status_of(&d, 1) == "rejected").await;
    assert_eq!(
        errors_of(&d, 1),
        vec![
            "`body`: the template ran out of fuel (50000 steps): a loop that does not end, or too much work for one request"
        ]
    );
    let mut shipped = order("5001");
    shipped["shipments"] = json!([{"carrier": "UPS", "tracking_number": "1Z999"}]);
    send(&client, &d, "e-2", "shipped", shipped).await;
    wait_until(WAIT, "rejected", || status_of(&d, 2) == "rejected").await;
    assert_eq!(
        errors_of(&d, 2),
        vec!["`body`: the template renders more than 1024 KiB"]
    );
    let o = order_json(&client, &d, "ord_1").await;
    assert_eq!(
        o["health"][0]["detail"],
        "rejected: `body`: the template renders more than 1024 KiB"
    );
    assert!(mock.received().is_empty(), "nothing was sent");
}

// ---- load errors, as `ordersync check` prints them ----

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SUPPLIER_TOKEN", TOKEN)
        .output()
        .unwrap()
}

const GOOD: &str = r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: { format: ordersync, secret: s }
  supplier:
    role: fulfillment
    connector:
      kind: http
      requests:
        created:
          method: POST
          url: "https://api.supplier.example/v2/orders"
          headers: { Authorization: "Bearer ${SUPPLIER_TOKEN}", Content-Type: application/json }
          body: |
            {"reference": {{ order_id | tojson }},
             "ship_to": {{ order.shipping_address | tojson }}}
          answer: { id: /data/id, rejected_if: /errors/0, retry_if_status: [409] }
        cancelled:
          method: DELETE
          url: "https://api.supplier.example/v2/orders/{{ external_id }}"
    deliver: { accepts: [created, cancelled] }
"#;

/// What `check` prints on standard error for GOOD with `from` replaced by `to`.
fn errors(from: &str, to: &str) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "`{from}` once in GOOD");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), GOOD.replacen(from, to, 1)).unwrap();
    let out = run(&["check", "rules.yaml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "accepted: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_good_template_connector_checks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), GOOD).unwrap();
    let out = run(&["check", "rules.yaml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with(
            "  connectors:\n    supplier  http (request templates for created, cancelled)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_template_syntax_error_is_placed_inside_the_template() {
    assert_eq!(
        errors(
            "/v2/orders/{{ external_id }}",
            "/v2/orders/{{ external_id }"
        ),
        "error: template syntax error: unexpected `}`, expected end of variable block
  --> rules.yaml:21:71
   |
21 |           url: \"https://api.supplier.example/v2/orders/{{ external_id }\"
   |                                                                       ^

error: rules rejected: 1 error
"
    );
}

#[test]
fn an_unknown_variable_is_placed_in_a_block_scalar() {
    assert_eq!(
        errors(
            "\"ship_to\": {{ order.shipping_address",
            "\"ship_to\": {{ ordr.shipping_address"
        ),
        "error: unknown variable `ordr`
  --> rules.yaml:17:28
   |
17 |              \"ship_to\": {{ ordr.shipping_address | tojson }}}
   |                            ^^^^ did you mean `order`?

error: rules rejected: 1 error
"
    );
}

#[test]
fn an_unknown_order_field_is_an_error_with_a_hint() {
    assert_eq!(
        errors(
            "order.shipping_address | tojson",
            "order.shiping_address | tojson"
        ),
        "error: unknown field `order.shiping_address`
  --> rules.yaml:17:28
   |
17 |              \"ship_to\": {{ order.shiping_address | tojson }}}
   |                            ^^^^^^^^^^^^^^^^^^^^^ did you mean `order.shipping_address`?

error: rules rejected: 1 error
"
    );
}

#[test]
fn a_value_in_a_json_body_without_tojson_is_an_error() {
    assert_eq!(
        errors("{{ order_id | tojson }}", "{{ order_id }}"),
        "error: `{{ order_id }}` puts a value into a JSON body without `| tojson`
  --> rules.yaml:16:30
   |
16 |             {\"reference\": {{ order_id }},
   |                              ^^^^^^^^ write `{{ order_id | tojson }}`: it quotes and escapes text and writes lists and objects as JSON (e.g. `{{ order.id | tojson }}`)

error: rules rejected: 1 error
"
    );
}

#[test]
fn an_accepted_event_without_a_request_is_an_error() {
    assert_eq!(
        errors("accepts: [created, cancelled]", "accepts: [created, cancelled, shipped]"),
        "error: the http connector has no request for `shipped`
  --> rules.yaml:22:46
   |
22 |     deliver: { accepts: [created, cancelled, shipped] }
   |                                              ^^^^^^^ add `shipped: { method: ..., url: ... }` under the connector's `requests`, or remove `shipped` from `accepts`

error: rules rejected: 1 error
"
    );
}

#[test]
fn bad_methods_urls_pointers_and_statuses_are_errors() {
    let text = errors("method: DELETE", "method: delete");
    assert!(
        text.starts_with("error: unknown method `delete`\n"),
        "{text}"
    );
    assert!(text.contains("write it in capitals: `DELETE`"), "{text}");
    let text = errors(
        "url: \"https://api.supplier.example/v2/orders\"",
        "url: \"ftp://x/orders\"",
    );
    assert!(
        text.starts_with("error: invalid `url` `ftp://x/orders`\n"),
        "{text}"
    );
    let text = errors("id: /data/id", "id: data.id");
    assert!(
        text.starts_with("error: `id` must be a JSON pointer, not `data.id`\n"),
        "{text}"
    );
    let text = errors("retry_if_status: [409]", "retry_if_status: [200]");
    assert!(
        text.starts_with("error: `retry_if_status` takes HTTP statuses from 400 to 599\n"),
        "{text}"
    );
}

// ---- rules tests and explain ----

const TESTS: &str = r#"tests:
  - name: the supplier gets the order's reference and address
    from: shop
    event: created
    order: { id: "5001", shipping_address: { name: Ada, country: US } }
    expect:
      supplier:
        request:
          method: POST
          url: "https://api.supplier.example/v2/orders"
          headers: { Authorization: "Bearer ${SUPPLIER_TOKEN}" }
          body: { /reference: ord_1, /ship_to/name: Ada, /ship_to/country: US }
"#;

#[test]
fn rules_tests_assert_the_rendered_request() {
    let dir = tempfile::tempdir().unwrap();
    // `$${` keeps the marker literal: tests compare the stored form, never the secret.
    let tests = TESTS.replace("${SUPPLIER_TOKEN}", "$${SUPPLIER_TOKEN}");
    std::fs::write(dir.path().join("rules.yaml"), format!("{GOOD}{tests}")).unwrap();
    let out = run(&["test", "rules.yaml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let failing = tests.replace("/ship_to/name: Ada", "/ship_to/name: Bob");
    std::fs::write(dir.path().join("rules.yaml"), format!("{GOOD}{failing}")).unwrap();
    let out = run(&["test", "rules.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "  supplier:\n    - expected: request with body /ship_to/name = \"Bob\"\n    + actual:   request with body /ship_to/name = \"Ada\"\n"
        ),
        "{text}"
    );

    let bad = tests.replace("/reference: ord_1", "reference: ord_1");
    std::fs::write(dir.path().join("rules.yaml"), format!("{GOOD}{bad}")).unwrap();
    let out = run(&["check", "rules.yaml"], dir.path());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.starts_with("error: `reference` is not a JSON pointer\n  --> rules.yaml:34:19\n"),
        "{text}"
    );
}

#[test]
fn explain_prints_the_rendered_request_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), GOOD).unwrap();
    std::fs::write(
        dir.path().join("order.json"),
        r#"{"id": "5001", "shipping_address": {"name": "Ada"}}"#,
    )
    .unwrap();
    let out = run(
        &["explain", "rules.yaml", "order.json", "--from", "shop"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let want = "  would send (http (request templates for created, cancelled)):
    POST https://api.supplier.example/v2/orders
       Authorization: [masked]
       Content-Type: application/json
       body:
         {\"reference\": \"ord_1\",
          \"ship_to\": {\"name\":\"Ada\"}}
";
    assert!(text.ends_with(want), "{text}");
    assert!(!text.contains(TOKEN));
}
