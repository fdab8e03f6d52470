//! A fake Etsy Open API v3 (receipts, receipt shipments, the OAuth token
//! endpoint) on 127.0.0.1:0. It checks `x-api-key: keystring:shared_secret`
//! and a currently valid access token on every call, keeps receipts and their
//! shipments, and rotates the refresh token on every refresh, voiding the old
//! one at once, as Etsy does.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What the fake does with the next request of one operation.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Etsy's `{"error": ...}` body with this status.
    Error(u16, String),
    /// 429 with `Retry-After: 1`.
    Throttled,
    /// 401 whatever the token.
    Unauthorized,
    /// 200 with an HTML body.
    NotJson,
    /// Sleep, then answer normally.
    Slow(Duration),
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub op: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
}

struct State {
    keystring: String,
    shared_secret: String,
    shop_id: String,
    refresh_token: String,
    rotations: u64,
    expires_in: u64,
    tokens: HashMap<String, Instant>,
    receipts: Vec<Value>,
    script: HashMap<String, VecDeque<Behaviour>>,
    log: Vec<Recorded>,
}

type Shared = Arc<Mutex<State>>;

pub struct FakeEtsy {
    addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEtsy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeEtsy {
    pub async fn start(
        keystring: &str,
        shared_secret: &str,
        shop_id: &str,
        refresh_token: &str,
        expires_in: u64,
    ) -> FakeEtsy {
        let state = Arc::new(Mutex::new(State {
            keystring: keystring.into(),
            shared_secret: shared_secret.into(),
            shop_id: shop_id.into(),
            refresh_token: refresh_token.into(),
            rotations: 0,
            expires_in,
            tokens: HashMap::new(),
            receipts: Vec::new(),
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
        FakeEtsy { addr, state, task }
    }
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn add_receipt(&self, r: Value) {
        self.state.lock().unwrap().receipts.push(r);
    }
    pub fn receipt(&self, id: u64) -> Option<Value> {
        let s = self.state.lock().unwrap();
        s.receipts.iter().find(|r| r["receipt_id"] == id).cloned()
    }
    pub fn script(&self, op: &str, b: Behaviour) {
        let mut s = self.state.lock().unwrap();
        s.script.entry(op.to_string()).or_default().push_back(b);
    }
    pub fn requests(&self, op: &str) -> Vec<Recorded> {
        let s = self.state.lock().unwrap();
        s.log.iter().filter(|r| r.op == op).cloned().collect()
    }
    /// The refresh token Etsy accepts now (the newest it issued).
    pub fn current_refresh_token(&self) -> String {
        self.state.lock().unwrap().refresh_token.clone()
    }
    pub fn rotations(&self) -> u64 {
        self.state.lock().unwrap().rotations
    }
}

fn etsy_error(status: u16, m: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Js(json!({"error": m})),
    )
        .into_response()
}

async fn handle(
    state: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parts: Vec<String> = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    let op = match (method.as_str(), p.as_slice()) {
        ("POST", ["v3", "public", "oauth", "token"]) => "token",
        ("GET", ["v3", "application", "shops", _, "receipts"]) => "getShopReceipts",
        ("GET", ["v3", "application", "shops", _, "receipts", _]) => "getShopReceipt",
        ("POST", ["v3", "application", "shops", _, "receipts", _, "tracking"]) => {
            "createReceiptShipment"
        }
        _ => "",
    }
    .to_string();
    let behaviour = state
        .lock()
        .unwrap()
        .script
        .get_mut(&op)
        .and_then(|q| q.pop_front());
    if let Some(Behaviour::Slow(d)) = &behaviour {
        tokio::time::sleep(*d).await;
    }
    let resp = answer(&state, &op, &p, &uri, &headers, &body, behaviour);
    let mut s = state.lock().unwrap();
    s.log.push(Recorded {
        op,
        uri: uri.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: resp.status().as_u16(),
    });
    resp
}

fn answer(
    state: &Shared,
    op: &str,
    p: &[&str],
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    behaviour: Option<Behaviour>,
) -> Response {
    if op.is_empty() {
        return etsy_error(404, "Resource not found");
    }
    match behaviour {
        Some(Behaviour::Error(code, m)) => return etsy_error(code, &m),
        Some(Behaviour::Throttled) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", "1")],
                Js(json!({"error": "Too many requests"})),
            )
                .into_response();
        }
        Some(Behaviour::Unauthorized) => return etsy_error(401, "invalid_token"),
        Some(Behaviour::NotJson) => return (StatusCode::OK, "<html>oops</html>").into_response(),
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
        // https://developers.etsy.com/documentation/essentials/authentication#requesting-a-refresh-oauth-token
        if !header("content-type").starts_with("application/x-www-form-urlencoded") {
            return (StatusCode::BAD_REQUEST, Js(json!({"error": "invalid_request", "error_description": "form-encoded body required"}))).into_response();
        }
        let form = parse_form(body);
        if form.get("grant_type").map(String::as_str) != Some("refresh_token")
            || form.get("client_id") != Some(&s.keystring)
        {
            return (StatusCode::BAD_REQUEST, Js(json!({"error": "invalid_request", "error_description": "grant_type=refresh_token and client_id (the keystring) are required"}))).into_response();
        }
        if form.get("refresh_token") != Some(&s.refresh_token) {
            return (
                StatusCode::BAD_REQUEST,
                Js(json!({"error": "invalid_grant", "error_description": "Invalid refresh token"})),
            )
                .into_response();
        }
        // A new refresh token every time; the old one is void from now on.
        s.rotations += 1;
        let user = s.refresh_token.split('.').next().unwrap_or("1").to_string();
        s.refresh_token = format!("{user}.rotated-{}", s.rotations);
        let access = format!("{user}.access-{}", s.rotations);
        let until = Instant::now() + Duration::from_secs(s.expires_in);
        s.tokens.insert(access.clone(), until);
        return Js(json!({"access_token": access, "token_type": "Bearer", "expires_in": s.expires_in, "refresh_token": s.refresh_token})).into_response();
    }
    // https://developers.etsy.com/documentation/essentials/requests: x-api-key is keystring:shared_secret.
    if header("x-api-key") != format!("{}:{}", s.keystring, s.shared_secret) {
        return etsy_error(
            403,
            "Invalid API key: x-api-key must be keystring:shared_secret",
        );
    }
    let valid = header("authorization")
        .strip_prefix("Bearer ")
        .and_then(|t| s.tokens.get(t))
        .is_some_and(|u| Instant::now() < *u);
    if !valid {
        return etsy_error(401, "invalid_token");
    }
    if p[3] != s.shop_id {
        return etsy_error(403, "The shop does not belong to the token's user");
    }
    match op {
        "getShopReceipts" => {
            // https://developers.etsy.com/documentation/reference#operation/getShopReceipts
            let q = parse_form(uri.query().unwrap_or("").as_bytes());
            let limit: usize = match q.get("limit").map(|l| l.parse::<usize>()) {
                None => 25,
                Some(Ok(l)) if (1..=100).contains(&l) => l,
                _ => return etsy_error(400, "limit must be between 1 and 100"),
            };
            let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let min: i64 = match q.get("min_last_modified").map(|m| m.parse::<i64>()) {
                None => 0,
                Some(Ok(m)) if m >= 946684800 => m,
                _ => return etsy_error(400, "min_last_modified must be unix seconds after 2000"),
            };
            let matching: Vec<Value> = s
                .receipts
                .iter()
                .filter(|r| r["updated_timestamp"].as_i64().unwrap_or(0) >= min)
                .cloned()
                .collect();
            let page: Vec<Value> = matching.iter().skip(offset).take(limit).cloned().collect();
            Js(json!({"count": matching.len(), "results": page})).into_response()
        }
        "getShopReceipt" => match s
            .receipts
            .iter()
            .find(|r| r["receipt_id"].as_u64().map(|n| n.to_string()).as_deref() == Some(p[5]))
        {
            Some(r) => Js(r.clone()).into_response(),
            None => etsy_error(404, &format!("Receipt {} not found", p[5])),
        },
        "createReceiptShipment" => {
            // https://developers.etsy.com/documentation/reference#operation/createReceiptShipment
            if !header("content-type").starts_with("application/x-www-form-urlencoded") {
                return etsy_error(400, "form-encoded body required");
            }
            let form = parse_form(body);
            let (Some(code), Some(carrier)) = (form.get("tracking_code"), form.get("carrier_name"))
            else {
                return etsy_error(400, "tracking_code and carrier_name are required");
            };
            let Some(r) = s
                .receipts
                .iter_mut()
                .find(|r| r["receipt_id"].as_u64().map(|n| n.to_string()).as_deref() == Some(p[5]))
            else {
                return etsy_error(404, &format!("Receipt {} not found", p[5]));
            };
            r["is_shipped"] = json!(true);
            let list = r["shipments"].as_array().cloned().unwrap_or_default();
            let mut list = list;
            list.push(json!({"receipt_shipping_id": list.len() + 1, "carrier_name": carrier, "tracking_code": code}));
            r["shipments"] = json!(list);
            Js(r.clone()).into_response()
        }
        _ => etsy_error(404, "Resource not found"),
    }
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
