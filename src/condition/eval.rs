//! Running a compiled [`Node`] against an order.
//!
//! Semantics (SPEC 4): a missing field is null; comparing null with anything but
//! `==`, `!=` and `is empty` is false, never an error; text comparisons ignore
//! case. Field reads borrow from the order, so evaluating allocates nothing unless
//! an expression builds new text or lists.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use super::error::EvalError;
use super::program::{ArOp, Check, FieldRef, Hint, ListFn, Node, OrdOp, Seg, Test, TextOp};
use super::scope::{Rates, Scope};
use super::text::{eq_needle, text_const, text_dyn};
use crate::value::{Decimal, Entry, Str, Value, cmp_numbers, eq_ignore_case, number_text};

static NULL: Value = Value::Null;

/// A field of the order an expression names, and its value: the "values it saw" of a trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Seen {
    /// The path as written.
    pub field: Arc<str>,
    /// Its value (null when missing).
    pub value: Value,
}

/// The scope plus the current list element.
pub(crate) struct Env<'a> {
    scope: &'a Scope<'a>,
    elem: Option<&'a Value>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(scope: &'a Scope<'a>) -> Env<'a> {
        Env { scope, elem: None }
    }

    fn with_elem(&self, elem: &'a Value) -> Env<'a> {
        Env {
            scope: self.scope,
            elem: Some(elem),
        }
    }
}

/// Reads a resolved path from `base` (null when missing).
#[inline]
pub(crate) fn read<'a>(base: &'a Value, segs: &[Seg]) -> &'a Value {
    let mut here = base;
    for seg in segs {
        here = match (seg, here) {
            (Seg::Key(k, hint), Value::Object(entries)) => match entries.get(hint.get()) {
                Some((key, v)) if key.same_repr(k) => v,
                _ => find_key(entries, k, hint),
            },
            (Seg::Index(i), Value::List(items)) => match items.get(*i) {
                Some(v) => v,
                None => return &NULL,
            },
            _ => return &NULL,
        };
    }
    here
}

/// The lookup when the hint missed: a scan, and the hint updated.
#[cold]
fn find_key<'a>(entries: &'a [Entry], k: &Str, hint: &Hint) -> &'a Value {
    match entries.iter().position(|(key, _)| key == k) {
        Some(i) => {
            hint.set(i);
            &entries[i].1
        }
        None => &NULL,
    }
}

/// Equality as the language defines it: text ignores case, lists compare by element.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => eq_ignore_case(x, y),
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y).is_eq(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| loose_eq(p, q))
        }
        (Value::Object(_), Value::Object(_)) => a.same(b),
        _ => false,
    }
}

fn as_bool(v: &Value) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(EvalError::new(format!(
            "expected true or false, got {} {other}",
            other.type_name()
        ))),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Text(s) => s.to_string(),
        Value::Number(n) => number_text(*n),
        other => other.to_string(),
    }
}

/// Reads an RFC 3339 timestamp, or a plain date (midnight UTC).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

impl Node {
    /// Evaluates in a boolean position: null is false. The common shapes (a
    /// check, and/or lists of checks) are handled here, small enough to inline;
    /// everything else goes to [`Node::truth_general`].
    #[inline]
    pub(crate) fn truth<'a>(&'a self, env: &Env<'a>) -> Result<bool, EvalError> {
        match self {
            Node::Test(c) => check(c, env),
            Node::All(cs) => {
                for c in cs.iter() {
                    if !check(c, env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Any(cs) => {
                for c in cs.iter() {
                    if check(c, env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            _ => self.truth_general(env),
        }
    }

    #[inline(never)]
    fn truth_general<'a>(&'a self, env: &Env<'a>) -> Result<bool, EvalError> {
        match self {
            Node::Const(v) => as_bool(v),
            Node::Test(_) | Node::All(_) | Node::Any(_) => self.truth(env),
            Node::Each(all, list, c) => {
                let which = if *all { ListFn::All } else { ListFn::Any };
                list_check(which, read_field(list, env), c)
            }
            Node::Not(x) => Ok(!x.truth(env)?),
            Node::And(xs) => {
                for x in xs.iter() {
                    if !x.truth(env)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(xs) => {
                for x in xs.iter() {
                    if x.truth(env)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::IsEmpty(x, negated) => Ok(x.eval(env)?.is_empty() != *negated),
            Node::Eq(a, b, negated) => {
                let (a, b) = (a.eval(env)?, b.eval(env)?);
                Ok(loose_eq(&a, &b) != *negated)
            }
            Node::Ord(op, a, b) => {
                let (a, b) = (a.eval(env)?, b.eval(env)?);
                Ok(a.compare(&b).is_some_and(|ord| ord_holds(*op, ord)))
            }
            Node::TextConst(op, a, needle) => match &*a.eval(env)? {
                Value::Text(s) => Ok(text_const(*op, s, needle)),
                _ => Ok(false),
            },
            Node::Text(op, a, b) => text_either(*op, &*a.eval(env)?, &*b.eval(env)?),
            Node::In(a, b, negated) => member(a, b, *negated, env),
            Node::Matches(a, re) => match &*a.eval(env)? {
                Value::Text(s) => Ok(re.is_match(s)),
                _ => Ok(false),
            },
            Node::ListFn(which @ (ListFn::Any | ListFn::All), list, body) => {
                any_or_all(*which, list, body, env)
            }
            other => as_bool(&*other.eval(env)?),
        }
    }

    /// Evaluates to a value, borrowing from the order where it can.
    pub(crate) fn eval<'a>(&'a self, env: &Env<'a>) -> Result<Cow<'a, Value>, EvalError> {
        let owned = match self {
            Node::Const(v) => return Ok(Cow::Borrowed(v)),
            Node::Field(f) => return Ok(Cow::Borrowed(read_field(f, env))),
            Node::Guard(x, text) => return guard(x.eval(env), text),
            Node::Event => Value::text(env.scope.event.as_str()),
            Node::Source => Value::text(env.scope.source),
            Node::Destination => env
                .scope
                .destination
                .map(Value::text)
                .unwrap_or(Value::Null),
            Node::Now => Value::text(&env.scope.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Node::Test(_)
            | Node::All(_)
            | Node::Any(_)
            | Node::Each(..)
            | Node::Not(_)
            | Node::And(_)
            | Node::Or(_)
            | Node::IsEmpty(..)
            | Node::Eq(..)
            | Node::Ord(..)
            | Node::TextConst(..)
            | Node::Text(..)
            | Node::In(..)
            | Node::Matches(..)
            | Node::ListFn(ListFn::Any | ListFn::All, ..) => Value::Bool(self.truth(env)?),
            Node::Neg(x) => negate(&*x.eval(env)?)?,
            Node::Arith(op, a, b) => arith(*op, &*a.eval(env)?, &*b.eval(env)?)?,
            Node::Len(x) => Value::Number(count(length(&*x.eval(env)?)?)),
            Node::Lower(x) => change_case(&*x.eval(env)?, str::to_lowercase),
            Node::Upper(x) => change_case(&*x.eval(env)?, str::to_uppercase),
            Node::List(xs) => {
                let mut items = Vec::with_capacity(xs.len());
                for x in xs.iter() {
                    items.push(x.eval(env)?.into_owned());
                }
                Value::list(items)
            }
            Node::ListFn(which, list, body) => count_or_sum(*which, &*list.eval(env)?, body, env)?,
            Node::Convert(amount, from, to) => {
                let amount = amount.eval(env)?;
                let (from, to) = (from.eval(env)?, to.eval(env)?);
                convert(&amount, &from, &to, env.scope.rates)?
            }
            Node::DaysSince(x) => days_since(&*x.eval(env)?, env.scope.now)?,
        };
        Ok(Cow::Owned(owned))
    }
}

/// `a contains b`, `starts_with`, `ends_with` with a needle known only at run
/// time; `contains` also looks in a list.
fn text_either(op: TextOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    Ok(match (a, b) {
        (Value::Text(h), Value::Text(n)) => text_dyn(op, h, n),
        (Value::List(items), needle) if op == TextOp::Contains && !needle.is_null() => {
            items.iter().any(|i| loose_eq(i, needle))
        }
        _ => false,
    })
}

/// `a in b` (`not in` when `negated`): false when `b` is not a list or `a` is null.
fn member(a: &Node, b: &Node, negated: bool, env: &Env) -> Result<bool, EvalError> {
    let b = b.eval(env)?;
    let Value::List(items) = &*b else {
        return Ok(false);
    };
    let a = a.eval(env)?;
    if a.is_null() {
        return Ok(false);
    }
    Ok(items.iter().any(|i| loose_eq(i, &a)) != negated)
}

/// `any(list, body)` and `all(list, body)`.
fn any_or_all<'a>(
    which: ListFn,
    list: &'a Node,
    body: &'a Node,
    env: &Env<'a>,
) -> Result<bool, EvalError> {
    // A field is read in place; anything else is evaluated first.
    let Node::Field(f) = list else {
        return list_truth(which, &*list.eval(env)?, body, env);
    };
    let items = read_field(f, env);
    // The common `any(list, field OP constant)`: test each element directly,
    // without setting up an element scope per element.
    match body {
        Node::Test(c) if c.field.elem => list_check(which, items, c),
        _ => list_truth(which, items, body, env),
    }
}

/// `count(list, body)` and `sum(list, body)`; not a list counts as empty.
fn count_or_sum(which: ListFn, list: &Value, body: &Node, env: &Env) -> Result<Value, EvalError> {
    let Value::List(items) = list else {
        return Ok(Value::Number(Decimal::ZERO));
    };
    let mut total = Decimal::ZERO;
    for item in items.iter() {
        if which == ListFn::Count {
            if eval_in_elem(body, env, item)? {
                total += Decimal::ONE;
            }
            continue;
        }
        match sum_in_elem(body, env, item)? {
            Value::Number(n) => total = total.checked_add(n).ok_or_else(overflow)?,
            Value::Null => {}
            other => {
                return Err(EvalError::new(format!(
                    "`sum` needs numbers, got {} {other}",
                    other.type_name()
                )));
            }
        }
    }
    Ok(Value::Number(total))
}

/// A runtime error of `x`, with the expression it happened in, once.
fn guard<'a>(
    x: Result<Cow<'a, Value>, EvalError>,
    text: &str,
) -> Result<Cow<'a, Value>, EvalError> {
    match x {
        Ok(v) => Ok(v),
        Err(e) if e.message().contains(" in `") => Err(e),
        Err(e) => Err(EvalError::new(format!("{} in `{text}`", e.message()))),
    }
}

/// `-x`.
fn negate(v: &Value) -> Result<Value, EvalError> {
    match v {
        Value::Number(n) => Ok(Value::Number(-n)),
        Value::Null => Ok(Value::Null),
        other => Err(EvalError::new(format!(
            "`-` needs a number, got {} {other}",
            other.type_name()
        ))),
    }
}

/// `len(x)`: characters of text, items of a list or an object; null is 0.
#[inline]
fn length(v: &Value) -> Result<usize, EvalError> {
    match v {
        Value::Null => Ok(0),
        Value::Text(s) => Ok(s.chars().count()),
        Value::List(l) => Ok(l.len()),
        Value::Object(o) => Ok(o.len()),
        other => Err(EvalError::new(format!(
            "`len` needs text or a list, got {} {other}",
            other.type_name()
        ))),
    }
}

/// `lower(x)` and `upper(x)`; other values are changed as their text.
fn change_case(v: &Value, change: fn(&str) -> String) -> Value {
    match v {
        Value::Text(s) => Value::text(&change(s)),
        Value::Null => Value::Null,
        other => Value::text(&text_of(other)),
    }
}

/// `convert(amount, from, to)`, rounded to `to`'s minor unit.
fn convert(amount: &Value, from: &Value, to: &Value, rates: &Rates) -> Result<Value, EvalError> {
    let n = match amount {
        Value::Number(n) => *n,
        Value::Null => return Ok(Value::Null),
        other => {
            return Err(EvalError::new(format!(
                "`convert` needs an amount, got {} {other}",
                other.type_name()
            )));
        }
    };
    let unknown = |c: &Value| EvalError::new(format!("unknown currency {c}"));
    let rate = |c: &Value| -> Result<Decimal, EvalError> {
        let code = c.as_str().unwrap_or_default();
        rates.rate(code).ok_or_else(|| unknown(c))
    };
    let (from_rate, to_rate) = (rate(from)?, rate(to)?);
    // Multiply first: `n × from` is exact (unless it overflows), so the only
    // rounding before the final one is the division's, at the 28th significant digit.
    let base = n.checked_mul(from_rate).ok_or_else(overflow)?;
    let exact = if to_rate == Decimal::ONE {
        base
    } else {
        base.checked_div(to_rate).ok_or_else(overflow)?
    };
    let code = to.as_str().unwrap_or_default();
    let rounded = crate::money::round_minor(exact, code).ok_or_else(|| unknown(to))?;
    Ok(Value::Number(rounded))
}

/// `days_since(t)`: whole days from `t` to `now`.
fn days_since(v: &Value, now: DateTime<Utc>) -> Result<Value, EvalError> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Text(s) => {
            let t = parse_timestamp(s)
                .ok_or_else(|| EvalError::new(format!("invalid timestamp {:?}", s.as_str())))?;
            let days = (now - t).num_seconds().div_euclid(86_400);
            Ok(Value::Number(Decimal::from(days)))
        }
        other => Err(EvalError::new(format!(
            "`days_since` needs a timestamp, got {} {other}",
            other.type_name()
        ))),
    }
}

fn ord_holds(op: OrdOp, ord: std::cmp::Ordering) -> bool {
    match op {
        OrdOp::Lt => ord.is_lt(),
        OrdOp::Le => ord.is_le(),
        OrdOp::Gt => ord.is_gt(),
        OrdOp::Ge => ord.is_ge(),
    }
}

#[inline]
fn check(c: &Check, env: &Env) -> Result<bool, EvalError> {
    Ok(run_test(read_field(&c.field, env), &c.test)? != c.negate)
}

/// A [`Test`] of one field's value: the same results as the general nodes.
#[inline]
fn run_test(v: &Value, t: &Test) -> Result<bool, EvalError> {
    Ok(match t {
        Test::EqText(n) => matches!(v, Value::Text(s) if eq_needle(s, n)),
        Test::InText(needles, negated) => {
            !v.is_null()
                && matches!(v, Value::Text(s) if needles.iter().any(|n| eq_needle(s, n)))
                    != *negated
        }
        Test::HasText(n) => match v {
            Value::List(items) => items
                .iter()
                .any(|i| matches!(i, Value::Text(s) if eq_needle(s, n))),
            _ => false,
        },
        Test::Eq(c) => loose_eq(v, c),
        Test::OrdNum(op, n) => match v {
            Value::Number(x) => ord_holds(*op, cmp_numbers(x, n)),
            _ => false,
        },
        Test::Ord(op, c) => v.compare(c).is_some_and(|o| ord_holds(*op, o)),
        Test::In(items, negated) => {
            !v.is_null() && items.iter().any(|i| loose_eq(i, v)) != *negated
        }
        Test::Has(c) => match v {
            Value::List(items) => !c.is_null() && items.iter().any(|i| loose_eq(i, c)),
            _ => false,
        },
        Test::Text(op, needle) => match v {
            Value::Text(s) => text_const(*op, s, needle),
            _ => false,
        },
        Test::Matches(re) => match v {
            Value::Text(s) => re.is_match(s),
            _ => false,
        },
        Test::Empty => v.is_empty(),
        Test::Len(op, n) => ord_holds(*op, cmp_numbers(&count(length(v)?), n)),
    })
}

#[inline]
fn read_field<'a>(f: &'a FieldRef, env: &Env<'a>) -> &'a Value {
    let base = if f.elem {
        env.elem.unwrap_or(&NULL)
    } else {
        env.scope.order
    };
    read_ref(base, f)
}

/// Reads `f` from `base`: a single key straight from the field, else the path.
#[inline]
fn read_ref<'a>(base: &'a Value, f: &'a FieldRef) -> &'a Value {
    match (&f.one, base) {
        (Some(Seg::Key(k, hint)), Value::Object(entries)) => match entries.get(hint.get()) {
            Some((key, v)) if key.same_repr(k) => v,
            _ => find_key(entries, k, hint),
        },
        (Some(_), _) => &NULL,
        (None, _) => read(base, &f.segs),
    }
}

/// `any` or `all` of one check of the elements' own fields.
fn list_check(which: ListFn, list: &Value, c: &Check) -> Result<bool, EvalError> {
    let Value::List(items) = list else {
        return Ok(which == ListFn::All && list.is_null());
    };
    for item in items.iter() {
        let hit = run_test(read_ref(item, &c.field), &c.test)? != c.negate;
        if which == ListFn::Any && hit {
            return Ok(true);
        }
        if which == ListFn::All && !hit {
            return Ok(false);
        }
    }
    Ok(which == ListFn::All)
}

/// `any` or `all` of `body` over the elements of `list`.
fn list_truth(which: ListFn, list: &Value, body: &Node, env: &Env) -> Result<bool, EvalError> {
    let Value::List(items) = list else {
        return Ok(which == ListFn::All && list.is_null());
    };
    for item in items.iter() {
        let hit = eval_in_elem(body, env, item)?;
        if which == ListFn::Any && hit {
            return Ok(true);
        }
        if which == ListFn::All && !hit {
            return Ok(false);
        }
    }
    Ok(which == ListFn::All)
}

fn eval_in_elem(body: &Node, env: &Env, item: &Value) -> Result<bool, EvalError> {
    let inner = Env {
        scope: env.scope,
        elem: Some(item),
    };
    body.truth(&inner)
}

fn sum_in_elem(body: &Node, env: &Env, item: &Value) -> Result<Value, EvalError> {
    let inner = env_with(env, item);
    body.eval(&inner).map(Cow::into_owned)
}

fn env_with<'b>(env: &Env<'b>, item: &'b Value) -> Env<'b> {
    env.with_elem(item)
}

/// A count (`len`, `count`) as a number.
#[inline]
fn count(n: usize) -> Decimal {
    Decimal::from(n as u64)
}

/// A result beyond what a decimal holds (about 7.9e28).
#[cold]
fn overflow() -> EvalError {
    EvalError::new("number out of range (an exact number is below 7.9e28)")
}

fn arith(op: ArOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    match (op, a, b) {
        (_, Value::Number(x), Value::Number(y)) => {
            let n = match op {
                ArOp::Add => x.checked_add(*y),
                ArOp::Sub => x.checked_sub(*y),
                ArOp::Mul => x.checked_mul(*y),
                ArOp::Div if y.is_zero() => return Err(EvalError::new("division by zero")),
                ArOp::Div => x.checked_div(*y),
            };
            n.map(Value::Number).ok_or_else(overflow)
        }
        (ArOp::Add, Value::Text(_), _) | (ArOp::Add, _, Value::Text(_)) => {
            Ok(Value::text(&(text_of(a) + &text_of(b))))
        }
        (_, Value::Null, _) | (_, _, Value::Null) => Ok(Value::Null),
        (_, x, y) => {
            let bad = if matches!(x, Value::Number(_)) { y } else { x };
            Err(EvalError::new(format!(
                "arithmetic needs numbers, got {} {bad}",
                bad.type_name()
            )))
        }
    }
}
