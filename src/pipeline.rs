//! The pipeline the store's writer runs inside its transactions: deciding
//! ([`engine::step`], [`engine::complete`]), reading a stored update again as
//! its channel sends now ([`ingress::reread`]) and saying why
//! ([`report::why`]). Pure: the store loads and saves, this decides.

use chrono::{DateTime, Utc};

use crate::engine::{self, Decisions, Incomplete, OrderState, Update};
use crate::ingress;
use crate::report;
use crate::rules::RuleSet;
use crate::store::{Decide, Draft, Explained, Planned, StoreError, StoredPayload};
use crate::value::Value;

/// ordersync's pipeline, as the daemon runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pipeline;

/// `decided` with the rules' own "why" for each decision.
pub fn explain(rules: &RuleSet, decided: Decisions) -> Explained {
    Explained::new(decided, |all, i| report::why(rules, all, &all.decisions[i]))
}

impl Decide for Pipeline {
    fn step(
        &self,
        rules: &RuleSet,
        state: &OrderState,
        update: &Update,
    ) -> Result<Planned, StoreError> {
        let step =
            engine::step(rules, state, update).map_err(|e| StoreError::Decide(e.to_string()))?;
        Ok(Planned {
            decided: explain(rules, step.decided),
            released: step
                .released
                .into_iter()
                .map(|d| explain(rules, d))
                .collect(),
        })
    }

    fn resync(
        &self,
        rules: &RuleSet,
        stored: StoredPayload<'_>,
        now: DateTime<Utc>,
    ) -> Result<Explained, StoreError> {
        let StoredPayload {
            update_id,
            channel,
            event_id,
            payload,
            topic,
            polled,
        } = stored;
        let ch = rules.channel(channel).ok_or_else(|| {
            StoreError::Conflict(format!(
                "`{channel}` is not a channel in rules {}",
                rules.version
            ))
        })?;
        let format = ingress::reading_format(ch, polled);
        let incoming = ingress::reread(format, polled, topic, event_id, payload).map_err(|e| {
            StoreError::Conflict(format!("update {update_id} cannot be read again: {e}"))
        })?;
        let update = Update {
            source: channel,
            event: incoming.event,
            order: &incoming.order,
            now,
        };
        // Nothing is "already there" (and no draft is held): every `deliver` is sent.
        Ok(self.step(rules, &OrderState::default(), &update)?.decided)
    }

    fn complete(
        &self,
        rules: &RuleSet,
        draft: Draft<'_>,
        set: &[(String, Value)],
    ) -> Result<Explained, StoreError> {
        let Draft {
            id,
            destination,
            source,
            event,
            order,
        } = draft;
        let decided = engine::complete(rules, destination, source, event, order, set).map_err(
            |e| match e {
                Incomplete::NoDeliveries => StoreError::Conflict(format!(
                    "`{destination}` takes no deliveries in rules {}",
                    rules.version
                )),
                Incomplete::Missing(missing) => {
                    StoreError::Invalid(format!("still missing: {}", missing.join(", ")))
                }
            },
        )?;
        let fields: Vec<&str> = set.iter().map(|(f, _)| f.as_str()).collect();
        let why = format!(
            "draft {id} completed by an operator: {} set",
            fields.join(", ")
        );
        Ok(Explained::new(decided, |_, _| why.clone()))
    }
}
