//! A decided order's shipments, read for the marketplaces (pure): each
//! shipment's tracking and the lines it names, matched to the platform's own
//! line ids by the id the line carries (`line_item_id`, kept when the order
//! came from that platform) or else by SKU.

use crate::value::Value;

/// One canonical shipment.
#[derive(Clone, Debug, PartialEq)]
pub struct Shipment {
    /// `carrier`.
    pub carrier: Option<String>,
    /// `tracking_number`.
    pub number: Option<String>,
    /// `shipped_at`.
    pub shipped_at: Option<String>,
    /// The lines it names; empty: every line.
    pub lines: Vec<Line>,
}

/// A line a shipment names.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The platform's line id, when the shipment carries it.
    pub line_item_id: Option<String>,
    /// The SKU.
    pub sku: Option<String>,
    /// How many.
    pub quantity: i64,
}

/// A line of the platform's order: its id, SKU and quantity.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformLine {
    /// The platform's id for the line.
    pub id: String,
    /// Its SKU, if it has one.
    pub sku: Option<String>,
    /// Units ordered.
    pub quantity: i64,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::Text(s)) if !s.as_str().trim().is_empty() => Some(s.as_str().to_string()),
        Some(Value::Number(n)) => Some(crate::value::number_text(*n)),
        _ => None,
    }
}

/// The decided order's shipments; an order without any cannot be `shipped`.
pub fn shipments(order: &Value, platform: &str) -> Result<Vec<Shipment>, String> {
    let mut out = Vec::new();
    for (i, s) in order
        .get("shipments")
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let mut lines = Vec::new();
        for l in s.get("line_items").and_then(Value::as_list).unwrap_or(&[]) {
            let (line_item_id, sku) = (text(l, "line_item_id"), text(l, "sku"));
            if line_item_id.is_none() && sku.is_none() {
                return Err(format!(
                    "shipment {} names a line with neither `line_item_id` nor `sku`",
                    i + 1
                ));
            }
            let quantity = l
                .get("quantity")
                .and_then(|q| q.to_string().parse::<i64>().ok())
                .filter(|q| *q > 0)
                .ok_or_else(|| {
                    format!(
                        "shipment {}: a line needs a whole, positive `quantity`",
                        i + 1
                    )
                })?;
            lines.push(Line {
                line_item_id,
                sku,
                quantity,
            });
        }
        out.push(Shipment {
            carrier: text(s, "carrier"),
            number: text(s, "tracking_number"),
            shipped_at: text(s, "shipped_at"),
            lines,
        });
    }
    if out.is_empty() {
        return Err(format!(
            "a `shipped` update needs `shipments` to send to {platform}"
        ));
    }
    Ok(out)
}

/// The platform's line ids and quantities a shipment covers: by line id when
/// the shipment names one, else by SKU; a shipment naming no lines covers
/// every line in full.
pub fn plan(
    lines: &[PlatformLine],
    shipment: &Shipment,
    platform: &str,
) -> Result<Vec<(String, i64)>, String> {
    if shipment.lines.is_empty() {
        return Ok(lines.iter().map(|l| (l.id.clone(), l.quantity)).collect());
    }
    let mut out: Vec<(String, i64)> = Vec::new();
    for want in &shipment.lines {
        let found = match (&want.line_item_id, &want.sku) {
            (Some(id), _) if lines.iter().any(|l| &l.id == id) => {
                lines.iter().find(|l| &l.id == id)
            }
            (_, Some(sku)) => lines
                .iter()
                .find(|l| l.sku.as_deref() == Some(sku.as_str())),
            _ => None,
        };
        let Some(line) = found else {
            let named = want
                .sku
                .as_deref()
                .map(|s| format!("SKU `{s}`"))
                .or_else(|| want.line_item_id.as_deref().map(|i| format!("line `{i}`")))
                .unwrap_or_default();
            return Err(format!("the {platform} order has no line with {named}"));
        };
        if want.quantity > line.quantity {
            return Err(format!(
                "the shipment has {} of {platform} line `{}` but the order has {}",
                want.quantity, line.id, line.quantity
            ));
        }
        match out.iter_mut().find(|(id, _)| *id == line.id) {
            Some((_, q)) => *q += want.quantity,
            None => out.push((line.id.clone(), want.quantity)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(j: serde_json::Value) -> Value {
        Value::from_json(&j.to_string()).unwrap()
    }

    #[test]
    fn lines_match_by_id_then_sku() {
        let o = order(serde_json::json!({"shipments": [
            {"carrier": "UPS", "tracking_number": "1Z", "line_items": [{"sku": "MUG-1", "quantity": 1}, {"line_item_id": "L2", "quantity": 1}]}
        ]}));
        let s = shipments(&o, "eBay").unwrap();
        let lines = vec![
            PlatformLine {
                id: "L1".into(),
                sku: Some("MUG-1".into()),
                quantity: 2,
            },
            PlatformLine {
                id: "L2".into(),
                sku: Some("CAP".into()),
                quantity: 1,
            },
        ];
        assert_eq!(
            plan(&lines, &s[0], "eBay").unwrap(),
            vec![("L1".to_string(), 1), ("L2".to_string(), 1)]
        );
        let all = Shipment {
            lines: vec![],
            ..s[0].clone()
        };
        assert_eq!(plan(&lines, &all, "eBay").unwrap().len(), 2);
        let bad = Shipment {
            lines: vec![Line {
                line_item_id: None,
                sku: Some("NOPE".into()),
                quantity: 1,
            }],
            ..s[0].clone()
        };
        assert_eq!(
            plan(&lines, &bad, "eBay").unwrap_err(),
            "the eBay order has no line with SKU `NOPE`"
        );
        assert!(shipments(&order(serde_json::json!({})), "eBay").is_err());
    }
}
