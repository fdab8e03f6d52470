//! WooCommerce REST API v3 requests, as pure functions of the decided order.
//!
//! Every request is authenticated with HTTP Basic auth, the REST API key's
//! consumer key and secret (WooCommerce reads Basic auth over HTTPS); the
//! `Authorization` header is masked wherever a request is kept.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::delivery::connector::{Body, Request};
use crate::delivery::request::url_encode;
use crate::ingress::woocommerce::{ORDERSYNC_META, TAGS_META};
use crate::rules::WooConnector;
use crate::value::Value;

/// Orders asked for per page (WooCommerce's maximum).
pub const PER_PAGE: usize = 100;

/// Why an order cannot be put into WooCommerce's shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsendable(pub String);

fn headers(c: &WooConnector) -> Vec<(String, String)> {
    let pair = format!("{}:{}", c.consumer_key.0, c.consumer_secret.0);
    vec![
        (
            "Authorization".to_string(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ),
        ),
        ("Accept".to_string(), "application/json".to_string()),
    ]
}

/// A `GET {api}{path}`; `path` carries its query.
pub fn get(c: &WooConnector, step: &str, path: &str) -> Request {
    Request {
        step: step.to_string(),
        method: reqwest::Method::GET,
        url: format!("{}{path}", c.api()),
        headers: headers(c),
        body: Body::Empty,
    }
}

/// A request with a JSON body.
pub fn send(
    c: &WooConnector,
    step: &str,
    method: reqwest::Method,
    path: &str,
    body: Json,
) -> Request {
    Request {
        step: step.to_string(),
        method,
        url: format!("{}{path}", c.api()),
        headers: headers(c),
        body: Body::Json(body),
    }
}

/// `GET /products?sku=`: the product (or variation) a line is matched to.
pub fn product_by_sku(c: &WooConnector, sku: &str) -> Request {
    get(
        c,
        &format!("product lookup ({sku})"),
        &format!("/products?sku={}", url_encode(sku)),
    )
}

/// `GET /orders?after=`: the orders created since `since`, oldest first, to
/// find the one a create whose outcome is unknown may have made.
pub fn orders_created_after(c: &WooConnector, since: DateTime<Utc>, page: u32) -> Request {
    get(
        c,
        "find by ordersync meta",
        &format!(
            "/orders?after={}&dates_are_gmt=true&orderby=date&order=asc&per_page={PER_PAGE}&page={page}",
            url_encode(&gmt(since))
        ),
    )
}

/// `GET /orders?modified_after=`: one page of the orders modified since
/// `since` (strictly after), by modification time, oldest first.
pub fn orders_modified_after(c: &WooConnector, since: Option<DateTime<Utc>>, page: u32) -> Request {
    let mut path = format!("/orders?orderby=modified&order=asc&per_page={PER_PAGE}&page={page}");
    if let Some(since) = since {
        path.push_str(&format!(
            "&modified_after={}&dates_are_gmt=true",
            url_encode(&gmt(since))
        ));
    }
    get(c, "orders", &path)
}

/// WooCommerce's date-time, UTC, without an offset (read with `dates_are_gmt`).
pub fn gmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `GET /orders/{id}`.
pub fn order(c: &WooConnector, id: &str) -> Request {
    get(c, "order lookup", &format!("/orders/{}", url_encode(id)))
}

/// `PUT /orders/{id}` with a new status.
pub fn set_status(c: &WooConnector, id: &str, status: &str) -> Request {
    send(
        c,
        &format!("status {status}"),
        reqwest::Method::PUT,
        &format!("/orders/{}", url_encode(id)),
        json!({ "status": status }),
    )
}

/// `GET /orders/{id}/notes`.
pub fn notes(c: &WooConnector, id: &str) -> Request {
    get(
        c,
        "order notes",
        &format!("/orders/{}/notes", url_encode(id)),
    )
}

/// `POST /orders/{id}/notes`.
pub fn add_note(c: &WooConnector, id: &str, note: &str, customer_note: bool) -> Request {
    send(
        c,
        "order note",
        reqwest::Method::POST,
        &format!("/orders/{}/notes", url_encode(id)),
        json!({ "note": note, "customer_note": customer_note }),
    )
}

fn text(order: &Value, path: &str) -> Option<String> {
    match order.get_path(path)? {
        Value::Text(s) if !s.trim().is_empty() => Some(s.to_string()),
        Value::Number(_) => Some(order.get_path(path)?.to_string()),
        _ => None,
    }
}

/// An amount with exactly the currency's minor units (`"104.50"`).
fn money(amount: crate::value::Decimal, currency: &str, what: &str) -> Result<String, Unsendable> {
    crate::money::format_minor(amount, currency)
        .ok_or_else(|| Unsendable(format!("`{what}`: unknown currency `{currency}`")))
}

fn decimal(v: &Value, what: &str) -> Result<crate::value::Decimal, Unsendable> {
    match v {
        Value::Number(n) => Ok(*n),
        Value::Text(s) => crate::value::parse_number(s.trim())
            .map_err(|_| Unsendable(format!("`{what}` is not an amount: {:?}", s.as_str()))),
        other => Err(Unsendable(format!("`{what}` is not an amount: {other}"))),
    }
}

/// One decided line, for the product lookup: its SKU and quantity.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The SKU products are looked up by.
    pub sku: String,
    /// A whole, positive quantity.
    pub quantity: i64,
    /// The unit price, if the order gives one.
    pub price: Option<crate::value::Decimal>,
}

/// The product a SKU names: a simple product, or a variation and its parent.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// `product_id` on the line (a variation's parent).
    pub product_id: i64,
    /// `variation_id`, for a variation.
    pub variation_id: Option<i64>,
}

/// The order's lines, each with the SKU WooCommerce matches it by.
pub fn lines(order: &Value) -> Result<Vec<Line>, Unsendable> {
    let mut out = Vec::new();
    for (i, line) in order
        .get("line_items")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let sku = text(line, "sku").ok_or_else(|| {
            Unsendable(format!(
                "line {} has no `sku`: WooCommerce lines are matched to products by SKU",
                i + 1
            ))
        })?;
        let quantity = line
            .get("quantity")
            .and_then(|q| q.to_string().parse::<i64>().ok())
            .filter(|q| *q > 0)
            .ok_or_else(|| {
                Unsendable(format!("line {} needs a whole, positive `quantity`", i + 1))
            })?;
        let price = match line.get("price") {
            None | Some(Value::Null) => None,
            Some(p) => Some(decimal(p, &format!("line_items[{i}].price"))?),
        };
        out.push(Line {
            sku,
            quantity,
            price,
        });
    }
    if out.is_empty() {
        return Err(Unsendable(
            "the order has no `line_items`: ordersync creates no WooCommerce order without lines"
                .to_string(),
        ));
    }
    Ok(out)
}

fn address(order: &Value, which: &str, with_email: bool) -> Option<Json> {
    let a = order.get(which).filter(|a| !a.is_null())?;
    let (mut first, mut last) = (text(a, "first_name"), text(a, "last_name"));
    if first.is_none()
        && last.is_none()
        && let Some(name) = text(a, "name")
    {
        let name = name.trim().to_string();
        match name.rsplit_once(' ') {
            Some((f, l)) => (first, last) = (Some(f.trim().to_string()), Some(l.to_string())),
            None => first = Some(name),
        }
    }
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_string(), Json::String(v));
        }
    };
    put("first_name", first);
    put("last_name", last);
    put("company", text(a, "company"));
    put("address_1", text(a, "address1"));
    put("address_2", text(a, "address2"));
    put("city", text(a, "city"));
    put("state", text(a, "province"));
    put("postcode", text(a, "zip"));
    put("country", text(a, "country"));
    put(
        "phone",
        text(a, "phone").or_else(|| text(order, "customer.phone")),
    );
    if with_email {
        put(
            "email",
            text(order, "customer.email").or_else(|| text(order, "email")),
        );
    }
    Some(Json::Object(m))
}

/// `POST /orders` from the decided order, with its lines matched to
/// `products` (one per line, in order).
///
/// A paid order is created with `set_paid: true` and no status, as the docs'
/// example does: WooCommerce then completes the payment itself (status
/// `processing`, `date_paid` set). Any other order gets its status:
/// cancelled -> `cancelled`, fulfilled -> `completed`, authorized ->
/// `on-hold`, refunded -> `refunded`, voided -> `cancelled`, else `pending`.
pub fn order_create(
    order: &Value,
    ordersync_id: &str,
    lines: &[Line],
    products: &[Product],
) -> Result<Json, Unsendable> {
    let currency = text(order, "currency")
        .ok_or_else(|| Unsendable("the order has no `currency`".to_string()))?
        .to_ascii_uppercase();
    let mut items = Vec::new();
    for (i, (line, product)) in lines.iter().zip(products).enumerate() {
        let mut l = serde_json::Map::new();
        l.insert("product_id".into(), product.product_id.into());
        if let Some(v) = product.variation_id {
            l.insert("variation_id".into(), v.into());
        }
        l.insert("quantity".into(), line.quantity.into());
        if let Some(price) = line.price {
            let total = price
                .checked_mul(line.quantity.into())
                .ok_or_else(|| Unsendable(format!("line {}: the amount is out of range", i + 1)))?;
            let total = money(total, &currency, &format!("line_items[{i}].price"))?;
            l.insert("subtotal".into(), total.clone().into());
            l.insert("total".into(), total.into());
        }
        items.push(Json::Object(l));
    }
    let status = text(order, "status");
    let financial = text(order, "financial_status");
    let fulfilled = text(order, "fulfillment_status").as_deref() == Some("fulfilled");
    let mut o = serde_json::Map::new();
    let paid = matches!(financial.as_deref(), Some("paid" | "partially_refunded"));
    let wc_status = if status.as_deref() == Some("cancelled") {
        Some("cancelled")
    } else if fulfilled {
        Some("completed")
    } else if paid {
        None
    } else {
        Some(match financial.as_deref() {
            Some("authorized") => "on-hold",
            Some("refunded") => "refunded",
            Some("voided") => "cancelled",
            _ => "pending",
        })
    };
    if let Some(s) = wc_status {
        o.insert("status".into(), s.into());
    }
    o.insert("set_paid".into(), (paid && wc_status.is_none()).into());
    o.insert("currency".into(), currency.clone().into());
    if let Some(b) =
        address(order, "billing_address", true).or_else(|| address(order, "shipping_address", true))
    {
        o.insert("billing".into(), b);
    }
    if let Some(s) = address(order, "shipping_address", false) {
        o.insert("shipping".into(), s);
    }
    o.insert("line_items".into(), Json::Array(items));
    let shipping = match order.get("total_shipping") {
        None | Some(Value::Null) => None,
        Some(v) => Some(decimal(v, "total_shipping")?),
    };
    let method = text(order, "shipping_method");
    if shipping.is_some_and(|s| !s.is_zero()) || method.is_some() {
        let total = money(shipping.unwrap_or_default(), &currency, "total_shipping")?;
        o.insert(
            "shipping_lines".into(),
            json!([{
                "method_id": "ordersync",
                "method_title": method.unwrap_or_else(|| "Shipping".to_string()),
                "total": total,
            }]),
        );
    }
    if let Some(note) = text(order, "note") {
        o.insert("customer_note".into(), note.into());
    }
    let mut meta = vec![json!({ "key": ORDERSYNC_META, "value": ordersync_id })];
    // WooCommerce orders have no tags: the decided ones are kept as meta and
    // read back by the webhook reader, so `tags contains "eBay"` still holds
    // for the store's updates of the order.
    let tags: Vec<String> = order
        .get("tags")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|t| t.as_str().map(str::trim).map(str::to_string))
        .filter(|t| !t.is_empty() && !t.starts_with(crate::identity::TAG_PREFIX))
        .collect();
    if !tags.is_empty() {
        meta.push(json!({ "key": TAGS_META, "value": tags.join(", ") }));
    }
    o.insert("meta_data".into(), Json::Array(meta));
    Ok(Json::Object(o))
}

/// The shipments of a decided `shipped` order, as note texts: `Shipped via
/// UPS, tracking 1Z999 (https://...)`; shipments without tracking have none.
pub fn shipment_notes(order: &Value) -> Vec<String> {
    order
        .get("shipments")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|s| {
            let number = text(s, "tracking_number")?;
            let mut note = match text(s, "carrier") {
                Some(c) => format!("Shipped via {c}, tracking number {number}"),
                None => format!("Shipped, tracking number {number}"),
            };
            if let Some(url) = text(s, "tracking_url") {
                note.push_str(&format!(" ({url})"));
            }
            Some(note)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn woo() -> WooConnector {
        WooConnector {
            base_url: "https://shop.example".into(),
            consumer_key: crate::rules::Secret("ck_1".into()),
            consumer_secret: crate::rules::Secret("cs_2".into()),
            notify_customer: false,
        }
    }

    #[test]
    fn requests_use_basic_auth_and_the_v3_namespace() {
        let r = product_by_sku(&woo(), "AB C&1");
        assert_eq!(
            r.url,
            "https://shop.example/wp-json/wc/v3/products?sku=AB%20C%261"
        );
        assert_eq!(r.headers[0].1, "Basic Y2tfMTpjc18y");
        let kept = crate::delivery::connector::recorded(&r);
        assert!(!kept.contains("Y2tfMTpjc18y"), "{kept}");
        let since = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            orders_modified_after(&woo(), Some(since), 2).url,
            "https://shop.example/wp-json/wc/v3/orders?orderby=modified&order=asc&per_page=100&page=2&modified_after=2026-12-02T10%3A00%3A00&dates_are_gmt=true"
        );
    }

    #[test]
    fn creates_with_exact_money_matched_products_and_the_ordersync_meta() {
        let order = Value::from_json(
            r#"{"id": "27-1138", "name": "27-1138", "currency": "usd", "tags": ["eBay", "gift", "ordersync:ord_3"], "financial_status": "paid",
                "total_shipping": 4.5, "shipping_method": "Standard", "note": "gift",
                "customer": {"email": "b@example.com", "phone": "555"},
                "shipping_address": {"name": "Ada Byron Lovelace", "address1": "1 Main", "city": "Austin",
                  "province": "TX", "zip": "78701", "country": "US"},
                "line_items": [{"sku": "MUG-1", "title": "Mug", "quantity": 2, "price": 104.5}]}"#,
        )
        .unwrap();
        let l = lines(&order).unwrap();
        let body = order_create(
            &order,
            "ord_3",
            &l,
            &[Product {
                product_id: 22,
                variation_id: Some(23),
            }],
        )
        .unwrap();
        assert_eq!(
            body,
            json!({
                "set_paid": true,
                "currency": "USD",
                "billing": {"first_name": "Ada Byron", "last_name": "Lovelace", "address_1": "1 Main",
                  "city": "Austin", "state": "TX", "postcode": "78701", "country": "US",
                  "phone": "555", "email": "b@example.com"},
                "shipping": {"first_name": "Ada Byron", "last_name": "Lovelace", "address_1": "1 Main",
                  "city": "Austin", "state": "TX", "postcode": "78701", "country": "US", "phone": "555"},
                "line_items": [{"product_id": 22, "variation_id": 23, "quantity": 2,
                  "subtotal": "209.00", "total": "209.00"}],
                "shipping_lines": [{"method_id": "ordersync", "method_title": "Standard", "total": "4.50"}],
                "customer_note": "gift",
                "meta_data": [{"key": "_ordersync_id", "value": "ord_3"},
                  {"key": "_ordersync_tags", "value": "eBay, gift"}]
            })
        );
    }

    #[test]
    fn unsendable_orders_say_why() {
        let no_sku =
            Value::from_json(r#"{"line_items": [{"title": "Mug", "quantity": 1}]}"#).unwrap();
        assert_eq!(
            lines(&no_sku).unwrap_err().0,
            "line 1 has no `sku`: WooCommerce lines are matched to products by SKU"
        );
        let none = Value::from_json(r#"{"line_items": []}"#).unwrap();
        assert!(lines(&none).is_err());
    }

    #[test]
    fn notes_carry_the_tracking() {
        let o = Value::from_json(
            r#"{"shipments": [{"carrier": "UPS", "tracking_number": "1Z999", "tracking_url": "https://ups.example/1Z999"},
                              {"carrier": "UPS"}]}"#,
        )
        .unwrap();
        assert_eq!(
            shipment_notes(&o),
            vec!["Shipped via UPS, tracking number 1Z999 (https://ups.example/1Z999)".to_string()]
        );
    }
}
