//! `ordersync diff` (SPEC 7): replays the updates stored in a period through
//! candidate rules, compares with the decisions made when they arrived, and
//! summarises what would change per source and destination.
//!
//! The replay is faithful to what the daemon would have done with the new
//! rules, not just to each update alone: echo suppression (`skip: no change`)
//! depends on what each channel already has of the order, so every order with
//! an update in the period is replayed from its first stored update, in
//! arrival order, rebuilding that state in memory as the writer does
//! (`engine::step`): after an update, its source has the incoming order and
//! each destination it is delivered to has the delivered order; a held draft
//! is decided again on the order's next update. Only updates received in the
//! period are compared; stale updates were never decided and are skipped.
//!
//! Only the decisions made when an update arrived (trigger `update`) are
//! compared. Operators' re-syncs and completed drafts are not replayed, so
//! after one the state of a later update may differ from what it really was.
//!
//! The replay is [`engine::step`] from an [`OrderState`] kept in memory, the
//! same step the writer takes. The history is read by
//! [`store::history`](crate::store::history), read-only while the daemon runs.

mod report;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::engine::{self, OrderState, Outcome, OutcomeKind, Update};
use crate::identity::TAG_PREFIX;
use crate::ingress;
use crate::order::Event;
use crate::rules::RuleSet;
use crate::store::history::{self, StoredUpdate};
use crate::store::{UpdateStatus, order_ref, parse_stamp, stamp};
use crate::value::{Value, eq_ignore_case};

pub use crate::store::history::HistoryError as DiffError;
pub use report::{Change, Difference, NotReplayed, Reason, Report};

/// The most example orders shown for one line.
const EXAMPLES: usize = 3;

/// Replays the updates received at or after `since` (with the history of
/// their orders) through `rules`, and compares with what was decided.
pub fn diff(db: &Path, rules: &RuleSet, since: DateTime<Utc>) -> Result<Report, DiffError> {
    diff_store(
        &crate::store::Location::Sqlite(db.to_path_buf()),
        rules,
        since,
    )
}

/// [`diff`] on either store: a SQLite file, or a PostgreSQL database read in
/// one snapshot while its daemons write.
pub fn diff_store(
    db: &crate::store::Location,
    rules: &RuleSet,
    since: DateTime<Utc>,
) -> Result<Report, DiffError> {
    let mut replay = Replay::new(rules, stamp(since));
    let each = |order_id: i64, history: &[history::StoredUpdate]| replay.order(order_id, history);
    match db {
        crate::store::Location::Sqlite(path) => history::each_order(path, &stamp(since), each)?,
        // On a thread of its own with its own runtime, so a caller already
        // on a runtime (a test, a tool) may call it too.
        crate::store::Location::Postgres(url) => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| DiffError::Postgres {
                            url: db.shown(),
                            error: format!("cannot start a runtime: {e}"),
                        })?
                        .block_on(history::each_order_postgres(url, &stamp(since), each))
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(DiffError::Postgres {
                        url: db.shown(),
                        error: "the reading thread failed".into(),
                    })
                })
        })?,
    }
    Ok(replay.report(since))
}

/// Updates counted together on one line, and the first few of their orders.
#[derive(Default)]
struct Tally {
    count: u64,
    examples: Vec<String>,
}

impl Tally {
    fn add(&mut self, order: &str) {
        self.count += 1;
        if self.examples.len() < EXAMPLES && !self.examples.iter().any(|e| e == order) {
            self.examples.push(order.to_string());
        }
    }
}

/// The replay of the period through the new rules: pure, fed order by order.
struct Replay<'r> {
    rules: &'r RuleSet,
    since: String,
    replayed: u64,
    unchanged: u64,
    stale: u64,
    /// Version -> the first update (by id) it decided.
    old_versions: BTreeMap<String, i64>,
    changes: BTreeMap<(String, String, Change), Tally>,
    not_replayed: BTreeMap<(String, Reason), Tally>,
}

impl<'r> Replay<'r> {
    fn new(rules: &'r RuleSet, since: String) -> Replay<'r> {
        Replay {
            rules,
            since,
            replayed: 0,
            unchanged: 0,
            stale: 0,
            old_versions: BTreeMap::new(),
            changes: BTreeMap::new(),
            not_replayed: BTreeMap::new(),
        }
    }

    /// Replays one order's whole history, counting the updates of the period.
    fn order(&mut self, order_id: i64, history: &[StoredUpdate]) {
        let order = order_ref(order_id);
        let mut state = OrderState::default();
        for u in history {
            let counted = u.received_at.as_str() >= self.since.as_str();
            if u.status == UpdateStatus::Stale {
                if counted {
                    self.stale += 1;
                }
                continue;
            }
            let received = match self.reread(u) {
                Ok(received) => received,
                Err(reason) => {
                    if counted {
                        self.not_replayed
                            .entry((u.channel.clone(), reason))
                            .or_default()
                            .add(&order);
                    }
                    // The best guess at what the destinations had afterwards.
                    for d in u
                        .decided
                        .iter()
                        .filter(|d| d.outcome == OutcomeKind::Deliver)
                    {
                        if let Some(body) = d.body.as_deref().and_then(|b| Value::from_json(b).ok())
                        {
                            state.set_known(&d.destination, without_ordersync_tag(&body));
                        }
                    }
                    continue;
                }
            };
            let update = Update {
                source: &u.channel,
                event: received.event,
                order: &received.order,
                now: received.now,
            };
            // As the writer does: the same step from the same state.
            let Ok(step) = engine::step(self.rules, &state, &update) else {
                // `reread` checked that the source is a channel of the rules.
                continue;
            };
            state.apply(&update, &step);
            if counted {
                self.compare(u, &order, &step.decided);
            }
        }
    }

    /// The update read again in the new rules' format, with its `now`.
    fn reread(&self, u: &StoredUpdate) -> Result<Received, Reason> {
        if u.pruned {
            return Err(Reason::Pruned);
        }
        let channel = self
            .rules
            .channel(&u.channel)
            .ok_or(Reason::UnknownChannel)?;
        let incoming = ingress::reread(
            ingress::reading_format(channel, u.polled),
            u.polled,
            u.topic.as_deref(),
            &u.event_id,
            &u.payload,
        )
        .map_err(|e| Reason::Unreadable(e.to_string()))?;
        let now = parse_stamp(&u.received_at).ok_or_else(|| {
            Reason::Unreadable(format!("`received_at` {} is not a time", u.received_at))
        })?;
        Ok(Received {
            event: incoming.event,
            order: incoming.order,
            now,
        })
    }

    /// Counts how the new decisions for one update differ from the stored ones.
    fn compare(&mut self, u: &StoredUpdate, order: &str, decided: &engine::Decisions) {
        self.replayed += 1;
        for d in &u.decided {
            self.old_versions
                .entry(d.rules_version.clone())
                .and_modify(|first| *first = (*first).min(u.id))
                .or_insert(u.id);
        }
        let mut changes = Vec::new();
        for new in &decided.decisions {
            let now = new.outcome.to_string();
            let change = match u.decided.iter().find(|d| d.destination == *new.destination) {
                None => Some(Change::Added { now }),
                Some(old) => match (
                    old.outcome == OutcomeKind::Deliver,
                    new.outcome == Outcome::Deliver,
                ) {
                    (true, true) => {
                        let fields = match (
                            old.body.as_deref().and_then(|b| Value::from_json(b).ok()),
                            &new.order,
                        ) {
                            (Some(was), Some(is)) => differing_fields(&was, is),
                            _ => vec!["(the order)".to_string()],
                        };
                        (!fields.is_empty()).then_some(Change::Fields(fields))
                    }
                    (true, false) => Some(Change::NoLongerDelivered { now }),
                    (false, true) => Some(Change::NowDelivered {
                        was: old.detail.clone(),
                    }),
                    (false, false) => (old.detail != now).then(|| Change::Decided {
                        was: old.detail.clone(),
                        now,
                    }),
                },
            };
            if let Some(c) = change {
                changes.push((new.destination.to_string(), c));
            }
        }
        for old in &u.decided {
            if !decided
                .decisions
                .iter()
                .any(|d| *d.destination == *old.destination)
            {
                changes.push((
                    old.destination.clone(),
                    Change::Removed {
                        was: old.detail.clone(),
                    },
                ));
            }
        }
        if changes.is_empty() {
            self.unchanged += 1;
        }
        for (destination, change) in changes {
            self.changes
                .entry((u.channel.clone(), destination, change))
                .or_default()
                .add(order);
        }
    }

    fn report(self, since: DateTime<Utc>) -> Report {
        let mut old_versions: Vec<(i64, String)> = self
            .old_versions
            .into_iter()
            .map(|(v, at)| (at, v))
            .collect();
        old_versions.sort();
        let mut changes: Vec<Difference> = self
            .changes
            .into_iter()
            .map(|((source, destination, change), t)| Difference {
                source,
                destination,
                change,
                count: t.count,
                examples: t.examples,
            })
            .collect();
        // Stable: ties keep the map's order (source, destination, change).
        changes.sort_by_key(|d| std::cmp::Reverse(d.count));
        let mut not_replayed: Vec<NotReplayed> = self
            .not_replayed
            .into_iter()
            .map(|((source, reason), t)| NotReplayed {
                source,
                reason,
                count: t.count,
                examples: t.examples,
            })
            .collect();
        not_replayed.sort_by_key(|n| std::cmp::Reverse(n.count));
        Report {
            since,
            old_versions: old_versions.into_iter().map(|(_, v)| v).collect(),
            new_version: self.rules.version.to_string(),
            replayed: self.replayed,
            unchanged: self.unchanged,
            stale: self.stale,
            changes,
            not_replayed,
        }
    }
}

/// An update as read again, and the time its rules saw.
struct Received {
    event: Event,
    order: Value,
    now: DateTime<Utc>,
}

/// The order without the `ordersync:<id>` tag the writer adds to orders sent
/// to a destination whose id for it is not known yet; `tags` goes away when
/// that was its only element.
fn without_ordersync_tag(order: &Value) -> Value {
    let Some(tags) = order.get("tags").and_then(Value::as_list) else {
        return order.clone();
    };
    let is_ours = |t: &Value| {
        t.as_str()
            .and_then(|s| s.get(..TAG_PREFIX.len()))
            .is_some_and(|p| eq_ignore_case(p, TAG_PREFIX))
    };
    if !tags.iter().any(is_ours) {
        return order.clone();
    }
    let kept: Vec<Value> = tags.iter().filter(|t| !is_ours(t)).cloned().collect();
    let Some(entries) = order.as_object() else {
        return order.clone();
    };
    Value::object(
        entries
            .iter()
            .filter(|(k, _)| k.as_str() != "tags" || !kept.is_empty())
            .map(|(k, v)| {
                if k.as_str() == "tags" {
                    (k.clone(), Value::list(kept.clone()))
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect(),
    )
}

/// The top-level fields in which two delivered orders differ, sorted; `tags`
/// is compared without the `ordersync:` tag (and an empty list is no list),
/// and `updated_at` not at all, as echo suppression ignores it.
fn differing_fields(old: &Value, new: &Value) -> Vec<String> {
    let (old, new) = (without_ordersync_tag(old), without_ordersync_tag(new));
    let empty_tags = |v: &Value| v.as_list().is_some_and(|l| l.is_empty());
    let (Some(a), Some(b)) = (old.as_object(), new.as_object()) else {
        return if old.same(&new) {
            Vec::new()
        } else {
            vec!["(the order)".to_string()]
        };
    };
    let mut fields: Vec<String> = a
        .iter()
        .chain(b.iter())
        .map(|(k, _)| k.as_str())
        .filter(|&k| k != "updated_at")
        .filter(|&k| match (old.get(k), new.get(k)) {
            (Some(x), Some(y)) => !x.same(y),
            (Some(v), None) | (None, Some(v)) => !(k == "tags" && empty_tags(v)),
            (None, None) => false,
        })
        .map(str::to_string)
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::history::StoredDecision;

    /// A stored canonical update with its recorded decisions.
    fn stored(
        id: i64,
        event: &str,
        order: &str,
        decided: &[(&str, &str, Option<&str>)],
    ) -> StoredUpdate {
        StoredUpdate {
            id,
            channel: "shop".into(),
            event_id: format!("e{id}"),
            received_at: format!("2026-11-2{id}T00:00:00.000000Z"),
            status: UpdateStatus::Decided,
            payload: format!(r#"{{"id": "e{id}", "event": "{event}", "order": {order}}}"#)
                .into_bytes(),
            decided: decided
                .iter()
                .map(|(dest, detail, body)| StoredDecision {
                    destination: dest.to_string(),
                    outcome: OutcomeKind::parse(detail.split(':').next().unwrap()).unwrap(),
                    detail: detail.to_string(),
                    body: body.map(str::to_string),
                    rules_version: "old".into(),
                })
                .collect(),
            ..StoredUpdate::default()
        }
    }
    use crate::rules::{LoadOptions, load_str};

    fn v(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

    #[test]
    fn delivered_orders_are_compared_without_our_tag_and_updated_at() {
        let old =
            v(r#"{"id": "1", "tags": ["eBay", "ordersync:ord_1"], "updated_at": "a", "total": 5}"#);
        let same = v(r#"{"id": "1", "tags": ["eBay"], "updated_at": "b", "total": 5}"#);
        assert!(differing_fields(&old, &same).is_empty());
        let other = v(r#"{"id": "1", "tags": ["Amazon"], "total": 6, "note": "x"}"#);
        assert_eq!(differing_fields(&old, &other), ["note", "tags", "total"]);
        // The tag was the only one, on an order that had none.
        let tagged = v(r#"{"id": "1", "tags": ["ordersync:ord_1"]}"#);
        assert!(differing_fields(&tagged, &v(r#"{"id": "1"}"#)).is_empty());
        assert_eq!(
            differing_fields(&tagged, &v(r#"{"id": "1", "tags": ["x"]}"#)),
            ["tags"]
        );
    }

    #[test]
    fn echoes_are_suppressed_as_the_new_rules_would_have_delivered() {
        let rules = load_str(
            "rules.yaml",
            r#"
version: 1
channels:
  shop: { role: commerce_platform, webhook: { format: ordersync, secret: s } }
  supplier: { role: fulfillment, deliver: { url: "http://127.0.0.1:9/x" } }
rules:
  shop: { attributes: { note: new } }
"#,
            &LoadOptions { env: &|_| None },
        )
        .unwrap();
        // The old rules set no note. The second update is the same order
        // again: "no change" then, and with the new rules as well, because
        // the replay remembers what the new rules delivered the first time.
        let order = r#"{"id": "1", "total": 5}"#;
        let history = [
            stored(
                1,
                "created",
                order,
                &[("supplier", "deliver", Some(r#"{"id":"1","total":5}"#))],
            ),
            stored(
                2,
                "updated",
                order,
                &[("supplier", "skip: no change", None)],
            ),
        ];
        let mut replay = Replay::new(&rules, "2026-11-20T00:00:00Z".into());
        replay.order(1, &history);
        let report = replay.report("2026-11-20T00:00:00Z".parse().unwrap());
        assert_eq!(
            report.text(),
            format!(
                "\
replayed 2 updates received since 2026-11-20T00:00:00Z (rules old -> {})
1 update from shop would be delivered to supplier with different fields (note), e.g. ord_1
no change for 1 update
",
                rules.version
            )
        );
    }

    #[test]
    fn a_draft_released_by_a_later_update_counts_as_delivered() {
        let rules = load_str(
            "rules.yaml",
            r#"
version: 1
channels:
  shop: { role: commerce_platform, webhook: { format: ordersync, secret: s } }
  supplier:
    role: fulfillment
    deliver: { url: "http://127.0.0.1:9/x", accepts: [created, cancelled], require: [invoice_number] }
"#,
            &LoadOptions { env: &|_| None },
        )
        .unwrap();
        // The draft of 1 is released by 2 (the supplier takes `created`, not
        // `updated`), so the cancellation of the same order is no change.
        let with_invoice = r#"{"id": "1", "invoice_number": "I"}"#;
        let history = [
            stored(
                1,
                "created",
                r#"{"id": "1"}"#,
                &[(
                    "supplier",
                    "draft: missing invoice_number",
                    Some(r#"{"id":"1"}"#),
                )],
            ),
            stored(
                2,
                "updated",
                with_invoice,
                &[("supplier", "skip: event updated is not accepted", None)],
            ),
            stored(
                3,
                "cancelled",
                with_invoice,
                &[("supplier", "skip: no change", None)],
            ),
        ];
        let mut replay = Replay::new(&rules, "2026-11-20T00:00:00Z".into());
        replay.order(1, &history);
        let report = replay.report("2026-11-20T00:00:00Z".parse().unwrap());
        assert_eq!(report.changes, []);
        assert_eq!((report.replayed, report.unchanged), (3, 3));
    }
}
