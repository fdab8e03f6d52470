//! Platform connectors (SPEC 12): a destination that speaks its platform's own
//! API instead of receiving the canonical envelope.
//!
//! A connector's delivery may take several requests (a lookup, then a
//! mutation). The pure parts are per platform: building each request from the
//! decided order, and reading each answer into an [`Answer`]. The I/O is a
//! [`Session`]: it sends one request at a time, waits out the channel's
//! throttle before each, keeps every request and answer (secrets masked) as a
//! [`StepRecord`] for Order Health, and ends in a [`Verdict`].

pub mod credential;
pub mod ebay;
pub mod etsy;
pub mod http;
pub mod shipments;
pub mod shopify;
pub mod woocommerce;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::store::StepRecord;

/// Response bodies kept per request, at most.
pub const KEEP_RESPONSE: usize = 64 * 1024;

/// The largest answer read; a longer one is an error, never cut and misread.
pub const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// How often one request may be throttled before the attempt gives up and
/// is retried later like any failed attempt.
const MAX_THROTTLES: u32 = 20;

/// What a connector delivery came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Done; with the platform's id for the order when it made or found one.
    Delivered {
        /// The platform's id, to link.
        linked: Option<String>,
    },
    /// The platform refused it for a reason that retrying cannot change.
    Rejected(String),
    /// The platform refused the channel's credentials for good (a refresh
    /// answered `invalid_grant`): the channel needs reconnecting, and its
    /// deliveries wait for that, neither retried nor dead.
    Reconnect(String),
    /// Try again later (5xx, timeouts, an answer that could not be read).
    Retry {
        /// Why, in words.
        reason: String,
        /// Not sooner than this.
        after: Option<Duration>,
    },
}

/// What one answer means, read by the platform's pure classifier.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// It worked: the answer's data.
    Data(serde_json::Value),
    /// The platform refused it: the reason, in the platform's words.
    Rejected(String),
    /// The platform refused the credentials (401, 403).
    AuthRefused(String),
    /// Too many requests: the whole channel waits this long.
    Throttled(Duration),
    /// A passing failure: try again later.
    Retry(String),
}

/// One request, ready to send.
#[derive(Clone, Debug)]
pub struct Request {
    /// What it is for, as Order Health names it.
    pub step: String,
    /// `GET`, `POST`, `PUT`, `DELETE`, ...
    pub method: reqwest::Method,
    /// The URL, query included.
    pub url: String,
    /// Headers, secrets included (masked when kept).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

/// A request's body.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// None (`GET`, `DELETE`).
    Empty,
    /// JSON, sent with `Content-Type: application/json` unless a header says otherwise.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded` (OAuth token requests); values of
    /// [`SECRET_FIELDS`] are masked when kept.
    Form(Vec<(String, String)>),
    /// Bytes as they are, with their content type (a rendered template).
    Raw {
        /// The `Content-Type`.
        content_type: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

impl Body {
    /// The JSON body, or `Null`.
    pub fn json(&self) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        match self {
            Body::Json(v) => v,
            _ => &NULL,
        }
    }
}

impl Request {
    /// A `POST` with a JSON body.
    pub fn post_json(
        step: &str,
        url: String,
        headers: Vec<(String, String)>,
        body: serde_json::Value,
    ) -> Request {
        Request {
            step: step.to_string(),
            method: reqwest::Method::POST,
            url,
            headers,
            body: Body::Json(body),
        }
    }
}

/// Headers whose values are never kept or shown.
pub const SECRET_HEADERS: [&str; 3] = ["authorization", "x-shopify-access-token", "x-api-key"];

/// Form fields whose values are never kept or shown.
pub const SECRET_FIELDS: [&str; 6] = [
    "refresh_token",
    "access_token",
    "client_secret",
    "code",
    "code_verifier",
    "password",
];

/// The request as kept: method, URL, headers with secrets masked, body.
pub fn recorded(r: &Request) -> String {
    let headers: serde_json::Map<String, serde_json::Value> = r
        .headers
        .iter()
        .map(|(k, v)| {
            let shown = if SECRET_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                "[masked]".to_string()
            } else {
                v.clone()
            };
            (k.clone(), serde_json::Value::String(shown))
        })
        .collect();
    let body = match &r.body {
        Body::Empty => serde_json::Value::Null,
        Body::Json(v) => v.clone(),
        Body::Form(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let shown = if SECRET_FIELDS.contains(&k.as_str()) {
                        "[masked]".to_string()
                    } else {
                        v.clone()
                    };
                    (k.clone(), serde_json::Value::String(shown))
                })
                .collect(),
        ),
        Body::Raw { bytes, .. } => {
            serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned())
        }
    };
    serde_json::json!({
        "method": r.method.as_str(),
        "url": r.url,
        "headers": headers,
        "body": body,
    })
    .to_string()
}

/// An answer as kept: a JSON object's [`SECRET_FIELDS`] (an OAuth token
/// answer's `access_token` and `refresh_token`) masked.
pub fn masked_answer(body: Vec<u8>) -> Vec<u8> {
    let mentions = |f: &str| {
        let needle = format!("\"{f}\"");
        body.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    if !SECRET_FIELDS.iter().any(|f| mentions(f)) {
        return body;
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut map)) => {
            for f in SECRET_FIELDS {
                if let Some(v) = map.get_mut(f) {
                    *v = serde_json::Value::String("[masked]".to_string());
                }
            }
            serde_json::Value::Object(map).to_string().into_bytes()
        }
        // Not an object: nothing of it is kept rather than a secret.
        _ => b"[an answer naming a secret field, not kept]".to_vec(),
    }
}

/// Per-channel throttles: while a channel is held, none of its deliveries
/// sends (other channels carry on).
#[derive(Default)]
pub struct Throttles {
    until: Mutex<HashMap<Arc<str>, Instant>>,
}

impl Throttles {
    /// Holds `channel` for `wait` (never shortens a longer hold).
    pub fn hold(&self, channel: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(Arc::from(channel)).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// How long `channel` is still held, if it is.
    pub fn remaining(&self, channel: &str) -> Option<Duration> {
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let until = *map.get(channel)?;
        until.checked_duration_since(Instant::now())
    }

    /// The channels held now, with how long they still wait.
    pub fn held(&self) -> Vec<(Arc<str>, Duration)> {
        let now = Instant::now();
        let map = self.until.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter_map(|(k, u)| u.checked_duration_since(now).map(|d| (k.clone(), d)))
            .collect()
    }
}

/// Per-channel credential state (SPEC 12.2): a channel whose credentials the
/// platform refused for good (a refresh answered `invalid_grant`) needs
/// reconnecting; its deliveries wait, and `/readyz`, the metric
/// `ordersync_connector_credential_ok` and the dashboard say so.
#[derive(Default)]
pub struct CredentialStates {
    refused: Mutex<HashMap<Arc<str>, String>>,
}

impl CredentialStates {
    /// Marks `channel` as needing reconnecting, with what to tell people.
    pub fn needs_reconnect(&self, channel: &str, why: &str) {
        let mut map = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(Arc::from(channel), why.to_string());
    }

    /// Clears the mark (a new credential was given, or a refresh worked).
    pub fn reconnected(&self, channel: &str) {
        let mut map = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(channel);
    }

    /// Why `channel` needs reconnecting, if it does.
    pub fn reason(&self, channel: &str) -> Option<String> {
        let map = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        map.get(channel).cloned()
    }
}

/// What a session needs from the daemon.
pub struct Env<'a> {
    /// The HTTP client.
    pub client: &'a reqwest::Client,
    /// The channel delivered to.
    pub channel: &'a str,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The channels' throttles.
    pub throttles: &'a Throttles,
    /// Counts refused credentials.
    pub on_auth_failure: &'a (dyn Fn() + Send + Sync),
    /// Counts throttled requests.
    pub on_throttled: &'a (dyn Fn() + Send + Sync),
}

/// How one request ended, for the platform's steps to act on.
#[derive(Debug)]
pub enum Sent {
    /// The answer's data.
    Data(serde_json::Value),
    /// The attempt ends with this verdict.
    Stop(Verdict),
    /// The request may or may not have reached the platform (a timeout, a
    /// connection lost after sending): its effect is unknown.
    Unknown(String),
}

/// One delivery's requests, in order, each kept.
pub struct Session<'a> {
    env: Env<'a>,
    /// Every request made and its answer.
    pub steps: Vec<StepRecord>,
    /// The last answer refused the credentials (401, 403): a connector with
    /// refreshable credentials refreshes once and sends again.
    auth_refused: bool,
    /// The `Location` header of the last answer, if it had one (eBay's link
    /// to a new fulfillment).
    pub location: Option<String>,
}

impl<'a> Session<'a> {
    /// A session for one attempt.
    pub fn new(env: Env<'a>) -> Session<'a> {
        Session {
            env,
            steps: Vec::new(),
            auth_refused: false,
            location: None,
        }
    }

    /// The channel this session speaks for.
    pub fn channel(&self) -> &str {
        self.env.channel
    }

    /// True once if the last answer refused the credentials; clears the mark.
    pub fn take_auth_refused(&mut self) -> bool {
        std::mem::take(&mut self.auth_refused)
    }

    /// Sends `request` and reads the answer with `classify`; a throttled
    /// answer holds the channel and sends the same request again once the
    /// hold is over.
    pub async fn send(
        &mut self,
        request: &Request,
        classify: impl Fn(u16, Option<Duration>, &[u8]) -> Answer,
    ) -> Sent {
        let mut throttled = 0;
        self.auth_refused = false;
        self.location = None;
        loop {
            if let Some(wait) = self.env.throttles.remaining(self.env.channel) {
                tokio::time::sleep(wait).await;
            }
            let at = Utc::now();
            let started = Instant::now();
            let mut req = self
                .env
                .client
                .request(request.method.clone(), &request.url)
                .timeout(self.env.timeout);
            let has = |name: &str| {
                request
                    .headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case(name))
            };
            req = match &request.body {
                Body::Empty => req,
                Body::Json(v) => {
                    if !has("content-type") {
                        req = req.header("Content-Type", "application/json");
                    }
                    req.body(v.to_string())
                }
                Body::Form(fields) => {
                    let encoded: Vec<String> = fields
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{}={}",
                                crate::delivery::request::url_encode(k),
                                crate::delivery::request::url_encode(v)
                            )
                        })
                        .collect();
                    req.header("Content-Type", "application/x-www-form-urlencoded")
                        .body(encoded.join("&"))
                }
                Body::Raw {
                    content_type,
                    bytes,
                } => {
                    if !has("content-type") {
                        req = req.header("Content-Type", content_type.as_str());
                    }
                    req.body(bytes.clone())
                }
            };
            for (k, v) in &request.headers {
                req = req.header(k, v);
            }
            let mut record = StepRecord {
                step: request.step.clone(),
                at,
                request: recorded(request),
                http_status: None,
                error: None,
                response: Vec::new(),
                duration: Duration::ZERO,
            };
            let answer = match req.send().await {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    record.http_status = Some(code);
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| crate::delivery::retry::parse_retry_after(v, Utc::now()));
                    let location = resp
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match read_whole(resp).await {
                        Ok(mut body) => {
                            let a = classify(code, retry_after, &body);
                            // A token endpoint's answer carries secrets too.
                            body = masked_answer(body);
                            body.truncate(KEEP_RESPONSE);
                            // An empty answer whose meaning is its `Location`
                            // (eBay's 201) is kept as that header.
                            if body.is_empty()
                                && let Some(l) = &location
                            {
                                body = format!("Location: {l}").into_bytes();
                            }
                            self.location = location;
                            record.response = body;
                            Ok(a)
                        }
                        Err(e) => Err(format!("reading the answer: {e}")),
                    }
                }
                Err(e) => Err(describe(&e)),
            };
            record.duration = started.elapsed();
            let sent = match answer {
                Err(reason) => {
                    record.error = Some(reason.clone());
                    Sent::Unknown(reason)
                }
                Ok(Answer::Data(d)) => Sent::Data(d),
                Ok(Answer::Rejected(why)) => {
                    record.error = Some(why.clone());
                    Sent::Stop(Verdict::Rejected(why))
                }
                Ok(Answer::AuthRefused(why)) => {
                    record.error = Some(why.clone());
                    self.auth_refused = true;
                    (self.env.on_auth_failure)();
                    Sent::Stop(Verdict::Rejected(why))
                }
                Ok(Answer::Retry(why)) => {
                    record.error = Some(why.clone());
                    Sent::Stop(Verdict::Retry {
                        reason: why,
                        after: None,
                    })
                }
                Ok(Answer::Throttled(wait)) => {
                    throttled += 1;
                    (self.env.on_throttled)();
                    let why = format!("throttled: the channel waits {:.1}s", wait.as_secs_f64());
                    record.error = Some(why.clone());
                    self.env.throttles.hold(self.env.channel, wait);
                    tracing::info!(
                        channel = self.env.channel,
                        wait_ms = wait.as_millis() as u64,
                        "platform throttled; the channel waits"
                    );
                    self.steps.push(record);
                    if throttled >= MAX_THROTTLES {
                        return Sent::Stop(Verdict::Retry {
                            reason: why,
                            after: Some(wait),
                        });
                    }
                    continue;
                }
            };
            self.steps.push(record);
            return sent;
        }
    }
}

/// The start of an answer's body, for messages (at most 300 characters).
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// A connector's order URL segment, percent-encoded (ids come from platforms).
pub fn segment(id: &str) -> String {
    crate::delivery::request::url_encode(id)
}

async fn read_whole(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("the answer is over {} MiB", MAX_ANSWER >> 20));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A transport error in words: `timed out`, `could not connect: ...`.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("could not connect: {}", root_cause(e))
    } else {
        root_cause(e)
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_requests_mask_secrets() {
        let r = Request::post_json(
            "orderCreate",
            "https://acme.myshopify.com/admin/api/2025-10/graphql.json".into(),
            vec![
                ("X-Shopify-Access-Token".into(), "shpat_secret".into()),
                ("Authorization".into(), "Bearer abc".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            serde_json::json!({"query": "{ shop { name } }"}),
        );
        let kept = recorded(&r);
        assert!(!kept.contains("shpat_secret"));
        assert!(!kept.contains("Bearer abc"));
        let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(v["headers"]["X-Shopify-Access-Token"], "[masked]");
        assert_eq!(v["headers"]["Content-Type"], "application/json");
        assert_eq!(v["body"]["query"], "{ shop { name } }");
        assert_eq!(v["method"], "POST");
        let form = Request {
            body: Body::Form(vec![
                ("grant_type".into(), "refresh_token".into()),
                ("refresh_token".into(), "rt_secret".into()),
            ]),
            ..r
        };
        let kept = recorded(&form);
        assert!(!kept.contains("rt_secret"), "{kept}");
        assert!(kept.contains("\"grant_type\":\"refresh_token\""), "{kept}");
    }

    #[test]
    fn token_answers_are_masked_when_kept() {
        let kept = masked_answer(
            br#"{"access_token":"at-secret","refresh_token":"rt-secret","expires_in":3600}"#
                .to_vec(),
        );
        let text = String::from_utf8(kept).unwrap();
        assert!(!text.contains("secret") && text.contains("3600"), "{text}");
        assert_eq!(
            masked_answer(b"{\"ok\":1}".to_vec()),
            b"{\"ok\":1}".to_vec()
        );
    }

    #[test]
    fn a_hold_is_never_shortened() {
        let t = Throttles::default();
        t.hold("shop", Duration::from_secs(10));
        t.hold("shop", Duration::from_secs(1));
        assert!(t.remaining("shop").unwrap() > Duration::from_secs(5));
        assert!(t.remaining("ebay").is_none());
    }
}
