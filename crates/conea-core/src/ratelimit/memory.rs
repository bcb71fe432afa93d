//! The in-process limiter (embedded default, and the fallback when Redis is down). Buckets
//! live in a bounded cache: at most `max_buckets` entries, each expiring once its bucket is
//! full again (an expired bucket and a fresh one are the same), so memory stays bounded
//! whatever the number of distinct keys and addresses.
//!
//! A bucket is one atomic TAT updated by compare-and-swap, so a decision is a cache read and
//! a CAS: moka's `entry().and_compute_with()` (its write path, under a per-key lock) cost 12 %
//! of a request's CPU on `GET /v1/auth/verify`. The entry's expiry is moved on every read
//! (`expire_after_read`), from the bucket's TAT as that read sees it. The read comes just
//! before the request's own CAS (no await between them), so each of the requests racing on
//! one bucket may add one emission interval the read did not see: the expiry adds
//! `IN_FLIGHT_MARGIN` intervals, more than there are threads deciding at once, so a
//! bucket never expires before it is full.

use super::{gcra, Decision, Limiter, LimiterUnavailable, Policy};
use crate::clock::EpochMs;
use async_trait::async_trait;
use moka::sync::Cache;
use moka::Expiry;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// No request consumed yet.
const FRESH: i64 = i64::MIN;
/// Emission intervals added to an expiry for requests racing past the read that set it.
const IN_FLIGHT_MARGIN: i64 = 64;

struct Bucket {
    /// Theoretical arrival time in microseconds, or `FRESH`.
    tat: AtomicI64,
    /// The clock's now in milliseconds when `tat` was last written.
    written_at: AtomicI64,
    /// The largest emission interval (µs) of the policies that used the bucket.
    emission_us: AtomicI64,
}

impl Bucket {
    /// How long until the bucket is full again, with the in-flight margin, plus one second.
    fn until_full(&self) -> Duration {
        let tat = self.tat.load(Ordering::Acquire);
        let written = self.written_at.load(Ordering::Relaxed);
        let left_ms = if tat == FRESH {
            0
        } else {
            (tat / 1000 - written).max(0)
        };
        let margin_ms = self.emission_us.load(Ordering::Relaxed) * IN_FLIGHT_MARGIN / 1000;
        Duration::from_millis((left_ms + margin_ms + 1_000) as u64)
    }
}

struct UntilFull;

impl Expiry<String, Arc<Bucket>> for UntilFull {
    fn expire_after_create(&self, _k: &String, b: &Arc<Bucket>, _at: Instant) -> Option<Duration> {
        Some(b.until_full())
    }

    fn expire_after_read(
        &self,
        _k: &String,
        b: &Arc<Bucket>,
        _at: Instant,
        _d: Option<Duration>,
        _last_modified: Instant,
    ) -> Option<Duration> {
        Some(b.until_full())
    }
}

pub struct MemoryLimiter {
    buckets: Cache<String, Arc<Bucket>>,
}

impl MemoryLimiter {
    pub fn new(max_buckets: u64) -> Self {
        Self {
            buckets: Cache::builder()
                .max_capacity(max_buckets)
                .expire_after(UntilFull)
                .build(),
        }
    }

    pub fn decide_now(
        &self,
        bucket: &str,
        policy: &Policy,
        now: EpochMs,
        consume: bool,
    ) -> Decision {
        let found = self.buckets.get(bucket);
        if !consume {
            let tat = found
                .map(|b| b.tat.load(Ordering::Acquire))
                .filter(|t| *t != FRESH);
            return gcra(tat, now, policy, false).0;
        }
        let b = found.unwrap_or_else(|| {
            self.buckets.get_with(bucket.to_owned(), || {
                Arc::new(Bucket {
                    tat: AtomicI64::new(FRESH),
                    written_at: AtomicI64::new(now),
                    emission_us: AtomicI64::new(policy.emission_us()),
                })
            })
        });
        let mut current = b.tat.load(Ordering::Acquire);
        loop {
            let stored = (current != FRESH).then_some(current);
            let (decision, new_tat) = gcra(stored, now, policy, true);
            let Some(new_tat) = new_tat else {
                return decision;
            };
            match b
                .tat
                .compare_exchange(current, new_tat, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    b.written_at.store(now, Ordering::Relaxed);
                    b.emission_us
                        .fetch_max(policy.emission_us(), Ordering::Relaxed);
                    return decision;
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// Buckets held now (exported as a metric).
    pub fn len(&self) -> u64 {
        self.buckets.run_pending_tasks();
        self.buckets.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn decide(
        &self,
        bucket: &str,
        policy: &Policy,
        now: EpochMs,
        consume: bool,
    ) -> Result<Decision, LimiterUnavailable> {
        Ok(self.decide_now(bucket, policy, now, consume))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::PolicySource;

    #[test]
    fn separate_buckets_are_independent() {
        let m = MemoryLimiter::new(100);
        let p = Policy::per_minute(1, 1, PolicySource::Default);
        assert!(m.decide_now("a", &p, 0, true).allowed);
        assert!(!m.decide_now("a", &p, 0, true).allowed);
        assert!(m.decide_now("b", &p, 0, true).allowed);
    }

    #[test]
    fn concurrent_requests_on_one_bucket_never_exceed_its_burst() {
        let m = Arc::new(MemoryLimiter::new(100));
        let p = Policy::per_minute(1_000, 1_000, PolicySource::Default);
        let allowed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (m, p) = (m.clone(), p);
                    s.spawn(move || {
                        (0..500)
                            .filter(|_| m.decide_now("shared", &p, 0, true).allowed)
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(
            allowed, 1_000,
            "exactly the burst, with 4,000 racing requests"
        );
        assert!(!m.decide_now("shared", &p, 0, false).allowed);
    }

    #[test]
    fn a_peek_neither_consumes_nor_creates_a_bucket() {
        let m = MemoryLimiter::new(100);
        let p = Policy::per_minute(2, 2, PolicySource::Default);
        assert_eq!(m.decide_now("a", &p, 0, false).remaining, 2);
        assert!(m.is_empty());
        m.decide_now("a", &p, 0, true);
        assert_eq!(m.decide_now("a", &p, 0, false).remaining, 1);
    }

    #[test]
    fn a_million_distinct_keys_keep_memory_bounded() {
        let m = MemoryLimiter::new(10_000);
        let p = Policy::per_minute(100, 100, PolicySource::Default);
        for i in 0..1_000_000u32 {
            m.decide_now(&format!("k{i}"), &p, 0, true);
        }
        let held = m.len();
        assert!(held <= 10_000, "held {held} buckets");
        assert!(held > 0);
    }
}
