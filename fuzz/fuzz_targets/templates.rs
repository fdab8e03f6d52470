//! Request templates (SPEC 12.2): compile and check any text as a plain and
//! as a JSON-body template, render it against a small envelope, read a stored
//! request back and expand its markers, and classify any answer; none of it
//! may panic or hang (fuel and the output cap stop a runaway template).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::delivery::connector::http::answer;
use ordersync::order::{CANONICAL_ORDER, Event};
use ordersync::rules::HttpAnswer;
use ordersync::rules::template::{self, Check, Envelope, Rendered};
use ordersync::value::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let order = Value::from_json(
        r#"{"id": "5001", "tags": ["eBay"], "total_price": 104.5, "note": "${X} $${Y}",
            "line_items": [{"sku": "DS-1", "quantity": 2, "price": 20.25}],
            "shipping_address": {"name": "Ada", "country": "US"}}"#,
    )
    .unwrap();
    let envelope = Envelope {
        event: Event::Created,
        order_id: "ord_1",
        external_id: Some("S-1"),
        source: "shop",
        destination: "supplier",
        rules_version: "abc",
        order: &order,
        idempotency_key: "k",
        now: chrono::DateTime::UNIX_EPOCH,
    };
    let ctx = template::context(&envelope, &CANONICAL_ORDER).unwrap();
    for json in [false, true] {
        if let Ok(t) = template::compile(text, &Check { order: &CANONICAL_ORDER, json }) {
            if let Ok(out) = t.render(&ctx) {
                assert!(out.len() <= template::MAX_OUTPUT);
                let _ = template::expand(&out, &|n| (n == "X").then(|| "secret".to_string()));
            }
        }
    }
    if let Ok(r) = Rendered::from_json(text) {
        assert_eq!(Rendered::from_json(&r.to_json()).as_ref(), Ok(&r));
    }
    let a = HttpAnswer {
        id: Some("/data/id".into()),
        rejected_if: Some("/errors/0".into()),
        retry_if_status: vec![409],
    };
    let status = data.first().map_or(200, |b| 100 + u16::from(*b) * 2);
    let _ = answer::classify(&a, status, None, data);
});
