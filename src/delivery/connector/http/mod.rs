//! Request templates (SPEC 12.2, `kind: http`): one request per event,
//! rendered once from the delivery's envelope and stored, then sent as stored
//! on every attempt.
//!
//! `request` renders (pure) and turns a stored request into one to send,
//! putting the secrets in; `answer` reads the answer with the request's
//! `answer:` block (pure); this file sends it.

pub mod answer;
pub mod request;

use crate::delivery::connector::{Request, Sent, Session, Verdict, recorded};
use crate::rules::template::Rendered;
use crate::rules::{HttpAnswer, HttpConnector};

/// What Order Health calls the request.
pub const STEP: &str = "request";

/// Sends a stored request once and reads its answer.
pub async fn deliver(
    s: &mut Session<'_>,
    h: &HttpConnector,
    stored: &Rendered,
    answer: &HttpAnswer,
) -> Verdict {
    let sending = match request::to_send(stored, &|inner| h.secret(inner)) {
        Ok(r) => r,
        Err(why) => return Verdict::Rejected(why),
    };
    // What is kept is the stored request (markers, never secrets), with the
    // secret headers masked as for every connector.
    let kept = request::unexpanded(stored).map(|r: Request| recorded(&r));
    let sent = s
        .send(&sending, |status, retry_after, body| {
            answer::classify(answer, status, retry_after, body)
        })
        .await;
    if let (Some(last), Ok(kept)) = (s.steps.last_mut(), kept) {
        last.request = kept;
    }
    match sent {
        Sent::Data(d) => Verdict::Delivered {
            linked: d.get("linked").and_then(|v| v.as_str()).map(str::to_string),
        },
        Sent::Stop(v) => v,
        // The request was stored before it was sent, so the retry sends the
        // same bytes; the destination's `Idempotency-Key` header (if the
        // template sends one) is what makes that safe.
        Sent::Unknown(why) => Verdict::Retry {
            reason: why,
            after: None,
        },
    }
}
