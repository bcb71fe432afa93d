//! Failed-login throttling per email and per client address: after too many failures in a
//! window, further attempts are refused until the window passes. Bounded in memory (LRU with
//! idle expiry) whatever the number of distinct emails and addresses; time comes from the
//! injected clock.

use crate::clock::{Clock, EpochMs};
use crate::error::CoreError;
use crate::error::ErrorCode;
use moka::sync::Cache;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_FAILURES_PER_EMAIL: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;

#[derive(Clone, Copy)]
struct Window {
    started: EpochMs,
    failures: u32,
}

pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    entries: Cache<String, Window>,
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>, capacity: u64) -> Self {
        Self {
            clock,
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(WINDOW)
                .build(),
        }
    }

    /// Refuses the attempt when the email or the address is over its failure budget.
    pub fn check(&self, email: &str, address: &str) -> Result<(), CoreError> {
        let now = self.clock.now_ms();
        for (key, max) in [
            (format!("e:{email}"), MAX_FAILURES_PER_EMAIL),
            (format!("a:{address}"), MAX_FAILURES_PER_ADDRESS),
        ] {
            if let Some(w) = self.entries.get(&key) {
                let ends = w.started + WINDOW.as_millis() as i64;
                if w.failures >= max && now < ends {
                    let retry_after_s = ((ends - now) as u64).div_ceil(1000).max(1);
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

    pub fn record_failure(&self, email: &str, address: &str) {
        let now = self.clock.now_ms();
        for key in [format!("e:{email}"), format!("a:{address}")] {
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
    }

    pub fn record_success(&self, email: &str) {
        self.entries.invalidate(&format!("e:{email}"));
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

    #[test]
    fn fifth_failure_blocks_email_until_window_passes() {
        let clock = FakeClock::new(1_000_000);
        let t = LoginThrottle::new(Arc::new(clock.clone()), 100);
        for _ in 0..MAX_FAILURES_PER_EMAIL {
            assert!(t.check("a@x.io", "1.2.3.4").is_ok());
            t.record_failure("a@x.io", "1.2.3.4");
        }
        let err = t.check("a@x.io", "9.9.9.9").expect_err("blocked");
        assert_eq!(err.code(), "too_many_login_attempts");
        assert!(
            t.check("b@x.io", "9.9.9.9").is_ok(),
            "other emails are not blocked"
        );
        clock.advance(WINDOW);
        assert!(t.check("a@x.io", "1.2.3.4").is_ok());
    }

    #[test]
    fn many_emails_from_one_address_block_the_address() {
        let clock = FakeClock::new(0);
        let t = LoginThrottle::new(Arc::new(clock), 1000);
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            t.record_failure(&format!("u{i}@x.io"), "5.5.5.5");
        }
        assert!(t.check("new@x.io", "5.5.5.5").is_err());
        assert!(t.check("new@x.io", "6.6.6.6").is_ok());
    }
}
