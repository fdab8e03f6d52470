//! The two ways an expression goes wrong: at load ([`ExprError`], with its place)
//! and while evaluating ([`EvalError`]).

use std::ops::Range;

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
