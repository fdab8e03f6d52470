//! `/metrics` (SPEC 9): counters, gauges and one histogram in Prometheus text
//! format 0.0.4, with the `ordersync_` prefix, base units and labels of low
//! cardinality (channel, destination, outcome; never an order id).
//!
//! The series live in prometheus-client's types (a [`Family`] per metric
//! keyed by a typed label set) and one [`Registry`] writes them. Label values
//! come from the rules (channel names) or from fixed sets (outcomes), so the
//! families stay small; a webhook for an unknown channel is counted under the
//! channel label `unknown`, never under the name in the URL.
//!
//! prometheus-client writes OpenMetrics; three small adaptations keep the
//! exposition what scrapers and dashboards have always read (the 0.0.4 text):
//! a counter is registered under its full `_total` name and written as
//! [`Total`], every family is described even before its first series
//! ([`Described`]), and a bucket's `le` goes after the family's labels
//! ([`le_last`]).

use std::fmt::Write as _;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Metric, Registry};

/// The upper bounds of the delivery latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0,
];

/// The histogram's name, which [`le_last`] looks for.
const LATENCY: &str = "ordersync_delivery_latency_seconds";

/// A label value, escaped as the text format wants (prometheus-client
/// writes values as given, and a channel name is the operator's text).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Value(String);

impl EncodeLabelValue for Value {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A label set built from its values in order, as callers pass them:
/// `metrics.poll_runs.inc(&[channel, "ok"])`.
pub trait Labels:
    EncodeLabelSet + Clone + Hash + Eq + std::fmt::Debug + Send + Sync + 'static
{
    /// The values, one per label: `[&str; N]`.
    type Values<'a>;
    /// The label set of these values.
    fn of(values: &Self::Values<'_>) -> Self;
}

macro_rules! label_set {
    ($(#[$doc:meta])* $name:ident [$($field:ident),+] $n:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
        pub struct $name {
            $($field: Value),+
        }

        impl Labels for $name {
            type Values<'a> = [&'a str; $n];
            fn of(&[$($field),+]: &[&str; $n]) -> $name {
                $name { $($field: Value($field.to_string())),+ }
            }
        }
    };
}

label_set!(
    /// `{channel}`.
    Channel [channel] 1
);
label_set!(
    /// `{channel, outcome}`.
    ChannelOutcome [channel, outcome] 2
);
label_set!(
    /// `{destination}`.
    Destination [destination] 1
);
label_set!(
    /// `{destination, outcome}`.
    DestinationOutcome [destination, outcome] 2
);
label_set!(
    /// `{outcome}`.
    Outcome [outcome] 1
);
label_set!(
    /// `{kind}`.
    Kind [kind] 1
);
label_set!(
    /// `{version, rules_version}` of `ordersync_build_info`.
    BuildInfo [version, rules_version] 2
);

/// One counter series, written as Prometheus text 0.0.4 names it: the family
/// is registered under its full `_total` name and each sample carries that
/// name. (OpenMetrics drops `_total` from `# TYPE` and appends it to every
/// sample, so a 0.0.4 reader would find the samples without their type.)
#[derive(Clone, Debug, Default)]
pub struct Total(Counter);

impl TypedMetric for Total {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for Total {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        // A sample without a suffix, which the gauge encoding writes.
        encoder.encode_gauge(&self.0.get())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// A metric written with its `# HELP` and `# TYPE` even before its first
/// series, as `/metrics` always has (prometheus-client skips empty families).
#[derive(Debug)]
struct Described<M>(M);

impl<M: EncodeMetric> EncodeMetric for Described<M> {
    fn encode(&self, encoder: MetricEncoder) -> std::fmt::Result {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

/// A counter per label set.
#[derive(Debug)]
pub struct Counters<L: Labels>(Family<L, Total>);

impl<L: Labels> Counters<L> {
    /// Adds one for these label values (in the order of the family's labels).
    pub fn inc(&self, labels: &L::Values<'_>) {
        self.add(labels, 1);
    }

    /// Adds `n` for these label values.
    pub fn add(&self, labels: &L::Values<'_>, n: u64) {
        self.0.get_or_create(&L::of(labels)).0.inc_by(n);
    }

    /// The count for these label values (0 when never counted).
    pub fn get(&self, labels: &L::Values<'_>) -> u64 {
        self.0.get(&L::of(labels)).map_or(0, |c| c.0.get())
    }
}

/// A gauge of seconds or flags per label set.
pub type Float = Gauge<f64, AtomicU64>;

/// A gauge per label set.
#[derive(Debug)]
pub struct Gauges<L: Labels>(Family<L, Float>);

impl<L: Labels> Gauges<L> {
    /// Sets the gauge for these label values.
    pub fn set(&self, labels: &L::Values<'_>, v: f64) {
        self.0.get_or_create(&L::of(labels)).set(v);
    }

    /// The value for these label values (0 when never set).
    pub fn get(&self, labels: &L::Values<'_>) -> f64 {
        self.0.get(&L::of(labels)).map_or(0.0, |g| g.get())
    }
}

/// The delivery latency histogram, per destination.
#[derive(Debug)]
pub struct Latency(Family<Destination, Histogram, fn() -> Histogram>);

impl Latency {
    /// Records one observation.
    pub fn observe(&self, destination: &str, d: Duration) {
        self.0
            .get_or_create(&Destination::of(&[destination]))
            .observe(d.as_secs_f64());
    }
}

/// Everything the daemon counts.
pub struct Metrics {
    /// Webhook requests by channel and outcome (`accepted`, `duplicate`, `stale`,
    /// `unauthorized`, `unknown_channel`, `too_large`, `unreadable`, `unavailable`, `error`).
    pub webhook_requests: Counters<ChannelOutcome>,
    /// Webhook requests whose signature was missing or wrong.
    pub signature_failures: Counters<Channel>,
    /// Updates (webhook or poll) whose id was already stored.
    pub duplicates: Counters<Channel>,
    /// Updates older than the newest already seen from their source.
    pub stale: Counters<Channel>,
    /// Decisions by destination and outcome (`deliver`, `skip`, `draft`, `error`).
    pub decisions: Counters<DestinationOutcome>,
    /// Delivery attempts by destination and outcome (`delivered`, `retry`, `rejected`, `dead`).
    pub deliveries: Counters<DestinationOutcome>,
    /// From the update's arrival to the destination's 2xx.
    pub delivery_latency: Latency,
    /// Reloads by outcome (`applied`, `unchanged`, `rejected`).
    pub reloads: Counters<Outcome>,
    /// When the rules in force were loaded (Unix seconds).
    pub last_reload_success: Float,
    /// 1 while the last reload was refused.
    pub reload_failing: Gauge,
    /// Poll runs by channel and outcome (`ok`, `error`, `skipped`).
    pub poll_runs: Counters<ChannelOutcome>,
    /// When each channel's last poll run succeeded.
    pub poll_last_success: Gauges<Channel>,
    /// 1 while a channel's schedule has not started a run for twice its period.
    pub poll_stalled: Gauges<Channel>,
    /// Rows housekeeping pruned, by kind (`attempts`, `payloads`) and stuck deliveries marked.
    pub housekeeping: Counters<Kind>,
    /// Requests a platform refused for their credentials, by channel.
    pub connector_auth_failures: Counters<Channel>,
    /// Requests a platform throttled, by channel.
    pub connector_throttled: Counters<Channel>,
    /// 0 while a connector channel needs reconnecting, else 1.
    pub connector_credential_ok: Gauges<Channel>,
    /// Set at scrape time from [`Scrape`].
    scraped: Scraped,
    registry: Registry,
    /// One scrape at a time: each sets the scraped gauges, then writes them.
    rendering: Mutex<()>,
}

/// The gauges `/metrics` sets from the store and the rules at scrape time.
#[derive(Default)]
struct Scraped {
    build_info: Family<BuildInfo, Gauge>,
    outbox_depth: Gauge,
    outbox_oldest_age: Float,
    stuck: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn counters<L: Labels>(r: &mut Registry, name: &str, help: &str) -> Counters<L> {
    let family = Family::default();
    r.register(name, help, Described(family.clone()));
    Counters(family)
}

fn gauges<L: Labels>(r: &mut Registry, name: &str, help: &str) -> Gauges<L> {
    let family = Family::default();
    r.register(name, help, Described(family.clone()));
    Gauges(family)
}

fn gauge<M: Metric + Clone + Default>(r: &mut Registry, name: &str, help: &str) -> M {
    let m = M::default();
    r.register(name, help, m.clone());
    m
}

impl Metrics {
    /// Empty counters. Registered in the order `/metrics` lists them; help
    /// texts without their final period, which the registry adds.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let build_info = Family::default();
        r.register(
            "ordersync_build_info",
            "The running build; always 1",
            build_info.clone(),
        );
        let webhook_requests = counters(
            &mut r,
            "ordersync_webhook_requests_total",
            "Webhook requests, by channel and outcome",
        );
        let signature_failures = counters(
            &mut r,
            "ordersync_webhook_signature_failures_total",
            "Webhook requests refused for a missing or wrong signature",
        );
        let duplicates = counters(
            &mut r,
            "ordersync_updates_duplicate_total",
            "Updates whose id was already stored (webhook or poll)",
        );
        let stale = counters(
            &mut r,
            "ordersync_updates_stale_total",
            "Updates older than the newest seen from their source: stored, not routed",
        );
        let decisions = counters(
            &mut r,
            "ordersync_decisions_total",
            "Decisions, by destination and outcome",
        );
        let deliveries = counters(
            &mut r,
            "ordersync_delivery_attempts_total",
            "Delivery attempts, by destination and outcome",
        );
        let connector_auth_failures = counters(
            &mut r,
            "ordersync_connector_auth_failures_total",
            "Connector requests the platform refused for their credentials, by channel",
        );
        let connector_throttled = counters(
            &mut r,
            "ordersync_connector_throttled_total",
            "Connector requests the platform throttled (the channel waited), by channel",
        );
        let connector_credential_ok = gauges(
            &mut r,
            "ordersync_connector_credential_ok",
            "0 while a connector channel's credentials are refused and it needs reconnecting, else 1",
        );
        let latency: Family<Destination, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        r.register(
            LATENCY,
            "From an update's arrival to its destination's 2xx",
            Described(latency.clone()),
        );
        let outbox_depth = gauge(
            &mut r,
            "ordersync_outbox_depth",
            "Deliveries decided and not yet delivered, rejected or dead",
        );
        let outbox_oldest_age = gauge(
            &mut r,
            "ordersync_outbox_oldest_age_seconds",
            "How long the oldest pending delivery has waited (0 when none)",
        );
        let stuck = gauge(
            &mut r,
            "ordersync_deliveries_stuck",
            "Pending deliveries marked stuck (no progress for --stuck-after)",
        );
        let reloads = counters(
            &mut r,
            "ordersync_rules_reloads_total",
            "Rules reloads, by outcome",
        );
        let last_reload_success = gauge(
            &mut r,
            "ordersync_rules_loaded_timestamp_seconds",
            "When the rules in force were loaded (Unix time)",
        );
        let reload_failing = gauge(
            &mut r,
            "ordersync_rules_reload_failing",
            "1 while the last reload was refused and the previous rules keep routing",
        );
        let poll_runs = counters(
            &mut r,
            "ordersync_poll_runs_total",
            "Poll runs, by channel and outcome",
        );
        let poll_last_success = gauges(
            &mut r,
            "ordersync_poll_last_success_timestamp_seconds",
            "When each channel's last poll run succeeded (Unix time)",
        );
        let poll_stalled = gauges(
            &mut r,
            "ordersync_poll_stalled",
            "1 while a channel's schedule has started no run for twice its period",
        );
        let housekeeping = counters(
            &mut r,
            "ordersync_housekeeping_rows_total",
            "Rows housekeeping pruned or marked, by kind",
        );
        Metrics {
            webhook_requests,
            signature_failures,
            duplicates,
            stale,
            decisions,
            deliveries,
            delivery_latency: Latency(latency),
            reloads,
            last_reload_success,
            reload_failing,
            poll_runs,
            poll_last_success,
            poll_stalled,
            housekeeping,
            connector_auth_failures,
            connector_throttled,
            connector_credential_ok,
            scraped: Scraped {
                build_info,
                outbox_depth,
                outbox_oldest_age,
                stuck,
            },
            registry: r,
            rendering: Mutex::new(()),
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
                if *status == crate::store::UpdateStatus::Stale {
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
        let _one = match self.rendering.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let s = &self.scraped;
        // Only the rules version in force has a series.
        s.build_info.clear();
        s.build_info
            .get_or_create(&BuildInfo::of(&[
                env!("CARGO_PKG_VERSION"),
                &scrape.rules_version,
            ]))
            .set(1);
        s.outbox_depth
            .set(i64::try_from(scrape.outbox_depth).unwrap_or(i64::MAX));
        s.outbox_oldest_age
            .set(scrape.outbox_oldest_age.as_secs_f64());
        s.stuck.set(i64::try_from(scrape.stuck).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail. No `# EOF`: that ends
        // OpenMetrics, not the 0.0.4 text.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        le_last(&out)
    }
}

/// Moves each latency bucket's `le` after the family's labels, where the
/// 0.0.4 text has always had it (`{destination="shop",le="0.5"}`);
/// prometheus-client writes it first. The series are the same to Prometheus;
/// queries and tests that match the text are not.
fn le_last(text: &str) -> String {
    let bucket = format!("{LATENCY}_bucket{{le=\"");
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let moved = line.strip_prefix(&bucket).and_then(|rest| {
            let (le, rest) = rest.split_once("\",")?;
            let (labels, value) = rest.split_once("} ")?;
            Some(format!("{LATENCY}_bucket{{{labels},le=\"{le}\"}} {value}"))
        });
        out.push_str(moved.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
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
        m.reload_failing.set(1);
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
            "ordersync_delivery_latency_seconds_bucket{destination=\"shopify\",le=\"600.0\"} 1",
            "ordersync_delivery_latency_seconds_bucket{destination=\"shopify\",le=\"+Inf\"} 2",
            "ordersync_delivery_latency_seconds_count{destination=\"shopify\"} 2",
            "ordersync_outbox_depth 3",
            "ordersync_outbox_oldest_age_seconds 1.5",
            "ordersync_rules_reload_failing 1",
            "# TYPE ordersync_poll_runs_total counter",
            "# TYPE ordersync_webhook_requests_total counter",
            "# HELP ordersync_build_info The running build; always 1.",
            "ordersync_build_info{version=\"0.1.0\",rules_version=\"abc\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("# EOF"), "{text}");
        assert_eq!(m.webhook_requests.get(&["ebay", "accepted"]), 2);
        assert_eq!(m.webhook_requests.get(&["ebay", "duplicate"]), 0);
    }

    #[test]
    fn only_the_rules_version_in_force_has_a_build_info_series() {
        let m = Metrics::new();
        let scrape = |v: &str| Scrape {
            rules_version: v.into(),
            ..Scrape::default()
        };
        m.render(&scrape("one"));
        let text = m.render(&scrape("two"));
        let info: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ordersync_build_info{"))
            .collect();
        assert_eq!(info.len(), 1, "{text}");
        assert!(info[0].contains("rules_version=\"two\""), "{text}");
    }
}
