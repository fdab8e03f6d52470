//! The condition language (SPEC section 4): text -> [`ast::Expr`] -> [`Condition`].
//!
//! `parser` reads text into an owned tree (pest stays there); `compile` resolves
//! field paths against the order type, compiles regexes, folds constants and checks
//! types, producing a [`Condition`] that `eval` runs against an order without ever
//! looking at a string it has to parse.

pub mod ast;
mod compile;
mod eval;
pub mod parser;

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::order::{Event, Type};
use crate::value::Value;

pub use compile::{CompileEnv, Rates, article as type_article};
pub use eval::{Seen, loose_eq, parse_timestamp};

/// A problem in an expression, with the bytes of the expression it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprError {
    /// Byte range in the expression's text.
    pub span: Range<usize>,
    /// What is wrong, lowercase, identifiers in backticks.
    pub message: String,
    /// A suggestion, shown under the caret.
    pub hint: Option<String>,
}

impl ExprError {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> ExprError {
        ExprError {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> ExprError {
        self.hint = Some(hint.into());
        self
    }
}

/// A failure while evaluating (division by zero, an unknown currency): the
/// decision for that destination becomes `error`. One word, so that
/// `Result<bool, EvalError>` comes back in registers on the hot path.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
// A boxed `String` is one pointer where `String` is three: errors are rare, the
// size of the result on the hot path is not.
#[allow(clippy::box_collection)]
pub struct EvalError(Box<String>);

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> EvalError {
        EvalError(Box::new(message.into()))
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// What a condition can see besides the order: SPEC 4's `event`, `source`,
/// `destination` and `now()`, and the currency rates for `convert()`.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The order being decided.
    pub order: &'a Value,
    /// The update's event.
    pub event: Event,
    /// The source channel.
    pub source: &'a str,
    /// The destination being decided for, if any.
    pub destination: Option<&'a str>,
    /// The time `now()` returns; fixed per decision so a decision is a pure function.
    pub now: DateTime<Utc>,
    /// Rates for `convert()`.
    pub rates: &'a Rates,
}

/// A compiled expression, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The expression as written.
    pub text: Arc<str>,
    /// The static type of its result.
    pub ty: Type,
    node: compile::Node,
    /// The order's fields the expression names (outside `any`/`all` elements),
    /// for traces.
    fields: Vec<(Arc<str>, Box<[compile::Seg]>)>,
}

impl Condition {
    /// Parses and compiles `text`; all problems found are returned.
    pub fn compile(text: &str, env: &CompileEnv) -> Result<Condition, Vec<ExprError>> {
        let expr = parser::parse(text).map_err(|e| vec![e])?;
        let (node, ty) = compile::compile(&expr, text, env)?;
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
        self.node
            .eval(&eval::Env::new(scope))
            .map(|v| v.into_owned())
    }

    /// Evaluates to true or false (null is false).
    #[inline]
    pub fn eval_bool(&self, scope: &Scope) -> Result<bool, EvalError> {
        self.node.truth(&eval::Env::new(scope))
    }

    /// Evaluates, and adds to `seen` each field of the order the expression
    /// names with its value, for the trace.
    pub fn eval_traced(&self, scope: &Scope, seen: &mut Vec<Seen>) -> Result<Value, EvalError> {
        let out = self
            .node
            .eval(&eval::Env::new(scope))
            .map(|v| v.into_owned());
        // The values it saw: every field of the order the expression names,
        // read again (the order does not change during an evaluation). Fields
        // a short-circuit skipped are shown too, which explains more, not less.
        for (field, segs) in &self.fields {
            if !seen.iter().any(|s| s.field == *field) {
                seen.push(Seen {
                    field: field.clone(),
                    value: eval::read(scope.order, segs).clone(),
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
