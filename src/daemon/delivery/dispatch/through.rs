//! One attempt through a channel's connector (SPEC 12): its requests, each
//! kept with the attempt, and what they came to.

use std::time::Instant;

use chrono::Utc;

use super::{Shared, schedule_retry};
use crate::delivery::connector::{
    self, Verdict, credential, ebay, etsy, http, shopify, woocommerce,
};
use crate::rules::{Connector, ConnectorKind, Deliver};
use crate::store::{Attempt, DeliveryStatus, Job, order_ref};

/// One attempt through the channel's connector: its requests, each kept, and
/// what they came to.
pub(super) async fn through_connector(
    shared: &Shared,
    job: &mut Job,
    c: &Connector,
    deliver: &Deliver,
    mut result: Attempt,
) -> Attempt {
    let order_id = order_ref(job.order_id);
    let metrics = &shared.live.metrics;
    let destination_name = job.destination.clone();
    let destination: &str = &destination_name;
    let on_auth = || metrics.connector_auth_failures.inc(&[destination]);
    let on_throttled = || metrics.connector_throttled.inc(&[destination]);
    let mut session = connector::Session::new(connector::Env {
        client: &shared.client,
        channel: destination,
        timeout: deliver.timeout,
        throttles: &shared.throttles,
        on_auth_failure: &on_auth,
        on_throttled: &on_throttled,
    });
    let started = Instant::now();
    let marked = std::sync::atomic::AtomicBool::new(false);
    let verdict =
        match crate::value::Value::from_json(&job.order_json) {
            Err(e) => Verdict::Rejected(format!("the decided order cannot be read: {e}")),
            Ok(order) => match &c.kind {
                ConnectorKind::Shopify(s) => {
                    let previous = previous_delivered(shared, job).await;
                    let writer = shared.writer.clone();
                    let delivery = job.delivery_id;
                    let marked = &marked;
                    let mark = async move || {
                        writer.mark_sent(delivery).await.map_err(|e| {
                            format!("could not note the create before sending it: {e}")
                        })?;
                        marked.store(true, std::sync::atomic::Ordering::Relaxed);
                        Ok(())
                    };
                    let out = shopify::Outgoing {
                        event: job.event,
                        order: &order,
                        ordersync_id: &order_id,
                        external_id: job.external_id.as_deref(),
                        previous: previous.as_ref(),
                        sent_before: job.sent,
                    };
                    shopify::deliver(&mut session, s, &out, mark).await
                }
                ConnectorKind::Ebay(e) => {
                    let keeper = credential::Keeper {
                        tokens: &shared.live.tokens,
                        writer: &shared.writer,
                    };
                    let out = ebay::Outgoing {
                        event: job.event,
                        order: &order,
                        external_id: job.external_id.as_deref(),
                    };
                    ebay::deliver(&mut session, e, keeper, &out).await
                }
                ConnectorKind::Etsy(e) => {
                    let keeper = credential::Keeper {
                        tokens: &shared.live.tokens,
                        writer: &shared.writer,
                    };
                    let out = etsy::Outgoing {
                        event: job.event,
                        order: &order,
                        external_id: job.external_id.as_deref(),
                    };
                    etsy::deliver(&mut session, e, keeper, &out).await
                }
                ConnectorKind::WooCommerce(w) => {
                    let writer = shared.writer.clone();
                    let delivery = job.delivery_id;
                    let marked = &marked;
                    let mark = async move || {
                        writer.mark_sent(delivery).await.map_err(|e| {
                            format!("could not note the create before sending it: {e}")
                        })?;
                        marked.store(true, std::sync::atomic::Ordering::Relaxed);
                        Ok(())
                    };
                    let out = woocommerce::Outgoing {
                        event: job.event,
                        order: &order,
                        ordersync_id: &order_id,
                        external_id: job.external_id.as_deref(),
                        sent_before: job.sent,
                        received_at: job.received_at,
                        notify_customer: w.notify_customer,
                    };
                    woocommerce::deliver(&mut session, w, &out, mark).await
                }
                ConnectorKind::Http(h) => match h.request(job.event) {
                    None => Verdict::Rejected(format!(
                        "the rules no longer have a request for `{}`",
                        job.event
                    )),
                    Some(req) => match stored_request(shared, job, req, &order).await {
                        Err(v) => v,
                        Ok(stored) => http::deliver(&mut session, h, &stored, &req.answer).await,
                    },
                },
            },
        };
    result.duration = started.elapsed();
    // Every later attempt, in this run or after a restart, looks first.
    if marked.load(std::sync::atomic::Ordering::Relaxed) {
        job.sent = true;
    }
    result.steps = std::mem::take(&mut session.steps);
    if let Some(last) = result.steps.last() {
        result.http_status = last.http_status;
        result.response = last.response.clone();
    }
    match verdict {
        Verdict::Delivered { linked } => {
            crate::failpoint::hit("delivery-after-2xx");
            result.status = DeliveryStatus::Delivered;
            result.error = None;
            result.linked_id = linked.filter(|id| job.external_id.as_deref() != Some(id.as_str()));
        }
        Verdict::Rejected(why) => {
            result.status = DeliveryStatus::Rejected;
            result.error = Some(why);
        }
        Verdict::Reconnect(why) => {
            shared
                .live
                .credentials
                .needs_reconnect(&job.destination, &why);
            tracing::error!(channel = %job.destination, reason = %why, "the channel needs reconnecting: its deliveries wait");
            result.status = DeliveryStatus::Pending;
            result.error = Some(format!("needs reconnect: {why}"));
        }
        Verdict::Retry { reason, after } => {
            result.error = Some(reason);
            schedule_retry(&mut result, deliver, job, after);
        }
    }
    result
}

/// The request a template delivery sends: the one stored at its first attempt,
/// or rendered now and stored (durably, before it is sent), so every attempt,
/// after a restart or a rules change too, sends the same bytes.
async fn stored_request(
    shared: &Shared,
    job: &mut Job,
    req: &crate::rules::HttpRequest,
    order: &crate::value::Value,
) -> Result<crate::rules::template::Rendered, Verdict> {
    use crate::rules::template::Rendered;
    if let Some(text) = &job.rendered {
        return Rendered::from_json(text).map_err(Verdict::Rejected);
    }
    let rules = shared.live.rules();
    let order_id = order_ref(job.order_id);
    let delivery = http::request::Delivery {
        event: job.event,
        order_id: &order_id,
        external_id: job.external_id.as_deref(),
        source: &job.source,
        destination: &job.destination,
        rules_version: &job.rules_version,
        order,
        idempotency_key: &job.idempotency_key,
    };
    let rendered = http::request::render(req, &delivery, &rules.order_type, Utc::now())
        .map_err(Verdict::Rejected)?;
    let text = rendered.to_json();
    shared
        .writer
        .save_rendered(job.delivery_id, text.clone())
        .await
        .map_err(|e| Verdict::Retry {
            reason: format!("could not store the rendered request before sending it: {e}"),
            after: None,
        })?;
    job.rendered = Some(std::sync::Arc::from(text));
    Ok(rendered)
}

/// What was last delivered to this destination for this order before `job`.
async fn previous_delivered(shared: &Shared, job: &Job) -> Option<crate::value::Value> {
    let (order, destination, before) = (job.order_id, job.destination.to_string(), job.delivery_id);
    let body = shared
        .reader
        .last_delivered_body(order, destination, before)
        .await
        .ok()
        .flatten()?;
    crate::value::Value::from_json(&body).ok()
}
