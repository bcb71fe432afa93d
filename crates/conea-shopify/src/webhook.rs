//! Webhook deliveries: the HMAC check of the raw body and the delivery headers.
//!
//! Shopify signs the raw request body with HMAC-SHA256 keyed by the app's client secret and
//! sends the base64 digest in `X-Shopify-Hmac-Sha256`. While a secret is being rotated,
//! deliveries may be signed with the previous one for up to an hour, so [`verify`] accepts
//! any of the configured secrets. Header names are matched case-insensitively, both as
//! `X-Shopify-*` (webhooks) and as the unprefixed `Shopify-*` (Events deliveries).

use crate::shop::is_valid_shop_domain;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use conea_core::clock::{parse_rfc3339, EpochMs};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;

/// The base64 HMAC-SHA256 of `body` under `secret`, as Shopify writes it in
/// `X-Shopify-Hmac-Sha256`.
pub fn sign(body: &[u8], secret: &str) -> String {
    digest(body, secret)
        .map(|d| STANDARD.encode(d))
        .unwrap_or_default()
}

/// `None` only if the key were refused, which HMAC never does (any length is a key).
fn digest(body: &[u8], secret: &str) -> Option<[u8; 32]> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    Some(mac.finalize().into_bytes().into())
}

/// Whether `header_hmac_b64` is the signature of `body` under one of `secrets` (the current
/// secret and, during a rotation, the previous one). The comparison is constant-time and
/// every secret is tried, so the timing reveals neither the digest nor which secret matched.
/// Empty secrets never match; a header that is not base64 of 32 bytes never matches.
pub fn verify(body: &[u8], header_hmac_b64: &str, secrets: &[&str]) -> bool {
    let Ok(given) = STANDARD.decode(header_hmac_b64.trim()) else {
        return false;
    };
    if given.len() != 32 {
        return false;
    }
    let mut matched = Choice::from(0);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if let Some(expected) = digest(body, secret) {
            matched |= expected[..].ct_eq(&given[..]);
        }
    }
    matched.into()
}

/// A webhook header that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaderError {
    /// The header, by its `X-Shopify-*` name.
    pub header: &'static str,
    pub problem: &'static str,
}

impl std::fmt::Display for WebhookHeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.header, self.problem)
    }
}

impl std::error::Error for WebhookHeaderError {}

/// What tells one delivery of a shop from another: Shopify's event id (the same across
/// retried and duplicate deliveries), else the webhook id. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeliveryKey(String);

impl DeliveryKey {
    /// `None` for an empty or blank text.
    pub fn new(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        (!text.trim().is_empty()).then_some(DeliveryKey(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DeliveryKey {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeliveryKey::new(value).ok_or("a delivery key must not be empty")
    }
}

impl From<DeliveryKey> for String {
    fn from(value: DeliveryKey) -> String {
        value.0
    }
}

impl PartialEq<&str> for DeliveryKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The headers of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `orders/create`, `products/update`, ...
    pub topic: String,
    /// The shop's permanent domain (checked with [`is_valid_shop_domain`], lower case).
    pub shop_domain: String,
    /// The signature to pass to [`verify`].
    pub hmac: String,
    /// Unique per delivery of a subscription.
    pub webhook_id: Option<String>,
    /// Unique per event: the same across retried and duplicate deliveries.
    pub event_id: Option<String>,
    /// The API version the payload is shaped by.
    pub api_version: Option<String>,
    /// When Shopify triggered the delivery (`None` when absent or not RFC 3339).
    pub triggered_at: Option<EpochMs>,
}

impl WebhookHeaders {
    /// Parses the headers of an HTTP request (axum and reqwest share this `HeaderMap`).
    pub fn from_header_map(headers: &HeaderMap) -> Result<Self, WebhookHeaderError> {
        Self::parse(|name| headers.get(name).and_then(|v| v.to_str().ok()))
    }

    /// Parses `(name, value)` pairs from any source; names are matched case-insensitively.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, WebhookHeaderError> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        Self::parse(|name| {
            pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        })
    }

    /// The key to drop duplicate deliveries by: the event id, else the webhook id.
    pub fn dedup_key(&self) -> DeliveryKey {
        // Parsing guarantees one of the two, trimmed and non-empty.
        DeliveryKey(
            self.event_id
                .clone()
                .or_else(|| self.webhook_id.clone())
                .unwrap_or_default(),
        )
    }

    fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, WebhookHeaderError> {
        // `suffix` is the part after `X-Shopify-` / `Shopify-`.
        let find = |suffix: &str| {
            get(&format!("x-shopify-{suffix}"))
                .or_else(|| get(&format!("shopify-{suffix}")))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let required = |suffix: &str, header: &'static str| {
            find(suffix).ok_or(WebhookHeaderError {
                header,
                problem: "is missing",
            })
        };
        let topic = required("topic", "X-Shopify-Topic")?;
        let shop_domain = required("shop-domain", "X-Shopify-Shop-Domain")?.to_ascii_lowercase();
        if !is_valid_shop_domain(&shop_domain) {
            return Err(WebhookHeaderError {
                header: "X-Shopify-Shop-Domain",
                problem: "is not a *.myshopify.com domain",
            });
        }
        let hmac = required("hmac-sha256", "X-Shopify-Hmac-Sha256")?;
        let webhook_id = find("webhook-id");
        let event_id = find("event-id");
        if webhook_id.is_none() && event_id.is_none() {
            return Err(WebhookHeaderError {
                header: "X-Shopify-Webhook-Id",
                problem: "is missing (and so is X-Shopify-Event-Id)",
            });
        }
        Ok(Self {
            topic,
            shop_domain,
            hmac,
            webhook_id,
            event_id,
            api_version: find("api-version"),
            triggered_at: find("triggered-at").and_then(|t| parse_rfc3339(&t)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_and_rejects_garbage_headers() {
        let sig = sign(b"{}", "secret");
        assert!(verify(b"{}", &sig, &["secret"]));
        assert!(!verify(b"{}", "not base64!", &["secret"]));
        assert!(!verify(b"{}", &STANDARD.encode([0u8; 16]), &["secret"]));
        assert!(!verify(b"{}", &sig, &[]));
        assert!(!verify(b"{}", &sign(b"{}", ""), &[""]));
    }
}
