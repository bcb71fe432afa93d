//! The one HTTP plumbing every provider uses: sending a JSON request with a timeout,
//! classifying failures, reading a JSON body, and turning a streaming body into
//! [`StreamEvent`](crate::types::StreamEvent)s with stall detection. Provider modules only
//! describe their wire format.

pub mod classify;
pub mod decode;
pub mod frames;
pub mod ndjson;
pub mod retry_after;
pub mod sse;
pub mod timeouts;
mod urls;

pub use classify::ErrorHints;
pub use decode::{Step, StreamDecoder, StreamState};
pub use frames::{Frame, Framing};
pub use timeouts::StreamLimits;

use crate::error::UpstreamError;
use crate::types::StreamEvent;
use conea_core::Clock;
use futures::stream::{BoxStream, StreamExt};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Connecting must succeed within this, whatever the per-target timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Error bodies are read up to this many bytes (proxies send whole HTML pages).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request as a provider's wire format describes it.
#[derive(Clone)]
pub struct WireRequest {
    pub url: String,
    /// Extra headers (credentials, versions). Values may be secrets: `Debug` hides them.
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl std::fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("WireRequest")
            .field("url", &self.url)
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

/// A stream of events, ready for the router.
pub type EventStream = BoxStream<'static, StreamEvent>;

/// The shared HTTP client (one connection pool for all providers) and the clock used for
/// `Retry-After` dates.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    urls: Arc<urls::UrlCache>,
    clock: Arc<dyn Clock>,
}

impl HttpClient {
    pub fn new(clock: Arc<dyn Clock>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("conea/", env!("CARGO_PKG_VERSION")))
            // The router retries and falls back itself; reqwest's own retry of refused
            // HTTP/2 streams (not spoken here) cloned every request's headers.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()?;
        Ok(Self {
            client,
            urls: Arc::default(),
            clock,
        })
    }

    /// Sends the request and returns the response if its status is 2xx; any other status
    /// or a transport failure becomes a classified [`UpstreamError`]. `timeout` bounds the
    /// whole exchange (headers and body) when set; streaming callers bound only the wait
    /// for headers and then use [`HttpClient::event_stream`]'s limits.
    pub async fn send(
        &self,
        provider: &str,
        req: WireRequest,
        timeout: Option<Duration>,
        hints: &dyn ErrorHints,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut builder = match self.urls.get(&req.url) {
            Some(url) => self.client.post(url),
            None => self.client.post(&req.url),
        }
        .json(&req.body);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| classify::classify_transport(provider, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after::from_headers(response.headers(), self.clock.now_ms());
        let body = read_capped(response, MAX_ERROR_BODY).await;
        Err(classify::classify_status(
            provider,
            status.as_u16(),
            &body,
            retry_after,
            hints,
        ))
    }

    /// Sends a streaming request: the wait for the response headers is bounded by
    /// `timeout`; the body is then bounded by the stream limits.
    pub async fn send_stream(
        &self,
        provider: &str,
        req: WireRequest,
        timeout: Duration,
        hints: &dyn ErrorHints,
    ) -> Result<reqwest::Response, UpstreamError> {
        match tokio::time::timeout(timeout, self.send(provider, req, None, hints)).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::timeout(
                provider,
                format!("no response within {} ms", timeout.as_millis()),
            )),
        }
    }

    /// A `GET` answered with JSON (model lists): a non-2xx status or a transport failure is
    /// a classified [`UpstreamError`], as for [`HttpClient::send`].
    pub async fn get_json(
        &self,
        provider: &str,
        url: &str,
        headers: &[(&'static str, String)],
        timeout: Duration,
        hints: &dyn ErrorHints,
    ) -> Result<Value, UpstreamError> {
        let mut builder = self.client.get(url).timeout(timeout);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| classify::classify_transport(provider, &e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after::from_headers(response.headers(), self.clock.now_ms());
            let body = read_capped(response, MAX_ERROR_BODY).await;
            return Err(classify::classify_status(
                provider,
                status.as_u16(),
                &body,
                retry_after,
                hints,
            ));
        }
        self.read_json(provider, response).await
    }

    /// Reads a whole JSON body (of a 2xx response).
    pub async fn read_json(
        &self,
        provider: &str,
        response: reqwest::Response,
    ) -> Result<Value, UpstreamError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify::classify_transport(provider, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError::malformed(provider, e))
    }

    /// The events of a streaming response: framed, decoded, with idle and total limits.
    /// Dropping the returned stream drops the response, which closes the connection.
    pub fn event_stream(
        &self,
        provider: &str,
        response: reqwest::Response,
        framing: Framing,
        decoder: Box<dyn StreamDecoder>,
        limits: StreamLimits,
    ) -> EventStream {
        let name = provider.to_owned();
        let bytes = response
            .bytes_stream()
            .map(move |r| r.map_err(|e| classify::classify_transport(&name, &e)));
        let limited = timeouts::with_limits(bytes, provider, limits);
        decode::events(provider, limited, framing, decoder).boxed()
    }
}

/// Up to `cap` bytes of a body; a body that breaks off yields what was read.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk[..chunk.len().min(cap - out.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    out
}
