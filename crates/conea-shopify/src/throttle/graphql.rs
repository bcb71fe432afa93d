//! The local model of one shop's GraphQL cost bucket (`extensions.cost.throttleStatus`).
//! Unknown until the first answer; then a query of cost `C` waits until `C` points are
//! available: `(C - available) / restoreRate` seconds.

use super::ceil_ms;
use conea_core::clock::EpochMs;
use std::time::Duration;

/// The bucket as Shopify reports it after a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct CostBucket {
    /// `(maximum, restore rate per second)` once an answer told them.
    limits: Option<(f64, f64)>,
    /// Points available at `at_ms`, booked queries deducted (may be negative).
    available: f64,
    at_ms: EpochMs,
    /// Cost of queries reserved and not yet answered.
    outstanding: f64,
    blocked_until: EpochMs,
}

/// A query that can never run: its cost exceeds the bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TooExpensive {
    pub maximum: f64,
}

impl CostBucket {
    pub(crate) fn new(now: EpochMs) -> Self {
        Self {
            limits: None,
            available: 0.0,
            at_ms: now,
            outstanding: 0.0,
            blocked_until: now,
        }
    }

    pub(crate) fn available_at(&self, now: EpochMs) -> Option<f64> {
        let (max, rate) = self.limits?;
        let elapsed_s = (now - self.at_ms).max(0) as f64 / 1000.0;
        Some((self.available + rate * elapsed_s).min(max))
    }

    /// Books a query of `cost` and returns how long to wait before sending it.
    pub(crate) fn reserve(&mut self, now: EpochMs, cost: f64) -> Result<Duration, TooExpensive> {
        let blocked_ms = u64::try_from(self.blocked_until - now).unwrap_or(0);
        let mut bucket_ms = 0;
        if let (Some((max, rate)), Some(available)) = (self.limits, self.available_at(now)) {
            if cost > max {
                return Err(TooExpensive { maximum: max });
            }
            bucket_ms = ceil_ms((cost - available) / rate);
            self.available = available - cost;
            self.at_ms = now;
        }
        self.outstanding += cost;
        Ok(Duration::from_millis(bucket_ms.max(blocked_ms)))
    }

    /// What the server said after our query of `own_cost` (booked): its bucket now, from
    /// which the cost of our other unanswered queries is still to come. A status with a
    /// non-positive restore rate is ignored (it could never be waited out).
    pub(crate) fn observe(&mut self, now: EpochMs, status: ThrottleStatus, own_cost: f64) {
        if !(status.restore_rate > 0.0 && status.maximum_available > 0.0) {
            return;
        }
        let others = (self.outstanding - own_cost).max(0.0);
        self.limits = Some((status.maximum_available, status.restore_rate));
        self.available = status.currently_available - others;
        self.at_ms = now;
    }

    pub(crate) fn block_until(&mut self, until: EpochMs) {
        self.blocked_until = self.blocked_until.max(until);
    }

    pub(crate) fn release(&mut self, cost: f64) {
        self.outstanding = (self.outstanding - cost).max(0.0);
    }

    pub(crate) fn is_idle(&self, now: EpochMs) -> bool {
        let full = match (self.limits, self.available_at(now)) {
            (Some((max, _)), Some(available)) => available >= max,
            _ => true,
        };
        full && self.outstanding == 0.0 && self.blocked_until <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(available: f64) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: 1000.0,
            currently_available: available,
            restore_rate: 50.0,
        }
    }

    #[test]
    fn unknown_bucket_never_waits() {
        let mut b = CostBucket::new(0);
        assert_eq!(b.reserve(0, 5000.0), Ok(Duration::ZERO));
    }

    #[test]
    fn a_query_waits_until_its_cost_is_restored() {
        let mut b = CostBucket::new(0);
        b.reserve(0, 1.0).ok();
        b.observe(0, status(100.0), 1.0);
        b.release(1.0);
        // (500 - 100) / 50 = 8 s.
        assert_eq!(b.reserve(0, 500.0), Ok(Duration::from_secs(8)));
        b.release(500.0);
        assert_eq!(b.reserve(0, 1001.0), Err(TooExpensive { maximum: 1000.0 }));
    }

    #[test]
    fn booked_queries_space_out_concurrent_callers() {
        let mut b = CostBucket::new(0);
        b.observe(0, status(1000.0), 0.0);
        assert_eq!(b.reserve(0, 600.0), Ok(Duration::ZERO));
        // 400 left; 600 more needs 200 restored: 4 s.
        assert_eq!(b.reserve(0, 600.0), Ok(Duration::from_secs(4)));
    }
}
