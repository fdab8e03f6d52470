//! The admin side of the HTTP server (SPEC 8): `/metrics`, the rules, Order
//! Health (orders, their timelines, retry, resolve, ignore, drafts, re-sync)
//! and the quarantine, all behind `Authorization: Bearer <token>` when the
//! daemon has a token (it refuses to listen beyond loopback without one).

use axum::Router;
use axum::extract::Request;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use chrono::Utc;
use serde_json::json;

use crate::daemon::reload::Reloaded;
use crate::daemon::state::{State, answer, error};
use crate::store::orders::{self, ListFilter, Target};
use crate::store::{StoreError, parse_order_ref, stamp};
use crate::value::Value;

type S = axum::extract::State<State>;

/// The routes that need the admin token, `more` among them.
pub fn router(state: State, more: Router<State>) -> Router<State> {
    more.route("/metrics", get(metrics))
        .route("/api/rules", get(rules))
        .route("/api/rules/reload", post(reload))
        .route("/api/orders", get(orders))
        .route("/api/orders/{id}", get(order))
        .route("/api/orders/{id}/resync", post(resync))
        .route(
            "/api/deliveries/{id}/{action}",
            post(delivery_action).get(delivery_get),
        )
        .route("/api/decisions/{id}/{action}", post(decision_action))
        .route("/api/drafts/{id}", patch(complete_draft))
        .route("/api/quarantine", get(quarantine))
        .route("/api/connectors/{channel}/token", put(set_token))
        .route_layer(middleware::from_fn_with_state(state, authorize))
}

/// Lets a request through when it carries the token (or no token is set).
async fn authorize(axum::extract::State(s): S, req: Request, next: Next) -> Response {
    let Some(token) = &s.admin_token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if crate::ingress::signature::same(given.as_bytes(), token.as_bytes()) => {
            next.run(req).await
        }
        Some(_) => unauthorized("the admin token is wrong"),
        None => unauthorized("this needs `Authorization: Bearer <admin token>`"),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"ordersync\""),
    );
    r
}

async fn metrics(axum::extract::State(s): S) -> Response {
    let now = Utc::now();
    for c in s.poller.channels() {
        let stalled = if c.stalled(now) { 1.0 } else { 0.0 };
        s.live.metrics.poll_stalled.set(&[&c.name], stalled);
    }
    for c in s
        .live
        .rules()
        .channels
        .iter()
        .filter(|c| c.connector.is_some())
    {
        let ok = if s.live.credentials.reason(&c.name).is_some() {
            0.0
        } else {
            1.0
        };
        s.live.metrics.connector_credential_ok.set(&[&c.name], ok);
    }
    let outbox = match s.reader.outbox().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the outbox could not be read");
            return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
    };
    let text = s
        .live
        .metrics
        .render(&crate::daemon::admin::metrics::Scrape {
            rules_version: s.live.rules().version.to_string(),
            outbox_depth: outbox.depth,
            outbox_oldest_age: outbox.oldest_age,
            stuck: outbox.stuck,
        });
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The rules in force and the last reload.
async fn rules(axum::extract::State(s): S) -> Response {
    let mut body = rules_json(&s);
    match daemons_json(&s).await {
        Ok(Some(daemons)) => body["daemons"] = daemons,
        Ok(None) => {}
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
    answer(StatusCode::OK, body)
}

/// On a shared store (SPEC 11), every live daemon with the rules version it
/// runs, `this` marking the one answering; `None` on SQLite, where this
/// daemon is the only one.
pub(crate) async fn daemons_json(s: &State) -> Result<Option<serde_json::Value>, StoreError> {
    let Some(daemons) = s.reader.live_daemons().await? else {
        return Ok(None);
    };
    Ok(Some(json!(
        daemons
            .iter()
            .map(|d| json!({
                "daemon": d.owner,
                "rules_version": d.rules_version,
                "seen_at": d.seen_at,
                "this": d.this,
            }))
            .collect::<Vec<_>>()
    )))
}

fn rules_json(s: &State) -> serde_json::Value {
    let rules = s.live.rules();
    let last_reload = s.live.last_reload().map(
        |(at, trigger, outcome)| json!({ "at": stamp(at), "trigger": trigger, "outcome": outcome }),
    );
    json!({
        "version": &*rules.version,
        "path": s.reloader.path().display().to_string(),
        "files": rules.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        "loaded_at": stamp(s.live.loaded_at()),
        "last_error": s.live.last_error(),
        "last_reload": last_reload,
        "channels": rules.channels.iter().map(|c| &*c.name).collect::<Vec<_>>(),
    })
}

/// Reloads as a saved file would; 422 with the errors when refused.
async fn reload(axum::extract::State(s): S) -> Response {
    let outcome = s.reloader.reload("API").await;
    let mut body = rules_json(&s);
    let status = match &outcome {
        Reloaded::Applied(_) => {
            body["outcome"] = json!("applied");
            StatusCode::OK
        }
        Reloaded::Unchanged(_) => {
            body["outcome"] = json!("unchanged");
            StatusCode::OK
        }
        Reloaded::Rejected(errors) => {
            body["outcome"] = json!("rejected");
            body["errors"] = json!(errors);
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    answer(status, body)
}

/// A store answer as HTTP: 404, 409 and 422 for what the operator asked, 500
/// (logged) for the store itself.
/// A store read or action's answer: its rows as JSON (the same bytes as
/// `serde_json::Value` gives: keys sorted), or the error's status and text.
pub(crate) fn store_answer<T: serde::Serialize>(result: Result<T, StoreError>) -> Response {
    match result {
        Ok(body) => match serde_json::to_value(body) {
            Ok(body) => answer(StatusCode::OK, body),
            // The rows are plain data; this would be a bug, said as one.
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the answer could not be written as JSON: {e}"),
            ),
        },
        Err(StoreError::NotFound(m)) => error(StatusCode::NOT_FOUND, m),
        Err(StoreError::Conflict(m)) => error(StatusCode::CONFLICT, m),
        Err(StoreError::Invalid(m)) => error(StatusCode::UNPROCESSABLE_ENTITY, m),
        Err(e) => {
            tracing::error!(error = %e, "an admin request failed in the store");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

/// The query of `GET /api/orders`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ListQuery {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub q: Option<String>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

impl ListQuery {
    /// The store's filter, or why the query is wrong.
    pub(crate) fn filter(&self) -> Result<ListFilter, String> {
        if let Some(s) = self.status.as_deref().filter(|s| !s.is_empty()) {
            orders::check_status(s)?;
        }
        Ok(ListFilter {
            status: self.status.clone().filter(|s| !s.is_empty()),
            channel: self.channel.clone(),
            q: self.q.clone(),
            page: self.page.unwrap_or(1),
            limit: self.limit.unwrap_or(50),
        })
    }
}

async fn orders(axum::extract::State(s): S, Query(q): Query<ListQuery>) -> Response {
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    store_answer(s.reader.orders(filter).await)
}

/// `ord_5` or `5`.
pub(crate) fn order_id(text: &str) -> Option<i64> {
    parse_order_ref(text).or_else(|| text.parse().ok().filter(|n: &i64| *n > 0))
}

async fn order(axum::extract::State(s): S, Path(id): Path<String>) -> Response {
    let Some(id) = order_id(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no order {id}"));
    };
    let found = s.reader.timeline(id).await;
    store_answer(found.and_then(|o| {
        o.ok_or_else(|| StoreError::NotFound(format!("no order {}", crate::store::order_ref(id))))
    }))
}

async fn resync(axum::extract::State(s): S, Path(id): Path<String>) -> Response {
    let Some(id) = order_id(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no order {id}"));
    };
    let rules = s.live.rules();
    let done = s.writer.resync(rules, id).await;
    store_answer(done.map(|d| d.answer))
}

/// What an operator can do to a delivery (retry, resolve, ignore) or to a
/// decision (resolve, ignore); the API and the dashboard both come here.
pub(crate) async fn act(
    s: &State,
    target: Target,
    id: i64,
    action: &str,
) -> Result<Result<orders::Done, StoreError>, String> {
    let resolution = match (target, action) {
        (Target::Delivery, "retry") => {
            return Ok(s.writer.retry(id).await);
        }
        (_, "resolve") => "resolved",
        (_, "ignore") => "ignored",
        (Target::Delivery, _) => {
            return Err(format!(
                "no action `{action}`; deliveries take retry, resolve, ignore"
            ));
        }
        (Target::Decision, _) => {
            return Err(format!(
                "no action `{action}`; decisions take resolve, ignore"
            ));
        }
    };
    Ok(s.writer.resolve(target, id, resolution).await)
}

async fn delivery_action(
    axum::extract::State(s): S,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    match act(&s, Target::Delivery, id, &action).await {
        Ok(done) => store_answer(done.map(|d| d.answer)),
        Err(e) => error(StatusCode::NOT_FOUND, e),
    }
}

/// `GET /api/deliveries/{id}/label`: the label the delivery sent, as sent.
async fn delivery_get(
    axum::extract::State(s): S,
    Path((id, what)): Path<(i64, String)>,
) -> Response {
    if what != "label" {
        return error(StatusCode::NOT_FOUND, format!("no `{what}` for deliveries"));
    }
    label_answer(&s, id).await
}

/// The label kept for delivery `id`, with its content type and file name;
/// the API and the dashboard both answer with this.
pub(crate) async fn label_answer(s: &State, id: i64) -> Response {
    match s.reader.label(id).await {
        Ok(Some(l)) => {
            let disposition = format!("inline; filename=\"{}\"", l.filename);
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, l.content_type),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                    // An HTML label is the supplier's page: never run it here.
                    (
                        header::CONTENT_SECURITY_POLICY,
                        "sandbox; default-src 'none'".to_string(),
                    ),
                ],
                l.bytes,
            )
                .into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("delivery {id} kept no label"),
        ),
        Err(e) => store_answer::<()>(Err(e)),
    }
}

async fn decision_action(
    axum::extract::State(s): S,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    match act(&s, Target::Decision, id, &action).await {
        Ok(done) => store_answer(done.map(|d| d.answer)),
        Err(e) => error(StatusCode::NOT_FOUND, e),
    }
}

/// The fields a draft is completed with: `{"set": {"invoice_number": "INV-7"}}`.
pub(crate) fn draft_fields(body: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let doc = Value::from_json_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Some(Value::Object(set)) = doc.get("set") else {
        return Err(r#"expected {"set": {"field": value, ...}}"#.to_string());
    };
    if set.is_empty() {
        return Err("`set` names no field".to_string());
    }
    Ok(set
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
        .collect())
}

async fn complete_draft(
    axum::extract::State(s): S,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    let set = match draft_fields(&body) {
        Ok(set) => set,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let rules = s.live.rules();
    let done = s.writer.complete_draft(rules, id, set).await;
    store_answer(done.map(|d| d.answer))
}

async fn quarantine(axum::extract::State(s): S) -> Response {
    store_answer(s.reader.quarantined(100).await)
}

/// `PUT /api/connectors/{channel}/token` with `{"refresh_token": "..."}`:
/// stores the channel's new OAuth refresh token durably, drops its cached
/// access token and clears `needs reconnect`, so its waiting deliveries
/// resume without a restart. The token is never logged or echoed.
async fn set_token(
    axum::extract::State(s): S,
    Path(channel): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let rules = s.live.rules();
    let Some(ch) = rules.channel(&channel) else {
        return error(StatusCode::NOT_FOUND, format!("no channel `{channel}`"));
    };
    let oauth = ch.connector.as_ref().is_some_and(|c| {
        matches!(
            c.kind,
            crate::rules::ConnectorKind::Ebay(_) | crate::rules::ConnectorKind::Etsy(_)
        )
    });
    if !oauth {
        return error(
            StatusCode::BAD_REQUEST,
            format!("channel `{channel}` has no connector with a refresh token (ebay, etsy)"),
        );
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let token = parsed
        .as_ref()
        .and_then(|v| v["refresh_token"].as_str())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be `{\"refresh_token\": \"...\"}` with a non-empty token",
        );
    };
    if let Err(e) = s.writer.save_refresh_token(&channel, token).await {
        tracing::error!(channel = %channel, error = %e, "a new refresh token could not be stored");
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    s.live.tokens.forget(&channel);
    let was = s.live.credentials.reason(&channel);
    s.live.credentials.reconnected(&channel);
    tracing::info!(channel = %channel, was_waiting = was.is_some(), "a new refresh token was stored; the channel's deliveries resume");
    answer(
        StatusCode::OK,
        json!({ "channel": channel, "stored": true, "was_needing_reconnect": was.is_some() }),
    )
}
