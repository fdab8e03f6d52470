//! The Shopify connector's readers: any answer body, at any status, is
//! classified (data, rejected, throttled, retried) without a panic; any data
//! is read as a page of polled orders, fulfillment orders and user errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::delivery::connector::shopify::{answer, lines, poll};
use ordersync::value::Value;

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the status, so every branch is reached.
    let statuses = [200u16, 201, 401, 403, 404, 408, 429, 500, 502, 503];
    let (status, body) = match data.split_first() {
        Some((b, rest)) => (statuses[*b as usize % statuses.len()], rest),
        None => (200, data),
    };
    let _ = answer::classify(status, None, body);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = answer::throttle_wait(&doc);
        let _ = answer::user_errors(&doc, "orderCreate", "userErrors");
        let order = &doc["order"];
        let fos = lines::fulfillment_orders(order);
        let _ = lines::tracking_numbers(order);
        let _ = lines::plan(&fos, &[("A".to_string(), 1)]);
        let _ = lines::plan(&fos, &[]);
        if let Ok((nodes, _)) = poll::page(&doc) {
            for node in nodes {
                let shaped = poll::webhook_shape(&node).to_string();
                if let Ok(v) = Value::from_json(&shaped) {
                    let _ = poll::read(&v);
                }
            }
        }
    }
});
