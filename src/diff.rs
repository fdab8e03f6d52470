//! `ordersync diff` (SPEC 7): replays the updates stored in a period through
//! candidate rules, compares with the decisions made when they arrived, and
//! summarises what would change per source and destination.
//!
//! The replay is faithful to what the daemon would have done with the new
//! rules, not just to each update alone: echo suppression (`skip: no change`)
//! depends on what each channel already has of the order, so every order with
//! an update in the period is replayed from its first stored update, in
//! arrival order, rebuilding that state in memory as the writer does
//! (`store::ingest`): after an update, its source has the incoming order and
//! each destination it is delivered to has the delivered order; a held draft
//! is decided again on the order's next update. Only updates received in the
//! period are compared; stale updates were never decided and are skipped.
//!
//! Only the decisions made when an update arrived (trigger `update`) are
//! compared. Operators' re-syncs and completed drafts are not replayed, so
//! after one the state of a later update may differ from what it really was.
//!
//! The database is opened read-only (the daemon may be running; WAL lets it
//! write meanwhile). The SQL is kept here rather than in `store` because it is
//! the only reader of the whole history and nothing else shares it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value as Json, json};

use crate::engine::{self, OrderState, Outcome, Update};
use crate::identity::TAG_PREFIX;
use crate::ingress;
use crate::order::Event;
use crate::rules::RuleSet;
use crate::store::{order_ref, parse_stamp, stamp};
use crate::value::{Value, eq_ignore_case};

/// The schema version (`PRAGMA user_version`) that first has everything the
/// replay reads: `updates.topic` and `decisions.trigger`.
const SCHEMA_NEEDED: i64 = 3;

/// The most example orders shown for one line.
const EXAMPLES: usize = 3;

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// There is no file at the path.
    #[error("cannot open the database `{}`: no such file", path.display())]
    Missing {
        /// The database path.
        path: PathBuf,
    },
    /// SQLite could not open the file.
    #[error("cannot open the database `{}`: {error}", path.display())]
    Open {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The file is a database without ordersync's tables.
    #[error("`{}` is not an ordersync database", path.display())]
    NotOrdersync {
        /// The database path.
        path: PathBuf,
    },
    /// The database was last migrated by an older ordersync.
    #[error(
        "the database `{}` has schema version {found}, older than this ordersync reads ({SCHEMA_NEEDED}); run `ordersync serve` on it once to bring it up to date",
        path.display()
    )]
    Outdated {
        /// The database path.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// A query failed.
    #[error("cannot read the database `{}`: {error}", path.display())]
    Read {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
}

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

/// Replays the updates received at or after `since` (with the history of
/// their orders) through `rules`, and compares with what was decided.
pub fn diff(db: &Path, rules: &RuleSet, since: DateTime<Utc>) -> Result<Report, DiffError> {
    let conn = open(db)?;
    let read = |error| DiffError::Read {
        path: db.to_path_buf(),
        error,
    };
    let mut replay = Replay::new(rules, stamp(since));
    // One read transaction: a consistent snapshot while the daemon writes on.
    conn.execute_batch("BEGIN").map_err(read)?;
    for_each_order(&conn, &stamp(since), |order_id, history| {
        replay.order(order_id, history)
    })
    .map_err(read)?;
    conn.execute_batch("COMMIT").map_err(read)?;
    Ok(replay.report(since))
}

fn open(db: &Path) -> Result<Connection, DiffError> {
    if !db.exists() {
        return Err(DiffError::Missing {
            path: db.to_path_buf(),
        });
    }
    let open_error = |error| DiffError::Open {
        path: db.to_path_buf(),
        error,
    };
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_error)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_error)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open_error)?;
    if version == 0 {
        return Err(DiffError::NotOrdersync {
            path: db.to_path_buf(),
        });
    }
    if version < SCHEMA_NEEDED {
        return Err(DiffError::Outdated {
            path: db.to_path_buf(),
            found: version,
        });
    }
    Ok(conn)
}

/// One stored update, with the decisions made when it arrived.
#[derive(Clone, Debug, Default)]
struct Stored {
    id: i64,
    channel: String,
    event_id: String,
    received_at: String,
    /// `decided`, `ignored` or `stale`.
    status: String,
    payload: Vec<u8>,
    polled: bool,
    topic: Option<String>,
    pruned: bool,
    decided: Vec<Recorded>,
}

/// One decision as stored.
#[derive(Clone, Debug, Default)]
struct Recorded {
    destination: String,
    /// `deliver`, `skip`, `draft` or `error`.
    outcome: String,
    /// `skip: publish is false`.
    detail: String,
    /// The order as decided (JSON), for `deliver` and `draft`.
    body: Option<String>,
    rules_version: String,
}

/// Calls `f` with the whole history of each order that has an update at or
/// after `since`, order by order, each history in arrival order.
fn for_each_order(
    conn: &Connection,
    since: &str,
    mut f: impl FnMut(i64, &[Stored]),
) -> rusqlite::Result<()> {
    let mut updates = conn.prepare(
        "SELECT id, order_id, channel, event_id, received_at, status, payload, via, topic,
                pruned_at IS NOT NULL
         FROM updates
         WHERE order_id IN (SELECT order_id FROM updates WHERE received_at >= ?1)
         ORDER BY order_id, id",
    )?;
    let mut decisions = conn.prepare(
        "SELECT destination, outcome, detail, body, rules_version FROM decisions
         WHERE update_id = ?1 AND trigger = 'update' ORDER BY id",
    )?;
    let mut rows = updates.query([since])?;
    let mut current: Option<i64> = None;
    let mut history: Vec<Stored> = Vec::new();
    while let Some(r) = rows.next()? {
        let order_id: i64 = r.get(1)?;
        if current != Some(order_id) {
            if let Some(id) = current {
                f(id, &history);
            }
            history.clear();
            current = Some(order_id);
        }
        let id: i64 = r.get(0)?;
        let decided = decisions
            .query_map([id], |d| {
                Ok(Recorded {
                    destination: d.get(0)?,
                    outcome: d.get(1)?,
                    detail: d.get(2)?,
                    body: d.get(3)?,
                    rules_version: d.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        history.push(Stored {
            id,
            channel: r.get(2)?,
            event_id: r.get(3)?,
            received_at: r.get(4)?,
            status: r.get(5)?,
            payload: r.get(6)?,
            polled: r.get::<_, String>(7)? == "poll",
            topic: r.get(8)?,
            pruned: r.get(9)?,
            decided,
        });
    }
    if let Some(id) = current {
        f(id, &history);
    }
    Ok(())
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
    fn order(&mut self, order_id: i64, history: &[Stored]) {
        let order = order_ref(order_id);
        let mut state = OrderState::default();
        for u in history {
            let counted = u.received_at.as_str() >= self.since.as_str();
            if u.status == "stale" {
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
                    for d in u.decided.iter().filter(|d| d.outcome == "deliver") {
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
    fn reread(&self, u: &Stored) -> Result<Received, Reason> {
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
    fn compare(&mut self, u: &Stored, order: &str, decided: &engine::Decisions) {
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
                Some(old) => match (old.outcome == "deliver", new.outcome == Outcome::Deliver) {
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
    use crate::rules::{LoadOptions, load_str};

    fn v(text: &str) -> Value {
        Value::from_json(text).unwrap()
    }

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

    /// A stored canonical update with its recorded decisions.
    fn stored(id: i64, event: &str, order: &str, decided: &[(&str, &str, Option<&str>)]) -> Stored {
        Stored {
            id,
            channel: "shop".into(),
            event_id: format!("e{id}"),
            received_at: format!("2026-11-2{id}T00:00:00.000000Z"),
            status: "decided".into(),
            payload: format!(r#"{{"id": "e{id}", "event": "{event}", "order": {order}}}"#)
                .into_bytes(),
            decided: decided
                .iter()
                .map(|(dest, detail, body)| Recorded {
                    destination: dest.to_string(),
                    outcome: detail.split(':').next().unwrap().to_string(),
                    detail: detail.to_string(),
                    body: body.map(str::to_string),
                    rules_version: "old".into(),
                })
                .collect(),
            ..Stored::default()
        }
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
