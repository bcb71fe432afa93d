//! Statement timing: every store call goes through [`StatementStats::time`], which counts
//! it, and logs at warn and remembers (bounded) the ones slower than `CONEA_SLOW_QUERY_MS`.
//! The server exports the counters in `/metrics`; `conea diagnose` reads the recent list.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RECENT_SLOW: usize = 50;

#[derive(Debug, Clone)]
pub struct SlowStatement {
    pub name: &'static str,
    pub statement: &'static str,
    pub duration: Duration,
}

pub struct StatementStats {
    threshold: Duration,
    total: AtomicU64,
    slow: AtomicU64,
    errors: AtomicU64,
    recent: Mutex<VecDeque<SlowStatement>>,
}

impl StatementStats {
    pub fn new(threshold: Duration) -> Self {
        Self {
            threshold,
            total: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_SLOW)),
        }
    }

    /// Runs one statement (or a short transaction) and records how long it took.
    pub async fn time<T, E, F>(
        &self,
        name: &'static str,
        statement: &'static str,
        fut: F,
    ) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let out = fut.await;
        let took = started.elapsed();
        self.total.fetch_add(1, Ordering::Relaxed);
        if out.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if took >= self.threshold {
            self.slow.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                statement_name = name,
                statement = statement.trim(),
                duration_ms = took.as_millis() as u64,
                threshold_ms = self.threshold.as_millis() as u64,
                "slow statement"
            );
            if let Ok(mut recent) = self.recent.lock() {
                if recent.len() == RECENT_SLOW {
                    recent.pop_front();
                }
                recent.push_back(SlowStatement {
                    name,
                    statement,
                    duration: took,
                });
            }
        }
        out
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn slow(&self) -> u64 {
        self.slow.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn recent_slow(&self) -> Vec<SlowStatement> {
        self.recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn statements_over_threshold_are_counted_and_kept() {
        let s = StatementStats::new(Duration::from_millis(0));
        let r: Result<u8, ()> = s.time("x", "SELECT 1", async { Ok(1) }).await;
        assert_eq!(r, Ok(1));
        assert_eq!(s.total(), 1);
        assert_eq!(s.slow(), 1);
        assert_eq!(s.recent_slow()[0].statement, "SELECT 1");
        let fast = StatementStats::new(Duration::from_secs(60));
        let _: Result<(), ()> = fast.time("y", "SELECT 2", async { Err(()) }).await;
        assert_eq!((fast.slow(), fast.errors()), (0, 1));
    }
}
