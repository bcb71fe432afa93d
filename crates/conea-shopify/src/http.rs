//! The one HTTP path every call takes, REST or GraphQL: book the shop's throttle and wait,
//! send with the access token, read the answer, feed the throttle what it said, and retry
//! what is worth retrying — 429 after `Retry-After`, 5xx and connection failures with
//! exponential backoff (bounded) — or classify the failure as a [`ShopifyApiError`].

use crate::deprecation::{Deprecation, DeprecationObserver};
use crate::error::{message_from_body, ErrorKind, ShopifyApiError};
use crate::headers;
use crate::retry::RetryPolicy;
use crate::sleep::Sleeper;
use crate::throttle::{Reservation, RestLimits, Throttles};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The wait after a 429 that names none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Which of the shop's buckets a call spends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Budget {
    Rest,
    /// A GraphQL query of this estimated cost.
    Graphql(f64),
}

pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a Value>,
    pub budget: Budget,
    /// Safe to send twice (reads). Other calls are retried only when they were never
    /// answered for sure: connection refused, 429, `THROTTLED`.
    pub idempotent: bool,
}

/// A 2xx answer.
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: Option<String>,
    /// Still held, so a GraphQL caller can report the cost extension before releasing it.
    pub reservation: Reservation,
}

pub(crate) struct Transport {
    pub http: reqwest::Client,
    /// The access token as a header value marked sensitive (never printed).
    pub token: HeaderValue,
    pub shop: String,
    pub throttles: Throttles,
    pub sleeper: Arc<dyn Sleeper>,
    pub policy: RetryPolicy,
    pub limits: RestLimits,
    /// The API version in the path (for deprecation notices).
    pub api_version: String,
    /// Told when an answer carries `X-Shopify-API-Deprecated-Reason`.
    pub deprecations: Option<Arc<dyn DeprecationObserver>>,
}

enum Failure {
    /// No usable answer: the request may or may not have reached Shopify.
    Transport { error: reqwest::Error },
    /// A non-2xx answer.
    Status {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
}

impl Transport {
    pub async fn send(&self, call: &Call<'_>) -> Result<Answer, ShopifyApiError> {
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            let reservation = match call.budget {
                Budget::Rest => self.throttles.reserve_rest(&self.shop, self.limits),
                Budget::Graphql(cost) => {
                    self.throttles
                        .reserve_graphql(&self.shop, cost, self.limits)?
                }
            };
            self.wait(reservation.wait).await?;
            let failure = match self.attempt(call).await {
                Ok((headers, body)) => {
                    self.observe(&reservation, call.budget, &headers);
                    self.deprecation(&headers, &call.url).await;
                    let request_id = headers::request_id(&headers);
                    return Ok(Answer {
                        headers,
                        body,
                        request_id,
                        reservation,
                    });
                }
                Err(failure) => failure,
            };
            match failure {
                Failure::Transport { error } => {
                    drop(reservation);
                    failures += 1;
                    let retry = call.idempotent || error.is_connect();
                    if retry && failures < self.policy.max_attempts {
                        self.backoff(failures, &call.url, &error.to_string()).await;
                        continue;
                    }
                    return Err(transport_error(&error));
                }
                Failure::Status {
                    status,
                    headers,
                    body,
                } => {
                    self.observe(&reservation, call.budget, &headers);
                    self.deprecation(&headers, &call.url).await;
                    let error = ShopifyApiError::new(
                        ShopifyApiError::kind_of_status(status),
                        message_from_body(&body),
                    )
                    .with_status(status)
                    .with_request_id(headers::request_id(&headers));
                    if status == 429 {
                        throttled += 1;
                        let d = headers::retry_after(&headers).unwrap_or(DEFAULT_RETRY_AFTER);
                        if throttled > self.policy.max_throttle_retries || d > self.policy.max_wait
                        {
                            return Err(error);
                        }
                        tracing::info!(shop = %self.shop, request_id = ?error.request_id,
                            wait_ms = d.as_millis() as u64, "Shopify answered 429; waiting");
                        reservation.block_for(d);
                        continue;
                    }
                    if error.kind == ErrorKind::Server && call.idempotent {
                        failures += 1;
                        if failures < self.policy.max_attempts {
                            drop(reservation);
                            self.backoff(failures, &call.url, &error.to_string()).await;
                            continue;
                        }
                    }
                    return Err(error);
                }
            }
        }
    }

    fn observe(&self, reservation: &Reservation, budget: Budget, headers: &HeaderMap) {
        if budget == Budget::Rest {
            if let Some((used, size)) = headers::call_limit(headers) {
                reservation.observe_rest(used, size);
            }
        }
    }

    /// Hands an answer's deprecation notice, if it has one, to the observer.
    async fn deprecation(&self, headers: &HeaderMap, url: &Url) {
        let (Some(observer), Some(reason)) = (
            self.deprecations.as_ref(),
            headers::deprecated_reason(headers),
        ) else {
            return;
        };
        tracing::warn!(shop = %self.shop, path = url.path(), api_version = %self.api_version,
            reason = %reason, "Shopify flagged a call as deprecated");
        observer
            .deprecated(Deprecation {
                shop: self.shop.clone(),
                api_version: self.api_version.clone(),
                reason,
                endpoint: url.path().to_owned(),
            })
            .await;
    }

    /// Waits a throttle's time, unless it is longer than the policy accepts.
    pub async fn wait(&self, d: Duration) -> Result<(), ShopifyApiError> {
        if d.is_zero() {
            return Ok(());
        }
        if d > self.policy.max_wait {
            return Err(ShopifyApiError::new(
                ErrorKind::Throttled,
                format!(
                    "the shop's rate limit asks for a wait of {} ms, longer than the {} ms accepted",
                    d.as_millis(),
                    self.policy.max_wait.as_millis()
                ),
            ));
        }
        self.sleeper.sleep(d).await;
        Ok(())
    }

    async fn backoff(&self, failure: u32, url: &Url, cause: &str) {
        let d = self.policy.backoff_jittered(failure);
        tracing::warn!(shop = %self.shop, path = url.path(), failure, cause,
            wait_ms = d.as_millis() as u64, "Shopify call failed; retrying");
        self.sleeper.sleep(d).await;
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<(HeaderMap, Bytes), Failure> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(headers::ACCESS_TOKEN, self.token.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = call.body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| Failure::Transport { error })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| Failure::Transport { error })?;
        if (200..300).contains(&status) {
            Ok((headers, body))
        } else {
            Err(Failure::Status {
                status,
                headers,
                body,
            })
        }
    }
}

fn transport_error(error: &reqwest::Error) -> ShopifyApiError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport failure"
    };
    ShopifyApiError::new(ErrorKind::Transport, format!("{what}: {error}"))
}
