//! Reading Shopify's answers (SPEC 12.1), as pure functions: "2xx means
//! delivered" is not true for GraphQL, so the body decides as much as the
//! status.

use std::time::Duration;

use serde_json::Value as Json;

use crate::delivery::connector::Answer;

/// What an answer says when the token is refused.
pub const AUTH_REFUSED: &str = "Shopify refused the access token";

/// The wait when a throttled answer says nothing of how long.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(1);

/// The longest a throttle holds the channel, whatever the answer computes.
const MAX_THROTTLE: Duration = Duration::from_secs(60);

/// Classifies one answer of the GraphQL endpoint.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    match status {
        401 | 403 => return Answer::AuthRefused(AUTH_REFUSED.to_string()),
        429 => {
            let wait = retry_after
                .or_else(|| {
                    serde_json::from_slice(body)
                        .ok()
                        .and_then(|d| throttle_wait(&d))
                })
                .unwrap_or(DEFAULT_THROTTLE);
            return Answer::Throttled(wait.min(MAX_THROTTLE));
        }
        500..=599 => return Answer::Retry(format!("Shopify answered {status}")),
        408 => return Answer::Retry("Shopify answered 408 (request timeout)".to_string()),
        200..=299 => {}
        _ => {
            return Answer::Rejected(format!(
                "Shopify answered {status}: {}",
                short(&String::from_utf8_lossy(body))
            ));
        }
    }
    let doc: Json = match serde_json::from_slice(body) {
        Ok(d) => d,
        Err(_) => {
            return Answer::Retry(format!(
                "Shopify's answer is not JSON: {}",
                short(&String::from_utf8_lossy(body))
            ));
        }
    };
    if let Some(errors) = doc.get("errors").filter(|e| !e.is_null()) {
        let list: Vec<&Json> = match errors {
            Json::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let code = |e: &Json| e["extensions"]["code"].as_str().map(str::to_string);
        if list.iter().any(|e| code(e).as_deref() == Some("THROTTLED")) {
            let wait = retry_after
                .or_else(|| throttle_wait(&doc))
                .unwrap_or(DEFAULT_THROTTLE);
            return Answer::Throttled(wait.min(MAX_THROTTLE));
        }
        let messages = messages(&list);
        if list
            .iter()
            .any(|e| code(e).as_deref() == Some("INTERNAL_SERVER_ERROR"))
        {
            return Answer::Retry(format!("Shopify: {messages}"));
        }
        if list
            .iter()
            .any(|e| matches!(code(e).as_deref(), Some("ACCESS_DENIED" | "UNAUTHORIZED")))
        {
            return Answer::AuthRefused(format!("{AUTH_REFUSED}: {messages}"));
        }
        return Answer::Rejected(format!("Shopify: {messages}"));
    }
    match doc.get("data") {
        Some(data) if data.is_object() => Answer::Data(data.clone()),
        _ => Answer::Retry("Shopify's answer has neither `data` nor `errors`".to_string()),
    }
}

/// `errors[].message`, joined.
fn messages(list: &[&Json]) -> String {
    let texts: Vec<String> = list
        .iter()
        .map(|e| match e.get("message").and_then(Json::as_str) {
            Some(m) => m.to_string(),
            None => match e {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect();
    if texts.is_empty() {
        "an error without a message".to_string()
    } else {
        texts.join("; ")
    }
}

/// SPEC 12.1: `(requestedQueryCost - currentlyAvailable) / restoreRate` seconds.
pub fn throttle_wait(doc: &Json) -> Option<Duration> {
    let cost = &doc["extensions"]["cost"];
    let requested = cost["requestedQueryCost"].as_f64()?;
    let available = cost["throttleStatus"]["currentlyAvailable"].as_f64()?;
    let rate = cost["throttleStatus"]["restoreRate"].as_f64()?;
    if rate.is_nan() || rate <= 0.0 {
        return None;
    }
    let secs = ((requested - available) / rate).max(0.0);
    Some(
        Duration::from_secs_f64(secs.min(MAX_THROTTLE.as_secs_f64()))
            .max(Duration::from_millis(100)),
    )
}

/// A mutation's `userErrors` (or `orderCancelUserErrors`) as one reason, or
/// `None` when it has none.
pub fn user_errors(data: &Json, root: &str, field: &str) -> Option<String> {
    let list = data[root][field].as_array()?;
    if list.is_empty() {
        return None;
    }
    let texts: Vec<String> = list
        .iter()
        .map(|e| {
            let message = e["message"]
                .as_str()
                .unwrap_or("an error without a message");
            match e["field"].as_array().filter(|f| !f.is_empty()) {
                Some(path) => {
                    let path: Vec<String> = path
                        .iter()
                        .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                        .collect();
                    format!("{message} ({})", path.join("."))
                }
                None => message.to_string(),
            }
        })
        .collect();
    Some(texts.join("; "))
}

fn short(s: &str) -> String {
    let s = s.trim();
    let cut: String = s.chars().take(200).collect();
    if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Json) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn data_is_data() {
        let a = classify(
            200,
            None,
            &body(
                json!({"data": {"orderCreate": {"order": {"id": "gid://shopify/Order/1"}, "userErrors": []}}}),
            ),
        );
        let Answer::Data(d) = a else { panic!("{a:?}") };
        assert_eq!(user_errors(&d, "orderCreate", "userErrors"), None);
    }

    #[test]
    fn user_errors_are_read_with_their_field() {
        let d = json!({"orderCreate": {"order": null, "userErrors": [
            {"field": ["order", "lineItems", "0", "sku"], "message": "SKU DS-404 not found"}]}});
        assert_eq!(
            user_errors(&d, "orderCreate", "userErrors").as_deref(),
            Some("SKU DS-404 not found (order.lineItems.0.sku)")
        );
    }

    #[test]
    fn throttled_at_200_waits_for_the_bucket() {
        let a = classify(
            200,
            None,
            &body(json!({
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": {"cost": {"requestedQueryCost": 202, "actualQueryCost": null,
                    "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 2, "restoreRate": 100.0}}}
            })),
        );
        assert_eq!(a, Answer::Throttled(Duration::from_secs(2)));
    }

    #[test]
    fn a_429_honours_retry_after() {
        assert_eq!(
            classify(429, Some(Duration::from_secs(3)), b""),
            Answer::Throttled(Duration::from_secs(3))
        );
        assert_eq!(
            classify(429, None, b"{}"),
            Answer::Throttled(DEFAULT_THROTTLE)
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(
            classify(401, None, b"{}"),
            Answer::AuthRefused(AUTH_REFUSED.into())
        );
        assert_eq!(
            classify(403, None, b""),
            Answer::AuthRefused(AUTH_REFUSED.into())
        );
        assert_eq!(
            classify(502, None, b""),
            Answer::Retry("Shopify answered 502".into())
        );
        assert_eq!(
            classify(404, None, b"Not Found"),
            Answer::Rejected("Shopify answered 404: Not Found".into())
        );
    }

    #[test]
    fn unreadable_answers_are_retried_with_why() {
        assert_eq!(
            classify(200, None, b"<html>oops</html>"),
            Answer::Retry("Shopify's answer is not JSON: <html>oops</html>".into())
        );
        assert_eq!(
            classify(200, None, b"{}"),
            Answer::Retry("Shopify's answer has neither `data` nor `errors`".into())
        );
        assert_eq!(
            classify(200, None, br#"{"data": null}"#),
            Answer::Retry("Shopify's answer has neither `data` nor `errors`".into())
        );
    }

    #[test]
    fn other_errors_are_rejected_with_their_messages() {
        let a = classify(
            200,
            None,
            &body(
                json!({"errors": [{"message": "Variable $order of type OrderCreateOrderInput! was provided invalid value for foo (Field is not defined on OrderCreateOrderInput)"}]}),
            ),
        );
        assert_eq!(
            a,
            Answer::Rejected("Shopify: Variable $order of type OrderCreateOrderInput! was provided invalid value for foo (Field is not defined on OrderCreateOrderInput)".into())
        );
        let s = classify(
            200,
            None,
            &body(json!({"errors": "[API] Invalid API key or access token"})),
        );
        assert_eq!(
            s,
            Answer::Rejected("Shopify: [API] Invalid API key or access token".into())
        );
    }
}
