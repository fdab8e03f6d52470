//! A delivery's attempt into the store, written once for both stores
//! against [`Statements`]: its requests, the delivery's new status, its
//! Order Health row, and the destination's id for the order when it answered one.

use super::statements::{AttemptOutcome, NewAttempt, Statements};
use super::{Attempt, StoreError, ops::attempt_detail, stamp};

pub(super) async fn record<S: Statements>(db: &mut S, a: &Attempt) -> Result<(), StoreError> {
    let at = stamp(a.at);
    if a.steps.is_empty() {
        db.insert_attempt(&NewAttempt {
            delivery_id: a.delivery_id,
            at: &at,
            external_id: a.external_id.as_deref(),
            http_status: a.http_status,
            error: a.error.as_deref(),
            response: &a.response,
            duration_ms: a.duration.as_secs_f64() * 1000.0,
            step: None,
            request: None,
        })
        .await?;
    }
    for s in &a.steps {
        db.insert_attempt(&NewAttempt {
            delivery_id: a.delivery_id,
            at: &stamp(s.at),
            external_id: a.external_id.as_deref(),
            http_status: s.http_status,
            error: s.error.as_deref(),
            response: &s.response,
            duration_ms: s.duration.as_secs_f64() * 1000.0,
            step: Some(&s.step),
            request: Some(&s.request),
        })
        .await?;
    }
    let next_at = a.next_at.map(stamp);
    db.after_attempt(&AttemptOutcome {
        delivery_id: a.delivery_id,
        order_id: a.order_id,
        destination: &a.destination,
        status: a.status,
        next_at: next_at.as_deref(),
        http_status: a.http_status,
        error: a.error.as_deref(),
        detail: &attempt_detail(a),
        at: &at,
    })
    .await?;
    if let Some(id) = &a.linked_id {
        db.add_link_if_new(&a.destination, id, a.order_id).await?;
    }
    Ok(())
}
