//! Order Health through the admin API (SPEC 6.5, 8) against the running
//! daemon: the list and its filters, one order's timeline, retry, resolve,
//! ignore, re-sync, drafts released by a later update or by an operator, and
//! the quarantine. Every endpoint refuses a request without the token.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, post_update, update};

const TOKEN: &str = "health-token";
const WAIT: Duration = Duration::from_secs(10);

/// The store `shop`, the marketplace `amazon` (shipments only, two quick
/// attempts), and a `supplier` that takes new orders with an invoice number.
fn rules(dir: &Path, mock: &Mock) -> PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: ordersync, secret: shop-secret }}
    deliver:
      url: "{base}/shop/orders"
      retry: {{ attempts: 2, first: 100ms, max: 100ms }}
  amazon:
    role: marketplace
    webhook: {{ format: ordersync, secret: amazon-secret }}
    deliver:
      url: "{base}/amazon/updates"
      accepts: [shipped]
      retry: {{ attempts: 2, first: 100ms, max: 100ms }}
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
"#,
        base = mock.base
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Api {
    client: reqwest::Client,
    daemon: Daemon,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, self.daemon.url(path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Json {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn post(&self, path: &str) -> (u16, Json) {
        self.call("POST", path, None).await
    }

    async fn send(&self, channel: &str, id: &str, event: &str, order: Json) -> i64 {
        let (status, body) = post_update(
            &self.client,
            &self.daemon,
            channel,
            &format!("{channel}-secret"),
            &update(id, event, order),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        body["update"].as_i64().unwrap()
    }

    /// Waits until the order list for `query` has `n` rows; answers them.
    async fn rows(&self, query: &str, n: usize) -> Vec<Json> {
        let started = Instant::now();
        loop {
            let list = self.get(&format!("/api/orders?{query}")).await;
            let rows = list["rows"].as_array().unwrap().clone();
            if rows.len() == n {
                return rows;
            }
            assert!(
                started.elapsed() < WAIT,
                "{query}: expected {n} rows, got {list:#}"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
}

async fn start(dir: &Path, mock: &Mock) -> Api {
    let path = rules(dir, mock);
    let daemon = Daemon::start_with(
        dir,
        &path,
        "127.0.0.1:0",
        &["--no-watch"],
        &[("ORDERSYNC_ADMIN_TOKEN", TOKEN)],
    );
    Api {
        client: reqwest::Client::new(),
        daemon,
    }
}

fn store_order(id: &str, invoice: Option<&str>) -> Json {
    let mut o = json!({"id": id, "name": format!("#{id}"), "tags": [], "line_items": [{"sku": "DS-1", "quantity": 1}]});
    if let Some(i) = invoice {
        o["invoice_number"] = json!(i);
    }
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_held_for_the_supplier_and_released_by_the_next_update_that_carries_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let api = start(dir.path(), &mock).await;
    api.send("shop", "s1", "created", store_order("5001", None))
        .await;
    let rows = api.rows("status=draft", 1).await;
    assert_eq!(rows[0]["destination"], "supplier");
    assert_eq!(rows[0]["detail"], "draft: missing invoice_number");
    assert_eq!(rows[0]["name"], "#5001");
    let draft = rows[0]["decision"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mock.on("/supplier/orders").is_empty(), "held, not sent");

    // The store's next update carries the invoice number: the supplier takes
    // `created` but not `updated`, so the draft is released as `created`.
    api.send("shop", "s2", "updated", store_order("5001", Some("INV-1")))
        .await;
    let got = mock.wait_for("/supplier/orders", 1, WAIT).await;
    assert_eq!(got[0].body["event"], "created");
    assert_eq!(got[0].body["order"]["invoice_number"], "INV-1");
    let rows = api.rows("status=delivered&channel=supplier", 1).await;
    assert_eq!(rows[0]["order"], "ord_1");
    api.rows("status=draft", 0).await;
    let order = api.get("/api/orders/ord_1").await;
    let decisions: Vec<&Json> = order["updates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["decisions"].as_array().unwrap())
        .filter(|d| d["destination"] == "supplier")
        .collect();
    assert_eq!(decisions[0]["id"], draft);
    assert!(decisions[0]["released_at"].is_string(), "{order:#}");
    assert_eq!(
        decisions[0]["why"],
        "held for supplier: required field `invoice_number` is empty"
    );
    let released = decisions.last().unwrap();
    assert_eq!(released["trigger"], "draft");
    assert_eq!(released["delivery"]["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_completes_a_draft() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let api = start(dir.path(), &mock).await;
    api.send("shop", "s1", "created", store_order("6001", None))
        .await;
    let draft = api.rows("status=draft", 1).await[0]["decision"]
        .as_i64()
        .unwrap();
    let path = format!("/api/drafts/{draft}");
    // Not the field it needs: refused with what is still missing.
    let (status, body) = api
        .call("PATCH", &path, Some(json!({"set": {"note": "rush"}})))
        .await;
    assert_eq!(
        (status, body),
        (422, json!({"error": "still missing: invoice_number"}))
    );
    let (status, body) = api
        .call("PATCH", &path, Some(json!({"invoice_number": "x"})))
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "expected {\"set\": {\"field\": value, ...}}"})
        )
    );
    let (status, body) = api
        .call(
            "PATCH",
            &path,
            Some(json!({"set": {"invoice_number": "INV-77"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    let got = mock.wait_for("/supplier/orders", 1, WAIT).await;
    assert_eq!(got[0].body["order"]["invoice_number"], "INV-77");
    assert_eq!(got[0].body["event"], "created");
    api.rows("status=delivered&channel=supplier", 1).await;
    let (status, body) = api
        .call(
            "PATCH",
            &path,
            Some(json!({"set": {"invoice_number": "INV-78"}})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": format!("draft {draft} was already released")})
        )
    );
    let (status, _) = api
        .call("PATCH", "/api/drafts/999", Some(json!({"set": {"a": 1}})))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_delivery_is_found_explained_retried_and_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let fixed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let is_fixed = fixed.clone();
    mock.respond(move |r, _| {
        let sku_missing =
            r.body["order"]["id"] == "A-9" && !is_fixed.load(std::sync::atomic::Ordering::SeqCst);
        if r.path == "/shop/orders" && sku_missing {
            Reply::new(422, "SKU ABC-1 not found")
        } else {
            Reply::new(200, "{}")
        }
    });
    let api = start(dir.path(), &mock).await;
    api.send(
        "amazon",
        "a1",
        "created",
        json!({"id": "A-1", "name": "#A1 fine", "tags": []}),
    )
    .await;
    api.send(
        "amazon",
        "a9",
        "created",
        json!({"id": "A-9", "name": "#1001 Rejected", "tags": [], "customer": {"email": "Pat@Example.com"}}),
    )
    .await;
    let rows = api.rows("status=rejected", 1).await;
    assert_eq!(rows[0]["order"], "ord_2");
    assert_eq!(rows[0]["detail"], "rejected: 422 SKU ABC-1 not found");
    // Found by its name, its marketplace id or the customer's email, any case.
    for q in ["%231001", "a-9", "pat%40example", "ord_2"] {
        let rows = api.rows(&format!("q={q}&status=all"), 1).await;
        assert_eq!(rows[0]["order"], "ord_2", "{q}");
    }
    api.rows("q=nothing-like-it&status=all", 0).await;
    // Pages: newest order first when every status is listed.
    let first = api.rows("status=all&limit=1&page=1", 1).await;
    let second = api.rows("status=all&limit=1&page=2", 1).await;
    assert_eq!(
        (first[0]["order"].as_str(), second[0]["order"].as_str()),
        (Some("ord_2"), Some("ord_1"))
    );
    let past = api.get("/api/orders?status=all&limit=1&page=3").await;
    assert_eq!(
        (
            past["rows"].as_array().unwrap().len(),
            past["total"].as_i64()
        ),
        (0, Some(2))
    );
    let past = api
        .get("/api/orders?status=all&channel=amazon&limit=1&page=3")
        .await;
    assert_eq!(
        past["total"], 2,
        "a page past the end still counts the matches"
    );
    api.rows("channel=amazon&status=all", 2).await;
    api.rows("channel=supplier&status=all", 0).await;
    let list = api.get("/api/orders").await;
    assert_eq!(list["counts"]["status"]["rejected"], 1);
    assert_eq!(list["counts"]["status"]["delivered"], 1);
    assert_eq!(
        list["counts"]["problems_by_destination"],
        json!({"shop": 1})
    );
    let (status, body) = api.call("GET", "/api/orders?status=bogus", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "unknown status `bogus`; use problems, all, resolved, ignored, or one of rejected, dead, error, draft, stuck, pending, delivered, skipped"
    );

    // The timeline: the payload received, the decision with its trace, the
    // request sent and the answer kept.
    let order = api.get("/api/orders/ord_2").await;
    let u = &order["updates"][0];
    assert_eq!(u["channel"], "amazon");
    assert!(u["payload"].as_str().unwrap().contains("#1001 Rejected"));
    let d = &u["decisions"][0];
    assert_eq!(d["destination"], "shop");
    assert_eq!(d["outcome"], "deliver");
    assert_eq!(d["why"], "shop accepts created, and no rule stops it");
    assert_eq!(d["order"]["tags"], json!(["Amazon", "ordersync:ord_2"]));
    let delivery = &d["delivery"];
    assert_eq!(delivery["status"], "rejected");
    assert_eq!(delivery["tries"][0]["http_status"], 422);
    assert_eq!(delivery["tries"][0]["response"], "SKU ABC-1 not found");
    assert_eq!(
        order["links"][0],
        json!({"channel": "amazon", "external_id": "A-9"})
    );
    let id = delivery["id"].as_i64().unwrap();
    let key = delivery["idempotency_key"].as_str().unwrap().to_string();

    // Retrying a delivered one is refused; the fixed destination takes the retry.
    let (status, _) = api.post("/api/deliveries/1/retry").await;
    assert_eq!(status, 409);
    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = api.post(&format!("/api/deliveries/{id}/retry")).await;
    assert_eq!((status, &body["status"]), (200, &json!("pending")));
    api.rows("status=rejected", 0).await;
    let rows = api.rows("q=%231001&status=delivered", 1).await;
    assert_eq!(rows[0]["detail"], "delivered: 200");
    let sent: Vec<_> = mock
        .on("/shop/orders")
        .into_iter()
        .filter(|r| r.body["order"]["id"] == "A-9")
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].header("idempotency-key"),
        key,
        "a retry keeps its key"
    );

    // Re-sync: decided again with the rules in force and sent, though unchanged.
    let (status, body) = api.post("/api/orders/ord_2/resync").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["decisions"],
        json!([{"destination": "shop", "outcome": "deliver"}])
    );
    mock.wait_for("/shop/orders", 4, WAIT).await;
    let order = api.get("/api/orders/ord_2").await;
    let last = order["updates"][0]["decisions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["trigger"], "resync");
    let (status, _) = api.post("/api/orders/ord_99/resync").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_problem_reopens_when_it_recurs_and_an_ignored_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|r, _| {
        if r.path == "/amazon/updates" {
            Reply::new(503, "maintenance")
        } else {
            Reply::new(200, "{}")
        }
    });
    let api = start(dir.path(), &mock).await;
    let ship = |n: u32| json!({"id": "S-1", "tags": ["Amazon"], "shipments": [{"carrier": "UPS", "tracking_number": format!("1Z{n}")}]});
    api.send("shop", "sh1", "shipped", ship(1)).await;
    let rows = api.rows("status=dead", 1).await;
    assert_eq!(
        rows[0]["detail"],
        "dead: no attempts left; last: 503 maintenance"
    );
    let id = rows[0]["delivery"].as_i64().unwrap();
    let (status, body) = api.post(&format!("/api/deliveries/{id}/resolve")).await;
    assert_eq!(status, 200, "{body}");
    api.rows("status=dead", 0).await;
    api.rows("status=resolved", 1).await;
    let (status, body) = api.post(&format!("/api/deliveries/{id}/resolve")).await;
    assert_eq!(
        (status, body),
        (409, json!({"error": "ord_1 has no open problem at amazon"}))
    );
    // It happens again: open again.
    api.send("shop", "sh2", "shipped", ship(2)).await;
    let rows = api.rows("status=dead", 1).await;
    let id = rows[0]["delivery"].as_i64().unwrap();
    let (status, _) = api.post(&format!("/api/deliveries/{id}/ignore")).await;
    assert_eq!(status, 200);
    api.rows("status=ignored", 1).await;
    // Ignored: the same failure again stays out of the problems.
    api.send("shop", "sh3", "shipped", ship(3)).await;
    let started = Instant::now();
    while api.get("/api/orders?status=all").await["rows"][0]["detail"]
        .as_str()
        .is_some_and(|d| !d.starts_with("dead"))
        || mock.on("/amazon/updates").len() < 6
    {
        assert!(started.elapsed() < WAIT);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    api.rows("status=dead", 0).await;
    api.rows("status=problems", 0).await;
    let rows = api.rows("status=ignored", 1).await;
    assert_eq!(rows[0]["status"], "dead");
    let (status, body) = api.post("/api/deliveries/1/explode").await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"],
        "no action `explode`; deliveries take retry, resolve, ignore"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_endpoint_needs_the_token_and_the_quarantine_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let api = start(dir.path(), &mock).await;
    for (method, path) in [
        ("GET", "/api/orders"),
        ("GET", "/api/orders/ord_1"),
        ("POST", "/api/orders/ord_1/resync"),
        ("POST", "/api/deliveries/1/retry"),
        ("POST", "/api/deliveries/1/resolve"),
        ("POST", "/api/deliveries/1/ignore"),
        ("POST", "/api/decisions/1/resolve"),
        ("PATCH", "/api/drafts/1"),
        ("GET", "/api/quarantine"),
        ("GET", "/api/rules"),
        ("POST", "/api/rules/reload"),
        ("GET", "/metrics"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = api
            .client
            .request(m, api.daemon.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    let body = "{not json";
    let r = api
        .client
        .post(api.daemon.url("/webhooks/shop"))
        .header("X-Ordersync-Signature", support::sign("shop-secret", body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let q = api.get("/api/quarantine").await;
    assert_eq!(q["rows"][0]["channel"], "shop");
    assert_eq!(q["rows"][0]["body"], "{not json");
    assert!(
        q["rows"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the body is not JSON")
    );
    let (status, body) = api.call("GET", "/api/orders/ord_404", None).await;
    assert_eq!((status, body), (404, json!({"error": "no order ord_404"})));
}

/// `ordersync orders ...` against the daemon; answers (exit code, stdout, stderr).
fn cli(api: &Api, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["orders", "--url", &api.daemon.base])
        .args(args)
        .env("ORDERSYNC_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Blanks RFC 3339 times, which change from run to run.
fn untimed(text: &str) -> String {
    regex::Regex::new(r"\d{4}-\d\d-\d\dT[\d:.]+Z?")
        .unwrap()
        .replace_all(text, "<time>")
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_lists_shows_and_acts_on_orders() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let api = start(dir.path(), &mock).await;
    api.send("shop", "s1", "created", store_order("5001", None))
        .await;
    api.rows("status=draft", 1).await;
    let (code, out, err) = cli(&api, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        untimed(&out),
        "ORDER  NAME   ROUTE             STATUS  DETAIL                         UPDATED\n\
         ord_1  #5001  shop -> supplier  draft   draft: missing invoice_number  <time>\n\
         page 1 of 1, 1 in all\n\
         open problems: 1 draft\n"
    );
    let (_, out, _) = cli(
        &api,
        &["list", "--status", "delivered", "--channel", "amazon"],
    );
    assert_eq!(
        out,
        "no orders match\npage 1 of 1, 0 in all\nopen problems: 1 draft\n"
    );
    let (code, _, err) = cli(&api, &["list", "--status", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: unknown status `nope`; use problems"),
        "{err}"
    );

    let (code, out, _) = cli(&api, &["show", "ord_1"]);
    assert_eq!(code, 0);
    let out = untimed(&out);
    for line in [
        "ord_1 #5001  from shop  created <time>",
        "ids: shop 5001",
        "supplier: draft: draft: missing invoice_number",
        "update 1 <time> created from shop by webhook (s1): decided",
        "  -> supplier: draft: missing invoice_number (decision 2, rules ",
        "     why: held for supplier: required field `invoice_number` is empty",
        "  -> amazon: skip: event created is not accepted (decision 1, rules ",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line)),
            "{line:?} in\n{out}"
        );
    }
    let (code, out, _) = cli(&api, &["show", "ord_1", "--json"]);
    assert_eq!(code, 0);
    let json: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(json["id"], "ord_1");

    let (code, out, err) = cli(&api, &["complete", "2", "--set", "invoice_number=INV-9"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "draft 2 completed: delivery 1 is pending\n"),
        "{err}"
    );
    let got = mock.wait_for("/supplier/orders", 1, WAIT).await;
    assert_eq!(got[0].body["order"]["invoice_number"], "INV-9");
    let (code, _, err) = cli(&api, &["complete", "2", "--set", "invoice_number=INV-9"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "error: draft 2 was already released\n")
    );
    let (code, out, _) = cli(&api, &["resync", "ord_1"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ord_1 re-synced with rules "), "{out}");
    // Re-sync reads the source's data again, which still lacks the field the
    // operator filled in: held again.
    assert!(
        out.ends_with(
            ":\n  amazon: skip: event created is not accepted\n  supplier: draft: missing invoice_number\n"
        ),
        "{out}"
    );
    let (code, _, err) = cli(&api, &["retry", "1"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: delivery 1 is "), "{err}");
    let (code, _, err) = cli(&api, &["show", "ord_9"]);
    assert_eq!((code, err.as_str()), (1, "error: no order ord_9\n"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["orders", "--url", &api.daemon.base, "list"])
        .env_remove("ORDERSYNC_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
