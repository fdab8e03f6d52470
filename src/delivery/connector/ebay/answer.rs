//! Reading eBay's answers (pure): the status decides, and eBay's `errors[]`
//! (`{errorId, domain, category, message, longMessage, parameters}`; the
//! Post-Order API calls the list `error`) give the reason.

use std::time::Duration;

use serde_json::Value as Json;

use crate::delivery::connector::{Answer, snippet};

/// What an answer says when the access token is refused.
pub const AUTH_REFUSED: &str = "eBay refused the access token";

/// The wait when a 429 says nothing of how long.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(10);

/// The longest a throttle holds the channel.
const MAX_THROTTLE: Duration = Duration::from_secs(300);

/// eBay's error list in words: each `longMessage` (else `message`) with its id.
pub fn errors(body: &[u8]) -> Option<String> {
    let doc: Json = serde_json::from_slice(body).ok()?;
    let list = doc["errors"]
        .as_array()
        .or_else(|| doc["error"].as_array())?;
    let words: Vec<String> = list
        .iter()
        .filter_map(|e| {
            let text = e["longMessage"]
                .as_str()
                .filter(|m| !m.trim().is_empty())
                .or_else(|| e["message"].as_str())?;
            Some(match e["errorId"].as_i64() {
                Some(id) => format!("{} (errorId {id})", text.trim()),
                None => text.trim().to_string(),
            })
        })
        .collect();
    (!words.is_empty()).then(|| words.join("; "))
}

/// Classifies one eBay REST answer.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    let why = || errors(body).unwrap_or_else(|| snippet(body));
    match status {
        200..=299 => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Answer::Data(Json::Object(Default::default()));
            }
            match serde_json::from_slice::<Json>(body) {
                Ok(d) if d.is_object() => Answer::Data(d),
                _ => Answer::Retry(format!(
                    "eBay's answer is not a JSON object: {}",
                    snippet(body)
                )),
            }
        }
        401 => Answer::AuthRefused(format!("{AUTH_REFUSED}: {}", why())),
        429 => Answer::Throttled(retry_after.unwrap_or(DEFAULT_THROTTLE).min(MAX_THROTTLE)),
        408 | 500..=599 => Answer::Retry(format!("eBay answered {status}: {}", why())),
        _ => Answer::Rejected(format!("eBay: {}", why())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_give_the_reason() {
        let body = br#"{"errors":[{"errorId":32100,"domain":"API_FULFILLMENT","category":"REQUEST","message":"Invalid order ID.","longMessage":"Invalid order ID: 9-9","parameters":[{"name":"orderId","value":"9-9"}]}]}"#;
        assert_eq!(
            classify(404, None, body),
            Answer::Rejected("eBay: Invalid order ID: 9-9 (errorId 32100)".into())
        );
        assert!(
            matches!(classify(500, None, body), Answer::Retry(m) if m.contains("Invalid order ID"))
        );
        assert!(matches!(classify(401, None, b""), Answer::AuthRefused(_)));
        assert_eq!(
            classify(429, Some(Duration::from_secs(2)), b""),
            Answer::Throttled(Duration::from_secs(2))
        );
        assert_eq!(
            classify(201, None, b""),
            Answer::Data(serde_json::json!({}))
        );
        assert!(matches!(classify(200, None, b"<html>"), Answer::Retry(_)));
        let post_order = br#"{"error":[{"errorId":1503,"message":"The order is not eligible for cancellation"}]}"#;
        assert_eq!(
            classify(400, None, post_order),
            Answer::Rejected(
                "eBay: The order is not eligible for cancellation (errorId 1503)".into()
            )
        );
    }
}
