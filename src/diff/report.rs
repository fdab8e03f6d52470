//! What `ordersync diff` found, and how it is said: text for people, JSON for
//! scripts.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value as Json, json};

use crate::store::stamp;

/// How the decisions for one update and destination would change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// It was delivered; now it would not be, for this outcome (`skip: publish is false`).
    NoLongerDelivered {
        /// The new outcome.
        now: String,
    },
    /// It was not delivered (for this outcome); now it would be.
    NowDelivered {
        /// The old outcome.
        was: String,
    },
    /// Delivered either way, but these top-level fields of the order differ
    /// (ignoring `updated_at` and the `ordersync:` tag).
    Fields(Vec<String>),
    /// Neither delivers, for different reasons.
    Decided {
        /// The old outcome.
        was: String,
        /// The new outcome.
        now: String,
    },
    /// The new rules route the source to this destination; the old did not.
    Added {
        /// The new outcome.
        now: String,
    },
    /// The old rules routed the source to this destination; the new do not.
    Removed {
        /// The old outcome.
        was: String,
    },
}

impl Change {
    /// A short name for `--json`.
    pub fn name(&self) -> &'static str {
        match self {
            Change::NoLongerDelivered { .. } => "no_longer_delivered",
            Change::NowDelivered { .. } => "now_delivered",
            Change::Fields(_) => "different_fields",
            Change::Decided { .. } => "decided_differently",
            Change::Added { .. } => "added",
            Change::Removed { .. } => "removed",
        }
    }

    /// The old and new outcomes (`None` where the destination was not decided).
    fn was_now(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Change::NoLongerDelivered { now } => (Some("deliver"), Some(now)),
            Change::NowDelivered { was } => (Some(was), Some("deliver")),
            Change::Fields(_) => (Some("deliver"), Some("deliver")),
            Change::Decided { was, now } => (Some(was), Some(now)),
            Change::Added { now } => (None, Some(now)),
            Change::Removed { was } => (Some(was), None),
        }
    }
}

/// Why an update could not be replayed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Housekeeping dropped its payload after the retention period.
    Pruned,
    /// Its source is not a channel of the new rules.
    UnknownChannel,
    /// Its payload cannot be read in the channel's (new) format.
    Unreadable(String),
}

impl Reason {
    /// A short name for `--json`.
    pub fn name(&self) -> &'static str {
        match self {
            Reason::Pruned => "pruned",
            Reason::UnknownChannel => "unknown_channel",
            Reason::Unreadable(_) => "unreadable",
        }
    }
}

/// Updates from one source whose decision for one destination changes the same way.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    /// The source channel.
    pub source: String,
    /// The destination channel.
    pub destination: String,
    /// How it changes.
    pub change: Change,
    /// How many updates.
    pub count: u64,
    /// The first few of their orders (`ord_12`), in order.
    pub examples: Vec<String>,
}

/// Updates from one source that could not be replayed, for one reason.
#[derive(Clone, Debug, PartialEq)]
pub struct NotReplayed {
    /// The source channel.
    pub source: String,
    /// Why.
    pub reason: Reason,
    /// How many updates.
    pub count: u64,
    /// The first few of their orders (`ord_12`), in order.
    pub examples: Vec<String>,
}

/// What `ordersync diff` found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The start of the period.
    pub since: DateTime<Utc>,
    /// The rules versions that made the compared decisions, oldest first.
    pub old_versions: Vec<String>,
    /// The candidate rules' version.
    pub new_version: String,
    /// Updates of the period replayed and compared.
    pub replayed: u64,
    /// Of those, the ones decided the same for every destination.
    pub unchanged: u64,
    /// Stale updates of the period: never decided, so not replayed.
    pub stale: u64,
    /// What would change, most updates first.
    pub changes: Vec<Difference>,
    /// What could not be replayed, most updates first.
    pub not_replayed: Vec<NotReplayed>,
}

impl Report {
    /// The summary for people, one line per kind of change.
    ///
    /// ```text
    /// replayed 1,234 updates received since 2026-11-24T12:00:00Z (rules 3d4e0618bd6d -> a1b2c3d4e5f6)
    /// 412 updates from ebay would no longer be delivered to shopify (now: skip: publish is false), e.g. ord_12, ord_40, ord_41
    /// 3 updates from shop would be delivered to supplier with different fields (shipping_method), e.g. ord_7
    /// 2 updates from shop would now be delivered to amazon (was: skip: publish is false), e.g. ord_3, ord_9
    /// 1 update from shop would be decided differently for supplier (skip: no change -> draft: missing invoice_number), e.g. ord_5
    /// 1 update from shop would now also be delivered to ebay, e.g. ord_5
    /// 1 update from shop would now also be decided for ebay (now: skip: event label is not accepted), e.g. ord_6
    /// 1 update from shop would no longer be decided for walmart (was: deliver), e.g. ord_5
    /// 9 updates from ebay could not be replayed: the payload was pruned by retention, e.g. ord_1, ord_2, ord_4
    /// 1 update from etsy could not be replayed: `etsy` is not a channel in the new rules, e.g. ord_8
    /// 1 update from shop could not be replayed: the payload cannot be read: missing `order`, e.g. ord_9
    /// skipped 2 stale updates (never decided)
    /// no change for 819 updates
    /// ```
    ///
    /// Counts are of updates: a change line counts updates whose decision for
    /// that destination changes that way, so one update can be on several lines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let rules = if self.old_versions.is_empty() {
            self.new_version.clone()
        } else {
            format!("{} -> {}", self.old_versions.join(", "), self.new_version)
        };
        let _ = writeln!(
            out,
            "replayed {} received since {} (rules {rules})",
            updates(self.replayed),
            self.since.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        for d in &self.changes {
            let what = match &d.change {
                Change::NoLongerDelivered { now } => {
                    format!(
                        "would no longer be delivered to {} (now: {now})",
                        d.destination
                    )
                }
                Change::NowDelivered { was } => {
                    format!("would now be delivered to {} (was: {was})", d.destination)
                }
                Change::Fields(fields) => format!(
                    "would be delivered to {} with different fields ({})",
                    d.destination,
                    fields.join(", ")
                ),
                Change::Decided { was, now } => format!(
                    "would be decided differently for {} ({was} -> {now})",
                    d.destination
                ),
                Change::Added { now } if now == "deliver" => {
                    format!("would now also be delivered to {}", d.destination)
                }
                Change::Added { now } => {
                    format!(
                        "would now also be decided for {} (now: {now})",
                        d.destination
                    )
                }
                Change::Removed { was } => {
                    format!(
                        "would no longer be decided for {} (was: {was})",
                        d.destination
                    )
                }
            };
            let _ = writeln!(
                out,
                "{} from {} {what}, e.g. {}",
                updates(d.count),
                d.source,
                d.examples.join(", ")
            );
        }
        for n in &self.not_replayed {
            let why = match &n.reason {
                Reason::Pruned => "the payload was pruned by retention".to_string(),
                Reason::UnknownChannel => {
                    format!("`{}` is not a channel in the new rules", n.source)
                }
                Reason::Unreadable(e) => format!("the payload cannot be read: {e}"),
            };
            let _ = writeln!(
                out,
                "{} from {} could not be replayed: {why}, e.g. {}",
                updates(n.count),
                n.source,
                n.examples.join(", ")
            );
        }
        if self.stale > 0 {
            let _ = writeln!(out, "skipped {} (never decided)", stale(self.stale));
        }
        let _ = writeln!(out, "no change for {}", updates(self.unchanged));
        out
    }

    /// The same for machines (`--json`).
    pub fn json(&self) -> Json {
        json!({
            "since": stamp(self.since),
            "rules": { "old": self.old_versions, "new": self.new_version },
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "changes": self.changes.iter().map(|d| {
                let (was, now) = d.change.was_now();
                let fields = match &d.change {
                    Change::Fields(f) => f.clone(),
                    _ => Vec::new(),
                };
                json!({
                    "source": d.source,
                    "destination": d.destination,
                    "change": d.change.name(),
                    "was": was,
                    "now": now,
                    "fields": fields,
                    "count": d.count,
                    "examples": d.examples,
                })
            }).collect::<Vec<_>>(),
            "not_replayed": self.not_replayed.iter().map(|n| json!({
                "source": n.source,
                "reason": n.reason.name(),
                "detail": match &n.reason {
                    Reason::Unreadable(e) => Some(e.as_str()),
                    _ => None,
                },
                "count": n.count,
                "examples": n.examples,
            })).collect::<Vec<_>>(),
        })
    }
}

/// `1 update`, `1,234 updates`.
fn updates(n: u64) -> String {
    format!(
        "{} {}",
        grouped(n),
        if n == 1 { "update" } else { "updates" }
    )
}

/// `1 stale update`, `2 stale updates`.
fn stale(n: u64) -> String {
    format!(
        "{} stale {}",
        grouped(n),
        if n == 1 { "update" } else { "updates" }
    )
}

/// A count with thousands separated by commas: `1,234`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        let rows = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1000, "1,000"),
            (1234, "1,234"),
            (123456, "123,456"),
            (1234567, "1,234,567"),
        ];
        for (n, want) in rows {
            assert_eq!(grouped(n), want, "{n}");
        }
        assert_eq!(updates(1), "1 update");
        assert_eq!(updates(1234), "1,234 updates");
    }

    #[test]
    fn the_text_names_each_change_with_examples() {
        let d =
            |source: &str, destination: &str, change: Change, count: u64, ex: &[&str]| Difference {
                source: source.into(),
                destination: destination.into(),
                change,
                count,
                examples: ex.iter().map(|s| s.to_string()).collect(),
            };
        let report = Report {
            since: "2026-11-24T12:00:00Z".parse().unwrap(),
            old_versions: vec!["3d4e0618bd6d".into()],
            new_version: "a1b2c3d4e5f6".into(),
            replayed: 1234,
            unchanged: 819,
            stale: 1,
            changes: vec![
                d(
                    "ebay",
                    "shopify",
                    Change::NoLongerDelivered {
                        now: "skip: publish is false".into(),
                    },
                    412,
                    &["ord_12", "ord_40", "ord_41"],
                ),
                d(
                    "shop",
                    "supplier",
                    Change::Fields(vec!["shipping_method".into(), "tags".into()]),
                    3,
                    &["ord_7"],
                ),
                d(
                    "shop",
                    "supplier",
                    Change::Decided {
                        was: "skip: no change".into(),
                        now: "draft: missing invoice_number".into(),
                    },
                    1,
                    &["ord_5"],
                ),
                d(
                    "shop",
                    "ebay",
                    Change::Added {
                        now: "deliver".into(),
                    },
                    1,
                    &["ord_5"],
                ),
                d(
                    "shop",
                    "walmart",
                    Change::Removed {
                        was: "skip: no change".into(),
                    },
                    1,
                    &["ord_5"],
                ),
            ],
            not_replayed: vec![NotReplayed {
                source: "etsy".into(),
                reason: Reason::UnknownChannel,
                count: 2,
                examples: vec!["ord_8".into(), "ord_9".into()],
            }],
        };
        assert_eq!(
            report.text(),
            "\
replayed 1,234 updates received since 2026-11-24T12:00:00Z (rules 3d4e0618bd6d -> a1b2c3d4e5f6)
412 updates from ebay would no longer be delivered to shopify (now: skip: publish is false), e.g. ord_12, ord_40, ord_41
3 updates from shop would be delivered to supplier with different fields (shipping_method, tags), e.g. ord_7
1 update from shop would be decided differently for supplier (skip: no change -> draft: missing invoice_number), e.g. ord_5
1 update from shop would now also be delivered to ebay, e.g. ord_5
1 update from shop would no longer be decided for walmart (was: skip: no change), e.g. ord_5
2 updates from etsy could not be replayed: `etsy` is not a channel in the new rules, e.g. ord_8, ord_9
skipped 1 stale update (never decided)
no change for 819 updates
"
        );
        let j = report.json();
        assert_eq!(j["changes"][0]["change"], "no_longer_delivered");
        assert_eq!(j["changes"][0]["was"], "deliver");
        assert_eq!(j["changes"][3]["was"], Json::Null);
        assert_eq!(j["not_replayed"][0]["reason"], "unknown_channel");
    }
}
