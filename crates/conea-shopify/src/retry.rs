//! How often and how long the client retries.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts for one request when the answer is a 5xx or the connection fails
    /// (the first attempt included).
    pub max_attempts: u32,
    /// First backoff step; doubles on each further failure.
    pub base_backoff: Duration,
    /// Longest backoff step.
    pub max_backoff: Duration,
    /// Retries after 429 or GraphQL `THROTTLED` answers before giving up.
    pub max_throttle_retries: u32,
    /// Longest single throttle wait accepted; a longer one (a huge `Retry-After`) fails the
    /// call as `Throttled` so a job can be rescheduled instead of a task sleeping.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_throttle_retries: 10,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failure number `failure` (1 for the first) with `jitter` in `[0, 1)`:
    /// half of the doubled step fixed, half random, so retries of many tasks spread out.
    pub fn backoff(&self, failure: u32, jitter: f64) -> Duration {
        let factor = 2u32.saturating_pow(failure.saturating_sub(1).min(20));
        let step = self
            .base_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = step / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    pub(crate) fn backoff_jittered(&self, failure: u32) -> Duration {
        self.backoff(failure, rand::thread_rng().gen_range(0.0..1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(250));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(1_000));
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(2_000));
        assert_eq!(p.backoff(30, 1.0), Duration::from_secs(8));
    }
}
