//! Reading WooCommerce's answers, as pure functions. Errors come as WP_Error
//! bodies, `{"code": "woocommerce_rest_...", "message": "...", "data":
//! {"status": 400}}`, whose message is the reason shown in Order Health.

use std::time::Duration;

use serde_json::Value as Json;

use super::request::Product;
use crate::delivery::connector::Answer;
use crate::ingress::woocommerce::ORDERSYNC_META;

/// What an answer says when the key is refused.
pub const AUTH_REFUSED: &str = "WooCommerce refused the REST API key";

/// The wait after a 429 that says nothing of how long.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(2);

/// The longest a throttle holds the channel.
const MAX_THROTTLE: Duration = Duration::from_secs(60);

/// A WP_Error body's message and code: `Invalid ID. (woocommerce_rest_shop_order_invalid_id)`.
pub fn wp_error(body: &[u8]) -> Option<String> {
    let doc: Json = serde_json::from_slice(body).ok()?;
    let message = doc.get("message")?.as_str()?.trim();
    if message.is_empty() {
        return None;
    }
    Some(match doc.get("code").and_then(Json::as_str) {
        Some(code) if !code.is_empty() => format!("{message} ({code})"),
        _ => message.to_string(),
    })
}

fn short(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn why(status: u16, body: &[u8]) -> String {
    match wp_error(body) {
        Some(e) => format!("WooCommerce answered {status}: {e}"),
        None if body.iter().all(u8::is_ascii_whitespace) => {
            format!("WooCommerce answered {status}")
        }
        None => format!(
            "WooCommerce answered {status}: {}",
            short(&String::from_utf8_lossy(body))
        ),
    }
}

/// Classifies one answer of the REST API.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    match status {
        401 | 403 => {
            return Answer::AuthRefused(match wp_error(body) {
                Some(e) => format!("{AUTH_REFUSED}: {e}"),
                None => AUTH_REFUSED.to_string(),
            });
        }
        429 => {
            return Answer::Throttled(retry_after.unwrap_or(DEFAULT_THROTTLE).min(MAX_THROTTLE));
        }
        408 | 500..=599 => return Answer::Retry(why(status, body)),
        200..=299 => {}
        _ => return Answer::Rejected(why(status, body)),
    }
    match serde_json::from_slice::<Json>(body) {
        Ok(d) => Answer::Data(d),
        Err(_) => Answer::Retry(format!(
            "WooCommerce's answer is not JSON: {}",
            short(&String::from_utf8_lossy(body))
        )),
    }
}

fn whole(v: &Json) -> Option<i64> {
    v.as_i64().filter(|n| *n > 0)
}

/// The product of `GET /products?sku=` whose SKU is exactly `sku`; `None`
/// when there is none. A variation is named with its parent.
pub fn product(data: &Json, sku: &str) -> Result<Option<Product>, String> {
    let items = data
        .as_array()
        .ok_or_else(|| "WooCommerce's product list is not a JSON array".to_string())?;
    for p in items {
        if p.get("sku").and_then(Json::as_str) != Some(sku) {
            continue;
        }
        let id = p
            .get("id")
            .and_then(whole)
            .ok_or_else(|| format!("WooCommerce's product for SKU `{sku}` has no whole `id`"))?;
        let parent = p.get("parent_id").and_then(whole);
        let variation = p.get("type").and_then(Json::as_str) == Some("variation");
        return Ok(Some(match (variation, parent) {
            (true, Some(parent)) => Product {
                product_id: parent,
                variation_id: Some(id),
            },
            (true, None) => {
                return Err(format!(
                    "WooCommerce's variation for SKU `{sku}` has no `parent_id`"
                ));
            }
            _ => Product {
                product_id: id,
                variation_id: None,
            },
        }));
    }
    Ok(None)
}

/// The new order's `id` in a `POST /orders` answer: the link.
pub fn order_id(data: &Json) -> Result<String, String> {
    data.get("id")
        .and_then(whole)
        .map(|n| n.to_string())
        .ok_or_else(|| "WooCommerce's answer has no whole order `id`".to_string())
}

/// One page of an order listing.
pub fn orders(data: &Json) -> Result<&[Json], String> {
    data.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| "WooCommerce's order list is not a JSON array".to_string())
}

/// The order ordersync made for `ordersync_id` in a page of orders, if any.
pub fn ours(page: &[Json], ordersync_id: &str) -> Option<String> {
    page.iter().find_map(|o| {
        let mine = o.get("meta_data")?.as_array()?.iter().any(|m| {
            m.get("key").and_then(Json::as_str) == Some(ORDERSYNC_META)
                && m.get("value").and_then(Json::as_str) == Some(ordersync_id)
        });
        if mine {
            o.get("id").and_then(whole).map(|n| n.to_string())
        } else {
            None
        }
    })
}

/// An order's `status` (`GET`/`PUT /orders/{id}`).
pub fn status(data: &Json) -> Result<&str, String> {
    data.get("status")
        .and_then(Json::as_str)
        .ok_or_else(|| "WooCommerce's order has no `status`".to_string())
}

/// The texts of an order's notes (`GET /orders/{id}/notes`).
pub fn note_texts(data: &Json) -> Result<Vec<&str>, String> {
    let items = data
        .as_array()
        .ok_or_else(|| "WooCommerce's note list is not a JSON array".to_string())?;
    Ok(items
        .iter()
        .filter_map(|n| n.get("note").and_then(Json::as_str))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wp_errors_are_reasons() {
        let body = br#"{"code":"woocommerce_rest_invalid_product_id","message":"Product ID provided is invalid.","data":{"status":400}}"#;
        assert_eq!(
            classify(400, None, body),
            Answer::Rejected(
                "WooCommerce answered 400: Product ID provided is invalid. (woocommerce_rest_invalid_product_id)"
                    .to_string()
            )
        );
        let auth = br#"{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":401}}"#;
        assert_eq!(
            classify(401, None, auth),
            Answer::AuthRefused(
                "WooCommerce refused the REST API key: Sorry, you cannot list resources. (woocommerce_rest_cannot_view)"
                    .to_string()
            )
        );
        assert!(
            matches!(classify(503, None, b"<html>busy</html>"), Answer::Retry(r) if r == "WooCommerce answered 503: <html>busy</html>")
        );
        assert_eq!(
            classify(429, Some(Duration::from_secs(5)), b""),
            Answer::Throttled(Duration::from_secs(5))
        );
        assert!(
            matches!(classify(200, None, b"<html>"), Answer::Retry(r) if r.starts_with("WooCommerce's answer is not JSON"))
        );
        assert_eq!(
            classify(201, None, b"{\"id\":5}"),
            Answer::Data(json!({"id": 5}))
        );
    }

    #[test]
    fn products_match_the_sku_exactly() {
        let page = json!([
            {"id": 10, "sku": "MUG-10", "type": "simple", "parent_id": 0},
            {"id": 23, "sku": "MUG-1", "type": "variation", "parent_id": 22}
        ]);
        assert_eq!(
            product(&page, "MUG-1").unwrap(),
            Some(Product {
                product_id: 22,
                variation_id: Some(23)
            })
        );
        assert_eq!(product(&page, "MUG").unwrap(), None);
        assert!(product(&json!({"id": 1}), "MUG").is_err());
        assert!(product(&json!([{"sku": "MUG", "id": "x"}]), "MUG").is_err());
    }

    #[test]
    fn finds_its_own_order_by_meta() {
        let page = json!([
            {"id": 1, "meta_data": [{"key": "_ordersync_id", "value": "ord_1"}]},
            {"id": 2, "meta_data": [{"key": "_ordersync_id", "value": "ord_2"}]}
        ]);
        assert_eq!(ours(orders(&page).unwrap(), "ord_2"), Some("2".to_string()));
        assert_eq!(ours(orders(&page).unwrap(), "ord_3"), None);
        assert!(orders(&json!({})).is_err());
        assert_eq!(order_id(&json!({"id": 727})).unwrap(), "727");
        assert!(order_id(&json!({"id": "727"})).is_err());
    }
}
