//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. Providers also send a
//! fractional number of seconds (`2.5`) and OpenAI sends `retry-after-ms`; both are accepted.
//! Dates are compared with the injected clock, never the system time.

use conea_core::clock::EpochMs;
use reqwest::header::HeaderMap;
use std::time::{Duration, UNIX_EPOCH};

/// Longest wait we believe; anything larger is treated as this (the router's
/// `max_retry_wait` decides whether to wait at all).
const CEILING: Duration = Duration::from_secs(24 * 3600);

/// Parses one `Retry-After` value against `now_ms`. A date in the past means "now" (zero).
pub fn parse(value: &str, now_ms: EpochMs) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(secs) = v.parse::<f64>() {
        return seconds(secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at_ms = at.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
    let wait_ms = at_ms.saturating_sub(now_ms).max(0) as u64;
    Some(Duration::from_millis(wait_ms).min(CEILING))
}

fn seconds(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(CEILING.as_secs_f64())))
}

/// The wait a response asks for: `retry-after-ms` first (more precise), then `Retry-After`.
pub fn from_headers(headers: &HeaderMap, now_ms: EpochMs) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if let Some(d) = seconds(ms / 1000.0) {
            return Some(d);
        }
    }
    text("retry-after").and_then(|v| parse(v, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const NOW: EpochMs = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT

    #[test]
    fn integer_seconds() {
        assert_eq!(parse("120", NOW), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", NOW), Some(Duration::ZERO));
    }

    #[test]
    fn fractional_seconds() {
        assert_eq!(parse("2.5", NOW), Some(Duration::from_millis(2500)));
        assert_eq!(parse("0.125", NOW), Some(Duration::from_millis(125)));
    }

    #[test]
    fn http_date_is_relative_to_the_clock() {
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:30 GMT", NOW),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn past_date_means_now() {
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:00:00 GMT", NOW),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_negative_and_infinite_are_ignored() {
        assert_eq!(parse("soon", NOW), None);
        assert_eq!(parse("-3", NOW), None);
        assert_eq!(parse("inf", NOW), None);
        assert_eq!(parse("NaN", NOW), None);
        assert_eq!(parse("", NOW), None);
    }

    #[test]
    fn huge_values_are_capped() {
        assert_eq!(parse("1e30", NOW), Some(CEILING));
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("20"));
        assert_eq!(from_headers(&h, NOW), Some(Duration::from_secs(20)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(from_headers(&h, NOW), Some(Duration::from_millis(1500)));
    }
}
