//! The WooCommerce readers: any webhook body under any topic, any polled
//! order, any answer body at any status (WP_Error or not), any product
//! lookup or order listing is read or refused without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::delivery::connector::woocommerce::answer;
use ordersync::ingress::{self, woocommerce};
use ordersync::rules::Format;
use ordersync::value::Value;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the topic and the status, so every branch is reached.
    let topics = [
        "order.created",
        "order.updated",
        "order.deleted",
        "order.restored",
        "product.updated",
    ];
    let statuses = [200u16, 201, 400, 401, 403, 404, 408, 429, 500, 503];
    let (pick, body) = match data.split_first() {
        Some((b, rest)) => (*b as usize, rest),
        None => (0, data),
    };
    let topic = topics[pick % topics.len()];
    let header = |name: &str| match name {
        "x-wc-webhook-topic" if pick & 0x80 == 0 => Some(topic.to_string()),
        "x-wc-webhook-delivery-id" => Some("d1".to_string()),
        _ => None,
    };
    let _ = woocommerce::is_ping(&header, body);
    let _ = ingress::decode(Format::WooCommerce, &header, body);
    let _ = ingress::decode_list(Format::WooCommerce, body);
    if let Ok(doc) = Value::from_json_slice(body) {
        let _ = woocommerce::read_polled(&doc);
        let _ = woocommerce::read_order(&doc);
    }
    let _ = answer::classify(statuses[pick % statuses.len()], None, body);
    let _ = answer::wp_error(body);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = answer::product(&doc, "MUG-1");
        let _ = answer::order_id(&doc);
        let _ = answer::status(&doc);
        let _ = answer::note_texts(&doc);
        if let Ok(page) = answer::orders(&doc) {
            let _ = answer::ours(page, "ord_1");
        }
    }
});
