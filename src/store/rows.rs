//! The rows Order Health reads answer (SPEC 6.5): typed, with the field
//! names the admin API serializes them under. The API answers them as JSON,
//! the dashboard renders the same values, and the CLI reads the API's JSON.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

/// A page of the Order Health list.
#[derive(Clone, Debug, Serialize)]
pub struct OrderList {
    pub rows: Vec<HealthRow>,
    /// Rows matching the filter, on every page.
    pub total: i64,
    pub page: u32,
    pub limit: u32,
    pub counts: HealthCounts,
}

/// One order's state at one destination, in the list.
#[derive(Clone, Debug, Serialize)]
pub struct HealthRow {
    /// `ord_<id>`.
    pub order: String,
    pub name: Option<String>,
    pub source: Option<String>,
    pub destination: String,
    pub status: String,
    pub detail: String,
    /// `resolved` or `ignored`, once an operator closed the problem.
    pub resolution: Option<String>,
    pub updated_at: String,
    pub decision: i64,
    pub delivery: Option<i64>,
}

/// Open rows per status, closed ones per resolution, open problems per destination.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HealthCounts {
    pub status: BTreeMap<String, i64>,
    pub problems_by_destination: BTreeMap<String, i64>,
}

/// One order with everything that happened to it.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// `ord_<id>`.
    pub id: String,
    pub created_at: String,
    pub name: Option<String>,
    pub source: Option<String>,
    pub updated_at: Option<String>,
    pub links: Vec<Link>,
    pub health: Vec<OrderHealth>,
    pub updates: Vec<TimelineUpdate>,
}

/// A channel's own id for the order.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub channel: String,
    pub external_id: String,
}

/// The order's state at one destination.
#[derive(Clone, Debug, Serialize)]
pub struct OrderHealth {
    pub destination: String,
    pub source: String,
    pub status: String,
    pub detail: String,
    pub resolution: Option<String>,
    pub decision: i64,
    pub delivery: Option<i64>,
    pub updated_at: String,
}

/// An update received, with what was decided for it.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineUpdate {
    pub id: i64,
    pub channel: String,
    pub event_id: String,
    pub event: String,
    pub via: String,
    pub received_at: String,
    pub status: String,
    /// The raw body as received; `None` once retention pruned it.
    pub payload: Option<String>,
    pub pruned_at: Option<String>,
    pub decisions: Vec<TimelineDecision>,
}

/// One decision, with its trace and its delivery.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineDecision {
    pub id: i64,
    pub destination: String,
    pub outcome: String,
    pub detail: String,
    pub why: String,
    pub rules_version: String,
    /// `update`, `resync` or `draft`.
    pub trigger: String,
    /// The attributes it changed, as stored.
    pub changes: Json,
    /// The conditions evaluated, as stored.
    pub trace: Json,
    pub decided_at: String,
    pub released_at: Option<String>,
    /// The order as decided for the destination.
    pub order: Option<Json>,
    pub delivery: Option<TimelineDelivery>,
}

/// A `deliver` decision's hand-over and its attempts.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineDelivery {
    pub id: i64,
    pub status: String,
    pub attempts: i64,
    pub idempotency_key: String,
    pub stuck_at: Option<String>,
    pub source: String,
    pub event: String,
    /// The destination's id from the first attempt that learned one.
    pub first_external_id: Option<String>,
    pub tries: Vec<Try>,
    pub label: Option<LabelMeta>,
}

/// One attempt: what was sent and what came back.
#[derive(Clone, Debug, Serialize)]
pub struct Try {
    pub at: String,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub response: Option<String>,
    pub duration_ms: f64,
    pub external_id: Option<String>,
    /// A connector's step (`find`, `create`, ...), when it takes several.
    pub step: Option<String>,
    /// The request as sent (secrets masked), when one was kept.
    pub request: Option<Json>,
}

/// The label a delivery sent (SPEC 13), without its bytes: where to get them.
#[derive(Clone, Debug, Serialize)]
pub struct LabelMeta {
    pub format: String,
    pub content_type: String,
    pub filename: String,
    pub bytes: i64,
    pub href: String,
}

/// The quarantined webhook bodies, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct QuarantineList {
    pub rows: Vec<QuarantineRow>,
}

/// A body that could not be read, kept with why.
#[derive(Clone, Debug, Serialize)]
pub struct QuarantineRow {
    pub id: i64,
    pub channel: String,
    pub received_at: String,
    pub reason: String,
    pub headers: Json,
    pub body: String,
}
