//! Request templates (SPEC 12.2, `kind: http`): minijinja text compiled and
//! checked when the rules load, rendered once per delivery.
//!
//! A template sees the delivery envelope of SPEC 6.3 (`event`, `order_id`,
//! `external_id`, `source`, `destination`, `rules_version`, `order`) plus
//! `idempotency_key` and `now`, and nothing else: no loader (a template reaches
//! no file), no function that touches the outside, a fuel limit and an output
//! limit. Undefined values are errors ([`UndefinedBehavior::Strict`]); a field
//! the order's shape knows but the order lacks is `none`, as in conditions.
//!
//! Secrets: a template's text is compiled *before* `${NAME}` interpolation, so
//! `${NAME}` stays in the rendered request as a marker. That rendered request is
//! what is stored and resent; [`expand`] puts the secret in just before sending.
//! A value a template writes cannot forge a marker: `${` in any value comes out
//! as `$${`, which [`expand`] turns back into `${`.

use std::fmt;
use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

mod check;
mod render;

pub use check::{Check, NAMES, Problem};
pub use render::{Envelope, METHODS, Rendered, context, expand, render_request};

/// Instructions one render may run: far more than any request needs, and a
/// loop that does not end stops within milliseconds.
pub const FUEL: u64 = 50_000;

/// The longest text one template may render.
pub const MAX_OUTPUT: usize = 1 << 20;

/// The widest `tojson(indent=N)` allowed (a huge indent is a memory bomb).
const MAX_INDENT: usize = 16;

/// A compiled template.
#[derive(Clone)]
pub struct Template {
    env: Arc<Environment<'static>>,
    text: Arc<str>,
    constant: bool,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.text).finish()
    }
}

/// The one environment shape every template gets.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    // `tojson` with a bounded indent; the rest of the builtins are pure.
    env.add_filter(
        "tojson",
        |value: &minijinja::Value,
         indent: Option<minijinja::Value>,
         kwargs: Kwargs|
         -> Result<minijinja::Value, minijinja::Error> {
            let wide = indent
                .as_ref()
                .or(kwargs
                    .peek::<Option<&minijinja::Value>>("indent")
                    .ok()
                    .flatten())
                .and_then(|v| usize::try_from(v.clone()).ok())
                .is_some_and(|n| n > MAX_INDENT);
            if wide {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("`tojson` indents at most {MAX_INDENT} spaces"),
                ));
            }
            minijinja::filters::tojson(value, indent, kwargs)
        },
    );
    // Every value is written as text; `${` in it is escaped so it can never
    // be taken for a secret's marker (see `expand`).
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(minijinja::Error::from(ErrorKind::UndefinedError));
        }
        let text = value.to_string();
        out.write_str(&text.replace("${", "$${"))
            .map_err(minijinja::Error::from)
    });
    env
}

/// Compiles `text` and checks it: its syntax, the names it reads, and in a
/// JSON body that every value goes through `tojson`. Every problem is returned.
pub fn compile(text: &str, check: &Check) -> Result<Template, Vec<Problem>> {
    let mut env = environment();
    if let Err(e) = env.add_template_owned(check::NAME, text.to_string()) {
        let range = e.range().unwrap_or(0..1);
        let message = e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return Err(vec![Problem {
            offset: range.start.min(text.len()),
            len: range.len().max(1),
            message: format!("template syntax error: {message}"),
            hint: None,
        }]);
    }
    let undeclared = env
        .get_template(check::NAME)
        .map(|t| t.undeclared_variables(false))
        .unwrap_or_default();
    let mut problems = check::problems(text, check, &undeclared);
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.offset);
        return Err(problems);
    }
    Ok(Template {
        env: Arc::new(env),
        constant: !text.contains("{{") && !text.contains("{%") && !text.contains("{#"),
        text: Arc::from(text),
    })
}

impl Template {
    /// The template's text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when the text has no template syntax: it renders as itself.
    pub fn is_constant(&self) -> bool {
        self.constant
    }

    /// Renders against a context from [`context`]; the error is a reason in words.
    pub fn render(&self, ctx: &minijinja::Value) -> Result<String, String> {
        let t = self
            .env
            .get_template(check::NAME)
            .map_err(|e| format!("the template cannot be read: {e}"))?;
        let mut out = Capped::default();
        match t.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.bytes)
                .map_err(|_| "the template rendered text that is not UTF-8".to_string()),
            Err(_) if out.over => Err(format!(
                "the template renders more than {} KiB",
                MAX_OUTPUT >> 10
            )),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(format!(
                "the template ran out of fuel ({FUEL} steps): a loop that does not end, or too much work for one request"
            )),
            Err(e) => Err(render_reason(&e, &self.text)),
        }
    }
}

fn render_reason(e: &minijinja::Error, text: &str) -> String {
    let what = match e.kind() {
        ErrorKind::UndefinedError => "undefined value".to_string(),
        _ => e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string()),
    };
    match e.range().and_then(|r| text.get(r)) {
        Some(at) if !at.is_empty() => format!("the template failed: {what} at `{at}`"),
        _ => format!("the template failed: {what}"),
    }
}

/// Output with a cap: writing past [`MAX_OUTPUT`] fails the render.
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.over = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::order::{Event, Type, order_type_with};
    use crate::value::Value;

    fn check(json: bool) -> (Type, bool) {
        (order_type_with(&[]), json)
    }

    fn problems(text: &str, json: bool) -> Vec<(usize, usize, String)> {
        let (t, json) = check(json);
        match compile(text, &Check { order: &t, json }) {
            Ok(_) => Vec::new(),
            Err(ps) => ps
                .into_iter()
                .map(|p| (p.offset, p.len, p.message))
                .collect(),
        }
    }

    fn envelope_ctx(order: &str) -> minijinja::Value {
        let order = Value::from_json(order).unwrap();
        let e = Envelope {
            event: Event::Created,
            order_id: "ord_1",
            external_id: None,
            source: "shop",
            destination: "supplier",
            rules_version: "abc",
            order: &order,
            idempotency_key: "k1",
            now: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        context(&e, &order_type_with(&[])).unwrap()
    }

    fn render(text: &str, order: &str) -> Result<String, String> {
        let (t, _) = check(false);
        compile(
            text,
            &Check {
                order: &t,
                json: false,
            },
        )
        .unwrap()
        .render(&envelope_ctx(order))
    }

    #[test]
    fn syntax_errors_are_placed() {
        let p = problems("a {{ order.id }", false);
        assert_eq!(p.len(), 1);
        assert!(p[0].2.starts_with("template syntax error: "), "{p:?}");
    }

    #[test]
    fn unknown_names_and_fields() {
        assert_eq!(
            problems("{{ ordr.id }} {{ ordr.name }}", false),
            vec![(3, 4, "unknown variable `ordr`".to_string())]
        );
        assert_eq!(
            problems(
                "{% for l in order.line_items %}{{ l.sku }}{% endfor %}{{ range(3) }}",
                false
            ),
            Vec::new()
        );
        assert_eq!(
            problems("{{ order.total_prce }}", false),
            vec![(3, 16, "unknown field `order.total_prce`".to_string())]
        );
        assert_eq!(problems("{{ order.line_items[0].sku }}", false), Vec::new());
        assert_eq!(
            problems("{{ order.shipping_address.zipp }}", false).len(),
            1
        );
    }

    #[test]
    fn json_bodies_need_tojson() {
        assert_eq!(
            problems(
                r#"{"a": {{ order.id }}, "b": {{ order.id | tojson }}}"#,
                true
            ),
            vec![(
                9,
                8,
                "`{{ order.id }}` puts a value into a JSON body without `| tojson`".to_string()
            )]
        );
        // Inside `set` the value is not written: only what is written counts.
        assert_eq!(
            problems(r#"{% set x = order.id %}{"a": {{ x | tojson }}}"#, true),
            Vec::new()
        );
    }

    #[test]
    fn renders_exactly() {
        let out = render(
            r#"{"id": {{ order.id | tojson }}, "n": {{ order.total_price | tojson }}, "note": {{ order.note | tojson }}, "k": "{{ idempotency_key }}", "t": "{{ now }}"}"#,
            r#"{"id": "5001", "total_price": 104.5}"#,
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"id": "5001", "n": 104.5, "note": null, "k": "k1", "t": "2026-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            render("{{ order.id | tojson }}", r#"{"id": 820982911946154508}"#).unwrap(),
            "820982911946154508"
        );
    }

    #[test]
    fn values_cannot_forge_markers() {
        let out = render(
            "A ${TOKEN} {{ order.note }}",
            r#"{"note": "${TOKEN} $${x}"}"#,
        )
        .unwrap();
        assert_eq!(out, "A ${TOKEN} $${TOKEN} $$${x}");
        let sent = expand(&out, &|n| (n == "TOKEN").then(|| "s3cr3t".to_string())).unwrap();
        assert_eq!(sent, "A s3cr3t ${TOKEN} $${x}");
        assert!(
            expand("${GONE}", &|_| None)
                .unwrap_err()
                .contains("`${GONE}`")
        );
    }

    #[test]
    fn limits() {
        let e = render("{% for i in range(100000) %}{{ i }}{% endfor %}", "{}").unwrap_err();
        assert!(e.contains("ran out of fuel"), "{e}");
        let e = render("{{ 'x' * 2000000 }}", "{}").unwrap_err();
        assert!(e.contains("renders more than 1024 KiB"), "{e}");
        let e = render("{{ order | tojson(indent=100000000) }}", "{}").unwrap_err();
        assert!(e.contains("indents at most"), "{e}");
        let e = render("{% set o = order %}{{ o.nope }}", "{}").unwrap_err();
        assert!(e.contains("undefined value"), "{e}");
    }
}
