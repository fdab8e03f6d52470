//! What a delivery sends (SPEC 6.3), as pure functions: the JSON body, the
//! headers, the idempotency key, and the destination's id read from its answer.

use crate::ingress::signature;
use crate::order::Event;
use crate::value::Value;

/// One decided update for one destination.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// What happened.
    pub event: Event,
    /// ordersync's id for the order.
    pub order_id: &'a str,
    /// The destination's own id for the order, once known.
    pub external_id: Option<&'a str>,
    /// The source channel.
    pub source: &'a str,
    /// The destination channel.
    pub destination: &'a str,
    /// The rules version that decided it.
    pub rules_version: &'a str,
}

/// The request body: `{"event", "order_id", "external_id", "source",
/// "destination", "rules_version", "order"}`, where `order_json` is the order
/// as decided for this destination, already JSON (as stored with the decision).
pub fn body(o: &Outgoing, order_json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(order_json.len() + 256);
    let text = |out: &mut Vec<u8>, s: &str| {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.extend_from_slice(b"{\"event\":");
    text(&mut out, o.event.as_str());
    out.extend_from_slice(b",\"order_id\":");
    text(&mut out, o.order_id);
    out.extend_from_slice(b",\"external_id\":");
    match o.external_id {
        Some(id) => text(&mut out, id),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"source\":");
    text(&mut out, o.source);
    out.extend_from_slice(b",\"destination\":");
    text(&mut out, o.destination);
    out.extend_from_slice(b",\"rules_version\":");
    text(&mut out, o.rules_version);
    out.extend_from_slice(b",\"order\":");
    out.extend_from_slice(order_json.as_bytes());
    out.push(b'}');
    out
}

/// Percent-encodes a URL query value or path segment (everything but the
/// unreserved characters of RFC 3986).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The request headers: `Content-Type`, `Idempotency-Key`, `X-Ordersync-Event`,
/// and `X-Ordersync-Signature` when the destination has a `deliver.secret`.
pub fn headers(
    event: Event,
    key: &str,
    body: &[u8],
    secret: Option<&[u8]>,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("Content-Type", "application/json".to_string()),
        ("Idempotency-Key", key.to_string()),
        ("X-Ordersync-Event", event.as_str().to_string()),
    ];
    if let Some(secret) = secret {
        h.push(("X-Ordersync-Signature", signature::sign(secret, body)));
    }
    h
}

/// The destination's id for the order from a 2xx body `{"id": "..."}`, if it gave one.
pub fn linked_id(response_body: &[u8]) -> Option<String> {
    let doc = Value::from_json_slice(response_body).ok()?;
    crate::ingress::id_text(doc.get("id")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Format;
    use serde_json::json;

    #[test]
    fn the_body_carries_what_the_spec_lists() {
        let order = Value::from_json(r#"{"id":"5001","tags":["eBay"]}"#).unwrap();
        let o = Outgoing {
            event: Event::Shipped,
            order_id: "ord_42",
            external_id: Some("27-1138"),
            source: "shopify",
            destination: "ebay",
            rules_version: "4c62bbe522eb",
        };
        let text = String::from_utf8(body(&o, &order.to_json())).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event"], "shipped");
        assert_eq!(v["order_id"], "ord_42");
        assert_eq!(v["external_id"], "27-1138");
        assert_eq!(v["source"], "shopify");
        assert_eq!(v["destination"], "ebay");
        assert_eq!(v["rules_version"], "4c62bbe522eb");
        assert_eq!(v["order"], json!({"id": "5001", "tags": ["eBay"]}));
        let unknown = Outgoing {
            external_id: None,
            ..o
        };
        let v: serde_json::Value = serde_json::from_slice(&body(&unknown, "{}")).unwrap();
        assert!(v["external_id"].is_null());
    }

    #[test]
    fn headers_sign_the_body_when_there_is_a_secret() {
        let b = br#"{"event":"shipped"}"#;
        let h = headers(Event::Shipped, "os-1", b, Some(b"s3cret"));
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(get("Idempotency-Key").as_deref(), Some("os-1"));
        assert_eq!(get("X-Ordersync-Event").as_deref(), Some("shipped"));
        let sig = get("X-Ordersync-Signature").unwrap();
        assert!(signature::verify(
            Format::Ordersync,
            b"s3cret",
            b,
            Some(&sig)
        ));
        assert!(
            headers(Event::Shipped, "os-1", b, None)
                .iter()
                .all(|(k, _)| *k != "X-Ordersync-Signature")
        );
    }

    #[test]
    fn reads_the_destination_id() {
        assert_eq!(
            linked_id(br#"{"id": "27-1138", "status": "ok"}"#).as_deref(),
            Some("27-1138")
        );
        assert_eq!(linked_id(br#"{"id": 5001}"#).as_deref(), Some("5001"));
        assert_eq!(linked_id(b"accepted"), None);
        assert_eq!(linked_id(br#"{"id": ""}"#), None);
    }
}
