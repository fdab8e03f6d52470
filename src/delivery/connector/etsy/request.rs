//! Etsy's requests (pure): Open API v3 at `{base_url}/v3/application`, every
//! one with `x-api-key: keystring:shared_secret` and an OAuth access token;
//! the token at `{base_url}/v3/public/oauth/token`.

use crate::delivery::connector::shipments::Shipment;
use crate::delivery::connector::{Body, Request, segment};
use crate::rules::EtsyConnector;

/// Receipts per `getShopReceipts` page (Etsy allows up to 100).
pub const PAGE: u64 = 100;

/// `x-api-key`: Etsy's current rule is `keystring:shared_secret`.
pub fn api_key(c: &EtsyConnector) -> String {
    format!("{}:{}", c.keystring, c.shared_secret.0)
}

fn headers(c: &EtsyConnector, token: &str) -> Vec<(String, String)> {
    vec![
        ("x-api-key".into(), api_key(c)),
        ("Authorization".into(), format!("Bearer {token}")),
    ]
}

fn shop(c: &EtsyConnector) -> String {
    format!(
        "{}/v3/application/shops/{}",
        c.base_url,
        segment(&c.shop_id)
    )
}

/// The refresh (Etsy "Requesting a Refresh OAuth Token"): the keystring is
/// the `client_id`; the answer carries a new refresh token every time.
pub fn token(c: &EtsyConnector, refresh_token: &str) -> Request {
    Request {
        step: "refresh access token".to_string(),
        method: reqwest::Method::POST,
        url: format!("{}/v3/public/oauth/token", c.base_url),
        headers: vec![],
        body: Body::Form(vec![
            ("grant_type".into(), "refresh_token".into()),
            ("client_id".into(), c.keystring.clone()),
            ("refresh_token".into(), refresh_token.to_string()),
        ]),
    }
}

/// `getShopReceipts` changed at or after `min_last_modified` (unix seconds).
pub fn get_receipts(c: &EtsyConnector, token: &str, since: Option<i64>, offset: u64) -> Request {
    let mut url = format!("{}/receipts?limit={PAGE}&offset={offset}", shop(c));
    if let Some(since) = since {
        url.push_str(&format!("&min_last_modified={since}"));
    }
    Request {
        step: "getShopReceipts".to_string(),
        method: reqwest::Method::GET,
        url,
        headers: headers(c, token),
        body: Body::Empty,
    }
}

/// `getShopReceipt`: its shipments so far.
pub fn get_receipt(c: &EtsyConnector, token: &str, receipt_id: &str) -> Request {
    Request {
        step: "getShopReceipt".to_string(),
        method: reqwest::Method::GET,
        url: format!("{}/receipts/{}", shop(c), segment(receipt_id)),
        headers: headers(c, token),
        body: Body::Empty,
    }
}

/// `createReceiptShipment` (form-encoded, as Etsy's reference gives it).
pub fn create_shipment(c: &EtsyConnector, token: &str, receipt_id: &str, s: &Shipment) -> Request {
    let mut form = Vec::new();
    if let Some(n) = &s.number {
        form.push(("tracking_code".to_string(), n.clone()));
    }
    if let Some(carrier) = &s.carrier {
        form.push(("carrier_name".to_string(), carrier.clone()));
    }
    Request {
        step: "createReceiptShipment".to_string(),
        method: reqwest::Method::POST,
        url: format!("{}/receipts/{}/tracking", shop(c), segment(receipt_id)),
        headers: headers(c, token),
        body: Body::Form(form),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Secret;

    fn connector() -> EtsyConnector {
        EtsyConnector {
            base_url: "https://api.etsy.com".into(),
            shop_id: "12345678".into(),
            keystring: "key".into(),
            shared_secret: Secret("shh".into()),
            refresh_token: Secret("rt".into()),
        }
    }

    #[test]
    fn requests_follow_the_reference() {
        let c = connector();
        let r = get_receipts(&c, "at", Some(1767607200), 100);
        assert_eq!(
            r.url,
            "https://api.etsy.com/v3/application/shops/12345678/receipts?limit=100&offset=100&min_last_modified=1767607200"
        );
        assert_eq!(
            r.headers[0],
            ("x-api-key".to_string(), "key:shh".to_string())
        );
        let kept = crate::delivery::connector::recorded(&r);
        assert!(
            !kept.contains("shh") && !kept.contains("Bearer at"),
            "{kept}"
        );
        let t = crate::delivery::connector::recorded(&token(&c, "12345.secret-rt"));
        assert!(
            !t.contains("secret-rt") && t.contains("\"client_id\":\"key\""),
            "{t}"
        );
        let s = Shipment {
            carrier: Some("usps".into()),
            number: Some("9400".into()),
            shipped_at: None,
            lines: vec![],
        };
        let r = create_shipment(&c, "at", "1234567890", &s);
        assert_eq!(
            r.url,
            "https://api.etsy.com/v3/application/shops/12345678/receipts/1234567890/tracking"
        );
        assert_eq!(
            r.body,
            Body::Form(vec![
                ("tracking_code".into(), "9400".into()),
                ("carrier_name".into(), "usps".into())
            ])
        );
    }
}
