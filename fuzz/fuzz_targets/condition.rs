//! The condition language: parse, compile against the canonical order, and
//! evaluate on a small order; none of it may panic or hang (SPEC 10.7).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordersync::condition::{CompileEnv, Condition, Rates, Scope, parser};
use ordersync::order::{CANONICAL_ORDER, Event};
use ordersync::value::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parser::parse(text);
    let rates = Rates::default();
    let env = CompileEnv {
        order: &CANONICAL_ORDER,
        rates: &rates,
        destination_known: true,
    };
    if let Ok(cond) = Condition::compile(text, &env) {
        let order = Value::from_json(
            r#"{"id": "1", "tags": ["eBay"], "total_price": 12.5, "currency": "EUR",
                "line_items": [{"sku": "DS-1", "quantity": 2, "price": 5}],
                "shipping_address": {"country": "US"}}"#,
        )
        .unwrap();
        let scope = Scope {
            order: &order,
            event: Event::Created,
            source: "shop",
            destination: Some("ebay"),
            now: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            rates: &rates,
        };
        let _ = cond.eval(&scope);
    }
});
