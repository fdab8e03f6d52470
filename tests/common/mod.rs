//! Helpers shared by the integration tests that call `decide` directly.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use ordersync::engine::{Decision, Decisions, Update, decide};
use ordersync::order::Event;
use ordersync::rules::RuleSet;
use ordersync::value::Value;

/// The fixed time the tests decide at.
pub fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

/// Decides an order given as JSON, from `source`, with what destinations already have.
pub fn run(
    rules: &RuleSet,
    source: &str,
    event: Event,
    order: &str,
    known: &[(&str, &Value)],
) -> Decisions {
    let order = Value::from_json(order).unwrap();
    let update = Update {
        source,
        event,
        order: &order,
        now: now(),
    };
    decide(rules, &update, known).unwrap()
}

/// The decision for `dest`.
pub fn decision<'a>(d: &'a Decisions, dest: &str) -> &'a Decision {
    d.decisions
        .iter()
        .find(|x| &*x.destination == dest)
        .unwrap()
}
