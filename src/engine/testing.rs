//! Running a rules file's `tests` (SPEC 3.3): each case decided with [`decide`]
//! and compared with what it expects, destination by destination.

use serde::Serialize;

use super::{Decision, Decisions, Outcome, Step, Update, decide};
use crate::condition::loose_eq;
use crate::rules::{Expected, RuleSet, RuleTest};
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
    pub trace: Vec<Step>,
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
        if let Some((exp, act)) = compare(expected, actual) {
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
        (Expected::Deliver(attrs), Outcome::Deliver) => {
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
        (Expected::Deliver(attrs), _) => {
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
