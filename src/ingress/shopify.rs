//! Shopify's webhooks (SPEC 3.5), read into canonical updates.
//!
//! The topic comes from `X-Shopify-Topic`: `orders/create` -> created,
//! `orders/updated` -> updated, `orders/cancelled` -> cancelled,
//! `orders/fulfilled` and `fulfillments/create` -> shipped, `refunds/create` ->
//! returned. The event id is `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`.
//! Shopify sends money as strings and tags as one comma-separated string;
//! both become what the canonical shape says. Order ids are taken from
//! `admin_graphql_api_id` when present, because JSON numbers past 2^53 lose
//! digits on their way through any JSON reader that uses doubles.
//!
//! Mapped: `id`, `name`, `created_at`, `updated_at`, `status` (from
//! `cancelled_at`/`closed_at`), `financial_status`, `fulfillment_status`,
//! `currency`, the totals, `tags`, `note`, `invoice_number` (the note attribute
//! of that name), `shipping_method` (the first shipping line's title),
//! `customer`, both addresses (`country` is the ISO code), `line_items`,
//! `shipments` (from `fulfillments`), `returns` (from `refunds`). Every other
//! top-level field is passed through as it came.

use super::{DecodeError, Incoming, id_text, unreadable_id};
use crate::order::Event;
use crate::value::{Decimal, Str, Value};

const MAPPED: [&str; 28] = [
    "id",
    "admin_graphql_api_id",
    "name",
    "created_at",
    "updated_at",
    "cancelled_at",
    "closed_at",
    "financial_status",
    "fulfillment_status",
    "currency",
    "total_price",
    "subtotal_price",
    "total_tax",
    "total_shipping_price_set",
    "tags",
    "note",
    "note_attributes",
    "shipping_lines",
    "customer",
    "email",
    "phone",
    "shipping_address",
    "billing_address",
    "line_items",
    "fulfillments",
    "refunds",
    "status",
    "invoice_number",
];

/// Reads one Shopify webhook; `header` looks a header up by its lower-case name.
pub fn read(header: &dyn Fn(&str) -> Option<String>, doc: &Value) -> Result<Incoming, DecodeError> {
    let topic = header("x-shopify-topic").ok_or(DecodeError::MissingHeader("X-Shopify-Topic"))?;
    let id = header("x-shopify-event-id")
        .or_else(|| header("x-shopify-webhook-id"))
        .filter(|s| !s.is_empty())
        .ok_or(DecodeError::MissingHeader("X-Shopify-Event-Id"))?;
    let occurred_at = header("x-shopify-triggered-at");
    if !matches!(doc, Value::Object(_)) {
        return Err(DecodeError::Shape(
            "a Shopify webhook body must be a JSON object".to_string(),
        ));
    }
    let (event, order) = match topic.as_str() {
        "orders/create" => (Event::Created, order(doc)?),
        "orders/updated" | "orders/edited" | "orders/paid" => (Event::Updated, order(doc)?),
        "orders/cancelled" => (Event::Cancelled, order(doc)?),
        "orders/fulfilled" | "orders/partially_fulfilled" => (Event::Shipped, order(doc)?),
        "fulfillments/create" | "fulfillments/update" => (Event::Shipped, fulfillment(doc)?),
        "refunds/create" => (Event::Returned, refund(doc)?),
        other => return Err(DecodeError::Topic(other.to_string())),
    };
    Ok(Incoming {
        id,
        event,
        occurred_at,
        order,
    })
}

/// Reads one order from a polled list (the Admin API's order JSON): the event
/// is `cancelled` for a cancelled order, else `updated`, and the id names the
/// order and the time it was last changed, so each change is stored once.
pub fn read_polled(doc: &Value) -> Result<Incoming, DecodeError> {
    let order = order(doc)?;
    let event = if matches!(order.get("status"), Some(Value::Text(s)) if s.as_str() == "cancelled")
    {
        Event::Cancelled
    } else {
        Event::Updated
    };
    let changed = order
        .get("updated_at")
        .and_then(Value::as_str)
        .unwrap_or("");
    let id = format!(
        "{}@{changed}",
        id_text(order.get("id").unwrap_or(&Value::Null)).unwrap_or_default()
    );
    Ok(Incoming {
        id,
        event,
        occurred_at: order
            .get("updated_at")
            .and_then(Value::as_str)
            .map(str::to_string),
        order,
    })
}

/// Reads one order in the shape of Shopify's order webhooks (the polling
/// connector puts its GraphQL orders into that shape, so both read alike).
pub fn read_order(doc: &Value) -> Result<Value, DecodeError> {
    if !matches!(doc, Value::Object(_)) {
        return Err(shape("a Shopify order must be a JSON object".to_string()));
    }
    order(doc)
}

fn shape(message: String) -> DecodeError {
    DecodeError::Shape(message)
}

/// Shopify's numeric id, exact: from the GraphQL id's digits when present.
fn order_id(doc: &Value, id_field: &str, gid_field: &str) -> Result<Value, DecodeError> {
    if let Some(Value::Text(gid)) = doc.get(gid_field)
        && let Some(digits) = gid.rsplit('/').next()
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(Value::text(digits));
    }
    match doc.get(id_field) {
        None | Some(Value::Null) => Err(shape(format!("missing `{id_field}`"))),
        Some(v) => id_text(v)
            .map(|s| Value::text(&s))
            .ok_or_else(|| shape(unreadable_id(&format!("`{id_field}`"), v))),
    }
}

/// Money: Shopify's strings (`"19.99"`) or numbers; null stays null.
fn money(doc: &Value, field: &str) -> Result<Value, DecodeError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::Number(n)) => Ok(Value::Number(*n)),
        Some(Value::Text(s)) => match crate::value::parse_number(s.trim()) {
            Ok(n) => Ok(Value::Number(n)),
            Err(crate::value::NumberError::Syntax) => Err(shape(format!(
                "`{field}` is not an amount: {:?}",
                s.as_str()
            ))),
            Err(why) => Err(shape(format!("`{field}`: {}", why.message(s.trim())))),
        },
        Some(other) => Err(shape(format!("`{field}` is not an amount: {other}"))),
    }
}

/// A sum of amounts, refused rather than rounded when it leaves the range.
fn add(sum: Decimal, n: Decimal, what: &str) -> Result<Decimal, DecodeError> {
    sum.checked_add(n)
        .ok_or_else(|| shape(format!("the amounts of `{what}` add up beyond 7.9e28")))
}

fn copy(doc: &Value, field: &str) -> Value {
    doc.get(field).cloned().unwrap_or(Value::Null)
}

fn entries(fields: Vec<(&str, Value)>) -> Value {
    Value::object(fields.into_iter().map(|(k, v)| (Str::new(k), v)).collect())
}

fn list_of<'a>(doc: &'a Value, field: &str) -> &'a [Value] {
    doc.get(field).and_then(Value::as_list).unwrap_or(&[])
}

fn order(doc: &Value) -> Result<Value, DecodeError> {
    let status = if !copy(doc, "cancelled_at").is_null() {
        "cancelled"
    } else if !copy(doc, "closed_at").is_null() {
        "closed"
    } else {
        "open"
    };
    let tags: Vec<Value> = match doc.get("tags") {
        Some(Value::Text(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Value::text)
            .collect(),
        Some(Value::List(items)) => items.to_vec(),
        _ => Vec::new(),
    };
    let invoice_number = list_of(doc, "note_attributes")
        .iter()
        .find(|a| matches!(a.get("name"), Some(Value::Text(n)) if n.as_str() == "invoice_number"))
        .map(|a| copy(a, "value"))
        .unwrap_or_else(|| copy(doc, "invoice_number"));
    let total_shipping = match doc.get_path("total_shipping_price_set.shop_money") {
        Some(m) => money(m, "amount")?,
        None => {
            let mut sum = Decimal::ZERO;
            for line in list_of(doc, "shipping_lines") {
                if let Value::Number(n) = money(line, "price")? {
                    sum = add(sum, n, "shipping_lines")?;
                }
            }
            Value::Number(sum)
        }
    };
    let customer = doc.get("customer").cloned().unwrap_or(Value::Null);
    let customer = entries(vec![
        (
            "email",
            match customer.get("email") {
                Some(Value::Text(e)) => Value::Text(e.clone()),
                _ => copy(doc, "email"),
            },
        ),
        ("first_name", copy(&customer, "first_name")),
        ("last_name", copy(&customer, "last_name")),
        (
            "phone",
            match customer.get("phone") {
                Some(Value::Text(p)) => Value::Text(p.clone()),
                _ => copy(doc, "phone"),
            },
        ),
    ]);
    let mut line_items = Vec::new();
    for item in list_of(doc, "line_items") {
        line_items.push(entries(vec![
            ("sku", copy(item, "sku")),
            ("title", copy(item, "title")),
            ("quantity", copy(item, "quantity")),
            ("price", money(item, "price")?),
        ]));
    }
    let mut shipments = Vec::new();
    for f in list_of(doc, "fulfillments") {
        shipments.push(shipment(f));
    }
    let mut returns = Vec::new();
    for r in list_of(doc, "refunds") {
        returns.push(return_of(r)?);
    }
    let mut fields: Vec<(&str, Value)> = vec![
        ("id", order_id(doc, "id", "admin_graphql_api_id")?),
        ("name", copy(doc, "name")),
        ("created_at", copy(doc, "created_at")),
        ("updated_at", copy(doc, "updated_at")),
        ("status", Value::text(status)),
        ("financial_status", copy(doc, "financial_status")),
        ("fulfillment_status", copy(doc, "fulfillment_status")),
        ("currency", copy(doc, "currency")),
        ("total_price", money(doc, "total_price")?),
        ("subtotal_price", money(doc, "subtotal_price")?),
        ("total_tax", money(doc, "total_tax")?),
        ("total_shipping", total_shipping),
        ("tags", Value::list(tags)),
        ("note", copy(doc, "note")),
        ("invoice_number", invoice_number),
        (
            "shipping_method",
            list_of(doc, "shipping_lines")
                .first()
                .map(|l| copy(l, "title"))
                .unwrap_or(Value::Null),
        ),
        ("customer", customer),
        ("shipping_address", address(doc.get("shipping_address"))),
        ("billing_address", address(doc.get("billing_address"))),
        ("line_items", Value::list(line_items)),
        ("shipments", Value::list(shipments)),
        ("returns", Value::list(returns)),
    ];
    let mut out: Vec<(Str, Value)> = fields.drain(..).map(|(k, v)| (Str::new(k), v)).collect();
    if let Some(all) = doc.as_object() {
        for (k, v) in all.iter() {
            if !MAPPED.contains(&k.as_str()) {
                out.push((k.clone(), v.clone()));
            }
        }
    }
    Ok(Value::object(out))
}

fn address(a: Option<&Value>) -> Value {
    let Some(a @ Value::Object(_)) = a else {
        return Value::Null;
    };
    let name = match a.get("name") {
        Some(Value::Text(n)) => Value::Text(n.clone()),
        _ => {
            let first = a.get("first_name").and_then(Value::as_str).unwrap_or("");
            let last = a.get("last_name").and_then(Value::as_str).unwrap_or("");
            let full = format!("{first} {last}");
            if full.trim().is_empty() {
                Value::Null
            } else {
                Value::text(full.trim())
            }
        }
    };
    let country = match a.get("country_code") {
        Some(Value::Text(c)) => Value::Text(c.clone()),
        _ => copy(a, "country"),
    };
    let province = match a.get("province_code") {
        Some(Value::Text(c)) => Value::Text(c.clone()),
        _ => copy(a, "province"),
    };
    entries(vec![
        ("name", name),
        ("company", copy(a, "company")),
        ("address1", copy(a, "address1")),
        ("address2", copy(a, "address2")),
        ("city", copy(a, "city")),
        ("province", province),
        ("zip", copy(a, "zip")),
        ("country", country),
        ("phone", copy(a, "phone")),
    ])
}

fn shipment(f: &Value) -> Value {
    let items: Vec<Value> = list_of(f, "line_items")
        .iter()
        .map(|i| {
            entries(vec![
                ("sku", copy(i, "sku")),
                ("quantity", copy(i, "quantity")),
            ])
        })
        .collect();
    entries(vec![
        ("carrier", copy(f, "tracking_company")),
        ("tracking_number", copy(f, "tracking_number")),
        ("tracking_url", copy(f, "tracking_url")),
        ("shipped_at", copy(f, "created_at")),
        ("line_items", Value::list(items)),
    ])
}

fn return_of(r: &Value) -> Result<Value, DecodeError> {
    let mut items = Vec::new();
    for i in list_of(r, "refund_line_items") {
        let item = i.get("line_item").cloned().unwrap_or(Value::Null);
        items.push(entries(vec![
            ("sku", copy(&item, "sku")),
            ("title", copy(&item, "title")),
            ("quantity", copy(i, "quantity")),
            ("price", money(&item, "price")?),
        ]));
    }
    let mut amount = Decimal::ZERO;
    for t in list_of(r, "transactions") {
        if let Value::Number(n) = money(t, "amount")? {
            amount = add(amount, n, "transactions")?;
        }
    }
    Ok(entries(vec![
        ("reason", copy(r, "note")),
        ("line_items", Value::list(items)),
        ("refund_amount", Value::Number(amount)),
    ]))
}

/// `fulfillments/create`: the body is the fulfillment; the order is its `order_id`.
fn fulfillment(doc: &Value) -> Result<Value, DecodeError> {
    Ok(entries(vec![
        ("id", order_id(doc, "order_id", "")?),
        ("shipments", Value::list(vec![shipment(doc)])),
    ]))
}

/// `refunds/create`: the body is the refund; the order is its `order_id`.
fn refund(doc: &Value) -> Result<Value, DecodeError> {
    Ok(entries(vec![
        ("id", order_id(doc, "order_id", "")?),
        ("returns", Value::list(vec![return_of(doc)?])),
    ]))
}
