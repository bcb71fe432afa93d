//! Rate-limit headers (`shared/conventions/api.md`) and the 429 answer.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use conea_core::clock::EpochMs;
use conea_core::ratelimit::Decision;
use conea_core::CoreError;
use serde_json::json;

/// A header built from text (the String's buffer becomes the value, no copy).
fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::try_from(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// `X-RateLimit-*` and the IETF `RateLimit-Policy` / `RateLimit` pair. On every
/// authenticated response, so numbers go in without formatting through a String.
pub fn apply_headers(headers: &mut HeaderMap, d: &Decision, now: EpochMs) {
    let window_s = d.window_ms / 1000;
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderValue::from(d.limit),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderValue::from(d.remaining),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-reset"),
        HeaderValue::from(d.reset_epoch_s()),
    );
    set(
        headers,
        "ratelimit-policy",
        format!("\"default\";q={};w={window_s}", d.limit),
    );
    set(
        headers,
        "ratelimit",
        format!("\"default\";r={};t={}", d.remaining, d.reset_in_s(now)),
    );
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
