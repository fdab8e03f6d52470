//! The Shopify connector (SPEC 12.1): decided updates as Admin GraphQL calls.
//!
//! `request` builds each call from the decided order and `answer` reads each
//! answer (both pure); `lines` matches a shipment to fulfillment order lines
//! (pure); `poll` reads the store's orders back in; this file runs an event's
//! steps in order over a [`Session`].
//!
//! | event | steps |
//! |---|---|
//! | `created` | (if a create was sent before: find by the `ordersync:<id>` tag) `orderCreate` |
//! | `updated` | order lookup, `tagsAdd`, `tagsRemove`, `orderUpdate` (each only if needed) |
//! | `cancelled` | lookup (already cancelled: done), `orderCancel`, `job` until done, read back `cancelledAt` |
//! | `shipped` | fulfillment order lookup, `fulfillmentCreate` per shipment not yet in Shopify |

pub mod answer;
pub mod lines;
pub mod poll;
pub mod request;

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{Sent, Session, Verdict};
use crate::order::Event;
use crate::rules::ShopifyConnector;
use crate::value::Value;
use request::Unsendable;

/// One decided update for Shopify.
pub struct Outgoing<'a> {
    /// What happened.
    pub event: Event,
    /// The order as decided for Shopify.
    pub order: &'a Value,
    /// ordersync's id (`ord_7`).
    pub ordersync_id: &'a str,
    /// Shopify's id for the order, once linked.
    pub external_id: Option<&'a str>,
    /// What ordersync last delivered to Shopify for this order, if anything.
    pub previous: Option<&'a Value>,
    /// A create was sent for this delivery before, with no known outcome.
    pub sent_before: bool,
}

/// The longest a cancel job is followed within one attempt.
const JOB_WAIT: Duration = Duration::from_secs(30);

/// Runs `o`'s steps; `mark_sent` makes durable, before `orderCreate` goes
/// out, that a create may exist from now on.
pub async fn deliver(
    s: &mut Session<'_>,
    c: &ShopifyConnector,
    o: &Outgoing<'_>,
    mark_sent: impl AsyncFnOnce() -> Result<(), String>,
) -> Verdict {
    let result = match o.event {
        Event::Created => created(s, c, o, mark_sent).await,
        Event::Updated => updated(s, c, o).await,
        Event::Cancelled => cancelled(s, c, o).await,
        Event::Shipped => shipped(s, c, o).await,
        other => Err(Verdict::Rejected(format!(
            "the Shopify connector cannot carry `{other}`"
        ))),
    };
    result.unwrap_or_else(|v| v)
}

/// The requests a delivery of `o` would start with, for `ordersync explain`:
/// those that depend on what Shopify answers (line ids, tags it lacks) are
/// shown with what the decided order gives.
pub fn preview(c: &ShopifyConnector, o: &Outgoing<'_>) -> Result<Vec<super::Request>, String> {
    let gid = o
        .external_id
        .map(request::order_gid)
        .unwrap_or_else(|| "gid://shopify/Order/<linked id>".to_string());
    let r = |step: &str, q: &str, v: Json| request::request(c, step, q, v);
    Ok(match o.event {
        Event::Created => vec![r(
            "orderCreate",
            request::ORDER_CREATE,
            request::order_create(c, o.order, o.ordersync_id).map_err(|e| e.0)?,
        )],
        Event::Updated => vec![
            r(
                "order lookup",
                request::ORDER_FOR_UPDATE,
                json!({ "id": gid }),
            ),
            r(
                "tagsAdd (the tags Shopify lacks)",
                request::TAGS_ADD,
                json!({ "id": gid, "tags": request::tags(o.order) }),
            ),
        ],
        Event::Cancelled => vec![
            r(
                "order lookup",
                request::ORDER_CANCELLED,
                json!({ "id": gid }),
            ),
            r(
                "orderCancel",
                request::ORDER_CANCEL,
                request::order_cancel(c, &gid),
            ),
        ],
        Event::Shipped => {
            let mut out = vec![r(
                "fulfillment order lookup",
                request::ORDER_FOR_SHIPMENT,
                json!({ "id": gid }),
            )];
            for sh in request::shipments(o.order).map_err(|e| e.0)? {
                let lines: Vec<(String, i64)> = sh.lines.clone();
                let plan = vec![(
                    "<fulfillment order id>".to_string(),
                    lines
                        .iter()
                        .map(|(sku, q)| (format!("<line of {sku}>"), *q))
                        .collect(),
                )];
                out.push(r(
                    "fulfillmentCreate",
                    request::FULFILLMENT_CREATE,
                    request::fulfillment_create(c, &sh, &plan),
                ));
            }
            out
        }
        other => return Err(format!("the Shopify connector cannot carry `{other}`")),
    })
}

type Step<T> = Result<T, Verdict>;

fn unsendable(e: Unsendable) -> Verdict {
    Verdict::Rejected(e.0)
}

/// Sends one call and reads its answer; stops the attempt on anything but data.
async fn call(
    s: &mut Session<'_>,
    c: &ShopifyConnector,
    step: &str,
    query: &str,
    variables: Json,
) -> Step<Json> {
    let r = request::request(c, step, query, variables);
    match s.send(&r, answer::classify).await {
        Sent::Data(d) => Ok(d),
        Sent::Stop(v) => Err(v),
        Sent::Unknown(reason) => Err(Verdict::Retry {
            reason,
            after: None,
        }),
    }
}

/// A mutation's payload, or the rejection its user errors make.
fn payload(data: Json, root: &str, errors: &str) -> Step<Json> {
    if let Some(why) = answer::user_errors(&data, root, errors) {
        return Err(Verdict::Rejected(why));
    }
    Ok(data[root].clone())
}

fn linked(o: &Outgoing) -> Step<String> {
    o.external_id.map(request::order_gid).ok_or_else(|| {
        Verdict::Rejected(format!(
            "`{}` needs the order in Shopify, and it is not linked to a Shopify order",
            o.event
        ))
    })
}

async fn created(
    s: &mut Session<'_>,
    c: &ShopifyConnector,
    o: &Outgoing<'_>,
    mark_sent: impl AsyncFnOnce() -> Result<(), String>,
) -> Step<Verdict> {
    if let Some(id) = o.external_id {
        // Already in Shopify (its webhook or an earlier create linked it).
        return Ok(Verdict::Delivered {
            linked: Some(id.to_string()),
        });
    }
    let variables = request::order_create(c, o.order, o.ordersync_id).map_err(unsendable)?;
    if o.sent_before {
        let query = request::tag_query(o.ordersync_id);
        let found = call(
            s,
            c,
            "find by ordersync tag",
            request::FIND_BY_TAG,
            json!({ "query": query }),
        )
        .await?;
        if let Some(id) = found["orders"]["nodes"][0]["id"].as_str() {
            return Ok(Verdict::Delivered {
                linked: Some(request::link_id(id)),
            });
        }
    }
    mark_sent().await.map_err(|reason| Verdict::Retry {
        reason,
        after: None,
    })?;
    let r = request::request(c, "orderCreate", request::ORDER_CREATE, variables);
    let data = match s.send(&r, answer::classify).await {
        Sent::Data(d) => d,
        Sent::Stop(v) => return Err(v),
        Sent::Unknown(reason) => {
            return Err(Verdict::Retry {
                reason: format!(
                    "{reason}; the next attempt first looks for the order by its ordersync tag"
                ),
                after: None,
            });
        }
    };
    let created = payload(data, "orderCreate", "userErrors")?;
    match created["order"]["id"].as_str() {
        Some(id) => Ok(Verdict::Delivered {
            linked: Some(request::link_id(id)),
        }),
        None => Err(Verdict::Retry {
            reason: "Shopify's orderCreate answer has no order id".to_string(),
            after: None,
        }),
    }
}

async fn updated(s: &mut Session<'_>, c: &ShopifyConnector, o: &Outgoing<'_>) -> Step<Verdict> {
    let gid = linked(o)?;
    let data = call(
        s,
        c,
        "order lookup",
        request::ORDER_FOR_UPDATE,
        json!({ "id": gid }),
    )
    .await?;
    let current = &data["order"];
    if current.is_null() {
        return Err(Verdict::Rejected(format!("Shopify has no order {gid}")));
    }
    let plan = request::plan_update(o.order, o.previous, current);
    if !plan.add.is_empty() {
        let d = call(
            s,
            c,
            "tagsAdd",
            request::TAGS_ADD,
            json!({ "id": gid, "tags": plan.add }),
        )
        .await?;
        payload(d, "tagsAdd", "userErrors")?;
    }
    if !plan.remove.is_empty() {
        let d = call(
            s,
            c,
            "tagsRemove",
            request::TAGS_REMOVE,
            json!({ "id": gid, "tags": plan.remove }),
        )
        .await?;
        payload(d, "tagsRemove", "userErrors")?;
    }
    if let Some(mut input) = plan.input {
        input["id"] = json!(gid);
        let d = call(
            s,
            c,
            "orderUpdate",
            request::ORDER_UPDATE,
            json!({ "input": input }),
        )
        .await?;
        payload(d, "orderUpdate", "userErrors")?;
    }
    Ok(Verdict::Delivered { linked: None })
}

async fn cancelled(s: &mut Session<'_>, c: &ShopifyConnector, o: &Outgoing<'_>) -> Step<Verdict> {
    let gid = linked(o)?;
    let data = call(
        s,
        c,
        "order lookup",
        request::ORDER_CANCELLED,
        json!({ "id": gid }),
    )
    .await?;
    if data["order"].is_null() {
        return Err(Verdict::Rejected(format!("Shopify has no order {gid}")));
    }
    if !data["order"]["cancelledAt"].is_null() {
        return Ok(Verdict::Delivered { linked: None });
    }
    let d = call(
        s,
        c,
        "orderCancel",
        request::ORDER_CANCEL,
        request::order_cancel(c, &gid),
    )
    .await?;
    let started = payload(d, "orderCancel", "orderCancelUserErrors")?;
    if let Some(job) = started["job"]["id"].as_str() {
        let mut done = started["job"]["done"].as_bool() == Some(true);
        let began = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(250);
        while !done {
            if began.elapsed() > JOB_WAIT {
                return Err(Verdict::Retry {
                    reason: format!(
                        "Shopify's cancel job {job} is not done after {}s",
                        JOB_WAIT.as_secs()
                    ),
                    after: None,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(4));
            let d = call(s, c, "cancel job", request::JOB, json!({ "id": job })).await?;
            done = d["job"]["done"].as_bool() == Some(true);
        }
    }
    // The docs warn a job can finish without cancelling: read it back.
    let data = call(
        s,
        c,
        "order read-back",
        request::ORDER_CANCELLED,
        json!({ "id": gid }),
    )
    .await?;
    if data["order"]["cancelledAt"].is_null() {
        return Err(Verdict::Rejected(
            "Shopify finished the cancel job but the order is not cancelled".to_string(),
        ));
    }
    Ok(Verdict::Delivered { linked: None })
}

async fn shipped(s: &mut Session<'_>, c: &ShopifyConnector, o: &Outgoing<'_>) -> Step<Verdict> {
    let gid = linked(o)?;
    let shipments = request::shipments(o.order).map_err(unsendable)?;
    let data = call(
        s,
        c,
        "fulfillment order lookup",
        request::ORDER_FOR_SHIPMENT,
        json!({ "id": gid }),
    )
    .await?;
    let order = &data["order"];
    if order.is_null() {
        return Err(Verdict::Rejected(format!("Shopify has no order {gid}")));
    }
    let mut known = lines::tracking_numbers(order);
    let mut fos = lines::fulfillment_orders(order);
    for shipment in &shipments {
        if let Some(n) = &shipment.number
            && known.iter().any(|k| k == n)
        {
            continue;
        }
        let plan = lines::plan(&fos, &shipment.lines).map_err(Verdict::Rejected)?;
        let d = call(
            s,
            c,
            "fulfillmentCreate",
            request::FULFILLMENT_CREATE,
            request::fulfillment_create(c, shipment, &plan),
        )
        .await?;
        payload(d, "fulfillmentCreate", "userErrors")?;
        // What this fulfilment used is no longer left for the next shipment.
        for (fo_id, used) in &plan {
            if let Some(fo) = fos.iter_mut().find(|f| &f.id == fo_id) {
                for (line, qty) in used {
                    if let Some(l) = fo.lines.iter_mut().find(|(id, _, _)| id == line) {
                        l.2 -= qty;
                    }
                }
            }
        }
        known.extend(shipment.number.clone());
    }
    Ok(Verdict::Delivered { linked: None })
}
