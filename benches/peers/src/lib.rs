//! The shared parts of the peer comparison: the order, the typed struct, the
//! hand-written floor, and the same 8 conditions compiled for datalogic-rs, cel
//! and ordersync. Used by `benches/conditions.rs` (criterion, wall time) and by
//! the `count` binary (one workload in a loop, for `valgrind --tool=callgrind`
//! instruction counts, which do not depend on how busy the machine is).
//!
//! Peer comparison: 8 realistic order conditions evaluated by
//!
//! * `floor`     — hand-written Rust over a typed order struct (the lower bound),
//! * `datalogic` — JSONLogic via `datalogic-rs` (compile once, evaluate many),
//! * `cel`       — Common Expression Language via `cel` (compile once, evaluate many),
//! * `ordersync` — ordersync's condition language (compile once, evaluate many),
//!   in [`ordersync_group`].
//!
//! Everything that is not evaluation (parsing rules, parsing the order,
//! converting it into each engine's value type) happens outside the timed
//! loop. One iteration evaluates all 8 conditions against the already-parsed
//! order.
//!
//! A second group, `read_order`, measures reading the order JSON into the
//! floor's typed struct (`serde_typed`); ordersync's reader is wired in
//! [`ordersync_read`].
//!
//! The conditions, in ordersync's language (text comparisons are
//! case-insensitive; a missing field is null and comparisons with null are
//! false):
//!
//! 1. `tags contains "eBay"`
//! 2. `financial_status == "paid" and fulfillment_status is empty`
//! 3. `total_price > 50 and shipping_address.country in ["US", "CA", "GB"]`
//! 4. `any(line_items, sku starts_with "DS-")`
//! 5. `customer.email ends_with "@example.com" or tags contains "VIP"`
//! 6. `not (tags contains "Amazon")`
//! 7. `len(line_items) >= 2`
//! 8. `financial_status == "paid" and total_price >= 20 and currency == "USD"`

use std::hint::black_box;
use std::sync::Arc;

use datalogic_rs::{Engine, Logic, ParsedData, Session};
use ordersync::condition::{CompileEnv, Condition, Rates, Scope, parse_timestamp};
use ordersync::order::{CANONICAL_ORDER, Event};
use ordersync::value::Value;
use serde::Deserialize;

/// The bench order (Shopify-like field names, money as JSON numbers).
/// The bench order.
pub const ORDER_JSON: &str = include_str!("../benches/order.json");

/// Number of conditions evaluated per iteration.
/// How many conditions.
pub const N: usize = 8;

// ---------------------------------------------------------------------------
// Floor: typed struct + hand-written conditions
// ---------------------------------------------------------------------------

/// The canonical order shape, fully typed. Every canonical field is here (the
/// `read_order` group deserializes all of them), although the conditions only
/// read a few. Nullable / possibly-missing fields are `Option`s; lists default
/// to empty when missing (for these conditions an empty list and a null list
/// give the same answers). Timestamps stay RFC 3339 strings.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // fields are read by serde (read_order), not all by the conditions
pub struct TypedOrder {
    pub id: u64,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub status: Option<String>,
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub currency: Option<String>,
    pub total_price: Option<f64>,
    pub subtotal_price: Option<f64>,
    pub total_tax: Option<f64>,
    pub total_shipping: Option<f64>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub invoice_number: Option<String>,
    pub shipping_method: Option<String>,
    pub customer: Option<Customer>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub shipments: Vec<Shipment>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct Customer {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct Address {
    pub name: Option<String>,
    pub company: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct LineItem {
    pub sku: Option<String>,
    pub title: Option<String>,
    pub quantity: Option<u32>,
    pub price: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct Shipment {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub shipped_at: Option<String>,
}

/// `a == b`, case-insensitive; null is never equal.
pub fn eq_ci(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.eq_ignore_ascii_case(b))
}

/// `list contains needle`, case-insensitive.
pub fn contains_ci(list: &[String], needle: &str) -> bool {
    list.iter().any(|s| s.eq_ignore_ascii_case(needle))
}

/// `s starts_with prefix`, case-insensitive, without allocating.
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `s ends_with suffix`, case-insensitive, without allocating.
pub fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

pub fn floor_1(o: &TypedOrder) -> bool {
    contains_ci(&o.tags, "eBay")
}

pub fn floor_2(o: &TypedOrder) -> bool {
    // "is empty": null or "" (the typed field cannot hold [] or {}).
    eq_ci(o.financial_status.as_deref(), "paid")
        && o.fulfillment_status.as_deref().is_none_or(str::is_empty)
}

pub fn floor_3(o: &TypedOrder) -> bool {
    o.total_price.is_some_and(|p| p > 50.0)
        && o.shipping_address
            .as_ref()
            .and_then(|a| a.country.as_deref())
            .is_some_and(|c| ["US", "CA", "GB"].iter().any(|x| c.eq_ignore_ascii_case(x)))
}

pub fn floor_4(o: &TypedOrder) -> bool {
    o.line_items
        .iter()
        .any(|li| li.sku.as_deref().is_some_and(|s| starts_with_ci(s, "DS-")))
}

pub fn floor_5(o: &TypedOrder) -> bool {
    o.customer
        .as_ref()
        .and_then(|c| c.email.as_deref())
        .is_some_and(|e| ends_with_ci(e, "@example.com"))
        || contains_ci(&o.tags, "VIP")
}

pub fn floor_6(o: &TypedOrder) -> bool {
    !contains_ci(&o.tags, "Amazon")
}

pub fn floor_7(o: &TypedOrder) -> bool {
    o.line_items.len() >= 2
}

pub fn floor_8(o: &TypedOrder) -> bool {
    eq_ci(o.financial_status.as_deref(), "paid")
        && o.total_price.is_some_and(|p| p >= 20.0)
        && eq_ci(o.currency.as_deref(), "USD")
}

pub const FLOOR: [fn(&TypedOrder) -> bool; N] = [
    floor_1, floor_2, floor_3, floor_4, floor_5, floor_6, floor_7, floor_8,
];

/// Evaluates the 8 floor conditions. The order goes through `black_box` for
/// each condition so the compiler cannot share work between conditions (e.g.
/// the `financial_status == "paid"` test of 2 and 8), which no engine would.
pub fn floor_all(o: &TypedOrder) -> [bool; N] {
    FLOOR.map(|f| f(black_box(o)))
}

// ---------------------------------------------------------------------------
// datalogic-rs (JSONLogic)
// ---------------------------------------------------------------------------

/// The 8 conditions in JSONLogic. Differences from ordersync's semantics:
/// * text comparisons (`==`, `in`, `starts_with`, `ends_with`) are
///   case-SENSITIVE; the bench order uses the exact case, so results agree;
/// * "is empty" is written as `!` (falsy): null, "", [] and {} are falsy in
///   datalogic's default (JavaScript-like) truthiness — so are 0 and false;
/// * `length` of a missing/null field is an error rather than false.
///
/// `starts_with`, `ends_with` and `length` need the `ext-string` feature.
pub const DATALOGIC_RULES: [&str; N] = [
    r#"{"in": ["eBay", {"var": "tags"}]}"#,
    r#"{"and": [
        {"==": [{"var": "financial_status"}, "paid"]},
        {"!": {"var": "fulfillment_status"}}
    ]}"#,
    r#"{"and": [
        {">": [{"var": "total_price"}, 50]},
        {"in": [{"var": "shipping_address.country"}, ["US", "CA", "GB"]]}
    ]}"#,
    r#"{"some": [{"var": "line_items"}, {"starts_with": [{"var": "sku"}, "DS-"]}]}"#,
    r#"{"or": [
        {"ends_with": [{"var": "customer.email"}, "@example.com"]},
        {"in": ["VIP", {"var": "tags"}]}
    ]}"#,
    r#"{"!": {"in": ["Amazon", {"var": "tags"}]}}"#,
    r#"{">=": [{"length": {"var": "line_items"}}, 2]}"#,
    r#"{"and": [
        {"==": [{"var": "financial_status"}, "paid"]},
        {">=": [{"var": "total_price"}, 20]},
        {"==": [{"var": "currency"}, "USD"]}
    ]}"#,
];

pub fn datalogic_compile(engine: &Engine) -> [Logic; N] {
    DATALOGIC_RULES.map(|r| {
        engine
            .compile(r)
            .unwrap_or_else(|e| panic!("datalogic: cannot compile {r}: {e}"))
    })
}

/// Evaluates the 8 compiled rules against the pre-parsed order, borrowing the
/// results from the session arena, then rewinds the arena (O(1)).
pub fn datalogic_all(
    session: &mut Session<'_>,
    logic: &[Logic; N],
    data: &ParsedData,
) -> [bool; N] {
    let mut out = [false; N];
    for (slot, l) in out.iter_mut().zip(logic) {
        let v = session
            .eval_borrowed(l, black_box(data))
            .unwrap_or_else(|e| panic!("datalogic: evaluation failed: {e}"));
        *slot = v
            .as_bool()
            .unwrap_or_else(|| panic!("datalogic: not a bool: {v}"));
    }
    session.reset();
    out
}

// ---------------------------------------------------------------------------
// cel
// ---------------------------------------------------------------------------

/// The 8 conditions in CEL, with the order bound as the variable `order`.
/// Differences from ordersync's semantics:
/// * text comparisons (`==`, `in`, `startsWith`, `endsWith`) are
///   case-SENSITIVE; the bench order uses the exact case, so results agree;
/// * a missing field is an error ("no such key"), not null;
/// * "is empty" is spelled out for the null and string cases (Shopify's
///   `fulfillment_status` is a nullable string).
pub const CEL_PROGRAMS: [&str; N] = [
    r#""eBay" in order.tags"#,
    r#"order.financial_status == "paid"
        && (order.fulfillment_status == null || size(order.fulfillment_status) == 0)"#,
    r#"order.total_price > 50 && order.shipping_address.country in ["US", "CA", "GB"]"#,
    r#"order.line_items.exists(i, i.sku.startsWith("DS-"))"#,
    r#"order.customer.email.endsWith("@example.com") || "VIP" in order.tags"#,
    r#"!("Amazon" in order.tags)"#,
    r#"size(order.line_items) >= 2"#,
    r#"order.financial_status == "paid" && order.total_price >= 20 && order.currency == "USD""#,
];

pub fn cel_compile(env: &cel::Env) -> [cel::Program; N] {
    CEL_PROGRAMS.map(|src| {
        env.compile(src)
            .unwrap_or_else(|e| panic!("cel: cannot compile {src}: {e}"))
    })
}

/// A context with the standard library and `order` bound, converted once from
/// the JSON value into CEL values.
pub fn cel_context(
    env: &Arc<cel::Env>,
    order: &serde_json::Value,
) -> cel::Context<'static, 'static> {
    let mut ctx = cel::Context::with_env(Arc::clone(env));
    ctx.add_variable("order", order)
        .expect("cel: cannot convert the order");
    ctx
}

pub fn cel_all(programs: &[cel::Program; N], ctx: &cel::Context) -> [bool; N] {
    let mut out = [false; N];
    for (slot, p) in out.iter_mut().zip(programs) {
        *slot = match p.execute(black_box(ctx)) {
            Ok(cel::Value::Bool(b)) => b,
            other => panic!("cel: expected a bool, got {other:?}"),
        };
    }
    out
}

// ---------------------------------------------------------------------------
// ordersync
// ---------------------------------------------------------------------------

/// The 8 conditions in ordersync's language, exactly as listed at the top of
/// this file (ordersync's own semantics: case-insensitive text, missing = null).
pub const ORDERSYNC_CONDITIONS: [&str; N] = [
    r#"tags contains "eBay""#,
    r#"financial_status == "paid" and fulfillment_status is empty"#,
    r#"total_price > 50 and shipping_address.country in ["US", "CA", "GB"]"#,
    r#"any(line_items, sku starts_with "DS-")"#,
    r#"customer.email ends_with "@example.com" or tags contains "VIP""#,
    r#"not (tags contains "Amazon")"#,
    r#"len(line_items) >= 2"#,
    r#"financial_status == "paid" and total_price >= 20 and currency == "USD""#,
];

/// Compiles the 8 conditions against the canonical order type, as a rules
/// file without custom fields or currency rates would.
pub fn ordersync_compile() -> [Condition; N] {
    let rates = Rates::default();
    let env = CompileEnv {
        order: &CANONICAL_ORDER,
        rates: &rates,
        destination_known: false,
    };
    ORDERSYNC_CONDITIONS.map(|src| {
        Condition::compile(src, &env)
            .unwrap_or_else(|e| panic!("ordersync: cannot compile {src}: {e:?}"))
    })
}

/// The scope the engine would build for a `created` update from a marketplace,
/// with a fixed `now()` (none of the 8 conditions reads it).
pub fn ordersync_scope<'a>(order: &'a Value, rates: &'a Rates) -> Scope<'a> {
    Scope {
        order,
        event: Event::Created,
        source: "ebay",
        destination: None,
        now: parse_timestamp("2025-03-14T14:00:00Z").expect("a valid timestamp"),
        rates,
    }
}

pub fn ordersync_all(conditions: &[Condition; N], scope: &Scope) -> [bool; N] {
    let mut out = [false; N];
    for (slot, c) in out.iter_mut().zip(conditions) {
        *slot = c
            .eval_bool(black_box(scope))
            .unwrap_or_else(|e| panic!("ordersync: evaluation failed: {e}"));
    }
    out
}

// ---------------------------------------------------------------------------
// Sanity: all implementations agree
// ---------------------------------------------------------------------------

/// Variants of the bench order (not timed) so the agreement check also covers
/// false outcomes: `(label, patch applied to the order)`.
pub fn variants() -> Vec<(&'static str, serde_json::Value)> {
    let base: serde_json::Value = serde_json::from_str(ORDER_JSON).expect("order.json is JSON");
    let patch = |changes: serde_json::Value| {
        let mut order = base.clone();
        for (k, v) in changes.as_object().expect("patch is an object") {
            order[k] = v.clone();
        }
        order
    };
    let one_item = base["line_items"][1].clone();
    vec![
        ("bench order", base.clone()),
        (
            "all false",
            patch(serde_json::json!({
                "financial_status": "pending",
                "fulfillment_status": "fulfilled",
                "total_price": 19.5,
                "currency": "EUR",
                "tags": ["Amazon"],
                "customer": {"email": "sam@gmail.com", "first_name": "Sam",
                             "last_name": "Lee", "phone": null},
                "shipping_address": {"name": "Sam Lee", "company": null,
                    "address1": "Unter den Linden 1", "address2": null, "city": "Berlin",
                    "province": null, "zip": "10117", "country": "DE", "phone": null},
                "line_items": [one_item.clone()],
            })),
        ),
        (
            "mixed",
            patch(serde_json::json!({
                "fulfillment_status": "",
                "total_price": 60.0,
                "tags": [],
                "shipping_address": {"name": "Ann Roy", "company": null,
                    "address1": "1 Yonge St", "address2": null, "city": "Toronto",
                    "province": "ON", "zip": "M5E 1E5", "country": "CA", "phone": null},
                "line_items": [one_item.clone(), one_item],
            })),
        ),
    ]
}

pub fn assert_peers_agree() {
    let engine = Engine::new();
    let logic = datalogic_compile(&engine);
    let env = Arc::new(cel::Env::stdlib());
    let programs = cel_compile(&env);
    let mut session = engine.session();
    let conditions = ordersync_compile();
    let rates = Rates::default();

    for (label, order) in variants() {
        let json = order.to_string();
        let typed: TypedOrder = serde_json::from_str(&json).expect("typed order");
        let parsed = ParsedData::from_json(&json).expect("datalogic parse");
        let ctx = cel_context(&env, &order);
        let value = Value::from_json(&json).expect("ordersync read");
        let scope = ordersync_scope(&value, &rates);

        let floor = floor_all(&typed);
        let datalogic = datalogic_all(&mut session, &logic, &parsed);
        let cel = cel_all(&programs, &ctx);
        let ordersync = ordersync_all(&conditions, &scope);
        for i in 0..N {
            assert_eq!(
                (floor[i], datalogic[i], cel[i], ordersync[i]),
                (floor[i], floor[i], floor[i], floor[i]),
                "{label}: condition {} disagrees (floor, datalogic, cel, ordersync)",
                i + 1
            );
        }
        if label == "bench order" {
            assert_eq!(floor, [true; N], "the bench order should match all 8");
        }
    }
}
