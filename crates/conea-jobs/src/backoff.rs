//! Retry delays: exponential with jitter, capped.

use rand::Rng;
use std::time::Duration;

pub const BASE: Duration = Duration::from_secs(2);
pub const CAP: Duration = Duration::from_secs(3600);

/// Delay before attempt `attempt + 1` after `attempt` failed: 2 s · 2^(attempt-1), capped at
/// one hour, with ±25 % jitter so a burst of failures does not retry in lockstep.
pub fn delay(attempt: u32) -> Duration {
    let exp = BASE.as_millis() as u64 * 2u64.saturating_pow(attempt.saturating_sub(1).min(20));
    let base = exp.min(CAP.as_millis() as u64) as f64;
    let jitter = rand::thread_rng().gen_range(0.75..=1.25);
    Duration::from_millis((base * jitter) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        for (attempt, base_ms) in [(1u32, 2_000u64), (2, 4_000), (3, 8_000), (10, 1_024_000)] {
            let d = delay(attempt).as_millis() as u64;
            assert!(
                d >= base_ms * 3 / 4 && d <= base_ms * 5 / 4,
                "attempt {attempt}: {d} ms"
            );
        }
        assert!(delay(40) <= CAP + CAP / 4);
    }
}
