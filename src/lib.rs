//! ordersync keeps e-commerce orders in sync between sales channels, by rules.
//!
//! The modules, in the order data flows through them:
//!
//! - [`value`] and [`order`]: the order document and its canonical shape (leaves);
//!   [`json`] reads JSON (serde_json, a `DeserializeSeed`) straight into a
//!   [`value::Value`]; every number is an exact decimal, and [`money`] knows
//!   each currency's minor unit (ISO 4217).
//! - [`condition`]: the condition language; text -> AST -> compiled program
//!   (`condition/program.rs`, which both `compile/` and `eval.rs` build on).
//! - [`rules`]: the control plane; a rules file (YAML, with locations) -> validated
//!   [`rules::RuleSet`] by a list of named checks (`rules/load/`), or every
//!   problem in it at once.
//! - [`engine`]: deciding; [`engine::decide`] (rule set, update, what
//!   destinations have) -> one decision per destination with its trace, and
//!   [`engine::step`], the whole effect of an update on an order's
//!   [`engine::OrderState`] (its decisions and the drafts it releases). Pure:
//!   no I/O, no clock.
//! - [`ingress`]: channels' payloads read into canonical updates, and their
//!   signatures checked; [`delivery`]: what a delivery sends and when it is
//!   tried again, the platform connectors (`delivery::connector`, their
//!   requests and answers pure) and labels; [`identity`]: the ordersync id
//!   carried in tags, and which update is stale.
//! - [`store`]: the only module that writes SQL: named [`store::Reader`] and
//!   [`store::Writer`] operations with typed rows. The logic of an ingest, an
//!   attempt and an operator's action is written once against
//!   `store::statements` (one method per statement), implemented by the
//!   SQLite store, whose single writer (group commit) loads an order's state,
//!   asks its [`store::Decide`] for the step and saves the result in one
//!   transaction, and by [`store::pg`], the shared PostgreSQL store for
//!   several daemons (deliveries on leased lanes, singleton jobs on lease
//!   rows; reads written once for both stores in `store::query`); [`pipeline`] is that `Decide` ([`engine::step`],
//!   re-reading, "why"); [`daemon`] wires `serve`: `daemon::ingress` (webhooks,
//!   polling), `daemon::delivery` (lanes, and the claimer of a shared
//!   store's lanes), `daemon::admin` (API, dashboard,
//!   `/metrics`), hot reload, housekeeping, the systemd watchdog and shutdown;
//!   [`logging`]: text, journald and JSON logs.
//! - [`report`]: how decisions, traces and test results are shown to people;
//!   [`diff`]: stored updates replayed through candidate rules with the same
//!   [`engine::step`], and what would change; [`failpoint`]: crash-test hooks
//!   between durable steps.
//!
//! ```text
//!  webhook / poll --> update --> engine::step(RuleSet, OrderState) --> decisions + traces --> delivery
//!                                     ^
//!  rules.yaml --> rules::load --------+   (check / test / explain run this part offline)
//! ```

//! Deciding one update offline, as `ordersync explain` does:
//!
//! ```
//! use ordersync::engine::{decide, Update};
//! use ordersync::order::Event;
//! use ordersync::rules::{load_str, LoadOptions};
//! use ordersync::value::Value;
//!
//! let rules = load_str("rules.yaml", r#"
//! version: 1
//! channels:
//!   shop: { role: commerce_platform, deliver: { url: "http://127.0.0.1:9101/orders" } }
//!   ebay: { role: marketplace, deliver: { url: "http://127.0.0.1:9102/orders", accepts: [shipped] } }
//! rules:
//!   ebay: { attributes: { tags: eBay } }
//!   shop:
//!     overwrites:
//!       ebay: { attributes: { publish: { when: tags contains "eBay", then: true, otherwise: false } } }
//! "#, &LoadOptions { env: &|_| None }).expect("valid rules");
//!
//! let order = Value::from_json(r#"{"id": "5001", "tags": ["Amazon"]}"#).unwrap();
//! let now = "2026-11-22T12:00:00Z".parse().unwrap();
//! let update = Update { source: "shop", event: Event::Shipped, order: &order, now };
//! let decisions = decide(&rules, &update, &[]).unwrap();
//! assert_eq!(decisions.decisions[0].outcome.to_string(), "skip: publish is false");
//! assert_eq!(decisions.decisions[0].trace[0].expression.as_ref(), "tags contains \"eBay\"");
//! ```

#![forbid(unsafe_code)]

pub mod condition;
pub mod daemon;
pub mod delivery;
pub mod diff;
pub mod engine;
pub mod failpoint;
pub mod identity;
pub mod ingress;
pub mod json;
pub mod logging;
pub mod money;
pub mod order;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod store;
pub mod suggest;
pub mod value;
