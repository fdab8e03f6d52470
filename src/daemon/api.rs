//! The admin side of the HTTP server (SPEC 8): `/metrics`, `GET /api/rules`
//! and `POST /api/rules/reload`, all behind `Authorization: Bearer <token>`
//! when the daemon has a token (it refuses to listen beyond loopback without
//! one).

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;

use super::http::{State, answer, error};
use super::reload::Reloaded;
use crate::store::stamp;

type S = axum::extract::State<State>;

/// The routes that need the admin token.
pub fn router(state: State) -> Router<State> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/rules", get(rules))
        .route("/api/rules/reload", post(reload))
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
    let outbox = match s.reader.outbox().await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the outbox could not be read");
            return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
    };
    let text = s.live.metrics.render(&super::metrics::Scrape {
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
    answer(StatusCode::OK, rules_json(&s))
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
