//! Reading Shopify's order, fulfillment and refund webhooks into canonical
//! updates (SPEC 3.5), and ordersync's own format, as the webhook endpoint will.

use ordersync::ingress::{DecodeError, decode, decode_list};
use ordersync::order::Event;
use ordersync::rules::Format;

const ORDER: &str = include_str!("fixtures/shopify_order.json");

fn headers(topic: &'static str) -> impl Fn(&str) -> Option<String> {
    move |name: &str| match name {
        "x-shopify-topic" => Some(topic.to_string()),
        "x-shopify-event-id" => Some("98880550-7158-44d4-b7cd-2c97c8a091b5".to_string()),
        "x-shopify-triggered-at" => Some("2026-11-20T15:31:12.123Z".to_string()),
        _ => None,
    }
}

#[test]
fn an_order_webhook_becomes_a_canonical_order() {
    let u = decode(Format::Shopify, &headers("orders/create"), ORDER.as_bytes()).unwrap();
    assert_eq!(u.id, "98880550-7158-44d4-b7cd-2c97c8a091b5");
    assert_eq!(u.event, Event::Created);
    assert_eq!(u.occurred_at.as_deref(), Some("2026-11-20T15:31:12.123Z"));
    assert_eq!(
        u.order.to_json(),
        concat!(
            r##"{"id":"5940139491234","name":"#1042","created_at":"2026-11-20T10:30:00-05:00","##,
            r#""updated_at":"2026-11-20T10:31:12-05:00","status":"open","financial_status":"paid","#,
            r#""fulfillment_status":null,"currency":"EUR","total_price":129.9,"subtotal_price":109.97,"#,
            r#""total_tax":9.94,"total_shipping":9.99,"tags":["eBay","VIP"],"note":"Leave at the door","#,
            r#""invoice_number":"INV-1042","shipping_method":"Colissimo","#,
            r#""customer":{"email":"camille.martin@example.fr","first_name":"Camille","last_name":"Martin","phone":null},"#,
            r#""shipping_address":{"name":"Camille Martin","company":null,"address1":"12 Rue de la République","#,
            r#""address2":"","city":"Lyon","province":null,"zip":"69002","country":"FR","phone":"+33 4 00 00 00 00"},"#,
            r#""billing_address":null,"#,
            r#""line_items":[{"sku":"DS-MUG-12","title":"Hand-glazed mug","quantity":2,"price":24.99},"#,
            r#"{"sku":"TEE-M","title":"T-shirt","quantity":1,"price":59.99}],"#,
            r#""shipments":[{"carrier":"UPS","tracking_number":"1Z2345","tracking_url":"https://ups.example/1Z2345","#,
            r#""shipped_at":"2026-11-21T08:00:00-05:00","line_items":[{"sku":"DS-MUG-12","quantity":2}]}],"#,
            r#""returns":[],"number":42,"token":"b1946ac92492d2347c6235b4d2611184"}"#
        )
    );
}

#[test]
fn topics_map_to_events() {
    let rows = [
        ("orders/create", Event::Created),
        ("orders/updated", Event::Updated),
        ("orders/cancelled", Event::Cancelled),
        ("orders/fulfilled", Event::Shipped),
    ];
    for (topic, event) in rows {
        let u = decode(Format::Shopify, &headers(topic), ORDER.as_bytes()).unwrap();
        assert_eq!(u.event, event, "{topic}");
    }
    let err = decode(
        Format::Shopify,
        &headers("products/create"),
        ORDER.as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported Shopify topic `products/create`"
    );
}

#[test]
fn a_fulfillment_webhook_is_a_shipment_of_its_order() {
    let body = br#"{"id": 255858046, "order_id": 5940139491234, "status": "success",
        "created_at": "2026-11-21T08:00:00-05:00", "tracking_company": "DHL",
        "tracking_number": "JD0001", "tracking_url": null,
        "line_items": [{"id": 1, "sku": "DS-MUG-12", "quantity": 2}]}"#;
    let u = decode(Format::Shopify, &headers("fulfillments/create"), body).unwrap();
    assert_eq!(u.event, Event::Shipped);
    assert_eq!(
        u.order.to_json(),
        r#"{"id":"5940139491234","shipments":[{"carrier":"DHL","tracking_number":"JD0001","tracking_url":null,"shipped_at":"2026-11-21T08:00:00-05:00","line_items":[{"sku":"DS-MUG-12","quantity":2}]}]}"#
    );
}

#[test]
fn a_refund_webhook_is_a_return_of_its_order() {
    let body = br#"{"id": 509562969, "order_id": 5940139491234, "note": "damaged",
        "refund_line_items": [{"quantity": 1, "line_item": {"sku": "DS-MUG-12", "title": "Hand-glazed mug", "price": "24.99"}}],
        "transactions": [{"amount": "24.99", "kind": "refund"}]}"#;
    let u = decode(Format::Shopify, &headers("refunds/create"), body).unwrap();
    assert_eq!(u.event, Event::Returned);
    assert_eq!(
        u.order.to_json(),
        r#"{"id":"5940139491234","returns":[{"reason":"damaged","line_items":[{"sku":"DS-MUG-12","title":"Hand-glazed mug","quantity":1,"price":24.99}],"refund_amount":24.99}]}"#
    );
}

#[test]
fn bad_requests_say_why() {
    let no_topic = |_: &str| None;
    assert_eq!(
        decode(Format::Shopify, &no_topic, ORDER.as_bytes()).unwrap_err(),
        DecodeError::MissingHeader("X-Shopify-Topic")
    );
    let no_id = |name: &str| (name == "x-shopify-topic").then(|| "orders/create".to_string());
    assert_eq!(
        decode(Format::Shopify, &no_id, ORDER.as_bytes())
            .unwrap_err()
            .to_string(),
        "missing header `X-Shopify-Event-Id`"
    );
    assert_eq!(
        decode(Format::Shopify, &headers("orders/create"), b"{\"id\": 1, ")
            .unwrap_err()
            .to_string(),
        "the body is not JSON: EOF while parsing an object at line 1 column 10"
    );
    let bad_money = ORDER.replace("\"129.90\"", "\"12,90\"");
    assert_eq!(
        decode(
            Format::Shopify,
            &headers("orders/create"),
            bad_money.as_bytes()
        )
        .unwrap_err()
        .to_string(),
        "`total_price` is not an amount: \"12,90\""
    );
}

#[test]
fn polled_lists_are_read_item_by_item() {
    let body =
        br#"[{"id": "evt-1", "event": "created", "order": {"id": "27-1"}}, {"id": "evt-2"}]"#;
    let items = decode_list(Format::Ordersync, body).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].read.as_ref().unwrap().id, "evt-1");
    assert_eq!(
        items[0].raw,
        r#"{"id":"evt-1","event":"created","order":{"id":"27-1"}}"#
    );
    assert_eq!(
        items[1].read.as_ref().unwrap_err().to_string(),
        "missing `event`"
    );
    let shopify = format!("[{ORDER}]");
    let items = decode_list(Format::Shopify, shopify.as_bytes()).unwrap();
    let u = items[0].read.as_ref().unwrap();
    assert_eq!(u.id, "5940139491234@2026-11-20T10:31:12-05:00");
    assert_eq!(u.event, Event::Updated);
    assert_eq!(
        decode_list(Format::Ordersync, b"{}")
            .unwrap_err()
            .to_string(),
        "a poll response must be a JSON array of updates"
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300), topic in "[a-z/_]{0,20}") {
            let topic = topic.clone();
            let header = move |name: &str| match name {
                "x-shopify-topic" => Some(topic.clone()),
                "x-shopify-event-id" => Some("e".to_string()),
                _ => None,
            };
            let _ = decode(Format::Shopify, &header, &bytes);
            let _ = decode(Format::Ordersync, &header, &bytes);
            let _ = decode_list(Format::Shopify, &bytes);
            let _ = decode_list(Format::Ordersync, &bytes);
        }

        #[test]
        fn on_a_damaged_order(cut in 0usize..ORDER.len(), insert in prop_oneof![Just("null"), Just("[]"), Just("{}"), Just("\"x\""), Just("1"), Just(",")]) {
            // Replace a value-shaped piece of the real payload with another kind of value.
            let at = ORDER.char_indices().map(|(i, _)| i).find(|&i| i >= cut).unwrap_or(ORDER.len());
            let mut text = ORDER.to_string();
            text.insert_str(at, insert);
            for topic in ["orders/create", "fulfillments/create", "refunds/create"] {
                let _ = decode(Format::Shopify, &headers(topic), text.as_bytes());
            }
            let swapped = ORDER
                .replace("\"129.90\"", insert)
                .replace("\"eBay, VIP ,  \"", insert)
                .replace("[{\"name\": \"invoice_number\", \"value\": \"INV-1042\"}, {\"name\": \"gift\", \"value\": \"yes\"}]", insert);
            for topic in ["orders/create", "fulfillments/create", "refunds/create"] {
                let _ = decode(Format::Shopify, &headers(topic), swapped.as_bytes());
            }
        }
    }
}

/// Shopify's own sample payloads (tests/fixtures/shopify/, from the webhook
/// reference; see its README), read as the webhook endpoint reads them.
#[test]
fn shopifys_documented_samples_are_read() {
    let create = include_str!("fixtures/shopify/orders-create.json");
    let u = decode(
        Format::Shopify,
        &headers("orders/create"),
        create.as_bytes(),
    )
    .unwrap();
    assert_eq!(u.event, Event::Created);
    // The id is above 2^53: every digit kept.
    assert_eq!(
        u.order.get("id").unwrap().as_str(),
        Some("820982911946154508")
    );
    assert_eq!(u.order.get("total_price").unwrap().to_string(), "404.95");
    assert_eq!(u.order.get("status").unwrap().as_str(), Some("open"));
    let tags: Vec<&str> = u
        .order
        .get("tags")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(tags, ["tag1", "tag2"]);

    let cancelled = include_str!("fixtures/shopify/orders-cancelled.json");
    let u = decode(
        Format::Shopify,
        &headers("orders/cancelled"),
        cancelled.as_bytes(),
    )
    .unwrap();
    assert_eq!(u.event, Event::Cancelled);
    assert_eq!(u.order.get("status").unwrap().as_str(), Some("cancelled"));

    let shipped = include_str!("fixtures/shopify/fulfillments-create.json");
    let u = decode(
        Format::Shopify,
        &headers("fulfillments/create"),
        shipped.as_bytes(),
    )
    .unwrap();
    assert_eq!(u.event, Event::Shipped);
    assert_eq!(
        u.order.get("id").unwrap().as_str(),
        Some("820982911946154508")
    );
    assert_eq!(
        u.order
            .get_path("shipments.0.tracking_number")
            .unwrap()
            .as_str(),
        Some("1z827wk74630")
    );
}
