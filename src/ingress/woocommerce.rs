//! WooCommerce's order webhooks and REST API v3 orders, read into canonical
//! updates.
//!
//! A webhook names its topic in `X-WC-Webhook-Topic`: `order.created` ->
//! created; `order.updated` -> by the order's status: `completed` -> shipped,
//! `cancelled` -> cancelled, `refunded` -> returned, else updated (WooCommerce
//! has no shipment event of its own, and completing an order is how a
//! merchant says it went out); `order.restored` -> updated; `order.deleted`
//! (the order was moved to the trash; its body is only `{"id": N}`) ->
//! cancelled.
//!
//! The event id is `X-WC-Webhook-Delivery-ID` (else `X-WC-Webhook-ID`) and a
//! digest of the body: WooCommerce makes its delivery id from the webhook id
//! and the current second, so two deliveries of one webhook in the same
//! second share it, and the id alone would drop the second as a duplicate.
//! The same bytes sent again still make the same id.
//!
//! The ping WooCommerce sends when a webhook is saved (a form body
//! `webhook_id=N`, unsigned, with no topic) is recognised by [`is_ping`].
//!
//! Mapped (SPEC 3.5): `id`, `name` (`#` and `number`), `created_at` and
//! `updated_at` (the `_gmt` dates, which carry no offset, as UTC), `status`,
//! `financial_status`, `fulfillment_status` (all three from WooCommerce's
//! status, which is also kept as `woocommerce_status`), `currency`, the
//! totals (money strings read exactly), `note` (`customer_note`),
//! `shipping_method` (the first shipping line's title), `customer` and both
//! addresses (from `billing` and `shipping`), `line_items` (the unit price is
//! the line's `subtotal` over its quantity, exact, rather than WooCommerce's
//! float `price`), `shipments` (from the Shipment Tracking extension's
//! `_wc_shipment_tracking_items` meta when present, else one without tracking
//! once the order is completed), `returns` (from `refunds`), and `tags`
//! (WooCommerce orders have none): those ordersync kept in its
//! `_ordersync_tags` meta, and the `ordersync:<id>` tag when the order
//! carries ordersync's `_ordersync_id` meta. Every other top-level field is
//! passed through as it came.

use sha2::Digest as _;

use super::{DecodeError, Incoming, id_text, unreadable_id};
use crate::order::Event;
use crate::value::{Decimal, Str, Value};

/// The meta key ordersync writes its id into on the orders it creates.
pub const ORDERSYNC_META: &str = "_ordersync_id";

/// The meta key ordersync keeps the tags of the orders it creates in
/// (comma-separated): WooCommerce orders have no tags of their own.
pub const TAGS_META: &str = "_ordersync_tags";

/// The Shipment Tracking extension's meta key.
const TRACKING_META: &str = "_wc_shipment_tracking_items";

const MAPPED: [&str; 17] = [
    "id",
    "status",
    "currency",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "total",
    "total_tax",
    "shipping_total",
    "billing",
    "shipping",
    "line_items",
    "shipping_lines",
    "customer_note",
    "refunds",
    "tags",
];

/// True for the ping WooCommerce sends when a webhook is saved: no topic, and
/// a form body `webhook_id=<digits>`. It is not signed, so it is answered
/// before the signature is checked, and nothing of it is stored.
pub fn is_ping(header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> bool {
    if header("x-wc-webhook-topic").is_some() {
        return false;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    text.trim()
        .strip_prefix("webhook_id=")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads one WooCommerce webhook; `header` looks a header up by its
/// lower-case name, `body` is the raw body (for the event id), `doc` its JSON.
pub fn read(
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    doc: &Value,
) -> Result<Incoming, DecodeError> {
    let topic =
        header("x-wc-webhook-topic").ok_or(DecodeError::MissingHeader("X-WC-Webhook-Topic"))?;
    let delivery = header("x-wc-webhook-delivery-id")
        .or_else(|| header("x-wc-webhook-id"))
        .filter(|s| !s.trim().is_empty())
        .ok_or(DecodeError::MissingHeader("X-WC-Webhook-Delivery-ID"))?;
    if !matches!(doc, Value::Object(_)) {
        return Err(shape(
            "a WooCommerce webhook body must be a JSON object".to_string(),
        ));
    }
    let digest = sha2::Sha256::digest(body);
    let id = format!(
        "{}:{}",
        delivery.trim(),
        digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let (event, order) = match topic.as_str() {
        "order.created" => (Event::Created, order(doc)?),
        "order.updated" => {
            let o = order(doc)?;
            (event_of(&o, Event::Updated), o)
        }
        "order.restored" => (Event::Updated, order(doc)?),
        "order.deleted" => (Event::Cancelled, deleted(doc)?),
        other => return Err(DecodeError::WooTopic(other.to_string())),
    };
    let occurred_at = order
        .get("updated_at")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Incoming {
        id,
        event,
        occurred_at,
        order,
    })
}

/// Reads one order of a polled listing (`GET /orders`): the event is
/// `cancelled`, `shipped` or `returned` by its status, `created` while it was
/// never modified, else `updated`; the id names the order and the time it was
/// last modified, so each change is stored once.
pub fn read_polled(doc: &Value) -> Result<Incoming, DecodeError> {
    let order = read_order(doc)?;
    let created = order.get("created_at").and_then(Value::as_str);
    let updated = order.get("updated_at").and_then(Value::as_str);
    let event = event_of(
        &order,
        if created.is_some() && created == updated {
            Event::Created
        } else {
            Event::Updated
        },
    );
    let id = format!(
        "{}@{}",
        order.get("id").and_then(Value::as_str).unwrap_or(""),
        updated.unwrap_or("")
    );
    Ok(Incoming {
        id,
        event,
        occurred_at: updated.map(str::to_string),
        order,
    })
}

/// Reads one REST API v3 order into the canonical shape.
pub fn read_order(doc: &Value) -> Result<Value, DecodeError> {
    if !matches!(doc, Value::Object(_)) {
        return Err(shape(
            "a WooCommerce order must be a JSON object".to_string(),
        ));
    }
    order(doc)
}

/// The event an order's WooCommerce status implies, else `otherwise`.
fn event_of(order: &Value, otherwise: Event) -> Event {
    match order.get("woocommerce_status").and_then(Value::as_str) {
        Some("completed") => Event::Shipped,
        Some("cancelled") => Event::Cancelled,
        Some("refunded") => Event::Returned,
        _ => otherwise,
    }
}

fn shape(message: String) -> DecodeError {
    DecodeError::Shape(message)
}

fn copy(doc: &Value, field: &str) -> Value {
    doc.get(field).cloned().unwrap_or(Value::Null)
}

fn entries(fields: Vec<(&str, Value)>) -> Value {
    Value::object(fields.into_iter().map(|(k, v)| (Str::new(k), v)).collect())
}

fn list_of<'a>(doc: &'a Value, field: &str) -> Result<&'a [Value], DecodeError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::List(items)) => Ok(items),
        Some(other) => Err(shape(format!(
            "`{field}` must be a list, not {}",
            other.type_name()
        ))),
    }
}

/// Money: WooCommerce's strings (`"19.99"`) or numbers, read exactly; an
/// empty string is null (WooCommerce writes `""` for amounts never set).
fn amount(v: Option<&Value>, field: &str) -> Result<Option<Decimal>, DecodeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(*n)),
        Some(Value::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::Text(s)) => match crate::value::parse_number(s.trim()) {
            Ok(n) => Ok(Some(n)),
            Err(crate::value::NumberError::Syntax) => Err(shape(format!(
                "`{field}` is not an amount: {:?}",
                s.as_str()
            ))),
            Err(why) => Err(shape(format!("`{field}`: {}", why.message(s.trim())))),
        },
        Some(other) => Err(shape(format!("`{field}` is not an amount: {other}"))),
    }
}

fn money(doc: &Value, field: &str) -> Result<Value, DecodeError> {
    Ok(amount(doc.get(field), field)?.map_or(Value::Null, Value::Number))
}

fn add(sum: Decimal, n: Decimal, what: &str) -> Result<Decimal, DecodeError> {
    sum.checked_add(n)
        .ok_or_else(|| shape(format!("the amounts of `{what}` add up beyond 7.9e28")))
}

/// WooCommerce's `_gmt` dates carry no offset: they are UTC.
fn gmt(doc: &Value, field: &str) -> Value {
    match doc.get(field) {
        Some(Value::Text(s)) if !s.is_empty() => {
            let t = s.as_str();
            let has_offset = t.ends_with('Z')
                || t.get(19..)
                    .is_some_and(|rest| rest.contains('+') || rest.contains('-'));
            if has_offset {
                Value::text(t)
            } else {
                Value::text(&format!("{t}Z"))
            }
        }
        _ => Value::Null,
    }
}

fn order_id(doc: &Value) -> Result<Value, DecodeError> {
    match doc.get("id") {
        None | Some(Value::Null) => Err(shape("missing `id`".to_string())),
        Some(v) => id_text(v)
            .map(|s| Value::text(&s))
            .ok_or_else(|| shape(unreadable_id("`id`", v))),
    }
}

/// `order.deleted`: WooCommerce sends only the id of the trashed order.
fn deleted(doc: &Value) -> Result<Value, DecodeError> {
    Ok(entries(vec![
        ("id", order_id(doc)?),
        ("status", Value::text("cancelled")),
    ]))
}

/// The meta value of `key` in a `meta_data` list.
fn meta<'a>(doc: &'a Value, key: &str) -> Result<Option<&'a Value>, DecodeError> {
    Ok(list_of(doc, "meta_data")?
        .iter()
        .find(|m| m.get("key").and_then(Value::as_str) == Some(key))
        .and_then(|m| m.get("value")))
}

fn order(doc: &Value) -> Result<Value, DecodeError> {
    let wc_status = match doc.get("status") {
        Some(Value::Text(s)) => s.as_str().to_string(),
        None | Some(Value::Null) => return Err(shape("missing `status`".to_string())),
        Some(other) => {
            return Err(shape(format!(
                "`status` must be text, not {}",
                other.type_name()
            )));
        }
    };
    let refunds = list_of(doc, "refunds")?;
    let paid = !matches!(doc.get("date_paid_gmt"), None | Some(Value::Null));
    let (status, financial, fulfilled) = match wc_status.as_str() {
        "pending" | "on-hold" => ("open", "pending", false),
        "processing" => ("open", "paid", false),
        "completed" => ("closed", "paid", true),
        "cancelled" if paid => ("cancelled", "paid", false),
        "cancelled" => ("cancelled", "voided", false),
        "refunded" => ("closed", "refunded", false),
        "failed" => ("open", "voided", false),
        // `checkout-draft`, `trash` and statuses of extensions.
        _ => ("open", if paid { "paid" } else { "pending" }, false),
    };
    let financial = if financial == "paid" && !refunds.is_empty() {
        "partially_refunded"
    } else {
        financial
    };
    let billing = doc.get("billing").cloned().unwrap_or(Value::Null);
    let customer = entries(vec![
        ("email", copy(&billing, "email")),
        ("first_name", copy(&billing, "first_name")),
        ("last_name", copy(&billing, "last_name")),
        ("phone", copy(&billing, "phone")),
    ]);
    let mut line_items = Vec::new();
    let mut subtotal = Decimal::ZERO;
    for item in list_of(doc, "line_items")? {
        let quantity = match item.get("quantity") {
            Some(Value::Number(q)) => Some(*q),
            None | Some(Value::Null) => None,
            Some(other) => {
                return Err(shape(format!(
                    "a line item's `quantity` must be a number, not {other}"
                )));
            }
        };
        let line_subtotal = amount(item.get("subtotal"), "line_items[].subtotal")?;
        if let Some(t) = amount(item.get("total"), "line_items[].total")? {
            subtotal = add(subtotal, t, "line_items")?;
        }
        let price = match (line_subtotal, quantity) {
            (Some(s), Some(q)) if !q.is_zero() => s.checked_div(q).map(Value::Number),
            _ => None,
        };
        let price = match price {
            Some(p) => p,
            None => money(item, "price")?,
        };
        line_items.push(entries(vec![
            ("sku", copy(item, "sku")),
            ("title", copy(item, "name")),
            ("quantity", copy(item, "quantity")),
            ("price", price),
        ]));
    }
    let mut returns = Vec::new();
    for r in refunds {
        returns.push(entries(vec![
            ("reason", copy(r, "reason")),
            ("line_items", Value::list(Vec::new())),
            (
                "refund_amount",
                amount(r.get("total"), "refunds[].total")?
                    .map_or(Value::Null, |n| Value::Number(n.abs())),
            ),
        ]));
    }
    let mut shipments = Vec::new();
    if let Some(Value::List(items)) = meta(doc, TRACKING_META)? {
        for t in items.iter() {
            let carrier = match t.get("custom_tracking_provider") {
                Some(Value::Text(c)) if !c.is_empty() => Value::Text(c.clone()),
                _ => copy(t, "tracking_provider"),
            };
            shipments.push(entries(vec![
                ("carrier", carrier),
                ("tracking_number", copy(t, "tracking_number")),
                ("tracking_url", copy(t, "custom_tracking_link")),
                ("shipped_at", shipped_at(t.get("date_shipped"))),
                ("line_items", Value::list(Vec::new())),
            ]));
        }
    }
    if shipments.is_empty() && fulfilled {
        shipments.push(entries(vec![
            ("carrier", Value::Null),
            ("tracking_number", Value::Null),
            ("tracking_url", Value::Null),
            ("shipped_at", gmt(doc, "date_completed_gmt")),
            ("line_items", Value::list(Vec::new())),
        ]));
    }
    let mut tags = Vec::new();
    if let Some(Value::Text(kept)) = meta(doc, TAGS_META)? {
        tags.extend(
            kept.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Value::text),
        );
    }
    if let Some(v) = meta(doc, ORDERSYNC_META)?
        && let Some(id) = id_text(v)
    {
        tags.push(Value::text(&format!("{}{id}", crate::identity::TAG_PREFIX)));
    }
    let shipping_method = list_of(doc, "shipping_lines")?
        .first()
        .map(|l| copy(l, "method_title"))
        .unwrap_or(Value::Null);
    let name = match doc.get("number") {
        Some(v) => id_text(v).map_or(Value::Null, |n| Value::text(&format!("#{n}"))),
        None => Value::Null,
    };
    let mut fields: Vec<(&str, Value)> = vec![
        ("id", order_id(doc)?),
        ("name", name),
        ("created_at", gmt(doc, "date_created_gmt")),
        ("updated_at", gmt(doc, "date_modified_gmt")),
        ("status", Value::text(status)),
        ("woocommerce_status", Value::text(&wc_status)),
        ("financial_status", Value::text(financial)),
        (
            "fulfillment_status",
            if fulfilled {
                Value::text("fulfilled")
            } else {
                Value::Null
            },
        ),
        ("currency", copy(doc, "currency")),
        ("total_price", money(doc, "total")?),
        ("subtotal_price", Value::Number(subtotal)),
        ("total_tax", money(doc, "total_tax")?),
        ("total_shipping", money(doc, "shipping_total")?),
        ("tags", Value::list(tags)),
        ("note", copy(doc, "customer_note")),
        ("shipping_method", shipping_method),
        ("customer", customer),
        ("shipping_address", address(doc.get("shipping"))),
        ("billing_address", address(doc.get("billing"))),
        ("line_items", Value::list(line_items)),
        ("shipments", Value::list(shipments)),
        ("returns", Value::list(returns)),
    ];
    let mut out: Vec<(Str, Value)> = fields.drain(..).map(|(k, v)| (Str::new(k), v)).collect();
    if let Some(all) = doc.as_object() {
        for (k, v) in all.iter() {
            if !MAPPED.contains(&k.as_str()) && k.as_str() != "woocommerce_status" {
                out.push((k.clone(), v.clone()));
            }
        }
    }
    Ok(Value::object(out))
}

/// The extension's `date_shipped` is a Unix time (a number or its digits).
fn shipped_at(v: Option<&Value>) -> Value {
    let secs = match v {
        Some(Value::Number(n)) => n.trunc().to_string().parse::<i64>().ok(),
        Some(Value::Text(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or(Value::Null, |t| {
            Value::text(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        })
}

/// WooCommerce's address (`first_name`, `address_1`, `state`, `postcode`, ...).
fn address(a: Option<&Value>) -> Value {
    let Some(a @ Value::Object(_)) = a else {
        return Value::Null;
    };
    let first = a.get("first_name").and_then(Value::as_str).unwrap_or("");
    let last = a.get("last_name").and_then(Value::as_str).unwrap_or("");
    let full = format!("{first} {last}");
    let name = if full.trim().is_empty() {
        Value::Null
    } else {
        Value::text(full.trim())
    };
    let blank_is_null = |field: &str| match a.get(field) {
        Some(Value::Text(s)) if s.is_empty() => Value::Null,
        Some(v) => v.clone(),
        None => Value::Null,
    };
    entries(vec![
        ("name", name),
        ("company", blank_is_null("company")),
        ("address1", blank_is_null("address_1")),
        ("address2", blank_is_null("address_2")),
        ("city", blank_is_null("city")),
        ("province", blank_is_null("state")),
        ("zip", blank_is_null("postcode")),
        ("country", blank_is_null("country")),
        ("phone", blank_is_null("phone")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        }
    }

    const ORDER: &str = r#"{
      "id": 727, "parent_id": 0, "number": "727", "order_key": "wc_order_58d2d042d1d",
      "created_via": "rest-api", "status": "processing", "currency": "USD",
      "date_created": "2017-03-22T16:28:02", "date_created_gmt": "2017-03-22T19:28:02",
      "date_modified": "2017-03-22T16:28:08", "date_modified_gmt": "2017-03-22T19:28:08",
      "discount_total": "0.00", "shipping_total": "10.00", "total": "39.97", "total_tax": "0.00",
      "customer_note": "leave at the door",
      "billing": {"first_name": "John", "last_name": "Doe", "company": "", "address_1": "969 Market",
        "address_2": "", "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US",
        "email": "john.doe@example.com", "phone": "(555) 555-5555"},
      "shipping": {"first_name": "John", "last_name": "Doe", "company": "", "address_1": "969 Market",
        "address_2": "", "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US"},
      "payment_method": "bacs", "date_paid_gmt": "2017-03-22T19:28:08",
      "meta_data": [{"id": 13106, "key": "_ordersync_id", "value": "ord_7"}],
      "line_items": [
        {"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0, "quantity": 2,
         "subtotal": "6.00", "total": "6.00", "sku": "", "price": 3},
        {"id": 316, "name": "Ship Your Idea", "product_id": 22, "variation_id": 23, "quantity": 3,
         "subtotal": "10.00", "total": "10.00", "sku": "SYI-1", "price": 3.3333333333333335}
      ],
      "shipping_lines": [{"id": 317, "method_title": "Flat Rate", "method_id": "flat_rate", "total": "10.00"}],
      "refunds": []
    }"#;

    #[test]
    fn reads_an_order_exactly() {
        let doc = Value::from_json(ORDER).unwrap();
        let o = read_order(&doc).unwrap();
        assert_eq!(o.get("id").unwrap().as_str(), Some("727"));
        assert_eq!(o.get("name").unwrap().as_str(), Some("#727"));
        assert_eq!(
            o.get("created_at").unwrap().as_str(),
            Some("2017-03-22T19:28:02Z")
        );
        assert_eq!(o.get("status").unwrap().as_str(), Some("open"));
        assert_eq!(o.get("financial_status").unwrap().as_str(), Some("paid"));
        assert_eq!(o.get("total_price").unwrap().to_json(), "39.97");
        assert_eq!(o.get("subtotal_price").unwrap().to_json(), "16");
        assert_eq!(o.get("total_shipping").unwrap().to_json(), "10");
        assert_eq!(
            o.get_path("line_items").unwrap().as_list().unwrap().len(),
            2
        );
        // 10.00 / 3 in exact decimals, never the float 3.3333333333333335.
        let p = o.get_path("line_items").unwrap().as_list().unwrap()[1]
            .get("price")
            .unwrap()
            .to_json();
        assert!(p.starts_with("3.333333333333333333"), "{p}");
        assert_eq!(
            o.get_path("shipping_address.address1").unwrap().as_str(),
            Some("969 Market")
        );
        assert!(o.get_path("shipping_address.company").unwrap().is_null());
        assert_eq!(
            o.get_path("customer.email").unwrap().as_str(),
            Some("john.doe@example.com")
        );
        assert_eq!(o.get("tags").unwrap().to_json(), r#"["ordersync:ord_7"]"#);
        assert_eq!(
            o.get("shipping_method").unwrap().as_str(),
            Some("Flat Rate")
        );
        assert_eq!(
            o.get("order_key").unwrap().as_str(),
            Some("wc_order_58d2d042d1d")
        );
    }

    #[test]
    fn topics_and_statuses_make_events() {
        let body = ORDER.as_bytes();
        let doc = Value::from_json(ORDER).unwrap();
        let h = [
            ("X-WC-Webhook-Topic", "order.updated"),
            (
                "X-WC-Webhook-Delivery-ID",
                "36e520ebabc2fa725092ff4a47acedf2",
            ),
        ];
        let i = read(&headers(&h), body, &doc).unwrap();
        assert_eq!(i.event, Event::Updated);
        assert!(i.id.starts_with("36e520ebabc2fa725092ff4a47acedf2:"));
        let completed = ORDER.replace("\"processing\"", "\"completed\"");
        let doc2 = Value::from_json(&completed).unwrap();
        let j = read(&headers(&h), completed.as_bytes(), &doc2).unwrap();
        assert_eq!(j.event, Event::Shipped);
        assert_ne!(i.id, j.id, "same delivery id, different bodies");
        assert_eq!(
            j.order.get_path("fulfillment_status").unwrap().as_str(),
            Some("fulfilled")
        );
        let del = [
            ("X-WC-Webhook-Topic", "order.deleted"),
            ("X-WC-Webhook-ID", "3"),
        ];
        let d = read(
            &headers(&del),
            b"{\"id\":727}",
            &Value::from_json("{\"id\":727}").unwrap(),
        )
        .unwrap();
        assert_eq!(d.event, Event::Cancelled);
        assert_eq!(d.order.to_json(), r#"{"id":"727","status":"cancelled"}"#);
        let other = [
            ("X-WC-Webhook-Topic", "product.updated"),
            ("X-WC-Webhook-ID", "3"),
        ];
        assert_eq!(
            read(&headers(&other), body, &doc).unwrap_err().to_string(),
            "unsupported WooCommerce topic `product.updated`"
        );
        let none = [("X-WC-Webhook-ID", "3")];
        assert_eq!(
            read(&headers(&none), body, &doc).unwrap_err().to_string(),
            "missing header `X-WC-Webhook-Topic`"
        );
    }

    #[test]
    fn polled_orders_name_their_change() {
        let doc = Value::from_json(ORDER).unwrap();
        let i = read_polled(&doc).unwrap();
        assert_eq!(i.id, "727@2017-03-22T19:28:08Z");
        assert_eq!(i.event, Event::Updated);
    }

    #[test]
    fn pings_are_recognised() {
        assert!(is_ping(&headers(&[]), b"webhook_id=12"));
        assert!(!is_ping(&headers(&[]), b"webhook_id="));
        assert!(!is_ping(&headers(&[]), b"{\"id\":1}"));
        assert!(!is_ping(
            &headers(&[("X-WC-Webhook-Topic", "order.created")]),
            b"webhook_id=12"
        ));
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        for bad in [
            r#"{"id": 1}"#,
            r#"{"id": 1, "status": 5}"#,
            r#"{"id": [1], "status": "pending"}"#,
            r#"{"id": 1, "status": "pending", "total": "12,00"}"#,
            r#"{"id": 1, "status": "pending", "line_items": {}}"#,
            r#"{"id": 1, "status": "pending", "line_items": [{"quantity": "2"}]}"#,
            r#"{"id": 1, "status": "pending", "meta_data": 3}"#,
        ] {
            let doc = Value::from_json(bad).unwrap();
            assert!(read_order(&doc).is_err(), "{bad}");
        }
        assert!(read_order(&Value::from_json("[]").unwrap()).is_err());
    }

    #[test]
    fn tracking_meta_becomes_shipments() {
        let with = ORDER.replace(
            r#""meta_data": [{"id": 13106, "key": "_ordersync_id", "value": "ord_7"}]"#,
            r#""meta_data": [{"id": 1, "key": "_wc_shipment_tracking_items", "value": [
                {"tracking_provider": "usps", "custom_tracking_provider": "", "custom_tracking_link": "",
                 "tracking_number": "9400111", "date_shipped": "1490212800", "tracking_id": "a1"}]}]"#,
        );
        let o = read_order(&Value::from_json(&with).unwrap()).unwrap();
        let s = &o.get("shipments").unwrap().as_list().unwrap()[0];
        assert_eq!(s.get("carrier").unwrap().as_str(), Some("usps"));
        assert_eq!(s.get("tracking_number").unwrap().as_str(), Some("9400111"));
        assert_eq!(
            s.get("shipped_at").unwrap().as_str(),
            Some("2017-03-22T20:00:00Z")
        );
        assert_eq!(o.get("tags").unwrap().to_json(), "[]");
    }
}
