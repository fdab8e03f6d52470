//! `/metrics` (SPEC 9): counters, gauges and one histogram in Prometheus text
//! format 0.0.4, with the `ordersync_` prefix, base units and labels of low
//! cardinality (channel, destination, outcome; never an order id).
//!
//! Hand-written rather than a metrics crate: a dozen families, a mutex per
//! family held for one map update, and a renderer of forty lines. Label values
//! come from the rules (channel names) or from fixed sets (outcomes), so the
//! maps stay small; a webhook for an unknown channel is counted under the
//! channel label `unknown`, never under the name in the URL.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// The upper bounds of the delivery latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0,
];

/// Counter or gauge.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// One metric name with its label names; values per label values.
pub struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    values: Mutex<Vec<(Vec<String>, f64)>>,
}

impl Family {
    const fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Family {
        Family {
            name,
            help,
            kind,
            labels,
            values: Mutex::new(Vec::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<(Vec<String>, f64)>) -> R) -> R {
        match self.values.lock() {
            Ok(mut m) => f(&mut m),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The value for these label values, created at 0. A linear search: a
    /// family has tens of series, and this needs no allocation per call.
    fn slot<'m>(m: &'m mut Vec<(Vec<String>, f64)>, labels: &[&str]) -> &'m mut f64 {
        let found = m
            .iter()
            .position(|(k, _)| k.iter().map(String::as_str).eq(labels.iter().copied()));
        let i = found.unwrap_or_else(|| {
            m.push((labels.iter().map(|s| s.to_string()).collect(), 0.0));
            m.len() - 1
        });
        &mut m[i].1
    }

    /// Adds one for these label values (in the order of the family's labels).
    pub fn inc(&self, labels: &[&str]) {
        self.add(labels, 1.0);
    }

    /// Adds `n` for these label values.
    pub fn add(&self, labels: &[&str], n: f64) {
        debug_assert_eq!(labels.len(), self.labels.len(), "{}", self.name);
        self.with(|m| *Family::slot(m, labels) += n);
    }

    /// Sets a gauge.
    pub fn set(&self, labels: &[&str], v: f64) {
        self.with(|m| *Family::slot(m, labels) = v);
    }

    /// The value for these label values (0 when never set).
    pub fn get(&self, labels: &[&str]) -> f64 {
        self.with(|m| {
            m.iter()
                .find(|(k, _)| k.iter().map(String::as_str).eq(labels.iter().copied()))
                .map_or(0.0, |(_, v)| *v)
        })
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, self.kind);
        let mut series = self.with(|m| m.clone());
        series.sort_by(|a, b| a.0.cmp(&b.0));
        for (values, v) in &series {
            out.push_str(self.name);
            labels(out, self.labels, values, None);
            let _ = writeln!(out, " {}", number(*v));
        }
    }
}

/// One histogram series: the count in each bucket (not cumulative), the sum, the count.
type Series = (Vec<u64>, f64, u64);

/// A histogram per label value, with fixed buckets.
pub struct Histogram {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    values: Mutex<BTreeMap<String, Series>>,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, label: &str, d: Duration) {
        let secs = d.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        let mut m = match self.values.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !m.contains_key(label) {
            m.insert(
                label.to_string(),
                (vec![0; LATENCY_BUCKETS.len() + 1], 0.0, 0),
            );
        }
        if let Some((buckets, sum, count)) = m.get_mut(label) {
            buckets[bucket] += 1;
            *sum += secs;
            *count += 1;
        }
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} histogram", self.name);
        let m = match self.values.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (value, (buckets, sum, count)) in m.iter() {
            let mut cumulative = 0;
            let bounds = LATENCY_BUCKETS
                .iter()
                .map(|b| number(*b))
                .chain(["+Inf".to_string()]);
            for (n, le) in buckets.iter().zip(bounds) {
                cumulative += n;
                let _ = write!(out, "{}_bucket", self.name);
                labels(out, &[self.label], std::slice::from_ref(value), Some(&le));
                let _ = writeln!(out, " {cumulative}");
            }
            let _ = write!(out, "{}_sum", self.name);
            labels(out, &[self.label], std::slice::from_ref(value), None);
            let _ = writeln!(out, " {}", number(*sum));
            let _ = write!(out, "{}_count", self.name);
            labels(out, &[self.label], std::slice::from_ref(value), None);
            let _ = writeln!(out, " {count}");
        }
    }
}

/// Everything the daemon counts.
pub struct Metrics {
    /// Webhook requests by channel and outcome (`accepted`, `duplicate`, `stale`,
    /// `unauthorized`, `unknown_channel`, `too_large`, `unreadable`, `unavailable`, `error`).
    pub webhook_requests: Family,
    /// Webhook requests whose signature was missing or wrong.
    pub signature_failures: Family,
    /// Updates (webhook or poll) whose id was already stored.
    pub duplicates: Family,
    /// Updates older than the newest already seen from their source.
    pub stale: Family,
    /// Decisions by destination and outcome (`deliver`, `skip`, `draft`, `error`).
    pub decisions: Family,
    /// Delivery attempts by destination and outcome (`delivered`, `retry`, `rejected`, `dead`).
    pub deliveries: Family,
    /// From the update's arrival to the destination's 2xx.
    pub delivery_latency: Histogram,
    /// Reloads by outcome (`applied`, `unchanged`, `rejected`).
    pub reloads: Family,
    /// When the rules in force were loaded.
    pub last_reload_success: Family,
    /// 1 while the last reload was refused.
    pub reload_failing: Family,
    /// Poll runs by channel and outcome (`ok`, `error`, `skipped`).
    pub poll_runs: Family,
    /// When each channel's last poll run succeeded.
    pub poll_last_success: Family,
    /// 1 while a channel's schedule has not started a run for twice its period.
    pub poll_stalled: Family,
    /// Rows housekeeping pruned, by kind (`attempts`, `payloads`) and stuck deliveries marked.
    pub housekeeping: Family,
    /// Requests a platform refused for their credentials, by channel.
    pub connector_auth_failures: Family,
    /// Requests a platform throttled, by channel.
    pub connector_throttled: Family,
    /// 0 while a connector channel needs reconnecting, else 1.
    pub connector_credential_ok: Family,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty counters.
    pub fn new() -> Metrics {
        use Kind::{Counter, Gauge};
        Metrics {
            webhook_requests: Family::new(
                "ordersync_webhook_requests_total",
                "Webhook requests, by channel and outcome.",
                Counter,
                &["channel", "outcome"],
            ),
            signature_failures: Family::new(
                "ordersync_webhook_signature_failures_total",
                "Webhook requests refused for a missing or wrong signature.",
                Counter,
                &["channel"],
            ),
            duplicates: Family::new(
                "ordersync_updates_duplicate_total",
                "Updates whose id was already stored (webhook or poll).",
                Counter,
                &["channel"],
            ),
            stale: Family::new(
                "ordersync_updates_stale_total",
                "Updates older than the newest seen from their source: stored, not routed.",
                Counter,
                &["channel"],
            ),
            decisions: Family::new(
                "ordersync_decisions_total",
                "Decisions, by destination and outcome.",
                Counter,
                &["destination", "outcome"],
            ),
            deliveries: Family::new(
                "ordersync_delivery_attempts_total",
                "Delivery attempts, by destination and outcome.",
                Counter,
                &["destination", "outcome"],
            ),
            delivery_latency: Histogram {
                name: "ordersync_delivery_latency_seconds",
                help: "From an update's arrival to its destination's 2xx.",
                label: "destination",
                values: Mutex::new(BTreeMap::new()),
            },
            reloads: Family::new(
                "ordersync_rules_reloads_total",
                "Rules reloads, by outcome.",
                Counter,
                &["outcome"],
            ),
            last_reload_success: Family::new(
                "ordersync_rules_loaded_timestamp_seconds",
                "When the rules in force were loaded (Unix time).",
                Gauge,
                &[],
            ),
            reload_failing: Family::new(
                "ordersync_rules_reload_failing",
                "1 while the last reload was refused and the previous rules keep routing.",
                Gauge,
                &[],
            ),
            poll_runs: Family::new(
                "ordersync_poll_runs_total",
                "Poll runs, by channel and outcome.",
                Counter,
                &["channel", "outcome"],
            ),
            poll_last_success: Family::new(
                "ordersync_poll_last_success_timestamp_seconds",
                "When each channel's last poll run succeeded (Unix time).",
                Gauge,
                &["channel"],
            ),
            poll_stalled: Family::new(
                "ordersync_poll_stalled",
                "1 while a channel's schedule has started no run for twice its period.",
                Gauge,
                &["channel"],
            ),
            housekeeping: Family::new(
                "ordersync_housekeeping_rows_total",
                "Rows housekeeping pruned or marked, by kind.",
                Counter,
                &["kind"],
            ),
            connector_auth_failures: Family::new(
                "ordersync_connector_auth_failures_total",
                "Connector requests the platform refused for their credentials, by channel.",
                Counter,
                &["channel"],
            ),
            connector_throttled: Family::new(
                "ordersync_connector_throttled_total",
                "Connector requests the platform throttled (the channel waited), by channel.",
                Counter,
                &["channel"],
            ),
            connector_credential_ok: Family::new(
                "ordersync_connector_credential_ok",
                "0 while a connector channel's credentials are refused and it needs reconnecting, else 1.",
                Gauge,
                &["channel"],
            ),
        }
    }

    /// Counts what storing one update came to (webhook or poll).
    pub fn count_ingested(
        &self,
        channel: &str,
        result: &Result<crate::store::Ingested, crate::store::StoreError>,
    ) {
        use crate::store::Ingested;
        match result {
            Ok(Ingested::Duplicate) => self.duplicates.inc(&[channel]),
            Ok(Ingested::Stored {
                status, outcomes, ..
            }) => {
                if *status == "stale" {
                    self.stale.inc(&[channel]);
                }
                for (destination, outcome) in outcomes {
                    self.decisions.inc(&[destination, outcome]);
                }
            }
            Err(_) => {}
        }
    }

    /// The Prometheus text, with the gauges read from the store at scrape time.
    pub fn render(&self, scrape: &Scrape) -> String {
        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "ordersync_build_info",
            "The running build; always 1.",
            Kind::Gauge,
        );
        let _ = writeln!(
            out,
            "ordersync_build_info{{version=\"{}\",rules_version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            escape(&scrape.rules_version)
        );
        for f in [
            &self.webhook_requests,
            &self.signature_failures,
            &self.duplicates,
            &self.stale,
            &self.decisions,
            &self.deliveries,
            &self.connector_auth_failures,
            &self.connector_throttled,
            &self.connector_credential_ok,
        ] {
            f.render(&mut out);
        }
        self.delivery_latency.render(&mut out);
        for (name, help, v) in [
            (
                "ordersync_outbox_depth",
                "Deliveries decided and not yet delivered, rejected or dead.",
                scrape.outbox_depth as f64,
            ),
            (
                "ordersync_outbox_oldest_age_seconds",
                "How long the oldest pending delivery has waited (0 when none).",
                scrape.outbox_oldest_age.as_secs_f64(),
            ),
            (
                "ordersync_deliveries_stuck",
                "Pending deliveries marked stuck (no progress for --stuck-after).",
                scrape.stuck as f64,
            ),
        ] {
            header(&mut out, name, help, Kind::Gauge);
            let _ = writeln!(out, "{name} {}", number(v));
        }
        for f in [
            &self.reloads,
            &self.last_reload_success,
            &self.reload_failing,
            &self.poll_runs,
            &self.poll_last_success,
            &self.poll_stalled,
            &self.housekeeping,
        ] {
            f.render(&mut out);
        }
        out
    }
}

/// What `/metrics` reads from the store and the rules at scrape time.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    /// The rules version in force.
    pub rules_version: String,
    /// Pending deliveries.
    pub outbox_depth: u64,
    /// The oldest pending delivery's wait.
    pub outbox_oldest_age: Duration,
    /// Pending deliveries marked stuck.
    pub stuck: u64,
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let kind = match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels(out: &mut String, names: &[&str], values: &[String], le: Option<&str>) {
    if names.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (n, v) in names.iter().zip(values) {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{n}=\"{}\"", escape(v));
    }
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        let _ = write!(out, "le=\"{le}\"");
    }
    out.push('}');
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_a_cumulative_histogram() {
        let m = Metrics::new();
        m.webhook_requests.inc(&["ebay", "accepted"]);
        m.webhook_requests.inc(&["ebay", "accepted"]);
        m.webhook_requests.inc(&["we\"ird", "unauthorized"]);
        m.delivery_latency
            .observe("shopify", Duration::from_millis(7));
        m.delivery_latency
            .observe("shopify", Duration::from_secs(3000));
        m.reload_failing.set(&[], 1.0);
        let text = m.render(&Scrape {
            rules_version: "abc".into(),
            outbox_depth: 3,
            outbox_oldest_age: Duration::from_millis(1500),
            stuck: 0,
        });
        for line in [
            "ordersync_webhook_requests_total{channel=\"ebay\",outcome=\"accepted\"} 2",
            "ordersync_webhook_requests_total{channel=\"we\\\"ird\",outcome=\"unauthorized\"} 1",
            "ordersync_delivery_latency_seconds_bucket{destination=\"shopify\",le=\"0.005\"} 0",
            "ordersync_delivery_latency_seconds_bucket{destination=\"shopify\",le=\"0.01\"} 1",
            "ordersync_delivery_latency_seconds_bucket{destination=\"shopify\",le=\"600\"} 1",
            "ordersync_delivery_latency_seconds_bucket{destination=\"shopify\",le=\"+Inf\"} 2",
            "ordersync_delivery_latency_seconds_count{destination=\"shopify\"} 2",
            "ordersync_outbox_depth 3",
            "ordersync_outbox_oldest_age_seconds 1.5",
            "ordersync_rules_reload_failing 1",
            "# TYPE ordersync_poll_runs_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert_eq!(m.webhook_requests.get(&["ebay", "accepted"]), 2.0);
        assert_eq!(m.webhook_requests.get(&["ebay", "duplicate"]), 0.0);
    }
}
