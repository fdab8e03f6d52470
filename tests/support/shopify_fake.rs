//! A fake Shopify Admin GraphQL API (version pinned at start, e.g. `2025-10`) for
//! the connector's integration tests.
//!
//! It is strict on purpose: a fake that accepts anything proves nothing. Every
//! request must be `POST {base}/admin/api/{version}/graphql.json` with
//! `Content-Type: application/json`, the right `X-Shopify-Access-Token`, and a
//! `{"query", "variables"}` body whose operation is one of the root fields the
//! connector uses. The operation's variable definitions are parsed and every
//! variable value is checked against the documented input type (required fields,
//! unknown fields, scalar types, enum values), as Shopify's GraphQL executor
//! would, and refused with a top-level `errors` entry in Shopify's wording.
//!
//! Since it is no GraphQL executor, each root field answers with the whole
//! documented object whatever the selection set asks for (extra fields are
//! harmless to a client); the names and the nesting are Shopify's.
//!
//! Doc pages (Admin GraphQL 2025-10), cited at each check below:
//! - [endpoint]   https://shopify.dev/docs/api/admin-graphql (endpoint, `X-Shopify-Access-Token`)
//! - [limits]     https://shopify.dev/docs/api/usage/rate-limits and
//!   https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
//! - [versioning] https://shopify.dev/docs/api/usage/versioning
//! - [search]     https://shopify.dev/docs/api/usage/search-syntax
//! - [pagination] https://shopify.dev/docs/api/usage/pagination-graphql
//! - each mutation, query and input type at
//!   https://shopify.dev/docs/api/admin-graphql/2025-10/{mutations,queries,input-objects,enums}/<Name>
//!
//! See `/work/research/shopify.md` for the shapes and what is UNCONFIRMED.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// The body Shopify answers a wrong or missing access token with (HTTP 401).
/// Observed: https://github.com/Shopify/shopify-cli/issues/263,
/// https://github.com/frappe/ecommerce_integrations/issues/414 (with the
/// `www-authenticate: Basic Realm="Shopify API Authentication"` header).
pub const UNAUTHORIZED_BODY: &str =
    r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;

/// What the fake does with the next request of one operation (see [`FakeShopify::script`]).
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer normally (the default when nothing is scripted).
    Ok,
    /// HTTP 200, the payload's object null and these `(field, message)` user errors
    /// (`field` is a dotted path, e.g. `"lineItems.0.sku"`); nothing changes.
    /// Put in `orderCancelUserErrors` (and `userErrors`) for orderCancel, in
    /// `userErrors` for the other mutations, as top-level `errors` for queries.
    UserErrors(Vec<(String, String)>),
    /// HTTP 200 with `errors: [{message: "Throttled", extensions: {code: "THROTTLED"}}]`
    /// and the cost extension [limits].
    Throttled200,
    /// HTTP 429, with `Retry-After` when given, and the THROTTLED body.
    Throttled429 { retry_after: Option<u64> },
    /// That status (e.g. 500, 502, 503) with a Shopify-like body; nothing changes.
    Status(u16),
    /// Sleep, then answer normally.
    Slow(Duration),
    /// Apply the request to the state, then sleep before answering (for "the
    /// client timed out after Shopify created the order").
    CommitThenSlow(Duration),
    /// HTTP 401 with Shopify's documented body, whatever the token.
    Unauthorized,
    /// HTTP 200 with an HTML body.
    NotJson,
    /// HTTP 200 `{}`: neither `data` nor `errors`.
    NoDataNoErrors,
    /// For orderCancel: accepted, the job runs to `done: true`, but the order
    /// is not cancelled (`cancelledAt` stays null).
    CancelWithoutCancelling,
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The operation's root field (`orderCreate`, `orders`, ...); empty when
    /// the request never got that far (wrong path, token, body).
    pub op: String,
    /// The GraphQL document as sent.
    pub query: String,
    /// The `variables` object as sent (`null` when absent).
    pub variables: Value,
    /// Every header, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The request path.
    pub path: String,
    /// When it arrived.
    pub at: Instant,
    /// The HTTP status the fake answered (0 while it is still being answered).
    pub status: u16,
}

impl Recorded {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The fake server. Dropping it stops it.
pub struct FakeShopify {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeShopify {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeShopify {
    /// Starts the fake on 127.0.0.1:0 on the current tokio runtime, accepting
    /// `token` and the single API version `api_version`.
    pub async fn start(token: &str, api_version: &str) -> FakeShopify {
        let shared = Arc::new(Shared {
            token: token.to_string(),
            api_version: api_version.to_string(),
            state: Mutex::new(Store::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeShopify { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`: the connector's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full GraphQL endpoint for the pinned version.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/admin/api/{}/graphql.json",
            self.base_url(),
            self.shared.api_version
        )
    }

    /// Queues a behaviour for the next request of operation `op` (its root
    /// field, e.g. `"orderCreate"`); each request of that operation takes one.
    pub fn script(&self, op: &str, b: Behaviour) {
        self.lock()
            .scripts
            .entry(op.to_string())
            .or_default()
            .push_back(b);
    }

    /// Behaviours still queued for `op`.
    pub fn scripted(&self, op: &str) -> usize {
        self.lock().scripts.get(op).map_or(0, VecDeque::len)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The requests of one operation.
    pub fn requests_for(&self, op: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.op == op).collect()
    }

    /// How many requests of `op` arrived (valid or not).
    pub fn count(&self, op: &str) -> usize {
        self.lock().requests.iter().filter(|r| r.op == op).count()
    }

    /// Request counts per operation.
    pub fn counts(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for r in &self.lock().requests {
            *out.entry(r.op.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Every order, in creation order, in the GraphQL `Order` node shape
    /// (with `fulfillmentOrders`).
    pub fn orders(&self) -> Vec<Value> {
        let st = self.lock();
        st.orders.iter().map(render_order).collect()
    }

    /// One order by gid.
    pub fn order(&self, gid: &str) -> Option<Value> {
        let st = self.lock();
        st.orders.iter().find(|o| o.gid() == gid).map(render_order)
    }

    /// Every fulfillment created through `fulfillmentCreate`, with its
    /// `order` gid, `trackingInfo` and `fulfillmentLineItems`.
    pub fn fulfillments(&self) -> Vec<Value> {
        self.lock().fulfillments.clone()
    }

    /// Every completed cancel: `{orderId, reason, restock, refund, notifyCustomer,
    /// staffNote, cancelled}` (`cancelled` false for [`Behaviour::CancelWithoutCancelling`]).
    pub fn cancellations(&self) -> Vec<Value> {
        self.lock().cancellations.clone()
    }

    /// The fulfillment orders of an order, in the GraphQL node shape.
    pub fn fulfillment_orders(&self, order_gid: &str) -> Vec<Value> {
        let st = self.lock();
        st.orders
            .iter()
            .find(|o| o.gid() == order_gid)
            .map(|o| o.fos.iter().map(render_fo).collect())
            .unwrap_or_default()
    }

    /// Adds an order directly (a store's own order, or one for polling tests).
    /// `order` is a partial GraphQL `Order` node: any of `id`, `name`, `email`,
    /// `phone`, `createdAt`, `updatedAt`, `cancelledAt`, `closedAt`,
    /// `displayFinancialStatus`, `displayFulfillmentStatus`, `currencyCode`,
    /// `tags`, `note`, `customer`, `shippingAddress`, `billingAddress`,
    /// `totalPriceSet`..., `lineItems` (a list or `{nodes: [...]}` of `{sku,
    /// title, quantity, originalUnitPriceSet}`), `fulfillments`; the rest is
    /// filled in. One open fulfillment order at "Shop location" is made for its
    /// lines. Returns its gid.
    pub fn seed_order(&self, order: Value) -> String {
        let mut st = self.lock();
        st.seed(order)
    }

    /// Sets an order's `updatedAt` (RFC 3339).
    pub fn set_updated_at(&self, gid: &str, at: &str) {
        let mut st = self.lock();
        if let Some(o) = st.orders.iter_mut().find(|o| o.gid() == gid) {
            o.node["updatedAt"] = json!(at);
        }
    }

    /// Freezes the fake's clock at `at` (RFC 3339); writes then stamp that time.
    pub fn set_clock(&self, at: &str) {
        let t = DateTime::parse_from_rfc3339(at)
            .map(|t| t.with_timezone(&Utc))
            .ok();
        self.lock().clock = t;
    }

    /// Moves a frozen clock forward.
    pub fn advance_clock(&self, secs: i64) {
        let mut st = self.lock();
        let now = st.now_dt();
        st.clock = Some(now + chrono::Duration::seconds(secs));
    }

    /// Sets the status of the `index`-th fulfillment order of an order
    /// (`"ON_HOLD"`, `"SCHEDULED"`, `"CLOSED"`, `"OPEN"`...).
    pub fn set_fulfillment_order_status(&self, order_gid: &str, index: usize, status: &str) {
        let mut st = self.lock();
        if let Some(fo) = st
            .orders
            .iter_mut()
            .find(|o| o.gid() == order_gid)
            .and_then(|o| o.fos.get_mut(index))
        {
            fo.status = status.to_string();
        }
    }

    /// Splits an order's fulfillment work across two locations: the lines with
    /// these SKUs move to a new open fulfillment order at `location`. Returns
    /// the new fulfillment order's gid.
    pub fn split_fulfillment_order(
        &self,
        order_gid: &str,
        location: &str,
        skus: &[&str],
    ) -> Option<String> {
        let mut st = self.lock();
        let id = st.gid("FulfillmentOrder");
        let loc_id = st.gid("Location");
        let o = st.orders.iter_mut().find(|o| o.gid() == order_gid)?;
        let mut moved = Vec::new();
        for fo in &mut o.fos {
            let (take, keep): (Vec<FoLine>, Vec<FoLine>) = fo
                .lines
                .drain(..)
                .partition(|l| l.sku.as_deref().is_some_and(|s| skus.contains(&s)));
            fo.lines = keep;
            moved.extend(take);
        }
        if moved.is_empty() {
            return None;
        }
        o.fos.push(Fo {
            id: id.clone(),
            status: "OPEN".into(),
            location: location.to_string(),
            location_id: loc_id,
            lines: moved,
        });
        o.fos.retain(|fo| !fo.lines.is_empty());
        Some(id)
    }

    /// How many `job(id:)` polls answer `done: false` before the job is done
    /// (default 1).
    pub fn set_job_polls(&self, n: u32) {
        self.lock().job_polls = n;
    }

    /// Resets the leaky bucket: `max` points, refilled at `restore_rate`/s, full.
    pub fn set_bucket(&self, max: f64, restore_rate: f64) {
        let mut st = self.lock();
        st.bucket = Bucket {
            max,
            restore_rate,
            available: max,
            at: Instant::now(),
        };
    }

    /// Sets what is left in the bucket now.
    pub fn set_available(&self, available: f64) {
        let mut st = self.lock();
        st.bucket.refill();
        st.bucket.available = available.min(st.bucket.max);
    }

    /// `(maximumAvailable, currentlyAvailable, restoreRate)` now.
    pub fn bucket(&self) -> (f64, f64, f64) {
        let mut st = self.lock();
        st.bucket.refill();
        (st.bucket.max, st.bucket.available, st.bucket.restore_rate)
    }

    /// Overrides the requested cost of an operation (defaults: mutations 10,
    /// `order` 5, `job` 1, `orders` 2 + first × 3).
    pub fn set_cost(&self, op: &str, cost: f64) {
        self.lock().costs.insert(op.to_string(), cost);
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---------------------------------------------------------------------------
// State

struct Shared {
    token: String,
    api_version: String,
    state: Mutex<Store>,
}

struct Bucket {
    max: f64,
    restore_rate: f64,
    available: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self) {
        let now = Instant::now();
        let secs = now.duration_since(self.at).as_secs_f64();
        self.available = (self.available + secs * self.restore_rate).min(self.max);
        self.at = now;
    }

    fn status(&self) -> Value {
        json!({
            "maximumAvailable": self.max,
            "currentlyAvailable": (self.available * 10.0).floor() / 10.0,
            "restoreRate": self.restore_rate,
        })
    }
}

struct FoLine {
    id: String,
    line_item_id: String,
    sku: Option<String>,
    title: String,
    total: i64,
    remaining: i64,
}

struct Fo {
    id: String,
    status: String,
    location: String,
    location_id: String,
    lines: Vec<FoLine>,
}

struct OrderRec {
    node: Value,
    fos: Vec<Fo>,
}

impl OrderRec {
    fn gid(&self) -> &str {
        self.node["id"].as_str().unwrap_or("")
    }
}

struct Job {
    polls_left: u32,
    done: bool,
    order: String,
    cancel: Value,
    no_effect: bool,
}

struct Store {
    scripts: HashMap<String, VecDeque<Behaviour>>,
    requests: Vec<Recorded>,
    orders: Vec<OrderRec>,
    fulfillments: Vec<Value>,
    cancellations: Vec<Value>,
    jobs: HashMap<String, Job>,
    bucket: Bucket,
    costs: HashMap<String, f64>,
    job_polls: u32,
    next_id: u64,
    next_number: u64,
    clock: Option<DateTime<Utc>>,
}

impl Store {
    fn new() -> Store {
        Store {
            scripts: HashMap::new(),
            requests: Vec::new(),
            orders: Vec::new(),
            fulfillments: Vec::new(),
            cancellations: Vec::new(),
            jobs: HashMap::new(),
            // Shopify Plus-sized bucket, as in the brief [limits].
            bucket: Bucket {
                max: 2000.0,
                restore_rate: 100.0,
                available: 2000.0,
                at: Instant::now(),
            },
            costs: HashMap::new(),
            job_polls: 1,
            // Ids above 2^53, like the docs' example order 820982911946154508.
            next_id: 820_982_911_946_154_508,
            next_number: 1001,
            clock: None,
        }
    }

    fn now_dt(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    /// Second resolution, `Z`, like Shopify's DateTime scalar.
    fn now(&self) -> String {
        self.now_dt().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn next(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn gid(&mut self, kind: &str) -> String {
        let n = self.next();
        format!("gid://shopify/{kind}/{n}")
    }

    fn seed(&mut self, order: Value) -> String {
        let now = self.now();
        let mut o = match order {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let gid = match o.get("id").and_then(Value::as_str) {
            Some(g) => g.to_string(),
            None => self.gid("Order"),
        };
        let legacy = gid.rsplit('/').next().unwrap_or("").to_string();
        let number = self.next_number;
        self.next_number += 1;
        let currency = o
            .get("currencyCode")
            .and_then(Value::as_str)
            .unwrap_or("USD")
            .to_string();
        let raw_lines = match o.remove("lineItems") {
            Some(Value::Array(a)) => a,
            Some(Value::Object(mut m)) => match m.remove("nodes") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let mut lines = Vec::new();
        for l in raw_lines {
            let qty = l["quantity"].as_i64().unwrap_or(1);
            let amount = l["originalUnitPriceSet"]["shopMoney"]["amount"]
                .as_str()
                .or_else(|| l["price"].as_str())
                .unwrap_or("0.00")
                .to_string();
            let id = match l["id"].as_str() {
                Some(id) => id.to_string(),
                None => self.gid("LineItem"),
            };
            lines.push(line_node(
                &id,
                l["sku"].as_str(),
                l["title"].as_str().unwrap_or(""),
                qty,
                &amount,
                &currency,
            ));
        }
        let subtotal = sum_lines(&lines);
        let defaults = json!({
            "id": gid,
            "legacyResourceId": legacy,
            "name": format!("#{number}"),
            "email": null,
            "phone": null,
            "createdAt": now,
            "updatedAt": now,
            "processedAt": now,
            "cancelledAt": null,
            "cancelReason": null,
            "closedAt": null,
            "closed": false,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "UNFULFILLED",
            "currencyCode": currency,
            "presentmentCurrencyCode": currency,
            "subtotalPriceSet": money_bag(&subtotal, &currency),
            "totalShippingPriceSet": money_bag("0.00", &currency),
            "totalTaxSet": money_bag("0.00", &currency),
            "totalPriceSet": money_bag(&subtotal, &currency),
            "tags": [],
            "note": null,
            "sourceName": "web",
            "sourceIdentifier": null,
            "customer": null,
            "shippingAddress": null,
            "billingAddress": null,
            "fulfillments": [],
        });
        let mut node = defaults.as_object().cloned().unwrap_or_default();
        for (k, v) in o {
            node.insert(k, v);
        }
        if node.get("updatedAt").is_none_or(Value::is_null) {
            let created = node.get("createdAt").cloned().unwrap_or(Value::Null);
            node.insert("updatedAt".into(), created);
        }
        node.insert("lineItems".into(), json!({ "nodes": lines }));
        let node = Value::Object(node);
        let fo = self.fo_for(&node);
        self.orders.push(OrderRec {
            node,
            fos: fo.into_iter().collect(),
        });
        gid
    }

    fn fo_for(&mut self, node: &Value) -> Option<Fo> {
        let lines: Vec<Value> = node["lineItems"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if lines.is_empty() {
            return None;
        }
        let id = self.gid("FulfillmentOrder");
        let location_id = self.gid("Location");
        let mut fo_lines = Vec::new();
        for l in lines {
            let q = l["quantity"].as_i64().unwrap_or(0);
            fo_lines.push(FoLine {
                id: self.gid("FulfillmentOrderLineItem"),
                line_item_id: l["id"].as_str().unwrap_or("").to_string(),
                sku: l["sku"].as_str().map(str::to_string),
                title: l["title"].as_str().unwrap_or("").to_string(),
                total: q,
                remaining: q,
            });
        }
        Some(Fo {
            id,
            status: "OPEN".into(),
            location: "Shop location".into(),
            location_id,
            lines: fo_lines,
        })
    }
}

fn money(amount: &str, currency: &str) -> Value {
    json!({ "amount": amount, "currencyCode": currency })
}

/// MoneyBag: https://shopify.dev/docs/api/admin-graphql/2025-10/objects/MoneyBag
fn money_bag(amount: &str, currency: &str) -> Value {
    json!({ "shopMoney": money(amount, currency), "presentmentMoney": money(amount, currency) })
}

fn line_node(
    id: &str,
    sku: Option<&str>,
    title: &str,
    qty: i64,
    amount: &str,
    currency: &str,
) -> Value {
    json!({
        "id": id,
        "sku": sku,
        "title": title,
        "name": title,
        "quantity": qty,
        "currentQuantity": qty,
        "originalUnitPriceSet": money_bag(amount, currency),
    })
}

fn sum_lines(lines: &[Value]) -> String {
    let mut total = (0i128, 2u32);
    for l in lines {
        let q = l["quantity"].as_i64().unwrap_or(0);
        if let Some(p) = l["originalUnitPriceSet"]["shopMoney"]["amount"]
            .as_str()
            .and_then(parse_dec)
        {
            total = dec_add(total, dec_mul(p, q));
        }
    }
    dec_fmt(total)
}

fn connection(nodes: Vec<Value>, cursor: impl Fn(&Value) -> String) -> Value {
    let edges: Vec<Value> = nodes
        .iter()
        .map(|n| json!({ "cursor": cursor(n), "node": n }))
        .collect();
    let start = edges.first().map(|e| e["cursor"].clone());
    let end = edges.last().map(|e| e["cursor"].clone());
    json!({
        "nodes": nodes,
        "edges": edges,
        "pageInfo": {
            "hasNextPage": false,
            "hasPreviousPage": false,
            "startCursor": start,
            "endCursor": end,
        },
    })
}

fn opaque_cursor(v: &Value) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(format!("fake:{}", v["id"].as_str().unwrap_or("")))
}

/// FulfillmentOrder: https://shopify.dev/docs/api/admin-graphql/2025-10/objects/FulfillmentOrder
fn render_fo(fo: &Fo) -> Value {
    let lines: Vec<Value> = fo
        .lines
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "totalQuantity": l.total,
                "remainingQuantity": l.remaining,
                "sku": l.sku,
                "lineItem": { "id": l.line_item_id, "sku": l.sku, "title": l.title, "name": l.title },
            })
        })
        .collect();
    json!({
        "id": fo.id,
        "status": fo.status,
        "requestStatus": "UNSUBMITTED",
        "assignedLocation": {
            "name": fo.location,
            "location": { "id": fo.location_id, "name": fo.location },
        },
        "lineItems": connection(lines, opaque_cursor),
    })
}

/// Order: https://shopify.dev/docs/api/admin-graphql/2025-10/objects/Order
fn render_order(o: &OrderRec) -> Value {
    let mut node = o.node.clone();
    let lines: Vec<Value> = node["lineItems"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    node["lineItems"] = connection(lines, opaque_cursor);
    node["fulfillmentOrders"] = connection(o.fos.iter().map(render_fo).collect(), opaque_cursor);
    node
}

// ---------------------------------------------------------------------------
// Exact decimals (the fake must not add binary noise to money either).

fn parse_dec(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (body.contains('.') && frac.is_empty()) {
        return None;
    }
    if int.len() + frac.len() > 30 {
        return None;
    }
    let m: i128 = format!("{int}{frac}").parse().ok()?;
    Some((if neg { -m } else { m }, frac.len() as u32))
}

fn rescale(a: (i128, u32), s: u32) -> i128 {
    a.0.saturating_mul(10i128.checked_pow(s - a.1).unwrap_or(i128::MAX))
}

fn dec_add(a: (i128, u32), b: (i128, u32)) -> (i128, u32) {
    let s = a.1.max(b.1);
    (rescale(a, s).saturating_add(rescale(b, s)), s)
}

fn dec_mul(a: (i128, u32), n: i64) -> (i128, u32) {
    (a.0.saturating_mul(n as i128), a.1)
}

fn dec_fmt(a: (i128, u32)) -> String {
    let neg = a.0 < 0;
    let digits = a.0.unsigned_abs().to_string();
    let s = a.1 as usize;
    let digits = if digits.len() <= s {
        format!("{}{digits}", "0".repeat(s + 1 - digits.len()))
    } else {
        digits
    };
    let (i, f) = digits.split_at(digits.len() - s);
    let sign = if neg { "-" } else { "" };
    if s == 0 {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    }
}

// ---------------------------------------------------------------------------
// The documented input types (Admin GraphQL 2025-10).

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    fn parse(s: &str) -> Option<Ty> {
        let s = s.trim();
        if let Some(inner) = s.strip_suffix('!') {
            return Some(Ty::NonNull(Box::new(Ty::parse(inner)?)));
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return Some(Ty::List(Box::new(Ty::parse(inner)?)));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Some(Ty::Named(s.to_string()));
        }
        None
    }

    fn name(&self) -> &str {
        match self {
            Ty::Named(n) => n,
            Ty::List(t) | Ty::NonNull(t) => t.name(),
        }
    }
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Named(n) => write!(f, "{n}"),
            Ty::List(t) => write!(f, "[{t}]"),
            Ty::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

enum Kind {
    Scalar,
    Enum(&'static [&'static str]),
    /// An enum whose many values the fake checks by form only.
    EnumPattern(usize),
    Input(&'static [(&'static str, &'static str)]),
    /// An input object the connector does not use: any object is accepted.
    Opaque,
}

/// OrderCreateFinancialStatus:
/// https://shopify.dev/docs/api/admin-graphql/2025-10/enums/OrderCreateFinancialStatus
const FINANCIAL: &[&str] = &[
    "AUTHORIZED",
    "EXPIRED",
    "PAID",
    "PARTIALLY_PAID",
    "PARTIALLY_REFUNDED",
    "PENDING",
    "REFUNDED",
    "VOIDED",
];

fn kind_of(name: &str) -> Option<Kind> {
    Some(match name {
        // Scalars: https://shopify.dev/docs/api/admin-graphql/2025-10/scalars/<Name>
        "String" | "ID" | "Int" | "Float" | "Boolean" | "Decimal" | "DateTime" | "URL"
        | "UnsignedInt64" => Kind::Scalar,
        // CurrencyCode / CountryCode: ISO 4217 / ISO 3166 alpha codes (checked by form).
        "CurrencyCode" => Kind::EnumPattern(3),
        "CountryCode" => Kind::EnumPattern(2),
        "OrderCreateFinancialStatus" => Kind::Enum(FINANCIAL),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/enums/OrderCreateFulfillmentStatus (UNCONFIRMED values)
        "OrderCreateFulfillmentStatus" => Kind::Enum(&["FULFILLED", "PARTIAL", "RESTOCKED"]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/enums/OrderCreateInputsInventoryBehavior
        "OrderCreateInputsInventoryBehavior" => Kind::Enum(&[
            "BYPASS",
            "DECREMENT_IGNORING_POLICY",
            "DECREMENT_OBEYING_POLICY",
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/enums/OrderCancelReason
        "OrderCancelReason" => Kind::Enum(&[
            "CUSTOMER",
            "DECLINED",
            "FRAUD",
            "INVENTORY",
            "OTHER",
            "STAFF",
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/enums/OrderSortKeys (list UNCONFIRMED beyond UPDATED_AT/CREATED_AT/ID)
        "OrderSortKeys" => Kind::Enum(&[
            "CREATED_AT",
            "CUSTOMER_NAME",
            "DESTINATION",
            "FINANCIAL_STATUS",
            "FULFILLMENT_STATUS",
            "ID",
            "ORDER_NUMBER",
            "PO_NUMBER",
            "PROCESSED_AT",
            "RELEVANCE",
            "TOTAL_ITEMS_QUANTITY",
            "TOTAL_PRICE",
            "UPDATED_AT",
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderCreateOrderInput
        "OrderCreateOrderInput" => Kind::Input(&[
            ("billingAddress", "MailingAddressInput"),
            ("buyerAcceptsMarketing", "Boolean"),
            ("closedAt", "DateTime"),
            ("companyLocationId", "ID"),
            ("currency", "CurrencyCode"),
            ("customAttributes", "[OrderCreateCustomAttributeInput!]"),
            ("customer", "OrderCreateCustomerInput"),
            ("discountCode", "OrderCreateDiscountCodeInput"),
            ("email", "String"),
            ("financialStatus", "OrderCreateFinancialStatus"),
            ("fulfillment", "OrderCreateFulfillmentInput"),
            ("fulfillmentStatus", "OrderCreateFulfillmentStatus"),
            ("lineItems", "[OrderCreateLineItemInput!]"),
            ("metafields", "[MetafieldInput!]"),
            ("name", "String"),
            ("note", "String"),
            ("phone", "String"),
            ("poNumber", "String"),
            ("presentmentCurrency", "CurrencyCode"),
            ("processedAt", "DateTime"),
            ("referringSite", "URL"),
            ("shippingAddress", "MailingAddressInput"),
            ("shippingLines", "[OrderCreateShippingLineInput!]"),
            ("sourceIdentifier", "String"),
            ("sourceName", "String"),
            ("sourceUrl", "URL"),
            ("tags", "[String!]"),
            ("taxesIncluded", "Boolean"),
            ("taxLines", "[OrderCreateTaxLineInput!]"),
            ("test", "Boolean"),
            ("transactions", "[OrderCreateOrderTransactionInput!]"),
            ("userId", "ID"),
            ("customerId", "ID"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderCreateLineItemInput
        "OrderCreateLineItemInput" => Kind::Input(&[
            ("fulfillmentService", "String"),
            ("giftCard", "Boolean"),
            ("priceSet", "MoneyBagInput"),
            ("productId", "ID"),
            ("properties", "[OrderCreateLineItemPropertyInput!]"),
            ("quantity", "Int!"),
            ("requiresShipping", "Boolean"),
            ("sku", "String"),
            ("taxable", "Boolean"),
            ("taxLines", "[OrderCreateTaxLineInput!]"),
            ("title", "String"),
            ("variantId", "ID"),
            ("variantTitle", "String"),
            ("vendor", "String"),
            ("weight", "WeightInput"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/MoneyBagInput
        "MoneyBagInput" => Kind::Input(&[
            ("shopMoney", "MoneyInput!"),
            ("presentmentMoney", "MoneyInput"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/MoneyInput
        "MoneyInput" => Kind::Input(&[("amount", "Decimal!"), ("currencyCode", "CurrencyCode!")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderCreateShippingLineInput
        "OrderCreateShippingLineInput" => Kind::Input(&[
            ("code", "String"),
            ("priceSet", "MoneyBagInput!"),
            ("source", "String"),
            ("taxLines", "[OrderCreateTaxLineInput!]"),
            ("title", "String!"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/MailingAddressInput
        // (country, id and province are deprecated but still defined)
        "MailingAddressInput" => Kind::Input(&[
            ("address1", "String"),
            ("address2", "String"),
            ("city", "String"),
            ("company", "String"),
            ("countryCode", "CountryCode"),
            ("firstName", "String"),
            ("lastName", "String"),
            ("phone", "String"),
            ("provinceCode", "String"),
            ("zip", "String"),
            ("country", "String"),
            ("id", "ID"),
            ("province", "String"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderCreateOptionsInput
        "OrderCreateOptionsInput" => Kind::Input(&[
            ("inventoryBehaviour", "OrderCreateInputsInventoryBehavior"),
            ("sendFulfillmentReceipt", "Boolean"),
            ("sendReceipt", "Boolean"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderInput
        // (no `phone` in 2025-10: it appears in later versions)
        "OrderInput" => Kind::Input(&[
            ("customAttributes", "[AttributeInput!]"),
            ("email", "String"),
            ("id", "ID!"),
            ("localizedFields", "[LocalizedFieldInput!]"),
            ("metafields", "[MetafieldInput!]"),
            ("note", "String"),
            ("poNumber", "String"),
            ("shippingAddress", "MailingAddressInput"),
            ("tags", "[String!]"),
            ("localizationExtensions", "[LocalizationExtensionInput!]"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderCancelRefundMethodInput
        "OrderCancelRefundMethodInput" => Kind::Input(&[
            ("originalPaymentMethodsRefund", "Boolean"),
            ("storeCreditRefund", "OrderCancelStoreCreditRefundInput"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/OrderCancelStoreCreditRefundInput
        "OrderCancelStoreCreditRefundInput" => Kind::Input(&[("expiresAt", "DateTime")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/FulfillmentInput
        "FulfillmentInput" => Kind::Input(&[
            (
                "lineItemsByFulfillmentOrder",
                "[FulfillmentOrderLineItemsInput!]!",
            ),
            ("notifyCustomer", "Boolean"),
            ("originAddress", "FulfillmentOriginAddressInput"),
            ("trackingInfo", "FulfillmentTrackingInput"),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/FulfillmentOrderLineItemsInput
        "FulfillmentOrderLineItemsInput" => Kind::Input(&[
            ("fulfillmentOrderId", "ID!"),
            (
                "fulfillmentOrderLineItems",
                "[FulfillmentOrderLineItemInput!]",
            ),
        ]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/FulfillmentOrderLineItemInput
        "FulfillmentOrderLineItemInput" => Kind::Input(&[("id", "ID!"), ("quantity", "Int!")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/FulfillmentTrackingInput
        "FulfillmentTrackingInput" => Kind::Input(&[
            ("company", "String"),
            ("number", "String"),
            ("numbers", "[String!]"),
            ("url", "URL"),
            ("urls", "[URL!]"),
        ]),
        // Defined by Shopify, not used by the connector: shape not checked.
        "OrderCreateCustomAttributeInput"
        | "OrderCreateCustomerInput"
        | "OrderCreateDiscountCodeInput"
        | "OrderCreateFulfillmentInput"
        | "MetafieldInput"
        | "OrderCreateTaxLineInput"
        | "OrderCreateOrderTransactionInput"
        | "OrderCreateLineItemPropertyInput"
        | "WeightInput"
        | "AttributeInput"
        | "LocalizedFieldInput"
        | "LocalizationExtensionInput"
        | "FulfillmentOriginAddressInput" => Kind::Opaque,
        _ => return None,
    })
}

/// A root field the fake serves: is it a mutation, and its documented arguments.
struct FieldSpec {
    mutation: bool,
    args: &'static [(&'static str, &'static str)],
}

fn field_spec(name: &str) -> Option<FieldSpec> {
    let (mutation, args): (bool, &'static [(&'static str, &'static str)]) = match name {
        // https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/orderCreate
        "orderCreate" => (
            true,
            &[
                ("order", "OrderCreateOrderInput!"),
                ("options", "OrderCreateOptionsInput"),
            ],
        ),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/tagsAdd
        // https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/tagsRemove
        "tagsAdd" | "tagsRemove" => (true, &[("id", "ID!"), ("tags", "[String!]!")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/orderUpdate
        "orderUpdate" => (true, &[("input", "OrderInput!")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/orderCancel
        // (`refund` deprecated since 2025-07 in favour of `refundMethod`)
        "orderCancel" => (
            true,
            &[
                ("orderId", "ID!"),
                ("reason", "OrderCancelReason!"),
                ("restock", "Boolean!"),
                ("refund", "Boolean"),
                ("refundMethod", "OrderCancelRefundMethodInput"),
                ("notifyCustomer", "Boolean"),
                ("staffNote", "String"),
            ],
        ),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/fulfillmentCreate
        "fulfillmentCreate" => (
            true,
            &[("fulfillment", "FulfillmentInput!"), ("message", "String")],
        ),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/queries/job
        "job" => (false, &[("id", "ID!")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/queries/order
        "order" => (false, &[("id", "ID!")]),
        // https://shopify.dev/docs/api/admin-graphql/2025-10/queries/orders
        "orders" => (
            false,
            &[
                ("first", "Int"),
                ("after", "String"),
                ("last", "Int"),
                ("before", "String"),
                ("reverse", "Boolean"),
                ("sortKey", "OrderSortKeys"),
                ("query", "String"),
                ("savedSearchId", "ID"),
            ],
        ),
        _ => return None,
    };
    Some(FieldSpec { mutation, args })
}

/// A problem with one input value, as graphql-ruby (Shopify's executor) reports them.
struct Problem {
    path: Vec<String>,
    explanation: String,
}

fn is_gid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("gid://shopify/") else {
        return false;
    };
    let mut parts = rest.splitn(2, '/');
    let kind = parts.next().unwrap_or("");
    let id = parts.next().unwrap_or("");
    let id = id.split('?').next().unwrap_or("");
    !kind.is_empty()
        && kind.bytes().all(|b| b.is_ascii_alphanumeric())
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Checks `v` against `ty`, collecting problems (graphql-ruby's variable
/// coercion, incl. the "single value for a list" rule of the GraphQL spec).
fn check(ty: &Ty, v: Option<&Value>, path: &mut Vec<String>, out: &mut Vec<Problem>) {
    let problem = |path: &Vec<String>, out: &mut Vec<Problem>, e: String| {
        out.push(Problem {
            path: path.clone(),
            explanation: e,
        })
    };
    match ty {
        Ty::NonNull(inner) => match v {
            None | Some(Value::Null) => {
                problem(path, out, "Expected value to not be null".into());
            }
            Some(_) => check(inner, v, path, out),
        },
        _ if matches!(v, None | Some(Value::Null)) => {}
        Ty::List(inner) => match v {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    check(inner, Some(item), path, out);
                    path.pop();
                }
            }
            other => check(inner, other, path, out),
        },
        Ty::Named(name) => {
            let v = v.unwrap_or(&Value::Null);
            let coerce = |ok: bool, path: &Vec<String>, out: &mut Vec<Problem>| {
                if !ok {
                    problem(path, out, format!("Could not coerce value {v} to {name}"));
                }
            };
            match kind_of(name) {
                None => problem(path, out, format!("{name} isn't a defined input type")),
                Some(Kind::Scalar) => match name.as_str() {
                    "String" => coerce(v.is_string(), path, out),
                    "Boolean" => coerce(v.is_boolean(), path, out),
                    "Float" => coerce(v.is_number(), path, out),
                    "Int" => coerce(
                        v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                        path,
                        out,
                    ),
                    "UnsignedInt64" => coerce(
                        v.as_str().is_some_and(|s| s.parse::<u64>().is_ok()) || v.is_u64(),
                        path,
                        out,
                    ),
                    // Decimal: "serialized as a string", e.g. "29.99".
                    // https://shopify.dev/docs/api/admin-graphql/2025-10/scalars/Decimal
                    "Decimal" => coerce(v.as_str().and_then(parse_dec).is_some(), path, out),
                    // DateTime: ISO 8601, e.g. "2019-09-07T15:50:00Z".
                    "DateTime" => coerce(
                        v.as_str()
                            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
                        path,
                        out,
                    ),
                    "URL" => coerce(
                        v.as_str()
                            .is_some_and(|s| s.starts_with("https://") || s.starts_with("http://")),
                        path,
                        out,
                    ),
                    // ID: a global id, gid://shopify/<Type>/<id>.
                    // https://shopify.dev/docs/api/usage/gids
                    "ID" => match v.as_str() {
                        Some(s) if is_gid(s) => {}
                        Some(s) => problem(path, out, format!("Invalid global id '{s}'")),
                        None => coerce(false, path, out),
                    },
                    _ => {}
                },
                Some(Kind::EnumPattern(len)) => match v.as_str() {
                    Some(s) if s.len() == len && s.bytes().all(|b| b.is_ascii_uppercase()) => {}
                    _ => problem(
                        path,
                        out,
                        format!("Expected {v} to be one of the {name} values"),
                    ),
                },
                Some(Kind::Enum(values)) => match v.as_str() {
                    Some(s) if values.contains(&s) => {}
                    _ => problem(
                        path,
                        out,
                        format!("Expected {v} to be one of: {}", values.join(", ")),
                    ),
                },
                Some(Kind::Opaque) => {
                    if !v.is_object() {
                        problem(path, out, format!("Expected {v} to be a key-value object"));
                    }
                }
                Some(Kind::Input(fields)) => {
                    let Some(obj) = v.as_object() else {
                        problem(path, out, format!("Expected {v} to be a key-value object"));
                        return;
                    };
                    for key in obj.keys() {
                        if !fields.iter().any(|(f, _)| f == key) {
                            path.push(key.clone());
                            problem(path, out, format!("Field is not defined on {name}"));
                            path.pop();
                        }
                    }
                    for (f, t) in fields.iter() {
                        let Some(fty) = Ty::parse(t) else { continue };
                        path.push((*f).to_string());
                        check(&fty, obj.get(*f), path, out);
                        path.pop();
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A small GraphQL front end: the operation, its variable definitions, and the
// first root field with its arguments. Selection sets are skipped.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Punct(char),
    Spread,
    Str(String),
    Num(String),
}

struct Lexed {
    toks: Vec<(Tok, usize, usize)>,
}

fn lex(src: &str) -> Result<Lexed, String> {
    let b: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let adv = |i: &mut usize, line: &mut usize, col: &mut usize, c: char| {
        *i += 1;
        if c == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
    };
    while i < b.len() {
        let c = b[i];
        let (l0, c0) = (line, col);
        if c.is_whitespace() || c == ',' || c == '\u{feff}' {
            adv(&mut i, &mut line, &mut col, c);
        } else if c == '#' {
            while i < b.len() && b[i] != '\n' {
                {
                    let ch = b[i];
                    adv(&mut i, &mut line, &mut col, ch);
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                s.push(b[i]);
                {
                    let ch = b[i];
                    adv(&mut i, &mut line, &mut col, ch);
                }
            }
            toks.push((Tok::Name(s), l0, c0));
        } else if c == '-' || c.is_ascii_digit() {
            let mut s = String::new();
            while i < b.len()
                && (b[i].is_ascii_digit() || matches!(b[i], '-' | '+' | '.' | 'e' | 'E'))
            {
                s.push(b[i]);
                {
                    let ch = b[i];
                    adv(&mut i, &mut line, &mut col, ch);
                }
            }
            toks.push((Tok::Num(s), l0, c0));
        } else if c == '"' {
            if b.get(i + 1) == Some(&'"') && b.get(i + 2) == Some(&'"') {
                for _ in 0..3 {
                    adv(&mut i, &mut line, &mut col, '"');
                }
                let mut s = String::new();
                loop {
                    if i >= b.len() {
                        return Err(format!(
                            "Parse error on unterminated string at [{l0}, {c0}]"
                        ));
                    }
                    if b[i] == '"' && b.get(i + 1) == Some(&'"') && b.get(i + 2) == Some(&'"') {
                        for _ in 0..3 {
                            adv(&mut i, &mut line, &mut col, '"');
                        }
                        break;
                    }
                    s.push(b[i]);
                    {
                        let ch = b[i];
                        adv(&mut i, &mut line, &mut col, ch);
                    }
                }
                toks.push((Tok::Str(s), l0, c0));
                continue;
            }
            adv(&mut i, &mut line, &mut col, c);
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(format!(
                        "Parse error on unterminated string at [{l0}, {c0}]"
                    ));
                };
                adv(&mut i, &mut line, &mut col, ch);
                match ch {
                    '"' => break,
                    '\\' => {
                        let Some(&e) = b.get(i) else { continue };
                        adv(&mut i, &mut line, &mut col, e);
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'u' => {
                                let hex: String = b.iter().skip(i).take(4).collect();
                                for _ in 0..4 {
                                    if i < b.len() {
                                        {
                                            let ch = b[i];
                                            adv(&mut i, &mut line, &mut col, ch);
                                        }
                                    }
                                }
                                if let Some(ch) =
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                                {
                                    s.push(ch);
                                }
                            }
                            other => s.push(other),
                        }
                    }
                    '\n' => {
                        return Err(format!(
                            "Parse error on unterminated string at [{l0}, {c0}]"
                        ));
                    }
                    other => s.push(other),
                }
            }
            toks.push((Tok::Str(s), l0, c0));
        } else if c == '.' {
            if b.get(i + 1) == Some(&'.') && b.get(i + 2) == Some(&'.') {
                for _ in 0..3 {
                    adv(&mut i, &mut line, &mut col, '.');
                }
                toks.push((Tok::Spread, l0, c0));
            } else {
                return Err(format!("Parse error on \".\" at [{l0}, {c0}]"));
            }
        } else if "(){}[]:!$=@|&".contains(c) {
            adv(&mut i, &mut line, &mut col, c);
            toks.push((Tok::Punct(c), l0, c0));
        } else {
            return Err(format!("Parse error on \"{c}\" at [{l0}, {c0}]"));
        }
    }
    Ok(Lexed { toks })
}

/// An argument's value in the document.
#[derive(Clone, Debug)]
enum ArgVal {
    Var(String),
    Literal(Value, bool),
}

struct VarDef {
    name: String,
    ty: Ty,
    ty_text: String,
    default: Option<Value>,
    line: usize,
    col: usize,
}

struct Operation {
    mutation: bool,
    name: Option<String>,
    vars: Vec<VarDef>,
    field: String,
    args: Vec<(String, ArgVal)>,
    field_line: usize,
    field_col: usize,
    /// Every `$name` used anywhere in the operation.
    used: Vec<String>,
}

struct Parser<'a> {
    t: &'a [(Tok, usize, usize)],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|x| &x.0)
    }

    fn pos(&self) -> (usize, usize) {
        self.t
            .get(self.i)
            .or_else(|| self.t.last())
            .map_or((1, 1), |x| (x.1, x.2))
    }

    fn err<T>(&self) -> Result<T, String> {
        let (l, c) = self.pos();
        match self.peek() {
            Some(Tok::Name(n)) => Err(format!("Parse error on \"{n}\" (IDENTIFIER) at [{l}, {c}]")),
            Some(Tok::Punct(p)) => Err(format!("Parse error on \"{p}\" at [{l}, {c}]")),
            Some(Tok::Str(s)) => Err(format!("Parse error on \"{s}\" (STRING) at [{l}, {c}]")),
            Some(Tok::Num(s)) => Err(format!("Parse error on \"{s}\" (INT) at [{l}, {c}]")),
            Some(Tok::Spread) => Err(format!("Parse error on \"...\" at [{l}, {c}]")),
            None => Err("Parse error on end of input".into()),
        }
    }

    fn punct(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            Ok(())
        } else {
            self.err()
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Name(n)) => {
                let n = n.clone();
                self.i += 1;
                Ok(n)
            }
            _ => self.err(),
        }
    }

    fn ty(&mut self) -> Result<String, String> {
        let mut s = String::new();
        if self.eat('[') {
            s.push('[');
            s.push_str(&self.ty()?);
            self.punct(']')?;
            s.push(']');
        } else {
            s.push_str(&self.name()?);
        }
        if self.eat('!') {
            s.push('!');
        }
        Ok(s)
    }

    /// A value; `Literal(json, has_object)`.
    fn value(&mut self, used: &mut Vec<String>) -> Result<ArgVal, String> {
        if self.eat('$') {
            let n = self.name()?;
            used.push(n.clone());
            return Ok(ArgVal::Var(n));
        }
        let mut has_object = false;
        let v = self.literal(used, &mut has_object)?;
        Ok(ArgVal::Literal(v, has_object))
    }

    fn literal(&mut self, used: &mut Vec<String>, has_object: &mut bool) -> Result<Value, String> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(Value::String(s))
            }
            Some(Tok::Num(n)) => {
                self.i += 1;
                if let Ok(i) = n.parse::<i64>() {
                    Ok(json!(i))
                } else if let Ok(f) = n.parse::<f64>() {
                    Ok(json!(f))
                } else {
                    self.i -= 1;
                    self.err()
                }
            }
            Some(Tok::Name(n)) => {
                self.i += 1;
                Ok(match n.as_str() {
                    "true" => json!(true),
                    "false" => json!(false),
                    "null" => Value::Null,
                    _ => Value::String(n),
                })
            }
            Some(Tok::Punct('[')) => {
                self.i += 1;
                let mut items = Vec::new();
                while !self.eat(']') {
                    if self.peek().is_none() {
                        return self.err();
                    }
                    items.push(self.literal(used, has_object)?);
                }
                Ok(Value::Array(items))
            }
            Some(Tok::Punct('{')) => {
                self.i += 1;
                *has_object = true;
                let mut m = Map::new();
                while !self.eat('}') {
                    let k = self.name()?;
                    self.punct(':')?;
                    let v = self.literal(used, has_object)?;
                    m.insert(k, v);
                }
                Ok(Value::Object(m))
            }
            Some(Tok::Punct('$')) => {
                self.i += 1;
                let n = self.name()?;
                used.push(n.clone());
                // A variable nested in a literal: the fake cannot check it; keep its name.
                Ok(json!({ "$var": n }))
            }
            _ => self.err(),
        }
    }

    fn directives(&mut self, used: &mut Vec<String>) -> Result<(), String> {
        while self.eat('@') {
            self.name()?;
            if self.eat('(') {
                while !self.eat(')') {
                    self.name()?;
                    self.punct(':')?;
                    self.value(used)?;
                }
            }
        }
        Ok(())
    }

    /// Skips a balanced `{ ... }`, collecting `$variables` used in it.
    fn skip_selection(&mut self, used: &mut Vec<String>) -> Result<(), String> {
        self.punct('{')?;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => return self.err(),
                Some(Tok::Punct('{')) => depth += 1,
                Some(Tok::Punct('}')) => depth -= 1,
                Some(Tok::Punct('$')) => {
                    self.i += 1;
                    if let Some(Tok::Name(n)) = self.peek() {
                        used.push(n.clone());
                    }
                    continue;
                }
                _ => {}
            }
            self.i += 1;
        }
        Ok(())
    }

    fn operation(&mut self) -> Result<Operation, String> {
        let mut used = Vec::new();
        let mut mutation = false;
        let mut name = None;
        let mut vars = Vec::new();
        if let Some(Tok::Name(kw)) = self.peek().cloned() {
            match kw.as_str() {
                "query" | "mutation" | "subscription" => {
                    mutation = kw == "mutation";
                    self.i += 1;
                    if let Some(Tok::Name(n)) = self.peek().cloned() {
                        self.i += 1;
                        name = Some(n);
                    }
                    if self.eat('(') {
                        while !self.eat(')') {
                            let (line, col) = self.pos();
                            self.punct('$')?;
                            let vname = self.name()?;
                            self.punct(':')?;
                            let ty_text = self.ty()?;
                            let ty =
                                Ty::parse(&ty_text).ok_or_else(|| "Parse error".to_string())?;
                            let default = if self.eat('=') {
                                let mut dummy = Vec::new();
                                let mut obj = false;
                                Some(self.literal(&mut dummy, &mut obj)?)
                            } else {
                                None
                            };
                            self.directives(&mut used)?;
                            vars.push(VarDef {
                                name: vname,
                                ty,
                                ty_text,
                                default,
                                line,
                                col,
                            });
                        }
                    }
                    self.directives(&mut used)?;
                }
                _ => return self.err(),
            }
        }
        self.punct('{')?;
        // The first root field (aliases allowed).
        let (field_line, field_col) = self.pos();
        let mut field = self.name()?;
        if self.eat(':') {
            field = self.name()?;
        }
        let mut args = Vec::new();
        if self.eat('(') {
            while !self.eat(')') {
                let a = self.name()?;
                self.punct(':')?;
                let v = self.value(&mut used)?;
                args.push((a, v));
            }
        }
        self.directives(&mut used)?;
        if self.peek() == Some(&Tok::Punct('{')) {
            self.skip_selection(&mut used)?;
        }
        // Any further root fields: skipped (the fake answers the first one).
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => return self.err(),
                Some(Tok::Punct('{')) => depth += 1,
                Some(Tok::Punct('}')) => depth -= 1,
                Some(Tok::Punct('$')) => {
                    self.i += 1;
                    if let Some(Tok::Name(n)) = self.peek() {
                        used.push(n.clone());
                    }
                    continue;
                }
                _ => {}
            }
            self.i += 1;
        }
        Ok(Operation {
            mutation,
            name,
            vars,
            field,
            args,
            field_line,
            field_col,
            used,
        })
    }
}

fn parse_operation(query: &str) -> Result<Operation, String> {
    let lexed = lex(query)?;
    if lexed.toks.is_empty() {
        return Err("No query string was present".into());
    }
    let mut p = Parser {
        t: &lexed.toks,
        i: 0,
    };
    p.operation()
}

// ---------------------------------------------------------------------------
// HTTP

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type", "application/json; charset=utf-8".into())],
            body: body.to_string(),
        }
    }

    fn raw(status: u16, content_type: &str, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.to_string(),
        }
    }
}

fn gql_error(message: impl Into<String>, line: usize, col: usize) -> Value {
    json!({ "message": message.into(), "locations": [{ "line": line, "column": col }] })
}

fn errors(list: Vec<Value>) -> Answer {
    Answer::json(200, json!({ "errors": list }))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rec_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let index = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(Recorded {
            op: String::new(),
            query: String::new(),
            variables: Value::Null,
            headers: rec_headers,
            path: uri.path().to_string(),
            at: Instant::now(),
            status: 0,
        });
        st.requests.len() - 1
    };
    let answer = answer(&shared, index, &method, &uri, &headers, &body).await;
    {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = st.requests.get_mut(index) {
            r.status = answer.status;
        }
    }
    let mut resp = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer.body,
    )
        .into_response();
    let h = resp.headers_mut();
    for (k, v) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
            h.insert(name, value);
        }
    }
    // [versioning]: responses say which version served them.
    if let Ok(v) = HeaderValue::from_str(&shared.api_version) {
        h.insert("x-shopify-api-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("fake-{index}")) {
        h.insert("x-request-id", v);
    }
    resp
}

fn not_found() -> Answer {
    Answer::json(404, json!({ "errors": "Not Found" }))
}

fn bad_request() -> Answer {
    // Shopify's answer to a body without a usable `query` (observed wording, UNCONFIRMED).
    Answer::json(
        400,
        json!({ "errors": { "query": "Required parameter missing or invalid" } }),
    )
}

fn throttled_body(requested: f64, bucket: &Bucket) -> Value {
    // [limits]: the THROTTLED error, with the cost extension at the top level.
    json!({
        "errors": [{
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": null,
                "throttleStatus": bucket.status(),
            },
        },
    })
}

async fn answer(
    shared: &Shared,
    index: usize,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    // [endpoint]: POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json
    let path = uri.path();
    let Some(version) = path
        .strip_prefix("/admin/api/")
        .and_then(|r| r.strip_suffix("/graphql.json"))
    else {
        return not_found();
    };
    // [versioning]: Shopify serves any supported version and falls forward for
    // retired ones; the fake serves only the pinned one so a wrong version shows.
    if version != shared.api_version {
        return not_found();
    }
    if method != Method::POST {
        return Answer::json(405, json!({ "errors": "Method Not Allowed" }));
    }
    // [endpoint]: "include your token as a X-Shopify-Access-Token header on all GraphQL requests".
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token != shared.token {
        return unauthorized();
    }
    // [endpoint]: the documented requests send `Content-Type: application/json`.
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Answer::json(
            415,
            json!({ "errors": "Unsupported Media Type: send Content-Type: application/json" }),
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request();
    };
    let Some(query) = req.get("query").and_then(Value::as_str) else {
        return bad_request();
    };
    let variables = req.get("variables").cloned().unwrap_or(Value::Null);
    {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = st.requests.get_mut(index) {
            r.query = query.to_string();
            r.variables = variables.clone();
        }
    }
    let op = match parse_operation(query) {
        Ok(op) => op,
        Err(e) => return errors(vec![json!({ "message": e })]),
    };
    let behaviour = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = st.requests.get_mut(index) {
            r.op = op.field.clone();
        }
        st.scripts
            .get_mut(&op.field)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Behaviour::Ok)
    };
    let mut after = None;
    let mut no_effect = false;
    let mut forced_user_errors = None;
    match behaviour {
        Behaviour::Ok => {}
        Behaviour::Unauthorized => return unauthorized(),
        Behaviour::Status(code) => return status_answer(code),
        Behaviour::NotJson => {
            return Answer::raw(
                200,
                "text/html; charset=utf-8",
                "<html><body><h1>There was a problem loading this website</h1></body></html>",
            );
        }
        Behaviour::NoDataNoErrors => return Answer::json(200, json!({})),
        Behaviour::Throttled200 | Behaviour::Throttled429 { .. } => {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.bucket.refill();
            let cost = st.cost_of(&op, &variables);
            let body = throttled_body(cost, &st.bucket);
            drop(st);
            if let Behaviour::Throttled429 { retry_after } = behaviour {
                let mut a = Answer::json(429, body);
                if let Some(s) = retry_after {
                    a.headers.push(("retry-after", s.to_string()));
                }
                return a;
            }
            return Answer::json(200, body);
        }
        Behaviour::Slow(d) => tokio::time::sleep(d).await,
        Behaviour::CommitThenSlow(d) => after = Some(d),
        Behaviour::CancelWithoutCancelling => no_effect = true,
        Behaviour::UserErrors(list) => forced_user_errors = Some(list),
    }
    let answer = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.execute(&op, &variables, no_effect, forced_user_errors)
    };
    if let Some(d) = after {
        tokio::time::sleep(d).await;
    }
    answer
}

fn unauthorized() -> Answer {
    let mut a = Answer::raw(401, "application/json; charset=utf-8", UNAUTHORIZED_BODY);
    a.headers.push((
        "www-authenticate",
        r#"Basic Realm="Shopify API Authentication""#.into(),
    ));
    a
}

fn status_answer(code: u16) -> Answer {
    match code {
        // Shopify's GraphQL internal error (observed wording, UNCONFIRMED).
        500 => Answer::json(
            500,
            json!({ "errors": [{
                "message": "Internal error. Looks like something went wrong on our end.\nRequest ID: fake",
                "extensions": { "code": "INTERNAL_SERVER_ERROR", "requestId": "fake" },
            }] }),
        ),
        502..=504 => Answer::raw(
            code,
            "text/html; charset=utf-8",
            "<html><body>Service temporarily unavailable</body></html>",
        ),
        403 => Answer::json(
            403,
            json!({ "errors": "[API] This action requires merchant approval for write_orders scope." }),
        ),
        429 => Answer::json(
            429,
            json!({ "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." }),
        ),
        _ => Answer::json(code, json!({ "errors": format!("HTTP {code}") })),
    }
}

// ---------------------------------------------------------------------------
// Execution

impl Store {
    fn cost_of(&self, op: &Operation, vars: &Value) -> f64 {
        if let Some(c) = self.costs.get(&op.field) {
            return *c;
        }
        // [limits]: mutations cost 10; a connection costs about its page size
        // times its nodes' cost. The fake's figures are approximations.
        match op.field.as_str() {
            "job" => 1.0,
            "order" => 5.0,
            "orders" => {
                let first = arg_value(op, vars, "first")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                2.0 + first.clamp(0, 250) as f64 * 3.0
            }
            _ if op.mutation => 10.0,
            _ => 1.0,
        }
    }

    fn execute(
        &mut self,
        op: &Operation,
        vars: &Value,
        no_effect: bool,
        forced: Option<Vec<(String, String)>>,
    ) -> Answer {
        if let Err(list) = validate(op, vars) {
            return errors(list);
        }
        // [limits]: the bucket must hold the requested cost before the query runs.
        self.bucket.refill();
        let cost = self.cost_of(op, vars);
        if cost > self.bucket.available {
            return Answer::json(200, throttled_body(cost, &self.bucket));
        }
        self.bucket.available -= cost;
        let result = if let Some(list) = forced {
            if op.mutation {
                Ok(forced_user_errors(op, &list))
            } else {
                Err(list.iter().map(|(_, m)| json!({ "message": m })).collect())
            }
        } else {
            let args = |name: &str| arg_value(op, vars, name);
            match op.field.as_str() {
                "orderCreate" => self.order_create(&args),
                "tagsAdd" => Ok(self.tags(&args, true)),
                "tagsRemove" => Ok(self.tags(&args, false)),
                "orderUpdate" => Ok(self.order_update(&args)),
                "orderCancel" => Ok(self.order_cancel(&args, no_effect)),
                "job" => Ok(self.job(&args)),
                "order" => Ok(self.order_query(&args)),
                "orders" => self.orders_query(&args),
                "fulfillmentCreate" => Ok(self.fulfillment_create(&args)),
                _ => Err(vec![json!({ "message": "unreachable" })]),
            }
        };
        match result {
            Ok(data) => {
                let mut body = json!({
                    "data": { op.field.clone(): data },
                    "extensions": { "cost": {
                        "requestedQueryCost": cost,
                        "actualQueryCost": cost,
                        "throttleStatus": self.bucket.status(),
                    } },
                });
                if op.field == "orders"
                    && let Some(w) = search_warnings(arg_value(op, vars, "query").as_ref())
                {
                    body["extensions"]["search"] = w;
                }
                Answer::json(200, body)
            }
            Err(list) => {
                // Refund the charge for a refused query.
                self.bucket.available = (self.bucket.available + cost).min(self.bucket.max);
                errors(list)
            }
        }
    }

    fn order_create(&mut self, args: &dyn Fn(&str) -> Option<Value>) -> Result<Value, Vec<Value>> {
        let input = args("order").unwrap_or(Value::Null);
        let currency = input["currency"]
            .as_str()
            .or_else(|| input["lineItems"][0]["priceSet"]["shopMoney"]["currencyCode"].as_str())
            .unwrap_or("USD")
            .to_string();
        let mut user_errors = Vec::new();
        let lines_in = input["lineItems"].as_array().cloned().unwrap_or_default();
        if lines_in.is_empty() {
            user_errors.push(user_error(
                &["order", "lineItems"],
                "Line items can't be blank",
                None,
            ));
        }
        for (i, l) in lines_in.iter().enumerate() {
            if l["variantId"].is_null() && l["title"].as_str().is_none_or(str::is_empty) {
                user_errors.push(user_error(
                    &["order", "lineItems", &i.to_string(), "title"],
                    "Title can't be blank for a line item without a variant",
                    None,
                ));
            }
            if l["quantity"].as_i64().is_some_and(|q| q < 1) {
                user_errors.push(user_error(
                    &["order", "lineItems", &i.to_string(), "quantity"],
                    "Quantity must be greater than or equal to 1",
                    None,
                ));
            }
        }
        if !user_errors.is_empty() {
            return Ok(json!({ "order": null, "userErrors": user_errors }));
        }
        let now = self.now();
        let mut lines = Vec::new();
        for l in &lines_in {
            let id = self.gid("LineItem");
            let amount = l["priceSet"]["shopMoney"]["amount"]
                .as_str()
                .unwrap_or("0.00")
                .to_string();
            lines.push(line_node(
                &id,
                l["sku"].as_str(),
                l["title"].as_str().unwrap_or(""),
                l["quantity"].as_i64().unwrap_or(1),
                &amount,
                &currency,
            ));
        }
        let mut shipping = (0i128, 2u32);
        for s in input["shippingLines"].as_array().into_iter().flatten() {
            if let Some(d) = s["priceSet"]["shopMoney"]["amount"]
                .as_str()
                .and_then(parse_dec)
            {
                shipping = dec_add(shipping, d);
            }
        }
        let subtotal = sum_lines(&lines);
        let total = dec_add(parse_dec(&subtotal).unwrap_or((0, 2)), shipping);
        let financial = input["financialStatus"].as_str().unwrap_or("PENDING");
        let tags: Vec<Value> = split_tags(&input["tags"])
            .into_iter()
            .map(Value::String)
            .collect();
        let node = json!({
            "name": input["name"].as_str().map(str::to_string),
            "email": input["email"],
            "phone": input["phone"],
            "createdAt": input["processedAt"].as_str().unwrap_or(&now),
            "updatedAt": now,
            "processedAt": input["processedAt"].as_str().unwrap_or(&now),
            "closedAt": input["closedAt"],
            "displayFinancialStatus": financial,
            "currencyCode": currency,
            "presentmentCurrencyCode": input["presentmentCurrency"].as_str().unwrap_or(&currency),
            "subtotalPriceSet": money_bag(&subtotal, &currency),
            "totalShippingPriceSet": money_bag(&dec_fmt(shipping), &currency),
            "totalTaxSet": money_bag("0.00", &currency),
            "totalPriceSet": money_bag(&dec_fmt(total), &currency),
            "tags": tags,
            "note": input["note"],
            "sourceName": input["sourceName"].as_str().unwrap_or("api"),
            "sourceIdentifier": input["sourceIdentifier"],
            "customer": customer_from(&input),
            "shippingAddress": address_node(&input["shippingAddress"]),
            "billingAddress": address_node(&input["billingAddress"]),
            "lineItems": lines,
            "test": input["test"].as_bool().unwrap_or(false),
        });
        let mut node = node;
        if node["name"].is_null()
            && let Some(m) = node.as_object_mut()
        {
            m.remove("name");
        }
        let gid = self.seed(node);
        let order = self
            .orders
            .iter()
            .find(|o| o.gid() == gid)
            .map(render_order)
            .unwrap_or(Value::Null);
        Ok(json!({ "order": order, "userErrors": [] }))
    }

    fn tags(&mut self, args: &dyn Fn(&str) -> Option<Value>, add: bool) -> Value {
        let id = args("id")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let tags = split_tags(&args("tags").unwrap_or(Value::Null));
        let now = self.now();
        let Some(o) = self.orders.iter_mut().find(|o| o.gid() == id) else {
            return json!({
                "node": null,
                "userErrors": [user_error(&["id"], "Order does not exist", None)],
            });
        };
        let mut current: Vec<String> = o.node["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for t in tags {
            let pos = current.iter().position(|c| c.eq_ignore_ascii_case(&t));
            match (add, pos) {
                (true, None) => current.push(t),
                (false, Some(p)) => {
                    current.remove(p);
                }
                _ => {}
            }
        }
        o.node["tags"] = json!(current);
        o.node["updatedAt"] = json!(now);
        json!({ "node": { "id": id, "__typename": "Order", "tags": current }, "userErrors": [] })
    }

    fn order_update(&mut self, args: &dyn Fn(&str) -> Option<Value>) -> Value {
        let input = args("input").unwrap_or(Value::Null);
        let id = input["id"].as_str().unwrap_or("").to_string();
        let now = self.now();
        let Some(o) = self.orders.iter_mut().find(|o| o.gid() == id) else {
            return json!({
                "order": null,
                "userErrors": [user_error(&["id"], "Order does not exist", None)],
            });
        };
        if let Some(m) = input.as_object() {
            for (k, v) in m {
                match k.as_str() {
                    "email" | "note" | "poNumber" => o.node[k.as_str()] = v.clone(),
                    "tags" => o.node["tags"] = json!(split_tags(v)),
                    "shippingAddress" => o.node["shippingAddress"] = address_node(v),
                    _ => {}
                }
            }
        }
        o.node["updatedAt"] = json!(now);
        json!({ "order": render_order(o), "userErrors": [] })
    }

    fn order_cancel(&mut self, args: &dyn Fn(&str) -> Option<Value>, no_effect: bool) -> Value {
        let id = args("orderId")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let fail = |msg: &str, code: &str| {
            let e = user_error(&["orderId"], msg, Some(code));
            json!({ "job": null, "orderCancelUserErrors": [e.clone()], "userErrors": [e] })
        };
        let Some(o) = self.orders.iter().find(|o| o.gid() == id) else {
            return fail("Order does not exist", "NOT_FOUND");
        };
        if !o.node["cancelledAt"].is_null() {
            return fail("Order has already been cancelled", "INVALID");
        }
        let pending = self.jobs.values().any(|j| !j.done && j.order == id);
        if pending {
            return fail("Order is already being cancelled", "INVALID");
        }
        let refund = args("refund")
            .and_then(|v| v.as_bool())
            .or_else(|| {
                args("refundMethod").map(|m| {
                    m["originalPaymentMethodsRefund"].as_bool().unwrap_or(false)
                        || m["storeCreditRefund"].is_object()
                })
            })
            .unwrap_or(false);
        let cancel = json!({
            "orderId": id,
            "reason": args("reason"),
            "restock": args("restock"),
            "refund": refund,
            "refundMethod": args("refundMethod"),
            "notifyCustomer": args("notifyCustomer").unwrap_or(json!(false)),
            "staffNote": args("staffNote"),
        });
        let n = self.next();
        let job_id = format!("gid://shopify/Job/{n:x}-fake");
        self.jobs.insert(
            job_id.clone(),
            Job {
                polls_left: self.job_polls,
                done: false,
                order: id,
                cancel,
                no_effect,
            },
        );
        json!({
            "job": { "id": job_id, "done": false },
            "orderCancelUserErrors": [],
            "userErrors": [],
        })
    }

    fn job(&mut self, args: &dyn Fn(&str) -> Option<Value>) -> Value {
        let id = args("id")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let now = self.now();
        let Some(job) = self.jobs.get_mut(&id) else {
            return Value::Null;
        };
        if !job.done {
            if job.polls_left > 0 {
                job.polls_left -= 1;
                return json!({ "id": id, "done": false, "query": null });
            }
            job.done = true;
            let mut record = job.cancel.clone();
            record["cancelled"] = json!(!job.no_effect);
            let order = job.order.clone();
            let no_effect = job.no_effect;
            let reason = job.cancel["reason"].clone();
            let refund = job.cancel["refund"].as_bool().unwrap_or(false);
            self.cancellations.push(record);
            if !no_effect && let Some(o) = self.orders.iter_mut().find(|o| o.gid() == order) {
                o.node["cancelledAt"] = json!(now);
                o.node["cancelReason"] = reason;
                o.node["updatedAt"] = json!(now);
                let fs = o.node["displayFinancialStatus"].as_str().unwrap_or("");
                let new_fs = match (fs, refund) {
                    ("PAID" | "PARTIALLY_PAID", true) => "REFUNDED",
                    ("PENDING" | "AUTHORIZED", _) => "VOIDED",
                    (other, _) => other,
                }
                .to_string();
                o.node["displayFinancialStatus"] = json!(new_fs);
                for fo in &mut o.fos {
                    if fo.status != "CLOSED" {
                        fo.status = "CANCELLED".into();
                    }
                }
            }
        }
        json!({ "id": id, "done": true, "query": { "__typename": "QueryRoot" } })
    }

    fn order_query(&mut self, args: &dyn Fn(&str) -> Option<Value>) -> Value {
        let id = args("id")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        self.orders
            .iter()
            .find(|o| o.gid() == id)
            .map(render_order)
            .unwrap_or(Value::Null)
    }

    fn orders_query(&mut self, args: &dyn Fn(&str) -> Option<Value>) -> Result<Value, Vec<Value>> {
        // [pagination]: forward pagination with `first`/`after`, at most 250 a page.
        let first = args("first").and_then(|v| v.as_i64());
        if args("last").is_some() || args("before").is_some() {
            return Err(vec![
                json!({ "message": "ordersync fake: backward pagination (last/before) is not implemented" }),
            ]);
        }
        let Some(first) = first else {
            return Err(vec![
                json!({ "message": "you must provide one of first or last" }),
            ]);
        };
        if !(0..=250).contains(&first) {
            return Err(vec![json!({ "message": "The maximum page size is 250." })]);
        }
        let sort = args("sortKey")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "ID".into());
        let reverse = args("reverse").and_then(|v| v.as_bool()).unwrap_or(false);
        let terms = parse_search(
            args("query")
                .and_then(|v| v.as_str().map(str::to_string))
                .as_deref()
                .unwrap_or(""),
        );
        let mut list: Vec<Value> = self
            .orders
            .iter()
            .map(render_order)
            .filter(|o| terms.iter().all(|t| t.matches(o)))
            .collect();
        let key = |o: &Value| -> (String, u64) {
            let id: u64 = o["legacyResourceId"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let v = match sort.as_str() {
                "UPDATED_AT" => ts_key(&o["updatedAt"]),
                "CREATED_AT" => ts_key(&o["createdAt"]),
                "PROCESSED_AT" => ts_key(&o["processedAt"]),
                _ => String::new(),
            };
            (v, id)
        };
        list.sort_by_key(key);
        if reverse {
            list.reverse();
        }
        if let Some(after) = args("after").and_then(|v| v.as_str().map(str::to_string)) {
            let Some((sk, av, aid)) = decode_cursor(&after) else {
                return Err(vec![
                    json!({ "message": "Invalid cursor for current pagination sort." }),
                ]);
            };
            if sk != sort {
                return Err(vec![
                    json!({ "message": "Invalid cursor for current pagination sort." }),
                ]);
            }
            list.retain(|o| {
                let k = key(o);
                if reverse {
                    k < (av.clone(), aid)
                } else {
                    k > (av.clone(), aid)
                }
            });
        }
        let has_next = list.len() as i64 > first;
        list.truncate(first as usize);
        let cursor = |o: &Value| encode_cursor(&sort, &key(o));
        let mut conn = connection(list, cursor);
        conn["pageInfo"]["hasNextPage"] = json!(has_next);
        conn["pageInfo"]["hasPreviousPage"] = json!(args("after").is_some());
        Ok(conn)
    }

    fn fulfillment_create(&mut self, args: &dyn Fn(&str) -> Option<Value>) -> Value {
        let input = args("fulfillment").unwrap_or(Value::Null);
        let groups = input["lineItemsByFulfillmentOrder"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let fail = |path: Vec<String>, msg: String| json!({ "fulfillment": null, "userErrors": [{ "field": path, "message": msg }] });
        if groups.is_empty() {
            return fail(
                vec!["fulfillment".into(), "lineItemsByFulfillmentOrder".into()],
                "Line items by fulfillment order can't be blank".into(),
            );
        }
        // Plan first, change nothing until every check passed.
        let mut plan: Vec<PlannedFulfillment> = Vec::new();
        let mut order_idx = None;
        let mut location = None;
        for (gi, g) in groups.iter().enumerate() {
            let base = vec![
                "fulfillment".to_string(),
                "lineItemsByFulfillmentOrder".to_string(),
                gi.to_string(),
            ];
            let fo_id = g["fulfillmentOrderId"].as_str().unwrap_or("");
            let found =
                self.orders.iter().enumerate().find_map(|(oi, o)| {
                    o.fos.iter().position(|f| f.id == fo_id).map(|fi| (oi, fi))
                });
            let Some((oi, fi)) = found else {
                let mut p = base.clone();
                p.push("fulfillmentOrderId".into());
                return fail(p, "Fulfillment order does not exist.".into());
            };
            if order_idx.is_some_and(|x| x != oi) {
                return fail(
                    base,
                    "All fulfillment orders must belong to the same order.".into(),
                );
            }
            order_idx = Some(oi);
            let fo = &self.orders[oi].fos[fi];
            if location
                .as_ref()
                .is_some_and(|l: &String| *l != fo.location_id)
            {
                return fail(
                    base,
                    "All fulfillment orders must be assigned to the same location.".into(),
                );
            }
            location = Some(fo.location_id.clone());
            if !matches!(fo.status.as_str(), "OPEN" | "IN_PROGRESS") {
                let mut p = base.clone();
                p.push("fulfillmentOrderId".into());
                return fail(
                    p,
                    format!(
                        "Fulfillment order {} has an unfulfillable status= {}.",
                        fo.id,
                        fo.status.to_lowercase()
                    ),
                );
            }
            let mut items = Vec::new();
            match g["fulfillmentOrderLineItems"].as_array() {
                Some(list) if !list.is_empty() => {
                    for (li, item) in list.iter().enumerate() {
                        let iid = item["id"].as_str().unwrap_or("");
                        let q = item["quantity"].as_i64().unwrap_or(0);
                        let mut p = base.clone();
                        p.extend(["fulfillmentOrderLineItems".to_string(), li.to_string()]);
                        let Some(pos) = fo.lines.iter().position(|l| l.id == iid) else {
                            p.push("id".into());
                            return fail(p, "Fulfillment order line item does not exist.".into());
                        };
                        if q < 1 || q > fo.lines[pos].remaining {
                            p.push("quantity".into());
                            return fail(
                                p,
                                "Invalid fulfillment order line item quantity requested.".into(),
                            );
                        }
                        items.push((pos, q));
                    }
                }
                _ => {
                    for (pos, l) in fo.lines.iter().enumerate() {
                        if l.remaining > 0 {
                            items.push((pos, l.remaining));
                        }
                    }
                }
            }
            plan.push((oi, fi, items));
        }
        let now = self.now();
        let fid = self.gid("Fulfillment");
        let tracking = &input["trackingInfo"];
        let tracking_info = if tracking.is_object() {
            let number = tracking["number"]
                .as_str()
                .map(str::to_string)
                .or_else(|| tracking["numbers"][0].as_str().map(str::to_string));
            let url = tracking["url"]
                .as_str()
                .map(str::to_string)
                .or_else(|| tracking["urls"][0].as_str().map(str::to_string));
            vec![json!({ "company": tracking["company"], "number": number, "url": url })]
        } else {
            Vec::new()
        };
        let mut fli = Vec::new();
        let mut order_gid = String::new();
        for (oi, fi, items) in plan {
            let o = &mut self.orders[oi];
            order_gid = o.gid().to_string();
            let fo = &mut o.fos[fi];
            for (pos, q) in items {
                let l = &mut fo.lines[pos];
                l.remaining -= q;
                fli.push(json!({
                    "id": format!("gid://shopify/FulfillmentLineItem/{}-{pos}", fid.rsplit('/').next().unwrap_or("")),
                    "quantity": q,
                    "lineItem": { "id": l.line_item_id, "sku": l.sku, "title": l.title },
                }));
            }
            fo.status = if fo.lines.iter().all(|l| l.remaining == 0) {
                "CLOSED".into()
            } else {
                "IN_PROGRESS".into()
            };
        }
        let fulfillment = json!({
            "id": fid,
            "status": "SUCCESS",
            "createdAt": now,
            "updatedAt": now,
            "name": "",
            "trackingInfo": tracking_info,
            "fulfillmentLineItems": connection(fli, opaque_cursor),
        });
        if let Some(o) = self.orders.iter_mut().find(|o| o.gid() == order_gid) {
            let all_done = o
                .fos
                .iter()
                .all(|f| f.lines.iter().all(|l| l.remaining == 0));
            o.node["displayFulfillmentStatus"] = json!(if all_done {
                "FULFILLED"
            } else {
                "PARTIALLY_FULFILLED"
            });
            o.node["updatedAt"] = json!(now);
            if let Some(list) = o.node["fulfillments"].as_array_mut() {
                list.push(fulfillment.clone());
            }
        }
        let mut rec = fulfillment.clone();
        rec["order"] = json!(order_gid);
        rec["notifyCustomer"] = input["notifyCustomer"].clone();
        rec["message"] = args("message").unwrap_or(Value::Null);
        self.fulfillments.push(rec);
        json!({ "fulfillment": fulfillment, "userErrors": [] })
    }
}

/// (order index, fulfillment order index, [(line index, quantity)]).
type PlannedFulfillment = (usize, usize, Vec<(usize, i64)>);

fn user_error(path: &[&str], message: &str, code: Option<&str>) -> Value {
    let mut e = json!({ "field": path, "message": message });
    if let Some(c) = code {
        e["code"] = json!(c);
    }
    e
}

fn forced_user_errors(op: &Operation, list: &[(String, String)]) -> Value {
    let errs: Vec<Value> = list
        .iter()
        .map(|(f, m)| {
            let path: Vec<&str> = if f.is_empty() { Vec::new() } else { f.split('.').collect() };
            json!({ "field": if path.is_empty() { Value::Null } else { json!(path) }, "message": m, "code": "INVALID" })
        })
        .collect();
    // Documented payloads: OrderCreatePayload {order, userErrors}, TagsAddPayload
    // {node, userErrors}, OrderUpdatePayload {order, userErrors},
    // OrderCancelPayload {job, orderCancelUserErrors, userErrors (deprecated)},
    // FulfillmentCreatePayload {fulfillment, userErrors}.
    match op.field.as_str() {
        "orderCreate" | "orderUpdate" => json!({ "order": null, "userErrors": errs }),
        "tagsAdd" | "tagsRemove" => json!({ "node": null, "userErrors": errs }),
        "orderCancel" => json!({ "job": null, "orderCancelUserErrors": errs, "userErrors": errs }),
        "fulfillmentCreate" => json!({ "fulfillment": null, "userErrors": errs }),
        _ => Value::Null,
    }
}

/// `tags` as Shopify reads it: a list, each element possibly a comma-separated list.
/// https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/tagsAdd#arguments-tags
fn split_tags(v: &Value) -> Vec<String> {
    let items: Vec<&str> = match v {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        for t in item.split(',') {
            let t = t.trim();
            if !t.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
                out.push(t.to_string());
            }
        }
    }
    out
}

/// MailingAddressInput -> MailingAddress (the object's field names).
/// https://shopify.dev/docs/api/admin-graphql/2025-10/objects/MailingAddress
fn address_node(a: &Value) -> Value {
    if !a.is_object() {
        return Value::Null;
    }
    let s = |k: &str| a[k].as_str().map(str::to_string);
    let name = match (s("firstName"), s("lastName")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f),
        (None, Some(l)) => Some(l),
        (None, None) => None,
    };
    let country_code = s("countryCode");
    json!({
        "name": name,
        "firstName": s("firstName"),
        "lastName": s("lastName"),
        "company": s("company"),
        "address1": s("address1"),
        "address2": s("address2"),
        "city": s("city"),
        "province": s("province").or_else(|| s("provinceCode")),
        "provinceCode": s("provinceCode"),
        "zip": s("zip"),
        "country": s("country").or_else(|| country_code.clone()),
        "countryCodeV2": country_code,
        "phone": s("phone"),
    })
}

fn customer_from(input: &Value) -> Value {
    let addr = if input["shippingAddress"].is_object() {
        &input["shippingAddress"]
    } else {
        &input["billingAddress"]
    };
    if input["email"].is_null() && !addr.is_object() {
        return Value::Null;
    }
    json!({
        "email": input["email"],
        "firstName": addr["firstName"],
        "lastName": addr["lastName"],
        "phone": input["phone"],
    })
}

fn ts_key(v: &Value) -> String {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc).format("%Y%m%d%H%M%S").to_string())
        .unwrap_or_default()
}

fn encode_cursor(sort: &str, key: &(String, u64)) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(json!({ "sort": sort, "last_value": key.0, "last_id": key.1 }).to_string())
}

fn decode_cursor(c: &str) -> Option<(String, String, u64)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    Some((
        v["sort"].as_str()?.to_string(),
        v["last_value"].as_str()?.to_string(),
        v["last_id"].as_u64()?,
    ))
}

fn arg_value(op: &Operation, vars: &Value, name: &str) -> Option<Value> {
    let (_, v) = op.args.iter().find(|(a, _)| a == name)?;
    match v {
        ArgVal::Literal(v, _) => Some(v.clone()),
        ArgVal::Var(var) => match vars.get(var) {
            Some(v) => Some(v.clone()),
            None => op
                .vars
                .iter()
                .find(|d| d.name == *var)
                .and_then(|d| d.default.clone()),
        },
    }
    .filter(|v| !v.is_null())
}

/// GraphQL validation and variable coercion, with graphql-ruby's messages.
fn validate(op: &Operation, vars: &Value) -> Result<(), Vec<Value>> {
    let (fl, fc) = (op.field_line, op.field_col);
    let root = if op.mutation { "Mutation" } else { "QueryRoot" };
    let Some(spec) = field_spec(&op.field).filter(|s| s.mutation == op.mutation) else {
        return Err(vec![gql_error(
            format!("Field '{}' doesn't exist on type '{root}'", op.field),
            fl,
            fc,
        )]);
    };
    if !vars.is_null() && !vars.is_object() {
        return Err(vec![json!({ "message": "Variables must be an object" })]);
    }
    let mut errs = Vec::new();
    let opname = op.name.clone().unwrap_or_else(|| "anonymous".into());
    for d in &op.vars {
        if kind_of(d.ty.name()).is_none() {
            errs.push(gql_error(
                format!(
                    "{} isn't a defined input type (on ${})",
                    d.ty.name(),
                    d.name
                ),
                d.line,
                d.col,
            ));
        } else if !op.used.contains(&d.name) {
            errs.push(gql_error(
                format!("Variable ${} is declared by {opname} but not used", d.name),
                d.line,
                d.col,
            ));
        }
    }
    for u in &op.used {
        if !op.vars.iter().any(|d| d.name == *u) {
            errs.push(gql_error(
                format!("Variable ${u} is used by {opname} but not declared"),
                fl,
                fc,
            ));
        }
    }
    for (a, v) in &op.args {
        let Some((_, t)) = spec.args.iter().find(|(n, _)| n == a) else {
            errs.push(gql_error(
                format!("Field '{}' doesn't accept argument '{a}'", op.field),
                fl,
                fc,
            ));
            continue;
        };
        let Some(arg_ty) = Ty::parse(t) else { continue };
        match v {
            ArgVal::Var(var) => {
                if let Some(d) = op.vars.iter().find(|d| d.name == *var) {
                    let compatible = d.ty == arg_ty
                        || Ty::NonNull(Box::new(arg_ty.clone())) == d.ty
                        || (matches!(&arg_ty, Ty::NonNull(inner) if **inner == d.ty)
                            && d.default.is_some());
                    if !compatible {
                        let which = if d.ty.name() == arg_ty.name() {
                            "Nullability mismatch"
                        } else {
                            "Type mismatch"
                        };
                        errs.push(gql_error(
                            format!(
                                "{which} on variable ${var} and argument {a} ({} / {arg_ty})",
                                d.ty_text
                            ),
                            fl,
                            fc,
                        ));
                    }
                }
            }
            // SPEC 12.1: inputs always as variables. Input objects inlined in
            // the query are refused (scalars and enums may be literals).
            ArgVal::Literal(lit, has_object) => {
                if *has_object {
                    errs.push(gql_error(
                        format!(
                            "ordersync fake: argument '{a}' of '{}' must be passed as a variable, not inlined (SPEC 12.1)",
                            op.field
                        ),
                        fl,
                        fc,
                    ));
                } else {
                    let mut problems = Vec::new();
                    check(&arg_ty, Some(lit), &mut Vec::new(), &mut problems);
                    for p in problems {
                        errs.push(gql_error(
                            format!(
                                "Argument '{a}' on Field '{}' has an invalid value ({lit}). {}",
                                op.field, p.explanation
                            ),
                            fl,
                            fc,
                        ));
                    }
                }
            }
        }
    }
    for (n, t) in spec.args {
        if t.ends_with('!') && !op.args.iter().any(|(a, _)| a == n) {
            errs.push(gql_error(
                format!("Field '{}' is missing required arguments: {n}", op.field),
                fl,
                fc,
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Variable values against their declared (= documented) types.
    for d in &op.vars {
        let value = vars.get(&d.name).or(d.default.as_ref());
        let mut problems = Vec::new();
        check(&d.ty, value, &mut Vec::new(), &mut problems);
        if problems.is_empty() {
            continue;
        }
        let listed: Vec<String> = problems
            .iter()
            .map(|p| {
                if p.path.is_empty() {
                    format!("({})", p.explanation)
                } else {
                    format!("for {} ({})", p.path.join("."), p.explanation)
                }
            })
            .collect();
        let message = format!(
            "Variable ${} of type {} was provided invalid value {}",
            d.name,
            d.ty_text,
            listed.join(", ")
        );
        let probs: Vec<Value> = problems
            .iter()
            .map(|p| json!({ "path": p.path, "explanation": p.explanation }))
            .collect();
        errs.push(json!({
            "message": message.replace(", for ", ", "),
            "locations": [{ "line": d.line, "column": d.col }],
            "extensions": { "value": value.cloned().unwrap_or(Value::Null), "problems": probs },
        }));
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

// ---------------------------------------------------------------------------
// [search]: the search syntax subset the connector uses:
// `updated_at:>='2025-01-01T00:00:00Z'`, `tag:'ordersync:ord_1'`, terms joined
// by whitespace (AND), a leading `-` or `NOT` negates.

struct Term {
    negate: bool,
    field: Option<String>,
    cmp: String,
    value: String,
}

fn parse_search(q: &str) -> Vec<Term> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let mut negate_next = false;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut negate = std::mem::take(&mut negate_next);
        if chars[i] == '-' {
            negate = true;
            i += 1;
        }
        // field name (or a bare word)
        let start = i;
        while i < chars.len()
            && !chars[i].is_whitespace()
            && chars[i] != ':'
            && chars[i] != '\''
            && chars[i] != '"'
        {
            if chars[i] == '\\' {
                i += 1;
            }
            i += 1;
        }
        let word: String = chars[start..i.min(chars.len())].iter().collect();
        if i < chars.len() && chars[i] == ':' {
            i += 1;
            let mut cmp = String::new();
            while i < chars.len() && matches!(chars[i], '<' | '>' | '=') {
                cmp.push(chars[i]);
                i += 1;
            }
            let value = read_value(&chars, &mut i);
            out.push(Term {
                negate,
                field: Some(word.to_ascii_lowercase()),
                cmp,
                value,
            });
        } else {
            let value = if word.is_empty() {
                read_value(&chars, &mut i)
            } else {
                word.replace('\\', "")
            };
            match value.as_str() {
                "AND" => {}
                "NOT" => negate_next = true,
                // OR is not supported by the fake: ignored (both sides then must hold).
                "OR" => {}
                _ => out.push(Term {
                    negate,
                    field: None,
                    cmp: String::new(),
                    value,
                }),
            }
        }
    }
    out
}

fn read_value(chars: &[char], i: &mut usize) -> String {
    let mut v = String::new();
    if *i < chars.len() && (chars[*i] == '\'' || chars[*i] == '"') {
        let q = chars[*i];
        *i += 1;
        while *i < chars.len() && chars[*i] != q {
            if chars[*i] == '\\' && *i + 1 < chars.len() {
                *i += 1;
            }
            v.push(chars[*i]);
            *i += 1;
        }
        *i += 1;
    } else {
        while *i < chars.len() && !chars[*i].is_whitespace() {
            if chars[*i] == '\\' && *i + 1 < chars.len() {
                *i += 1;
            }
            v.push(chars[*i]);
            *i += 1;
        }
    }
    v
}

const SEARCH_FIELDS: &[&str] = &[
    "tag",
    "tag_not",
    "updated_at",
    "created_at",
    "processed_at",
    "status",
    "name",
    "email",
    "id",
    "financial_status",
    "fulfillment_status",
    "source_identifier",
    "source_name",
];

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

impl Term {
    fn matches(&self, o: &Value) -> bool {
        let r = self.raw_matches(o);
        if self.negate { !r } else { r }
    }

    fn raw_matches(&self, o: &Value) -> bool {
        let tags: Vec<&str> = o["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(field) = &self.field else {
            let v = self.value.to_ascii_lowercase();
            return ["name", "email"].iter().any(|k| {
                o[k].as_str()
                    .is_some_and(|s| s.to_ascii_lowercase().contains(&v))
            }) || tags.iter().any(|t| t.eq_ignore_ascii_case(&self.value));
        };
        let time_cmp = |key: &str| -> bool {
            let (Some(a), Some(b)) = (
                o[key].as_str().and_then(parse_time),
                parse_time(&self.value),
            ) else {
                return false;
            };
            match self.cmp.as_str() {
                ">" => a > b,
                ">=" => a >= b,
                "<" => a < b,
                "<=" => a <= b,
                _ => a == b,
            }
        };
        match field.as_str() {
            "tag" => tags.iter().any(|t| t.eq_ignore_ascii_case(&self.value)),
            "tag_not" => !tags.iter().any(|t| t.eq_ignore_ascii_case(&self.value)),
            "updated_at" => time_cmp("updatedAt"),
            "created_at" => time_cmp("createdAt"),
            "processed_at" => time_cmp("processedAt"),
            "name" => o["name"]
                .as_str()
                .is_some_and(|n| n.trim_start_matches('#') == self.value.trim_start_matches('#')),
            "email" => o["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&self.value)),
            "id" => {
                o["legacyResourceId"].as_str() == Some(self.value.as_str())
                    || o["id"].as_str() == Some(self.value.as_str())
            }
            "source_identifier" => o["sourceIdentifier"].as_str() == Some(self.value.as_str()),
            "source_name" => o["sourceName"].as_str() == Some(self.value.as_str()),
            "financial_status" => o["displayFinancialStatus"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&self.value)),
            "fulfillment_status" => o["displayFulfillmentStatus"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&self.value)),
            "status" => {
                let cancelled = !o["cancelledAt"].is_null();
                let closed = !o["closedAt"].is_null();
                match self.value.as_str() {
                    "cancelled" => cancelled,
                    "closed" => closed,
                    "open" => !cancelled && !closed,
                    _ => true,
                }
            }
            // An unknown field is ignored (Shopify warns in `extensions.search`).
            _ => true,
        }
    }
}

/// Shopify reports unknown search fields as warnings, not errors (UNCONFIRMED shape).
fn search_warnings(q: Option<&Value>) -> Option<Value> {
    let q = q?.as_str()?;
    let warnings: Vec<Value> = parse_search(q)
        .iter()
        .filter_map(|t| t.field.as_ref())
        .filter(|f| !SEARCH_FIELDS.contains(&f.as_str()))
        .map(|f| json!({ "field": f, "message": "Invalid search field for this query." }))
        .collect();
    if warnings.is_empty() {
        return None;
    }
    Some(json!([{ "path": ["orders"], "query": q, "warnings": warnings }]))
}
