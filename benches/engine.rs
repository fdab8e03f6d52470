//! Engine benchmarks: whole decisions against `rules.example.yaml`, and reading
//! an order.
//!
//! * `decide/shopify_created_all_destinations`: a Shopify `created` update of a
//!   dropship order (tags, line items with a `DS-` SKU, shipping address, EUR,
//!   invoice number), decided for all 4 destinations of the store's route
//!   (ebay, amazon, etsy, supplier): routing, `accepts`, the store's attributes
//!   and each destination's overwrites applied, `require` checked, with the
//!   trace of every condition evaluated. That is one call of `engine::decide`.
//! * `decide/ebay_created`: an eBay order imported into the store (the eBay
//!   rules tag it `eBay`).
//! * `read/order_json`: `Value::from_json` of the Shopify order JSON.
//!
//! The rules are loaded and the orders read once, outside the timed loop; `now`
//! is a constant, so every iteration makes the same decision.
//!
//! Run with: cargo bench --bench engine

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ordersync::engine::{Outcome, SkipReason, Update, decide};
use ordersync::order::Event;
use ordersync::rules::{self, RuleSet, render_all};
use ordersync::value::Value;

/// A Shopify `orders/create` payload in the canonical shape (SPEC 3.5): a
/// dropship order from a French customer, paid in EUR, with one `DS-` SKU.
const SHOPIFY_ORDER_JSON: &str = r##"{
  "id": "5704392835241",
  "name": "#1042",
  "created_at": "2025-03-14T09:26:53+01:00",
  "updated_at": "2025-03-14T09:31:07+01:00",
  "status": "open",
  "financial_status": "paid",
  "fulfillment_status": null,
  "currency": "EUR",
  "total_price": 149.9,
  "subtotal_price": 127.47,
  "total_tax": 15.45,
  "total_shipping": 6.98,
  "tags": ["eBay", "gift", "priority"],
  "note": "Gift wrap, please: it is a birthday present.",
  "invoice_number": "INV-2025-001042",
  "shipping_method": "Colissimo",
  "customer": {
    "email": "camille.martin@example.fr",
    "first_name": "Camille",
    "last_name": "Martin",
    "phone": "+33 6 12 34 56 78"
  },
  "shipping_address": {
    "name": "Camille Martin",
    "company": null,
    "address1": "12 Rue de la Republique",
    "address2": "Batiment B, 3e etage",
    "city": "Lyon",
    "province": null,
    "zip": "69002",
    "country": "FR",
    "phone": "+33 6 12 34 56 78"
  },
  "billing_address": {
    "name": "Camille Martin",
    "company": "Martin Conseil SARL",
    "address1": "45 Avenue Jean Jaures",
    "address2": null,
    "city": "Lyon",
    "province": null,
    "zip": "69007",
    "country": "FR",
    "phone": "+33 4 78 00 11 22"
  },
  "line_items": [
    {
      "sku": "DS-CER-MUG-12",
      "title": "Hand-glazed ceramic mug, 12 oz",
      "quantity": 2,
      "price": 24.99
    },
    {
      "sku": "TEE-ORG-M-NAVY",
      "title": "Organic cotton T-shirt, navy, M",
      "quantity": 1,
      "price": 34.5
    },
    {
      "sku": "CAN-SOY-LAV",
      "title": "Lavender soy candle",
      "quantity": 1,
      "price": 42.99
    }
  ],
  "shipments": []
}"##;

/// An eBay order as the eBay poll returns it (canonical shape, no tags yet).
const EBAY_ORDER_JSON: &str = r#"{
  "id": "27-11385-90213",
  "name": "27-11385-90213",
  "created_at": "2025-03-14T08:02:41Z",
  "updated_at": "2025-03-14T08:02:41Z",
  "status": "open",
  "financial_status": "paid",
  "fulfillment_status": null,
  "currency": "USD",
  "total_price": 58.49,
  "subtotal_price": 49.99,
  "total_tax": 3.5,
  "total_shipping": 5.0,
  "tags": [],
  "note": null,
  "invoice_number": null,
  "shipping_method": "USPS Ground Advantage",
  "customer": {
    "email": "j.doe.buyer@example.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "phone": null
  },
  "shipping_address": {
    "name": "Jane Doe",
    "company": null,
    "address1": "1600 Mission Street",
    "address2": "Apt 4B",
    "city": "San Francisco",
    "province": "CA",
    "zip": "94103",
    "country": "US",
    "phone": "+1 415-555-0134"
  },
  "billing_address": null,
  "line_items": [
    {
      "sku": "TEE-ORG-M-NAVY",
      "title": "Organic cotton T-shirt, navy, M",
      "quantity": 1,
      "price": 34.5
    },
    {
      "sku": "CAN-SOY-LAV",
      "title": "Lavender soy candle",
      "quantity": 1,
      "price": 15.49
    }
  ],
  "shipments": []
}"#;

fn rules() -> RuleSet {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules.example.yaml"));
    rules::load(path)
        .unwrap_or_else(|errors| panic!("rules.example.yaml:\n{}", render_all(&errors)))
}

/// The time `now()` returns: fixed, so every iteration decides the same.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 9, 35, 0)
        .single()
        .expect("a valid time")
}

fn read(json: &str) -> Value {
    Value::from_json(json).expect("the bench order is JSON")
}

/// Checks (untimed) that the benchmarked decisions are the ones intended, so
/// a change to the rules file cannot quietly turn a bench into a no-op.
fn check_decisions(rules: &RuleSet, shopify: &Update, ebay: &Update) {
    let d = decide(rules, shopify, &[]).expect("shopify is a channel");
    let outcomes: Vec<(&str, &Outcome)> = d
        .decisions
        .iter()
        .map(|x| (&*x.destination, &x.outcome))
        .collect();
    let not_accepted = Outcome::Skip(SkipReason::NotAccepted(Event::Created));
    assert_eq!(
        outcomes,
        [
            ("ebay", &not_accepted),
            ("amazon", &not_accepted),
            ("etsy", &not_accepted),
            ("supplier", &Outcome::Deliver),
        ],
        "shopify created: unexpected outcomes"
    );
    let supplier = &d.decisions[3];
    let out = supplier.order.as_ref().expect("deliver carries the order");
    assert_eq!(out.get("currency"), Some(&Value::text("USD")));
    assert_eq!(out.get("shipping_method"), Some(&Value::text("express")));
    // note, publish, total_price, shipping_method (case 1): four conditions traced.
    assert_eq!(
        supplier.trace.len(),
        4,
        "supplier trace: {:?}",
        supplier.trace
    );

    let d = decide(rules, ebay, &[]).expect("ebay is a channel");
    assert_eq!(d.decisions.len(), 1);
    assert_eq!(&*d.decisions[0].destination, "shopify");
    assert_eq!(d.decisions[0].outcome, Outcome::Deliver);
    let out = d.decisions[0]
        .order
        .as_ref()
        .expect("deliver carries the order");
    assert_eq!(
        out.get("tags"),
        Some(&Value::list(vec![Value::text("eBay")]))
    );
}

fn engine(c: &mut Criterion) {
    let rules = rules();
    let shopify_order = read(SHOPIFY_ORDER_JSON);
    let ebay_order = read(EBAY_ORDER_JSON);
    let shopify = Update {
        source: "shopify",
        event: Event::Created,
        order: &shopify_order,
        now: now(),
    };
    let ebay = Update {
        source: "ebay",
        event: Event::Created,
        order: &ebay_order,
        now: now(),
    };
    check_decisions(&rules, &shopify, &ebay);

    let mut group = c.benchmark_group("decide");
    group.bench_function("shopify_created_all_destinations", |b| {
        b.iter(|| decide(black_box(&rules), black_box(&shopify), &[]).expect("decided"))
    });
    group.bench_function("ebay_created", |b| {
        b.iter(|| decide(black_box(&rules), black_box(&ebay), &[]).expect("decided"))
    });
    group.finish();

    let mut group = c.benchmark_group("read");
    group.bench_function("order_json", |b| {
        b.iter(|| Value::from_json(black_box(SHOPIFY_ORDER_JSON)).expect("JSON"))
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
