//! Retry waits. [`RetryPolicy::wait`] decides how long to wait before retrying the same
//! target: the provider's `Retry-After` when it gave one, else exponential backoff with
//! jitter; never longer than `max_wait` (a longer `Retry-After` moves on to the next target
//! instead). Waiting goes through a [`Sleeper`], so tests with a fake clock do not wait.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries on the same target after its first failure (`CONEA_AI_MAX_RETRIES`).
    pub max_retries: u32,
    /// Longest single wait (`CONEA_AI_MAX_RETRY_WAIT`).
    pub max_wait: Duration,
    /// First backoff step; doubles on each retry.
    pub base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_wait: Duration::from_secs(10),
            base: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first), or `None` when the provider
    /// asks for longer than `max_wait`. `jitter` is in `[0, 1)`.
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
        if let Some(asked) = retry_after {
            return (asked <= self.max_wait).then_some(asked);
        }
        let factor = 2u32.saturating_pow(retry.min(20));
        let step = self.base.saturating_mul(factor).min(self.max_wait);
        // equal jitter: half fixed, half random, so retries never bunch at zero
        let half = step / 2;
        Some(half + half.mul_f64(jitter.clamp(0.0, 1.0)))
    }

    /// [`RetryPolicy::wait`] with a random jitter.
    pub fn wait_jittered(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        self.wait(retry, retry_after, rand::thread_rng().gen_range(0.0..1.0))
    }
}

/// The router lets time pass only through a [`Sleeper`] (shared with the Shopify client).
pub use conea_core::sleep::{FakeSleeper as FakeClockSleeper, Sleeper, TokioSleeper};

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            max_wait: Duration::from_secs(5),
            base: Duration::from_millis(200),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        for (retry, step_ms) in [(0u32, 200u64), (1, 400), (2, 800), (3, 1600)] {
            let lo = p.wait(retry, None, 0.0).unwrap();
            let hi = p.wait(retry, None, 0.999_999).unwrap();
            assert_eq!(lo, Duration::from_millis(step_ms / 2));
            assert!(hi <= Duration::from_millis(step_ms) && hi > lo);
        }
        assert!(p.wait(30, None, 0.999).unwrap() <= Duration::from_secs(5));
    }

    #[test]
    fn retry_after_is_honoured_exactly_up_to_the_max_wait() {
        let p = policy();
        assert_eq!(
            p.wait(0, Some(Duration::from_millis(2500)), 0.7),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(p.wait(0, Some(Duration::from_secs(6)), 0.7), None);
    }
}
