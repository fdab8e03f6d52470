//! ordersync's own update format (SPEC 3.5):
//! `{"id": "<event id>", "event": "shipped", "occurred_at": "...", "order": {...}}`.

use super::{DecodeError, Incoming, id_text, unreadable_id};
use crate::order::Event;
use crate::value::Value;

/// Reads one canonical update.
pub fn read(doc: &Value) -> Result<Incoming, DecodeError> {
    let shape = |m: &str| DecodeError::Shape(m.to_string());
    if !matches!(doc, Value::Object(_)) {
        return Err(shape(
            "an update must be a JSON object with `id`, `event` and `order`",
        ));
    }
    let id = match doc.get("id") {
        Some(v) => {
            id_text(v).ok_or_else(|| shape("`id` must be non-empty text or a whole number"))?
        }
        None => return Err(shape("missing `id`: the sender's event id")),
    };
    let event = match doc.get("event") {
        Some(Value::Text(s)) => s.parse::<Event>().map_err(DecodeError::Shape)?,
        Some(_) => return Err(shape("`event` must be text")),
        None => return Err(shape("missing `event`")),
    };
    let occurred_at = match doc.get("occurred_at") {
        None | Some(Value::Null) => None,
        Some(Value::Text(s)) if crate::condition::parse_timestamp(s).is_some() => {
            Some(s.to_string())
        }
        Some(_) => return Err(shape("`occurred_at` must be an RFC 3339 timestamp")),
    };
    let order = match doc.get("order") {
        Some(o @ Value::Object(_)) => o.clone(),
        Some(_) => return Err(shape("`order` must be a JSON object")),
        None => return Err(shape("missing `order`")),
    };
    match order.get("id") {
        None | Some(Value::Null) => return Err(shape("the order has no `id`")),
        Some(v) if id_text(v).is_none() => {
            return Err(DecodeError::Shape(unreadable_id("the order's `id`", v)));
        }
        Some(_) => {}
    }
    Ok(Incoming {
        id,
        event,
        occurred_at,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Incoming, String> {
        read(&Value::from_json(text).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_an_update() {
        let u = read_text(
            r#"{"id": "evt-1", "event": "shipped", "occurred_at": "2026-11-22T10:00:00Z",
                "order": {"id": "27-1138", "tags": ["eBay"]}}"#,
        )
        .unwrap();
        assert_eq!(u.id, "evt-1");
        assert_eq!(u.event, Event::Shipped);
        assert_eq!(u.occurred_at.as_deref(), Some("2026-11-22T10:00:00Z"));
        assert_eq!(u.order.to_json(), r#"{"id":"27-1138","tags":["eBay"]}"#);
        assert_eq!(
            read_text(r#"{"id": 42, "event": "created", "order": {"id": 7}}"#)
                .unwrap()
                .id,
            "42"
        );
        for id in [
            "820982911946154508",
            "9223372036854775807",
            "18446744073709551615",
        ] {
            let u = read_text(&format!(
                r#"{{"id": {id}, "event": "created", "order": {{"id": {id}}}}}"#
            ))
            .unwrap();
            assert_eq!(u.id, id);
            assert_eq!(u.order.to_json(), format!(r#"{{"id":{id}}}"#));
        }
    }

    #[test]
    fn says_what_is_wrong() {
        let rows = [
            (
                r#"[]"#,
                "an update must be a JSON object with `id`, `event` and `order`",
            ),
            (
                r#"{"event": "created", "order": {"id": "1"}}"#,
                "missing `id`: the sender's event id",
            ),
            (
                r#"{"id": "", "event": "created", "order": {"id": "1"}}"#,
                "`id` must be non-empty text or a whole number",
            ),
            (
                r#"{"id": "e", "event": "shiped", "order": {"id": "1"}}"#,
                "unknown event `shiped`",
            ),
            (r#"{"id": "e", "event": "created"}"#, "missing `order`"),
            (
                r#"{"id": "e", "event": "created", "order": [1]}"#,
                "`order` must be a JSON object",
            ),
            (
                r#"{"id": "e", "event": "created", "order": {"tags": []}}"#,
                "the order has no `id`",
            ),
            (
                r#"{"id": "e", "event": "created", "order": {"id": 1.5}}"#,
                "the order's `id` must be non-empty text or a whole number, not 1.5",
            ),
            (
                r#"{"id": "e", "event": "created", "order": {"id": true}}"#,
                "the order's `id` must be non-empty text or a whole number, not true",
            ),
            (
                r#"{"id": "e", "event": "created", "order": {"id": {}}}"#,
                "the order's `id` must be non-empty text or a whole number, not {}",
            ),
            (
                r#"{"id": "e", "event": "created", "order": {"id": ""}}"#,
                "the order's `id` must be non-empty text or a whole number, not \"\"",
            ),
            (
                r#"{"id": "e", "event": "created", "order": {"id": null}}"#,
                "the order has no `id`",
            ),
            (
                r#"{"id": "e", "event": "created", "occurred_at": "yesterday", "order": {"id": "1"}}"#,
                "`occurred_at` must be an RFC 3339 timestamp",
            ),
        ];
        for (text, want) in rows {
            assert_eq!(read_text(text).unwrap_err(), want, "{text}");
        }
    }
}
