//! The canonical order shape (SPEC 3.5), events and the types conditions are checked against.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// What happened to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A new order.
    Created,
    /// Any other change.
    Updated,
    /// The order was cancelled.
    Cancelled,
    /// A shipment or tracking number was added.
    Shipped,
    /// Items came back.
    Returned,
    /// A shipping label was made.
    Label,
}

impl Event {
    /// Every event, in the order the spec lists them.
    pub const ALL: [Event; 6] = [
        Event::Created,
        Event::Updated,
        Event::Cancelled,
        Event::Shipped,
        Event::Returned,
        Event::Label,
    ];

    /// The event's name as written in rules and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Created => "created",
            Event::Updated => "updated",
            Event::Cancelled => "cancelled",
            Event::Shipped => "shipped",
            Event::Returned => "returned",
            Event::Label => "label",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = String;
    fn from_str(s: &str) -> Result<Event, String> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown event `{s}`"))
    }
}

/// The static type of a field or expression, as the compiler checks it.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// Unknown until run time (passthrough data, `null`).
    Any,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// Text.
    Text,
    /// RFC 3339 text.
    Timestamp,
    /// A list of elements of one type.
    List(Box<Type>),
    /// An object with known fields.
    Object(Vec<(String, Type)>),
}

impl Type {
    /// The type's name as error messages say it.
    pub fn name(&self) -> &'static str {
        match self {
            Type::Any => "any",
            Type::Bool => "bool",
            Type::Number => "number",
            Type::Text => "text",
            Type::Timestamp => "timestamp",
            Type::List(_) => "list",
            Type::Object(_) => "object",
        }
    }

    /// Reads a type name as written under `fields:`.
    pub fn parse_name(s: &str) -> Option<Type> {
        Some(match s {
            "text" | "string" => Type::Text,
            "number" => Type::Number,
            "bool" | "boolean" => Type::Bool,
            "timestamp" => Type::Timestamp,
            "list" => Type::List(Box::new(Type::Text)),
            "object" | "any" => Type::Any,
            _ => return None,
        })
    }

    /// The names `fields:` accepts.
    pub const FIELD_TYPE_NAMES: [&'static str; 6] =
        ["text", "number", "bool", "timestamp", "list", "object"];

    /// The type of field `name` of an object type.
    pub fn field(&self, name: &str) -> Option<&Type> {
        match self {
            Type::Object(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, t)| t),
            _ => None,
        }
    }

    /// The field names of an object type (for did-you-mean hints).
    pub fn field_names(&self) -> Vec<&str> {
        match self {
            Type::Object(fields) => fields.iter().map(|(n, _)| n.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// True if values of this type are text (timestamps are text too).
    pub fn is_textual(&self) -> bool {
        matches!(self, Type::Text | Type::Timestamp)
    }
}

fn obj(fields: &[(&str, Type)]) -> Type {
    Type::Object(
        fields
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect(),
    )
}

fn list(t: Type) -> Type {
    Type::List(Box::new(t))
}

fn address() -> Type {
    use Type::Text;
    obj(&[
        ("name", Text),
        ("company", Text),
        ("address1", Text),
        ("address2", Text),
        ("city", Text),
        ("province", Text),
        ("zip", Text),
        ("country", Text),
        ("phone", Text),
    ])
}

/// The canonical order shape, Shopify Admin API names (SPEC 3.5).
pub static CANONICAL_ORDER: LazyLock<Type> = LazyLock::new(|| {
    use Type::{Number, Text, Timestamp};
    let line_item = obj(&[
        ("sku", Text),
        ("title", Text),
        ("quantity", Number),
        ("price", Number),
    ]);
    let shipped_item = obj(&[("sku", Text), ("quantity", Number)]);
    obj(&[
        ("id", Text),
        ("name", Text),
        ("created_at", Timestamp),
        ("updated_at", Timestamp),
        ("status", Text),
        ("financial_status", Text),
        ("fulfillment_status", Text),
        ("currency", Text),
        ("total_price", Number),
        ("subtotal_price", Number),
        ("total_tax", Number),
        ("total_shipping", Number),
        ("tags", list(Text)),
        ("note", Text),
        ("invoice_number", Text),
        ("shipping_method", Text),
        (
            "customer",
            obj(&[
                ("email", Text),
                ("first_name", Text),
                ("last_name", Text),
                ("phone", Text),
            ]),
        ),
        ("shipping_address", address()),
        ("billing_address", address()),
        ("line_items", list(line_item.clone())),
        (
            "shipments",
            list(obj(&[
                ("carrier", Text),
                ("tracking_number", Text),
                ("tracking_url", Text),
                ("shipped_at", Timestamp),
                ("line_items", list(shipped_item)),
            ])),
        ),
        (
            "returns",
            list(obj(&[
                ("reason", Text),
                ("line_items", list(line_item)),
                ("refund_amount", Number),
            ])),
        ),
        (
            "label",
            obj(&[
                ("format", Text),
                ("data", Text),
                ("url", Text),
                ("tracking_number", Text),
            ]),
        ),
    ])
});

/// The canonical shape extended with the rules file's declared `fields`
/// (dotted names nest: `metafields.gift_wrap`).
pub fn order_type_with(fields: &[(String, Type)]) -> Type {
    let mut t = CANONICAL_ORDER.clone();
    for (path, ty) in fields {
        let segs: Vec<&str> = path.split('.').collect();
        insert_field(&mut t, &segs, ty.clone());
    }
    t
}

fn insert_field(t: &mut Type, path: &[&str], ty: Type) {
    let Type::Object(fields) = t else { return };
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match fields.iter_mut().find(|(n, _)| n == first) {
        Some((_, existing)) if rest.is_empty() => *existing = ty,
        Some((_, existing)) => {
            if !matches!(existing, Type::Object(_)) {
                *existing = Type::Object(Vec::new());
            }
            insert_field(existing, rest, ty)
        }
        None if rest.is_empty() => fields.push((first.to_string(), ty)),
        None => {
            let mut child = Type::Object(Vec::new());
            insert_field(&mut child, rest, ty);
            fields.push((first.to_string(), child));
        }
    }
}
