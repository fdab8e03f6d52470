//! eBay's order JSON (Sell Fulfillment API `getOrders` / `getOrder`, the
//! `Order` type) read into the canonical order. The eBay connector polls
//! these; each is stored as eBay sent it and read again by this same function
//! on re-sync, so there is one mapping.
//!
//! eBay's `orderId` is the external id; each line keeps eBay's `lineItemId`
//! as `line_item_id`, so a shipment can name eBay's lines. Money comes from
//! eBay's value strings, exactly.

use rust_decimal::Decimal;

use super::{DecodeError, Incoming};
use crate::order::Event;
use crate::value::{Str, Value};

fn shape(m: impl Into<String>) -> DecodeError {
    DecodeError::Shape(m.into())
}

fn entries(fields: Vec<(&str, Value)>) -> Value {
    Value::object(fields.into_iter().map(|(k, v)| (Str::new(k), v)).collect())
}

fn text_at(doc: &Value, path: &str) -> Value {
    match doc.get_path(path) {
        Some(Value::Text(s)) => Value::Text(s.clone()),
        _ => Value::Null,
    }
}

/// An eBay `Amount` (`{"value": "104.50", "currency": "USD"}`) as an exact number.
fn amount(doc: &Value, path: &str) -> Result<Value, DecodeError> {
    match doc.get_path(path).and_then(|a| a.get("value")) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::Text(s)) => crate::value::parse_number(s.trim())
            .map(Value::Number)
            .map_err(|_| {
                shape(format!(
                    "eBay's `{path}.value` is not an amount: {:?}",
                    s.as_str()
                ))
            }),
        Some(Value::Number(n)) => Ok(Value::Number(*n)),
        Some(other) => Err(shape(format!(
            "eBay's `{path}.value` is not an amount: {other}"
        ))),
    }
}

/// eBay's `orderPaymentStatus` as the canonical `financial_status`.
pub fn financial_status(s: &str) -> Option<&'static str> {
    Some(match s {
        "PAID" => "paid",
        "PENDING" | "FAILED" => "pending",
        "PARTIALLY_REFUNDED" => "partially_refunded",
        "FULLY_REFUNDED" => "refunded",
        _ => return None,
    })
}

/// eBay's `orderFulfillmentStatus` as the canonical `fulfillment_status`.
pub fn fulfillment_status(s: &str) -> Value {
    match s {
        "FULFILLED" => Value::text("fulfilled"),
        "IN_PROGRESS" => Value::text("partial"),
        _ => Value::Null,
    }
}

fn quantity(l: &Value) -> Result<Decimal, DecodeError> {
    match l.get("quantity") {
        Some(Value::Number(n)) if n.is_integer() && *n > Decimal::ZERO => Ok(*n),
        other => Err(shape(format!(
            "an eBay line item's `quantity` must be a whole number above 0, not {}",
            other
                .map(|v| v.to_string())
                .unwrap_or_else(|| "nothing".into())
        ))),
    }
}

/// Reads one eBay order: the event is `cancelled` when eBay says it is
/// cancelled, `shipped` when its fulfilment has started or ended, `created`
/// when it was never modified after creation, else `updated`; the event id is
/// the order id and its `lastModifiedDate`.
pub fn read(doc: &Value) -> Result<Incoming, DecodeError> {
    if !matches!(doc, Value::Object(_)) {
        return Err(shape("an eBay order must be a JSON object"));
    }
    let id = match doc.get("orderId") {
        Some(Value::Text(s)) if !s.as_str().trim().is_empty() => s.as_str().to_string(),
        _ => return Err(shape("an eBay order needs an `orderId`")),
    };
    let modified = doc
        .get("lastModifiedDate")
        .and_then(Value::as_str)
        .filter(|s| crate::condition::parse_timestamp(s).is_some())
        .ok_or_else(|| {
            shape(format!(
                "eBay order {id} has no readable `lastModifiedDate`"
            ))
        })?
        .to_string();
    let created = text_at(doc, "creationDate");
    let payment = doc
        .get("orderPaymentStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    let fulfilment = doc
        .get("orderFulfillmentStatus")
        .and_then(Value::as_str)
        .unwrap_or("");
    let cancelled = doc
        .get_path("cancelStatus.cancelState")
        .and_then(Value::as_str)
        == Some("CANCELED");
    let currency = text_at(doc, "pricingSummary.total.currency");
    let ship_to = doc
        .get("fulfillmentStartInstructions")
        .and_then(Value::as_list)
        .and_then(|l| l.first())
        .and_then(|f| f.get_path("shippingStep.shipTo"))
        .cloned()
        .unwrap_or(Value::Null);
    let full_name = ship_to
        .get("fullName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (first, last) = match full_name.trim().rsplit_once(' ') {
        Some((f, l)) => (Value::text(f.trim()), Value::text(l.trim())),
        None if !full_name.trim().is_empty() => (Value::text(full_name.trim()), Value::Null),
        None => (Value::Null, Value::Null),
    };
    let email = match text_at(&ship_to, "email") {
        Value::Null => text_at(doc, "buyer.buyerRegistrationAddress.email"),
        e => e,
    };
    let phone = text_at(&ship_to, "primaryPhone.phoneNumber");
    let address = if ship_to.is_null() {
        Value::Null
    } else {
        entries(vec![
            ("name", text_at(&ship_to, "fullName")),
            ("company", text_at(&ship_to, "companyName")),
            ("address1", text_at(&ship_to, "contactAddress.addressLine1")),
            ("address2", text_at(&ship_to, "contactAddress.addressLine2")),
            ("city", text_at(&ship_to, "contactAddress.city")),
            (
                "province",
                text_at(&ship_to, "contactAddress.stateOrProvince"),
            ),
            ("zip", text_at(&ship_to, "contactAddress.postalCode")),
            ("country", text_at(&ship_to, "contactAddress.countryCode")),
            ("phone", phone.clone()),
        ])
    };
    let mut lines = Vec::new();
    for l in doc.get("lineItems").and_then(Value::as_list).unwrap_or(&[]) {
        let line_id = match l.get("lineItemId") {
            Some(Value::Text(s)) if !s.as_str().is_empty() => Value::Text(s.clone()),
            _ => {
                return Err(shape(format!(
                    "a line item of eBay order {id} has no `lineItemId`"
                )));
            }
        };
        let qty = quantity(l)?;
        // `lineItemCost` is the unit price times the quantity.
        let price = match amount(l, "lineItemCost")? {
            Value::Number(cost) => cost
                .checked_div(qty)
                .map(|p| p.normalize())
                .map(Value::Number)
                .unwrap_or(Value::Null),
            other => other,
        };
        lines.push(entries(vec![
            ("line_item_id", line_id),
            ("sku", text_at(l, "sku")),
            ("title", text_at(l, "title")),
            ("quantity", Value::Number(qty)),
            ("price", price),
        ]));
    }
    let status = if cancelled { "cancelled" } else { "open" };
    let financial = financial_status(payment)
        .map(Value::text)
        .unwrap_or(Value::Null);
    let order = entries(vec![
        ("id", Value::text(&id)),
        ("name", Value::text(&id)),
        ("legacy_order_id", text_at(doc, "legacyOrderId")),
        ("created_at", created.clone()),
        ("updated_at", Value::text(&modified)),
        ("status", Value::text(status)),
        ("financial_status", financial),
        ("fulfillment_status", fulfillment_status(fulfilment)),
        ("currency", currency),
        ("total_price", amount(doc, "pricingSummary.total")?),
        (
            "subtotal_price",
            amount(doc, "pricingSummary.priceSubtotal")?,
        ),
        ("total_tax", amount(doc, "pricingSummary.tax")?),
        (
            "total_shipping",
            amount(doc, "pricingSummary.deliveryCost")?,
        ),
        ("tags", Value::list(Vec::new())),
        ("note", text_at(doc, "buyerCheckoutNotes")),
        (
            "customer",
            entries(vec![
                ("email", email),
                ("first_name", first),
                ("last_name", last),
                ("phone", phone),
            ]),
        ),
        ("shipping_address", address),
        ("line_items", Value::list(lines)),
        ("shipments", Value::list(Vec::new())),
    ]);
    let event = if cancelled {
        Event::Cancelled
    } else if matches!(fulfilment, "FULFILLED" | "IN_PROGRESS") {
        Event::Shipped
    } else if created.as_str() == Some(modified.as_str()) {
        Event::Created
    } else {
        Event::Updated
    };
    Ok(Incoming {
        id: format!("{id}@{modified}"),
        event,
        occurred_at: Some(modified),
        order,
    })
}

/// One `getOrders` page: its orders and the offset of the next page, if any
/// (eBay's `next` link is present while more pages follow).
pub fn page(
    data: &serde_json::Value,
    offset: u64,
) -> Result<(Vec<serde_json::Value>, Option<u64>), DecodeError> {
    let orders = data["orders"].as_array().cloned().unwrap_or_default();
    if !data.is_object() || (data.get("orders").is_some() && !data["orders"].is_array()) {
        return Err(shape("eBay's `getOrders` answer is not an order page"));
    }
    let total = data["total"].as_u64();
    let next = offset + orders.len() as u64;
    let more = match (data["next"].as_str(), total) {
        (Some(n), _) if !n.is_empty() => true,
        (_, Some(t)) => next < t,
        _ => false,
    };
    if more && orders.is_empty() {
        return Err(shape(
            "eBay's `getOrders` answer promises a next page but has no orders",
        ));
    }
    Ok((orders, more.then_some(next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> serde_json::Value {
        serde_json::json!({
            "orderId": "12-34567-89012",
            "legacyOrderId": "110123456789-0",
            "creationDate": "2026-01-05T10:00:00.000Z",
            "lastModifiedDate": "2026-01-05T10:05:00.000Z",
            "orderFulfillmentStatus": "NOT_STARTED",
            "orderPaymentStatus": "PAID",
            "pricingSummary": {
                "priceSubtotal": {"value": "100.00", "currency": "USD"},
                "deliveryCost": {"value": "4.50", "currency": "USD"},
                "total": {"value": "104.50", "currency": "USD"}
            },
            "buyer": {"username": "ada_l", "buyerRegistrationAddress": {"email": "ada@example.com"}},
            "fulfillmentStartInstructions": [{"shippingStep": {"shipTo": {
                "fullName": "Ada Lovelace",
                "contactAddress": {"addressLine1": "1 Main St", "city": "New York", "stateOrProvince": "NY", "postalCode": "10001", "countryCode": "US"},
                "primaryPhone": {"phoneNumber": "555-0100"}
            }}}],
            "lineItems": [{"lineItemId": "10000123", "sku": "MUG-1", "title": "Mug", "quantity": 2,
                           "lineItemCost": {"value": "100.00", "currency": "USD"}}]
        })
    }

    fn value(j: &serde_json::Value) -> Value {
        Value::from_json(&j.to_string()).unwrap()
    }

    #[test]
    fn an_order_reads_exactly() {
        let i = read(&value(&sample())).unwrap();
        assert_eq!(i.id, "12-34567-89012@2026-01-05T10:05:00.000Z");
        assert_eq!(i.event, Event::Updated);
        let o = &i.order;
        assert_eq!(o.get("id").unwrap().as_str(), Some("12-34567-89012"));
        assert_eq!(o.get("financial_status").unwrap().as_str(), Some("paid"));
        assert!(o.get("fulfillment_status").unwrap().is_null());
        assert_eq!(o.get("total_price").unwrap().to_string(), "104.5");
        assert_eq!(o.get("currency").unwrap().as_str(), Some("USD"));
        assert_eq!(
            o.get_path("line_items.0.line_item_id").unwrap().as_str(),
            Some("10000123")
        );
        assert_eq!(o.get_path("line_items.0.price").unwrap().to_string(), "50");
        assert_eq!(
            o.get_path("shipping_address.province").unwrap().as_str(),
            Some("NY")
        );
        assert_eq!(
            o.get_path("customer.email").unwrap().as_str(),
            Some("ada@example.com")
        );
        assert_eq!(
            o.get_path("customer.last_name").unwrap().as_str(),
            Some("Lovelace")
        );
    }

    #[test]
    fn events_follow_the_order() {
        let mut s = sample();
        s["lastModifiedDate"] = s["creationDate"].clone();
        assert_eq!(read(&value(&s)).unwrap().event, Event::Created);
        s["orderFulfillmentStatus"] = "FULFILLED".into();
        assert_eq!(read(&value(&s)).unwrap().event, Event::Shipped);
        s["cancelStatus"] = serde_json::json!({"cancelState": "CANCELED"});
        assert_eq!(read(&value(&s)).unwrap().event, Event::Cancelled);
    }

    #[test]
    fn bad_orders_say_why() {
        let mut s = sample();
        s["pricingSummary"]["total"]["value"] = "12,5".into();
        let e = read(&value(&s)).unwrap_err().to_string();
        assert!(e.contains("pricingSummary.total.value"), "{e}");
        let mut s = sample();
        s["lineItems"][0]
            .as_object_mut()
            .unwrap()
            .remove("lineItemId");
        assert!(
            read(&value(&s))
                .unwrap_err()
                .to_string()
                .contains("lineItemId")
        );
        assert!(read(&value(&serde_json::json!([]))).is_err());
        assert!(read(&value(&serde_json::json!({"orderId": "1"}))).is_err());
    }

    #[test]
    fn pages_follow_next() {
        let p = serde_json::json!({"orders": [sample()], "total": 3, "next": "https://api.ebay.com/...&offset=1"});
        assert_eq!(page(&p, 0).unwrap().1, Some(1));
        let last = serde_json::json!({"orders": [sample()], "total": 3});
        assert_eq!(page(&last, 2).unwrap().1, None);
        assert!(page(&serde_json::json!({"orders": 5}), 0).is_err());
        assert!(page(&serde_json::json!({"orders": [], "next": "x"}), 0).is_err());
    }
}
