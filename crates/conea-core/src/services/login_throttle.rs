//! Failed-login throttling per (client address, account) and per client address: after too
//! many failures in a window, further attempts from that address (for that account, or for
//! any once the address tried too many) are refused until the window passes. An account is
//! never locked as such, so failures from elsewhere do not keep its owner out. With Redis
//! configured the counters are shared by every replica ([`SharedCounters`]); without it, or
//! while Redis fails, each replica counts in memory (LRU with idle expiry, bounded whatever
//! the number of addresses and accounts; time from the injected clock).

use crate::clock::{Clock, EpochMs};
use crate::error::CoreError;
use crate::error::ErrorCode;
use async_trait::async_trait;
use moka::sync::Cache;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures one address may make for one account within the window.
pub const MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: u32 = 5;
/// Failures one address may make, over every account, within the window.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;

/// Failure counters every replica shares (Redis): each key counts from its first failure
/// and expires `window` after it.
#[async_trait]
pub trait SharedCounters: Send + Sync + 'static {
    /// Adds one to `key`; returns the count.
    async fn add(&self, key: &str, window: Duration) -> Result<u32, String>;
    /// The count of `key` and the milliseconds left in its window, if it exists.
    async fn read(&self, key: &str) -> Result<Option<(u32, u64)>, String>;
    async fn clear(&self, key: &str) -> Result<(), String>;
}

#[derive(Clone, Copy)]
struct Window {
    started: EpochMs,
    failures: u32,
}

pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    entries: Cache<String, Window>,
    shared: Option<Arc<dyn SharedCounters>>,
}

fn keys(email: &str, address: &str) -> [(String, u32); 2] {
    [
        (
            format!("p:{address}|{email}"),
            MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
        ),
        (format!("a:{address}"), MAX_FAILURES_PER_ADDRESS),
    ]
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>, capacity: u64) -> Self {
        Self {
            clock,
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(WINDOW)
                .build(),
            shared: None,
        }
    }

    /// Counts in `shared` (every replica's) instead of this replica's memory; memory
    /// still decides while `shared` fails.
    pub fn with_shared(mut self, shared: Arc<dyn SharedCounters>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Refuses the attempt when the address is over its failure budget for this account, or
    /// over all.
    pub async fn check(&self, email: &str, address: &str) -> Result<(), CoreError> {
        for (key, max) in keys(email, address) {
            if let Some((failures, left_ms)) = self.read(&key).await {
                if failures >= max && left_ms > 0 {
                    let retry_after_s = left_ms.div_ceil(1000).max(1);
                    return Err(CoreError::RateLimited {
                        code: ErrorCode::TooManyLoginAttempts,
                        message: format!("Too many failed logins. Wait {retry_after_s} seconds before trying again."),
                        retry_after_s,
                        details: json!({"retry_after": retry_after_s}),
                    });
                }
            }
        }
        Ok(())
    }

    pub async fn record_failure(&self, email: &str, address: &str) {
        for (key, _) in keys(email, address) {
            if let Some(shared) = &self.shared {
                match shared.add(&key, WINDOW).await {
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "login throttle: counting in memory (Redis failed)")
                    }
                }
            }
            self.add_in_memory(key);
        }
    }

    /// A successful login clears its address's count for the account.
    pub async fn record_success(&self, email: &str, address: &str) {
        let [(pair, _), _] = keys(email, address);
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.clear(&pair).await {
                tracing::warn!(error = %e, "login throttle: could not clear a count in Redis");
            }
        }
        self.entries.invalidate(&pair);
    }

    /// The count of `key` and the milliseconds left in its window: Redis's when it
    /// answers, else this replica's.
    async fn read(&self, key: &str) -> Option<(u32, u64)> {
        if let Some(shared) = &self.shared {
            match shared.read(key).await {
                Ok(found) => return found,
                Err(e) => {
                    tracing::warn!(error = %e, "login throttle: deciding in memory (Redis failed)")
                }
            }
        }
        let now = self.clock.now_ms();
        self.entries.get(key).and_then(|w| {
            let ends = w.started + WINDOW.as_millis() as i64;
            (now < ends).then_some((w.failures, (ends - now) as u64))
        })
    }

    fn add_in_memory(&self, key: String) {
        let now = self.clock.now_ms();
        let next = match self.entries.get(&key) {
            Some(w) if now < w.started + WINDOW.as_millis() as i64 => Window {
                started: w.started,
                failures: w.failures + 1,
            },
            _ => Window {
                started: now,
                failures: 1,
            },
        };
        self.entries.insert(key, next);
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    #[tokio::test]
    async fn failures_block_the_address_for_the_account_until_the_window_passes_not_the_account() {
        let clock = FakeClock::new(1_000_000);
        let t = LoginThrottle::new(Arc::new(clock.clone()), 100);
        for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS {
            assert!(t.check("a@x.io", "1.2.3.4").await.is_ok());
            t.record_failure("a@x.io", "1.2.3.4").await;
        }
        let err = t.check("a@x.io", "1.2.3.4").await.expect_err("blocked");
        assert_eq!(err.code(), "too_many_login_attempts");
        assert!(
            t.check("a@x.io", "9.9.9.9").await.is_ok(),
            "the owner, from elsewhere, still signs in"
        );
        assert!(
            t.check("b@x.io", "1.2.3.4").await.is_ok(),
            "other accounts are not blocked"
        );
        clock.advance(WINDOW);
        assert!(t.check("a@x.io", "1.2.3.4").await.is_ok());
    }

    #[tokio::test]
    async fn many_accounts_from_one_address_block_the_address() {
        let clock = FakeClock::new(0);
        let t = LoginThrottle::new(Arc::new(clock), 1000);
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            t.record_failure(&format!("u{i}@x.io"), "5.5.5.5").await;
        }
        assert!(t.check("new@x.io", "5.5.5.5").await.is_err());
        assert!(t.check("new@x.io", "6.6.6.6").await.is_ok());
    }
}
