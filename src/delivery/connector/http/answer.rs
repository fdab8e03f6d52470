//! Reading a template request's answer with its `answer:` block, as a pure
//! function: the status first, then the body (`rejected_if`, `id`).

use std::time::Duration;

use crate::delivery::connector::Answer;
use crate::rules::HttpAnswer;
use crate::value::Value;

/// Answer text kept in a reason, at most.
const REASON_CHARS: usize = 500;

/// The longest a `Retry-After` on a 429 holds the channel.
const MAX_THROTTLE: Duration = Duration::from_secs(300);

/// Classifies one answer. A 2xx is `Data` with `{"linked": id or null}`.
pub fn classify(a: &HttpAnswer, status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    let text = || short(&String::from_utf8_lossy(body));
    match status {
        200..=299 => {}
        429 => {
            return match retry_after {
                // The destination said how long: the whole channel waits.
                Some(wait) => Answer::Throttled(wait.min(MAX_THROTTLE)),
                None => Answer::Retry(format!("HTTP 429: {}", text())),
            };
        }
        408 | 500..=599 => return Answer::Retry(format!("HTTP {status}: {}", text())),
        s if a.retry_if_status.contains(&s) => {
            return Answer::Retry(format!("HTTP {status} (retry_if_status): {}", text()));
        }
        _ => return Answer::Rejected(format!("HTTP {status}: {}", text())),
    }
    // Read with our exact parser: an id like 820982911946154508 keeps every digit.
    let doc = Value::from_json_slice(body).ok();
    if let Some(p) = &a.rejected_if
        && let Some(v) = doc
            .as_ref()
            .and_then(|d| crate::engine::testing::pointer_in(d, p))
        && !v.is_empty()
    {
        return Answer::Rejected(short(&as_text(v)));
    }
    let linked =
        a.id.as_ref()
            .and_then(|p| {
                doc.as_ref()
                    .and_then(|d| crate::engine::testing::pointer_in(d, p))
            })
            .filter(|v| matches!(v, Value::Text(_) | Value::Number(_)))
            .map(as_text)
            .filter(|t| !t.is_empty());
    Answer::Data(serde_json::json!({ "linked": linked }))
}

/// Text as it is; anything else as its JSON.
fn as_text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.as_str().to_string(),
        other => other.to_json(),
    }
}

fn short(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(REASON_CHARS) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> HttpAnswer {
        HttpAnswer {
            id: Some("/data/id".into()),
            rejected_if: Some("/errors/0".into()),
            retry_if_status: vec![409],
        }
    }

    #[test]
    fn answers() {
        let a = answer();
        assert_eq!(
            classify(&a, 201, None, br#"{"data": {"id": 820982911946154508}}"#),
            Answer::Data(serde_json::json!({"linked": "820982911946154508"}))
        );
        assert_eq!(
            classify(&a, 200, None, br#"{"data": {"id": "S-1"}, "errors": []}"#),
            Answer::Data(serde_json::json!({"linked": "S-1"}))
        );
        assert_eq!(
            classify(
                &a,
                200,
                None,
                br#"{"errors": ["SKU DS-9 is discontinued"]}"#
            ),
            Answer::Rejected("SKU DS-9 is discontinued".into())
        );
        assert_eq!(
            classify(&a, 200, None, br#"{"errors": [{"code": 7}]}"#),
            Answer::Rejected(r#"{"code":7}"#.into())
        );
        for empty in [
            r#"{"errors": [null]}"#,
            r#"{"errors": [""]}"#,
            r#"{"errors": [[]]}"#,
            r#"{"errors": [{}]}"#,
            "not json",
        ] {
            assert_eq!(
                classify(&a, 200, None, empty.as_bytes()),
                Answer::Data(serde_json::json!({"linked": null})),
                "{empty}"
            );
        }
        assert!(
            matches!(classify(&a, 409, None, b"busy"), Answer::Retry(r) if r == "HTTP 409 (retry_if_status): busy")
        );
        assert!(matches!(classify(&a, 503, None, b""), Answer::Retry(_)));
        assert!(matches!(classify(&a, 408, None, b""), Answer::Retry(_)));
        assert_eq!(
            classify(&a, 429, Some(Duration::from_secs(3)), b""),
            Answer::Throttled(Duration::from_secs(3))
        );
        assert_eq!(
            classify(&a, 422, None, b"SKU ABC-1 not found"),
            Answer::Rejected("HTTP 422: SKU ABC-1 not found".into())
        );
        assert!(matches!(
            classify(&HttpAnswer::default(), 409, None, b""),
            Answer::Rejected(_)
        ));
    }
}
