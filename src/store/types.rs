//! What goes in and out of the store: updates to ingest, jobs for the
//! dispatcher, attempts, labels, poll state, and the statuses as enums.

use std::sync::Arc;
use std::time::Duration;

use crate::ingress::Incoming;
use crate::order::Event;
use crate::rules::RuleSet;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// What became of a stored update (`updates.status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateStatus {
    /// Decided for its route.
    #[default]
    Decided,
    /// Dropped by its source's `import` filter.
    Ignored,
    /// Older than the newest update already seen for its order: not decided.
    Stale,
}

impl UpdateStatus {
    /// As stored and answered.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Decided => "decided",
            UpdateStatus::Ignored => "ignored",
            UpdateStatus::Stale => "stale",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<UpdateStatus> {
        [
            UpdateStatus::Decided,
            UpdateStatus::Ignored,
            UpdateStatus::Stale,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One decided update waiting to be handed to a destination.
#[derive(Clone, Debug)]
pub struct Job {
    /// The delivery row.
    pub delivery_id: i64,
    /// ordersync's order.
    pub order_id: i64,
    /// Where it goes.
    pub destination: Arc<str>,
    /// Where it came from.
    pub source: Arc<str>,
    /// What happened.
    pub event: Event,
    /// The rules version that decided it.
    pub rules_version: Arc<str>,
    /// The order as decided for the destination (JSON).
    pub order_json: Arc<str>,
    /// The destination's own id for the order, if known when decided.
    pub external_id: Option<String>,
    /// The same on every attempt.
    pub idempotency_key: Arc<str>,
    /// Attempts already made.
    pub attempts: u32,
    /// Not before this time (a retry's back-off that outlived a restart).
    pub not_before: Option<DateTime<Utc>>,
    /// When the update it delivers arrived (for the latency metric).
    pub received_at: DateTime<Utc>,
    /// A request whose outcome may be unknown was sent for it before (a
    /// connector looks for what it made before sending it again).
    pub sent: bool,
    /// The request a template rendered for it at its first attempt (JSON,
    /// `${NAME}` markers for secrets): every later attempt sends it again.
    pub rendered: Option<Arc<str>>,
}

/// The shipping label a delivery sends, as kept (SPEC 13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// `pdf`, `html` or `zpl`: what it is as sent.
    pub format: String,
    /// Its MIME type.
    pub content_type: String,
    /// `label-<order name or id>.pdf`.
    pub filename: String,
    /// The bytes as sent.
    pub bytes: Vec<u8>,
}

/// What one delivery attempt came to.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The delivery row.
    pub delivery_id: i64,
    /// ordersync's order.
    pub order_id: i64,
    /// The destination.
    pub destination: Arc<str>,
    /// The external id the request carried.
    pub external_id: Option<String>,
    /// When the request was sent.
    pub at: DateTime<Utc>,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    /// The transport error, if none came.
    pub error: Option<String>,
    /// The response body (capped).
    pub response: Vec<u8>,
    /// How long the request took.
    pub duration: Duration,
    /// The delivery's status after this attempt.
    pub status: DeliveryStatus,
    /// When to try again (for `Pending`).
    pub next_at: Option<DateTime<Utc>>,
    /// The destination's id for the order from a 2xx `{"id": ...}`.
    pub linked_id: Option<String>,
    /// A connector's requests, each kept as its own row; empty for an
    /// envelope delivery, whose one request is this attempt itself.
    pub steps: Vec<StepRecord>,
}

impl Attempt {
    /// An attempt of `job` begun `at`, before any answer: no status, no
    /// error, no response, and `Dead` until the answer says otherwise.
    pub fn begun(job: &Job, at: DateTime<Utc>) -> Attempt {
        Attempt {
            delivery_id: job.delivery_id,
            order_id: job.order_id,
            destination: job.destination.clone(),
            external_id: job.external_id.clone(),
            at,
            http_status: None,
            error: None,
            response: Vec::new(),
            duration: Duration::ZERO,
            status: DeliveryStatus::Dead,
            next_at: None,
            linked_id: None,
            steps: Vec::new(),
        }
    }
}

/// One request of a connector's delivery and its answer.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// What the request was for (`orderCreate`, `order lookup`).
    pub step: String,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The request as sent, secrets masked: JSON `{"method", "url", "headers", "body"}`.
    pub request: String,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    /// The transport error, or the platform's reason.
    pub error: Option<String>,
    /// The answer's body (capped).
    pub response: Vec<u8>,
    /// How long it took.
    pub duration: Duration,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet delivered; more attempts will be made.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// A 4xx other than 408 and 429: not tried again.
    Rejected,
    /// The retry policy's attempts are used up.
    Dead,
}

impl DeliveryStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Rejected => "rejected",
            DeliveryStatus::Dead => "dead",
        }
    }
}

/// A webhook body that could not be read.
#[derive(Clone, Debug)]
pub struct Quarantined {
    /// The channel it was sent to.
    pub channel: String,
    /// When it came.
    pub received_at: DateTime<Utc>,
    /// Why it could not be read.
    pub reason: String,
    /// Its headers (name, value), for the dashboard.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// How an update came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `POST /webhooks/{channel}`.
    Webhook,
    /// A poll run's response.
    Poll,
}

impl Via {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Webhook => "webhook",
            Via::Poll => "poll",
        }
    }
}

/// A channel's polling state as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollState {
    /// The largest `updated_at` seen (RFC 3339).
    pub cursor: Option<String>,
    /// When the last run started.
    pub last_run_at: Option<String>,
    /// When the last run succeeded.
    pub last_success_at: Option<String>,
}

/// One update to store and decide.
pub struct IngestRequest {
    /// The source channel.
    pub channel: Arc<str>,
    /// Webhook or poll.
    pub via: Via,
    /// A Shopify webhook's `X-Shopify-Topic`, kept to read the payload again.
    pub topic: Option<String>,
    /// What was read from the body.
    pub incoming: Incoming,
    /// The raw body, kept.
    pub payload: Vec<u8>,
    /// When it came; also the `now()` its rules see.
    pub received_at: DateTime<Utc>,
    /// The rules it is decided with: those current when it arrived.
    pub rules: Arc<RuleSet>,
}

/// The idempotency key of one decision's delivery, minted with its row and
/// sent as `Idempotency-Key`: the same on every retry and after
/// restarts (it depends only on what identifies the decision), different for
/// any other decision.
pub fn idempotency_key(order_id: &str, destination: &str, decision_id: u64) -> String {
    let mut h = Sha256::new();
    h.update(order_id.as_bytes());
    h.update([0]);
    h.update(destination.as_bytes());
    h.update([0]);
    h.update(decision_id.to_le_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("os-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_per_decision_and_distinct_across_decisions() {
        let k = idempotency_key("ord_42", "ebay", 7);
        assert_eq!(k, idempotency_key("ord_42", "ebay", 7));
        assert_eq!(k.len(), 3 + 32);
        assert_ne!(k, idempotency_key("ord_42", "ebay", 8));
        assert_ne!(k, idempotency_key("ord_42", "amazon", 7));
        assert_ne!(k, idempotency_key("ord_4", "2ebay", 7));
    }
}
