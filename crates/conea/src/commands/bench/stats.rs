//! What a run observed: a latency histogram of the answered requests, status code counts
//! and transport failures. Each worker keeps its own; they are merged at the end.

use super::client::Outcome;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latencies are recorded in microseconds, up to one hour, to 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

pub struct Tally {
    pub latency: Histogram<u64>,
    pub statuses: BTreeMap<u16, u64>,
    pub failures: BTreeMap<String, u64>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("constant histogram bounds are valid"),
            statuses: BTreeMap::new(),
            failures: BTreeMap::new(),
        }
    }

    /// Counts one request; its latency enters the histogram only if a response arrived.
    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Status(code) => {
                let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
                self.latency.saturating_record(micros.clamp(1, MAX_MICROS));
                *self.statuses.entry(code).or_default() += 1;
            }
            Outcome::Failed(reason) => *self.failures.entry(reason).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        for (code, n) in &other.statuses {
            *self.statuses.entry(*code).or_default() += n;
        }
        for (reason, n) in &other.failures {
            *self.failures.entry(reason.clone()).or_default() += n;
        }
    }

    /// Requests that ended, with a response or a transport failure.
    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.transport_errors()
    }

    /// Responses with a status below 400.
    pub fn successful(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(code, _)| **code < 400)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn transport_errors(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Errors (status >= 400 or transport failure) over all requests, from 0 to 1.
    pub fn error_rate(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            total => (total - self.successful()) as f64 / total as f64,
        }
    }

    /// A latency quantile (0..=1) in milliseconds; `None` when nothing was answered.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.answered()
            .then(|| self.latency.value_at_quantile(q) as f64 / 1000.0)
    }

    pub fn max_ms(&self) -> Option<f64> {
        self.answered().then(|| self.latency.max() as f64 / 1000.0)
    }

    pub fn mean_ms(&self) -> Option<f64> {
        self.answered().then(|| self.latency.mean() / 1000.0)
    }

    fn answered(&self) -> bool {
        !self.latency.is_empty()
    }
}

/// Counters the progress line reads while workers run.
#[derive(Default)]
pub struct Live {
    pub done: AtomicU64,
    pub errors: AtomicU64,
}

impl Live {
    pub fn count(&self, outcome: &Outcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let failed = match outcome {
            Outcome::Status(code) => *code >= 400,
            Outcome::Failed(_) => true,
        };
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_statuses_failures_and_error_rate() {
        let mut a = Tally::new();
        a.record(Outcome::Status(200), Duration::from_millis(2));
        a.record(Outcome::Status(503), Duration::from_millis(4));
        let mut b = Tally::new();
        b.record(Outcome::Failed("timeout".into()), Duration::from_secs(9));
        b.record(Outcome::Status(200), Duration::from_millis(6));
        a.merge(&b);
        assert_eq!(a.total(), 4);
        assert_eq!(a.successful(), 2);
        assert_eq!(a.transport_errors(), 1);
        assert!((a.error_rate() - 0.5).abs() < 1e-9);
        // The failed request's 9 s is not a latency.
        assert!((a.max_ms().unwrap() - 6.0).abs() < 0.01, "{:?}", a.max_ms());
        assert!((a.quantile_ms(0.5).unwrap() - 4.0).abs() < 0.01);
        assert_eq!(Tally::new().quantile_ms(0.5), None);
    }
}
