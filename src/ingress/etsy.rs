//! Etsy's receipt JSON (Open API v3 `getShopReceipts`, the `ShopReceipt`
//! type) read into the canonical order. The Etsy connector polls these; each
//! is stored as Etsy sent it and read again by this same function on re-sync.
//!
//! Etsy's `receipt_id` is the external id; each line keeps Etsy's
//! `transaction_id` as `line_item_id`. Money is Etsy's `{amount, divisor}`,
//! divided exactly; times are Etsy's unix seconds, written as RFC 3339.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;

use super::{DecodeError, Incoming, id_text};
use crate::order::Event;
use crate::value::{Str, Value};

fn shape(m: impl Into<String>) -> DecodeError {
    DecodeError::Shape(m.into())
}

fn entries(fields: Vec<(&str, Value)>) -> Value {
    Value::object(fields.into_iter().map(|(k, v)| (Str::new(k), v)).collect())
}

fn text(doc: &Value, key: &str) -> Value {
    match doc.get(key) {
        Some(Value::Text(s)) if !s.as_str().is_empty() => Value::Text(s.clone()),
        _ => Value::Null,
    }
}

/// An Etsy `Money` (`{"amount": 10450, "divisor": 100, "currency_code": "USD"}`) as an exact number.
pub fn money(doc: &Value, key: &str) -> Result<Value, DecodeError> {
    let Some(m) = doc.get(key).filter(|m| !m.is_null()) else {
        return Ok(Value::Null);
    };
    let whole = |k: &str| match m.get(k) {
        Some(Value::Number(n)) if n.is_integer() => Ok(*n),
        other => Err(shape(format!(
            "Etsy's `{key}.{k}` must be a whole number, not {}",
            other
                .map(|v| v.to_string())
                .unwrap_or_else(|| "nothing".into())
        ))),
    };
    let (amount, divisor) = (whole("amount")?, whole("divisor")?);
    if divisor <= Decimal::ZERO {
        return Err(shape(format!("Etsy's `{key}.divisor` must be above 0")));
    }
    amount
        .checked_div(divisor)
        .map(|n| Value::Number(n.normalize()))
        .ok_or_else(|| shape(format!("Etsy's `{key}` cannot be divided exactly")))
}

/// Unix seconds as RFC 3339 (`2026-01-05T10:00:00Z`).
pub fn timestamp(secs: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp(secs, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn time(doc: &Value, key: &str) -> Result<Option<String>, DecodeError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_integer() => {
            let secs = i64::try_from(*n).ok().and_then(timestamp);
            secs.map(Some)
                .ok_or_else(|| shape(format!("Etsy's `{key}` is not a time: {n}")))
        }
        Some(other) => Err(shape(format!(
            "Etsy's `{key}` is not unix seconds: {other}"
        ))),
    }
}

/// Reads one receipt: the event is `cancelled` when Etsy's status is
/// `canceled`, `shipped` once shipped, `created` when never changed after
/// creation, else `updated`; the event id is the receipt id and its
/// `updated_timestamp`.
pub fn read(doc: &Value) -> Result<Incoming, DecodeError> {
    if !matches!(doc, Value::Object(_)) {
        return Err(shape("an Etsy receipt must be a JSON object"));
    }
    let id = doc
        .get("receipt_id")
        .and_then(id_text)
        .ok_or_else(|| shape("an Etsy receipt needs a `receipt_id`"))?;
    let updated = time(doc, "updated_timestamp")?
        .ok_or_else(|| shape(format!("Etsy receipt {id} has no `updated_timestamp`")))?;
    let created = time(doc, "create_timestamp")?;
    let flag = |k: &str| matches!(doc.get(k), Some(Value::Bool(true)));
    let status = doc
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let cancelled = status == "canceled";
    let financial = match status.as_str() {
        "fully refunded" => "refunded",
        "partially refunded" => "partially_refunded",
        _ if flag("is_paid") => "paid",
        _ => "pending",
    };
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let (first, last) = match name.rsplit_once(' ') {
        Some((f, l)) => (Value::text(f.trim()), Value::text(l.trim())),
        None if !name.is_empty() => (Value::text(&name), Value::Null),
        None => (Value::Null, Value::Null),
    };
    let mut lines = Vec::new();
    for t in doc
        .get("transactions")
        .and_then(Value::as_list)
        .unwrap_or(&[])
    {
        let tid = t.get("transaction_id").and_then(id_text).ok_or_else(|| {
            shape(format!(
                "a transaction of Etsy receipt {id} has no `transaction_id`"
            ))
        })?;
        let qty = match t.get("quantity") {
            Some(Value::Number(n)) if n.is_integer() && *n > Decimal::ZERO => *n,
            _ => {
                return Err(shape(format!(
                    "transaction {tid} of Etsy receipt {id} needs a whole `quantity` above 0"
                )));
            }
        };
        lines.push(entries(vec![
            ("line_item_id", Value::text(&tid)),
            ("sku", text(t, "sku")),
            ("title", text(t, "title")),
            ("quantity", Value::Number(qty)),
            ("price", money(t, "price")?),
        ]));
    }
    let currency = doc
        .get_path("grandtotal.currency_code")
        .cloned()
        .filter(|c| matches!(c, Value::Text(_)))
        .unwrap_or(Value::Null);
    let order = entries(vec![
        ("id", Value::text(&id)),
        ("name", Value::text(&id)),
        (
            "created_at",
            created.as_deref().map(Value::text).unwrap_or(Value::Null),
        ),
        ("updated_at", Value::text(&updated)),
        (
            "status",
            Value::text(if cancelled { "cancelled" } else { "open" }),
        ),
        ("financial_status", Value::text(financial)),
        (
            "fulfillment_status",
            if flag("is_shipped") {
                Value::text("fulfilled")
            } else {
                Value::Null
            },
        ),
        ("currency", currency),
        ("total_price", money(doc, "grandtotal")?),
        ("subtotal_price", money(doc, "subtotal")?),
        ("total_tax", money(doc, "total_tax_cost")?),
        ("total_shipping", money(doc, "total_shipping_cost")?),
        ("tags", Value::list(Vec::new())),
        ("note", text(doc, "message_from_buyer")),
        (
            "customer",
            entries(vec![
                ("email", text(doc, "buyer_email")),
                ("first_name", first),
                ("last_name", last),
                ("phone", Value::Null),
            ]),
        ),
        (
            "shipping_address",
            entries(vec![
                ("name", text(doc, "name")),
                ("company", Value::Null),
                ("address1", text(doc, "first_line")),
                ("address2", text(doc, "second_line")),
                ("city", text(doc, "city")),
                ("province", text(doc, "state")),
                ("zip", text(doc, "zip")),
                ("country", text(doc, "country_iso")),
                ("phone", Value::Null),
            ]),
        ),
        ("line_items", Value::list(lines)),
        ("shipments", Value::list(Vec::new())),
    ]);
    let event = if cancelled {
        Event::Cancelled
    } else if flag("is_shipped") {
        Event::Shipped
    } else if created.as_deref() == Some(updated.as_str()) {
        Event::Created
    } else {
        Event::Updated
    };
    Ok(Incoming {
        id: format!("{id}@{updated}"),
        event,
        occurred_at: Some(updated),
        order,
    })
}

/// One `getShopReceipts` page: its receipts, and the offset of the next page
/// if `count` says more follow.
pub fn page(
    data: &serde_json::Value,
    offset: u64,
) -> Result<(Vec<serde_json::Value>, Option<u64>), DecodeError> {
    let Some(results) = data["results"].as_array() else {
        return Err(shape("Etsy's `getShopReceipts` answer has no `results`"));
    };
    let count = data["count"]
        .as_u64()
        .ok_or_else(|| shape("Etsy's `getShopReceipts` answer has no `count`"))?;
    let next = offset + results.len() as u64;
    let more = next < count && !results.is_empty();
    Ok((results.clone(), more.then_some(next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "receipt_id": 1234567890u64, "receipt_type": 0, "status": "Paid",
            "is_paid": true, "is_shipped": false,
            "name": "Grace Hopper", "first_line": "2 Navy Way", "second_line": null,
            "city": "Arlington", "state": "VA", "zip": "22201", "country_iso": "US",
            "buyer_email": "grace@example.com",
            "create_timestamp": 1767607200, "updated_timestamp": 1767607500,
            "grandtotal": {"amount": 10450, "divisor": 100, "currency_code": "USD"},
            "subtotal": {"amount": 10000, "divisor": 100, "currency_code": "USD"},
            "total_shipping_cost": {"amount": 450, "divisor": 100, "currency_code": "USD"},
            "transactions": [{"transaction_id": 987654321u64, "sku": "MUG-1", "title": "Mug", "quantity": 2,
                              "price": {"amount": 5000, "divisor": 100, "currency_code": "USD"}}]
        })
    }

    fn value(j: &serde_json::Value) -> Value {
        Value::from_json(&j.to_string()).unwrap()
    }

    #[test]
    fn a_receipt_reads_exactly() {
        let i = read(&value(&sample())).unwrap();
        assert_eq!(i.id, "1234567890@2026-01-05T10:05:00Z");
        assert_eq!(i.event, Event::Updated);
        let o = &i.order;
        assert_eq!(o.get("total_price").unwrap().to_string(), "104.5");
        assert_eq!(o.get("financial_status").unwrap().as_str(), Some("paid"));
        assert!(o.get("fulfillment_status").unwrap().is_null());
        assert_eq!(
            o.get_path("line_items.0.line_item_id").unwrap().as_str(),
            Some("987654321")
        );
        assert_eq!(o.get_path("line_items.0.price").unwrap().to_string(), "50");
        assert_eq!(
            o.get_path("shipping_address.country").unwrap().as_str(),
            Some("US")
        );
        assert_eq!(
            o.get("created_at").unwrap().as_str(),
            Some("2026-01-05T10:00:00Z")
        );
    }

    #[test]
    fn events_and_bad_receipts() {
        let mut s = sample();
        s["is_shipped"] = true.into();
        assert_eq!(read(&value(&s)).unwrap().event, Event::Shipped);
        s["status"] = "Canceled".into();
        assert_eq!(read(&value(&s)).unwrap().event, Event::Cancelled);
        let mut s = sample();
        s["grandtotal"]["divisor"] = 0.into();
        assert!(
            read(&value(&s))
                .unwrap_err()
                .to_string()
                .contains("divisor")
        );
        let mut s = sample();
        s["updated_timestamp"] = "yesterday".into();
        assert!(read(&value(&s)).is_err());
        assert!(read(&value(&serde_json::json!({"receipt_id": 1}))).is_err());
    }

    #[test]
    fn pages_count() {
        let p = serde_json::json!({"count": 3, "results": [sample(), sample()]});
        assert_eq!(page(&p, 0).unwrap().1, Some(2));
        assert_eq!(page(&p, 1).unwrap().1, None);
        assert!(page(&serde_json::json!({"count": 3}), 0).is_err());
    }
}
