//! Per-channel rate limits on the webhook path, so one noisy source cannot
//! fill the store's queue ahead of every other channel: a token bucket per
//! channel, refilled at `rate` a second and holding at most one second's
//! worth. A request over the limit is answered 429 with `Retry-After`
//! before its body is read; senders (Shopify included) retry those.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The buckets, one per channel seen.
pub struct Limiter {
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    /// `rate` requests a second per channel (0 turns the limit off).
    pub fn new(rate: u32) -> Limiter {
        Limiter {
            rate: f64::from(rate),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit, per second per channel; 0 when off.
    pub fn rate(&self) -> u32 {
        self.rate as u32
    }

    /// Takes a token for `channel` at `now`; false when its bucket is empty.
    pub fn admit(&self, channel: &str, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, last) = match buckets.get_mut(channel) {
            Some(b) => b,
            None => buckets
                .entry(channel.to_string())
                .or_insert((self.rate, now)),
        };
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.rate.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_channel_gets_its_rate_and_others_are_untouched() {
        let l = Limiter::new(10);
        let t0 = Instant::now();
        let admitted = (0..25).filter(|_| l.admit("noisy", t0)).count();
        assert_eq!(admitted, 10, "a second's worth at once");
        assert!(l.admit("quiet", t0), "another channel has its own bucket");
        assert!(!l.admit("noisy", t0 + Duration::from_millis(50)));
        assert!(
            l.admit("noisy", t0 + Duration::from_millis(150)),
            "refilled"
        );
        let off = Limiter::new(0);
        assert!((0..1000).all(|_| off.admit("x", t0)));
    }
}
