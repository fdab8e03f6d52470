//! Rendering a request template from a delivery (pure) and turning the stored
//! request into the one sent: secrets in, method and body typed.

use chrono::{DateTime, Utc};

use crate::delivery::connector::{Body, Request};
use crate::order::{Event, Type};
use crate::rules::HttpRequest;
use crate::rules::template::{self, Envelope, Rendered, expand};
use crate::value::Value;

/// One delivery's envelope (SPEC 6.3) as a template sees it.
pub struct Delivery<'a> {
    /// What happened.
    pub event: Event,
    /// ordersync's id (`ord_42`).
    pub order_id: &'a str,
    /// The destination's own id, if linked.
    pub external_id: Option<&'a str>,
    /// The source channel.
    pub source: &'a str,
    /// The destination channel.
    pub destination: &'a str,
    /// The rules version that decided it.
    pub rules_version: &'a str,
    /// The order as decided.
    pub order: &'a Value,
    /// Stable for this decision.
    pub idempotency_key: &'a str,
}

/// Renders the request for a delivery, at `now`.
pub fn render(
    r: &HttpRequest,
    d: &Delivery,
    order_type: &Type,
    now: DateTime<Utc>,
) -> Result<Rendered, String> {
    let envelope = Envelope {
        event: d.event,
        order_id: d.order_id,
        external_id: d.external_id,
        source: d.source,
        destination: d.destination,
        rules_version: d.rules_version,
        order: d.order,
        idempotency_key: d.idempotency_key,
        now,
    };
    let ctx = template::context(&envelope, order_type)?;
    template::render_request(r, &ctx)
}

/// The request to send: the stored one with its secrets put in.
pub fn to_send(
    stored: &Rendered,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<Request, String> {
    build(stored, &|text| expand(text, secret))
}

/// The stored request as a [`Request`], markers left in (for keeping).
pub fn unexpanded(stored: &Rendered) -> Result<Request, String> {
    build(stored, &|text| Ok(text.to_string()))
}

fn build(
    stored: &Rendered,
    fill: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Request, String> {
    let method = reqwest::Method::from_bytes(stored.method.as_bytes())
        .map_err(|_| format!("the stored request's method `{}` is invalid", stored.method))?;
    let url = fill(&stored.url)?;
    let mut headers = Vec::with_capacity(stored.headers.len());
    for (k, v) in &stored.headers {
        let value = fill(v)?;
        if reqwest::header::HeaderValue::from_str(&value).is_err() {
            return Err(format!(
                "header `{k}` cannot be sent: its value has characters a header cannot carry"
            ));
        }
        headers.push((k.clone(), value));
    }
    let body = match &stored.body {
        None => Body::Empty,
        Some(text) => Body::Raw {
            content_type: stored
                .header("content-type")
                .unwrap_or("text/plain; charset=utf-8")
                .to_string(),
            bytes: fill(text)?.into_bytes(),
        },
    };
    Ok(Request {
        step: super::STEP.to_string(),
        method,
        url,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_in_only_when_sent() {
        let stored = Rendered {
            method: "POST".into(),
            url: "https://api.example/v2/orders?key=${KEY}".into(),
            headers: vec![
                ("Authorization".into(), "Bearer ${TOKEN}".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: Some(r#"{"note": "$${TOKEN}"}"#.into()),
        };
        let secrets = |n: &str| match n {
            "TOKEN" => Some("t0k".to_string()),
            "KEY" => Some("k3y".to_string()),
            _ => None,
        };
        let r = to_send(&stored, &secrets).unwrap();
        assert_eq!(r.url, "https://api.example/v2/orders?key=k3y");
        assert_eq!(r.headers[0].1, "Bearer t0k");
        let Body::Raw {
            content_type,
            bytes,
        } = &r.body
        else {
            panic!("raw body")
        };
        assert_eq!(content_type, "application/json");
        assert_eq!(bytes, br#"{"note": "${TOKEN}"}"#);
        let kept = crate::delivery::connector::recorded(&unexpanded(&stored).unwrap());
        assert!(!kept.contains("t0k") && !kept.contains("k3y"), "{kept}");
        assert!(
            to_send(&stored, &|_| None)
                .unwrap_err()
                .contains("`${KEY}`")
        );
    }
}
