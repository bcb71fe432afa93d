//! The in-process limiter (embedded default, and the fallback when Redis is down).
//!
//! A bucket is its TAT in microseconds, in a sharded map (`DashMap`): a decision locks one
//! shard, runs [`gcra`] and stores the new TAT, so racing requests on one bucket are exact.
//! A bucket whose TAT has passed is full, and a full bucket is the same as no bucket; so
//! sweeping those away never changes a decision. Memory stays bounded whatever the number
//! of distinct keys and addresses: a sweep runs at most every [`SWEEP_EVERY_MS`] when new
//! buckets are made (and on every `len()`, which `/metrics` calls), and when the map holds
//! `max_buckets` it first sweeps, then drops arbitrary buckets until a tenth is free (only
//! under a flood of distinct keys, where a dropped bucket starts full again).
//!
//! This replaced a moka cache with per-read expiry: a cache read and its bookkeeping cost
//! about 1,400 instructions per request, a shard lock and a lookup under 300.

use super::{gcra, Decision, Limiter, LimiterBackend, LimiterUnavailable, Policy};
use crate::clock::EpochMs;
use async_trait::async_trait;
use dashmap::DashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Least time between two sweeps made by new buckets.
pub const SWEEP_EVERY_MS: i64 = 10_000;

pub struct MemoryLimiter {
    /// Bucket → TAT in microseconds. Hashed with foldhash (randomly seeded per map): SipHash
    /// of a bucket name was half of a decision's instructions.
    buckets: DashMap<Box<str>, i64, foldhash::fast::RandomState>,
    max_buckets: u64,
    held: AtomicU64,
    next_sweep_at: AtomicI64,
    /// The latest `now` a decision saw (what `len()` sweeps against).
    last_now: AtomicI64,
}

impl MemoryLimiter {
    pub fn new(max_buckets: u64) -> Self {
        Self {
            buckets: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            max_buckets: max_buckets.max(1),
            held: AtomicU64::new(0),
            next_sweep_at: AtomicI64::new(i64::MIN),
            last_now: AtomicI64::new(i64::MIN),
        }
    }

    pub fn decide_now(
        &self,
        bucket: &str,
        policy: &Policy,
        now: EpochMs,
        consume: bool,
    ) -> Decision {
        // A load and, once per millisecond, a store (not `fetch_max`, a locked instruction on
        // every decision): a racing store may keep a `now` a millisecond older, which only
        // makes `len()` sweep a millisecond earlier.
        if now > self.last_now.load(Ordering::Relaxed) {
            self.last_now.store(now, Ordering::Relaxed);
        }
        if !consume {
            let tat = self.buckets.get(bucket).map(|t| *t);
            return gcra(tat, now, policy, false).0;
        }
        if let Some(mut tat) = self.buckets.get_mut(bucket) {
            return Self::consume(&mut tat, now, policy);
        }
        self.make_room(now);
        let mut tat = self.buckets.entry(Box::from(bucket)).or_insert_with(|| {
            self.held.fetch_add(1, Ordering::Relaxed);
            i64::MIN
        });
        Self::consume(&mut tat, now, policy)
    }

    /// One consuming GCRA step on a bucket held under its shard's lock.
    fn consume(tat: &mut i64, now: EpochMs, policy: &Policy) -> Decision {
        let (decision, new_tat) = gcra(Some(*tat), now, policy, true);
        if let Some(t) = new_tat {
            *tat = t;
        }
        decision
    }

    /// Before a new bucket: sweep when it is time or the map is full; drop arbitrary
    /// buckets when a sweep did not free a tenth of the room.
    fn make_room(&self, now: EpochMs) {
        let full = self.held.load(Ordering::Relaxed) >= self.max_buckets;
        let due = now >= self.next_sweep_at.load(Ordering::Relaxed);
        if !full && !due {
            return;
        }
        self.next_sweep_at
            .store(now.saturating_add(SWEEP_EVERY_MS), Ordering::Relaxed);
        self.sweep(now);
        let keep = self.max_buckets - self.max_buckets / 10;
        if self.held.load(Ordering::Relaxed) >= self.max_buckets {
            self.buckets.retain(|_, _| {
                let kept = self.held.load(Ordering::Relaxed) < keep;
                if !kept {
                    self.held.fetch_sub(1, Ordering::Relaxed);
                }
                kept
            });
        }
    }

    /// Drops every bucket that is full again at `now`.
    fn sweep(&self, now: EpochMs) {
        let now_us = now.saturating_mul(1000);
        self.buckets.retain(|_, tat| {
            let live = *tat > now_us;
            if !live {
                self.held.fetch_sub(1, Ordering::Relaxed);
            }
            live
        });
    }

    /// Buckets that are not full (exported as a metric; sweeps the full ones first).
    pub fn len(&self) -> u64 {
        let now = self.last_now.load(Ordering::Relaxed);
        if now != i64::MIN {
            self.sweep(now);
        }
        self.held.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    fn backend(&self) -> LimiterBackend {
        LimiterBackend::Memory
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
    use std::sync::Arc;

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

    #[test]
    fn buckets_that_are_full_again_are_dropped_and_decide_as_before() {
        let m = MemoryLimiter::new(1_000);
        // 60/min: each request costs 1 s of bucket time.
        let p = Policy::per_minute(60, 2, PolicySource::Default);
        for i in 0..100 {
            m.decide_now(&format!("idle{i}"), &p, 0, true);
        }
        assert!(m.decide_now("busy", &p, 0, true).allowed);
        assert!(m.decide_now("busy", &p, 0, true).allowed);
        assert!(
            !m.decide_now("busy", &p, 0, true).allowed,
            "burst of 2 spent"
        );
        assert_eq!(m.len(), 101, "every bucket is still refilling at t=0");
        // By 30 s every bucket is full again (the longest needed 2 s); using "busy" at
        // 30 s makes it the only one held.
        m.decide_now("busy", &p, 30_000, true);
        assert_eq!(m.len(), 1, "only the bucket used at 30 s is held");
        // A dropped bucket decides exactly as a full one.
        let again = m.decide_now("idle7", &p, 30_000, true);
        assert!(again.allowed);
        assert_eq!(again.remaining, 1);
    }

    #[test]
    fn a_full_map_keeps_the_cap_by_dropping_buckets() {
        let m = MemoryLimiter::new(100);
        let p = Policy::per_minute(1, 1, PolicySource::Default);
        for i in 0..1_000 {
            assert!(m.decide_now(&format!("k{i}"), &p, 0, true).allowed);
            assert!(m.held.load(Ordering::Relaxed) <= 100);
        }
        // The newest bucket survived the drops.
        assert!(!m.decide_now("k999", &p, 0, true).allowed);
    }
}
