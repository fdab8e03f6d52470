//! Runs one workload of the peer comparison in a loop, for instruction counts:
//!
//! ```sh
//! cargo build --release -p ordersync-peers --bin count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/count read-ordersync 20000
//! ```
//!
//! callgrind counts instructions, which repeat exactly for the same binary and
//! input however busy the machine is; the ratio between two workloads is a
//! noise-free companion to criterion's wall-clock medians. Each workload does
//! its setup once, then `N` iterations; run it with two different `N` and take
//! the difference to cancel the setup.

use std::hint::black_box;
use std::sync::Arc;

use datalogic_rs::{Engine, ParsedData};
use ordersync::value::Value;
use ordersync_peers::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(what), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!(
            "usage: count <read-typed|read-ordersync|cond-floor|cond-ordersync|cond-datalogic|cond-cel|decide-shopify|cond-ordersync:K> <iterations>"
        );
        std::process::exit(2);
    };
    match what.as_str() {
        "read-typed" => {
            for _ in 0..n {
                let o: TypedOrder =
                    serde_json::from_str(black_box(ORDER_JSON)).expect("typed order");
                black_box(o);
            }
        }
        "read-ordersync" => {
            for _ in 0..n {
                black_box(Value::from_json(black_box(ORDER_JSON)).expect("ordersync read"));
            }
        }
        "cond-floor" => {
            let o: TypedOrder = serde_json::from_str(ORDER_JSON).expect("typed order");
            for _ in 0..n {
                black_box(floor_all(black_box(&o)));
            }
        }
        "cond-ordersync" => {
            let conditions = ordersync_compile();
            let order = Value::from_json(ORDER_JSON).expect("ordersync read");
            let rates = ordersync::condition::Rates::default();
            let scope = ordersync_scope(&order, &rates);
            for _ in 0..n {
                black_box(ordersync_all(&conditions, black_box(&scope)));
            }
        }
        "cond-datalogic" => {
            let engine = Engine::new();
            let logic = datalogic_compile(&engine);
            let data = ParsedData::from_json(ORDER_JSON).expect("datalogic parse");
            let mut session = engine.session();
            for _ in 0..n {
                black_box(datalogic_all(&mut session, &logic, black_box(&data)));
            }
        }
        "cond-cel" => {
            let env = Arc::new(cel::Env::stdlib());
            let programs = cel_compile(&env);
            let order: serde_json::Value = serde_json::from_str(ORDER_JSON).expect("order JSON");
            let ctx = cel_context(&env, &order);
            for _ in 0..n {
                black_box(cel_all(&programs, black_box(&ctx)));
            }
        }
        "decide-shopify" => {
            // One whole decision of the example rules for a Shopify `created` update.
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules.example.yaml");
            let rules =
                ordersync::rules::load(std::path::Path::new(path)).expect("the example rules load");
            let order = Value::from_json(ORDER_JSON).expect("ordersync read");
            let now =
                ordersync::condition::parse_timestamp("2026-11-22T12:00:00Z").expect("a time");
            let update = ordersync::engine::Update {
                source: "shopify",
                event: ordersync::order::Event::Created,
                order: &order,
                now,
            };
            for _ in 0..n {
                black_box(
                    ordersync::engine::decide(&rules, black_box(&update), &[]).expect("decides"),
                );
            }
        }
        other if other.starts_with("cond-ordersync:") => {
            // One condition alone (1-based), to see what each costs.
            let k: usize = other["cond-ordersync:".len()..]
                .parse()
                .expect("a condition number");
            let conditions = ordersync_compile();
            let order = Value::from_json(ORDER_JSON).expect("ordersync read");
            let rates = ordersync::condition::Rates::default();
            let scope = ordersync_scope(&order, &rates);
            for _ in 0..n {
                black_box(
                    conditions[k - 1]
                        .eval_bool(black_box(&scope))
                        .expect("evaluates"),
                );
            }
        }
        other => {
            eprintln!("unknown workload `{other}`");
            std::process::exit(2);
        }
    }
}
