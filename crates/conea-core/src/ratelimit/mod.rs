//! Rate limiting: the GCRA arithmetic (pure, shared by every backend), policies and their
//! sources, the limiter trait, and the in-process limiter.
//!
//! GCRA keeps one number per bucket, the theoretical arrival time (TAT). With a limit of L
//! requests per window W and a burst of B, each request costs T = W/L and the bucket holds
//! B·T: a request at `now` is allowed when `max(TAT, now) + T - now <= B·T`, and then TAT
//! becomes `max(TAT, now) + T`. There are no window edges, so no double bursts; a client
//! that waits the computed `Retry-After` is allowed.

pub mod memory;
pub mod service;

use crate::clock::EpochMs;
use async_trait::async_trait;

pub const WINDOW_MS: i64 = 60_000;

/// Where the policy of a principal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    Default,
    Organization,
    ApiKey,
    ClientAddress,
}

impl PolicySource {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::Default => "default",
            PolicySource::Organization => "organization",
            PolicySource::ApiKey => "api_key",
            PolicySource::ClientAddress => "client_address",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests per window.
    pub limit: u32,
    /// Requests that may be sent at once from a full bucket.
    pub burst: u32,
    pub window_ms: i64,
    pub source: PolicySource,
}

impl Policy {
    pub fn per_minute(limit: u32, burst: u32, source: PolicySource) -> Self {
        Policy {
            limit: limit.max(1),
            burst: burst.max(1),
            window_ms: WINDOW_MS,
            source,
        }
    }

    /// Cost of one request in microseconds of bucket time (T).
    pub fn emission_us(&self) -> i64 {
        (self.window_ms * 1000 / i64::from(self.limit)).max(1)
    }

    /// Bucket capacity in microseconds (B·T).
    pub fn capacity_us(&self) -> i64 {
        self.emission_us() * i64::from(self.burst)
    }
}

/// The outcome of one decision, with everything the headers need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub burst: u32,
    pub remaining: u32,
    /// Epoch ms at which the bucket is full again.
    pub reset_at_ms: EpochMs,
    /// When refused: ms until a request would be allowed.
    pub retry_after_ms: i64,
    pub window_ms: i64,
    pub source: PolicySource,
    /// Epoch ms at which it was decided: what the headers' relative times count from.
    pub decided_at_ms: EpochMs,
}

impl Decision {
    /// Whole seconds from the decision until the bucket is full again (for `RateLimit: t=`).
    pub fn reset_in_s(&self) -> i64 {
        ((self.reset_at_ms - self.decided_at_ms).max(0) + 999) / 1000
    }

    /// Unix seconds when the bucket is full again (for `X-RateLimit-Reset`).
    pub fn reset_epoch_s(&self) -> i64 {
        (self.reset_at_ms + 999).div_euclid(1000)
    }

    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_s(&self) -> u64 {
        (((self.retry_after_ms.max(0)) + 999) / 1000).max(1) as u64
    }
}

/// One GCRA step in integer microseconds (so Redis's Lua computes exactly the same).
/// `stored_tat` is the bucket's TAT (None for a fresh bucket); returns the decision and,
/// when the request consumed quota, the TAT to store.
pub fn gcra(
    stored_tat: Option<i64>,
    now: EpochMs,
    policy: &Policy,
    consume: bool,
) -> (Decision, Option<i64>) {
    let now_us = now * 1000;
    let t = policy.emission_us();
    let cap = policy.capacity_us();
    let tat = stored_tat.unwrap_or(now_us).max(now_us);
    let new_tat = tat + t;
    let allowed = new_tat - now_us <= cap;
    let after = if allowed && consume { new_tat } else { tat };
    let remaining = ((cap - (after - now_us)) / t).clamp(0, i64::from(policy.burst)) as u32;
    let ceil_ms = |us: i64| (us + 999).div_euclid(1000);
    let decision = Decision {
        allowed,
        limit: policy.limit,
        burst: policy.burst,
        remaining,
        reset_at_ms: ceil_ms(after),
        retry_after_ms: if allowed {
            0
        } else {
            ceil_ms(new_tat - cap - now_us)
        },
        window_ms: policy.window_ms,
        source: policy.source,
        decided_at_ms: now,
    };
    (decision, (allowed && consume).then_some(new_tat))
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("rate limiter backend unavailable: {0}")]
pub struct LimiterUnavailable(pub String);

/// Where a limiter keeps its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimiterBackend {
    /// This process's memory ([`memory::MemoryLimiter`]): one count per replica.
    Memory,
    /// Redis: one count shared by every replica.
    Redis,
}

impl LimiterBackend {
    /// The name in reports and in the `backend` label of the rate-limit metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            LimiterBackend::Memory => "memory",
            LimiterBackend::Redis => "redis",
        }
    }
}

/// A place where buckets live: the process (memory) or Redis.
#[async_trait]
pub trait Limiter: Send + Sync + 'static {
    fn backend(&self) -> LimiterBackend;
    async fn decide(
        &self,
        bucket: &str,
        policy: &Policy,
        now: EpochMs,
        consume: bool,
    ) -> Result<Decision, LimiterUnavailable>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(policy: &Policy, times: &[EpochMs]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|now| {
                let (d, new) = gcra(tat, *now, policy, true);
                if new.is_some() {
                    tat = new;
                }
                d.allowed
            })
            .collect()
    }

    #[test]
    fn full_bucket_allows_exactly_the_burst_at_once() {
        let p = Policy::per_minute(10, 10, PolicySource::Default);
        let allowed = run(&p, &[0; 12]);
        assert_eq!(allowed.iter().filter(|a| **a).count(), 10);
        assert!(!allowed[10] && !allowed[11]);
    }

    #[test]
    fn refused_request_names_retry_after_and_waiting_that_long_succeeds() {
        let p = Policy::per_minute(10, 2, PolicySource::Default); // one every 6 s
        let (_, tat) = gcra(None, 0, &p, true);
        let (_, tat) = gcra(tat, 0, &p, true);
        let (d, none) = gcra(tat, 1_000, &p, true);
        assert!(!d.allowed && none.is_none());
        assert_eq!(d.retry_after_ms, 5_000);
        assert_eq!(d.retry_after_s(), 5);
        assert_eq!(d.remaining, 0);
        let (d, _) = gcra(tat, 1_000 + 5_000, &p, true);
        assert!(d.allowed);
        let (d, _) = gcra(tat, 1_000 + 4_999, &p, true);
        assert!(!d.allowed, "one millisecond early is still refused");
    }

    #[test]
    fn no_double_burst_at_window_edges() {
        // 10 per minute: after a full burst at t=0, the minute boundary brings no new burst.
        let p = Policy::per_minute(10, 10, PolicySource::Default);
        let mut times = vec![0; 10];
        times.extend(vec![60_001; 10]);
        let allowed = run(&p, &times);
        assert_eq!(
            allowed.iter().filter(|a| **a).count(),
            20,
            "refilled by exactly 10 over 60 s"
        );
        let mut times = vec![0; 10];
        times.extend(vec![59_000; 10]);
        assert_eq!(run(&p, &times).iter().filter(|a| **a).count(), 19);
    }

    #[test]
    fn peeking_does_not_consume_and_reports_remaining_and_reset() {
        let p = Policy::per_minute(60, 60, PolicySource::Default); // one per second
        let (d, tat) = gcra(None, 10_000, &p, true);
        assert_eq!(d.remaining, 59);
        assert_eq!(d.reset_at_ms, 11_000);
        let (peek, none) = gcra(tat, 10_000, &p, false);
        assert!(none.is_none());
        assert_eq!((peek.remaining, peek.reset_at_ms), (59, 11_000));
        assert_eq!(peek.reset_in_s(), 1);
    }
}
