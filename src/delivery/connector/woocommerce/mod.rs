//! The WooCommerce connector: decided updates as REST API v3 calls at
//! `{base_url}/wp-json/wc/v3`.
//!
//! `request` builds each call (pure), `answer` reads each answer (pure); this
//! file runs an event's steps in order over a [`Session`].
//!
//! | event | steps |
//! |---|---|
//! | `created` | `GET /products?sku=` per line; (if a create was sent before: `GET /orders?after=` pages, looking for the `_ordersync_id` meta) `POST /orders` |
//! | `shipped` | `GET /orders/{id}`, `GET /orders/{id}/notes`, `POST /orders/{id}/notes` per tracking number not noted yet, `PUT /orders/{id}` status `completed` (unless it is) |
//! | `cancelled` | `GET /orders/{id}` (cancelled already: done), `PUT /orders/{id}` status `cancelled` |

pub mod answer;
pub mod request;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::{Request, Sent, Session, Verdict};
use crate::order::Event;
use crate::rules::WooConnector;
use crate::value::Value;

/// How far before the update arrived the search for an order made by a lost
/// create starts: the store's clock may be behind ours.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::hours(1);

/// The most pages the search for a lost create reads.
const MAX_SEARCH_PAGES: u32 = 50;

/// One decided update for WooCommerce.
pub struct Outgoing<'a> {
    /// What happened.
    pub event: Event,
    /// The order as decided for WooCommerce.
    pub order: &'a Value,
    /// ordersync's id (`ord_7`).
    pub ordersync_id: &'a str,
    /// WooCommerce's id for the order, once linked.
    pub external_id: Option<&'a str>,
    /// A create was sent for this delivery before, with no known outcome.
    pub sent_before: bool,
    /// When the update arrived: no order made for it can be older.
    pub received_at: DateTime<Utc>,
    /// Order notes are customer notes (WooCommerce e-mails them).
    pub notify_customer: bool,
}

type Step<T> = Result<T, Verdict>;

/// Runs `o`'s steps; `mark_sent` makes durable, before `POST /orders` goes
/// out, that a create may exist from now on.
pub async fn deliver(
    s: &mut Session<'_>,
    c: &WooConnector,
    o: &Outgoing<'_>,
    mark_sent: impl AsyncFnOnce() -> Result<(), String>,
) -> Verdict {
    let result = match o.event {
        Event::Created => created(s, c, o, mark_sent).await,
        Event::Shipped => shipped(s, c, o).await,
        Event::Cancelled => cancelled(s, c, o).await,
        other => Err(Verdict::Rejected(format!(
            "the WooCommerce connector cannot carry `{other}`"
        ))),
    };
    result.unwrap_or_else(|v| v)
}

/// The requests a delivery of `o` would start with, for `ordersync explain`.
pub fn preview(c: &WooConnector, o: &Outgoing<'_>) -> Result<Vec<Request>, String> {
    let id = o.external_id.unwrap_or("<linked id>");
    Ok(match o.event {
        Event::Created => {
            let lines = request::lines(o.order).map_err(|e| e.0)?;
            let mut out: Vec<Request> = lines
                .iter()
                .map(|l| request::product_by_sku(c, &l.sku))
                .collect();
            let products: Vec<request::Product> = lines
                .iter()
                .map(|_| request::Product {
                    product_id: 0,
                    variation_id: None,
                })
                .collect();
            let body = request::order_create(o.order, o.ordersync_id, &lines, &products)
                .map_err(|e| e.0)?;
            out.push(request::send(
                c,
                "create order (product ids from the lookups)",
                reqwest::Method::POST,
                "/orders",
                body,
            ));
            out
        }
        Event::Shipped => {
            let mut out = vec![request::order(c, id), request::notes(c, id)];
            for note in request::shipment_notes(o.order) {
                out.push(request::add_note(c, id, &note, o.notify_customer));
            }
            out.push(request::set_status(c, id, "completed"));
            out
        }
        Event::Cancelled => vec![
            request::order(c, id),
            request::set_status(c, id, "cancelled"),
        ],
        other => return Err(format!("the WooCommerce connector cannot carry `{other}`")),
    })
}

/// Sends one request; stops the attempt on anything but data.
async fn call(s: &mut Session<'_>, r: &Request) -> Step<Json> {
    match s.send(r, answer::classify).await {
        Sent::Data(d) => Ok(d),
        Sent::Stop(v) => Err(v),
        Sent::Unknown(reason) => Err(Verdict::Retry {
            reason,
            after: None,
        }),
    }
}

/// An answer that is JSON but not of the documented shape: retried (the
/// next attempt may be answered properly), with what was wrong kept on the
/// step that got it.
fn unreadable(s: &mut Session<'_>, why: String) -> Verdict {
    if let Some(last) = s.steps.last_mut() {
        last.error = Some(why.clone());
    }
    Verdict::Retry {
        reason: why,
        after: None,
    }
}

fn linked<'a>(o: &'a Outgoing) -> Step<&'a str> {
    o.external_id.ok_or_else(|| {
        Verdict::Rejected(format!(
            "`{}` needs the order in WooCommerce, and it is not linked to a WooCommerce order",
            o.event
        ))
    })
}

async fn created(
    s: &mut Session<'_>,
    c: &WooConnector,
    o: &Outgoing<'_>,
    mark_sent: impl AsyncFnOnce() -> Result<(), String>,
) -> Step<Verdict> {
    if let Some(id) = o.external_id {
        // Already in WooCommerce (its webhook or an earlier create linked it).
        return Ok(Verdict::Delivered {
            linked: Some(id.to_string()),
        });
    }
    let lines = request::lines(o.order).map_err(|e| Verdict::Rejected(e.0))?;
    let mut products: Vec<request::Product> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if let Some(j) = lines[..i].iter().position(|l| l.sku == line.sku) {
            products.push(products[j].clone());
            continue;
        }
        let data = call(s, &request::product_by_sku(c, &line.sku)).await?;
        match answer::product(&data, &line.sku).map_err(|e| unreadable(s, e))? {
            Some(p) => products.push(p),
            None => {
                return Err(Verdict::Rejected(format!(
                    "WooCommerce has no product with SKU `{}`",
                    line.sku
                )));
            }
        }
    }
    let body = request::order_create(o.order, o.ordersync_id, &lines, &products)
        .map_err(|e| Verdict::Rejected(e.0))?;
    if o.sent_before
        && let Some(id) = find_created(s, c, o).await?
    {
        return Ok(Verdict::Delivered { linked: Some(id) });
    }
    mark_sent().await.map_err(|reason| Verdict::Retry {
        reason,
        after: None,
    })?;
    let r = request::send(c, "create order", reqwest::Method::POST, "/orders", body);
    let data = match s.send(&r, answer::classify).await {
        Sent::Data(d) => d,
        Sent::Stop(v) => return Err(v),
        Sent::Unknown(reason) => {
            return Err(Verdict::Retry {
                reason: format!(
                    "{reason}; the next attempt first looks for the order by its `_ordersync_id`"
                ),
                after: None,
            });
        }
    };
    match answer::order_id(&data) {
        Ok(id) => Ok(Verdict::Delivered { linked: Some(id) }),
        Err(why) => Err(unreadable(
            s,
            format!("{why}; the next attempt first looks for the order by its `_ordersync_id`"),
        )),
    }
}

/// The order a create whose outcome is unknown made, if it made one: the
/// orders created since the update arrived, oldest first, every page,
/// searched for ordersync's `_ordersync_id` meta (WooCommerce's `search`
/// does not look at meta, and orders have no tags).
async fn find_created(
    s: &mut Session<'_>,
    c: &WooConnector,
    o: &Outgoing<'_>,
) -> Step<Option<String>> {
    let since = o.received_at - CLOCK_SLACK;
    for page in 1..=MAX_SEARCH_PAGES {
        let data = call(s, &request::orders_created_after(c, since, page)).await?;
        let items = answer::orders(&data).map_err(|e| unreadable(s, e))?;
        if let Some(id) = answer::ours(items, o.ordersync_id) {
            return Ok(Some(id));
        }
        if items.len() < request::PER_PAGE {
            return Ok(None);
        }
    }
    Err(Verdict::Retry {
        reason: format!(
            "the order ordersync may have created is not in the first {MAX_SEARCH_PAGES} pages of orders created since the update arrived"
        ),
        after: None,
    })
}

async fn shipped(s: &mut Session<'_>, c: &WooConnector, o: &Outgoing<'_>) -> Step<Verdict> {
    let id = linked(o)?;
    let current = call(s, &request::order(c, id)).await?;
    let status = answer::status(&current)
        .map_err(|e| unreadable(s, e))?
        .to_string();
    let wanted = request::shipment_notes(o.order);
    if !wanted.is_empty() {
        let data = call(s, &request::notes(c, id)).await?;
        let known: Vec<String> = answer::note_texts(&data)
            .map_err(|e| unreadable(s, e))?
            .into_iter()
            .map(str::to_string)
            .collect();
        for note in wanted {
            // A retry after a partial success adds no second note.
            if known.iter().any(|k| k.trim() == note) {
                continue;
            }
            call(s, &request::add_note(c, id, &note, o.notify_customer)).await?;
        }
    }
    if status != "completed" {
        let done = call(s, &request::set_status(c, id, "completed")).await?;
        let now = answer::status(&done).map_err(|e| unreadable(s, e))?;
        if now != "completed" {
            return Err(Verdict::Rejected(format!(
                "WooCommerce kept order {id} `{now}` when asked to complete it"
            )));
        }
    }
    Ok(Verdict::Delivered { linked: None })
}

async fn cancelled(s: &mut Session<'_>, c: &WooConnector, o: &Outgoing<'_>) -> Step<Verdict> {
    let id = linked(o)?;
    let current = call(s, &request::order(c, id)).await?;
    if answer::status(&current).map_err(|e| unreadable(s, e))? == "cancelled" {
        return Ok(Verdict::Delivered { linked: None });
    }
    let done = call(s, &request::set_status(c, id, "cancelled")).await?;
    let now = answer::status(&done).map_err(|e| unreadable(s, e))?;
    if now != "cancelled" {
        return Err(Verdict::Rejected(format!(
            "WooCommerce kept order {id} `{now}` when asked to cancel it"
        )));
    }
    Ok(Verdict::Delivered { linked: None })
}
