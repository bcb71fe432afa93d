//! The in-process limiter (embedded default, and the fallback when Redis is down). Buckets
//! live in a bounded cache: at most `max_buckets` entries, each expiring once its bucket is
//! full again (an expired bucket and a fresh one are the same), so memory stays bounded
//! whatever the number of distinct keys and addresses.

use super::{gcra, Decision, Limiter, LimiterUnavailable, Policy};
use crate::clock::EpochMs;
use async_trait::async_trait;
use moka::ops::compute::Op;
use moka::sync::Cache;
use moka::Expiry;
use std::time::{Duration, Instant};

/// (TAT in microseconds, the clock's now in milliseconds when it was written).
#[derive(Clone, Copy)]
struct Bucket {
    tat: i64,
    written_at: EpochMs,
}

struct UntilFull;

impl Expiry<String, Bucket> for UntilFull {
    fn expire_after_create(&self, _k: &String, b: &Bucket, _at: Instant) -> Option<Duration> {
        Some(until_full(b))
    }

    fn expire_after_update(
        &self,
        _k: &String,
        b: &Bucket,
        _at: Instant,
        _d: Option<Duration>,
    ) -> Option<Duration> {
        Some(until_full(b))
    }
}

fn until_full(b: &Bucket) -> Duration {
    // One extra second keeps the entry past the moment it is full.
    Duration::from_millis(((b.tat / 1000 - b.written_at).max(0) as u64) + 1_000)
}

pub struct MemoryLimiter {
    buckets: Cache<String, Bucket>,
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
        if !consume {
            let tat = self.buckets.get(bucket).map(|b| b.tat);
            return gcra(tat, now, policy, false).0;
        }
        let mut out = None;
        self.buckets
            .entry(bucket.to_owned())
            .and_compute_with(|entry| {
                let (d, new_tat) = gcra(entry.map(|e| e.into_value().tat), now, policy, true);
                out = Some(d);
                match new_tat {
                    Some(tat) => Op::Put(Bucket {
                        tat,
                        written_at: now,
                    }),
                    None => Op::Nop,
                }
            });
        out.unwrap_or_else(|| gcra(None, now, policy, false).0)
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
