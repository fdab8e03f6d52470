//! How attributes shape the outgoing order (SPEC 3.1): top to bottom, source
//! attributes before the destination's overwrite, lists merged unless
//! `mode: replace`, each condition seeing the order as changed above it.

mod common;

use ordersync::engine::{Decisions, Outcome, Update, decide};
use ordersync::order::Event;
use ordersync::rules::{LoadOptions, RuleSet, load_str, render_all};
use ordersync::value::Value;

const RULES: &str = r#"
version: 1
channels:
  store:
    role: commerce_platform
    deliver: { url: "http://127.0.0.1:9101/orders" }
  market:
    role: marketplace
    webhook: { format: ordersync, secret: s }
    deliver: { url: "http://127.0.0.1:9102/orders", accepts: [shipped] }
  wholesale:
    role: marketplace
    deliver: { url: "http://127.0.0.1:9103/orders" }
fields:
  gift_wrap: bool
  metafields.channel_fee: number
rules:
  market:
    attributes:
      tags: [Market, Imported]
      note: { value: '"for " + destination' }
      gift_wrap: { when: 'any(line_items, sku ends_with "-GIFT")', then: true }
      priority:
        cases:
          - { when: 'tags contains "Imported" and total_price > 50', then: high }
        otherwise: normal
      metafields.channel_fee: { value: total_price * 0.1 }
  store:
    attributes:
      tags: { constant: [Synced], mode: replace }
    overwrites:
      market:
        attributes:
          publish: { when: tags contains "Market", then: true, otherwise: false }
      wholesale:
        attributes:
          tags: { constant: Wholesale }
"#;

fn rules() -> RuleSet {
    // `priority` is not a canonical field: declare it by adding it to `fields`.
    let text = RULES.replace(
        "  gift_wrap: bool\n",
        "  gift_wrap: bool\n  priority: text\n",
    );
    load_str("rules.yaml", &text, &LoadOptions { env: &|_| None })
        .unwrap_or_else(|e| panic!("{}", render_all(&e)))
}

fn run(rules: &RuleSet, source: &str, event: Event, order: &str) -> Decisions {
    common::run(rules, source, event, order, &[])
}

fn out<'a>(d: &'a Decisions, dest: &str) -> &'a Value {
    common::decision(d, dest).order.as_ref().unwrap()
}

#[test]
fn attributes_apply_top_to_bottom_and_see_the_changes_above() {
    let rules = rules();
    let d = run(
        &rules,
        "market",
        Event::Created,
        r#"{"id":"M-1","tags":["imported","vip"],"total_price":80,"line_items":[{"sku":"MUG-GIFT"}]}"#,
    );
    let o = out(&d, "store");
    // A list gains the constant's values once, ignoring case, order kept.
    assert_eq!(
        o.get("tags").unwrap().to_json(),
        r#"["imported","vip","Market"]"#
    );
    assert_eq!(o.get("note"), Some(&Value::text("for store")));
    assert_eq!(o.get("gift_wrap"), Some(&Value::Bool(true)));
    assert_eq!(o.get("priority"), Some(&Value::text("high")));
    assert_eq!(o.get_path("metafields.channel_fee"), Some(&Value::int(8)));
    let fields: Vec<&str> = d.decisions[0]
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "tags",
            "note",
            "gift_wrap",
            "priority",
            "metafields.channel_fee"
        ]
    );
}

#[test]
fn when_without_otherwise_leaves_the_field_alone() {
    let rules = rules();
    let d = run(
        &rules,
        "market",
        Event::Created,
        r#"{"id":"M-2","gift_wrap":false,"line_items":[{"sku":"MUG"}]}"#,
    );
    assert_eq!(out(&d, "store").get("gift_wrap"), Some(&Value::Bool(false)));
    assert_eq!(
        out(&d, "store").get("priority"),
        Some(&Value::text("normal"))
    );
}

#[test]
fn replace_mode_and_overwrites_after_source_attributes() {
    let rules = rules();
    let d = run(
        &rules,
        "store",
        Event::Shipped,
        r#"{"id":"S-1","tags":["Market","x"]}"#,
    );
    // `mode: replace` drops the incoming tags, so the overwrite no longer sees "Market".
    assert_eq!(
        d.decisions
            .iter()
            .find(|x| &*x.destination == "market")
            .unwrap()
            .outcome
            .to_string(),
        "skip: publish is false"
    );
    assert_eq!(
        out(&d, "wholesale").get("tags").unwrap().to_json(),
        r#"["Synced","Wholesale"]"#
    );
}

#[test]
fn the_incoming_order_is_never_changed() {
    let rules = rules();
    let order = Value::from_json(r#"{"id":"M-3","tags":["a"],"total_price":10}"#).unwrap();
    let before = order.to_json();
    let now = "2026-11-22T12:00:00Z".parse().unwrap();
    let d = decide(
        &rules,
        &Update {
            source: "market",
            event: Event::Created,
            order: &order,
            now,
        },
        &[],
    )
    .unwrap();
    assert_eq!(d.decisions[0].outcome, Outcome::Deliver);
    assert_eq!(order.to_json(), before);
}

#[test]
fn an_undeclared_attribute_field_is_an_error_with_a_hint() {
    let errors = load_str("rules.yaml", RULES, &LoadOptions { env: &|_| None }).unwrap_err();
    assert_eq!(errors.len(), 1, "{}", render_all(&errors));
    assert_eq!(errors[0].message, "unknown field `priority`");
    assert_eq!(
        errors[0].hint.as_deref(),
        Some("declare custom fields under `fields:` with their type")
    );
    assert_eq!((errors[0].line, errors[0].column), (23, 7));
}

#[test]
fn source_attributes_without_destination_are_applied_once_and_shared() {
    let rules = rules();
    assert!(
        !rules.channel("market").unwrap().shared_attributes,
        "`note` reads `destination`"
    );
    assert!(rules.channel("store").unwrap().shared_attributes);
    // Every destination still gets the shared attributes' changes and trace.
    let d = run(
        &rules,
        "store",
        Event::Shipped,
        r#"{"id":"S-2","tags":["Market"]}"#,
    );
    for dest in ["market", "wholesale"] {
        let x = common::decision(&d, dest);
        assert_eq!(x.changes[0].field, "tags", "{dest}");
        assert_eq!(
            x.changes[0].after.to_json(),
            if dest == "market" {
                r#"["Synced"]"#
            } else {
                r#"["Synced","Wholesale"]"#
            }
        );
    }
}

#[test]
fn a_constant_tag_on_an_order_without_tags_makes_a_list() {
    let rules = rules();
    let d = run(&rules, "market", Event::Created, r#"{"id": "1"}"#);
    assert_eq!(
        out(&d, "store").get("tags").unwrap().to_json(),
        r#"["Market","Imported"]"#
    );
    let one = load_str(
        "rules.yaml",
        r#"
version: 1
channels:
  store: { role: commerce_platform, deliver: { url: "http://127.0.0.1:9101/orders" } }
  market: { role: marketplace, webhook: { format: ordersync, secret: s } }
rules:
  market: { attributes: { tags: Market } }
"#,
        &LoadOptions { env: &|_| None },
    )
    .unwrap();
    let d = run(&one, "market", Event::Created, r#"{"id": "1"}"#);
    assert_eq!(
        out(&d, "store").get("tags").unwrap().to_json(),
        r#"["Market"]"#
    );
    let d = run(
        &one,
        "market",
        Event::Created,
        r#"{"id": "1", "tags": null}"#,
    );
    assert_eq!(
        out(&d, "store").get("tags").unwrap().to_json(),
        r#"["Market"]"#
    );
}
