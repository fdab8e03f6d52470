//! What every HTTP handler of the daemon sees, and how it answers JSON.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::daemon::Live;
use crate::daemon::ingress::limit::Limiter;
use crate::daemon::ingress::poll::Poller;
use crate::daemon::reload::Reloader;
use crate::store::{Reader, Writer};

/// What every handler sees.
#[derive(Clone)]
pub struct State {
    /// The rules in force, the metrics and the shutdown flag.
    pub live: Arc<Live>,
    /// The store.
    pub writer: Writer,
    /// Reads that need not wait for the writer.
    pub reader: Reader,
    /// The polling schedules, for `/readyz`.
    pub poller: Arc<Poller>,
    /// `POST /api/rules/reload` takes the same path as a saved file.
    pub reloader: Arc<Reloader>,
    /// The largest body accepted.
    pub max_body: usize,
    /// Per-channel webhook rate limits.
    pub limiter: Arc<Limiter>,
    /// What `Authorization: Bearer` must say on `/api/*` and `/metrics`.
    pub admin_token: Option<Arc<str>>,
}

pub fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, json!({ "error": message.into() }))
}
