//! Time as a dependency. Everything whose behaviour depends on "now" (token expiry, key
//! expiry, throttling, later backoff and escalation timers) asks a [`Clock`], so tests move
//! time with [`FakeClock::advance`] instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, UTC. The one time representation stored and compared.
pub type EpochMs = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> EpochMs;

    fn now(&self) -> OffsetDateTime {
        from_ms(self.now_ms())
    }

    /// The fake clock behind this one, if it is one: waits that must pass on the clock
    /// (a throttle's sleeps) then move it instead of sleeping.
    fn as_fake(&self) -> Option<&FakeClock> {
        None
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Whole seconds and milliseconds from `SystemTime` (read several times per request; the
    /// i128 nanosecond division it replaced cost more than the clock read). A clock set
    /// before 1970 gives negative milliseconds, as before.
    #[allow(clippy::disallowed_methods)] // the clock module: the one read of the wall clock
    fn now_ms(&self) -> EpochMs {
        let ms = |d: std::time::Duration| d.as_secs() as i64 * 1000 + i64::from(d.subsec_millis());
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => ms(after),
            Err(before) => -ms(before.duration()),
        }
    }
}

/// A clock that only moves when told to. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct FakeClock {
    ms: Arc<AtomicI64>,
    /// Woken on every move (see [`FakeClock::reached`]).
    moved: Arc<tokio::sync::Notify>,
}

impl FakeClock {
    pub fn new(start_ms: EpochMs) -> Self {
        Self {
            ms: Arc::new(AtomicI64::new(start_ms)),
            moved: Arc::default(),
        }
    }

    /// Returns once someone else moved the clock to `deadline` or past it (nothing here
    /// moves it): a wait that a test ends by advancing the clock.
    pub async fn reached(&self, deadline: EpochMs) {
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.now_ms() >= deadline {
                return;
            }
            moved.await;
        }
    }

    /// A fake clock starting at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        self.moved.notify_waiters();
    }

    pub fn set_ms(&self, ms: EpochMs) {
        self.ms.store(ms, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> EpochMs {
        self.ms.load(Ordering::SeqCst)
    }

    fn as_fake(&self) -> Option<&FakeClock> {
        Some(self)
    }
}

/// Converts epoch milliseconds to a UTC date-time (saturating on out-of-range values).
pub fn from_ms(ms: EpochMs) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 UTC text for epoch milliseconds, as every API body and message uses it.
pub fn rfc3339(ms: EpochMs) -> String {
    let t = from_ms(ms).replace_nanosecond(0).unwrap_or(from_ms(ms));
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| ms.to_string())
}

/// Parses RFC 3339 text into epoch milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<EpochMs> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as EpochMs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // compares SystemClock with the wall clock
    fn system_clock_reads_the_wall_clock_in_milliseconds() {
        let before = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as EpochMs;
        let now = SystemClock.now_ms();
        let after = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as EpochMs;
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn fake_clock_moves_only_when_advanced_and_clones_share_time() {
        let c = FakeClock::new(1_000);
        let c2 = c.clone();
        assert_eq!(c.now_ms(), 1_000);
        c.advance(std::time::Duration::from_secs(2));
        assert_eq!(c2.now_ms(), 3_000);
    }

    #[test]
    fn rfc3339_round_trips_whole_seconds() {
        let ms = 1_795_860_000_000; // 2026-11-28T10:00:00Z
        let text = rfc3339(ms);
        assert_eq!(text, "2026-11-28T10:00:00Z");
        assert_eq!(parse_rfc3339(&text), Some(ms));
    }
}
