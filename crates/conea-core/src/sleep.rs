//! Waiting as a dependency. Code that backs off or throttles (the AI router, the Shopify
//! client) lets time pass only through a [`Sleeper`]: in production [`TokioSleeper`]; in
//! tests [`FakeSleeper`], which moves a [`FakeClock`] instead of waiting and records every
//! wait, so retry and throttle tests are exact and instant.

use crate::clock::{Clock, FakeClock};
use async_trait::async_trait;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[async_trait]
pub trait Sleeper: Send + Sync + 'static {
    async fn sleep(&self, d: Duration);
}

/// Real waiting, on tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[allow(clippy::disallowed_methods)] // the one real Sleeper: everything else waits through it
#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// For tests: a wait of `d` started at fake time `t` moves the clock to `t + d` (never
/// backwards, so concurrent waiters end at the latest of their deadlines) and returns at
/// once. Clones share the clock and the record.
#[derive(Debug, Clone)]
pub struct FakeSleeper {
    clock: FakeClock,
    inner: Arc<Mutex<Vec<Duration>>>,
}

impl FakeSleeper {
    pub fn new(clock: FakeClock) -> Self {
        Self {
            clock,
            inner: Arc::default(),
        }
    }

    /// Every wait so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The sum of every wait so far.
    pub fn total(&self) -> Duration {
        self.waits().iter().sum()
    }

    /// Forgets the waits recorded so far.
    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[async_trait]
impl Sleeper for FakeSleeper {
    async fn sleep(&self, d: Duration) {
        let start = self.clock.now_ms();
        let deadline = start.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        {
            // The lock orders the clock moves of concurrent waiters.
            let mut waits = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            waits.push(d);
            let now = self.clock.now_ms();
            if deadline > now {
                self.clock
                    .advance(Duration::from_millis((deadline - now).unsigned_abs()));
            }
        }
        tokio::task::yield_now().await;
    }
}

/// For tests: a wait that lets the test decide when it ends — it returns once someone else
/// moved the [`FakeClock`] past its deadline (it never moves the clock itself). For waits a
/// test wants to see cut short by something else (a webhook that ends a poll).
#[derive(Debug, Clone)]
pub struct ClockSleeper {
    clock: FakeClock,
}

impl ClockSleeper {
    pub fn new(clock: FakeClock) -> Self {
        Self { clock }
    }
}

#[async_trait]
impl Sleeper for ClockSleeper {
    async fn sleep(&self, d: Duration) {
        let deadline = self
            .clock
            .now_ms()
            .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.clock.reached(deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clock_sleeper_returns_only_once_the_clock_is_moved_past_its_deadline() {
        let clock = FakeClock::new(1_000);
        let s = ClockSleeper::new(clock.clone());
        let wait = tokio::spawn(async move { s.sleep(Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(4));
        tokio::task::yield_now().await;
        assert!(!wait.is_finished(), "4 s of 5");
        clock.advance(Duration::from_secs(1));
        wait.await.unwrap();
        assert_eq!(clock.now_ms(), 6_000, "the sleeper never moved the clock");
    }

    #[tokio::test]
    async fn fake_sleeper_moves_the_clock_and_records_waits() {
        let clock = FakeClock::new(1_000);
        let s = FakeSleeper::new(clock.clone());
        s.sleep(Duration::from_millis(500)).await;
        s.sleep(Duration::from_secs(2)).await;
        assert_eq!(clock.now_ms(), 3_500);
        assert_eq!(
            s.waits(),
            vec![Duration::from_millis(500), Duration::from_secs(2)]
        );
        assert_eq!(s.total(), Duration::from_millis(2_500));
    }
}
