//! eBay's requests, built from the connector's config and the decided order
//! (pure). Sell Fulfillment API v1 at `{base_url}/sell/fulfillment/v1`, the
//! OAuth token at `{base_url}/identity/v1/oauth2/token`, the Post-Order API at
//! `{base_url}/post-order/v2`.

use serde_json::{Value as Json, json};

use crate::delivery::connector::credential::basic;
use crate::delivery::connector::shipments::Shipment;
use crate::delivery::connector::{Body, Request, segment};
use crate::rules::EbayConnector;

/// Orders per `getOrders` page (eBay allows up to 200).
pub const PAGE: u64 = 50;

fn get(step: &str, url: String, token: &str) -> Request {
    Request {
        step: step.to_string(),
        method: reqwest::Method::GET,
        url,
        headers: vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("Accept".into(), "application/json".into()),
        ],
        body: Body::Empty,
    }
}

fn fulfillment(c: &EbayConnector) -> String {
    format!("{}/sell/fulfillment/v1", c.base_url)
}

/// The refresh-token grant (eBay "Refreshing a User access token"): Basic
/// `client_id:client_secret`, the scopes space-separated.
pub fn token(c: &EbayConnector, refresh_token: &str) -> Request {
    Request {
        step: "refresh access token".to_string(),
        method: reqwest::Method::POST,
        url: format!("{}/identity/v1/oauth2/token", c.base_url),
        headers: vec![(
            "Authorization".into(),
            basic(&c.client_id, &c.client_secret.0),
        )],
        body: Body::Form(vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.to_string()),
            ("scope".into(), c.scopes.join(" ")),
        ]),
    }
}

/// eBay's timestamp format for filters: `2026-01-05T10:00:00.000Z`.
pub fn ebay_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `getOrders` from `since` (the whole 90 days eBay keeps when `None`).
pub fn get_orders(c: &EbayConnector, token: &str, since: Option<&str>, offset: u64) -> Request {
    let mut url = format!("{}/order?limit={PAGE}&offset={offset}", fulfillment(c));
    if let Some(since) = since {
        // The filter value is URL-encoded, brackets included (getOrders docs).
        url.push_str("&filter=");
        url.push_str(&segment(&format!("lastmodifieddate:[{since}..]")));
    }
    get("getOrders", url, token)
}

/// `getOrder`.
pub fn get_order(c: &EbayConnector, token: &str, order_id: &str) -> Request {
    get(
        "getOrder",
        format!("{}/order/{}", fulfillment(c), segment(order_id)),
        token,
    )
}

/// `getShippingFulfillments`: the tracking numbers eBay already has.
pub fn get_fulfillments(c: &EbayConnector, token: &str, order_id: &str) -> Request {
    get(
        "getShippingFulfillments",
        format!(
            "{}/order/{}/shipping_fulfillment",
            fulfillment(c),
            segment(order_id)
        ),
        token,
    )
}

/// `createShippingFulfillment`'s body (ShippingFulfillmentDetails).
pub fn fulfillment_body(shipment: &Shipment, lines: &[(String, i64)]) -> Json {
    let mut body = json!({
        "lineItems": lines
            .iter()
            .map(|(id, q)| json!({ "lineItemId": id, "quantity": q }))
            .collect::<Vec<_>>(),
    });
    if let Some(t) = &shipment.shipped_at
        && let Some(at) = crate::condition::parse_timestamp(t)
    {
        body["shippedDate"] = json!(ebay_time(at.with_timezone(&chrono::Utc)));
    }
    if let Some(carrier) = &shipment.carrier {
        body["shippingCarrierCode"] = json!(carrier);
    }
    if let Some(number) = &shipment.number {
        body["trackingNumber"] = json!(number);
    }
    body
}

/// `createShippingFulfillment`.
pub fn create_fulfillment(c: &EbayConnector, token: &str, order_id: &str, body: Json) -> Request {
    Request {
        step: "createShippingFulfillment".to_string(),
        method: reqwest::Method::POST,
        url: format!(
            "{}/order/{}/shipping_fulfillment",
            fulfillment(c),
            segment(order_id)
        ),
        headers: vec![
            ("Authorization".into(), format!("Bearer {token}")),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: Body::Json(body),
    }
}

/// Post-Order `POST /post-order/v2/cancellation` (CreateCancelRequest), as
/// the seller: OAuth tokens go in `Authorization: IAF <token>` on this API.
pub fn cancellation(c: &EbayConnector, token: &str, order: &Json) -> Request {
    let mut body = json!({
        "legacyOrderId": order["legacyOrderId"].as_str().unwrap_or_else(|| order["orderId"].as_str().unwrap_or("")),
        "cancelReason": c.cancel_reason,
        "buyerPaid": order["orderPaymentStatus"].as_str() == Some("PAID"),
    });
    if let Some(paid) = order["paymentSummary"]["payments"][0]["paymentDate"].as_str() {
        body["buyerPaidDate"] = json!({ "value": paid });
    }
    Request {
        step: "create cancellation".to_string(),
        method: reqwest::Method::POST,
        url: format!("{}/post-order/v2/cancellation", c.base_url),
        headers: vec![
            ("Authorization".into(), format!("IAF {token}")),
            ("Content-Type".into(), "application/json".into()),
            ("X-EBAY-C-MARKETPLACE-ID".into(), c.marketplace_id.clone()),
        ],
        body: Body::Json(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Secret;

    pub(crate) fn connector() -> EbayConnector {
        EbayConnector {
            base_url: "https://api.ebay.com".into(),
            client_id: "app-id".into(),
            client_secret: Secret("cert".into()),
            refresh_token: Secret("rt".into()),
            scopes: vec!["https://api.ebay.com/oauth/api_scope/sell.fulfillment".into()],
            marketplace_id: "EBAY-US".into(),
            cancel_reason: "OUT_OF_STOCK_OR_CANNOT_FULFILL".into(),
        }
    }

    #[test]
    fn the_filter_is_encoded() {
        let r = get_orders(&connector(), "t", Some("2026-01-01T00:00:00.000Z"), 50);
        assert_eq!(
            r.url,
            "https://api.ebay.com/sell/fulfillment/v1/order?limit=50&offset=50&filter=lastmodifieddate%3A%5B2026-01-01T00%3A00%3A00.000Z..%5D"
        );
    }

    #[test]
    fn the_token_request_is_masked_when_kept() {
        let r = token(&connector(), "v^1.1#secret-refresh");
        let kept = crate::delivery::connector::recorded(&r);
        assert!(!kept.contains("secret-refresh"), "{kept}");
        assert!(!kept.contains("Basic"), "{kept}");
        assert!(kept.contains("sell.fulfillment"), "{kept}");
    }

    #[test]
    fn a_fulfillment_names_lines_and_tracking() {
        let s = Shipment {
            carrier: Some("USPS".into()),
            number: Some("9400".into()),
            shipped_at: Some("2026-01-06T12:00:00Z".into()),
            lines: vec![],
        };
        let b = fulfillment_body(&s, &[("10000123".into(), 2)]);
        assert_eq!(
            b,
            json!({"lineItems": [{"lineItemId": "10000123", "quantity": 2}], "shippedDate": "2026-01-06T12:00:00.000Z", "shippingCarrierCode": "USPS", "trackingNumber": "9400"})
        );
    }
}
