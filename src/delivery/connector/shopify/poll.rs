//! Polling the store through the connector (SPEC 12.1): the `orders` query,
//! every page, each order put into the shape of Shopify's order webhooks and
//! read by the same reader the webhooks use ([`crate::ingress::shopify`]), so
//! there is one mapping to the canonical order, not two.

use serde_json::{Value as Json, json};

use crate::ingress::{DecodeError, Incoming, shopify as reader};
use crate::order::Event;
use crate::value::Value;

/// Orders per page: with 50 lines each, one page stays well under Shopify's
/// 1,000-point limit for a single query.
pub const PAGE: u32 = 10;

/// The `orders` query, newest changes last (scope `read_orders`).
pub const ORDERS: &str = "query Orders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name email phone note createdAt updatedAt cancelledAt closedAt
      displayFinancialStatus displayFulfillmentStatus currencyCode tags
      totalPriceSet { shopMoney { amount currencyCode } }
      subtotalPriceSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      totalShippingPriceSet { shopMoney { amount currencyCode } }
      customer { email firstName lastName phone }
      shippingAddress { name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone }
      billingAddress { name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone }
      lineItems(first: 50) { nodes { sku title quantity originalUnitPriceSet { shopMoney { amount currencyCode } } } }
      fulfillments(first: 10) { createdAt trackingInfo(first: 5) { company number url } }
    }
  }
}";

/// `updated_at:>='<since>'`.
pub fn search(since: Option<&str>) -> String {
    match since {
        Some(s) => format!("updated_at:>='{s}'"),
        None => String::new(),
    }
}

/// The variables for one page.
pub fn variables(since: Option<&str>, after: Option<&str>) -> Json {
    json!({ "first": PAGE, "after": after, "query": search(since) })
}

/// One page: its orders, and the cursor of the next page if there is one.
pub fn page(data: &Json) -> Result<(Vec<Json>, Option<String>), DecodeError> {
    let orders = &data["orders"];
    let nodes = orders["nodes"].as_array().ok_or_else(|| {
        DecodeError::Shape("Shopify's `orders` answer has no `nodes`".to_string())
    })?;
    let next = match orders["pageInfo"]["hasNextPage"].as_bool() {
        Some(true) => Some(
            orders["pageInfo"]["endCursor"]
                .as_str()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    DecodeError::Shape(
                        "Shopify's `orders` answer has a next page but no `endCursor`".to_string(),
                    )
                })?
                .to_string(),
        ),
        _ => None,
    };
    Ok((nodes.clone(), next))
}

fn money(set: &Json) -> Json {
    set["shopMoney"]["amount"].clone()
}

fn address(a: &Json) -> Json {
    if !a.is_object() {
        return Json::Null;
    }
    json!({
        "name": a["name"],
        "first_name": a["firstName"],
        "last_name": a["lastName"],
        "company": a["company"],
        "address1": a["address1"],
        "address2": a["address2"],
        "city": a["city"],
        "province": a["province"],
        "province_code": a["provinceCode"],
        "zip": a["zip"],
        "country": a["country"],
        "country_code": a["countryCodeV2"],
        "phone": a["phone"],
    })
}

fn lower(v: &Json) -> Json {
    v.as_str()
        .map(|s| Json::String(s.to_ascii_lowercase()))
        .unwrap_or(Json::Null)
}

/// A GraphQL order node in the shape of Shopify's order webhooks.
pub fn webhook_shape(node: &Json) -> Json {
    let fulfillment_status = match node["displayFulfillmentStatus"].as_str() {
        Some("FULFILLED") => json!("fulfilled"),
        Some("PARTIALLY_FULFILLED") => json!("partial"),
        Some("RESTOCKED") => json!("restocked"),
        _ => Json::Null,
    };
    let line_items: Vec<Json> = node["lineItems"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            json!({
                "sku": l["sku"],
                "title": l["title"],
                "quantity": l["quantity"],
                "price": money(&l["originalUnitPriceSet"]),
            })
        })
        .collect();
    let fulfillments: Vec<Json> = node["fulfillments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let t = match &f["trackingInfo"] {
                Json::Array(items) => items.first().cloned().unwrap_or(Json::Null),
                other => other.clone(),
            };
            json!({
                "created_at": f["createdAt"],
                "tracking_company": t["company"],
                "tracking_number": t["number"],
                "tracking_url": t["url"],
            })
        })
        .collect();
    let customer = &node["customer"];
    json!({
        "id": node["legacyResourceId"],
        "admin_graphql_api_id": node["id"],
        "name": node["name"],
        "email": node["email"],
        "phone": node["phone"],
        "note": node["note"],
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "cancelled_at": node["cancelledAt"],
        "closed_at": node["closedAt"],
        "financial_status": lower(&node["displayFinancialStatus"]),
        "fulfillment_status": fulfillment_status,
        "currency": node["currencyCode"],
        "total_price": money(&node["totalPriceSet"]),
        "subtotal_price": money(&node["subtotalPriceSet"]),
        "total_tax": money(&node["totalTaxSet"]),
        "total_shipping_price_set": { "shop_money": { "amount": money(&node["totalShippingPriceSet"]) } },
        "tags": node["tags"],
        "customer": if customer.is_object() {
            json!({
                "email": customer["email"],
                "first_name": customer["firstName"],
                "last_name": customer["lastName"],
                "phone": customer["phone"],
            })
        } else {
            Json::Null
        },
        "shipping_address": address(&node["shippingAddress"]),
        "billing_address": address(&node["billingAddress"]),
        "line_items": line_items,
        "fulfillments": fulfillments,
    })
}

/// Reads one polled order (already in the webhook shape): the event is
/// `cancelled` when it is cancelled, `shipped` when it has fulfilments,
/// `created` when created and updated times are equal, else `updated`; the
/// event id is the order id and its `updatedAt`.
pub fn read(doc: &Value) -> Result<Incoming, DecodeError> {
    let order = reader::read_order(doc)?;
    let text = |k: &str| order.get(k).and_then(Value::as_str).map(str::to_string);
    let event = if text("status").as_deref() == Some("cancelled") {
        Event::Cancelled
    } else if order
        .get("shipments")
        .and_then(Value::as_list)
        .is_some_and(|s| !s.is_empty())
    {
        Event::Shipped
    } else if text("created_at").is_some() && text("created_at") == text("updated_at") {
        Event::Created
    } else {
        Event::Updated
    };
    let updated = text("updated_at").ok_or_else(|| {
        DecodeError::Shape("a polled Shopify order has no `updatedAt`".to_string())
    })?;
    let id = text("id").unwrap_or_default();
    Ok(Incoming {
        id: format!("{id}@{updated}"),
        event,
        occurred_at: Some(updated),
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Json {
        json!({
            "id": "gid://shopify/Order/820982911946154508",
            "legacyResourceId": "820982911946154508",
            "name": "#1001", "email": "a@example.com", "phone": null, "note": null,
            "createdAt": "2026-11-01T10:00:00Z", "updatedAt": "2026-11-01T10:05:00Z",
            "cancelledAt": null, "closedAt": null,
            "displayFinancialStatus": "PAID", "displayFulfillmentStatus": "UNFULFILLED",
            "currencyCode": "USD", "tags": ["eBay", "ordersync:ord_3"],
            "totalPriceSet": {"shopMoney": {"amount": "104.50", "currencyCode": "USD"}},
            "subtotalPriceSet": {"shopMoney": {"amount": "100.00", "currencyCode": "USD"}},
            "totalTaxSet": {"shopMoney": {"amount": "0.0", "currencyCode": "USD"}},
            "totalShippingPriceSet": {"shopMoney": {"amount": "4.50", "currencyCode": "USD"}},
            "customer": {"email": "a@example.com", "firstName": "Ada", "lastName": "L", "phone": null},
            "shippingAddress": {"name": "Ada L", "address1": "1 Main", "city": "NYC", "provinceCode": "NY", "zip": "10001", "countryCodeV2": "US"},
            "billingAddress": null,
            "lineItems": {"nodes": [{"sku": "DS-1", "title": "Mug", "quantity": 2, "originalUnitPriceSet": {"shopMoney": {"amount": "50.00", "currencyCode": "USD"}}}]},
            "fulfillments": []
        })
    }

    #[test]
    fn a_node_reads_as_the_webhook_would() {
        let doc = Value::from_json(&webhook_shape(&node()).to_string()).unwrap();
        let i = read(&doc).unwrap();
        assert_eq!(i.id, "820982911946154508@2026-11-01T10:05:00Z");
        assert_eq!(i.event, Event::Updated);
        let o = &i.order;
        assert_eq!(o.get("id").unwrap().as_str(), Some("820982911946154508"));
        assert_eq!(o.get("financial_status").unwrap().as_str(), Some("paid"));
        assert!(o.get("fulfillment_status").unwrap().is_null());
        assert_eq!(
            o.get_path("shipping_address.country").unwrap().as_str(),
            Some("US")
        );
        assert_eq!(
            o.get_path("shipping_address.province").unwrap().as_str(),
            Some("NY")
        );
        assert_eq!(
            o.get_path("line_items.0.sku").unwrap().as_str(),
            Some("DS-1")
        );
        assert_eq!(o.get("total_price").unwrap().to_string(), "104.5");
        assert_eq!(o.get("total_shipping").unwrap().to_string(), "4.5");
    }

    #[test]
    fn events_follow_the_order_state() {
        let mut n = node();
        n["updatedAt"] = n["createdAt"].clone();
        let read_it = |n: &Json| {
            read(&Value::from_json(&webhook_shape(n).to_string()).unwrap())
                .unwrap()
                .event
        };
        assert_eq!(read_it(&n), Event::Created);
        n["fulfillments"] = json!([{"createdAt": "2026-11-02T00:00:00Z", "trackingInfo": [{"company": "UPS", "number": "1Z", "url": null}]}]);
        assert_eq!(read_it(&n), Event::Shipped);
        n["cancelledAt"] = json!("2026-11-03T00:00:00Z");
        assert_eq!(read_it(&n), Event::Cancelled);
    }

    #[test]
    fn pages_need_a_cursor_to_go_on() {
        let d =
            json!({"orders": {"nodes": [], "pageInfo": {"hasNextPage": true, "endCursor": "abc"}}});
        assert_eq!(page(&d).unwrap().1.as_deref(), Some("abc"));
        let bad = json!({"orders": {"nodes": [], "pageInfo": {"hasNextPage": true}}});
        assert!(page(&bad).is_err());
        assert!(page(&json!({"orders": null})).is_err());
    }
}
