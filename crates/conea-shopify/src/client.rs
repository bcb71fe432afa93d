//! [`ShopifyClient`]: one shop's Admin API (REST and GraphQL) over the shared
//! [`Transport`](crate::http), built with [`ShopifyClient::builder`].

use crate::deprecation::DeprecationObserver;
use crate::error::{ErrorKind, ShopifyApiError};
use crate::http::{Answer, Budget, Call, Transport};
use crate::retry::RetryPolicy;
use crate::shop::{is_valid_api_version, is_valid_shop_domain};
use crate::sleep::{Sleeper, TokioSleeper};
use crate::throttle::{RestLimits, Throttles};
use reqwest::header::HeaderValue;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Whole-request timeout of the client built by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout of the client built by default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Records per REST page (Shopify's maximum).
pub const MAX_PAGE_SIZE: u32 = 250;

/// A client for one shop. Cheap to clone; clones share the connection pool and the
/// throttle registry.
#[derive(Clone)]
pub struct ShopifyClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    /// `{base}/admin/api/{version}/`
    api_root: Url,
    api_version: String,
    page_size: u32,
}

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("shop", &self.inner.transport.shop)
            .field("api_root", &self.inner.api_root.as_str())
            .finish_non_exhaustive()
    }
}

impl ShopifyClient {
    /// Starts a client for `shop_domain` (`name.myshopify.com`) with its Admin API access
    /// token and API version (`YYYY-MM`). `throttles` is the process-wide registry: pass the
    /// same one to every client so all tasks share each shop's bucket.
    pub fn builder(
        shop_domain: impl Into<String>,
        access_token: impl Into<String>,
        api_version: impl Into<String>,
        throttles: Throttles,
    ) -> ShopifyClientBuilder {
        ShopifyClientBuilder {
            shop_domain: shop_domain.into(),
            access_token: access_token.into(),
            api_version: api_version.into(),
            throttles,
            base_url: None,
            http: None,
            sleeper: Arc::new(TokioSleeper),
            policy: RetryPolicy::default(),
            limits: RestLimits::default(),
            page_size: MAX_PAGE_SIZE,
            timeout: DEFAULT_TIMEOUT,
            deprecations: None,
        }
    }

    pub fn shop_domain(&self) -> &str {
        &self.inner.transport.shop
    }

    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    pub(crate) fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The URL of `path` (such as `products.json`) under the versioned Admin API root.
    pub(crate) fn endpoint(&self, path: &str) -> Result<Url, ShopifyApiError> {
        self.inner.api_root.join(path).map_err(|e| {
            ShopifyApiError::new(ErrorKind::InvalidConfig, format!("bad path {path}: {e}"))
        })
    }

    /// GETs a REST path with query parameters; throttled, retried, classified.
    pub(crate) async fn rest_get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer, ShopifyApiError> {
        let mut url = self.endpoint(path)?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.inner
            .transport
            .send(&Call {
                method: Method::GET,
                url,
                body: None,
                budget: Budget::Rest,
                idempotent: true,
            })
            .await
    }

    /// GETs a REST path and returns its JSON body.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ShopifyApiError> {
        let answer = self.rest_get(path, query).await?;
        parse_json(&answer)
    }
}

/// The JSON body of a 2xx answer.
pub(crate) fn parse_json(answer: &Answer) -> Result<Value, ShopifyApiError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        ShopifyApiError::new(ErrorKind::Malformed, format!("the answer is not JSON: {e}"))
            .with_request_id(answer.request_id.clone())
    })
}

/// Options of a [`ShopifyClient`]; only the shop, token, version and registry are required.
pub struct ShopifyClientBuilder {
    shop_domain: String,
    access_token: String,
    api_version: String,
    throttles: Throttles,
    base_url: Option<String>,
    http: Option<reqwest::Client>,
    sleeper: Arc<dyn Sleeper>,
    policy: RetryPolicy,
    limits: RestLimits,
    page_size: u32,
    timeout: Duration,
    deprecations: Option<Arc<dyn DeprecationObserver>>,
}

impl ShopifyClientBuilder {
    /// Tells `observer` about every answer Shopify flags with
    /// `X-Shopify-API-Deprecated-Reason`.
    pub fn deprecations(mut self, observer: Arc<dyn DeprecationObserver>) -> Self {
        self.deprecations = Some(observer);
        self
    }

    /// Sends to `base` (such as `http://127.0.0.1:4000`, a fake Shopify) instead of
    /// `https://{shop}`; the path `/admin/api/{version}/...` is kept.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base_url = Some(base.into());
        self
    }

    /// Uses this HTTP client (share one connection pool among shops). Its timeouts apply.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How the client waits (tests: a [`FakeSleeper`](crate::FakeSleeper) on the registry's
    /// fake clock).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The REST leak rate of the shop's plan and the margin kept free.
    pub fn rest_limits(mut self, limits: RestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Records per REST page, 1 to 250.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Whole-request timeout of the HTTP client built here (not of one given).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<ShopifyClient, ShopifyApiError> {
        let invalid = |m: String| ShopifyApiError::new(ErrorKind::InvalidConfig, m);
        let shop = self.shop_domain.trim().to_ascii_lowercase();
        if !is_valid_shop_domain(&shop) {
            return Err(invalid(format!(
                "shop domain {:?} is not a *.myshopify.com domain",
                self.shop_domain
            )));
        }
        if !is_valid_api_version(&self.api_version) {
            return Err(invalid(format!(
                "API version {:?} is not YYYY-MM or unstable",
                self.api_version
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(invalid(format!(
                "page size {} is not between 1 and {MAX_PAGE_SIZE}",
                self.page_size
            )));
        }
        if !(self.limits.leak_per_second > 0.0 && self.limits.margin >= 0.0) {
            return Err(invalid("the REST leak rate must be positive".into()));
        }
        let mut token = HeaderValue::from_str(self.access_token.trim())
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("the access token is empty or not header text".into()))?;
        token.set_sensitive(true);
        let base = self.base_url.unwrap_or_else(|| format!("https://{shop}"));
        let api_root = Url::parse(&format!(
            "{}/admin/api/{}/",
            base.trim_end_matches('/'),
            self.api_version
        ))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| invalid(format!("base URL {base:?} is not an http(s) URL")))?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(self.timeout)
                .user_agent(concat!("conea/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| invalid(format!("could not build the HTTP client: {e}")))?,
        };
        Ok(ShopifyClient {
            inner: Arc::new(Inner {
                transport: Transport {
                    http,
                    token,
                    shop,
                    throttles: self.throttles,
                    sleeper: self.sleeper,
                    policy: self.policy,
                    limits: self.limits,
                    api_version: self.api_version.clone(),
                    deprecations: self.deprecations,
                },
                api_root,
                api_version: self.api_version,
                page_size: self.page_size,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::SystemClock;

    fn builder(shop: &str, version: &str) -> ShopifyClientBuilder {
        let throttles = Throttles::new(Arc::new(SystemClock));
        ShopifyClient::builder(shop, "shpat_test", version, throttles)
    }

    #[test]
    fn builds_the_versioned_root_and_rejects_bad_settings() {
        let c = builder("demo.myshopify.com", "2025-01").build().unwrap();
        assert_eq!(
            c.endpoint("products.json").unwrap().as_str(),
            "https://demo.myshopify.com/admin/api/2025-01/products.json"
        );
        let local = builder("demo.myshopify.com", "2025-01")
            .base_url("http://127.0.0.1:9/")
            .build()
            .unwrap();
        assert_eq!(
            local.endpoint("graphql.json").unwrap().as_str(),
            "http://127.0.0.1:9/admin/api/2025-01/graphql.json"
        );
        for (shop, version) in [("evil.com", "2025-01"), ("demo.myshopify.com", "2025-1")] {
            let e = builder(shop, version).build().unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidConfig, "{e}");
        }
        let e = builder("demo.myshopify.com", "2025-01")
            .base_url("ftp://x")
            .build()
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let c = builder("demo.myshopify.com", "2025-01").build().unwrap();
        assert!(!format!("{c:?}").contains("shpat_test"));
    }
}
