//! One update's whole effect on its order (SPEC 5 steps 3-4, 6.5): the
//! decisions for its route, and the drafts it releases. The writer loads the
//! order's [`OrderState`], calls [`step`] and saves the [`Step`]; re-sync,
//! `ordersync diff` (which keeps the state in memory while it replays) and
//! `explain` call the same function, so they cannot drift apart.

use std::sync::Arc;

use crate::order::Event;
use crate::rules::{Deliver, RuleSet};
use crate::value::Value;

use super::{Change, DecideError, Decision, Decisions, Outcome, Update, decide};

/// What ordersync holds of one order when an update for it arrives.
#[derive(Clone, Debug, Default)]
pub struct OrderState {
    /// What each channel has of the order, by channel name: what it last sent
    /// us, or what we last delivered to it (echo suppression reads this).
    pub known: Vec<(String, Value)>,
    /// Destinations holding a draft, with the event the draft was decided for.
    pub drafts: Vec<(String, Event)>,
}

impl OrderState {
    /// `known` as [`decide`] takes it.
    pub fn known_refs(&self) -> Vec<(&str, &Value)> {
        self.known.iter().map(|(c, v)| (c.as_str(), v)).collect()
    }

    /// Notes that `channel` now has `order`.
    pub fn set_known(&mut self, channel: &str, order: Value) {
        match self.known.iter_mut().find(|(c, _)| c == channel) {
            Some((_, v)) => *v = order,
            None => self.known.push((channel.to_string(), order)),
        }
    }

    /// The state after `step` of `update`: the source has the order it sent,
    /// each destination delivered to has what was decided for it, and drafts
    /// are held, replaced or gone as the decisions say.
    pub fn apply(&mut self, update: &Update, step: &Step) {
        self.set_known(update.source, update.order.clone());
        for decided in std::iter::once(&step.decided).chain(&step.released) {
            for d in &decided.decisions {
                let destination: &str = &d.destination;
                match &d.outcome {
                    Outcome::Deliver => {
                        if let Some(o) = &d.order {
                            self.set_known(destination, o.clone());
                        }
                        self.drafts.retain(|(dest, _)| dest != destination);
                    }
                    Outcome::Draft(_) => {
                        self.drafts.retain(|(dest, _)| dest != destination);
                        self.drafts.push((destination.to_string(), decided.event));
                    }
                    Outcome::Error(_) => self.drafts.retain(|(dest, _)| dest != destination),
                    Outcome::Skip(_) => {}
                }
            }
        }
    }
}

/// What one update does to its order.
#[derive(Clone, Debug)]
pub struct Step {
    /// The update's own decisions, one per destination of its route.
    pub decided: Decisions,
    /// Each held draft this update releases: the draft's destination decided
    /// again as the draft's own event with this update's order, holding one
    /// `deliver` decision (a supplier that takes `created` but not `updated`
    /// still gets `created`).
    pub released: Vec<Decisions>,
}

/// Decides `update` against the order's `state` (SPEC 5, 6.5): a draft held
/// for a destination this update skips is decided again as its own event, and
/// released when nothing required is missing any more.
pub fn step(rules: &RuleSet, state: &OrderState, update: &Update) -> Result<Step, DecideError> {
    let known = state.known_refs();
    let decided = decide(rules, update, &known)?;
    let mut released = Vec::new();
    for (destination, event) in &state.drafts {
        let skipped = decided
            .decisions
            .iter()
            .any(|d| *d.destination == **destination && matches!(d.outcome, Outcome::Skip(_)));
        if !skipped {
            continue;
        }
        let again = Update {
            event: *event,
            ..*update
        };
        let mut redone = decide(rules, &again, &known)?;
        redone
            .decisions
            .retain(|d| *d.destination == **destination && d.outcome == Outcome::Deliver);
        if !redone.decisions.is_empty() {
            released.push(redone);
        }
    }
    Ok(Step { decided, released })
}

/// The fields of `deliver.require` that `order` has empty or not at all.
pub fn missing_required(deliver: &Deliver, order: &Value) -> Vec<String> {
    deliver
        .require
        .iter()
        .filter(|p| order.get_path(p).is_none_or(Value::is_empty))
        .cloned()
        .collect()
}

/// Why an operator's completion of a draft cannot be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// The destination takes no deliveries in these rules.
    NoDeliveries,
    /// These required fields are still empty.
    Missing(Vec<String>),
}

/// A draft completed by an operator (SPEC 6.5): the draft's `order` with the
/// fields of `set` filled in, decided `deliver` to `destination` under `rules`
/// once nothing it requires is missing.
pub fn complete(
    rules: &RuleSet,
    destination: &str,
    source: &str,
    event: Event,
    mut order: Value,
    set: &[(String, Value)],
) -> Result<Decisions, Incomplete> {
    let dest = rules
        .channel(destination)
        .filter(|c| c.deliver.is_some())
        .ok_or(Incomplete::NoDeliveries)?;
    let mut changes = Vec::with_capacity(set.len());
    for (field, value) in set {
        let path: Vec<&str> = field.split('.').collect();
        let before = order.get_path(field).cloned().unwrap_or(Value::Null);
        order.set_path(&path, value.clone());
        changes.push(Change {
            field: field.clone(),
            before,
            after: value.clone(),
        });
    }
    let missing = dest
        .deliver
        .as_ref()
        .map(|d| missing_required(d, &order))
        .unwrap_or_default();
    if !missing.is_empty() {
        return Err(Incomplete::Missing(missing));
    }
    Ok(Decisions {
        rules_version: rules.version.clone(),
        source: Arc::from(source),
        event,
        ignored: false,
        decisions: vec![Decision {
            destination: dest.name.clone(),
            outcome: Outcome::Deliver,
            order: Some(order),
            changes,
            trace: Vec::new(),
        }],
    })
}
