//! [`Condition`]: an expression parsed and compiled once, at load, then
//! evaluated per order.

use std::sync::Arc;

use super::compile::{CompileEnv, compile};
use super::error::{EvalError, ExprError};
use super::eval::{Env, Seen, read};
use super::parser::parse;
use super::program::{Node, Seg};
use super::scope::Scope;
use crate::order::Type;
use crate::value::Value;

/// A compiled expression, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The expression as written.
    pub text: Arc<str>,
    /// The static type of its result.
    pub ty: Type,
    node: Node,
    /// The order's fields the expression names (outside `any`/`all` elements),
    /// for traces.
    fields: Vec<(Arc<str>, Box<[Seg]>)>,
}

impl Condition {
    /// Parses and compiles `text`; all problems found are returned.
    pub fn compile(text: &str, env: &CompileEnv) -> Result<Condition, Vec<ExprError>> {
        let expr = parse(text).map_err(|e| vec![e])?;
        let (node, ty) = compile(&expr, text, env)?;
        let mut fields = Vec::new();
        node.root_fields(&mut fields);
        Ok(Condition {
            text: Arc::from(text),
            ty,
            node,
            fields,
        })
    }

    /// Evaluates to a value.
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        self.node.eval(&Env::new(scope)).map(|v| v.into_owned())
    }

    /// Evaluates to true or false (null is false).
    #[inline]
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, EvalError> {
        self.node.truth(&Env::new(scope))
    }

    /// Evaluates, and adds to `seen` each field of the order the expression
    /// names with its value, for the trace.
    pub fn eval_traced(&self, scope: &Scope, seen: &mut Vec<Seen>) -> Result<Value, EvalError> {
        let out = self.node.eval(&Env::new(scope)).map(|v| v.into_owned());
        // The values it saw: every field of the order the expression names,
        // read again (the order does not change during an evaluation). Fields
        // a short-circuit skipped are shown too, which explains more, not less.
        for (field, segs) in &self.fields {
            if !seen.iter().any(|s| s.field == *field) {
                seen.push(Seen {
                    field: field.clone(),
                    value: read(scope.order, segs).clone(),
                });
            }
        }
        out
    }

    /// The constant this expression folded to, if it did.
    pub fn constant(&self) -> Option<&Value> {
        self.node.as_const()
    }

    /// True if the expression reads `destination` (and so differs per destination).
    pub fn uses_destination(&self) -> bool {
        self.node.uses_destination()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::scope::Rates;

    /// Evaluates `text` against `order` (JSON), with EUR at 1.10 and KWD at
    /// 3.25 USD; the message of a runtime error as `Err`.
    fn run(text: &str, order: &str) -> Result<String, String> {
        let rates = Rates {
            base: "USD".into(),
            rates: vec![
                ("EUR".into(), "1.10".parse().unwrap()),
                ("KWD".into(), "3.25".parse().unwrap()),
                ("XBT".into(), "2".parse().unwrap()),
            ],
        };
        let ty = crate::order::order_type_with(&[
            ("a".to_string(), crate::order::Type::Number),
            ("b".to_string(), crate::order::Type::Number),
        ]);
        let env = CompileEnv {
            order: &ty,
            rates: &rates,
            destination_known: false,
        };
        let c = Condition::compile(text, &env).map_err(|e| format!("{e:?}"))?;
        let order = Value::from_json(order).unwrap();
        let scope = Scope {
            order: &order,
            event: crate::order::Event::Created,
            source: "shop",
            destination: None,
            now: "2026-11-22T12:00:00Z".parse().unwrap(),
            rates: &rates,
        };
        c.eval(&scope)
            .map(|v| v.to_string())
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn arithmetic_and_comparisons_are_exact() {
        let order = r#"{"a": 0.1, "b": 0.2, "total_price": 95, "currency": "EUR",
            "line_items": [{"price": 0.1, "quantity": 3}, {"price": 19.99, "quantity": 1}]}"#;
        let rows = [
            ("a + b == 0.3", "true"),
            ("0.1 + 0.2 == 0.3", "true"),
            ("a + b", "0.3"),
            ("total_price * 1.10", "104.5"),
            ("95 * 1.10", "104.5"),
            ("total_price * 1.10 == 104.5", "true"),
            ("1 / 3", "0.3333333333333333333333333333"),
            ("b - a - a", "0"),
            ("-a", "-0.1"),
            ("a * 3 > 0.3", "false"),
            ("a * 3 >= 0.3", "true"),
            ("sum(line_items, price * quantity)", "20.29"),
            ("count(line_items, price > 1)", "1"),
            ("len(line_items) == 2", "true"),
            ("convert(total_price, currency, \"USD\")", "104.5"),
            ("convert(total_price, currency, \"USD\") == 104.5", "true"),
            ("convert(100, \"USD\", \"KWD\")", "30.769"),
            ("convert(1.005, \"USD\", \"USD\")", "1"),
            ("convert(1.015, \"USD\", \"USD\")", "1.02"),
            ("convert(2.5, \"usd\", \"EUR\")", "2.27"),
            ("days_since(\"2026-11-20\")", "2"),
            ("\"n=\" + total_price * 1.10", "\"n=104.5\""),
        ];
        for (text, want) in rows {
            assert_eq!(run(text, order).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn overflow_and_bad_currencies_are_runtime_errors() {
        let order = r#"{"a": 79228162514264337593543950335, "b": 0, "currency": "XYZ"}"#;
        let overflow = "number out of range (an exact number is below 7.9e28)";
        assert_eq!(run("a + 1", order), Err(overflow.to_string()));
        assert_eq!(run("a * 2 > 1", order), Err(overflow.to_string()));
        assert_eq!(run("a - -a", order), Err(overflow.to_string()));
        assert_eq!(
            run("1 / b", order),
            Err("division by zero in `1 / b`".to_string())
        );
        assert_eq!(
            run("convert(1, currency, \"USD\")", order),
            Err("unknown currency \"XYZ\" in `convert(1, currency, \"USD\")`".to_string())
        );
        // A currency with a rate but no ISO 4217 minor unit cannot be rounded to.
        assert!(
            run("convert(1, \"USD\", \"XBT\")", order)
                .unwrap_err()
                .contains("`XBT` has no minor unit in ISO 4217")
        );
        assert!(
            run("1e400 > 1", order)
                .unwrap_err()
                .contains("number `1e400` is out of range")
        );
    }
}
