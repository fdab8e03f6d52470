//! The dynamic value that orders, conditions and attributes are made of.
//!
//! An order is a JSON document whose shape is mostly known (SPEC 3.5) but may carry
//! any extra fields, which ordersync passes through. [`Value`] holds such a document
//! in a form that is cheap to read, cheap to share and cheap to change one field of:
//!
//! - text up to 23 bytes is stored inline (most order fields: statuses, currencies,
//!   SKUs, zips, countries, names), longer text behind an `Arc`;
//! - lists and objects are `Arc` slices, so cloning an order is a reference-count
//!   increment and setting one field copies only the path to it.
//!
//! `crate::json` reads JSON into this form (and defines [`Value::from_json`]
//! there, so that this module does not depend on the reader).
//!
//! Every number is an exact decimal ([`Decimal`], 96-bit mantissa and a scale:
//! 28 significant digits, SPEC 3.6), never a binary float, so `95 * 1.10` is
//! `104.5` and an 18-digit id keeps every digit. Numbers are written in their
//! shortest exact form: no trailing zeros after the point, no exponent.

mod number;
mod text;

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

pub use rust_decimal::Decimal;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

pub(crate) use number::decimal_from_parts;
use number::serialize_number;
pub use number::{NumberError, cmp_numbers, fmt_number, number_text, parse_number, small_parts};
pub use text::Str;

/// One key and its value in an object; objects keep their keys in input order.
pub type Entry = (Str, Value);

/// A JSON-like value: what an order, a condition's result and an attribute are.
#[derive(Clone, Default)]
pub enum Value {
    /// JSON `null`, and any field that is missing.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Every number is an exact decimal (16 bytes, so `Value` stays within four words).
    Number(Decimal),
    /// Text.
    Text(Str),
    /// An ordered list.
    List(Arc<[Value]>),
    /// An object, keys in input order.
    Object(Arc<[Entry]>),
}

impl Value {
    /// Writes the value as compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing a `Value` to a `String` has no failure mode: keys are always
        // strings and non-finite numbers are written as `null`.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Makes a text value.
    pub fn text(s: &str) -> Value {
        Value::Text(Str::new(s))
    }

    /// Makes a list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::from(items))
    }

    /// Makes an object value from entries (later duplicates are kept as given).
    pub fn object(entries: Vec<Entry>) -> Value {
        Value::Object(Arc::from(entries))
    }

    /// The name of this value's type, as error messages say it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::Text(_) => "text",
            Value::List(_) => "list",
            Value::Object(_) => "object",
        }
    }

    /// True for null, "", [] and {} (the language's `is empty`).
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// True for `Value::Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Makes a number value from a whole number.
    pub fn int(n: i64) -> Value {
        Value::Number(Decimal::from(n))
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is an object.
    pub fn as_object(&self) -> Option<&[Entry]> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The value of `key` in an object, or `None`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a dotted path (`shipping_address.country`, `line_items.0.sku`).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut here = self;
        for seg in path.split('.') {
            here = match here {
                Value::List(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => here.get(seg)?,
            };
        }
        Some(here)
    }

    /// Sets `path` to `value` in place, creating objects on the way. An object
    /// shared with other values is copied first (once: later sets on the same
    /// copy change it in place), so the others never see the change.
    pub fn set_path<S: AsRef<str>>(&mut self, path: &[S], value: Value) {
        let Some((first, rest)) = path.split_first() else {
            *self = value;
            return;
        };
        let first = first.as_ref();
        let Value::Object(entries) = self else {
            let mut child = Value::Null;
            child.set_path(rest, value);
            *self = Value::object(vec![(Str::new(first), child)]);
            return;
        };
        match entries.iter().position(|(k, _)| k.as_str() == first) {
            Some(i) => {
                if Arc::get_mut(entries).is_none() {
                    *entries = entries.iter().cloned().collect();
                }
                if let Some(unique) = Arc::get_mut(entries) {
                    unique[i].1.set_path(rest, value);
                }
            }
            None => {
                let mut child = Value::Null;
                child.set_path(rest, value);
                let added = (Str::new(first), child);
                *entries = entries
                    .iter()
                    .cloned()
                    .chain(std::iter::once(added))
                    .collect();
            }
        }
    }

    /// Structural equality where numbers compare by value and objects ignore key order.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => cmp_numbers(a, b).is_eq(),
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.same(y)))
            }
            (Value::Object(a), Value::Object(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len()
                        && a.iter()
                            .all(|(k, v)| other.get(k).is_some_and(|w| v.same(w))))
            }
            _ => false,
        }
    }

    /// Orders two values of the same kind (numbers, text case-insensitively); `None`
    /// when they cannot be ordered.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => Some(cmp_numbers(a, b)),
            (Value::Text(a), Value::Text(b)) => Some(cmp_ignore_case(a, b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.same(other)
    }
}

/// Case-insensitive text equality: ASCII fast path, full Unicode lowercase otherwise.
#[inline]
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Case-insensitive ordering of text.
pub fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

impl fmt::Display for Value {
    /// JSON, compact; text quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => fmt_number(*n, f),
            Value::Text(s) => write!(f, "{:?}", s.as_str()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => serialize_number(*n, s),
            Value::Text(t) => s.serialize_str(t),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items.iter() {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries.iter() {
                    map.serialize_entry(k.as_str(), v)?;
                }
                map.end()
            }
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            // Without `arbitrary_precision` a serde_json number is a 64-bit
            // integer or an `f64`; the latter is read from its shortest text.
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Number(Decimal::from(i)),
                (_, Some(u)) => Value::Number(Decimal::from(u)),
                _ => parse_number(&n.to_string()).map_or(Value::Null, Value::Number),
            },
            serde_json::Value::String(s) => Value::text(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::object(
                o.iter()
                    .map(|(k, v)| (Str::new(k), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_json() {
        let text = r#"{"id":"27-1138","total_price":20,"tags":["eBay"],"x":{"y":1.5},"n":null}"#;
        let v = Value::from_json(text).unwrap();
        assert_eq!(v.to_json(), text);
        assert_eq!(v.get_path("x.y"), Some(&Value::Number(Decimal::new(15, 1))));
        assert_eq!(v.get_path("tags.0"), Some(&Value::text("eBay")));
    }

    #[test]
    fn long_and_short_text() {
        let long = "a".repeat(100);
        assert_eq!(Str::new(&long).as_str(), long);
        assert_eq!(Str::new("ab").as_str(), "ab");
        assert_eq!(Str::new("é".repeat(11).as_str()).as_str(), "é".repeat(11));
    }

    #[test]
    fn set_path_on_a_copy_copies_only_the_spine() {
        let v = Value::from_json(r#"{"a":{"b":1},"c":[1]}"#).unwrap();
        let mut w = v.clone();
        w.set_path(&["a", "d"], Value::Bool(true));
        assert_eq!(w.to_json(), r#"{"a":{"b":1,"d":true},"c":[1]}"#);
        assert_eq!(v.to_json(), r#"{"a":{"b":1},"c":[1]}"#);
    }

    #[test]
    fn every_short_length_reads_back() {
        let text = "abcdefghijklmnopqrstuvwxyzé";
        for end in 0..=text.len() {
            if let Some(t) = text.get(..end) {
                let s = Str::new(t);
                assert_eq!(s.as_str(), t);
                assert_eq!(s.clone(), Str::from(t.to_string()));
            }
        }
    }

    #[test]
    fn shared_text_is_counted_not_copied() {
        let long = Str::new(&"x".repeat(40));
        let copies: Vec<Str> = (0..10).map(|_| long.clone()).collect();
        drop(long);
        assert!(copies.iter().all(|c| c.as_str() == "x".repeat(40)));
        assert_eq!(Str::new("abc"), Str::from("abc".to_string()));
        assert_ne!(Str::new("abc"), Str::new("abd"));
        assert_eq!(Str::new(&"y".repeat(30)), Str::from("y".repeat(30)));
        assert_eq!(std::mem::size_of::<Str>(), 24);
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_last_value() {
        let v = Value::from_json(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v.to_json(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn set_path_changes_only_its_own_copy() {
        let v = Value::from_json(r#"{"a":{"b":1},"c":[1]}"#).unwrap();
        let mut w = v.clone();
        w.set_path(&["a", "b"], Value::int(2));
        w.set_path(&["d"], Value::Bool(true));
        w.set_path(&["c"], Value::Null);
        assert_eq!(w.to_json(), r#"{"a":{"b":2},"c":null,"d":true}"#);
        assert_eq!(v.to_json(), r#"{"a":{"b":1},"c":[1]}"#);
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Value::from_json(&deep).is_err());
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_value_stays_four_words() {
        assert_eq!(std::mem::size_of::<Decimal>(), 16);
        // 24 since `Str` is a `SmolStr`: `Value`'s tag fits in its niche.
        assert!(std::mem::size_of::<Value>() <= 32);
    }

    #[test]
    fn numbers_are_written_in_their_shortest_exact_form() {
        let rows = [
            ("104.50", "104.5"),
            ("104.50000000000000000", "104.5"),
            ("20", "20"),
            ("20.000", "20"),
            ("1000", "1000"),
            ("-0", "0"),
            ("-0.00", "0"),
            ("-2.50", "-2.5"),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
        ];
        for (n, want) in rows {
            assert_eq!(number_text(d(n)), want, "{n}");
            assert_eq!(Value::Number(d(n)).to_json(), want, "{n}");
            assert_eq!(Value::Number(d(n)).to_string(), want, "{n}");
        }
    }

    #[test]
    fn long_ids_keep_every_digit_both_ways() {
        for id in [
            "820982911946154508",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1234567890123456789012345678",
        ] {
            let text = format!(r#"{{"id":{id},"total":104.5}}"#);
            let v = Value::from_json(&text).unwrap();
            assert_eq!(v.get("id").and_then(Value::as_decimal), Some(d(id)));
            assert_eq!(v.to_json(), text);
            assert_eq!(serde_json::to_string(&v).unwrap(), text);
        }
    }

    #[test]
    fn numbers_compare_by_value_whatever_their_scale() {
        assert_eq!(Value::Number(d("1.10")), Value::Number(d("1.1")));
        assert_eq!(
            Value::Number(d("20")).compare(&Value::Number(d("19.999"))),
            Some(Ordering::Greater)
        );
        let v = Value::from(&serde_json::json!({"a": 0.1, "b": 18446744073709551615u64, "c": -5}));
        assert_eq!(v.to_json(), r#"{"a":0.1,"b":18446744073709551615,"c":-5}"#);
    }
}
