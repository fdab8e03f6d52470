//! Delivery (SPEC 6.3): hands each pending delivery to its destination.
//!
//! Deliveries form lanes, one per (order, destination). A lane sends one
//! delivery at a time, in the order they were decided, and moves on only once
//! the outcome is committed, so a restart can never replay them out of order.
//! Lanes run concurrently, so one order's failing destination never holds up
//! another order. A retried delivery keeps its lane (and its place) until it is
//! delivered, rejected or dead; rejected and dead ones do not block the lane.
//!
//! Memory stays small however long the outbox grows (a destination down for
//! an hour): a lane keeps the first few deliveries whole and only the ids of
//! the rest, which are read back from the store when their turn comes. The
//! deliveries left pending by the last run start the same way, as ids.

mod through;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::daemon::Live;
use crate::daemon::delivery::labels;
use crate::delivery::connector::Throttles;
use crate::delivery::label::{self, Problem};
use crate::delivery::request::{self, Outgoing};
use crate::delivery::retry::{self, Disposition};
use crate::order::Event;
use crate::rules::{Deliver, LabelSend};
use crate::store::{Attempt, DeliveryStatus, Job, Reader, Writer, order_ref};
use reqwest::multipart;

/// Response bodies kept per attempt, at most.
const KEEP_RESPONSE: usize = 64 * 1024;

/// Deliveries a lane keeps whole in memory; the rest wait as ids.
const KEEP_WHOLE: usize = 4;

type LaneKey = (i64, Arc<str>);

/// A delivery waiting in its lane.
enum Queued {
    /// Whole, as the writer handed it over.
    Whole(Job),
    /// Only its id: read from the store when its turn comes.
    Stored(i64),
}

/// A delivery left pending by the last run: its id and its lane.
pub type PendingRef = (i64, i64, Arc<str>);

#[derive(Default)]
struct Lane {
    queue: VecDeque<Queued>,
    busy: bool,
    /// The destination's id for the order, once a delivery has learned it.
    external_id: Option<String>,
}

enum Msg {
    Jobs(Vec<Job>),
    Done(LaneKey, Option<String>),
}

/// What the delivery tasks share.
struct Shared {
    client: reqwest::Client,
    /// Channels a platform throttled: none of their deliveries sends meanwhile.
    throttles: Arc<Throttles>,
    writer: Writer,
    reader: Reader,
    live: Arc<Live>,
    permits: Semaphore,
    shutdown: CancellationToken,
    /// Every delivery task, so the daemon can wait for them at shutdown.
    tracker: TaskTracker,
}

/// Starts the dispatcher on `tracker`: `jobs` brings new deliveries (from
/// the writer); once `shutdown` is cancelled no new attempt starts and
/// requests in flight finish. The dispatcher and every delivery task are
/// tracked: `tracker.wait()` resolves when all are done.
#[allow(clippy::too_many_arguments)]
pub fn start(
    jobs: mpsc::UnboundedReceiver<Vec<Job>>,
    pending: Vec<PendingRef>,
    writer: Writer,
    reader: Reader,
    live: Arc<Live>,
    concurrency: usize,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    let client = reqwest::Client::builder()
        .user_agent(concat!("ordersync/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let shared = Arc::new(Shared {
        client,
        throttles: live.throttles.clone(),
        writer,
        reader,
        live,
        permits: Semaphore::new(concurrency.max(1)),
        shutdown,
        tracker: tracker.clone(),
    });
    tracker.spawn(run(jobs, pending, shared));
}

async fn run(
    mut jobs: mpsc::UnboundedReceiver<Vec<Job>>,
    pending: Vec<PendingRef>,
    shared: Arc<Shared>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Msg>();
    let mut lanes: HashMap<LaneKey, Lane> = HashMap::new();
    for (delivery, order, destination) in pending {
        lanes
            .entry((order, destination))
            .or_default()
            .queue
            .push_back(Queued::Stored(delivery));
    }
    let idle: Vec<LaneKey> = lanes.keys().cloned().collect();
    for key in idle {
        start_next(&mut lanes, key, &shared, &done_tx);
    }
    loop {
        let msg = tokio::select! {
            Some(batch) = jobs.recv() => Msg::Jobs(batch),
            Some(done) = done_rx.recv() => done,
            _ = shared.shutdown.cancelled() => break,
            else => break,
        };
        match msg {
            Msg::Jobs(batch) => {
                for job in batch {
                    let key = (job.order_id, job.destination.clone());
                    let lane = lanes.entry(key).or_default();
                    let queued = if lane.queue.len() < KEEP_WHOLE {
                        Queued::Whole(job)
                    } else {
                        Queued::Stored(job.delivery_id)
                    };
                    lane.queue.push_back(queued);
                }
                let idle: Vec<LaneKey> = lanes
                    .iter()
                    .filter(|(_, l)| !l.busy && !l.queue.is_empty())
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in idle {
                    start_next(&mut lanes, key, &shared, &done_tx);
                }
            }
            Msg::Done(key, learned) => {
                if let Some(lane) = lanes.get_mut(&key) {
                    lane.busy = false;
                    if learned.is_some() {
                        lane.external_id = learned;
                    }
                    if lane.queue.is_empty() {
                        lanes.remove(&key);
                    } else {
                        start_next(&mut lanes, key, &shared, &done_tx);
                    }
                }
            }
        }
    }
}

fn start_next(
    lanes: &mut HashMap<LaneKey, Lane>,
    key: LaneKey,
    shared: &Arc<Shared>,
    done: &mpsc::UnboundedSender<Msg>,
) {
    let Some(lane) = lanes.get_mut(&key) else {
        return;
    };
    let Some(next) = lane.queue.pop_front() else {
        return;
    };
    lane.busy = true;
    let known_id = lane.external_id.clone();
    let (shared, done) = (shared.clone(), done.clone());
    shared.tracker.clone().spawn(async move {
        let job = match next {
            Queued::Whole(job) => Some(job),
            Queued::Stored(id) => load(&shared, id).await,
        };
        let mut learned = None;
        if let Some(mut job) = job {
            if job.external_id.is_none() {
                job.external_id = known_id;
            }
            learned = deliver(&shared, job).await;
        }
        let _ = done.send(Msg::Done(key, learned));
    });
}

/// A delivery waiting as an id, read back whole; `None` when it is no longer
/// pending (an operator acted on it) or the store cannot be read now (it
/// stays pending in the store and resumes at the next start).
async fn load(shared: &Shared, id: i64) -> Option<Job> {
    let found = shared.reader.pending_job(id).await;
    match found {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(delivery = id, error = %e, "a pending delivery could not be read back");
            None
        }
    }
}

/// Makes attempts until the delivery is delivered, rejected or dead, or the
/// daemon stops; answers the destination id it learned, if any.
async fn deliver(shared: &Shared, mut job: Job) -> Option<String> {
    let shutdown = &shared.shutdown;
    loop {
        if let Some(at) = job.not_before {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return None,
                }
            }
        }
        // A channel that needs reconnecting holds its deliveries until an
        // operator gives it a new credential (`ordersync connector set-token`).
        while shared.live.credentials.reason(&job.destination).is_some() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.cancelled() => return None,
            }
        }
        if shutdown.is_cancelled() {
            return None;
        }
        let attempt = {
            let Ok(_permit) = shared.permits.acquire().await else {
                return None;
            };
            attempt(shared, &mut job).await
        };
        let status = attempt.status;
        let next_at = attempt.next_at;
        let learned = attempt.linked_id.clone();
        // Until the outcome is on disk the lane does not move on. If the
        // store is failing, keep trying to record: the attempt happened.
        let mut record = attempt;
        loop {
            match shared.writer.record(record.clone()).await {
                Ok(()) => break,
                Err(crate::store::StoreError::Closed) => return None,
                // Paused or cut off past its lease (a shared store): another
                // daemon holds the lane now and sends this delivery again,
                // with the same key; this outcome is not for this daemon to record.
                Err(e @ crate::store::StoreError::LeaseLost(_)) => {
                    tracing::warn!(error = %e, delivery = record.delivery_id, "a delivery's lane was taken over; its outcome here is dropped");
                    return None;
                }
                Err(e) => {
                    tracing::error!(error = %e, delivery = record.delivery_id, "could not record a delivery attempt; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    record.at = Utc::now();
                }
            }
        }
        job.attempts += 1;
        log_outcome(&job, &record);
        count_outcome(shared, &job, status);
        match status {
            // On a shared store the lane waits in the store until the retry
            // is due, for whichever daemon claims it then.
            DeliveryStatus::Pending if shared.writer.postgres_store().is_some() => return learned,
            DeliveryStatus::Pending => job.not_before = next_at,
            _ => return learned,
        }
    }
}

fn count_outcome(shared: &Shared, job: &Job, status: DeliveryStatus) {
    let metrics = &shared.live.metrics;
    let outcome = match status {
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Pending => "retry",
        DeliveryStatus::Rejected => "rejected",
        DeliveryStatus::Dead => "dead",
    };
    metrics.deliveries.inc(&[&job.destination, outcome]);
    if status == DeliveryStatus::Delivered {
        let waited = (Utc::now() - job.received_at).to_std().unwrap_or_default();
        metrics.delivery_latency.observe(&job.destination, waited);
    }
}

/// One line per attempt: which delivery, where, what came of it; never the order itself.
fn log_outcome(job: &Job, a: &Attempt) {
    let order = order_ref(job.order_id);
    // Left out of the line when no answer came.
    let status = a.http_status;
    let error = a.error.as_deref().unwrap_or("");
    match a.status {
        DeliveryStatus::Delivered => tracing::info!(
            delivery = job.delivery_id, %order, destination = %job.destination, status, "delivered"
        ),
        DeliveryStatus::Pending => {
            let next_in = a
                .next_at
                .and_then(|t| (t - Utc::now()).to_std().ok())
                .map(|d| format!("{:.1}s", d.as_secs_f64()))
                .unwrap_or_default();
            tracing::warn!(
                delivery = job.delivery_id, %order, destination = %job.destination, status,
                error, %next_in, attempt = job.attempts, "delivery failed; trying again"
            )
        }
        DeliveryStatus::Rejected => tracing::warn!(
            delivery = job.delivery_id, %order, destination = %job.destination, status,
            "delivery rejected by the destination; kept for Order Health"
        ),
        DeliveryStatus::Dead => tracing::error!(
            delivery = job.delivery_id, %order, destination = %job.destination, status,
            error, attempts = job.attempts, "delivery dead: no attempts left"
        ),
    }
}

/// One HTTP request for a delivery, and what it means.
async fn attempt(shared: &Shared, job: &mut Job) -> Attempt {
    let rules = shared.live.rules();
    let order_id = order_ref(job.order_id);
    let now = Utc::now();
    let mut result = Attempt::begun(job, now);
    let Some(deliver) = rules
        .channel(&job.destination)
        .and_then(|c| c.deliver.as_ref())
    else {
        result.error = Some(format!(
            "channel `{}` no longer takes deliveries in rules {}",
            job.destination, rules.version
        ));
        return result;
    };
    if let Some(c) = rules
        .channel(&job.destination)
        .and_then(|c| c.connector.as_ref())
    {
        return through::through_connector(shared, job, c, deliver, result).await;
    }
    let outgoing = Outgoing {
        event: job.event,
        order_id: &order_id,
        external_id: job.external_id.as_deref(),
        source: &job.source,
        destination: &job.destination,
        rules_version: &job.rules_version,
    };
    let secret = deliver.secret.as_ref().map(|s| s.0.as_bytes());
    let started = Instant::now();
    // A label event's label is fetched, converted and kept first (SPEC 13).
    let label = if job.event == Event::Label && deliver.label.configured {
        match label_for(shared, job, deliver).await {
            Ok(l) => l,
            Err(problem) => {
                result.duration = started.elapsed();
                let (disposition, why) = match problem {
                    Problem::Retry(why) => (Disposition::Retry, why),
                    Problem::Reject(why) => (Disposition::Reject, why),
                };
                result.error = Some(why);
                return settle(job, deliver, disposition, None, result);
            }
        }
    } else {
        None
    };
    let (disposition, retry_after) = match &label {
        Some((order, kept)) if deliver.label.send == LabelSend::Email => {
            let sent = send_email(job, deliver, order, kept).await;
            result.duration = started.elapsed();
            match sent {
                Ok(answer) => {
                    result.response = answer.into_bytes();
                    (Disposition::Delivered, None)
                }
                Err(Problem::Retry(why)) => {
                    result.error = Some(why);
                    (Disposition::Retry, None)
                }
                Err(Problem::Reject(why)) => {
                    result.error = Some(why);
                    (Disposition::Reject, None)
                }
            }
        }
        Some((order, kept)) if deliver.label.send == LabelSend::Multipart => {
            // The envelope part is signed: its bytes are what the signature covers.
            let envelope_order = label::envelope_order(order, kept, false).to_json();
            let envelope = request::body(&outgoing, &envelope_order);
            let mut req = shared.client.post(&deliver.url).timeout(deliver.timeout);
            for (name, value) in
                request::headers(job.event, &job.idempotency_key, &envelope, secret)
            {
                if name != "Content-Type" {
                    req = req.header(name, value);
                }
            }
            let parts = multipart_part(envelope, None, "application/json").and_then(|e| {
                let l =
                    multipart_part(kept.bytes.clone(), Some(&kept.filename), &kept.content_type)?;
                Ok(multipart::Form::new().part("envelope", e).part("label", l))
            });
            let form = match parts {
                Ok(form) => form,
                Err(why) => {
                    result.error = Some(why);
                    return settle(job, deliver, Disposition::Reject, None, result);
                }
            };
            let answer = send_http(req.multipart(form), &mut result).await;
            result.duration = started.elapsed();
            answer
        }
        _ => {
            let body = match &label {
                Some((order, kept)) => request::body(
                    &outgoing,
                    &label::envelope_order(order, kept, true).to_json(),
                ),
                None => request::body(&outgoing, &job.order_json),
            };
            let mut req = shared.client.post(&deliver.url).timeout(deliver.timeout);
            for (name, value) in request::headers(job.event, &job.idempotency_key, &body, secret) {
                req = req.header(name, value);
            }
            let answer = send_http(req.body(body), &mut result).await;
            result.duration = started.elapsed();
            answer
        }
    };
    settle(job, deliver, disposition, retry_after, result)
}

/// Sends one request; notes its answer in `result`; answers what it means and
/// the `Retry-After` it gave.
async fn send_http(
    req: reqwest::RequestBuilder,
    result: &mut Attempt,
) -> (Disposition, Option<Duration>) {
    match req.send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            result.http_status = Some(code);
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry::parse_retry_after(v, Utc::now()));
            match read_capped(resp).await {
                Ok(bytes) => result.response = bytes,
                Err(e) => result.error = Some(format!("reading the response: {e}")),
            }
            (retry::classify(code), retry_after)
        }
        Err(e) => {
            result.error = Some(describe(&e));
            (Disposition::Retry, None)
        }
    }
}

/// The delivery's status after an attempt that came to `disposition`.
fn settle(
    job: &Job,
    deliver: &Deliver,
    disposition: Disposition,
    retry_after: Option<Duration>,
    mut result: Attempt,
) -> Attempt {
    match disposition {
        Disposition::Delivered => {
            crate::failpoint::hit("delivery-after-2xx");
            result.status = DeliveryStatus::Delivered;
            result.linked_id = request::linked_id(&result.response)
                .filter(|id| job.external_id.as_deref() != Some(id.as_str()));
        }
        Disposition::Reject => result.status = DeliveryStatus::Rejected,
        Disposition::Retry => schedule_retry(&mut result, deliver, job, retry_after),
    }
    result
}

/// After a failed attempt: pending again after the policy's back-off (never
/// sooner than `asked`), or dead when the attempts are used up.
fn schedule_retry(result: &mut Attempt, deliver: &Deliver, job: &Job, asked: Option<Duration>) {
    let failed = job.attempts + 1;
    match retry::next_delay(&deliver.retry, failed, asked, fastrand::f64()) {
        Some(wait) => {
            result.status = DeliveryStatus::Pending;
            result.next_at = chrono::Duration::from_std(wait)
                .ok()
                .map(|w| Utc::now() + w);
        }
        None => result.status = DeliveryStatus::Dead,
    }
}

/// The decided order and the label it sends, if it carries one.
async fn label_for(
    shared: &Shared,
    job: &Job,
    deliver: &Deliver,
) -> Result<Option<(crate::value::Value, label::Kept)>, Problem> {
    let order = crate::value::Value::from_json(&job.order_json)
        .map_err(|e| Problem::Reject(format!("the decided order cannot be read: {e}")))?;
    let env = labels::Env {
        client: &shared.client,
        reader: &shared.reader,
        writer: &shared.writer,
        renderer: shared.live.renderer.as_ref(),
    };
    let kept = labels::prepare(&env, job, deliver, &order).await?;
    Ok(kept.map(|k| (order, k)))
}

/// `send: email`: the label to `email.to`; the server's answer when accepted.
async fn send_email(
    job: &Job,
    deliver: &Deliver,
    order: &crate::value::Value,
    kept: &label::Kept,
) -> Result<String, Problem> {
    let Some(to) = deliver.label.email.as_ref() else {
        return Err(Problem::Reject(
            "`send: email` needs `email: { to, from, smtp }`".to_string(),
        ));
    };
    let subject = label::subject(order);
    let text = label::email_text(order, kept);
    let message_id = label::message_id(&job.idempotency_key);
    let msg = label::email::message(&label::email::Mail {
        from: &to.from,
        to: &to.to,
        subject: &subject,
        text: &text,
        message_id: &message_id,
        label: kept,
    })
    .map_err(Problem::Reject)?;
    label::email::send(&to.smtp.0, deliver.timeout, msg).await
}

fn multipart_part(
    bytes: Vec<u8>,
    filename: Option<&str>,
    mime: &str,
) -> Result<multipart::Part, String> {
    let part = multipart::Part::bytes(bytes);
    let part = match filename {
        Some(f) => part.file_name(f.to_string()),
        None => part,
    };
    part.mime_str(mime)
        .map_err(|e| format!("the content type `{mime}` cannot be sent: {e}"))
}

async fn read_capped(mut resp: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = KEEP_RESPONSE.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room < chunk.len() {
            break;
        }
    }
    Ok(out)
}

pub(crate) use crate::delivery::connector::describe;
