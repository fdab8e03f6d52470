//! Reading Etsy's answers (pure): the status decides, and Etsy's error body
//! (`{"error": "..."}`) gives the reason.

use std::time::Duration;

use serde_json::Value as Json;

use crate::delivery::connector::{Answer, snippet};

/// The wait when a 429 says nothing of how long (Etsy allows 10 a second).
const DEFAULT_THROTTLE: Duration = Duration::from_secs(1);

/// Etsy's reason, in its words.
pub fn error(body: &[u8]) -> String {
    serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|d| {
            d["error"]
                .as_str()
                .or_else(|| d["error_description"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| snippet(body))
}

/// Classifies one Open API v3 answer.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    match status {
        200..=299 => match serde_json::from_slice::<Json>(body) {
            Ok(d) if d.is_object() => Answer::Data(d),
            _ => Answer::Retry(format!(
                "Etsy's answer is not a JSON object: {}",
                snippet(body)
            )),
        },
        401 => Answer::AuthRefused(format!("Etsy refused the access token: {}", error(body))),
        403 => Answer::Rejected(format!(
            "Etsy refused the request (403: {}); `x-api-key` must be `keystring:shared_secret` and the token needs `transactions_r` and `transactions_w`",
            error(body)
        )),
        429 => Answer::Throttled(
            retry_after
                .unwrap_or(DEFAULT_THROTTLE)
                .min(Duration::from_secs(60)),
        ),
        408 | 500..=599 => Answer::Retry(format!("Etsy answered {status}: {}", error(body))),
        _ => Answer::Rejected(format!("Etsy: {}", error(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(
            classify(400, None, br#"{"error":"Receipt 1 is already shipped"}"#),
            Answer::Rejected("Etsy: Receipt 1 is already shipped".into())
        );
        assert!(matches!(
            classify(401, None, br#"{"error":"invalid_token"}"#),
            Answer::AuthRefused(_)
        ));
        assert!(
            matches!(classify(403, None, b"{}"), Answer::Rejected(m) if m.contains("keystring:shared_secret"))
        );
        assert!(matches!(
            classify(502, None, b"bad gateway"),
            Answer::Retry(_)
        ));
        assert!(matches!(classify(200, None, b"[]"), Answer::Retry(_)));
    }
}
