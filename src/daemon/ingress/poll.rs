//! Polling (SPEC 6.2): for channels without webhooks, `GET url?since=<cursor>`
//! on the channel's cron schedule, each update stored and decided exactly as
//! a webhook's would be (an update seen both ways is stored once, by its id).
//!
//! The schedule is a tokio-cron-scheduler cron job (not a `new_repeated` job,
//! which can stop firing: its issue #113). The scheduler computes each next
//! tick from the current time, so a run that was missed while the process was
//! stalled is not made up for with a burst. A tick that finds the channel's
//! previous run still going is skipped and counted: one run per channel at a
//! time. The cursor is stored after every successful run, so a restart resumes
//! where the last run ended; the overlap window re-reads a little, and those
//! duplicates are dropped when stored. A reload that changes a channel's
//! `poll` rebuilds its job; the run state (single flight, last run) carries
//! over.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

use crate::daemon::delivery::dispatch::describe;
use crate::daemon::{Live, read, write};
use crate::delivery::connector::{self, Verdict, credential, ebay, etsy, shopify, woocommerce};
use crate::ingress::{self, cursor};
use crate::rules::{self, ConnectorKind, RuleSet};
use crate::store::{self, IngestRequest, Ingested, Quarantined, Via, WeakWriter};

/// The longest a poll request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest poll response read.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// One channel's polling, as `/readyz` and `/metrics` show it.
pub struct ChannelPoll {
    /// The channel.
    pub name: Arc<str>,
    /// What its rules say now.
    spec: RwLock<rules::Poll>,
    /// Its period, from the schedule.
    period: RwLock<Duration>,
    /// When its schedule was built (a stall before the first run counts from here).
    began: RwLock<DateTime<Utc>>,
    /// A run is in progress.
    running: AtomicBool,
    last_run: RwLock<Option<DateTime<Utc>>>,
    last_success: RwLock<Option<DateTime<Utc>>>,
    last_error: RwLock<Option<String>>,
}

impl ChannelPoll {
    /// True when no run has started for twice the period.
    pub fn stalled(&self, now: DateTime<Utc>) -> bool {
        cursor::stalled(
            read(&self.last_run),
            read(&self.began),
            read(&self.period),
            now,
        )
    }

    /// The channel's state for `/readyz`.
    pub fn status_json(&self, now: DateTime<Utc>) -> serde_json::Value {
        serde_json::json!({
            "schedule": read(&self.spec).schedule,
            "last_run": read(&self.last_run).map(store::stamp),
            "last_success": read(&self.last_success).map(store::stamp),
            "last_error": read(&self.last_error),
            "stalled": self.stalled(now),
        })
    }
}

struct Scheduled {
    job: Uuid,
    schedule: String,
    state: Arc<ChannelPoll>,
}

/// What a run needs.
struct Context {
    client: reqwest::Client,
    writer: WeakWriter,
    live: Arc<Live>,
}

/// The polling side of the daemon: one cron job per polling channel.
pub struct Poller {
    scheduler: JobScheduler,
    context: Arc<Context>,
    jobs: tokio::sync::Mutex<BTreeMap<Arc<str>, Scheduled>>,
    /// For `/readyz` and `/metrics`.
    channels: RwLock<Vec<Arc<ChannelPoll>>>,
}

impl Poller {
    /// A poller on the daemon's scheduler; call [`Poller::apply`] with the rules.
    pub fn new(scheduler: JobScheduler, writer: WeakWriter, live: Arc<Live>) -> Arc<Poller> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("ordersync/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Arc::new(Poller {
            scheduler,
            context: Arc::new(Context {
                client,
                writer,
                live,
            }),
            jobs: tokio::sync::Mutex::new(BTreeMap::new()),
            channels: RwLock::new(Vec::new()),
        })
    }

    /// The polling channels now scheduled.
    pub fn channels(&self) -> Vec<Arc<ChannelPoll>> {
        read(&self.channels)
    }

    /// Brings the jobs in line with `rules`: new polling channels get a job,
    /// removed ones lose theirs, a changed schedule rebuilds the job, and a
    /// changed url, format or overlap is used from the next run.
    pub async fn apply(&self, rules: &RuleSet) {
        let mut jobs = self.jobs.lock().await;
        let wanted: BTreeMap<Arc<str>, &rules::Poll> = rules
            .channels
            .iter()
            .filter_map(|c| c.poll.as_ref().map(|p| (c.name.clone(), p)))
            .collect();
        let gone: Vec<Arc<str>> = jobs
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(old) = jobs.remove(&name) {
                self.remove_job(&name, old.job).await;
                tracing::info!(channel = %name, "polling stopped: the channel has no `poll` now");
            }
        }
        for (name, spec) in wanted {
            let now = Utc::now();
            let cron = match rules::parse_schedule(&spec.schedule) {
                Ok(c) => c,
                // The rules were validated; a schedule that fails here is a bug.
                Err(e) => {
                    tracing::error!(channel = %name, error = %e, "cannot schedule polling");
                    continue;
                }
            };
            let period = cursor::period(&cron, now).unwrap_or(Duration::from_secs(60));
            if let Some(existing) = jobs.get(&name) {
                write(&existing.state.spec, spec.clone());
                if existing.schedule == spec.schedule {
                    continue;
                }
                let old = existing.job;
                self.remove_job(&name, old).await;
            }
            let state = match jobs.get(&name) {
                Some(existing) => existing.state.clone(),
                None => {
                    // What the last process saw, for `/readyz` until the first run.
                    let stored = match self.context.writer.upgrade() {
                        Ok(w) => w.poll_state(&name).await.unwrap_or_default(),
                        Err(_) => Default::default(),
                    };
                    Arc::new(ChannelPoll {
                        name: name.clone(),
                        spec: RwLock::new(spec.clone()),
                        period: RwLock::new(period),
                        began: RwLock::new(now),
                        running: AtomicBool::new(false),
                        last_run: RwLock::new(
                            stored.last_run_at.as_deref().and_then(store::parse_stamp),
                        ),
                        last_success: RwLock::new(
                            stored
                                .last_success_at
                                .as_deref()
                                .and_then(store::parse_stamp),
                        ),
                        last_error: RwLock::new(None),
                    })
                }
            };
            write(&state.period, period);
            write(&state.began, now);
            match self.add_job(&spec.schedule, state.clone()).await {
                Ok(job) => {
                    tracing::info!(channel = %name, schedule = %spec.schedule, "polling scheduled");
                    jobs.insert(
                        name,
                        Scheduled {
                            job,
                            schedule: spec.schedule.clone(),
                            state,
                        },
                    );
                }
                Err(e) => {
                    jobs.remove(&name);
                    tracing::error!(channel = %name, error = %e, "cannot schedule polling");
                }
            }
        }
        write(
            &self.channels,
            jobs.values().map(|s| s.state.clone()).collect(),
        );
    }

    async fn add_job(
        &self,
        schedule: &str,
        state: Arc<ChannelPoll>,
    ) -> Result<Uuid, tokio_cron_scheduler::JobSchedulerError> {
        let context = self.context.clone();
        let job = Job::new_async(schedule, move |_, _| {
            let (context, state) = (context.clone(), state.clone());
            Box::pin(async move { tick(&context, &state).await })
        })?;
        self.scheduler.add(job).await
    }

    async fn remove_job(&self, name: &str, job: Uuid) {
        if let Err(e) = self.scheduler.remove(&job).await {
            tracing::warn!(channel = %name, error = %e, "could not remove the old poll job");
        }
    }
}

/// One tick of a channel's schedule: a run, unless the last one is still going.
async fn tick(context: &Context, state: &ChannelPoll) {
    let metrics = &context.live.metrics;
    let name: &str = &state.name;
    if state.running.swap(true, Ordering::AcqRel) {
        metrics.poll_runs.inc(&[name, "skipped"]);
        tracing::warn!(
            channel = name,
            "poll tick skipped: the previous run is still going"
        );
        return;
    }
    // Cleared however the run ends, a panic included.
    struct Running<'a>(&'a AtomicBool);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let _running = Running(&state.running);
    // One daemon at a time polls a channel: on a shared store (PostgreSQL)
    // the run needs the channel's job lease; with one daemon it always has it.
    let job = format!("poll:{name}");
    let taken = match context.writer.upgrade() {
        Ok(writer) => writer.take_job(&job).await,
        Err(e) => Err(e),
    };
    match taken {
        Ok(true) => {}
        Ok(false) => {
            // The schedule is alive (no stall); another daemon runs it.
            write(&state.last_run, Some(Utc::now()));
            metrics.poll_runs.inc(&[name, "elsewhere"]);
            tracing::debug!(
                channel = name,
                "poll tick left to the daemon that holds {job}"
            );
            return;
        }
        Err(e) => {
            metrics.poll_runs.inc(&[name, "error"]);
            tracing::warn!(channel = name, error = %e, "poll run not started: its job lease could not be taken");
            write(&state.last_error, Some(e.to_string()));
            return;
        }
    }
    let started = Utc::now();
    write(&state.last_run, Some(started));
    let spec = read(&state.spec);
    let outcome = run(context, name, &spec, started).await;
    match outcome {
        Ok(report) => {
            write(&state.last_success, Some(Utc::now()));
            write(&state.last_error, None);
            metrics.poll_runs.inc(&[name, "ok"]);
            metrics
                .poll_last_success
                .set(&[name], Utc::now().timestamp_millis() as f64 / 1000.0);
            let level_info = report.stored > 0 || report.quarantined > 0;
            if level_info {
                tracing::info!(
                    channel = name,
                    stored = report.stored,
                    duplicates = report.duplicates,
                    quarantined = report.quarantined,
                    "poll run"
                );
            } else {
                tracing::debug!(
                    channel = name,
                    duplicates = report.duplicates,
                    "poll run: nothing new"
                );
            }
        }
        Err(e) => {
            metrics.poll_runs.inc(&[name, "error"]);
            tracing::warn!(channel = name, error = %e, "poll run failed; the cursor stays, the next run tries again");
            write(&state.last_error, Some(e));
        }
    }
}

/// What one run did.
#[derive(Debug, Default)]
struct Report {
    stored: usize,
    duplicates: usize,
    quarantined: usize,
}

/// `GET url?since=`, store every update, move the cursor. The cursor moves
/// only when every update of the response was stored (or was a duplicate or
/// quarantined), so nothing read is ever skipped.
async fn run(
    context: &Context,
    channel: &str,
    spec: &rules::Poll,
    started: DateTime<Utc>,
) -> Result<Report, String> {
    let writer = context.writer.upgrade().map_err(|e| e.to_string())?;
    let mut state = writer
        .poll_state(channel)
        .await
        .map_err(|e| e.to_string())?;
    let cursor_at = state.cursor.as_deref().and_then(store::parse_stamp);
    let since = cursor::since(cursor_at, spec.overlap);
    let rules = context.live.rules();
    let connector = rules.channel(channel).and_then(|c| c.connector.clone());
    let (items, source) = match &connector {
        Some(c) => match &c.kind {
            ConnectorKind::Shopify(s) => (
                through_shopify(context, channel, s, since).await?,
                s.endpoint(),
            ),
            ConnectorKind::Ebay(_) | ConnectorKind::Etsy(_) => (
                through_marketplace(context, channel, c, since).await?,
                c.kind_name().to_string(),
            ),
            ConnectorKind::WooCommerce(w) => (
                through_woocommerce(context, channel, w, since).await?,
                format!("{}/orders", w.api()),
            ),
            // An `http` connector only delivers: its channel polls `poll.url`.
            ConnectorKind::Http(_) => (
                fetch(context, channel, spec, since).await?,
                spec.url.clone(),
            ),
        },
        None => (
            fetch(context, channel, spec, since).await?,
            spec.url.clone(),
        ),
    };
    let received_at = Utc::now();
    let mut report = Report::default();
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        let incoming = match item.read {
            Ok(incoming) => incoming,
            Err(e) => {
                let reason = format!("poll item: {e}");
                keep(
                    context,
                    channel,
                    received_at,
                    &reason,
                    &source,
                    item.raw.into_bytes(),
                )
                .await?;
                report.quarantined += 1;
                continue;
            }
        };
        let stamp = incoming
            .order
            .get("updated_at")
            .and_then(crate::value::Value::as_str)
            .map(str::to_string)
            .or_else(|| incoming.occurred_at.clone());
        let stored = writer
            .ingest(IngestRequest {
                channel: Arc::from(channel),
                via: Via::Poll,
                topic: None,
                incoming,
                payload: item.raw.into_bytes(),
                received_at,
                rules: rules.clone(),
            })
            .await;
        context.live.metrics.count_ingested(channel, &stored);
        match stored {
            Ok(Ingested::Stored { .. }) => report.stored += 1,
            Ok(Ingested::Duplicate) => report.duplicates += 1,
            Err(e) => return Err(format!("an update could not be stored: {e}")),
        }
        seen.extend(stamp);
    }
    let moved = cursor::advance(cursor_at, seen.iter().map(String::as_str));
    state.cursor = moved.map(cursor::format);
    state.last_run_at = Some(store::stamp(started));
    state.last_success_at = Some(store::stamp(Utc::now()));
    writer
        .save_poll_state(channel, state)
        .await
        .map_err(|e| e.to_string())?;
    Ok(report)
}

/// `GET url?since=` and its items.
async fn fetch(
    context: &Context,
    channel: &str,
    spec: &rules::Poll,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ingress::Polled>, String> {
    let mut request = context.client.get(&spec.url);
    if let Some(since) = since {
        request = request.query(&[("since", cursor::format(since))]);
    }
    let answer = request.send().await.map_err(|e| describe(&e))?;
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("GET {} answered {status}", spec.url));
    }
    let body = read_capped(answer).await?;
    match ingress::decode_list(spec.format, &body) {
        Ok(items) => Ok(items),
        Err(e) => {
            let reason = format!("poll response: {e}");
            keep(context, channel, Utc::now(), &reason, &spec.url, body).await?;
            Err(reason)
        }
    }
}

/// The most pages one run reads; the cursor carries the rest to the next run.
const MAX_PAGES: usize = 500;

/// Shopify's `orders` since the cursor, every page, each put into the
/// webhook's shape and read by the webhook's reader.
async fn through_shopify(
    context: &Context,
    channel: &str,
    s: &rules::ShopifyConnector,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ingress::Polled>, String> {
    let metrics = &context.live.metrics;
    let on_auth = || metrics.connector_auth_failures.inc(&[channel]);
    let on_throttled = || metrics.connector_throttled.inc(&[channel]);
    let mut session = connector::Session::new(connector::Env {
        client: &context.client,
        channel,
        timeout: REQUEST_TIMEOUT,
        throttles: &context.live.throttles,
        on_auth_failure: &on_auth,
        on_throttled: &on_throttled,
    });
    let since = since.map(cursor::format);
    let mut after: Option<String> = None;
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let vars = shopify::poll::variables(since.as_deref(), after.as_deref());
        let request = shopify::request::request(s, "orders", shopify::poll::ORDERS, vars);
        let data = match session.send(&request, shopify::answer::classify).await {
            connector::Sent::Data(d) => d,
            connector::Sent::Stop(Verdict::Rejected(why))
            | connector::Sent::Stop(Verdict::Reconnect(why))
            | connector::Sent::Stop(Verdict::Retry { reason: why, .. })
            | connector::Sent::Unknown(why) => return Err(format!("Shopify orders: {why}")),
            connector::Sent::Stop(Verdict::Delivered { .. }) => {
                return Err("Shopify orders: no answer".to_string());
            }
        };
        let (nodes, next) = match shopify::poll::page(&data) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!("poll response: {e}");
                let body = session
                    .steps
                    .last()
                    .map(|s| s.response.clone())
                    .unwrap_or_default();
                keep(context, channel, Utc::now(), &reason, &s.endpoint(), body).await?;
                return Err(reason);
            }
        };
        for node in &nodes {
            let raw = shopify::poll::webhook_shape(node).to_string();
            let read = crate::value::Value::from_json(&raw)
                .map_err(|e| ingress::DecodeError::NotJson(e.to_string()))
                .and_then(|doc| shopify::poll::read(&doc));
            items.push(ingress::Polled { raw, read });
        }
        match next {
            Some(cursor) => after = Some(cursor),
            None => return Ok(items),
        }
    }
    Ok(items)
}

/// eBay's orders or Etsy's receipts since the cursor, every page, each kept
/// as the platform sent it and read by the channel's format reader (the same
/// one re-sync uses).
async fn through_marketplace(
    context: &Context,
    channel: &str,
    c: &rules::Connector,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ingress::Polled>, String> {
    if let Some(why) = context.live.credentials.reason(channel) {
        return Err(format!("needs reconnect: {why}"));
    }
    let writer = context.writer.upgrade().map_err(|e| e.to_string())?;
    let metrics = &context.live.metrics;
    let on_auth = || metrics.connector_auth_failures.inc(&[channel]);
    let on_throttled = || metrics.connector_throttled.inc(&[channel]);
    let mut session = connector::Session::new(connector::Env {
        client: &context.client,
        channel,
        timeout: REQUEST_TIMEOUT,
        throttles: &context.live.throttles,
        on_auth_failure: &on_auth,
        on_throttled: &on_throttled,
    });
    let keeper = credential::Keeper {
        tokens: &context.live.tokens,
        writer: &writer,
    };
    let listed = match &c.kind {
        ConnectorKind::Ebay(e) => {
            let since = since.map(ebay::request::ebay_time);
            ebay::orders_since(&mut session, e, keeper, since.as_deref()).await
        }
        ConnectorKind::Etsy(e) => {
            etsy::receipts_since(&mut session, e, keeper, since.map(|t| t.timestamp())).await
        }
        ConnectorKind::Shopify(_) | ConnectorKind::WooCommerce(_) | ConnectorKind::Http(_) => {
            return Err("not a marketplace".to_string());
        }
    };
    let items = match listed {
        Ok(items) => items,
        Err(Verdict::Reconnect(why)) => {
            context.live.credentials.needs_reconnect(channel, &why);
            tracing::error!(channel, reason = %why, "the channel needs reconnecting: its polling and deliveries wait");
            return Err(format!("needs reconnect: {why}"));
        }
        Err(v) => return Err(ebay::verdict_text(&format!("{} orders", c.kind_name()), v)),
    };
    let format = c.poll_format();
    Ok(items
        .into_iter()
        .map(|item| {
            let raw = item.to_string();
            let read = crate::value::Value::from_json(&raw)
                .map_err(ingress::DecodeError::from)
                .and_then(|doc| match format {
                    rules::Format::Etsy => ingress::etsy::read(&doc),
                    _ => ingress::ebay::read(&doc),
                });
            ingress::Polled { raw, read }
        })
        .collect())
}

/// WooCommerce's orders modified since the cursor, oldest first, every page,
/// each read as a polled order.
///
/// Pages are walked by time, not only by number: after a full page the next
/// request asks for what was modified after the page's last time (less a
/// second, as WooCommerce's times are whole seconds), so an order modified
/// while the run reads (which moves it to the end of the listing) cannot
/// shift an unread one onto a page already read. Only a page whose orders all
/// share one second moves on by page number.
async fn through_woocommerce(
    context: &Context,
    channel: &str,
    w: &rules::WooConnector,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ingress::Polled>, String> {
    let metrics = &context.live.metrics;
    let on_auth = || metrics.connector_auth_failures.inc(&[channel]);
    let on_throttled = || metrics.connector_throttled.inc(&[channel]);
    let mut session = connector::Session::new(connector::Env {
        client: &context.client,
        channel,
        timeout: REQUEST_TIMEOUT,
        throttles: &context.live.throttles,
        on_auth_failure: &on_auth,
        on_throttled: &on_throttled,
    });
    let mut after = since;
    let mut page = 1;
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let request = woocommerce::request::orders_modified_after(w, after, page);
        let data = match session.send(&request, woocommerce::answer::classify).await {
            connector::Sent::Data(d) => d,
            connector::Sent::Stop(Verdict::Rejected(why))
            | connector::Sent::Stop(Verdict::Reconnect(why))
            | connector::Sent::Stop(Verdict::Retry { reason: why, .. })
            | connector::Sent::Unknown(why) => return Err(format!("WooCommerce orders: {why}")),
            connector::Sent::Stop(Verdict::Delivered { .. }) => {
                return Err("WooCommerce orders: no answer".to_string());
            }
        };
        let orders = match woocommerce::answer::orders(&data) {
            Ok(o) => o,
            Err(e) => {
                let reason = format!("poll response: {e}");
                let body = session
                    .steps
                    .last()
                    .map(|s| s.response.clone())
                    .unwrap_or_default();
                keep(context, channel, Utc::now(), &reason, &request.url, body).await?;
                return Err(reason);
            }
        };
        let mut last: Option<DateTime<Utc>> = None;
        for node in orders {
            let raw = node.to_string();
            let read = crate::value::Value::from_json(&raw)
                .map_err(ingress::DecodeError::from)
                .and_then(|doc| ingress::woocommerce::read_polled(&doc));
            if let Ok(i) = &read
                && let Some(t) = i
                    .order
                    .get("updated_at")
                    .and_then(crate::value::Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            {
                let t = t.with_timezone(&Utc);
                last = Some(last.map_or(t, |l| l.max(t)));
            }
            items.push(ingress::Polled { raw, read });
        }
        if orders.len() < woocommerce::request::PER_PAGE {
            return Ok(items);
        }
        let next = last.map(|t| t - chrono::Duration::seconds(1));
        match next {
            Some(n) if after.is_none_or(|a| n > a) => {
                after = Some(n);
                page = 1;
            }
            _ => page += 1,
        }
    }
    Ok(items)
}

/// Keeps an unreadable poll response or item in quarantine, as a webhook's would be.
async fn keep(
    context: &Context,
    channel: &str,
    received_at: DateTime<Utc>,
    reason: &str,
    url: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let id = context
        .writer
        .upgrade()
        .map_err(|e| e.to_string())?
        .quarantine(Quarantined {
            channel: channel.to_string(),
            received_at,
            reason: reason.to_string(),
            headers: vec![("x-ordersync-polled-from".to_string(), url.to_string())],
            body,
        })
        .await
        .map_err(|e| e.to_string())?;
    tracing::warn!(
        channel,
        quarantine = id,
        reason,
        "unreadable poll data quarantined"
    );
    Ok(())
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if out.len() + chunk.len() > MAX_RESPONSE {
            return Err(format!(
                "the poll response is over {} MiB",
                MAX_RESPONSE >> 20
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
