//! The local model of one shop's REST leaky bucket (`X-Shopify-Shop-Api-Call-Limit`).
//!
//! The level is booked when a request is reserved, even when it will be sent after a wait:
//! the model's level at any later time `t` is then the server's level at `t` once every
//! booked request has landed, so concurrent tasks are spaced one leak step apart.

use super::{ceil_ms, RestLimits};
use conea_core::clock::EpochMs;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct RestBucket {
    /// Capacity, as the last header said (`used/size`).
    size: f64,
    /// Level at `at_ms`, booked requests included.
    level: f64,
    at_ms: EpochMs,
    /// Reservations not yet answered (waiting or in flight).
    outstanding: u32,
    /// No request before this time (a 429's `Retry-After`).
    blocked_until: EpochMs,
}

impl RestBucket {
    pub(crate) fn new(now: EpochMs, size: f64) -> Self {
        Self {
            size,
            level: 0.0,
            at_ms: now,
            outstanding: 0,
            blocked_until: now,
        }
    }

    pub(crate) fn level_at(&self, now: EpochMs, leak_per_s: f64) -> f64 {
        let elapsed_s = (now - self.at_ms).max(0) as f64 / 1000.0;
        (self.level - leak_per_s * elapsed_s).max(0.0)
    }

    pub(crate) fn size(&self) -> f64 {
        self.size
    }

    /// Books one request and returns how long to wait before sending it: until the bucket,
    /// with this request in it, is at most `size - margin`, and no earlier than a 429 asked.
    pub(crate) fn reserve(&mut self, now: EpochMs, limits: &RestLimits) -> Duration {
        let leak = limits.leak_per_second;
        let level = self.level_at(now, leak);
        let cap = (self.size - limits.margin).max(1.0);
        let bucket_ms = ceil_ms((level + 1.0 - cap) / leak);
        let blocked_ms = u64::try_from(self.blocked_until - now).unwrap_or(0);
        self.level = level + 1.0;
        self.at_ms = now;
        self.outstanding += 1;
        Duration::from_millis(bucket_ms.max(blocked_ms))
    }

    /// What the server said after one of our requests: `used` of `size`. The model never
    /// drops below the server's count plus our other unanswered requests (they may not be in
    /// `used` yet), so usage by other processes of the app is noticed, and the model stays
    /// cautious when answers come back out of order.
    pub(crate) fn observe(&mut self, now: EpochMs, used: f64, size: f64, leak_per_s: f64) {
        let others = f64::from(self.outstanding.saturating_sub(1));
        let level = self.level_at(now, leak_per_s);
        self.size = size;
        self.level = level.max(used + others);
        self.at_ms = now;
    }

    pub(crate) fn block_until(&mut self, until: EpochMs) {
        self.blocked_until = self.blocked_until.max(until);
    }

    pub(crate) fn release(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    /// Empty, unblocked and unused: forgetting it changes nothing.
    pub(crate) fn is_idle(&self, now: EpochMs, leak_per_s: f64) -> bool {
        self.outstanding == 0 && self.blocked_until <= now && self.level_at(now, leak_per_s) == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RestLimits {
        RestLimits::default()
    }

    #[test]
    fn requests_go_at_once_until_the_margin_then_one_leak_step_apart() {
        let mut b = RestBucket::new(0, 40.0);
        for _ in 0..36 {
            assert_eq!(b.reserve(0, &limits()), Duration::ZERO);
        }
        // 37th: the level must leak from 37 to 36 first: 0.5 s at 2/s.
        assert_eq!(b.reserve(0, &limits()), Duration::from_millis(500));
        assert_eq!(b.reserve(0, &limits()), Duration::from_millis(1_000));
    }

    #[test]
    fn a_fuller_server_raises_the_model_and_a_429_blocks() {
        let mut b = RestBucket::new(0, 40.0);
        assert_eq!(b.reserve(0, &limits()), Duration::ZERO);
        b.observe(0, 39.0, 40.0, 2.0);
        b.release();
        // 39 + 1 must leak down to 36: 2 s.
        assert_eq!(b.reserve(0, &limits()), Duration::from_millis(2_000));
        b.release();
        b.block_until(10_000);
        assert_eq!(b.reserve(5_000, &limits()), Duration::from_millis(5_000));
    }

    #[test]
    fn the_model_leaks_to_idle() {
        let mut b = RestBucket::new(0, 40.0);
        b.reserve(0, &limits());
        b.release();
        assert!(!b.is_idle(0, 2.0));
        assert!(b.is_idle(500, 2.0));
    }
}
