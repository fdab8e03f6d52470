//! The Etsy connector (SPEC 12.2): Open API v3, with OAuth 2 refresh tokens
//! that rotate on every use ([`super::credential`] stores each new one before
//! it is used).
//!
//! | event | steps |
//! |---|---|
//! | `shipped` | `getShopReceipt` (tracking Etsy already has), `createReceiptShipment` per new shipment |
//! | polling | `getShopReceipts` with `min_last_modified`, every page |
//!
//! Etsy has no call to cancel or refund a receipt: an etsy channel cannot
//! accept `cancelled` or `returned` (a load error that says so).

pub mod answer;
pub mod request;

use serde_json::Value as Json;

use super::credential::{self, Keeper, OAuth};
use super::shipments;
use super::{Request, Session, Verdict};
use crate::order::Event;
use crate::rules::EtsyConnector;
use crate::value::Value;

/// The most `getShopReceipts` pages one poll run reads.
const MAX_PAGES: u64 = 500;

/// Hit once a rotated refresh token is committed, before it is used.
pub const FAILPOINT: &str = "etsy-after-refresh-stored";

/// One decided update for Etsy.
pub struct Outgoing<'a> {
    /// What happened.
    pub event: Event,
    /// The order as decided for Etsy.
    pub order: &'a Value,
    /// Etsy's `receipt_id`, once linked.
    pub external_id: Option<&'a str>,
}

/// The channel's OAuth credential.
pub fn oauth<'a>(
    c: &'a EtsyConnector,
    request: &'a (dyn Fn(&str) -> Request + Send + Sync),
) -> OAuth<'a> {
    OAuth {
        platform: "Etsy",
        seed: &c.refresh_token,
        rotates: true,
        request,
        failpoint: FAILPOINT,
    }
}

/// Runs `o`'s steps.
pub async fn deliver(
    s: &mut Session<'_>,
    c: &EtsyConnector,
    k: Keeper<'_>,
    o: &Outgoing<'_>,
) -> Verdict {
    let token_request = |rt: &str| request::token(c, rt);
    let auth = oauth(c, &token_request);
    let result = match o.event {
        Event::Shipped => shipped(s, c, &auth, k, o).await,
        other => Err(Verdict::Rejected(format!(
            "the Etsy connector cannot carry `{other}`: Etsy has no API for it"
        ))),
    };
    result.unwrap_or_else(|v| v)
}

async fn shipped(
    s: &mut Session<'_>,
    c: &EtsyConnector,
    auth: &OAuth<'_>,
    k: Keeper<'_>,
    o: &Outgoing<'_>,
) -> Result<Verdict, Verdict> {
    let id = o.external_id.ok_or_else(|| {
        Verdict::Rejected(
            "`shipped` needs the order's Etsy receipt id, and it is not linked to an Etsy receipt"
                .to_string(),
        )
    })?;
    let wanted = shipments::shipments(o.order, "Etsy").map_err(Verdict::Rejected)?;
    let receipt = credential::call(
        s,
        auth,
        k,
        |t| request::get_receipt(c, t, id),
        answer::classify,
    )
    .await?;
    let mut known: Vec<String> = receipt["shipments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["tracking_code"].as_str().map(str::to_string))
        .collect();
    for shipment in &wanted {
        match &shipment.number {
            Some(n) if known.iter().any(|k| k == n) => continue,
            Some(_) => {}
            None => {
                return Err(Verdict::Rejected(
                    "Etsy's createReceiptShipment needs a `tracking_number`".to_string(),
                ));
            }
        }
        credential::call(
            s,
            auth,
            k,
            |t| request::create_shipment(c, t, id, shipment),
            answer::classify,
        )
        .await?;
        known.extend(shipment.number.clone());
    }
    Ok(Verdict::Delivered { linked: None })
}

/// The requests a delivery of `o` would start with, for `ordersync explain`.
pub fn preview(c: &EtsyConnector, o: &Outgoing<'_>) -> Result<Vec<Request>, String> {
    let id = o.external_id.unwrap_or("<receipt id>");
    match o.event {
        Event::Shipped => {
            let mut out = vec![request::get_receipt(c, "<access token>", id)];
            for sh in shipments::shipments(o.order, "Etsy")? {
                out.push(request::create_shipment(c, "<access token>", id, &sh));
            }
            Ok(out)
        }
        other => Err(format!("the Etsy connector cannot carry `{other}`")),
    }
}

/// Every receipt Etsy changed at or after `since` (unix seconds), page by page.
pub async fn receipts_since(
    s: &mut Session<'_>,
    c: &EtsyConnector,
    k: Keeper<'_>,
    since: Option<i64>,
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
            |t| request::get_receipts(c, t, since, offset),
            answer::classify,
        )
        .await?;
        let (receipts, next) =
            crate::ingress::etsy::page(&data, offset).map_err(|e| Verdict::Retry {
                reason: e.to_string(),
                after: None,
            })?;
        out.extend(receipts);
        match next {
            Some(n) => offset = n,
            None => break,
        }
    }
    Ok(out)
}
