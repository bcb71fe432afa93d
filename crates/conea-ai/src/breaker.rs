//! A circuit breaker per provider, on the injected [`Clock`].
//!
//! - Closed: calls go through; `failure_threshold` consecutive provider failures (the
//!   retryable kinds: rate limits, overload, 5xx, timeouts, connection errors) open it.
//! - Open: calls are refused until `cooldown` has passed.
//! - Half-open: after the cooldown, exactly one call (the probe) goes through; its success
//!   closes the breaker, its failure opens it again for another cooldown. A probe that ends
//!   without a verdict (the caller went away) frees the slot for the next caller.
//! - Misconfigured: the provider rejected our credentials (401/403). Sticky: it is never
//!   called again until the configuration changes (a new router is built).
//!
//! Failures that are the caller's (context length, invalid request) say the provider is
//! up: they count as a success for the breaker.

use crate::error::{ErrorKind, UpstreamError};
use conea_core::clock::{rfc3339, EpochMs};
use conea_core::Clock;
use conea_core::ErrorCode;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    pub failure_threshold: u32,
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// A provider's health as `models()` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    /// Recent failures, or half-open (probing).
    Degraded,
    CircuitOpen,
    Misconfigured,
}

/// The last failure seen for a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    pub code: ErrorCode,
    pub message: String,
    pub status: Option<u16>,
    /// RFC 3339.
    pub at: String,
}

/// A snapshot for status pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: HealthStatus,
    pub consecutive_failures: u32,
    /// When an open circuit lets the next probe through (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    pub last_error: Option<LastError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open { until_ms: EpochMs },
    HalfOpen { probing: bool },
    Misconfigured,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive_failures: u32,
    last_error: Option<LastError>,
}

pub struct Breaker {
    clock: Arc<dyn Clock>,
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

/// The answer to "may I call this provider now?".
pub enum Admission {
    Allowed(Permit),
    /// Refused until `retry_at_ms`.
    Open {
        retry_at_ms: EpochMs,
    },
    Misconfigured,
}

/// Leave to make one call; report its outcome with [`Permit::success`] or
/// [`Permit::failure`].
pub struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    reported: bool,
}

impl Permit {
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record_success();
    }

    pub fn failure(mut self, err: &UpstreamError) {
        self.reported = true;
        self.breaker.record_failure(err);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            let mut inner = self.breaker.lock();
            if inner.state == (State::HalfOpen { probing: true }) {
                inner.state = State::HalfOpen { probing: false };
            }
        }
    }
}

impl Breaker {
    pub fn new(clock: Arc<dyn Clock>, settings: BreakerSettings) -> Arc<Self> {
        Arc::new(Self {
            clock,
            settings,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive_failures: 0,
                last_error: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the state half-written (every
        // update is a single assignment), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn admit(self: &Arc<Self>) -> Admission {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        let probe = match inner.state {
            State::Closed => false,
            State::Misconfigured => return Admission::Misconfigured,
            State::Open { until_ms } if now < until_ms => {
                return Admission::Open {
                    retry_at_ms: until_ms,
                }
            }
            State::Open { .. } | State::HalfOpen { probing: false } => {
                inner.state = State::HalfOpen { probing: true };
                true
            }
            State::HalfOpen { probing: true } => {
                return Admission::Open { retry_at_ms: now };
            }
        };
        Admission::Allowed(Permit {
            breaker: Arc::clone(self),
            probe,
            reported: false,
        })
    }

    /// True while a call would be refused (open, probing, or misconfigured); used to
    /// skip a retry wait that could not be followed by a call.
    pub fn refuses(&self) -> bool {
        let now = self.clock.now_ms();
        match self.lock().state {
            State::Closed | State::HalfOpen { probing: false } => false,
            State::Open { until_ms } => now < until_ms,
            State::HalfOpen { probing: true } | State::Misconfigured => true,
        }
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        if inner.state != State::Misconfigured {
            inner.state = State::Closed;
            inner.consecutive_failures = 0;
        }
    }

    pub fn record_failure(&self, err: &UpstreamError) {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        inner.last_error = Some(LastError {
            code: err.code(),
            message: err.message.clone(),
            status: err.status,
            at: rfc3339(now),
        });
        if inner.state == State::Misconfigured {
            return;
        }
        if err.kind == ErrorKind::Auth {
            inner.state = State::Misconfigured;
            return;
        }
        if !err.kind.counts_against_provider() {
            // the provider answered; the request was at fault
            inner.state = State::Closed;
            inner.consecutive_failures = 0;
            return;
        }
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        let open = match inner.state {
            State::HalfOpen { .. } => true,
            _ => inner.consecutive_failures >= self.settings.failure_threshold,
        };
        if open {
            let cooldown = self.settings.cooldown.as_millis() as i64;
            inner.state = State::Open {
                until_ms: now.saturating_add(cooldown),
            };
        }
    }

    pub fn health(&self) -> Health {
        let now = self.clock.now_ms();
        let inner = self.lock();
        let (status, retry_at) = match inner.state {
            State::Misconfigured => (HealthStatus::Misconfigured, None),
            State::Open { until_ms } if now < until_ms => {
                (HealthStatus::CircuitOpen, Some(rfc3339(until_ms)))
            }
            State::Open { .. } | State::HalfOpen { .. } => (HealthStatus::Degraded, None),
            State::Closed if inner.consecutive_failures > 0 => (HealthStatus::Degraded, None),
            State::Closed => (HealthStatus::Ok, None),
        };
        Health {
            status,
            consecutive_failures: inner.consecutive_failures,
            retry_at,
            last_error: inner.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::FakeClock;

    fn setup() -> (FakeClock, Arc<Breaker>) {
        let clock = FakeClock::new(1_000_000);
        let b = Breaker::new(
            Arc::new(clock.clone()),
            BreakerSettings {
                failure_threshold: 3,
                cooldown: Duration::from_secs(30),
            },
        );
        (clock, b)
    }

    fn err(kind: ErrorKind) -> UpstreamError {
        UpstreamError::new("p", kind, "boom").with_status(500)
    }

    fn fail(b: &Arc<Breaker>, kind: ErrorKind) {
        match b.admit() {
            Admission::Allowed(p) => p.failure(&err(kind)),
            _ => panic!("expected admission"),
        }
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let (_, b) = setup();
        fail(&b, ErrorKind::Server);
        fail(&b, ErrorKind::Timeout);
        assert_eq!(b.health().status, HealthStatus::Degraded);
        fail(&b, ErrorKind::Overloaded);
        assert!(matches!(b.admit(), Admission::Open { .. }));
        let h = b.health();
        assert_eq!(h.status, HealthStatus::CircuitOpen);
        assert_eq!(h.last_error.unwrap().code, "overloaded");
    }

    #[test]
    fn a_success_resets_the_count() {
        let (_, b) = setup();
        fail(&b, ErrorKind::Server);
        fail(&b, ErrorKind::Server);
        if let Admission::Allowed(p) = b.admit() {
            p.success();
        }
        fail(&b, ErrorKind::Server);
        fail(&b, ErrorKind::Server);
        assert!(matches!(b.admit(), Admission::Allowed(_)));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_success_closes() {
        let (clock, b) = setup();
        for _ in 0..3 {
            fail(&b, ErrorKind::Server);
        }
        clock.advance(Duration::from_secs(29));
        assert!(matches!(b.admit(), Admission::Open { .. }));
        clock.advance(Duration::from_secs(1));
        let probe = match b.admit() {
            Admission::Allowed(p) => p,
            _ => panic!("probe expected"),
        };
        assert!(probe.is_probe());
        assert!(
            matches!(b.admit(), Admission::Open { .. }),
            "only one probe"
        );
        probe.success();
        assert_eq!(b.health().status, HealthStatus::Ok);
        assert!(matches!(b.admit(), Admission::Allowed(p) if !p.is_probe()));
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_cooldown() {
        let (clock, b) = setup();
        for _ in 0..3 {
            fail(&b, ErrorKind::Server);
        }
        clock.advance(Duration::from_secs(30));
        fail(&b, ErrorKind::Connection);
        assert_eq!(b.health().status, HealthStatus::CircuitOpen);
        clock.advance(Duration::from_secs(29));
        assert!(matches!(b.admit(), Admission::Open { .. }));
        clock.advance(Duration::from_secs(1));
        assert!(matches!(b.admit(), Admission::Allowed(p) if p.is_probe()));
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let (clock, b) = setup();
        for _ in 0..3 {
            fail(&b, ErrorKind::Server);
        }
        clock.advance(Duration::from_secs(30));
        drop(b.admit());
        assert!(matches!(b.admit(), Admission::Allowed(p) if p.is_probe()));
    }

    #[test]
    fn auth_failure_is_sticky_misconfigured() {
        let (clock, b) = setup();
        fail(&b, ErrorKind::Auth);
        assert!(matches!(b.admit(), Admission::Misconfigured));
        clock.advance(Duration::from_secs(3600));
        b.record_success();
        assert!(matches!(b.admit(), Admission::Misconfigured));
        let h = b.health();
        assert_eq!(h.status, HealthStatus::Misconfigured);
        assert_eq!(h.last_error.unwrap().code, "provider_auth_failed");
    }

    #[test]
    fn caller_errors_do_not_count() {
        let (_, b) = setup();
        for _ in 0..5 {
            fail(&b, ErrorKind::ContextLength);
            fail(&b, ErrorKind::InvalidRequest);
        }
        assert!(matches!(b.admit(), Admission::Allowed(_)));
    }
}
