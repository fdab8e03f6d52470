//! The eBay connector (SPEC 12.2): Sell Fulfillment API v1, with the OAuth
//! refresh-token grant ([`super::credential`]).
//!
//! `request` builds each call (pure), `answer` reads each answer (pure); this
//! file runs an event's steps over a [`Session`].
//!
//! | event | steps |
//! |---|---|
//! | `shipped` | `getOrder` (eBay's line ids), `getShippingFulfillments` (tracking eBay already has), `createShippingFulfillment` per new shipment |
//! | `cancelled` | `getOrder` (already cancelled or a cancel requested: done), Post-Order `create cancellation` |
//! | polling | `getOrders` with `filter=lastmodifieddate:[<cursor less overlap>..]`, every page |

pub mod answer;
pub mod request;

use serde_json::Value as Json;

use super::credential::{self, Keeper, OAuth};
use super::shipments::{self, PlatformLine};
use super::{Request, Session, Verdict};
use crate::order::Event;
use crate::rules::EbayConnector;
use crate::value::Value;

/// The most `getOrders` pages one poll run reads.
const MAX_PAGES: u64 = 200;

/// One decided update for eBay.
pub struct Outgoing<'a> {
    /// What happened.
    pub event: Event,
    /// The order as decided for eBay.
    pub order: &'a Value,
    /// eBay's `orderId`, once linked (the order came from eBay).
    pub external_id: Option<&'a str>,
}

/// The channel's OAuth credential.
pub fn oauth<'a>(
    c: &'a EbayConnector,
    request: &'a (dyn Fn(&str) -> Request + Send + Sync),
) -> OAuth<'a> {
    OAuth {
        platform: "eBay",
        seed: &c.refresh_token,
        rotates: false,
        request,
        failpoint: "ebay-after-refresh",
    }
}

type Step<T> = Result<T, Verdict>;

/// Runs `o`'s steps.
pub async fn deliver(
    s: &mut Session<'_>,
    c: &EbayConnector,
    k: Keeper<'_>,
    o: &Outgoing<'_>,
) -> Verdict {
    let token_request = |rt: &str| request::token(c, rt);
    let auth = oauth(c, &token_request);
    let result = match o.event {
        Event::Shipped => shipped(s, c, &auth, k, o).await,
        Event::Cancelled => cancelled(s, c, &auth, k, o).await,
        other => Err(Verdict::Rejected(format!(
            "the eBay connector cannot carry `{other}`"
        ))),
    };
    result.unwrap_or_else(|v| v)
}

fn linked<'a>(o: &Outgoing<'a>) -> Step<&'a str> {
    o.external_id.ok_or_else(|| {
        Verdict::Rejected(format!(
            "`{}` needs the order's eBay order id, and it is not linked to an eBay order",
            o.event
        ))
    })
}

/// eBay's lines of an order (`getOrder`).
pub fn platform_lines(order: &Json) -> Vec<PlatformLine> {
    order["lineItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some(PlatformLine {
                id: l["lineItemId"].as_str()?.to_string(),
                sku: l["sku"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                quantity: l["quantity"].as_i64().unwrap_or(0),
            })
        })
        .collect()
}

async fn shipped(
    s: &mut Session<'_>,
    c: &EbayConnector,
    auth: &OAuth<'_>,
    k: Keeper<'_>,
    o: &Outgoing<'_>,
) -> Step<Verdict> {
    let id = linked(o)?;
    let wanted = shipments::shipments(o.order, "eBay").map_err(Verdict::Rejected)?;
    let order = credential::call(
        s,
        auth,
        k,
        |t| request::get_order(c, t, id),
        answer::classify,
    )
    .await?;
    let lines = platform_lines(&order);
    let existing = credential::call(
        s,
        auth,
        k,
        |t| request::get_fulfillments(c, t, id),
        answer::classify,
    )
    .await?;
    let mut known: Vec<String> = existing["fulfillments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["shipmentTrackingNumber"].as_str().map(str::to_string))
        .collect();
    for shipment in &wanted {
        if let Some(n) = &shipment.number
            && known.iter().any(|k| k == n)
        {
            continue;
        }
        let plan = shipments::plan(&lines, shipment, "eBay").map_err(Verdict::Rejected)?;
        let body = request::fulfillment_body(shipment, &plan);
        credential::call(
            s,
            auth,
            k,
            |t| request::create_fulfillment(c, t, id, body.clone()),
            answer::classify,
        )
        .await?;
        if let Some(location) = &s.location {
            tracing::info!(channel = s.channel(), order = id, fulfillment = %location, "eBay shipping fulfillment created");
        }
        known.extend(shipment.number.clone());
    }
    Ok(Verdict::Delivered { linked: None })
}

async fn cancelled(
    s: &mut Session<'_>,
    c: &EbayConnector,
    auth: &OAuth<'_>,
    k: Keeper<'_>,
    o: &Outgoing<'_>,
) -> Step<Verdict> {
    let id = linked(o)?;
    let order = credential::call(
        s,
        auth,
        k,
        |t| request::get_order(c, t, id),
        answer::classify,
    )
    .await?;
    // CANCELED, or IN_PROGRESS: a cancellation already exists on eBay.
    if matches!(
        order["cancelStatus"]["cancelState"].as_str(),
        Some("CANCELED" | "IN_PROGRESS")
    ) {
        return Ok(Verdict::Delivered { linked: None });
    }
    let answer = credential::call(
        s,
        auth,
        k,
        |t| request::cancellation(c, t, &order),
        answer::classify,
    )
    .await?;
    if answer["cancelId"].is_null()
        && answer["orderEligibilityResult"]["eligible"].as_bool() == Some(false)
    {
        let why = answer["orderEligibilityResult"]["failureReason"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return Err(Verdict::Rejected(
            format!("eBay: the order is not eligible for cancellation {why}")
                .trim()
                .to_string(),
        ));
    }
    Ok(Verdict::Delivered { linked: None })
}

/// The requests a delivery of `o` would start with, for `ordersync explain`.
pub fn preview(c: &EbayConnector, o: &Outgoing<'_>) -> Result<Vec<Request>, String> {
    let id = o.external_id.unwrap_or("<eBay order id>");
    let token = "<access token>";
    Ok(match o.event {
        Event::Shipped => {
            let mut out = vec![
                request::get_order(c, token, id),
                request::get_fulfillments(c, token, id),
            ];
            for sh in shipments::shipments(o.order, "eBay")? {
                let lines: Vec<(String, i64)> = sh
                    .lines
                    .iter()
                    .map(|l| {
                        let named = l.line_item_id.clone().unwrap_or_else(|| {
                            format!("<line of {}>", l.sku.as_deref().unwrap_or(""))
                        });
                        (named, l.quantity)
                    })
                    .collect();
                out.push(request::create_fulfillment(
                    c,
                    token,
                    id,
                    request::fulfillment_body(&sh, &lines),
                ));
            }
            out
        }
        Event::Cancelled => vec![
            request::get_order(c, token, id),
            request::cancellation(c, token, &serde_json::json!({ "orderId": id })),
        ],
        other => return Err(format!("the eBay connector cannot carry `{other}`")),
    })
}

/// Every order eBay changed since `since` (eBay's time format), page by page.
pub async fn orders_since(
    s: &mut Session<'_>,
    c: &EbayConnector,
    k: Keeper<'_>,
    since: Option<&str>,
) -> Result<Vec<Json>, Verdict> {
    let token_request = |rt: &str| request::token(c, rt);
    let auth = oauth(c, &token_request);
    let mut offset = 0;
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let data = credential::call(
            s,
            &auth,
            k,
            |t| request::get_orders(c, t, since, offset),
            answer::classify,
        )
        .await?;
        let (orders, next) =
            crate::ingress::ebay::page(&data, offset).map_err(|e| Verdict::Retry {
                reason: e.to_string(),
                after: None,
            })?;
        out.extend(orders);
        match next {
            Some(n) => offset = n,
            None => break,
        }
    }
    Ok(out)
}

/// A verdict that stopped a poll, in words.
pub fn verdict_text(what: &str, v: Verdict) -> String {
    match v {
        Verdict::Rejected(why) | Verdict::Reconnect(why) | Verdict::Retry { reason: why, .. } => {
            format!("{what}: {why}")
        }
        Verdict::Delivered { .. } => format!("{what}: no answer"),
    }
}
