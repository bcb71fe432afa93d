//! Rate-limit headers (`shared/conventions/api.md`) and the 429 answer.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use conea_core::clock::EpochMs;
use conea_core::ratelimit::Decision;
use conea_core::CoreError;
use serde_json::json;

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const STATE: HeaderName = HeaderName::from_static("ratelimit");

/// `X-RateLimit-*` and the IETF `RateLimit-Policy` / `RateLimit` pair. They are on every
/// authenticated response, so the five values are written with `itoa` into one buffer and
/// share its allocation (`format!` and a buffer per value were a third of the limiter's
/// cost per request).
pub fn apply_headers(headers: &mut HeaderMap, d: &Decision, now: EpochMs) {
    let mut buf = BytesMut::with_capacity(128);
    let mut int = itoa::Buffer::new();
    let mut ends = [0usize; 5];
    buf.extend_from_slice(int.format(d.limit).as_bytes());
    ends[0] = buf.len();
    buf.extend_from_slice(int.format(d.remaining).as_bytes());
    ends[1] = buf.len();
    buf.extend_from_slice(int.format(d.reset_epoch_s()).as_bytes());
    ends[2] = buf.len();
    buf.extend_from_slice(b"\"default\";q=");
    buf.extend_from_slice(int.format(d.limit).as_bytes());
    buf.extend_from_slice(b";w=");
    buf.extend_from_slice(int.format(d.window_ms / 1000).as_bytes());
    ends[3] = buf.len();
    buf.extend_from_slice(b"\"default\";r=");
    buf.extend_from_slice(int.format(d.remaining).as_bytes());
    buf.extend_from_slice(b";t=");
    buf.extend_from_slice(int.format(d.reset_in_s(now)).as_bytes());
    ends[4] = buf.len();
    let all = buf.freeze();
    headers.reserve(5);
    let mut start = 0;
    for (name, end) in [LIMIT, REMAINING, RESET, POLICY, STATE]
        .into_iter()
        .zip(ends)
    {
        if let Ok(v) = HeaderValue::from_maybe_shared(all.slice(start..end)) {
            headers.insert(name, v);
        }
        start = end;
    }
}

/// 429 `rate_limit_exceeded` with `Retry-After` and the numbers in `details`.
pub fn refused(d: &Decision, now: EpochMs) -> Response {
    let retry = d.retry_after_s();
    ApiError(CoreError::RateLimited {
        code: "rate_limit_exceeded",
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
            "reset_in": d.reset_in_s(now),
            "policy_source": d.source.as_str(),
        }),
    })
    .into_response()
}
