//! What the store asks of the pipeline inside its transactions.
//!
//! The store holds the transaction: it finds the order, loads its
//! [`OrderState`], and saves what was decided, all in one commit. It does not
//! decide: the writer is started with a [`Decide`] (the daemon passes
//! [`crate::pipeline::Pipeline`]), which turns the state and the update into
//! [`Explained`] decisions. The store depends on the engine's data types
//! only, never on its functions, so a second store (PostgreSQL) saves the
//! same values the same way.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::engine::{Decisions, OrderState, Update};
use crate::order::Event;
use crate::rules::RuleSet;
use crate::value::Value;

/// A set of decisions ready to be saved, each with its sentence of "why"
/// (one per decision by construction).
#[derive(Clone, Debug)]
pub struct Explained {
    decided: Decisions,
    why: Vec<String>,
}

impl Explained {
    /// `decided`, each decision explained by `why`.
    pub fn new(decided: Decisions, mut why: impl FnMut(&Decisions, usize) -> String) -> Explained {
        let why = (0..decided.decisions.len())
            .map(|i| why(&decided, i))
            .collect();
        Explained { decided, why }
    }

    /// The decisions.
    pub fn decided(&self) -> &Decisions {
        &self.decided
    }

    /// Each decision with its "why", in order.
    pub fn each(&self) -> impl Iterator<Item = (&crate::engine::Decision, &str)> {
        self.decided
            .decisions
            .iter()
            .zip(self.why.iter().map(String::as_str))
    }
}

/// What one update does to its order, explained (see [`crate::engine::Step`]).
#[derive(Clone, Debug)]
pub struct Planned {
    /// The update's own decisions.
    pub decided: Explained,
    /// The drafts it releases.
    pub released: Vec<Explained>,
}

/// A stored update, as re-sync reads it again.
#[derive(Clone, Copy, Debug)]
pub struct StoredPayload<'a> {
    pub update_id: i64,
    pub channel: &'a str,
    pub event_id: &'a str,
    pub payload: &'a [u8],
    /// The topic header it arrived with, if any.
    pub topic: Option<&'a str>,
    /// Fetched by polling rather than sent as a webhook.
    pub polled: bool,
}

/// A held draft an operator completes.
#[derive(Clone, Debug)]
pub struct Draft<'a> {
    /// The draft decision's id.
    pub id: i64,
    pub destination: &'a str,
    /// The channel its update came from.
    pub source: &'a str,
    /// The event it was decided for.
    pub event: Event,
    /// The order as the draft holds it.
    pub order: Value,
}

/// The decisions the store records, made by the pipeline.
pub trait Decide: Send + Sync + 'static {
    /// An update against its order's state: its decisions and the drafts it
    /// releases ([`crate::engine::step`]).
    fn step(
        &self,
        rules: &RuleSet,
        state: &OrderState,
        update: &Update,
    ) -> Result<Planned, StoreError>;

    /// A stored update read again as its channel sends now, and decided with
    /// nothing already delivered (an operator's re-sync).
    fn resync(
        &self,
        rules: &RuleSet,
        stored: StoredPayload<'_>,
        now: DateTime<Utc>,
    ) -> Result<Explained, StoreError>;

    /// A draft with the operator's fields `set`, decided `deliver` once
    /// nothing it requires is missing.
    fn complete(
        &self,
        rules: &RuleSet,
        draft: Draft<'_>,
        set: &[(String, Value)],
    ) -> Result<Explained, StoreError>;
}
