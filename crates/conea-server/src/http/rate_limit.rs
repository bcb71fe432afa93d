//! Rate-limit headers (`docs/api.md`) and the 429 answer.

use crate::http::error::ApiError;
use crate::state::AppState;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use conea_core::principal::Principal;
use conea_core::ratelimit::service::Verdict;
use conea_core::ratelimit::{Decision, PolicySource};
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde_json::json;
use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Instant;

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const STATE: HeaderName = HeaderName::from_static("ratelimit");
/// Rate-limit headers on every authenticated response.
pub const HEADERS: usize = 5;

/// `X-RateLimit-*` and the IETF `RateLimit-Policy` / `RateLimit` pair, on every
/// authenticated response, as of the moment of the decision. The two values that depend
/// on the policy alone are made once per policy (see [`policy_values`]); the three that
/// change with every decision are written with `itoa` into one buffer, one allocation
/// shared by the three. (`format!` and a buffer per value were a third of the limiter's
/// cost per request.)
pub fn apply_headers(headers: &mut HeaderMap, d: &Decision) {
    let (limit, policy) = policy_values(d);
    let mut text = Text::default();
    let mut int = itoa::Buffer::new();
    text.push(int.format(d.remaining).as_bytes());
    let remaining_end = text.len;
    text.push(int.format(d.reset_epoch_s()).as_bytes());
    let reset_end = text.len;
    text.push(b"\"default\";r=");
    text.push(int.format(d.remaining).as_bytes());
    text.push(b";t=");
    text.push(int.format(d.reset_in_s()).as_bytes());
    let all = Bytes::from_owner(text);
    // Room for these and the `X-Request-Id` the outer layer adds, made before they are in
    // (an answer from `ApiJson` has it already): growing the map with all of them inside
    // cost more than the inserts.
    headers.reserve(HEADERS + 1);
    headers.insert(LIMIT, limit);
    headers.insert(POLICY, policy);
    for (name, range) in [
        (REMAINING, 0..remaining_end),
        (RESET, remaining_end..reset_end),
        (STATE, reset_end..all.len()),
    ] {
        if let Ok(v) = HeaderValue::from_maybe_shared(all.slice(range)) {
            headers.insert(name, v);
        }
    }
}

/// The changing header values of one response, written in place (the longest possible,
/// with every number at its type's widest, is 75 bytes).
struct Text {
    bytes: [u8; 96],
    len: usize,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            bytes: [0; 96],
            len: 0,
        }
    }
}

impl Text {
    fn push(&mut self, s: &[u8]) {
        if let Some(to) = self.bytes.get_mut(self.len..self.len + s.len()) {
            to.copy_from_slice(s);
            self.len += s.len();
        }
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `X-RateLimit-Limit` and `RateLimit-Policy` of one policy (its limit and window in s).
struct PolicyValues {
    policy: (u32, i64),
    limit_value: HeaderValue,
    policy_value: HeaderValue,
}

impl PolicyValues {
    fn of(d: &Decision) -> (u32, i64) {
        (d.limit, d.window_ms / 1000)
    }

    /// `keep`: in memory kept for the life of the process, so that a clone copies a pointer
    /// (otherwise a clone counts a reference: an atomic add, and a subtraction when the
    /// answer is dropped). Only the first default policy is kept (see [`policy_values`]).
    fn new(policy: (u32, i64), keep: bool) -> Self {
        let (limit, window_s) = policy;
        let value = |text: String, fallback: &'static str| {
            let bytes = if keep {
                Bytes::from_static(String::leak(text).as_bytes())
            } else {
                Bytes::from(text)
            };
            HeaderValue::from_maybe_shared(bytes)
                .unwrap_or_else(|_| HeaderValue::from_static(fallback))
        };
        PolicyValues {
            policy,
            limit_value: value(limit.to_string(), "0"),
            policy_value: value(format!("\"default\";q={limit};w={window_s}"), "\"default\""),
        }
    }

    fn values(&self) -> (HeaderValue, HeaderValue) {
        (self.limit_value.clone(), self.policy_value.clone())
    }
}

/// The default policy's values, kept for the process (most answers are on it; the
/// configured default does not change without a restart, so the process keeps one pair).
static DEFAULT_VALUES: OnceLock<PolicyValues> = OnceLock::new();

thread_local! {
    /// Any other policy's values: of the policy this thread answered for last.
    static POLICY_VALUES: RefCell<Option<PolicyValues>> = const { RefCell::new(None) };
}

fn policy_values(d: &Decision) -> (HeaderValue, HeaderValue) {
    let policy = PolicyValues::of(d);
    if d.source == PolicySource::Default {
        let kept = DEFAULT_VALUES.get_or_init(|| PolicyValues::new(policy, true));
        if kept.policy == policy {
            return kept.values();
        }
    }
    POLICY_VALUES.with_borrow_mut(|held| match held {
        Some(p) if p.policy == policy => p.values(),
        _ => held.insert(PolicyValues::new(policy, false)).values(),
    })
}

/// The principal's decision (consuming, or a peek), counted and timed in the metrics: the
/// in-process limiter's synchronous way when it needs no I/O (no future built), else the
/// one that may (Redis, overrides to read), boxed so that the common path's future stays
/// small.
pub async fn decide(
    state: &AppState,
    principal: &Principal,
    consume: bool,
) -> Result<Verdict, CoreError> {
    let started = Instant::now();
    let limits = state.limits();
    let v = match limits.decide_in_process(principal, consume, started) {
        Some(v) => v,
        None => Box::pin(limits.decide_principal(principal, consume)).await?,
    };
    state.metrics().observe_limit(&v, started);
    Ok(v)
}

/// The caller's state without consuming (`GET /v1/rate-limit`), and whether the limiter is
/// on: only then is the read counted in the metrics and the headers put on the answer.
pub struct Peek {
    pub verdict: Verdict,
    pub enabled: bool,
}

pub async fn peek(state: &AppState, principal: &Principal) -> Result<Peek, CoreError> {
    let enabled = state.config().rate_limit.enabled;
    let verdict = if enabled {
        decide(state, principal, false).await?
    } else {
        state.limits().peek(principal).await?
    };
    Ok(Peek { verdict, enabled })
}

impl Peek {
    /// `body` as the answer, with the rate-limit headers when the limiter is on.
    pub fn answer(&self, body: impl IntoResponse) -> Response {
        let mut response = body.into_response();
        if self.enabled {
            apply_headers(response.headers_mut(), &self.verdict.decision);
        }
        response
    }
}

/// Consumes one request of a client address's quota on an unauthenticated route (`route`
/// names its bucket; None: the login routes' shared quota of `RATE_LIMIT_PER_IP_PER_MINUTE`),
/// answers 429 when it is spent, and puts the headers on the answer.
pub async fn limit_address(
    state: &AppState,
    route: Option<(&str, u32)>,
    addr: &str,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let limits = state.limits();
    let v = match route {
        Some((route, per_minute)) => limits.check_address_on(route, addr, per_minute).await,
        None => limits.check_address(addr).await,
    };
    let v = match v {
        Ok(v) => v,
        Err(e) => return ApiError(e).into_response(),
    };
    state.metrics().observe_limit(&v, started);
    let mut response = if v.decision.allowed {
        next.run(req).await
    } else {
        refused(&v.decision)
    };
    apply_headers(response.headers_mut(), &v.decision);
    response
}

/// 429 `rate_limit_exceeded` with `Retry-After` and the numbers in `details`.
pub fn refused(d: &Decision) -> Response {
    let retry = d.retry_after_s();
    ApiError(CoreError::RateLimited {
        code: ErrorCode::RateLimitExceeded,
        message: format!(
            "Rate limit of {} requests per {} s exceeded ({} policy). Retry after {retry} s.",
            d.limit,
            d.window_ms / 1000,
            d.source.as_str()
        ),
        retry_after_s: retry,
        details: json!({
            "limit": d.limit,
            "remaining": 0,
            "retry_after": retry,
            "reset": d.reset_epoch_s(),
            "reset_in": d.reset_in_s(),
            "policy_source": d.source.as_str(),
        }),
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::clock::EpochMs;
    use conea_core::ratelimit::{gcra, Policy};

    fn headers_for(policy: &Policy, now: EpochMs) -> Vec<(String, String)> {
        let (d, _) = gcra(None, now, policy, true);
        let mut h = HeaderMap::new();
        apply_headers(&mut h, &d);
        [LIMIT, REMAINING, RESET, POLICY, STATE]
            .iter()
            .map(|n| {
                let v = h.get(n).map(|v| v.to_str().unwrap_or("?").to_owned());
                (n.to_string(), v.unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn every_header_carries_its_own_policy_and_state() {
        // 60/min, burst 10, at t = 1,000.5 s: one request leaves 9 and is refilled 1 s later.
        let p = Policy::per_minute(60, 10, PolicySource::Default);
        let got = headers_for(&p, 1_000_500);
        let want = [
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "9"),
            ("x-ratelimit-reset", "1002"),
            ("ratelimit-policy", "\"default\";q=60;w=60"),
            ("ratelimit", "\"default\";r=9;t=1"),
        ];
        for ((name, value), (want_name, want_value)) in got.iter().zip(want) {
            assert_eq!((name.as_str(), value.as_str()), (want_name, want_value));
        }
    }

    #[test]
    fn each_policy_sends_its_own_values_whether_kept_for_the_process_or_the_thread() {
        // The first default policy's values are kept for the process, any other policy's
        // for the thread that answered for it last: neither may leak into another's answer.
        // (Two defaults: tests in this process use several, a server one.)
        let a = Policy::per_minute(100, 100, PolicySource::Default);
        let b = Policy::per_minute(7, 3, PolicySource::ApiKey);
        let c = Policy::per_minute(30, 30, PolicySource::Default);
        let d = Policy::per_minute(100, 5, PolicySource::Organization);
        for (p, limit, policy) in [
            (&a, "100", "\"default\";q=100;w=60"),
            (&b, "7", "\"default\";q=7;w=60"),
            (&c, "30", "\"default\";q=30;w=60"),
            (&a, "100", "\"default\";q=100;w=60"),
            (&c, "30", "\"default\";q=30;w=60"),
            (&d, "100", "\"default\";q=100;w=60"),
            (&b, "7", "\"default\";q=7;w=60"),
        ] {
            let got = headers_for(p, 0);
            assert_eq!(got[0].1, limit);
            assert_eq!(got[3].1, policy);
        }
    }
}
