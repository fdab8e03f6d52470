//! Deciding (SPEC 2.1, 3.1, 3.2, 5 steps 3-4): one update in, one decision per
//! destination of its route out, each with the trace of every condition evaluated.
//!
//! [`decide`] is a pure function of the rule set, the update, what each
//! destination already has and the time: no I/O, no clock, no randomness. The
//! daemon, `ordersync explain`, `ordersync test` and `ordersync diff` all call it,
//! through [`step`] where an order's history matters: one update's decisions
//! plus the drafts it releases, from the order's [`OrderState`].

mod step;
pub mod testing;

pub use step::{Incomplete, OrderState, Step, complete, missing_required, step};

use std::fmt;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::condition::{Condition, EvalError, Scope, Seen};
use crate::order::Event;
use crate::rules::{AttrValue, Attribute, Channel, RuleSet};
use crate::value::Value;

/// One update to decide.
#[derive(Clone, Copy)]
pub struct Update<'a> {
    /// The source channel's name.
    pub source: &'a str,
    /// What happened.
    pub event: Event,
    /// The order as the source sent it (canonical shape).
    pub order: &'a Value,
    /// The time `now()` returns.
    pub now: DateTime<Utc>,
}

/// What each destination already has: the order it last sent us, or the one we
/// last delivered to it, by channel name. Used to suppress echoes (`skip: no change`).
pub type Known<'a> = &'a [(&'a str, &'a Value)];

/// Why a destination is skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The destination's `accepts` lacks the event.
    NotAccepted(Event),
    /// `publish` evaluated to false.
    PublishFalse,
    /// The destination already has this order as it would be sent.
    NoChange,
    /// The source's `import` filter did not match.
    IgnoredByImport,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotAccepted(e) => write!(f, "event {e} is not accepted"),
            SkipReason::PublishFalse => f.write_str("publish is false"),
            SkipReason::NoChange => f.write_str("no change"),
            SkipReason::IgnoredByImport => f.write_str("ignored by import"),
        }
    }
}

/// The outcome of deciding one update for one destination.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Send the outgoing order.
    Deliver,
    /// Send nothing, for this reason.
    Skip(SkipReason),
    /// Hold: these required fields are empty.
    Draft(Vec<String>),
    /// A condition failed to evaluate.
    Error(String),
}

impl Outcome {
    /// `deliver`, `skip`, `draft` or `error`.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Deliver => OutcomeKind::Deliver,
            Outcome::Skip(_) => OutcomeKind::Skip,
            Outcome::Draft(_) => OutcomeKind::Draft,
            Outcome::Error(_) => OutcomeKind::Error,
        }
    }
}

/// What kind of outcome a decision has, as stored (`decisions.outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutcomeKind {
    /// Send the outgoing order.
    Deliver,
    /// Send nothing.
    Skip,
    /// Hold until required fields are filled.
    Draft,
    /// A condition failed.
    Error,
}

impl OutcomeKind {
    /// Every kind.
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::Deliver,
        OutcomeKind::Skip,
        OutcomeKind::Draft,
        OutcomeKind::Error,
    ];

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Deliver => "deliver",
            OutcomeKind::Skip => "skip",
            OutcomeKind::Draft => "draft",
            OutcomeKind::Error => "error",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Deliver => f.write_str("deliver"),
            Outcome::Skip(r) => write!(f, "skip: {r}"),
            Outcome::Draft(missing) => write!(f, "draft: missing {}", missing.join(", ")),
            Outcome::Error(m) => write!(f, "error: {m}"),
        }
    }
}

/// One condition evaluated: where it was written, the expression, what it saw, what it gave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceStep {
    /// What the condition belongs to: `import`, `publish`, `shipping_method (case 1)`.
    pub rule: Arc<str>,
    /// `file:line` of the rule.
    pub place: Arc<str>,
    /// The expression as written.
    pub expression: Arc<str>,
    /// Fields read and their values.
    pub seen: Vec<Seen>,
    /// The result (null when it failed).
    pub result: Value,
    /// The failure, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A field of the outgoing order that an attribute changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The field.
    pub field: String,
    /// Its value in the incoming order.
    pub before: Value,
    /// Its value in the outgoing order.
    pub after: Value,
}

/// The decision for one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The destination channel.
    pub destination: Arc<str>,
    /// What to do.
    pub outcome: Outcome,
    /// The outgoing order, for `deliver` and `draft`.
    pub order: Option<Value>,
    /// Fields the attributes changed, in order.
    pub changes: Vec<Change>,
    /// Every condition evaluated, in order.
    pub trace: Vec<TraceStep>,
}

/// All decisions for one update.
#[derive(Clone, Debug, PartialEq)]
pub struct Decisions {
    /// The rule set's version: names every decision.
    pub rules_version: Arc<str>,
    /// The source channel.
    pub source: Arc<str>,
    /// The event.
    pub event: Event,
    /// The import filter rejected the update.
    pub ignored: bool,
    /// One per destination of the route, in route order.
    pub decisions: Vec<Decision>,
}

/// A problem with the update itself rather than with one destination.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DecideError {
    /// The source is not a channel of the rule set.
    #[error("unknown channel `{0}`")]
    UnknownSource(String),
}

/// Decides one update for every destination of its source's route.
pub fn decide(rules: &RuleSet, update: &Update, known: Known) -> Result<Decisions, DecideError> {
    let source = rules
        .channel(update.source)
        .ok_or_else(|| DecideError::UnknownSource(update.source.to_string()))?;
    let scope = Scope {
        order: update.order,
        event: update.event,
        source: update.source,
        destination: None,
        now: update.now,
        rates: &rules.rates,
    };
    let mut import_step = None;
    let mut ignored = false;
    let mut import_error = None;
    if let Some(import) = &source.import {
        let (step, result) = traced(import, &scope, &IMPORT, &NOWHERE);
        match result {
            Ok(v) => ignored = !matches!(v, Value::Bool(true)),
            Err(e) => import_error = Some(e.message().to_string()),
        }
        import_step = Some(step);
    }
    // Source attributes that never read `destination` come out the same for
    // every destination: apply them once, on the first destination that takes
    // the event, and start each destination from a copy.
    let mut shared = Shared {
        applied: None,
        uses_left: source
            .routes
            .iter()
            .filter(|&&d| accepts(&rules.channels[d], update.event))
            .count(),
    };
    let mut decisions = Vec::with_capacity(source.routes.len());
    for &d in &source.routes {
        let dest = &rules.channels[d];
        let trace: Vec<TraceStep> = import_step.iter().cloned().collect();
        let decided = if let Some(e) = &import_error {
            decision(
                dest,
                Outcome::Error(format!("import: {e}")),
                None,
                Vec::new(),
                trace,
            )
        } else if ignored {
            decision(
                dest,
                Outcome::Skip(SkipReason::IgnoredByImport),
                None,
                Vec::new(),
                trace,
            )
        } else {
            decide_one(source, d, dest, update, known, &scope, trace, &mut shared)
        };
        decisions.push(decided);
    }
    Ok(Decisions {
        rules_version: rules.version.clone(),
        source: source.name.clone(),
        event: update.event,
        ignored,
        decisions,
    })
}

fn decision(
    dest: &Channel,
    outcome: Outcome,
    order: Option<Value>,
    changes: Vec<Change>,
    trace: Vec<TraceStep>,
) -> Decision {
    Decision {
        destination: dest.name.clone(),
        outcome,
        order,
        changes,
        trace,
    }
}

static IMPORT: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("import"));
static NOWHERE: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from(""));

fn traced(
    c: &Condition,
    scope: &Scope,
    rule: &Arc<str>,
    place: &Arc<str>,
) -> (TraceStep, Result<Value, EvalError>) {
    let mut seen = Vec::new();
    let result = c.eval_traced(scope, &mut seen);
    let step = TraceStep {
        rule: rule.clone(),
        place: place.clone(),
        expression: c.text.clone(),
        seen,
        result: result.clone().unwrap_or(Value::Null),
        error: result.as_ref().err().map(|e| e.message().to_string()),
    };
    (step, result)
}

/// Whether `dest` takes `event`.
fn accepts(dest: &Channel, event: Event) -> bool {
    dest.deliver
        .as_ref()
        .is_some_and(|d| d.accepts.contains(&event))
}

/// The source attributes applied once, for the destinations that take the event;
/// the last of them takes it instead of a copy.
struct Shared {
    applied: Option<Applied>,
    uses_left: usize,
}

impl Shared {
    fn get(&mut self, make: impl FnOnce() -> Applied) -> Applied {
        self.uses_left = self.uses_left.saturating_sub(1);
        if self.uses_left == 0 {
            return self.applied.take().unwrap_or_else(make);
        }
        self.applied.get_or_insert_with(make).clone()
    }
}

/// The order as the attributes so far left it, and what they changed and traced.
#[derive(Clone)]
struct Applied {
    order: Value,
    changes: Vec<Change>,
    trace: Vec<TraceStep>,
    /// Why the attributes stopped early, if they did.
    stop: Option<Stop>,
}

#[derive(Clone)]
enum Stop {
    /// `publish` came out false: later attributes are not evaluated.
    Unpublished,
    /// An attribute failed to evaluate; the message names it.
    Failed(String),
}

impl Applied {
    fn new(order: &Value, trace: Vec<TraceStep>) -> Applied {
        Applied {
            order: order.clone(),
            changes: Vec::new(),
            trace,
            stop: None,
        }
    }

    /// Applies `attrs` top to bottom, each seeing the order as changed above it.
    fn apply<'r>(
        &mut self,
        attrs: impl Iterator<Item = &'r Attribute>,
        scope: &Scope,
        destination: Option<&str>,
    ) {
        for attr in attrs {
            if self.stop.is_some() {
                return;
            }
            let here = Scope {
                order: &self.order,
                destination,
                ..*scope
            };
            let value = match attribute_value(attr, &here, &mut self.trace) {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(e) => {
                    let message = format!("{} ({}): {}", attr.name, attr.place, e.message());
                    self.stop = Some(Stop::Failed(message));
                    return;
                }
            };
            if attr.name == "publish" {
                if !matches!(value, Value::Bool(true)) {
                    self.stop = Some(Stop::Unpublished);
                }
                continue;
            }
            let before = self
                .order
                .get_path(&attr.name)
                .cloned()
                .unwrap_or(Value::Null);
            let after = if attr.replace {
                value
            } else {
                merge(&before, value)
            };
            // A list field stays a list, also on an order that lacked it.
            let after = match after {
                Value::Null | Value::List(_) => after,
                single if attr.list => Value::list(vec![single]),
                other => other,
            };
            if before.same(&after) {
                continue;
            }
            self.order.set_path(&attr.path, after.clone());
            match self.changes.iter_mut().find(|c| c.field == attr.name) {
                Some(c) => c.after = after,
                None => self.changes.push(Change {
                    field: attr.name.clone(),
                    before,
                    after,
                }),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn decide_one(
    source: &Channel,
    d: usize,
    dest: &Channel,
    update: &Update,
    known: Known,
    scope: &Scope,
    trace: Vec<TraceStep>,
    shared: &mut Shared,
) -> Decision {
    let accepting = dest
        .deliver
        .as_ref()
        .filter(|_| accepts(dest, update.event));
    let Some(deliver) = accepting else {
        return decision(
            dest,
            Outcome::Skip(SkipReason::NotAccepted(update.event)),
            None,
            Vec::new(),
            trace,
        );
    };
    let mut applied = if source.shared_attributes {
        shared.get(|| {
            let mut a = Applied::new(update.order, trace);
            a.apply(source.attributes.iter(), scope, None);
            a
        })
    } else {
        let mut a = Applied::new(update.order, trace);
        a.apply(source.attributes.iter(), scope, Some(&dest.name));
        a
    };
    if let Some(overwrite) = source.overwrites.iter().find(|o| o.destination == d) {
        applied.apply(overwrite.attributes.iter(), scope, Some(&dest.name));
    }
    let Applied {
        order,
        changes,
        trace,
        stop,
    } = applied;
    match stop {
        Some(Stop::Failed(message)) => {
            return decision(dest, Outcome::Error(message), None, changes, trace);
        }
        Some(Stop::Unpublished) => {
            return decision(
                dest,
                Outcome::Skip(SkipReason::PublishFalse),
                None,
                changes,
                trace,
            );
        }
        None => {}
    }
    let missing = missing_required(deliver, &order);
    if !missing.is_empty() {
        return decision(dest, Outcome::Draft(missing), Some(order), changes, trace);
    }
    if let Some((_, has)) = known.iter().find(|(name, _)| *name == &*dest.name)
        && same_content(&order, has)
    {
        return decision(
            dest,
            Outcome::Skip(SkipReason::NoChange),
            None,
            changes,
            trace,
        );
    }
    decision(dest, Outcome::Deliver, Some(order), changes, trace)
}

/// Evaluates one attribute; `None` when it leaves the field as it is.
fn attribute_value(
    attr: &Attribute,
    scope: &Scope,
    trace: &mut Vec<TraceStep>,
) -> Result<Option<Value>, EvalError> {
    let place = &attr.place_text;
    match &attr.value {
        AttrValue::Constant(v) => Ok(Some(v.clone())),
        AttrValue::Expr(c) => {
            let (step, r) = traced(c, scope, &attr.labels[0], place);
            trace.push(step);
            r.map(Some)
        }
        AttrValue::When {
            when,
            then,
            otherwise,
        } => {
            let (step, r) = traced(when, scope, &attr.labels[0], place);
            trace.push(step);
            Ok(if matches!(r?, Value::Bool(true)) {
                Some(then.clone())
            } else {
                otherwise.clone()
            })
        }
        AttrValue::Cases { cases, otherwise } => {
            for ((when, then), label) in cases.iter().zip(&attr.labels) {
                let (step, r) = traced(when, scope, label, place);
                trace.push(step);
                if matches!(r?, Value::Bool(true)) {
                    return Ok(Some(then.clone()));
                }
            }
            Ok(Some(otherwise.clone()))
        }
    }
}

/// Lists gain the new values (a set union, order kept); anything else is replaced.
fn merge(before: &Value, value: Value) -> Value {
    let Value::List(existing) = before else {
        return value;
    };
    let added: Vec<Value> = match value {
        Value::List(items) => items.to_vec(),
        Value::Null => return before.clone(),
        other => vec![other],
    };
    let mut out: Vec<Value> = existing.to_vec();
    for v in added {
        if !out.iter().any(|x| crate::condition::loose_eq(x, &v)) {
            out.push(v);
        }
    }
    Value::list(out)
}

/// Whether a destination already has this order: equal apart from `updated_at`,
/// which changes on every echo. Compared in place, without copying either.
fn same_content(a: &Value, b: &Value) -> bool {
    const IGNORED: &str = "updated_at";
    let (Value::Object(x), Value::Object(y)) = (a, b) else {
        return a.same(b);
    };
    let kept = |entries: &[crate::value::Entry]| {
        entries
            .iter()
            .filter(|(k, _)| k.as_str() != IGNORED)
            .count()
    };
    kept(x) == kept(y)
        && x.iter()
            .filter(|(k, _)| k.as_str() != IGNORED)
            .all(|(k, v)| b.get(k).is_some_and(|w| v.same(w)))
}
