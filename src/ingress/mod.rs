//! The outside world in: reading what channels send into canonical updates.
//!
//! `canonical` reads ordersync's own update format (SPEC 3.5); `shopify` reads
//! Shopify's order, fulfillment and refund webhooks. Both are pure functions of
//! the request's headers and body, so they are tested without a server; the
//! webhook endpoint (`daemon::ingress::webhook`) calls them after checking the signature
//! over the raw bytes.

pub mod canonical;
pub mod cursor;
pub mod ebay;
pub mod etsy;
pub mod shopify;
pub mod signature;
pub mod woocommerce;

use crate::order::Event;
use crate::rules::{Channel, Format};
use crate::value::Value;

/// One update read from a channel, before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Incoming {
    /// The sender's id for this event, for duplicate suppression.
    pub id: String,
    /// What happened.
    pub event: Event,
    /// When it happened (RFC 3339), if the sender said.
    pub occurred_at: Option<String>,
    /// The order, in the canonical shape.
    pub order: Value,
}

/// Why a request could not be read; the request is kept in quarantine with this reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON, but a number in it cannot be held exactly.
    #[error("{0}")]
    Number(String),
    /// The body is JSON but not of the expected shape.
    #[error("{0}")]
    Shape(String),
    /// A header the format needs is missing.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A Shopify topic ordersync does not read.
    #[error("unsupported Shopify topic `{0}`")]
    Topic(String),
    /// A WooCommerce topic ordersync does not read.
    #[error("unsupported WooCommerce topic `{0}`")]
    WooTopic(String),
}

impl From<crate::json::JsonError> for DecodeError {
    fn from(e: crate::json::JsonError) -> DecodeError {
        if e.inexact_number {
            DecodeError::Number(e.to_string())
        } else {
            DecodeError::NotJson(e.to_string())
        }
    }
}

/// Reads one request body in a channel's format. `header` looks a header up
/// by its lower-case name.
pub fn decode(
    format: Format,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<Incoming, DecodeError> {
    let doc = Value::from_json_slice(body).map_err(DecodeError::from)?;
    match format {
        Format::Ordersync => canonical::read(&doc),
        Format::Shopify => shopify::read(header, &doc),
        Format::Ebay => ebay::read(&doc),
        Format::Etsy => etsy::read(&doc),
        Format::WooCommerce => woocommerce::read(header, body, &doc),
    }
}

/// Reads the updates of a poll response, a JSON array: each item's JSON text
/// (stored as its payload, or quarantined) with what was read from it.
pub fn decode_list(format: Format, body: &[u8]) -> Result<Vec<Polled>, DecodeError> {
    let doc = Value::from_json_slice(body).map_err(DecodeError::from)?;
    let Value::List(items) = doc else {
        return Err(DecodeError::Shape(
            "a poll response must be a JSON array of updates".to_string(),
        ));
    };
    Ok(items
        .iter()
        .map(|item| Polled {
            raw: item.to_json(),
            read: match format {
                Format::Ordersync => canonical::read(item),
                Format::Shopify => shopify::read_polled(item),
                Format::Ebay => ebay::read(item),
                Format::Etsy => etsy::read(item),
                Format::WooCommerce => woocommerce::read_polled(item),
            },
        })
        .collect())
}

/// The format a stored update from `channel` is read again in (re-sync,
/// `ordersync diff`): the one the channel speaks *now*. A channel that changed
/// how it sends (webhooks to polling, or back) is read as it sends now, by
/// the way the update came when the channel still has it, else by the other.
pub fn reading_format(channel: &Channel, polled: bool) -> Format {
    let webhook = channel.webhook.as_ref().map(|w| w.format);
    let poll = channel.poll.as_ref().map(|p| p.format);
    let format = if polled {
        poll.or(webhook)
    } else {
        webhook.or(poll)
    };
    format.unwrap_or(Format::Ordersync)
}

/// Reads a stored update's payload again (re-sync, `diff`): a webhook body,
/// with the topic (`X-Shopify-Topic`, `X-WC-Webhook-Topic`) and event id it
/// came with, or one polled item.
pub fn reread(
    format: Format,
    polled: bool,
    topic: Option<&str>,
    event_id: &str,
    payload: &[u8],
) -> Result<Incoming, DecodeError> {
    if polled {
        let doc = Value::from_json_slice(payload).map_err(DecodeError::from)?;
        return match format {
            Format::Ordersync => canonical::read(&doc),
            Format::Shopify => shopify::read_polled(&doc),
            Format::Ebay => ebay::read(&doc),
            Format::Etsy => etsy::read(&doc),
            Format::WooCommerce => woocommerce::read_polled(&doc),
        };
    }
    let header = |name: &str| match name {
        "x-shopify-topic" | "x-wc-webhook-topic" => topic.map(str::to_string),
        "x-shopify-event-id" | "x-wc-webhook-delivery-id" => Some(event_id.to_string()),
        _ => None,
    };
    // A WooCommerce event id is made from the delivery id and the body: the
    // stored one is the id.
    decode(format, &header, payload).map(|mut i| {
        if format == Format::WooCommerce {
            i.id = event_id.to_string();
        }
        i
    })
}

/// One item of a poll response.
#[derive(Clone, Debug, PartialEq)]
pub struct Polled {
    /// The item as JSON text.
    pub raw: String,
    /// The update read from it, or why it could not be.
    pub read: Result<Incoming, DecodeError>,
}

/// Text of a scalar, for ids: text as it is, a whole number as all its digits
/// (Shopify's ids are above 2^53; a decimal keeps up to 28 of them).
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) if !s.is_empty() => Some(s.to_string()),
        Value::Number(n) if n.is_integer() => Some(crate::value::number_text(*n)),
        _ => None,
    }
}

/// Why an id that is there cannot be read: `what` (e.g. "the order's `id`")
/// and the value as it came.
pub fn unreadable_id(what: &str, v: &Value) -> String {
    format!("{what} must be non-empty text or a whole number, not {v}")
}
