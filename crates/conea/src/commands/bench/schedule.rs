//! The open-loop schedule: request `i` is due at `start + i / rate`, whether or not earlier
//! requests have been answered. A dedicated thread (precise sleeps, unlike the 1 ms async
//! timer) hands out one permit per due request; a worker takes a permit, sends, and
//! measures latency from the due time, so waiting for a free connection counts as latency
//! (no coordinated omission).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub struct Schedule {
    start: OnceLock<Instant>,
    rate: f64,
    permits: Arc<Semaphore>,
    issued: Arc<AtomicU64>,
    taken: AtomicU64,
}

impl Schedule {
    /// A schedule that hands out nothing until [`Schedule::begin`].
    pub fn new(rate: f64) -> Arc<Schedule> {
        Arc::new(Schedule {
            start: OnceLock::new(),
            rate,
            permits: Arc::new(Semaphore::new(0)),
            issued: Arc::new(AtomicU64::new(0)),
            taken: AtomicU64::new(0),
        })
    }

    /// Hands out permits from `start` until `end`, then closes.
    pub fn begin(&self, start: Instant, end: Instant) {
        let _ = self.start.set(start);
        let (permits, issued, rate) = (self.permits.clone(), self.issued.clone(), self.rate);
        std::thread::spawn(move || {
            let mut sent = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                // Every request whose due time has come (several at high rates).
                let due = ((now - start).as_secs_f64() * rate) as u64 + 1;
                if due > sent {
                    permits.add_permits(usize::try_from(due - sent).unwrap_or(usize::MAX >> 4));
                    sent = due;
                    issued.store(sent, Ordering::Relaxed);
                }
                let next = start + Duration::from_secs_f64(sent as f64 / rate);
                std::thread::sleep(next.min(end).saturating_duration_since(Instant::now()));
            }
            permits.close();
        });
    }

    /// Waits for the next due request and returns its due time; `None` once the run is over.
    pub async fn next(&self) -> Option<Instant> {
        self.permits.acquire().await.ok()?.forget();
        let index = self.taken.fetch_add(1, Ordering::Relaxed);
        // Permits exist only after `begin`, which sets the start first.
        let start = *self.start.get()?;
        Some(start + Duration::from_secs_f64(index as f64 / self.rate))
    }

    /// Requests that came due but were never taken by a worker.
    pub fn unsent(&self) -> u64 {
        let issued = self.issued.load(Ordering::Relaxed);
        issued.saturating_sub(self.taken.load(Ordering::Relaxed))
    }
}
