//! Rendering at delivery: the envelope as a template's context, a request
//! rendered from its templates, and the secrets put in just before sending.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::order::{Event, Type};
use crate::value::Value;

/// The SPEC 6.3 envelope of one delivery, plus `idempotency_key` and `now`.
pub struct Envelope<'a> {
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
    /// The order as decided for the destination.
    pub order: &'a Value,
    /// Stable for this decision.
    pub idempotency_key: &'a str,
    /// When it is rendered.
    pub now: DateTime<Utc>,
}

/// The values a template sees; the order's known-but-absent fields are `none`.
pub fn context(e: &Envelope, order_type: &Type) -> Result<minijinja::Value, String> {
    let order = to_jinja(e.order, Some(order_type))?;
    let s = minijinja::Value::from;
    let pairs: Vec<(&str, minijinja::Value)> = vec![
        ("event", s(e.event.as_str())),
        ("order_id", s(e.order_id)),
        (
            "external_id",
            e.external_id.map(s).unwrap_or(minijinja::Value::from(())),
        ),
        ("source", s(e.source)),
        ("destination", s(e.destination)),
        ("rules_version", s(e.rules_version)),
        ("order", order),
        ("idempotency_key", s(e.idempotency_key)),
        (
            "now",
            s(e.now.to_rfc3339_opts(SecondsFormat::Secs, true).as_str()),
        ),
    ];
    Ok(minijinja::Value::from_iter(pairs))
}

/// One of our values as minijinja's; numbers exactly or not at all (SPEC 3.6).
fn to_jinja(v: &Value, ty: Option<&Type>) -> Result<minijinja::Value, String> {
    Ok(match v {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Text(t) => minijinja::Value::from(t.as_str()),
        Value::Number(n) => {
            let n = n.normalize();
            if n.scale() == 0 {
                minijinja::Value::from(n.mantissa())
            } else {
                let text = crate::value::number_text(n);
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() && format!("{f}") == text => minijinja::Value::from(f),
                    _ => {
                        return Err(format!(
                            "the number {text} has more digits than a template can write exactly"
                        ));
                    }
                }
            }
        }
        Value::List(items) => {
            let inner = match ty {
                Some(Type::List(t)) => Some(&**t),
                _ => None,
            };
            let out: Result<Vec<_>, _> = items.iter().map(|i| to_jinja(i, inner)).collect();
            minijinja::Value::from(out?)
        }
        Value::Object(entries) => {
            let mut map = Vec::with_capacity(entries.len());
            for (k, x) in entries.iter() {
                let field = ty.and_then(|t| t.field(k.as_str()));
                map.push((k.as_str().to_string(), to_jinja(x, field)?));
            }
            let known = match ty {
                Some(Type::Object(fields)) => fields.iter().map(|(n, _)| n.clone()).collect(),
                _ => Vec::new(),
            };
            minijinja::Value::from_object(Shaped { map, known })
        }
    })
}

/// An object of the order: its fields in their order; a field its shape
/// knows but it lacks reads as `none` (and is not written by `tojson`).
#[derive(Debug)]
struct Shaped {
    map: Vec<(String, minijinja::Value)>,
    known: Vec<String>,
}

impl minijinja::value::Object for Shaped {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let k = key.as_str()?;
        match self.map.iter().find(|(n, _)| n == k) {
            Some((_, v)) => Some(v.clone()),
            None => self
                .known
                .iter()
                .any(|n| n == k)
                .then(|| minijinja::Value::from(())),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let keys: Vec<minijinja::Value> = self
            .map
            .iter()
            .map(|(k, _)| minijinja::Value::from(k.as_str()))
            .collect();
        minijinja::value::Enumerator::Values(keys)
    }
}

/// A request as rendered: what is stored and sent again on every retry, with
/// `${NAME}` markers where secrets go.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Headers, as written in the rules (a body's `Content-Type` added).
    pub headers: Vec<(String, String)>,
    /// The body, if the request has one.
    pub body: Option<String>,
}

impl Rendered {
    /// As stored: JSON `{"method", "url", "headers", "body"}`.
    pub fn to_json(&self) -> String {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "method": self.method,
            "url": self.url,
            "headers": headers,
            "body": self.body,
        })
        .to_string()
    }

    /// Reads a stored request back.
    pub fn from_json(text: &str) -> Result<Rendered, String> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("the stored request is unreadable: {e}"))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let headers = v
            .get("headers")
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .filter_map(|(k, x)| x.as_str().map(|x| (k.clone(), x.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Rendered {
            method: field("method").ok_or("the stored request has no method")?,
            url: field("url").ok_or("the stored request has no URL")?,
            headers,
            body: field("body"),
        })
    }

    /// The header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The methods a request may use.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Renders every part of a request template and checks what came out.
pub fn render_request(
    r: &crate::rules::HttpRequest,
    ctx: &minijinja::Value,
) -> Result<Rendered, String> {
    let method = r.method.render(ctx).map_err(|e| format!("`method`: {e}"))?;
    let method = method.trim().to_string();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!(
            "`method` rendered `{method}`, which is not GET, POST, PUT, PATCH or DELETE"
        ));
    }
    let url = r.url.render(ctx).map_err(|e| format!("`url`: {e}"))?;
    let url = url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "`url` rendered `{url}`, which is not an absolute http(s) URL"
        ));
    }
    let mut headers = Vec::new();
    for (name, t) in &r.headers {
        let value = t.render(ctx).map_err(|e| format!("header `{name}`: {e}"))?;
        if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(format!("header `{name}` rendered a line break"));
        }
        headers.push((name.clone(), value.trim().to_string()));
    }
    let body = match &r.body {
        Some(t) => Some(t.render(ctx).map_err(|e| format!("`body`: {e}"))?),
        None => None,
    };
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_string(), r.content_type.to_string()));
    }
    Ok(Rendered {
        method,
        url,
        headers,
        body,
    })
}

/// Puts each `${NAME}` marker's secret into stored, rendered text, and turns
/// `$${` back into `${`. A marker whose secret `lookup` does not know is an error.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let Some(close) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let inner = &rest[i + 2..i + close];
        match lookup(inner) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "the stored request needs `${{{inner}}}`, which the rules no longer give this connector"
                ));
            }
        }
        rest = &rest[i + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
