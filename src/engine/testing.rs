//! Running a rules file's `tests` (SPEC 3.3): each case decided with [`decide`]
//! and compared with what it expects, destination by destination.

use serde::Serialize;

use super::{Decision, Decisions, Outcome, TraceStep, Update, decide};
use crate::condition::loose_eq;
use crate::rules::template::{self, Envelope, Rendered};
use crate::rules::{ConnectorKind, Expected, RequestExpect, RuleSet, RuleTest};
use crate::value::Value;

/// One destination whose decision differs from the expectation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mismatch {
    /// The destination.
    pub destination: String,
    /// What the test expects, in words.
    pub expected: String,
    /// What was decided, in words.
    pub actual: String,
    /// The trace of the actual decision.
    pub trace: Vec<TraceStep>,
}

/// The result of one test case.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// The case's name.
    pub name: String,
    /// Where it was written.
    pub place: String,
    /// Every destination that did not match; empty when the case passed.
    pub mismatches: Vec<Mismatch>,
    /// What was decided.
    pub decisions: Option<Decisions>,
}

impl TestResult {
    /// True when every named destination matched.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Runs every test in the rule set, in order.
pub fn run_tests(rules: &RuleSet) -> Vec<TestResult> {
    rules.tests.iter().map(|t| run_one(rules, t)).collect()
}

fn run_one(rules: &RuleSet, t: &RuleTest) -> TestResult {
    let source = &rules.channels[t.from];
    let update = Update {
        source: &source.name,
        event: t.event,
        order: &t.order,
        now: t.now,
    };
    let mut result = TestResult {
        name: t.name.clone(),
        place: t.place.to_string(),
        mismatches: Vec::new(),
        decisions: None,
    };
    let decisions = match decide(rules, &update, &[]) {
        Ok(d) => d,
        Err(e) => {
            result.mismatches.push(Mismatch {
                destination: String::new(),
                expected: "a decision".to_string(),
                actual: e.to_string(),
                trace: Vec::new(),
            });
            return result;
        }
    };
    for (d, expected) in &t.expect {
        let name = &rules.channels[*d].name;
        let Some(actual) = decisions.decisions.iter().find(|x| &x.destination == name) else {
            continue;
        };
        let request = match (expected, &actual.outcome) {
            (Expected::Deliver(_, Some(want)), Outcome::Deliver) => {
                compare_request(rules, t, *d, actual, want)
            }
            _ => None,
        };
        for (exp, act) in compare(expected, actual).into_iter().chain(request) {
            result.mismatches.push(Mismatch {
                destination: name.to_string(),
                expected: exp,
                actual: act,
                trace: actual.trace.clone(),
            });
        }
    }
    result.decisions = Some(decisions);
    result
}

/// `None` when the decision meets the expectation, else both in words.
fn compare(expected: &Expected, actual: &Decision) -> Option<(String, String)> {
    let said = actual.outcome.to_string();
    match (expected, &actual.outcome) {
        (Expected::Deliver(attrs, _), Outcome::Deliver) => {
            let order = actual.order.clone().unwrap_or(Value::Null);
            let mut exp = Vec::new();
            let mut act = Vec::new();
            for (field, want) in attrs {
                let got = order.get_path(field).cloned().unwrap_or(Value::Null);
                let matches = loose_eq(&got, want)
                    || matches!((&got, want), (Value::List(items), w) if !matches!(w, Value::List(_)) && items.len() == 1 && loose_eq(&items[0], w));
                if !matches {
                    exp.push(format!("{field} = {want}"));
                    act.push(format!("{field} = {got}"));
                }
            }
            if exp.is_empty() {
                None
            } else {
                Some((
                    format!("deliver with {}", exp.join(", ")),
                    format!("deliver with {}", act.join(", ")),
                ))
            }
        }
        (Expected::Deliver(attrs, _), _) => {
            let with: Vec<String> = attrs.iter().map(|(f, v)| format!("{f} = {v}")).collect();
            let exp = if with.is_empty() {
                "deliver".to_string()
            } else {
                format!("deliver with {}", with.join(", "))
            };
            Some((exp, said))
        }
        (Expected::Skip(reason), Outcome::Skip(r)) => match reason {
            Some(want) if *want != r.to_string() => Some((format!("skip: {want}"), said)),
            _ => None,
        },
        (Expected::Skip(reason), _) => Some((
            reason
                .as_ref()
                .map(|r| format!("skip: {r}"))
                .unwrap_or_else(|| "skip".to_string()),
            said,
        )),
        (Expected::Draft(fields), Outcome::Draft(missing)) => match fields {
            Some(want)
                if {
                    let mut a = want.clone();
                    let mut b = missing.clone();
                    a.sort();
                    b.sort();
                    a != b
                } =>
            {
                Some((format!("draft: missing {}", want.join(", ")), said))
            }
            _ => None,
        },
        (Expected::Draft(fields), _) => Some((
            fields
                .as_ref()
                .map(|f| format!("draft: missing {}", f.join(", ")))
                .unwrap_or_else(|| "draft".to_string()),
            said,
        )),
        (Expected::Error, Outcome::Error(_)) => None,
        (Expected::Error, _) => Some(("error".to_string(), said)),
    }
}

/// The `ord_` id a test's order has when a request template renders it.
pub const TEST_ORDER_ID: &str = "ord_1";

/// The `idempotency_key` a test's request template sees.
pub const TEST_IDEMPOTENCY_KEY: &str = "test-idempotency-key";

/// Renders the request a `kind: http` destination would be sent for a
/// decision, as `ordersync test` and `explain` show it.
pub fn render_for(
    rules: &RuleSet,
    destination: usize,
    source: &str,
    event: crate::order::Event,
    order: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Result<Rendered, String>> {
    let dest = &rules.channels[destination];
    let ConnectorKind::Http(h) = &dest.connector.as_ref()?.kind else {
        return None;
    };
    let Some(req) = h.request(event) else {
        return Some(Err(format!("the connector has no request for `{event}`")));
    };
    let envelope = Envelope {
        event,
        order_id: TEST_ORDER_ID,
        external_id: None,
        source,
        destination: &dest.name,
        rules_version: &rules.version,
        order,
        idempotency_key: TEST_IDEMPOTENCY_KEY,
        now,
    };
    Some(
        template::context(&envelope, &rules.order_type)
            .and_then(|ctx| template::render_request(req, &ctx)),
    )
}

/// `None` when the rendered request meets `request:`, else both in words.
fn compare_request(
    rules: &RuleSet,
    t: &RuleTest,
    destination: usize,
    actual: &Decision,
    want: &RequestExpect,
) -> Option<(String, String)> {
    let order = actual.order.clone().unwrap_or(Value::Null);
    let source = &rules.channels[t.from].name;
    let rendered = match render_for(rules, destination, source, t.event, &order, t.now)? {
        Ok(r) => r,
        Err(why) => return Some(("a rendered request".to_string(), format!("rejected: {why}"))),
    };
    let mut exp = Vec::new();
    let mut act = Vec::new();
    let mut differ = |what: String, w: &str, g: &str| {
        if w != g {
            exp.push(format!("{what} = {w}"));
            act.push(format!("{what} = {g}"));
        }
    };
    if let Some(m) = &want.method {
        differ("method".into(), m, &rendered.method);
    }
    if let Some(u) = &want.url {
        differ("url".into(), u, &rendered.url);
    }
    for (name, value) in &want.headers {
        let got = rendered.header(name).unwrap_or("(none)");
        differ(format!("header {name}"), value, got);
    }
    let body = rendered.body.clone().unwrap_or_default();
    if let Some(b) = &want.body {
        differ("body".into(), b, &body);
    }
    if !want.body_pointers.is_empty() {
        match Value::from_json(&body) {
            Err(e) => {
                exp.push("a JSON body".to_string());
                act.push(format!("a body that is not JSON ({e})"));
            }
            Ok(doc) => {
                for (pointer, w) in &want.body_pointers {
                    let got = pointer_in(&doc, pointer).cloned();
                    if !got.as_ref().is_some_and(|g| loose_eq(g, w)) {
                        exp.push(format!("body {pointer} = {w}"));
                        act.push(match got {
                            Some(g) => format!("body {pointer} = {g}"),
                            None => format!("body {pointer} missing"),
                        });
                    }
                }
            }
        }
    }
    if exp.is_empty() {
        None
    } else {
        Some((
            format!("request with {}", exp.join(", ")),
            format!("request with {}", act.join(", ")),
        ))
    }
}

/// RFC 6901 in one of our values.
pub fn pointer_in<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(doc);
    }
    let mut cur = doc;
    for raw in pointer.strip_prefix('/')?.split('/') {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(_) => cur.get(&seg)?,
            Value::List(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}
