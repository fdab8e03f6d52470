//! When to try a delivery again (SPEC 6.3): a pure function of the policy, the
//! attempts so far, the destination's `Retry-After` and a jitter sample, so the
//! schedule is tested without a clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::rules::Retry;

/// What a destination's answer means for the delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// 2xx: delivered.
    Delivered,
    /// 408, 429, 5xx (and timeouts, connection errors): try again later.
    Retry,
    /// Any other status: rejected at once, the response kept for Order Health.
    Reject,
}

/// Classifies an HTTP status.
pub fn classify(status: u16) -> Disposition {
    match status {
        200..=299 => Disposition::Delivered,
        408 | 429 | 500..=599 => Disposition::Retry,
        _ => Disposition::Reject,
    }
}

/// The longest wait a `Retry-After` can ask for; a longer one is capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The wait before the next attempt after `failed` failed attempts (1 after the
/// first), or `None` when the policy's attempts are used up (the delivery is
/// `dead`). Exponential from `first`, capped at `max`, with "equal jitter"
/// (half the step fixed, half scaled by `jitter` in `0..=1`) so that many
/// deliveries failing together do not retry together; never sooner than the
/// destination's `Retry-After`.
pub fn next_delay(
    policy: &Retry,
    failed: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    if failed == 0 || failed >= policy.attempts {
        return None;
    }
    let step = policy.first.as_secs_f64() * 2f64.powi(failed.saturating_sub(1).min(62) as i32);
    let step = step.min(policy.max.as_secs_f64());
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let wait = Duration::from_secs_f64(step * (0.5 + 0.5 * jitter));
    Some(match retry_after {
        Some(asked) => wait.max(asked.min(MAX_RETRY_AFTER)),
        None => wait,
    })
}

/// Reads a `Retry-After` header: seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Retry {
        Retry {
            attempts: 12,
            first: Duration::from_secs(2),
            max: Duration::from_secs(1800),
        }
    }

    #[test]
    fn statuses_are_classified_as_the_spec_says() {
        assert_eq!(classify(200), Disposition::Delivered);
        assert_eq!(classify(204), Disposition::Delivered);
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify(s), Disposition::Retry, "{s}");
        }
        for s in [301, 400, 401, 404, 409, 422] {
            assert_eq!(classify(s), Disposition::Reject, "{s}");
        }
    }

    #[test]
    fn backs_off_exponentially_within_its_bounds() {
        let p = policy();
        let waits: Vec<u64> = (1..12)
            .map(|n| next_delay(&p, n, None, 1.0).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800]);
        assert_eq!(next_delay(&p, 1, None, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(
            next_delay(&p, 12, None, 0.5),
            None,
            "12 attempts in all, then dead"
        );
        assert_eq!(next_delay(&p, 40, None, f64::NAN), None);
        for n in 1..12 {
            let lo = next_delay(&p, n, None, 0.0).unwrap();
            let hi = next_delay(&p, n, None, 1.0).unwrap();
            assert!(lo * 2 == hi, "jitter spans half the step");
        }
    }

    #[test]
    fn honours_retry_after() {
        let p = policy();
        let asked = Some(Duration::from_secs(120));
        assert_eq!(
            next_delay(&p, 1, asked, 0.3),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            next_delay(&p, 11, asked, 1.0),
            Some(Duration::from_secs(1800))
        );
        let huge = Some(Duration::from_secs(10 * 24 * 3600));
        assert_eq!(next_delay(&p, 1, huge, 0.0), Some(MAX_RETRY_AFTER));
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 12:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
