//! The webhook decoders, Shopify's and the canonical one, and a poll
//! response: any bytes are an update or a reason to quarantine them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::ingress::{decode, decode_list};
use ordersync::rules::Format;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the Shopify topic, so every topic's reader is reached.
    let topics = [
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "fulfillments/create",
        "refunds/create",
        "app/uninstalled",
    ];
    let (topic, body) = match data.split_first() {
        Some((b, rest)) => (topics[*b as usize % topics.len()], rest),
        None => (topics[0], data),
    };
    let header = |name: &str| match name {
        "x-shopify-topic" => Some(topic.to_string()),
        "x-shopify-event-id" => Some("evt".to_string()),
        _ => None,
    };
    let _ = decode(Format::Shopify, &header, body);
    let _ = decode(Format::Ordersync, &header, body);
    let _ = decode_list(Format::Ordersync, body);
    let _ = decode_list(Format::Shopify, body);
});
