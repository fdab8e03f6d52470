//! Order identity (SPEC 5 step 2), the pure parts: the ordersync id that
//! ordersync writes into the orders it creates (a tag `ordersync:<id>`), found
//! again when the destination echoes the order back; and whether an update is
//! older than the newest already seen from its source (`stale`).

use std::cmp::Ordering;

use crate::condition::parse_timestamp;
use crate::value::{Value, eq_ignore_case};

/// The tag prefix that carries ordersync's id in a channel's copy of an order.
pub const TAG_PREFIX: &str = "ordersync:";

/// The ordersync id an order carries in its tags, if any (the prefix is matched
/// ignoring case, as people and some platforms change the case of tags).
pub fn ordersync_id(order: &Value) -> Option<&str> {
    order.get("tags")?.as_list()?.iter().find_map(|t| {
        let t = t.as_str()?;
        let (prefix, id) = (t.get(..TAG_PREFIX.len())?, t.get(TAG_PREFIX.len()..)?);
        (eq_ignore_case(prefix, TAG_PREFIX) && !id.trim().is_empty()).then(|| id.trim())
    })
}

/// The order with the tag `ordersync:<id>` added (once; an existing ordersync
/// tag is replaced), so that its echo from the destination can be joined to it.
pub fn with_ordersync_id(order: &Value, id: &str) -> Value {
    let mut tags: Vec<Value> = order
        .get("tags")
        .and_then(Value::as_list)
        .map(|l| l.to_vec())
        .unwrap_or_default();
    tags.retain(|t| {
        !t.as_str()
            .and_then(|s| s.get(..TAG_PREFIX.len()))
            .is_some_and(|p| eq_ignore_case(p, TAG_PREFIX))
    });
    tags.push(Value::text(&format!("{TAG_PREFIX}{id}")));
    let mut out = order.clone();
    out.set_path(&["tags"], Value::list(tags));
    out
}

/// Compares two `updated_at` values as instants (any offsets); `None` when
/// either is missing or not a timestamp.
pub fn compare_updated_at(a: Option<&str>, b: Option<&str>) -> Option<Ordering> {
    Some(parse_timestamp(a?)?.cmp(&parse_timestamp(b?)?))
}

/// True if an update whose order says `incoming` is older than `newest`, the
/// newest `updated_at` already seen from the same source: it is recorded as
/// `stale` and not routed. Without both timestamps nothing is stale.
pub fn is_stale(newest: Option<&str>, incoming: Option<&str>) -> bool {
    compare_updated_at(incoming, newest) == Some(Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_writes_the_ordersync_id() {
        let o =
            Value::from_json(r#"{"id": "5001", "tags": ["eBay", "OrderSync:ord_42"]}"#).unwrap();
        assert_eq!(ordersync_id(&o), Some("ord_42"));
        let none = Value::from_json(r#"{"id": "5001", "tags": ["eBay", "ordersync:"]}"#).unwrap();
        assert_eq!(ordersync_id(&none), None);
        assert_eq!(
            ordersync_id(&Value::from_json(r#"{"tags": "x"}"#).unwrap()),
            None
        );

        let tagged = with_ordersync_id(&o, "ord_43");
        assert_eq!(
            tagged.get("tags").unwrap().to_json(),
            r#"["eBay","ordersync:ord_43"]"#
        );
        assert_eq!(ordersync_id(&tagged), Some("ord_43"));
        let fresh = with_ordersync_id(&Value::from_json(r#"{"id": "1"}"#).unwrap(), "ord_1");
        assert_eq!(fresh.to_json(), r#"{"id":"1","tags":["ordersync:ord_1"]}"#);
        assert_eq!(
            o.get("tags").unwrap().to_json(),
            r#"["eBay","OrderSync:ord_42"]"#,
            "the input is unchanged"
        );
    }

    #[test]
    fn older_updates_are_stale_across_offsets() {
        let newest = Some("2026-11-20T10:31:12-05:00");
        assert!(is_stale(newest, Some("2026-11-20T15:30:00Z")));
        assert!(
            !is_stale(newest, Some("2026-11-20T15:31:12Z")),
            "the same instant is not older"
        );
        assert!(!is_stale(newest, Some("2026-11-20T16:00:00+00:00")));
        assert!(!is_stale(None, Some("2026-11-20T15:30:00Z")));
        assert!(!is_stale(newest, None));
        assert!(!is_stale(newest, Some("yesterday")));
    }
}
