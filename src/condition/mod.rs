//! The condition language (SPEC section 4): text -> [`ast::Expr`] -> [`Condition`].
//!
//! `parser` reads text into an owned tree (pest stays there); `compile` resolves
//! field paths against the order type, compiles regexes, folds constants and checks
//! types, producing the `program` (a tree of nodes) that `eval` runs against an
//! order without ever looking at a string it has to parse. [`Condition`] holds
//! one compiled expression.
//!
//! ```text
//! parser.rs -> ast.rs -> compile/ -> program.rs -> eval.rs (+ text.rs)
//!                                                 ^ scope.rs: what it sees
//! ```

pub mod ast;
mod compile;
mod error;
mod eval;
mod expression;
pub mod parser;
mod program;
mod scope;
mod text;

pub use compile::{CompileEnv, article as type_article};
pub use error::{EvalError, ExprError};
pub use eval::{Seen, loose_eq, parse_timestamp};
pub use expression::Condition;
pub use scope::{Rates, Scope};
