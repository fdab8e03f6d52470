//! Which fulfillment order lines a shipment fulfils (SPEC 12.1 `shipped`), as
//! a pure function of Shopify's fulfillment orders: lines matched by SKU and
//! quantity, never guessed. A shipment whose lines are on hold or at more than
//! one location is refused with which, because `fulfillmentCreate` takes the
//! fulfillment orders of one location at a time.

use serde_json::Value as Json;

/// One fulfillment order as the lookup returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct FulfillmentOrder {
    /// Its gid.
    pub id: String,
    /// `OPEN`, `IN_PROGRESS`, `ON_HOLD`, `SCHEDULED`, `CLOSED`, ...
    pub status: String,
    /// Where it ships from.
    pub location: String,
    /// `(line gid, sku, remaining quantity)`.
    pub lines: Vec<(String, String, i64)>,
}

/// Reads `order.fulfillmentOrders.nodes`.
pub fn fulfillment_orders(order: &Json) -> Vec<FulfillmentOrder> {
    order["fulfillmentOrders"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|fo| FulfillmentOrder {
            id: fo["id"].as_str().unwrap_or_default().to_string(),
            status: fo["status"].as_str().unwrap_or_default().to_string(),
            location: fo["assignedLocation"]["name"]
                .as_str()
                .unwrap_or("an unnamed location")
                .to_string(),
            lines: fo["lineItems"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    (
                        l["id"].as_str().unwrap_or_default().to_string(),
                        l["lineItem"]["sku"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        l["remainingQuantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect(),
        })
        .collect()
}

/// The tracking numbers of the order's fulfillments so far.
pub fn tracking_numbers(order: &Json) -> Vec<String> {
    order["fulfillments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| {
            let info = &f["trackingInfo"];
            let list: Vec<Json> = match info {
                Json::Array(items) => items.clone(),
                Json::Object(_) => vec![info.clone()],
                _ => Vec::new(),
            };
            list.into_iter()
                .filter_map(|t| t["number"].as_str().map(str::to_string))
        })
        .collect()
}

fn fulfillable(status: &str) -> bool {
    matches!(status, "OPEN" | "IN_PROGRESS")
}

/// What one `fulfillmentCreate` fulfils: `(fulfillment order, [(line, quantity)])`.
pub type Plan = Vec<(String, Vec<(String, i64)>)>;

/// The `(fulfillment order, [(line, quantity)])` pairs for a shipment of
/// `wanted` `(sku, quantity)` lines; all remaining lines when it names none.
pub fn plan(orders: &[FulfillmentOrder], wanted: &[(String, i64)]) -> Result<Plan, String> {
    let mut plan: Plan = Vec::new();
    let mut add = |fo: &str, line: &str, qty: i64| match plan.iter_mut().find(|(id, _)| id == fo) {
        Some((_, lines)) => lines.push((line.to_string(), qty)),
        None => plan.push((fo.to_string(), vec![(line.to_string(), qty)])),
    };
    if wanted.is_empty() {
        for fo in orders.iter().filter(|fo| fulfillable(&fo.status)) {
            for (line, _, left) in &fo.lines {
                if *left > 0 {
                    add(&fo.id, line, *left);
                }
            }
        }
        if plan.is_empty() {
            if let Some(held) = orders.iter().find(|fo| !fulfillable(&fo.status)) {
                return Err(format!(
                    "nothing left to fulfil: fulfillment order {} at {} is {}",
                    held.id,
                    held.location,
                    held.status.to_ascii_lowercase().replace('_', " ")
                ));
            }
            return Err("Shopify has nothing left to fulfil for this order".to_string());
        }
    } else {
        for (sku, qty) in wanted {
            let mut need = *qty;
            for fo in orders.iter().filter(|fo| fulfillable(&fo.status)) {
                for (line, line_sku, left) in &fo.lines {
                    if need == 0 {
                        break;
                    }
                    if line_sku.eq_ignore_ascii_case(sku) && *left > 0 {
                        let take = need.min(*left);
                        add(&fo.id, line, take);
                        need -= take;
                    }
                }
            }
            if need > 0 {
                let held: Vec<&FulfillmentOrder> = orders
                    .iter()
                    .filter(|fo| !fulfillable(&fo.status))
                    .filter(|fo| {
                        fo.lines
                            .iter()
                            .any(|(_, s, l)| s.eq_ignore_ascii_case(sku) && *l > 0)
                    })
                    .collect();
                if let Some(fo) = held.first() {
                    return Err(format!(
                        "SKU {sku}: its fulfillment order {} at {} is {}",
                        fo.id,
                        fo.location,
                        fo.status.to_ascii_lowercase().replace('_', " ")
                    ));
                }
                let open: i64 = orders
                    .iter()
                    .filter(|fo| fulfillable(&fo.status))
                    .flat_map(|fo| fo.lines.iter())
                    .filter(|(_, s, _)| s.eq_ignore_ascii_case(sku))
                    .map(|(_, _, l)| *l)
                    .sum();
                return Err(format!(
                    "SKU {sku}: the shipment has {qty}, Shopify has {open} left to fulfil"
                ));
            }
        }
    }
    let mut locations: Vec<&str> = plan
        .iter()
        .filter_map(|(id, _)| orders.iter().find(|fo| &fo.id == id))
        .map(|fo| fo.location.as_str())
        .collect();
    locations.dedup();
    locations.sort_unstable();
    locations.dedup();
    if locations.len() > 1 {
        return Err(format!(
            "the shipment's lines are at {} locations ({}); Shopify fulfils one location at a time: send a shipment per location",
            locations.len(),
            locations.join(", ")
        ));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fo(id: &str, status: &str, location: &str, lines: &[(&str, &str, i64)]) -> FulfillmentOrder {
        FulfillmentOrder {
            id: id.into(),
            status: status.into(),
            location: location.into(),
            lines: lines
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
                .collect(),
        }
    }

    #[test]
    fn lines_by_sku_and_quantity() {
        let fos = [fo(
            "fo1",
            "OPEN",
            "Berlin",
            &[("l1", "A", 2), ("l2", "B", 1)],
        )];
        assert_eq!(
            plan(&fos, &[("A".into(), 1)]).unwrap(),
            vec![("fo1".to_string(), vec![("l1".to_string(), 1)])]
        );
        assert_eq!(
            plan(&fos, &[]).unwrap(),
            vec![(
                "fo1".to_string(),
                vec![("l1".to_string(), 2), ("l2".to_string(), 1)]
            )]
        );
        assert_eq!(
            plan(&fos, &[("A".into(), 3)]).unwrap_err(),
            "SKU A: the shipment has 3, Shopify has 2 left to fulfil"
        );
    }

    #[test]
    fn on_hold_and_split_locations_are_named() {
        let held = [fo("fo1", "ON_HOLD", "Berlin", &[("l1", "A", 2)])];
        assert_eq!(
            plan(&held, &[("A".into(), 1)]).unwrap_err(),
            "SKU A: its fulfillment order fo1 at Berlin is on hold"
        );
        let split = [
            fo("fo1", "OPEN", "Berlin", &[("l1", "A", 1)]),
            fo("fo2", "OPEN", "Paris", &[("l2", "B", 1)]),
        ];
        assert_eq!(
            plan(&split, &[]).unwrap_err(),
            "the shipment's lines are at 2 locations (Berlin, Paris); Shopify fulfils one location at a time: send a shipment per location"
        );
        assert!(plan(&split, &[("B".into(), 1)]).is_ok());
    }
}
