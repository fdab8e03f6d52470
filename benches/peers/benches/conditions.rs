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

use criterion::{Criterion, criterion_group, criterion_main};
use datalogic_rs::{Engine, ParsedData};
use ordersync::condition::Rates;
use ordersync::value::Value;
use ordersync_peers::*;

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

fn conditions(c: &mut Criterion) {
    assert_peers_agree();

    let mut group = c.benchmark_group("conditions_8");

    // floor: the order is deserialized once into the typed struct.
    let typed: TypedOrder = serde_json::from_str(ORDER_JSON).expect("typed order");
    group.bench_function("floor", |b| b.iter(|| black_box(floor_all(&typed))));

    // datalogic: rules compiled once; order parsed once into a `ParsedData`
    // (an arena-resident `DataValue` tree, passed through at zero cost).
    let engine = Engine::new();
    let logic = datalogic_compile(&engine);
    let parsed = ParsedData::from_json(ORDER_JSON).expect("datalogic parse");
    let mut session = engine.session();
    group.bench_function("datalogic", |b| {
        b.iter(|| black_box(datalogic_all(&mut session, &logic, &parsed)))
    });

    // cel: programs compiled once; order converted once into a CEL map bound
    // as the variable `order` in a reused context.
    let env = Arc::new(cel::Env::stdlib());
    let programs = cel_compile(&env);
    let order: serde_json::Value = serde_json::from_str(ORDER_JSON).expect("order JSON");
    let ctx = cel_context(&env, &order);
    group.bench_function("cel", |b| b.iter(|| black_box(cel_all(&programs, &ctx))));

    group.finish();

    ordersync_group(c, ORDER_JSON);
}

/// Bench id `ordersync` in group `conditions_8`: the same 8 conditions,
/// compiled once, evaluated against an already-read order.
fn ordersync_group(c: &mut Criterion, order_json: &str) {
    // ordersync: conditions compiled once; the order read once into a `Value`;
    // the scope (order, event, source, now, rates) built once and reused.
    let conditions = ordersync_compile();
    let order = Value::from_json(order_json).expect("ordersync read");
    let rates = Rates::default();
    let scope = ordersync_scope(&order, &rates);

    let mut group = c.benchmark_group("conditions_8");
    group.bench_function("ordersync", |b| {
        b.iter(|| black_box(ordersync_all(&conditions, &scope)))
    });
    group.finish();
}

fn read_order(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_order");
    group.bench_function("serde_typed", |b| {
        b.iter(|| serde_json::from_str::<TypedOrder>(black_box(ORDER_JSON)).expect("typed order"))
    });
    group.finish();

    ordersync_read(c, ORDER_JSON);
}

/// Bench id `ordersync` in group `read_order`: reading `order.json` into
/// ordersync's order representation.
fn ordersync_read(c: &mut Criterion, order_json: &str) {
    let mut group = c.benchmark_group("read_order");
    group.bench_function("ordersync", |b| {
        b.iter(|| Value::from_json(black_box(order_json)).expect("ordersync read"))
    });
    group.finish();
}

criterion_group!(benches, conditions, read_order);
criterion_main!(benches);
