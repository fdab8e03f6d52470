//! The Shopify connector's readers never panic (SPEC 10.7): any answer body
//! at any status is classified; any JSON, and damaged copies of real
//! answers, are read as pages of orders, fulfillment orders and user errors.
//! The bounded, in-`cargo test` twin of the `shopify_answer` fuzz target.

use ordersync::delivery::connector::Answer;
use ordersync::delivery::connector::shopify::{answer, lines, poll};
use ordersync::value::Value;
use proptest::prelude::*;

const PAGE: &str = r#"{"data":{"orders":{"pageInfo":{"hasNextPage":true,"endCursor":"abc"},"nodes":[{"id":"gid://shopify/Order/1","legacyResourceId":"1","updatedAt":"2026-11-20T10:00:00Z","createdAt":"2026-11-20T10:00:00Z","tags":["a"],"totalPriceSet":{"shopMoney":{"amount":"1.00"}},"lineItems":{"nodes":[{"sku":"A","quantity":1,"originalUnitPriceSet":{"shopMoney":{"amount":"2.50"}}}]},"fulfillments":[{"trackingInfo":[{"number":"1Z"}]}]}]},"order":{"fulfillments":[{"trackingInfo":[{"number":"1Z"}]}],"fulfillmentOrders":{"nodes":[{"id":"fo","status":"OPEN","assignedLocation":{"name":"A"},"lineItems":{"nodes":[{"id":"l","remainingQuantity":1,"lineItem":{"sku":"A"}}]}}]}}},"extensions":{"cost":{"requestedQueryCost":10,"throttleStatus":{"currentlyAvailable":5,"restoreRate":50}}}}"#;

fn read_all(status: u16, body: &[u8]) {
    if let Answer::Data(data) = answer::classify(status, None, body) {
        let _ = answer::user_errors(&data, "orderCreate", "userErrors");
        let fos = lines::fulfillment_orders(&data["order"]);
        let _ = lines::tracking_numbers(&data["order"]);
        let _ = lines::plan(&fos, &[("A".to_string(), 2)]);
        let _ = lines::plan(&fos, &[]);
        if let Ok((nodes, _)) = poll::page(&data) {
            for node in nodes {
                let shaped = poll::webhook_shape(&node).to_string();
                if let Ok(v) = Value::from_json(&shaped) {
                    let _ = poll::read(&v);
                }
            }
        }
    }
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = answer::throttle_wait(&doc);
    }
}

#[test]
fn the_sample_page_reads() {
    let Answer::Data(data) = answer::classify(200, None, PAGE.as_bytes()) else {
        panic!("a page with data is data");
    };
    let (nodes, next) = poll::page(&data).unwrap();
    assert_eq!(next.as_deref(), Some("abc"));
    let shaped = poll::webhook_shape(&nodes[0]).to_string();
    let read = poll::read(&Value::from_json(&shaped).unwrap()).unwrap();
    assert_eq!(read.id, "1@2026-11-20T10:00:00Z");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_at_any_status(bytes in prop::collection::vec(any::<u8>(), 0..400), status in 100u16..600) {
        read_all(status, &bytes);
    }

    #[test]
    fn a_damaged_page(cut in 0usize..PAGE.len(), insert in "[{}\\[\\]\",:0-9a-z-]{0,8}") {
        let mut text = PAGE.to_string();
        let at = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &insert);
        read_all(200, text.as_bytes());
        let mut shortened = PAGE.to_string();
        shortened.truncate(at);
        read_all(200, shortened.as_bytes());
    }
}
