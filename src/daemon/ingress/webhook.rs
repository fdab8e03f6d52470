//! The HTTP side of the daemon: webhook ingress (SPEC 6.1), the health
//! endpoints, and (behind the admin token, in `api`) `/metrics` and `/api/*`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::json;

use crate::daemon::state::{State, answer, error};
use crate::ingress::{self, signature};
use crate::store::{IngestRequest, Ingested, Quarantined, Via};

/// The webhook endpoint and the health checks.
pub fn routes() -> Router<State> {
    Router::new()
        .route("/webhooks/{channel}", post(webhook))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn webhook(
    axum::extract::State(s): axum::extract::State<State>,
    Path(channel): Path<String>,
    req: Request,
) -> Response {
    let rules = s.live.rules();
    // Counted under the channel's name only when it is one: the URL is the sender's.
    let label = rules.channel(&channel).map_or("unknown", |c| &*c.name);
    let (outcome, response) = receive(&s, &rules, &channel, req).await;
    s.live.metrics.webhook_requests.inc(&[label, outcome]);
    if outcome == "unauthorized" {
        s.live.metrics.signature_failures.inc(&[label]);
    }
    response
}

/// One webhook request: the outcome label for the metrics, and the answer.
async fn receive(
    s: &State,
    rules: &Arc<crate::rules::RuleSet>,
    channel: &str,
    req: Request,
) -> (&'static str, Response) {
    if s.live.is_stopping() {
        return (
            "unavailable",
            error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        );
    }
    let Some(ch) = rules.channel(channel) else {
        return (
            "unknown_channel",
            error(
                StatusCode::NOT_FOUND,
                format!("unknown channel `{channel}`"),
            ),
        );
    };
    let Some(hook) = &ch.webhook else {
        return (
            "unknown_channel",
            error(
                StatusCode::NOT_FOUND,
                format!("channel `{channel}` takes no webhooks"),
            ),
        );
    };
    if !s.limiter.admit(&ch.name, std::time::Instant::now()) {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "channel `{channel}` is over its limit of {} webhooks a second; send it again later",
                s.limiter.rate()
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return ("rate_limited", r);
    }
    let too_large = || {
        (
            "too_large",
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over the limit of {} bytes", s.max_body),
            ),
        )
    };
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.max_body as u64) {
        return too_large();
    }
    let raw = match read_body(body, s.max_body).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return too_large(),
        Err(e) => {
            return (
                "unreadable",
                error(
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                ),
            );
        }
    };
    // WooCommerce pings a webhook's URL, unsigned, when the webhook is saved,
    // and saves it only if the answer is 200: answered, nothing stored.
    if hook.format == crate::rules::Format::WooCommerce
        && ingress::woocommerce::is_ping(&|name| header_text(&parts.headers, name), &raw)
    {
        tracing::info!(%channel, "WooCommerce webhook ping answered");
        return ("ping", answer(StatusCode::OK, json!({ "ping": true })));
    }
    // Authenticate the exact bytes received, before reading any of them.
    let header_name = signature::header_name(hook.format);
    let given = parts.headers.get(header_name).and_then(|v| v.to_str().ok());
    if !signature::verify(hook.format, hook.secret.0.as_bytes(), &raw, given) {
        let why = if given.is_some() { "bad" } else { "missing" };
        return (
            "unauthorized",
            error(
                StatusCode::UNAUTHORIZED,
                format!("{why} signature in `{header_name}`"),
            ),
        );
    }
    let received_at = Utc::now();
    let lookup = |name: &str| header_text(&parts.headers, name);
    let incoming = match ingress::decode(hook.format, &lookup, &raw) {
        Ok(incoming) => incoming,
        Err(e) => {
            let reason = e.to_string();
            let kept = s
                .writer
                .quarantine(Quarantined {
                    channel: channel.to_string(),
                    received_at,
                    reason: reason.clone(),
                    headers: all_headers(&parts.headers),
                    body: raw,
                })
                .await;
            return match kept {
                Ok(id) => {
                    tracing::warn!(%channel, quarantine = id, %reason, "unreadable webhook body quarantined");
                    (
                        "unreadable",
                        answer(
                            StatusCode::BAD_REQUEST,
                            json!({ "error": reason, "quarantined": id }),
                        ),
                    )
                }
                Err(e) => ("error", store_failed(&e)),
            };
        }
    };
    let stored = s
        .writer
        .ingest(IngestRequest {
            channel: ch.name.clone(),
            via: Via::Webhook,
            topic: header_text(&parts.headers, "x-shopify-topic")
                .or_else(|| header_text(&parts.headers, "x-wc-webhook-topic")),
            incoming,
            payload: raw,
            received_at,
            rules: rules.clone(),
        })
        .await;
    s.live.metrics.count_ingested(&ch.name, &stored);
    match stored {
        Ok(Ingested::Stored { update, status, .. }) => (
            if status == crate::store::UpdateStatus::Stale {
                "stale"
            } else {
                "accepted"
            },
            answer(StatusCode::ACCEPTED, json!({ "update": update })),
        ),
        Ok(Ingested::Duplicate) => (
            "duplicate",
            answer(StatusCode::OK, json!({ "duplicate": true })),
        ),
        Err(e) => ("error", store_failed(&e)),
    }
}

fn store_failed(e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "a webhook could not be stored");
    if e.unavailable() {
        // A shared store that cannot be reached: nothing was stored, say so
        // the way a sender retries later (never a 2xx that is not durable).
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot be reached; nothing was stored, send it again later",
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return r;
    }
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the update could not be stored; send it again",
    )
}

/// The body, or `None` when it is over `max` bytes.
async fn read_body(mut body: axum::body::Body, max: usize) -> Result<Option<Vec<u8>>, axum::Error> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > max {
                return Ok(None);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Some(out))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn all_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

async fn healthz() -> Response {
    answer(StatusCode::OK, json!({ "status": "alive" }))
}

async fn readyz(axum::extract::State(s): axum::extract::State<State>) -> Response {
    if s.live.is_stopping() {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "stopping" }),
        );
    }
    let rules = s.live.rules();
    match tokio::time::timeout(Duration::from_secs(2), s.writer.ping()).await {
        Ok(Ok(())) => {
            let now = Utc::now();
            let polling: serde_json::Map<String, serde_json::Value> = s
                .poller
                .channels()
                .iter()
                .map(|c| (c.name.to_string(), c.status_json(now)))
                .collect();
            let connectors: serde_json::Map<String, serde_json::Value> = rules
                .channels
                .iter()
                .filter_map(|c| c.connector.as_ref().map(|k| (c, k)))
                .map(|(c, k)| {
                    let refused = s.live.credentials.reason(&c.name);
                    let mut v = json!({
                        "kind": k.kind_name(),
                        "credential": if refused.is_some() { "needs reconnect" } else { "ok" },
                    });
                    if let Some(why) = refused {
                        v["reason"] = json!(why);
                    }
                    if let Some(wait) = s.live.throttles.remaining(&c.name) {
                        v["throttled_for_ms"] = json!(wait.as_millis() as u64);
                    }
                    (c.name.to_string(), v)
                })
                .collect();
            let mut body = json!({
                "status": "ready",
                "store": "ok",
                "rules_version": &*rules.version,
                "rules_loaded_at": crate::store::stamp(s.live.loaded_at()),
                "polling": polling,
                "connectors": connectors,
            });
            // Still ready: the previous rules keep routing. Say why the new ones were refused.
            if let Some(e) = s.live.last_error() {
                body["rules_reload_error"] = json!(e);
            }
            answer(StatusCode::OK, body)
        }
        Ok(Err(e)) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not ready", "store": e.to_string(), "rules_version": &*rules.version }),
        ),
        Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not ready", "store": "not answering within 2 s", "rules_version": &*rules.version }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PgError, StoreError};

    async fn said(e: StoreError) -> (u16, Option<String>, String) {
        let r = store_failed(&e);
        let status = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, retry, String::from_utf8(body.to_vec()).unwrap())
    }

    /// A store that cannot be reached is a 503 to retry later; any other
    /// failure a 500 to send again. Neither is a 2xx.
    #[tokio::test]
    async fn an_unreachable_store_is_503_with_retry_after() {
        let down = StoreError::Postgres(PgError {
            message: "error connecting to server: Connection refused (os error 111)".into(),
            retry: false,
            unavailable: true,
        });
        assert_eq!(
            said(down).await,
            (
                503,
                Some("5".into()),
                r#"{"error":"the store cannot be reached; nothing was stored, send it again later"}"#.into()
            )
        );
        let refused = StoreError::Postgres(PgError {
            message: "ERROR: value too long".into(),
            retry: false,
            unavailable: false,
        });
        assert_eq!(
            said(refused).await,
            (
                500,
                None,
                r#"{"error":"the update could not be stored; send it again"}"#.into()
            )
        );
    }
}
