//! A fake WooCommerce store (REST API v3, `{base}/wp-json/wc/v3`) for the
//! connector's integration tests.
//!
//! Strict on purpose: every request must use a documented path and method,
//! HTTP Basic auth with the store's consumer key and secret, and (for writes)
//! a JSON object with only documented fields of documented types; anything
//! else is refused with a WP_Error body as WooCommerce would. It keeps its
//! products, orders and notes, and can be scripted per operation.
//!
//! Doc pages (https://woocommerce.github.io/woocommerce-rest-api-docs/), cited
//! at each check below:
//! - [auth]     #authentication (Basic auth over HTTPS; 401 WP_Error)
//! - [errors]   #errors (WP_Error `{code, message, data: {status}}`)
//! - [paging]   #pagination (`page`, `per_page` up to 100, `X-WP-Total`, `X-WP-TotalPages`)
//! - [orders]   #orders (order properties, create, retrieve, list parameters, update)
//! - [notes]    #order-notes (create: `note` required, `customer_note` boolean)
//! - [products] #products (list parameter `sku`)

#![allow(dead_code)]
// A refusal is the whole HTTP answer, built where the check fails.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// What the fake does with the next request of one operation.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer normally.
    Ok,
    /// A WP_Error with this status, code and message; nothing changes.
    WpError(u16, &'static str, &'static str),
    /// This status and raw body; nothing changes.
    Raw(u16, &'static str),
    /// HTTP 200 with this JSON (a wrong shape); nothing changes.
    Shape(Value),
    /// 429 with `Retry-After: 1`.
    Throttle,
    /// Wait this long, then answer normally (the client may have gone).
    Slow(Duration),
    /// Do the work, then wait this long before answering.
    CommitThenSlow(Duration),
}

/// Operations, as scripts name them.
pub const OPS: [&str; 7] = [
    "product lookup",
    "list orders",
    "create order",
    "get order",
    "update order",
    "list notes",
    "create note",
];

struct Store {
    products: Vec<Value>,
    orders: BTreeMap<i64, Value>,
    notes: HashMap<i64, Vec<Value>>,
    next_id: i64,
    scripts: HashMap<String, VecDeque<Behaviour>>,
    counts: HashMap<String, usize>,
    log: Vec<String>,
    refused: Vec<String>,
}

/// The running fake store.
#[derive(Clone)]
pub struct FakeWoo {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    key: String,
    secret: String,
    store: Arc<Mutex<Store>>,
}

const STATUSES: [&str; 7] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
];

impl FakeWoo {
    /// Starts a store with these consumer credentials and no products.
    pub async fn start(key: &str, secret: &str) -> FakeWoo {
        let fake = FakeWoo {
            base: String::new(),
            key: key.to_string(),
            secret: secret.to_string(),
            store: Arc::new(Mutex::new(Store {
                products: Vec::new(),
                orders: BTreeMap::new(),
                notes: HashMap::new(),
                next_id: 700,
                scripts: HashMap::new(),
                counts: HashMap::new(),
                log: Vec::new(),
                refused: Vec::new(),
            })),
        };
        let app = Router::new().fallback(handle).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeWoo {
            base: format!("http://{addr}"),
            ..fake
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a simple product (or, with `parent`, a variation of it).
    pub fn add_product(&self, id: i64, sku: &str, name: &str, price: &str, parent: Option<i64>) {
        self.lock().products.push(json!({
            "id": id, "name": name, "sku": sku, "price": price,
            "type": if parent.is_some() { "variation" } else { "simple" },
            "parent_id": parent.unwrap_or(0),
        }));
    }

    /// Puts an order in as the store has it (for webhooks and polling).
    pub fn put_order(&self, order: Value) {
        let id = order["id"].as_i64().unwrap();
        self.lock().orders.insert(id, order);
    }

    /// Every order, oldest first.
    pub fn orders(&self) -> Vec<Value> {
        self.lock().orders.values().cloned().collect()
    }

    /// An order's notes.
    pub fn notes(&self, id: i64) -> Vec<Value> {
        self.lock().notes.get(&id).cloned().unwrap_or_default()
    }

    /// Scripts the next request of `op`.
    pub fn script(&self, op: &str, b: Behaviour) {
        assert!(OPS.contains(&op), "unknown op {op}");
        self.lock()
            .scripts
            .entry(op.to_string())
            .or_default()
            .push_back(b);
    }

    /// Requests of `op` so far.
    pub fn count(&self, op: &str) -> usize {
        self.lock().counts.get(op).copied().unwrap_or(0)
    }

    /// `METHOD path?query` of every request, in order.
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Why the fake refused requests as malformed (a test asserts none were).
    pub fn refused(&self) -> Vec<String> {
        self.lock().refused.clone()
    }
}

fn wp_error(status: u16, code: &str, message: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        json!({"code": code, "message": message, "data": {"status": status}}).to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        "application/json; charset=UTF-8".parse().unwrap(),
    );
    r
}

fn ok(status: u16, body: Value) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap(), body.to_string()).into_response();
    r.headers_mut().insert(
        "content-type",
        "application/json; charset=UTF-8".parse().unwrap(),
    );
    r
}

/// A malformed request, refused with WooCommerce's `rest_invalid_param` and noted.
fn invalid(fake: &FakeWoo, why: String) -> Response {
    fake.lock().refused.push(why.clone());
    wp_error(
        400,
        "rest_invalid_param",
        &format!("Invalid parameter(s): {why}"),
    )
}

fn gmt_now() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A money string as WooCommerce writes it (`"12.00"`), exact.
fn money_string(v: &Value, what: &str) -> Result<Decimal, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{what} is not of type string"))?;
    Decimal::from_str(s).map_err(|_| format!("{what} is not an amount: {s:?}"))
}

/// [orders] the address objects take these string fields.
fn check_address(v: &Value, what: &str, email: bool) -> Result<(), String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("{what} is not of type object"))?;
    let mut allowed = vec![
        "first_name",
        "last_name",
        "company",
        "address_1",
        "address_2",
        "city",
        "state",
        "postcode",
        "country",
        "phone",
    ];
    if email {
        allowed.push("email");
    }
    for (k, val) in o {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("{what}[{k}] is not a documented property"));
        }
        if !val.is_string() {
            return Err(format!("{what}[{k}] is not of type string"));
        }
    }
    Ok(())
}

fn take_script(fake: &FakeWoo, op: &str) -> Behaviour {
    let mut s = fake.lock();
    *s.counts.entry(op.to_string()).or_default() += 1;
    s.scripts
        .get_mut(op)
        .and_then(VecDeque::pop_front)
        .unwrap_or(Behaviour::Ok)
}

async fn handle(
    State(fake): State<FakeWoo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.lock().log.push(format!(
        "{method} {}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
    ));
    // [auth] Basic auth with the consumer key and secret.
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", fake.key, fake.secret))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return wp_error(
            401,
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
        );
    }
    let Some(path) = uri.path().strip_prefix("/wp-json/wc/v3") else {
        return wp_error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        );
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let op = match (&method, segments.as_slice()) {
        (&Method::GET, ["products"]) => "product lookup",
        (&Method::GET, ["orders"]) => "list orders",
        (&Method::POST, ["orders"]) => "create order",
        (&Method::GET, ["orders", _]) => "get order",
        (&Method::PUT, ["orders", _]) => "update order",
        (&Method::GET, ["orders", _, "notes"]) => "list notes",
        (&Method::POST, ["orders", _, "notes"]) => "create note",
        _ => {
            fake.lock()
                .refused
                .push(format!("no route {method} {path}"));
            return wp_error(
                404,
                "rest_no_route",
                "No route was found matching the URL and request method.",
            );
        }
    };
    let json_body = if method == Method::POST || method == Method::PUT {
        if !headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
        {
            return invalid(&fake, "the body is not sent as application/json".into());
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => return invalid(&fake, "the body is not a JSON object".into()),
        }
    } else {
        if !body.is_empty() {
            return invalid(&fake, format!("{method} with a body"));
        }
        None
    };
    let behaviour = take_script(&fake, op);
    let mut after_commit = None;
    match behaviour {
        Behaviour::Ok => {}
        Behaviour::WpError(status, code, message) => return wp_error(status, code, message),
        Behaviour::Raw(status, text) => {
            return (StatusCode::from_u16(status).unwrap(), text.to_string()).into_response();
        }
        Behaviour::Shape(v) => return ok(200, v),
        Behaviour::Throttle => {
            let mut r = wp_error(429, "too_many_requests", "Too many requests.");
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            return r;
        }
        Behaviour::Slow(d) => tokio::time::sleep(d).await,
        Behaviour::CommitThenSlow(d) => after_commit = Some(d),
    }
    let q = query(&uri);
    let response = match op {
        "product lookup" => products(&fake, &q),
        "list orders" => list_orders(&fake, &q),
        "create order" => create_order(&fake, json_body.unwrap_or_default()),
        "get order" => with_order(&fake, segments[1], |o| ok(200, o.clone())),
        "update order" => update_order(&fake, segments[1], json_body.unwrap_or_default()),
        "list notes" => with_order(&fake, segments[1], |o| {
            let id = o["id"].as_i64().unwrap();
            ok(200, Value::Array(fake.notes(id)))
        }),
        _ => create_note(&fake, segments[1], json_body.unwrap_or_default()),
    };
    if let Some(d) = after_commit {
        tokio::time::sleep(d).await;
    }
    response
}

/// [products] `GET /products?sku=`: exact SKU matches, variations included.
fn products(fake: &FakeWoo, q: &[(String, String)]) -> Response {
    for (k, _) in q {
        if k != "sku" {
            return invalid(fake, format!("products: undocumented parameter {k}"));
        }
    }
    let Some((_, sku)) = q.iter().find(|(k, _)| k == "sku") else {
        return invalid(fake, "products: the lookup names no sku".into());
    };
    let found: Vec<Value> = fake
        .lock()
        .products
        .iter()
        .filter(|p| p["sku"].as_str() == Some(sku.as_str()))
        .cloned()
        .collect();
    ok(200, Value::Array(found))
}

fn parse_date(fake: &FakeWoo, v: &str, what: &str) -> Result<DateTime<Utc>, Response> {
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .map_err(|_| invalid(fake, format!("{what} is not a date-time: {v}")))
}

/// [orders] list parameters and [paging].
fn list_orders(fake: &FakeWoo, q: &[(String, String)]) -> Response {
    let mut page = 1usize;
    let mut per_page = 10usize;
    let mut after = None;
    let mut modified_after = None;
    let mut gmt = false;
    let mut orderby = "date".to_string();
    let mut order = "desc".to_string();
    for (k, v) in q {
        match k.as_str() {
            "page" => match v.parse::<usize>() {
                Ok(n) if n >= 1 => page = n,
                _ => return invalid(fake, format!("page is not a positive integer: {v}")),
            },
            "per_page" => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => per_page = n,
                _ => {
                    return invalid(
                        fake,
                        format!("per_page must be between 1 (inclusive) and 100 (inclusive): {v}"),
                    );
                }
            },
            "after" => match parse_date(fake, v, "after") {
                Ok(t) => after = Some(t),
                Err(r) => return r,
            },
            "modified_after" => match parse_date(fake, v, "modified_after") {
                Ok(t) => modified_after = Some(t),
                Err(r) => return r,
            },
            "dates_are_gmt" => match v.as_str() {
                "true" | "1" => gmt = true,
                "false" | "0" => gmt = false,
                _ => return invalid(fake, format!("dates_are_gmt is not of type boolean: {v}")),
            },
            "orderby" => {
                if !["date", "id", "include", "title", "slug", "modified"].contains(&v.as_str()) {
                    return invalid(
                        fake,
                        format!(
                            "orderby is not one of date, id, include, title, slug, modified: {v}"
                        ),
                    );
                }
                orderby = v.clone();
            }
            "order" => {
                if v != "asc" && v != "desc" {
                    return invalid(fake, format!("order is not one of asc, desc: {v}"));
                }
                order = v.clone();
            }
            other => return invalid(fake, format!("orders: undocumented parameter {other}")),
        }
    }
    if (after.is_some() || modified_after.is_some()) && !gmt {
        // The store's timezone is not UTC: without `dates_are_gmt` the
        // dates would be read as local time. The connector always says GMT.
        return invalid(fake, "dates given without dates_are_gmt=true".into());
    }
    let stamp = |o: &Value, field: &str| {
        o[field]
            .as_str()
            .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok())
            .map(|t| t.and_utc())
    };
    let mut all: Vec<Value> = fake
        .lock()
        .orders
        .values()
        .filter(|o| after.is_none_or(|a| stamp(o, "date_created_gmt").is_some_and(|t| t > a)))
        .filter(|o| {
            modified_after.is_none_or(|a| stamp(o, "date_modified_gmt").is_some_and(|t| t > a))
        })
        .cloned()
        .collect();
    let field = if orderby == "modified" {
        "date_modified_gmt"
    } else {
        "date_created_gmt"
    };
    all.sort_by_key(|o| (stamp(o, field), o["id"].as_i64()));
    if order == "desc" {
        all.reverse();
    }
    let total = all.len();
    let pages = total.div_ceil(per_page);
    let items: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut r = ok(200, Value::Array(items));
    r.headers_mut()
        .insert("x-wp-total", total.to_string().parse().unwrap());
    r.headers_mut()
        .insert("x-wp-totalpages", pages.to_string().parse().unwrap());
    r
}

fn with_order(fake: &FakeWoo, id: &str, f: impl FnOnce(&Value) -> Response) -> Response {
    let found = id
        .parse::<i64>()
        .ok()
        .and_then(|n| fake.lock().orders.get(&n).cloned());
    match found {
        Some(o) => f(&o),
        None => wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
    }
}

/// [orders] create: documented properties only, of documented types.
fn create_order(fake: &FakeWoo, body: Value) -> Response {
    match build_order(fake, &body) {
        Ok(o) => {
            let id = o["id"].as_i64().unwrap();
            fake.lock().orders.insert(id, o.clone());
            ok(201, o)
        }
        Err(r) => r,
    }
}

fn build_order(fake: &FakeWoo, body: &Value) -> Result<Value, Response> {
    let b = body.as_object().unwrap();
    const ALLOWED: [&str; 13] = [
        "status",
        "currency",
        "set_paid",
        "billing",
        "shipping",
        "line_items",
        "shipping_lines",
        "customer_note",
        "meta_data",
        "customer_id",
        "payment_method",
        "payment_method_title",
        "transaction_id",
    ];
    for k in b.keys() {
        if !ALLOWED.contains(&k.as_str()) {
            return Err(invalid(
                fake,
                format!("{k} is not a documented order property"),
            ));
        }
    }
    let status = match b.get("status") {
        None => "pending".to_string(),
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => s.clone(),
        Some(other) => {
            return Err(invalid(
                fake,
                format!("status is not one of the order statuses: {other}"),
            ));
        }
    };
    let currency = match b.get("currency") {
        Some(Value::String(c)) if c.len() == 3 && c.bytes().all(|x| x.is_ascii_uppercase()) => {
            c.clone()
        }
        None => "USD".to_string(),
        Some(other) => {
            return Err(invalid(
                fake,
                format!("currency is not an ISO code: {other}"),
            ));
        }
    };
    let set_paid = match b.get("set_paid") {
        None => false,
        Some(Value::Bool(p)) => *p,
        Some(_) => return Err(invalid(fake, "set_paid is not of type boolean".into())),
    };
    for (k, email) in [("billing", true), ("shipping", false)] {
        if let Some(a) = b.get(k) {
            check_address(a, k, email).map_err(|e| invalid(fake, e))?;
        }
    }
    if let Some(n) = b.get("customer_note")
        && !n.is_string()
    {
        return Err(invalid(fake, "customer_note is not of type string".into()));
    }
    let mut meta = Vec::new();
    for (i, m) in b
        .get("meta_data")
        .map(|m| m.as_array().cloned().ok_or(()))
        .unwrap_or(Ok(Vec::new()))
        .map_err(|_| invalid(fake, "meta_data is not of type array".into()))?
        .iter()
        .enumerate()
    {
        let Some(o) = m.as_object() else {
            return Err(invalid(
                fake,
                format!("meta_data[{i}] is not of type object"),
            ));
        };
        if !o.get("key").is_some_and(Value::is_string) || !o.contains_key("value") || o.len() != 2 {
            return Err(invalid(
                fake,
                format!("meta_data[{i}] must be {{key: string, value}}"),
            ));
        }
        meta.push(json!({"id": 9000 + i, "key": o["key"], "value": o["value"]}));
    }
    let mut items = Vec::new();
    let mut total = Decimal::ZERO;
    let lines = b
        .get("line_items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let products = fake.lock().products.clone();
    for (i, l) in lines.iter().enumerate() {
        let Some(o) = l.as_object() else {
            return Err(invalid(
                fake,
                format!("line_items[{i}] is not of type object"),
            ));
        };
        for k in o.keys() {
            if ![
                "product_id",
                "variation_id",
                "quantity",
                "subtotal",
                "total",
                "name",
                "meta_data",
            ]
            .contains(&k.as_str())
            {
                return Err(invalid(
                    fake,
                    format!("line_items[{i}][{k}] is not a documented property"),
                ));
            }
        }
        let pid = o.get("product_id").and_then(Value::as_i64);
        let vid = o
            .get("variation_id")
            .and_then(Value::as_i64)
            .filter(|v| *v != 0);
        let Some(q) = o.get("quantity").and_then(Value::as_i64).filter(|q| *q > 0) else {
            return Err(invalid(
                fake,
                format!("line_items[{i}][quantity] is not a positive integer"),
            ));
        };
        let product = products.iter().find(|p| p["id"].as_i64() == vid.or(pid));
        let Some(product) = product.filter(|p| vid.is_none() || p["parent_id"].as_i64() == pid)
        else {
            return Err(wp_error(
                400,
                "woocommerce_rest_invalid_product_id",
                "Product ID provided is invalid.",
            ));
        };
        let line_total = match o.get("total") {
            Some(t) => {
                money_string(t, &format!("line_items[{i}][total]")).map_err(|e| invalid(fake, e))?
            }
            None => {
                Decimal::from_str(product["price"].as_str().unwrap_or("0")).unwrap()
                    * Decimal::from(q)
            }
        };
        let subtotal = match o.get("subtotal") {
            Some(t) => money_string(t, &format!("line_items[{i}][subtotal]"))
                .map_err(|e| invalid(fake, e))?,
            None => line_total,
        };
        total += line_total;
        items.push(json!({
            "id": 5000 + i, "name": product["name"], "product_id": pid, "variation_id": vid.unwrap_or(0),
            "quantity": q, "subtotal": format!("{subtotal:.2}"), "total": format!("{line_total:.2}"),
            "sku": product["sku"], "price": 0,
        }));
    }
    let mut shipping_total = Decimal::ZERO;
    let mut shipping_lines = Vec::new();
    for (i, s) in b
        .get("shipping_lines")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some(o) = s.as_object() else {
            return Err(invalid(
                fake,
                format!("shipping_lines[{i}] is not of type object"),
            ));
        };
        for k in o.keys() {
            if !["method_id", "method_title", "total"].contains(&k.as_str()) {
                return Err(invalid(
                    fake,
                    format!("shipping_lines[{i}][{k}] is not a documented property"),
                ));
            }
        }
        let t = money_string(
            o.get("total").unwrap_or(&json!("0")),
            "shipping_lines total",
        )
        .map_err(|e| invalid(fake, e))?;
        shipping_total += t;
        shipping_lines.push(
            json!({"id": 6000 + i, "method_title": o.get("method_title"),
            "method_id": o.get("method_id"), "total": format!("{t:.2}")}),
        );
    }
    let now = gmt_now();
    let id = {
        let mut s = fake.lock();
        s.next_id += 1;
        s.next_id
    };
    let status = if set_paid && status == "pending" {
        "processing".to_string()
    } else {
        status
    };
    Ok(json!({
        "id": id, "parent_id": 0, "number": id.to_string(), "created_via": "rest-api",
        "status": status, "currency": currency,
        "date_created": now, "date_created_gmt": now, "date_modified": now, "date_modified_gmt": now,
        "discount_total": "0.00", "shipping_total": format!("{shipping_total:.2}"),
        "total": format!("{:.2}", total + shipping_total), "total_tax": "0.00",
        "billing": b.get("billing").cloned().unwrap_or(json!({})),
        "shipping": b.get("shipping").cloned().unwrap_or(json!({})),
        "customer_note": b.get("customer_note").cloned().unwrap_or(json!("")),
        "date_paid_gmt": if set_paid { json!(now) } else { Value::Null },
        "meta_data": meta, "line_items": items, "shipping_lines": shipping_lines, "refunds": [],
    }))
}

/// [orders] update: the connector only changes the status.
fn update_order(fake: &FakeWoo, id: &str, body: Value) -> Response {
    let b = body.as_object().unwrap().clone();
    for k in b.keys() {
        if k != "status" && k != "customer_note" {
            return invalid(
                fake,
                format!("{k}: the connector should only change the status"),
            );
        }
    }
    if let Some(s) = b.get("status")
        && !s.as_str().is_some_and(|s| STATUSES.contains(&s))
    {
        return invalid(
            fake,
            format!("status is not one of the order statuses: {s}"),
        );
    }
    let Ok(n) = id.parse::<i64>() else {
        return wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
    };
    let mut s = fake.lock();
    let Some(o) = s.orders.get_mut(&n) else {
        return wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.");
    };
    for (k, v) in b {
        o[k] = v;
    }
    o["date_modified_gmt"] = json!(gmt_now());
    ok(200, o.clone())
}

/// [notes] create: `note` required (string), `customer_note` boolean.
fn create_note(fake: &FakeWoo, id: &str, body: Value) -> Response {
    let b = body.as_object().unwrap();
    for k in b.keys() {
        if !["note", "customer_note", "added_by_user"].contains(&k.as_str()) {
            return invalid(fake, format!("{k} is not a documented note property"));
        }
    }
    let Some(note) = b.get("note").and_then(Value::as_str) else {
        fake.lock().refused.push("note missing".into());
        return wp_error(
            400,
            "rest_missing_callback_param",
            "Missing parameter(s): note",
        );
    };
    if let Some(c) = b.get("customer_note")
        && !c.is_boolean()
    {
        return invalid(fake, "customer_note is not of type boolean".into());
    }
    let Ok(n) = id.parse::<i64>() else {
        return wp_error(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        );
    };
    if !fake.lock().orders.contains_key(&n) {
        return wp_error(
            404,
            "woocommerce_rest_order_invalid_id",
            "Invalid order ID.",
        );
    }
    let mut s = fake.lock();
    let notes = s.notes.entry(n).or_default();
    let created = json!({
        "id": 8000 + notes.len(), "author": "ordersync", "date_created_gmt": gmt_now(),
        "note": note, "customer_note": b.get("customer_note").cloned().unwrap_or(json!(false)),
    });
    notes.push(created.clone());
    ok(201, created)
}
