//! The seed recipe end to end through `decide`, on the bundled
//! `rules.example.yaml`: marketplaces tag their orders on import, and the store's
//! updates go back only to the marketplace the order came from.

mod common;

use std::path::Path;

use common::{now, run};
use ordersync::engine::testing::run_tests;
use ordersync::engine::{Decisions, Outcome, SkipReason, Update, decide};
use ordersync::order::Event;
use ordersync::rules::{self, RuleSet};
use ordersync::value::Value;

fn example() -> RuleSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    rules::load(&path).unwrap_or_else(|e| panic!("{}", rules::render_all(&e)))
}

fn outcome<'a>(d: &'a Decisions, dest: &str) -> &'a Outcome {
    &common::decision(d, dest).outcome
}

#[test]
fn the_example_rules_pass_their_own_tests() {
    let rules = example();
    let results = run_tests(&rules);
    assert!(results.len() >= 12, "the example covers each rule");
    let failed: Vec<_> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| &r.name)
        .collect();
    assert!(failed.is_empty(), "failing example tests: {failed:?}");
}

#[test]
fn an_ebay_order_creates_a_tagged_store_order() {
    let rules = example();
    let d = run(
        &rules,
        "ebay",
        Event::Created,
        r#"{"id":"27-1138","financial_status":"paid","tags":[],"total_price":20,"currency":"USD"}"#,
        &[],
    );
    assert_eq!(d.rules_version, rules.version);
    assert_eq!(
        d.decisions.len(),
        1,
        "a marketplace routes to the store only"
    );
    let shop = &d.decisions[0];
    assert_eq!(&*shop.destination, "shopify");
    assert_eq!(shop.outcome, Outcome::Deliver);
    let out = shop.order.as_ref().unwrap();
    assert_eq!(
        out.get("tags"),
        Some(&Value::from_json(r#"["eBay"]"#).unwrap())
    );
    assert_eq!(
        out.get("id"),
        Some(&Value::text("27-1138")),
        "the order keeps its source id"
    );
    assert_eq!(shop.changes.len(), 1);
    assert_eq!(shop.changes[0].field, "tags");
    assert_eq!(shop.changes[0].before.to_json(), "[]");
    assert_eq!(shop.changes[0].after.to_json(), r#"["eBay"]"#);
}

#[test]
fn a_store_shipment_goes_to_ebay_only() {
    let rules = example();
    let d = run(
        &rules,
        "shopify",
        Event::Shipped,
        r#"{"id":"5001","tags":["eBay"],"shipments":[{"carrier":"UPS","tracking_number":"1Z999"}]}"#,
        &[],
    );
    let names: Vec<&str> = d.decisions.iter().map(|x| &*x.destination).collect();
    assert_eq!(names, ["ebay", "amazon", "etsy", "supplier"]);
    assert_eq!(outcome(&d, "ebay"), &Outcome::Deliver);
    assert_eq!(
        outcome(&d, "amazon"),
        &Outcome::Skip(SkipReason::PublishFalse)
    );
    assert_eq!(outcome(&d, "amazon").to_string(), "skip: publish is false");
    assert_eq!(
        outcome(&d, "etsy"),
        &Outcome::Skip(SkipReason::PublishFalse)
    );
    assert_eq!(
        outcome(&d, "supplier").to_string(),
        "skip: event shipped is not accepted"
    );

    // The trace says why Amazon was skipped: the condition, the value it saw, the result.
    let amazon = d
        .decisions
        .iter()
        .find(|x| &*x.destination == "amazon")
        .unwrap();
    let publish = amazon.trace.iter().find(|s| &*s.rule == "publish").unwrap();
    assert_eq!(&*publish.expression, "tags contains \"Amazon\"");
    assert_eq!(publish.result, Value::Bool(false));
    assert_eq!(publish.seen.len(), 1);
    assert_eq!(&*publish.seen[0].field, "tags");
    assert_eq!(publish.seen[0].value.to_json(), r#"["eBay"]"#);
    assert!(publish.place.starts_with(
        &format!("{}:", Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml").display())
    ));

    // The delivered order carries the note, and each condition saw the order as changed above it.
    let ebay = d
        .decisions
        .iter()
        .find(|x| &*x.destination == "ebay")
        .unwrap();
    assert_eq!(
        ebay.order.as_ref().unwrap().get("note"),
        Some(&Value::text("synced by ordersync from shopify"))
    );
    assert_eq!(ebay.trace.len(), 2, "the note expression, then publish");
}

#[test]
fn what_a_destination_already_has_is_not_sent_again() {
    let rules = example();
    let order = r#"{"id":"5001","tags":["eBay"],"shipments":[{"carrier":"UPS","tracking_number":"1Z999"}]}"#;
    let first = run(&rules, "shopify", Event::Shipped, order, &[]);
    let sent = first.decisions[0].order.clone().unwrap();
    let again = run(&rules, "shopify", Event::Shipped, order, &[("ebay", &sent)]);
    assert_eq!(
        outcome(&again, "ebay"),
        &Outcome::Skip(SkipReason::NoChange)
    );
    // A real change is delivered.
    let changed = r#"{"id":"5001","tags":["eBay"],"shipments":[{"carrier":"UPS","tracking_number":"1Z000"}]}"#;
    let next = run(
        &rules,
        "shopify",
        Event::Shipped,
        changed,
        &[("ebay", &sent)],
    );
    assert_eq!(outcome(&next, "ebay"), &Outcome::Deliver);
}

#[test]
fn etsy_imports_only_paid_unshipped_orders() {
    let rules = example();
    let paid = run(
        &rules,
        "etsy",
        Event::Created,
        r#"{"id":"E-1","financial_status":"paid","tags":[]}"#,
        &[],
    );
    assert!(!paid.ignored);
    assert_eq!(outcome(&paid, "shopify"), &Outcome::Deliver);
    let unpaid = run(
        &rules,
        "etsy",
        Event::Created,
        r#"{"id":"E-2","financial_status":"pending"}"#,
        &[],
    );
    assert!(unpaid.ignored);
    assert_eq!(
        outcome(&unpaid, "shopify").to_string(),
        "skip: ignored by import"
    );
    assert_eq!(&*unpaid.decisions[0].trace[0].rule, "import");
}

#[test]
fn a_runtime_error_stays_with_its_destination() {
    let rules = example();
    let d = run(
        &rules,
        "shopify",
        Event::Created,
        r#"{"id":"5009","tags":["eBay"],"currency":"XYZ","total_price":10,"invoice_number":"I-1",
            "shipping_address":{"address1":"1 Main St","country":"US"},"line_items":[{"sku":"DS-1"}]}"#,
        &[],
    );
    match outcome(&d, "supplier") {
        Outcome::Error(m) => assert!(
            m.starts_with("total_price (")
                && m.ends_with(
                    "): unknown currency \"XYZ\" in `convert(total_price, currency, \"USD\")`"
                ),
            "{m}"
        ),
        other => panic!("supplier: {other}"),
    }
    assert_eq!(
        outcome(&d, "ebay"),
        &Outcome::Skip(SkipReason::NotAccepted(Event::Created))
    );
    assert_eq!(
        outcome(&d, "amazon"),
        &Outcome::Skip(SkipReason::NotAccepted(Event::Created))
    );
}

#[test]
fn a_dropship_order_is_held_until_its_invoice_number_is_known() {
    let rules = example();
    let base = r#"{"id":"5010","currency":"USD","total_price":30,"shipping_address":{"address1":"1 Main St","country":"US"},"line_items":[{"sku":"DS-1"}]"#;
    let held = run(&rules, "shopify", Event::Created, &format!("{base}}}"), &[]);
    assert_eq!(
        outcome(&held, "supplier"),
        &Outcome::Draft(vec!["invoice_number".to_string()])
    );
    let with = run(
        &rules,
        "shopify",
        Event::Created,
        &format!(r#"{base},"invoice_number":"INV-9"}}"#),
        &[],
    );
    assert_eq!(outcome(&with, "supplier"), &Outcome::Deliver);
    let sent = with
        .decisions
        .iter()
        .find(|x| &*x.destination == "supplier")
        .unwrap();
    assert_eq!(
        sent.order.as_ref().unwrap().get("shipping_method"),
        Some(&Value::text("standard"))
    );
}

#[test]
fn an_unknown_source_is_an_error() {
    let rules = example();
    let order = Value::from_json("{}").unwrap();
    let err = decide(
        &rules,
        &Update {
            source: "walmart",
            event: Event::Created,
            order: &order,
            now: now(),
        },
        &[],
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "unknown channel `walmart`");
}
