//! Pass 5: the attributes a rule sets (SPEC 3.4): a constant, a value, a
//! `when`, or `cases`, each checked against the field's type.

use std::sync::Arc;

use super::ctx::{Ctx, Doc};
use super::read::{Fields, expression, fields, resolve_path, text, to_value};
use super::schema::{ATTR_KEYS, CASE_KEYS};
use crate::condition::{CompileEnv, Rates};
use crate::order::Type;
use crate::rules::yaml::{Key, Kind, Node};
use crate::rules::{AttrValue, Attribute, Place};
use crate::value::Value;

/// Reads a mapping of attributes, `what` naming it in errors.
pub(super) fn attributes(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    order: &Type,
    rates: &Rates,
    what: &str,
) -> Vec<Attribute> {
    let Some(f) = fields(cx, doc, n, what, &[]) else {
        return Vec::new();
    };
    let env = CompileEnv {
        order,
        rates,
        destination_known: true,
    };
    let mut out = Vec::new();
    for (k, v) in f.entries {
        if let Some(a) = attribute(cx, doc, k, v, order, &env) {
            out.push(a);
        }
    }
    out
}

/// One attribute: its field's path and type, and its value.
fn attribute(
    cx: &mut Ctx,
    doc: &Doc,
    k: &Key,
    v: &Node,
    order: &Type,
    env: &CompileEnv,
) -> Option<Attribute> {
    let place = Place {
        file: doc.name.clone(),
        line: k.loc.line,
    };
    let field_type = if k.name == "publish" {
        Some(Type::Bool)
    } else {
        resolve_path(cx, doc, v, &k.name, order, Some(k))
    };
    let field_type = field_type?;
    let mut replace = false;
    let value = match &v.kind {
        Kind::Map(_) => {
            let af = fields(cx, doc, v, &format!("attribute `{}`", k.name), &ATTR_KEYS)?;
            if let Some(m) = af.get("mode") {
                replace = mode(cx, doc, m);
            }
            form(cx, doc, k, &af, &field_type, env)?
        }
        _ => AttrValue::Constant(constant(cx, doc, Some(v), &k.name, &field_type)),
    };
    let path = k.name.split('.').map(str::to_string).collect();
    let labels = match &value {
        AttrValue::Cases { cases, .. } => (1..=cases.len())
            .map(|i| Arc::from(format!("{} (case {i})", k.name).as_str()))
            .collect(),
        _ => vec![Arc::from(k.name.as_str())],
    };
    let place_text = Arc::from(place.to_string().as_str());
    Some(Attribute {
        labels,
        place_text,
        name: k.name.clone(),
        path,
        value,
        replace,
        list: matches!(field_type, Type::List(_)),
        place,
    })
}

/// `mode`: true for `replace`, false for `merge` (the default).
fn mode(cx: &mut Ctx, doc: &Doc, m: &Node) -> bool {
    match text(cx, doc, m, "`mode`") {
        Some("replace") => true,
        Some("merge") => false,
        Some(other) => {
            cx.node(
                doc,
                m,
                format!("unknown mode `{other}`"),
                Some("`mode: replace` or `mode: merge` (the default)".to_string()),
            );
            false
        }
        None => false,
    }
}

/// The one of `constant`, `value`, `when` or `cases` an attribute's mapping gives.
fn form(
    cx: &mut Ctx,
    doc: &Doc,
    k: &Key,
    af: &Fields,
    field_type: &Type,
    env: &CompileEnv,
) -> Option<AttrValue> {
    let forms: Vec<&str> = ["constant", "value", "when", "cases"]
        .into_iter()
        .filter(|f| af.get(f).is_some())
        .collect();
    if forms.len() > 1 {
        cx.key(
            doc,
            k,
            format!(
                "attribute `{}` has both `{}` and `{}`",
                k.name, forms[0], forms[1]
            ),
            Some("give one of `constant`, `value`, `when` or `cases`".to_string()),
        );
        return None;
    }
    match forms.first().copied() {
        Some("constant") => Some(AttrValue::Constant(constant(
            cx,
            doc,
            af.get("constant"),
            &k.name,
            field_type,
        ))),
        Some("value") => value(cx, doc, k, af.get("value")?, field_type, env),
        Some("when") => when(cx, doc, k, af, field_type, env),
        Some(_) => cases(cx, doc, k, af, field_type, env),
        None => {
            cx.key(
                doc,
                k,
                format!("attribute `{}` has no value", k.name),
                Some("give one of `constant`, `value`, `when` or `cases`".to_string()),
            );
            None
        }
    }
}

/// `value: EXPR`, whose type must fit the field's.
fn value(
    cx: &mut Ctx,
    doc: &Doc,
    k: &Key,
    node: &Node,
    field_type: &Type,
    env: &CompileEnv,
) -> Option<AttrValue> {
    let c = expression(cx, doc, node, env, false)?;
    if !type_fits(field_type, &c.ty) {
        cx.node(
            doc,
            node,
            format!(
                "`{}` is {}, but this value is {}",
                k.name,
                crate::condition::type_article(field_type),
                crate::condition::type_article(&c.ty)
            ),
            None,
        );
        return None;
    }
    Some(AttrValue::Expr(c))
}

/// `when: COND`, `then: V` and an optional `otherwise: V`.
fn when(
    cx: &mut Ctx,
    doc: &Doc,
    k: &Key,
    af: &Fields,
    field_type: &Type,
    env: &CompileEnv,
) -> Option<AttrValue> {
    let node = af.get("when")?;
    let when = expression(cx, doc, node, env, true);
    let Some(then_node) = af.get("then") else {
        cx.key(
            doc,
            k,
            format!("attribute `{}` has `when` but no `then`", k.name),
            None,
        );
        return None;
    };
    let then = constant(cx, doc, Some(then_node), &k.name, field_type);
    let otherwise = af
        .get("otherwise")
        .map(|o| constant(cx, doc, Some(o), &k.name, field_type));
    Some(AttrValue::When {
        when: when?,
        then,
        otherwise,
    })
}

/// `cases: [{ when, then }, ...]` and the `otherwise` it needs.
fn cases(
    cx: &mut Ctx,
    doc: &Doc,
    k: &Key,
    af: &Fields,
    field_type: &Type,
    env: &CompileEnv,
) -> Option<AttrValue> {
    let node = af.get("cases")?;
    let mut cases = Vec::new();
    match &node.kind {
        Kind::Seq(items) => {
            for item in items {
                let Some(cf) = fields(cx, doc, item, "a case", &CASE_KEYS) else {
                    continue;
                };
                let (Some(w), Some(t)) = (cf.get("when"), cf.get("then")) else {
                    cx.node(doc, item, "a case needs `when` and `then`", None);
                    continue;
                };
                let when = expression(cx, doc, w, env, true);
                let then = constant(cx, doc, Some(t), &k.name, field_type);
                if let Some(when) = when {
                    cases.push((when, then));
                }
            }
        }
        _ => cx.node(
            doc,
            node,
            "`cases` must be a list of `{ when, then }`",
            None,
        ),
    }
    let Some(o) = af.get("otherwise") else {
        cx.key(
            doc,
            k,
            format!("`cases` of `{}` has no `otherwise`", k.name),
            Some("add `otherwise: V` for orders no case matches".to_string()),
        );
        return None;
    };
    let otherwise = constant(cx, doc, Some(o), &k.name, field_type);
    Some(AttrValue::Cases { cases, otherwise })
}

fn type_fits(field: &Type, value: &Type) -> bool {
    match (field, value) {
        (Type::Any, _) | (_, Type::Any) => true,
        (f, v) if f.is_textual() && v.is_textual() => true,
        (Type::List(_), _) => true,
        (f, v) => f.name() == v.name(),
    }
}

/// A constant attribute value, checked against the field's type.
fn constant(cx: &mut Ctx, doc: &Doc, n: Option<&Node>, name: &str, field: &Type) -> Value {
    let Some(n) = n else { return Value::Null };
    let v = to_value(n);
    let ok = match (field, &v) {
        (_, Value::Null) | (Type::Any, _) => true,
        (Type::Bool, Value::Bool(_)) | (Type::Number, Value::Number(_)) => true,
        (t, Value::Text(_)) if t.is_textual() => true,
        (t, Value::Number(_) | Value::Bool(_)) if t.is_textual() => true,
        (Type::List(inner), Value::List(items)) => items
            .iter()
            .all(|i| !matches!(i, Value::List(_) | Value::Object(_)) || **inner == Type::Any),
        (Type::List(_), Value::Text(_) | Value::Number(_)) => true,
        (Type::Object(_), Value::Object(_)) => true,
        _ => false,
    };
    if !ok {
        cx.node(
            doc,
            n,
            format!(
                "`{name}` is {}, but `{}` is {}",
                crate::condition::type_article(field),
                n.scalar_text().unwrap_or_else(|| v.to_string()),
                value_article(&v)
            ),
            None,
        );
    }
    // Text written for a number or a bool field is a common YAML slip; keep as given.
    v
}

fn value_article(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::Text(_) => "text",
        Value::List(_) => "a list",
        Value::Object(_) => "an object",
    }
}
