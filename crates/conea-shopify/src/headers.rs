//! The Shopify response headers the client reads.

use reqwest::header::HeaderMap;
use std::time::Duration;

pub const ACCESS_TOKEN: &str = "X-Shopify-Access-Token";
pub const CALL_LIMIT: &str = "X-Shopify-Shop-Api-Call-Limit";
pub const RETRY_AFTER: &str = "Retry-After";
pub const REQUEST_ID: &str = "X-Request-Id";
pub const LINK: &str = "Link";
/// Set when the call used a deprecated API version or feature: a URL of Shopify's notice
/// (REST, and GraphQL before 2025-04) or the list of deprecated fields used
/// (`Shop.products, Shop.productVariants`).
pub const DEPRECATED_REASON: &str = "X-Shopify-API-Deprecated-Reason";

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `X-Shopify-Shop-Api-Call-Limit: 32/40` → `(32, 40)`.
pub fn call_limit(headers: &HeaderMap) -> Option<(f64, f64)> {
    let (used, size) = text(headers, CALL_LIMIT)?.split_once('/')?;
    let used: f64 = used.trim().parse().ok()?;
    let size: f64 = size.trim().parse().ok()?;
    (used.is_finite() && size.is_finite() && used >= 0.0 && size > 0.0).then_some((used, size))
}

/// `Retry-After` as Shopify sends it: seconds, possibly fractional (`2.0`).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: f64 = text(headers, RETRY_AFTER)?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

pub fn request_id(headers: &HeaderMap) -> Option<String> {
    text(headers, REQUEST_ID)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

pub fn link(headers: &HeaderMap) -> Option<&str> {
    text(headers, LINK)
}

/// `X-Shopify-API-Deprecated-Reason`, when present and not blank (at most 500 characters
/// kept).
pub fn deprecated_reason(headers: &HeaderMap) -> Option<String> {
    text(headers, DEPRECATED_REASON)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(500).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn retry_after_is_seconds_even_when_fractional() {
        let d = |v| retry_after(&with("retry-after", v));
        assert_eq!(d("2.0"), Some(Duration::from_secs(2)));
        assert_eq!(d("2"), Some(Duration::from_secs(2)));
        assert_eq!(d("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(d("-1"), None);
        assert_eq!(d("NaN"), None);
        assert_eq!(d("soon"), None);
    }

    #[test]
    fn deprecated_reason_is_read_trimmed_and_blank_is_none() {
        let r = |v| deprecated_reason(&with("x-shopify-api-deprecated-reason", v));
        assert_eq!(
            r(" https://shopify.dev/api/usage/versioning#deprecation-practices "),
            Some("https://shopify.dev/api/usage/versioning#deprecation-practices".into())
        );
        assert_eq!(r("   "), None);
        assert_eq!(deprecated_reason(&HeaderMap::new()), None);
    }

    #[test]
    fn call_limit_reads_used_and_size() {
        let c = |v| call_limit(&with("x-shopify-shop-api-call-limit", v));
        assert_eq!(c("32/40"), Some((32.0, 40.0)));
        assert_eq!(c(" 1 / 80 "), Some((1.0, 80.0)));
        assert_eq!(c("40"), None);
        assert_eq!(c("1/0"), None);
    }
}
