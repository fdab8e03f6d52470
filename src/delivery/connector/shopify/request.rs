//! Shopify Admin GraphQL requests (SPEC 12.1), as pure functions of the
//! decided order: every input goes in `variables`, never into the query text.

use serde_json::{Value as Json, json};

use crate::delivery::connector::Request;
use crate::rules::ShopifyConnector;
use crate::value::Value;

/// `orderCreate` (scope `write_orders`).
pub const ORDER_CREATE: &str =
    "mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id name tags }
    userErrors { field message }
  }
}";

/// An order by its ordersync tag (scope `read_orders`): before a create whose
/// outcome is unknown is sent again.
pub const FIND_BY_TAG: &str = "query FindByTag($query: String!) {
  orders(first: 1, query: $query) {
    nodes { id name tags }
  }
}";

/// What `updated` compares against.
pub const ORDER_FOR_UPDATE: &str = "query OrderForUpdate($id: ID!) {
  order(id: $id) {
    id tags note email cancelledAt
    shippingAddress { firstName lastName company address1 address2 city provinceCode zip countryCodeV2 phone }
  }
}";

/// `tagsAdd` (scope `write_orders`): adds, never replaces the list.
pub const TAGS_ADD: &str = "mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}";

/// `tagsRemove` (scope `write_orders`).
pub const TAGS_REMOVE: &str = "mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}";

/// `orderUpdate` for note, email and shipping address (scope `write_orders`).
pub const ORDER_UPDATE: &str = "mutation OrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id }
    userErrors { field message }
  }
}";

/// Whether the order is cancelled already.
pub const ORDER_CANCELLED: &str = "query OrderCancelled($id: ID!) {
  order(id: $id) { id cancelledAt }
}";

/// `orderCancel` (scope `write_orders`): starts a job.
pub const ORDER_CANCEL: &str = "mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}";

/// A job's progress.
pub const JOB: &str = "query Job($id: ID!) {
  job(id: $id) { id done }
}";

/// What `shipped` needs: the fulfillments made and the fulfillment orders
/// with what is left of each line (scopes `read_merchant_managed_fulfillment_orders`,
/// `read_assigned_fulfillment_orders`).
pub const ORDER_FOR_SHIPMENT: &str = "query OrderForShipment($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) { trackingInfo(first: 10) { number } }
    fulfillmentOrders(first: 10) {
      nodes {
        id status
        assignedLocation { name }
        lineItems(first: 50) { nodes { id remainingQuantity lineItem { sku } } }
      }
    }
  }
}";

/// `fulfillmentCreate` (scopes `write_merchant_managed_fulfillment_orders`,
/// `write_assigned_fulfillment_orders`).
pub const FULFILLMENT_CREATE: &str = "mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}";

/// A request to the store's GraphQL endpoint.
pub fn request(c: &ShopifyConnector, step: &str, query: &str, variables: Json) -> Request {
    Request::post_json(
        step,
        c.endpoint(),
        vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("X-Shopify-Access-Token".to_string(), c.token.0.clone()),
        ],
        json!({ "query": query, "variables": variables }),
    )
}

/// Why an order cannot be put into Shopify's shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsendable(pub String);

/// `gid://shopify/Order/<n>` from a link (a gid already, or the numeric id
/// Shopify's webhooks carry).
pub fn order_gid(external_id: &str) -> String {
    if external_id.starts_with("gid://") {
        external_id.to_string()
    } else {
        format!("gid://shopify/Order/{external_id}")
    }
}

/// The link kept for a Shopify order: its numeric id (the gid's last part),
/// the id Shopify's webhooks carry, so a webhook and the connector find the
/// same order.
pub fn link_id(gid: &str) -> String {
    match gid.strip_prefix("gid://shopify/Order/") {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => gid.to_string(),
    }
}

fn text(order: &Value, path: &str) -> Option<String> {
    match order.get_path(path)? {
        Value::Text(s) if !s.trim().is_empty() => Some(s.to_string()),
        Value::Number(_) => Some(order.get_path(path)?.to_string()),
        _ => None,
    }
}

/// An amount with exactly the currency's minor units (`"104.50"`).
pub fn amount(v: &Value, currency: &str, what: &str) -> Result<String, Unsendable> {
    match v {
        Value::Number(_) => format_amount(v, currency)
            .ok_or_else(|| Unsendable(format!("`{what}`: unknown currency `{currency}`"))),
        Value::Text(s) => match Value::from_json(s.trim()) {
            Ok(n @ Value::Number(_)) => amount(&n, currency, what),
            _ => Err(Unsendable(format!(
                "`{what}` is not an amount: {:?}",
                s.as_str()
            ))),
        },
        other => Err(Unsendable(format!("`{what}` is not an amount: {other}"))),
    }
}

/// Exactly the currency's minor units, rounded half to even (SPEC 3.6).
fn format_amount(v: &Value, currency: &str) -> Option<String> {
    crate::money::format_minor(v.as_decimal()?, currency)
}

/// Shopify's `OrderCreateFinancialStatus` for the canonical financial status.
fn financial_status(s: &str) -> Option<&'static str> {
    Some(match s.to_ascii_lowercase().as_str() {
        "pending" => "PENDING",
        "authorized" => "AUTHORIZED",
        "paid" => "PAID",
        "partially_paid" => "PARTIALLY_PAID",
        "partially_refunded" => "PARTIALLY_REFUNDED",
        "refunded" => "REFUNDED",
        "voided" => "VOIDED",
        "expired" => "EXPIRED",
        _ => return None,
    })
}

/// A canonical address as Shopify's `MailingAddressInput`.
pub fn address(a: &Value) -> Option<Json> {
    if !matches!(a, Value::Object(_)) || a.is_empty() {
        return None;
    }
    let mut out = serde_json::Map::new();
    if let Some(name) = text(a, "name") {
        let (first, last) = match name.trim().rsplit_once(' ') {
            Some((f, l)) => (f.trim().to_string(), l.trim().to_string()),
            None => (String::new(), name.trim().to_string()),
        };
        if !first.is_empty() {
            out.insert("firstName".into(), first.into());
        }
        out.insert("lastName".into(), last.into());
    }
    for (ours, theirs) in [
        ("company", "company"),
        ("address1", "address1"),
        ("address2", "address2"),
        ("city", "city"),
        ("zip", "zip"),
        ("phone", "phone"),
    ] {
        if let Some(v) = text(a, ours) {
            out.insert(theirs.into(), v.into());
        }
    }
    if let Some(p) = text(a, "province") {
        out.insert("provinceCode".into(), p.into());
    }
    if let Some(c) = text(a, "country") {
        out.insert("countryCode".into(), c.to_ascii_uppercase().into());
    }
    Some(Json::Object(out))
}

/// The order's tags as text, the ordersync tag included.
pub fn tags(order: &Value) -> Vec<String> {
    order
        .get("tags")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|t| t.as_str().map(|s| s.trim().to_string()))
        .filter(|t| !t.is_empty())
        .collect()
}

/// `orderCreate`'s variables for the decided order (SPEC 12.1 `created`).
pub fn order_create(
    c: &ShopifyConnector,
    order: &Value,
    ordersync_id: &str,
) -> Result<Json, Unsendable> {
    let currency = text(order, "currency")
        .ok_or_else(|| Unsendable("the order has no `currency`".to_string()))?
        .to_ascii_uppercase();
    let mut lines = Vec::new();
    for (i, line) in order
        .get("line_items")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let quantity = line
            .get("quantity")
            .and_then(|q| q.to_string().parse::<i64>().ok())
            .filter(|q| *q > 0)
            .ok_or_else(|| {
                Unsendable(format!("line {} needs a whole, positive `quantity`", i + 1))
            })?;
        let mut l = serde_json::Map::new();
        if let Some(sku) = text(line, "sku") {
            l.insert("sku".into(), sku.into());
        }
        let title = text(line, "title")
            .or_else(|| text(line, "sku"))
            .ok_or_else(|| Unsendable(format!("line {} has neither `title` nor `sku`", i + 1)))?;
        l.insert("title".into(), title.into());
        l.insert("quantity".into(), quantity.into());
        if let Some(price) = line.get("price").filter(|p| !p.is_null()) {
            let amount = amount(price, &currency, &format!("line_items[{i}].price"))?;
            l.insert(
                "priceSet".into(),
                json!({ "shopMoney": { "amount": amount, "currencyCode": currency } }),
            );
        }
        lines.push(Json::Object(l));
    }
    if lines.is_empty() {
        return Err(Unsendable(
            "the order has no `line_items`: Shopify creates no order without lines".to_string(),
        ));
    }
    let mut tags = tags(order);
    let own = format!("{}{ordersync_id}", crate::identity::TAG_PREFIX);
    if !tags.iter().any(|t| t.eq_ignore_ascii_case(&own)) {
        tags.push(own);
    }
    let mut o = serde_json::Map::new();
    o.insert("currency".into(), currency.clone().into());
    o.insert("lineItems".into(), Json::Array(lines));
    o.insert("tags".into(), json!(tags));
    o.insert("sourceName".into(), "ordersync".into());
    o.insert("sourceIdentifier".into(), ordersync_id.into());
    if let Some(email) = text(order, "customer.email").or_else(|| text(order, "email")) {
        o.insert("email".into(), email.into());
    }
    if let Some(phone) = text(order, "customer.phone").or_else(|| text(order, "phone")) {
        o.insert("phone".into(), phone.into());
    }
    if let Some(note) = text(order, "note") {
        o.insert("note".into(), note.into());
    }
    if let Some(s) = text(order, "financial_status") {
        match financial_status(&s) {
            Some(f) => {
                o.insert("financialStatus".into(), f.into());
            }
            None => {
                return Err(Unsendable(format!("Shopify has no financial status `{s}`")));
            }
        }
    }
    for (ours, theirs) in [
        ("shipping_address", "shippingAddress"),
        ("billing_address", "billingAddress"),
    ] {
        if let Some(a) = order.get(ours).and_then(address) {
            o.insert(theirs.into(), a);
        }
    }
    if let Some(ship) = order.get("total_shipping").filter(|v| !v.is_null()) {
        let price = amount(ship, &currency, "total_shipping")?;
        let title = text(order, "shipping_method").unwrap_or_else(|| "Shipping".to_string());
        o.insert(
            "shippingLines".into(),
            json!([{ "title": title, "priceSet": { "shopMoney": { "amount": price, "currencyCode": currency } } }]),
        );
    }
    let _ = c;
    Ok(json!({
        "order": Json::Object(o),
        "options": { "sendReceipt": false, "sendFulfillmentReceipt": false },
    }))
}

/// The `orders` search for an order ordersync made: `tag:'ordersync:ord_1'`.
pub fn tag_query(ordersync_id: &str) -> String {
    format!(
        "tag:'{}{}'",
        crate::identity::TAG_PREFIX,
        ordersync_id.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// What `updated` changes in Shopify, against what Shopify has now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdatePlan {
    /// For `tagsAdd`.
    pub add: Vec<String>,
    /// For `tagsRemove`.
    pub remove: Vec<String>,
    /// `OrderInput` without `id`, when note, email or the address changed.
    pub input: Option<Json>,
}

/// Plans `updated`: tags the decided order has and Shopify lacks are added;
/// tags ordersync sent before (`previous`) that the decided order no longer
/// has are removed (never a tag someone added in Shopify, never the
/// ordersync tag); note, email and shipping address are updated where they
/// differ.
pub fn plan_update(decided: &Value, previous: Option<&Value>, current: &Json) -> UpdatePlan {
    let have: Vec<String> = current["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    let has = |list: &[String], t: &str| list.iter().any(|x| x.eq_ignore_ascii_case(t));
    let want = tags(decided);
    let mut plan = UpdatePlan {
        add: want.iter().filter(|t| !has(&have, t)).cloned().collect(),
        ..UpdatePlan::default()
    };
    if let Some(prev) = previous {
        plan.remove = tags(prev)
            .into_iter()
            .filter(|t| !has(&want, t) && has(&have, t))
            .filter(|t| crate::identity::ordersync_id(&Value::list(vec![Value::text(t)])).is_none())
            .filter(|t| {
                !t.to_ascii_lowercase()
                    .starts_with(crate::identity::TAG_PREFIX)
            })
            .collect();
    }
    let mut input = serde_json::Map::new();
    if let Some(note) = text(decided, "note")
        && current["note"].as_str() != Some(note.as_str())
    {
        input.insert("note".into(), note.into());
    }
    if let Some(email) = text(decided, "customer.email").or_else(|| text(decided, "email"))
        && current["email"].as_str() != Some(email.as_str())
    {
        input.insert("email".into(), email.into());
    }
    if let Some(a) = decided.get("shipping_address").and_then(address) {
        let same = a.as_object().is_some_and(|fields| {
            fields.iter().all(|(k, v)| {
                let theirs = if k == "countryCode" {
                    "countryCodeV2"
                } else {
                    k
                };
                current["shippingAddress"][theirs] == *v
            })
        });
        if !same {
            input.insert("shippingAddress".into(), a);
        }
    }
    if !input.is_empty() {
        plan.input = Some(Json::Object(input));
    }
    plan
}

/// `orderCancel`'s variables. No `refundMethod`: the money goes back where
/// the order was paid (a marketplace refunds its own buyers), so Shopify
/// refunds nothing.
pub fn order_cancel(c: &ShopifyConnector, gid: &str) -> Json {
    json!({
        "orderId": gid,
        "reason": "OTHER",
        "restock": c.restock_on_cancel,
        "notifyCustomer": c.notify_customer,
        "staffNote": "cancelled by ordersync",
    })
}

/// One shipment of the decided order.
#[derive(Clone, Debug, PartialEq)]
pub struct Shipment {
    /// `trackingInfo.company`.
    pub carrier: Option<String>,
    /// `trackingInfo.number`.
    pub number: Option<String>,
    /// `trackingInfo.url`.
    pub url: Option<String>,
    /// `(sku, quantity)`; empty: every line left.
    pub lines: Vec<(String, i64)>,
}

/// The decided order's shipments.
pub fn shipments(order: &Value) -> Result<Vec<Shipment>, Unsendable> {
    let mut out = Vec::new();
    for (i, s) in order
        .get("shipments")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let mut lines = Vec::new();
        for l in s.get("line_items").and_then(Value::as_list).unwrap_or(&[]) {
            let sku = text(l, "sku").ok_or_else(|| {
                Unsendable(format!("shipment {} names a line without a `sku`", i + 1))
            })?;
            let qty = l
                .get("quantity")
                .and_then(|q| q.to_string().parse::<i64>().ok())
                .filter(|q| *q > 0)
                .ok_or_else(|| {
                    Unsendable(format!(
                        "shipment {}: `{sku}` needs a whole, positive `quantity`",
                        i + 1
                    ))
                })?;
            lines.push((sku, qty));
        }
        out.push(Shipment {
            carrier: text(s, "carrier"),
            number: text(s, "tracking_number"),
            url: text(s, "tracking_url"),
            lines,
        });
    }
    if out.is_empty() {
        return Err(Unsendable(
            "a `shipped` update needs `shipments` to send to Shopify".to_string(),
        ));
    }
    Ok(out)
}

/// `fulfillmentCreate`'s variables.
pub fn fulfillment_create(
    c: &ShopifyConnector,
    shipment: &Shipment,
    plan: &[(String, Vec<(String, i64)>)],
) -> Json {
    let by_order: Vec<Json> = plan
        .iter()
        .map(|(fo, lines)| {
            json!({
                "fulfillmentOrderId": fo,
                "fulfillmentOrderLineItems": lines
                    .iter()
                    .map(|(id, q)| json!({"id": id, "quantity": q}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut tracking = serde_json::Map::new();
    if let Some(v) = &shipment.carrier {
        tracking.insert("company".into(), v.clone().into());
    }
    if let Some(v) = &shipment.number {
        tracking.insert("number".into(), v.clone().into());
    }
    if let Some(v) = &shipment.url {
        tracking.insert("url".into(), v.clone().into());
    }
    json!({
        "fulfillment": {
            "lineItemsByFulfillmentOrder": by_order,
            "trackingInfo": Json::Object(tracking),
            "notifyCustomer": c.notify_customer,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Secret;

    fn shop() -> ShopifyConnector {
        ShopifyConnector {
            shop: "acme.myshopify.com".into(),
            api_version: "2025-10".into(),
            token: Secret("shpat_x".into()),
            base_url: "https://acme.myshopify.com".into(),
            notify_customer: false,
            restock_on_cancel: true,
        }
    }

    #[test]
    fn a_create_carries_lines_money_tags_and_source() {
        let order = Value::from_json(
            r#"{"id":"27-1138","currency":"EUR","total_price":104.5,"financial_status":"paid",
                "tags":["eBay"],"note":"gift","customer":{"email":"a@example.com"},
                "shipping_address":{"name":"Ada Lovelace","address1":"1 Main St","city":"Berlin","zip":"10115","country":"de"},
                "line_items":[{"sku":"DS-1","title":"Mug","quantity":2,"price":9.5}]}"#,
        )
        .unwrap();
        let v = order_create(&shop(), &order, "ord_7").unwrap();
        let o = &v["order"];
        assert_eq!(o["currency"], "EUR");
        assert_eq!(o["tags"], json!(["eBay", "ordersync:ord_7"]));
        assert_eq!(o["sourceName"], "ordersync");
        assert_eq!(o["sourceIdentifier"], "ord_7");
        assert_eq!(o["financialStatus"], "PAID");
        assert_eq!(o["email"], "a@example.com");
        assert_eq!(o["note"], "gift");
        assert_eq!(
            o["lineItems"][0],
            json!({"sku": "DS-1", "title": "Mug", "quantity": 2,
                   "priceSet": {"shopMoney": {"amount": "9.50", "currencyCode": "EUR"}}})
        );
        assert_eq!(o["shippingAddress"]["firstName"], "Ada");
        assert_eq!(o["shippingAddress"]["lastName"], "Lovelace");
        assert_eq!(o["shippingAddress"]["countryCode"], "DE");
        assert_eq!(v["options"]["sendReceipt"], false);
    }

    #[test]
    fn a_create_without_lines_or_currency_is_unsendable() {
        let no_lines = Value::from_json(r#"{"currency":"USD"}"#).unwrap();
        assert!(order_create(&shop(), &no_lines, "ord_1").is_err());
        let no_currency = Value::from_json(r#"{"line_items":[{"sku":"A","quantity":1}]}"#).unwrap();
        assert_eq!(
            order_create(&shop(), &no_currency, "ord_1").unwrap_err().0,
            "the order has no `currency`"
        );
        let bad_qty =
            Value::from_json(r#"{"currency":"USD","line_items":[{"sku":"A","quantity":1.5}]}"#)
                .unwrap();
        assert_eq!(
            order_create(&shop(), &bad_qty, "ord_1").unwrap_err().0,
            "line 1 needs a whole, positive `quantity`"
        );
    }

    #[test]
    fn updates_add_and_remove_only_what_changed() {
        let decided =
            Value::from_json(r#"{"tags":["eBay","VIP","ordersync:ord_1"],"note":"n2"}"#).unwrap();
        let previous =
            Value::from_json(r#"{"tags":["eBay","Rush","ordersync:ord_1"],"note":"n1"}"#).unwrap();
        let current =
            json!({"tags": ["eBay", "Rush", "ordersync:ord_1", "staff-added"], "note": "n1"});
        let plan = plan_update(&decided, Some(&previous), &current);
        assert_eq!(plan.add, vec!["VIP"]);
        assert_eq!(plan.remove, vec!["Rush"]);
        assert_eq!(plan.input, Some(json!({"note": "n2"})));
        let same = plan_update(&previous, Some(&previous), &current);
        assert_eq!(same, UpdatePlan::default());
    }

    #[test]
    fn tag_queries_quote() {
        assert_eq!(tag_query("ord_12"), "tag:'ordersync:ord_12'");
        assert_eq!(order_gid("5001"), "gid://shopify/Order/5001");
        assert_eq!(
            order_gid("gid://shopify/Order/5001"),
            "gid://shopify/Order/5001"
        );
    }
}
