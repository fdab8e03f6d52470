//! ordersync keeps e-commerce orders in sync between sales channels, by rules.
//!
//! The modules, in the order data flows through them:
//!
//! - [`value`] and [`order`]: the order document and its canonical shape (leaves).
//! - [`condition`]: the condition language; text -> AST -> compiled [`condition::Condition`].
//! - [`rules`]: the control plane; a rules file (YAML, with locations) -> validated
//!   [`rules::RuleSet`], or every problem in it at once.
//! - [`engine`]: deciding; (rule set, source, update, what destinations have) ->
//!   one decision per destination with its trace. Pure: no I/O, no clock.
//! - [`report`]: how decisions, traces and test results are shown to people.
//!
//! ```text
//!  webhook / poll --> update --> engine::decide(RuleSet) --> decisions + traces --> delivery
//!                                     ^
//!  rules.yaml --> rules::load --------+   (check / test / explain run this part offline)
//! ```

pub mod condition;
pub mod engine;
pub mod order;
pub mod report;
pub mod rules;
pub mod suggest;
pub mod value;
