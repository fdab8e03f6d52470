//! What a condition sees besides the order: the update's event and channels,
//! the decision's time, and the currency rates.

use chrono::{DateTime, Utc};

use crate::order::Event;
use crate::value::{Decimal, Value};

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

/// Currency rates for `convert()`: units of the base currency per one unit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rates {
    /// The base currency (rate 1).
    pub base: String,
    /// Other currencies, upper-case codes, each rate exact and above zero.
    pub rates: Vec<(String, Decimal)>,
}

impl Rates {
    /// Units of the base per one unit of `code` (case-insensitive), if known.
    pub fn rate(&self, code: &str) -> Option<Decimal> {
        if code.eq_ignore_ascii_case(&self.base) {
            return Some(Decimal::ONE);
        }
        self.rates
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|(_, r)| *r)
    }

    /// Every code with a rate, the base first.
    pub fn codes(&self) -> Vec<&str> {
        let mut codes = Vec::new();
        if !self.base.is_empty() {
            codes.push(self.base.as_str());
        }
        codes.extend(self.rates.iter().map(|(c, _)| c.as_str()));
        codes
    }
}
