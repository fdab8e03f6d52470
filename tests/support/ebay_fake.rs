//! A fake eBay (Sell Fulfillment API v1, OAuth token endpoint, Post-Order
//! cancellation) on 127.0.0.1:0 for the connector's end-to-end tests. It
//! checks each request against eBay's documented shapes, keeps state (orders,
//! fulfillments, issued access tokens with their expiry, the one refresh token
//! it accepts) and can be scripted per operation.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// What the fake does with the next request of one operation.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// eBay's `errors[]` body with this status (errorId 32100).
    Error(u16, String),
    /// 429 with `Retry-After: 1`.
    Throttled,
    /// That status with an eBay-like body; nothing changes.
    Status(u16),
    /// Sleep, then answer normally.
    Slow(Duration),
    /// 401 whatever the token (as if eBay revoked it).
    Unauthorized,
    /// 200 with an HTML body.
    NotJson,
    /// The token endpoint answers 400 `invalid_grant`.
    InvalidGrant,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `token`, `getOrders`, `getOrder`, `getShippingFulfillments`, `createShippingFulfillment`, `cancellation`.
    pub op: String,
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

struct State {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    expires_in: u64,
    tokens: HashMap<String, Instant>,
    issued: u64,
    orders: Vec<Value>,
    fulfillments: HashMap<String, Vec<Value>>,
    cancellations: Vec<Value>,
    script: HashMap<String, VecDeque<Behaviour>>,
    log: Vec<Recorded>,
}

type Shared = Arc<Mutex<State>>;

/// The fake. Dropping it stops it.
pub struct FakeEbay {
    addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEbay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeEbay {
    /// Starts the fake accepting this app and this refresh token; it issues
    /// access tokens that last `expires_in` seconds.
    pub async fn start(
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        expires_in: u64,
    ) -> FakeEbay {
        let state = Arc::new(Mutex::new(State {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh_token.into(),
            expires_in,
            tokens: HashMap::new(),
            issued: 0,
            orders: Vec::new(),
            fulfillments: HashMap::new(),
            cancellations: Vec::new(),
            script: HashMap::new(),
            log: Vec::new(),
        }));
        let s = state.clone();
        let app = Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
            let s = s.clone();
            async move { handle(s, m, u, h, b).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeEbay { addr, state, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn add_order(&self, order: Value) {
        self.state.lock().unwrap().orders.push(order);
    }
    pub fn script(&self, op: &str, b: Behaviour) {
        let mut s = self.state.lock().unwrap();
        s.script.entry(op.to_string()).or_default().push_back(b);
    }
    pub fn requests(&self, op: &str) -> Vec<Recorded> {
        let s = self.state.lock().unwrap();
        s.log.iter().filter(|r| r.op == op).cloned().collect()
    }
    pub fn fulfillments(&self, order_id: &str) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.fulfillments.get(order_id).cloned().unwrap_or_default()
    }
    pub fn cancellations(&self) -> Vec<Value> {
        self.state.lock().unwrap().cancellations.clone()
    }
    /// Tokens issued so far.
    pub fn issued(&self) -> u64 {
        self.state.lock().unwrap().issued
    }
    /// The refresh token the fake accepts from now on (the seller re-consented).
    pub fn set_refresh_token(&self, t: &str) {
        self.state.lock().unwrap().refresh_token = t.into();
    }
    /// Voids every access token issued (the next API call gets 401).
    pub fn revoke_access_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }
}

/// eBay's error container (https://developer.ebay.com/api-docs/static/handling-error-messages.html).
fn ebay_error(status: u16, message: &str) -> Response {
    let body = json!({"errors": [{
        "errorId": 32100, "domain": "API_FULFILLMENT", "category": "REQUEST",
        "message": message, "longMessage": message, "parameters": []
    }]});
    (StatusCode::from_u16(status).unwrap(), Js(body)).into_response()
}

fn op_of(method: &Method, path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["identity", "v1", "oauth2", "token"]) => "token",
        ("GET", ["sell", "fulfillment", "v1", "order"]) => "getOrders",
        ("GET", ["sell", "fulfillment", "v1", "order", _]) => "getOrder",
        (
            "GET",
            [
                "sell",
                "fulfillment",
                "v1",
                "order",
                _,
                "shipping_fulfillment",
            ],
        ) => "getShippingFulfillments",
        (
            "POST",
            [
                "sell",
                "fulfillment",
                "v1",
                "order",
                _,
                "shipping_fulfillment",
            ],
        ) => "createShippingFulfillment",
        ("POST", ["post-order", "v2", "cancellation"]) => "cancellation",
        _ => "",
    }
    .to_string()
}

async fn handle(
    state: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let op = op_of(&method, &path);
    let hdrs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let behaviour = {
        let mut s = state.lock().unwrap();
        s.script.get_mut(&op).and_then(|q| q.pop_front())
    };
    if let Some(Behaviour::Slow(d)) = &behaviour {
        tokio::time::sleep(*d).await;
    }
    let resp = answer(&state, &op, &method, &uri, &headers, &body, behaviour);
    let mut s = state.lock().unwrap();
    s.log.push(Recorded {
        op,
        method: method.to_string(),
        uri: uri.to_string(),
        headers: hdrs,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: resp.status().as_u16(),
    });
    resp
}

fn answer(
    state: &Shared,
    op: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    behaviour: Option<Behaviour>,
) -> Response {
    if op.is_empty() {
        return ebay_error(404, &format!("no such resource: {method} {}", uri.path()));
    }
    match behaviour {
        Some(Behaviour::Error(status, m)) => return ebay_error(status, &m),
        Some(Behaviour::Throttled) => {
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], Js(json!({"errors": [{"errorId": 2001, "domain": "ACCESS", "category": "REQUEST", "message": "Too many requests.", "longMessage": "The request limit has been reached for the resource."}]}))).into_response();
        }
        Some(Behaviour::Status(code)) => {
            return ebay_error(
                code,
                "There was a problem with an eBay internal system or process.",
            );
        }
        Some(Behaviour::NotJson) => {
            return (StatusCode::OK, "<html>maintenance</html>").into_response();
        }
        Some(Behaviour::Unauthorized) => return ebay_error(401, "Invalid access token"),
        _ => {}
    }
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut s = state.lock().unwrap();
    if op == "token" {
        // https://developer.ebay.com/api-docs/static/oauth-refresh-token-request.html
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", s.client_id, s.client_secret))
        );
        if header("authorization") != basic {
            return (StatusCode::UNAUTHORIZED, Js(json!({"error": "invalid_client", "error_description": "client authentication failed"}))).into_response();
        }
        if !header("content-type").starts_with("application/x-www-form-urlencoded") {
            return (StatusCode::BAD_REQUEST, Js(json!({"error": "invalid_request", "error_description": "request must be form-encoded"}))).into_response();
        }
        let form: HashMap<String, String> = parse_form(body);
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return (StatusCode::BAD_REQUEST, Js(json!({"error": "unsupported_grant_type", "error_description": "grant type in request is not supported by the authorization server"}))).into_response();
        }
        if !form.get("scope").is_some_and(|sc| {
            sc.split(' ')
                .any(|x| x == "https://api.ebay.com/oauth/api_scope/sell.fulfillment")
        }) {
            return (StatusCode::BAD_REQUEST, Js(json!({"error": "invalid_scope", "error_description": "the requested scope is invalid"}))).into_response();
        }
        if matches!(behaviour, Some(Behaviour::InvalidGrant))
            || form.get("refresh_token") != Some(&s.refresh_token)
        {
            return (StatusCode::BAD_REQUEST, Js(json!({"error": "invalid_grant", "error_description": "the provided authorization refresh token is invalid or was issued to another client"}))).into_response();
        }
        s.issued += 1;
        let token = format!("v^1.1#i^1#fake-{}", s.issued);
        let until = Instant::now() + Duration::from_secs(s.expires_in);
        s.tokens.insert(token.clone(), until);
        // eBay's refresh answer: no new refresh token.
        return Js(json!({"access_token": token, "expires_in": s.expires_in, "token_type": "User Access Token"})).into_response();
    }
    // Every API call: `Authorization: Bearer <user token>` (IAF on Post-Order).
    let auth = header("authorization");
    let prefix = if op == "cancellation" {
        "IAF "
    } else {
        "Bearer "
    };
    let valid = auth
        .strip_prefix(prefix)
        .and_then(|t| s.tokens.get(t))
        .is_some_and(|until| Instant::now() < *until);
    if !valid {
        return ebay_error(
            401,
            "Invalid access token. Check the value of the Authorization HTTP request header.",
        );
    }
    let parts: Vec<String> = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(urlencoding_decode)
        .collect();
    match op {
        "getOrders" => {
            // https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/methods/getOrders
            let q: HashMap<String, String> = parse_form(uri.query().unwrap_or("").as_bytes());
            let limit: usize = match q.get("limit").map(|l| l.parse()) {
                Some(Ok(l)) if (1..=200).contains(&l) => l,
                None => 50,
                _ => return ebay_error(400, "Invalid value for limit"),
            };
            let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let since = match q.get("filter") {
                None => None,
                Some(f) => match f
                    .strip_prefix("lastmodifieddate:[")
                    .and_then(|r| r.strip_suffix("..]"))
                {
                    Some(t)
                        if chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.contains('.') =>
                    {
                        Some(t.to_string())
                    }
                    _ => return ebay_error(400, &format!("Invalid filter: {f}")),
                },
            };
            let matching: Vec<Value> = s
                .orders
                .iter()
                .filter(|o| {
                    since
                        .as_deref()
                        .is_none_or(|t| o["lastModifiedDate"].as_str().unwrap_or("") >= t)
                })
                .cloned()
                .collect();
            let page: Vec<Value> = matching.iter().skip(offset).take(limit).cloned().collect();
            let mut out = json!({"href": uri.to_string(), "limit": limit, "offset": offset, "total": matching.len(), "orders": page});
            if offset + limit < matching.len() {
                out["next"] = json!(format!(
                    "/sell/fulfillment/v1/order?limit={limit}&offset={}",
                    offset + limit
                ));
            }
            Js(out).into_response()
        }
        "getOrder" => match s.orders.iter().find(|o| o["orderId"] == parts[4].as_str()) {
            Some(o) => Js(o.clone()).into_response(),
            None => ebay_error(404, &format!("Invalid order ID: {}", parts[4])),
        },
        "getShippingFulfillments" => {
            let list = s.fulfillments.get(&parts[4]).cloned().unwrap_or_default();
            Js(json!({"fulfillments": list, "total": list.len()})).into_response()
        }
        "createShippingFulfillment" => {
            // https://developer.ebay.com/api-docs/sell/fulfillment/resources/order/shipping_fulfillment/methods/createShippingFulfillment
            if !header("content-type").starts_with("application/json") {
                return ebay_error(415, "Content-Type must be application/json");
            }
            let order_id = parts[4].clone();
            let Some(order) = s
                .orders
                .iter()
                .find(|o| o["orderId"] == order_id.as_str())
                .cloned()
            else {
                return ebay_error(404, &format!("Invalid order ID: {order_id}"));
            };
            let Ok(b) = serde_json::from_slice::<Value>(body) else {
                return ebay_error(400, "The request body is not JSON");
            };
            let Some(lines) = b["lineItems"].as_array().filter(|l| !l.is_empty()) else {
                return ebay_error(400, "lineItems is required");
            };
            for l in lines {
                let known = order["lineItems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["lineItemId"] == l["lineItemId"]);
                match (known, l["quantity"].as_i64()) {
                    (Some(k), Some(q)) if q >= 1 && q <= k["quantity"].as_i64().unwrap_or(0) => {}
                    _ => return ebay_error(400, &format!("Invalid line item: {l}")),
                }
            }
            if let Some(d) = b.get("shippedDate")
                && d.as_str()
                    .is_none_or(|d| chrono::DateTime::parse_from_rfc3339(d).is_err())
            {
                return ebay_error(400, "Invalid shippedDate");
            }
            let list = s.fulfillments.entry(order_id.clone()).or_default();
            let fid = format!("{}", 9405509699937003457u64 + list.len() as u64);
            list.push(json!({"fulfillmentId": fid, "lineItems": b["lineItems"], "shipmentTrackingNumber": b["trackingNumber"], "shippingCarrierCode": b["shippingCarrierCode"]}));
            let location =
                format!("/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment/{fid}");
            (StatusCode::CREATED, [("Location", location)]).into_response()
        }
        "cancellation" => {
            // https://developer.ebay.com/Devzone/post-order/post-order_v2_cancellation__post.html
            if header("x-ebay-c-marketplace-id").is_empty() {
                return ebay_error(400, "X-EBAY-C-MARKETPLACE-ID is required");
            }
            let Ok(b) = serde_json::from_slice::<Value>(body) else {
                return ebay_error(400, "The request body is not JSON");
            };
            let Some(legacy) = b["legacyOrderId"].as_str() else {
                return ebay_error(400, "legacyOrderId is required");
            };
            let Some(order) = s.orders.iter_mut().find(|o| o["legacyOrderId"] == legacy) else {
                return (
                    StatusCode::BAD_REQUEST,
                    Js(json!({"error": [{"errorId": 1503, "message": "The order is not found"}]})),
                )
                    .into_response();
            };
            order["cancelStatus"] = json!({"cancelState": "CANCELED"});
            s.cancellations.push(b.clone());
            (
                StatusCode::CREATED,
                Js(json!({"cancelId": "5000012345", "orderEligibilityResult": {"eligible": true}})),
            )
                .into_response()
        }
        _ => ebay_error(404, "not found"),
    }
}

fn urlencoding_decode(p: &str) -> String {
    percent_decode(p)
}

/// `application/x-www-form-urlencoded` (and query strings) into pairs.
pub fn parse_form(bytes: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(bytes)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(n) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
        {
            out.push(n);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON answer (`Content-Type: application/json`).
struct Js(Value);

impl IntoResponse for Js {
    fn into_response(self) -> Response {
        ([("content-type", "application/json")], self.0.to_string()).into_response()
    }
}
