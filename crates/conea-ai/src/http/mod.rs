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
use bytes::Bytes;
use classify::Transport;
use conea_core::Clock;
use futures::stream::{BoxStream, StreamExt};
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Connecting must succeed within this, whatever the per-target timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keep-alive probes on provider connections (the values reqwest uses).
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

/// Error bodies are read up to this many bytes (proxies send whole HTML pages).
const MAX_ERROR_BODY: usize = 64 * 1024;

const CLIENT_NAME: &str = concat!("conea/", env!("CARGO_PKG_VERSION"));

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;
type Direct =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The HTTP client could not be built (its TLS settings were refused).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the AI providers' HTTP client: {0}")]
pub struct ClientError(String);

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

/// A 2xx response of a provider: status and headers read, the body not yet. When the
/// request had a timeout, reading the body is bounded by what is left of it.
pub struct Response {
    inner: http::Response<Body>,
    deadline: Option<Instant>,
    url: String,
}

impl Response {
    pub fn status(&self) -> http::StatusCode {
        self.inner.status()
    }

    pub fn headers(&self) -> &http::HeaderMap {
        self.inner.headers()
    }
}

/// The shared HTTP client (one connection pool for all providers) and the clock used for
/// `Retry-After` dates.
///
/// Requests go out on hyper's client (hyper-util's pooled client over rustls with the
/// webpki roots, the TLS reqwest brings). reqwest carries only the requests the
/// environment's proxy settings send through a proxy: it speaks to proxies (CONNECT
/// tunnels, credentials) and hyper's client does not. On the direct path, reqwest's layers
/// (its URL parsed again twice for the redirect policy and the response, a redirect and a
/// retry layer that a provider call never uses, the body boxed): going around them took
/// 12.8 % off the instructions of a proxied completion.
#[derive(Clone)]
pub struct HttpClient {
    direct: Direct,
    proxied: reqwest::Client,
    urls: Arc<urls::UrlCache>,
    clock: Arc<dyn Clock>,
}

impl HttpClient {
    pub fn new(clock: Arc<dyn Clock>) -> Result<Self, ClientError> {
        Self::with_proxies(clock, Matcher::from_env(), reqwest::Client::builder())
    }

    /// `proxies` decides which URLs go through a proxy, and `proxied` is the client of
    /// those (configured with the same proxies).
    fn with_proxies(
        clock: Arc<dyn Clock>,
        proxies: Matcher,
        proxied: reqwest::ClientBuilder,
    ) -> Result<Self, ClientError> {
        let proxied = proxied
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(CLIENT_NAME)
            // The router retries and falls back itself; reqwest's own retry of refused
            // HTTP/2 streams (not spoken here) cloned every request's headers.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Self {
            direct: direct_client()?,
            proxied,
            urls: Arc::new(urls::UrlCache::new(proxies)),
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
    ) -> Result<Response, UpstreamError> {
        let body = serde_json::to_vec(&req.body).map_err(|e| {
            classify::classify_transport(provider, Transport::Request, Some(&req.url), &e)
        })?;
        let out = Outgoing {
            method: http::Method::POST,
            url: req.url,
            headers: &req.headers,
            body: Some(body),
        };
        self.request(provider, out, timeout, hints).await
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
        let out = Outgoing {
            method: http::Method::GET,
            url: url.to_owned(),
            headers,
            body: None,
        };
        let response = self.request(provider, out, Some(timeout), hints).await?;
        self.read_json(provider, response).await
    }

    /// The exchange of [`HttpClient::send`] and [`HttpClient::get_json`]: the response
    /// headers within `timeout`, and a non-2xx status read and classified.
    async fn request(
        &self,
        provider: &str,
        out: Outgoing<'_>,
        timeout: Option<Duration>,
        hints: &dyn ErrorHints,
    ) -> Result<Response, UpstreamError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let exchange = self.exchange(provider, out.method, &out.url, out.headers, out.body);
        let Some(inner) = within(deadline, exchange).await else {
            return Err(timed_out(provider, &out.url, timeout));
        };
        let response = Response {
            inner: inner?,
            deadline,
            url: out.url,
        };
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

    /// One request out, on the direct client or (for a proxied or unusual URL) reqwest's.
    async fn exchange(
        &self,
        provider: &str,
        method: http::Method,
        url: &str,
        headers: &[(&'static str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let target = self.urls.get(url).filter(|t| !t.proxied);
        let Some(target) = target else {
            let mut builder = self.proxied.request(method, url);
            if let Some(body) = body {
                builder = builder.header(CONTENT_TYPE, "application/json").body(body);
            }
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| classify::classify_reqwest(provider, &e))?;
            return Ok(boxed(http::Response::from(response)));
        };
        let request = build_request(method, target.uri, headers, body).map_err(|e| {
            classify::classify_transport(provider, Transport::Request, Some(url), &e)
        })?;
        let response = self.direct.request(request).await.map_err(|e| {
            let failure = if e.is_connect() {
                Transport::Connect
            } else {
                Transport::Request
            };
            classify::classify_transport(provider, failure, Some(url), &e)
        })?;
        Ok(boxed(response))
    }

    /// Sends a streaming request: the wait for the response headers is bounded by
    /// `timeout`; the body is then bounded by the stream limits.
    pub async fn send_stream(
        &self,
        provider: &str,
        req: WireRequest,
        timeout: Duration,
        hints: &dyn ErrorHints,
    ) -> Result<Response, UpstreamError> {
        match tokio::time::timeout(timeout, self.send(provider, req, None, hints)).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::timeout(
                provider,
                format!("no response within {} ms", timeout.as_millis()),
            )),
        }
    }

    /// Reads a whole JSON body (of a 2xx response), within what is left of the request's
    /// timeout.
    pub async fn read_json(
        &self,
        provider: &str,
        response: Response,
    ) -> Result<Value, UpstreamError> {
        let Response {
            inner,
            deadline,
            url,
        } = response;
        let Some(collected) = within(deadline, inner.into_body().collect()).await else {
            return Err(UpstreamError::timeout(
                provider,
                format!("timed out: {url}: the response body did not arrive in time"),
            ));
        };
        let bytes = collected
            .map_err(|e| classify::classify_transport(provider, Transport::Body, Some(&url), &*e))?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError::malformed(provider, e))
    }

    /// The events of a streaming response: framed, decoded, with idle and total limits.
    /// Dropping the returned stream drops the response, which closes the connection.
    pub fn event_stream(
        &self,
        provider: &str,
        response: Response,
        framing: Framing,
        decoder: Box<dyn StreamDecoder>,
        limits: StreamLimits,
    ) -> EventStream {
        let name = provider.to_owned();
        let bytes = http_body_util::BodyDataStream::new(response.inner.into_body()).map(move |r| {
            r.map_err(|e| classify::classify_transport(&name, Transport::Body, None, &*e))
        });
        let limited = timeouts::with_limits(bytes, provider, limits);
        decode::events(provider, limited, framing, decoder).boxed()
    }
}

/// A request as [`HttpClient::request`] sends it.
struct Outgoing<'a> {
    method: http::Method,
    url: String,
    headers: &'a [(&'static str, String)],
    body: Option<Vec<u8>>,
}

/// `fut`'s output, or `None` when `deadline` passed first (no deadline: no limit).
async fn within<F: std::future::Future>(deadline: Option<Instant>, fut: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// Either client's response, its body boxed to one type.
fn boxed<B>(response: http::Response<B>) -> http::Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(|b| b.map_err(Into::into).boxed_unsync())
}

/// hyper's pooled client over rustls: HTTP/1.1 (what reqwest spoke to providers here),
/// idle connections kept 90 s, no Nagle delay, TCP keep-alive.
fn direct_client() -> Result<Direct, ClientError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ClientError(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    tcp.set_keepalive(Some(TCP_KEEPALIVE));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector),
    )
}

/// The request as the direct client sends it: the headers reqwest sent (`accept`,
/// `user-agent`, `content-type` with a body) and the provider's own.
fn build_request(
    method: http::Method,
    uri: http::Uri,
    headers: &[(&'static str, String)],
    body: Option<Vec<u8>>,
) -> Result<http::Request<Full<Bytes>>, http::Error> {
    let mut request = http::Request::builder().method(method).uri(uri);
    if let Some(h) = request.headers_mut() {
        h.insert(ACCEPT, HeaderValue::from_static("*/*"));
        h.insert(USER_AGENT, HeaderValue::from_static(CLIENT_NAME));
        if body.is_some() {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    request.body(Full::new(body.map(Bytes::from).unwrap_or_default()))
}

fn timed_out(provider: &str, url: &str, timeout: Option<Duration>) -> UpstreamError {
    let ms = timeout.map_or(0, |t| t.as_millis());
    UpstreamError::timeout(
        provider,
        format!("timed out: {url}: no response within {ms} ms"),
    )
}

/// Up to `cap` bytes of a body, within the request's deadline; a body that breaks off or
/// runs out of time yields what was read.
async fn read_capped(response: Response, cap: usize) -> Vec<u8> {
    let mut body = response.inner.into_body();
    let mut out = Vec::new();
    let read = async {
        while out.len() < cap {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(chunk) = frame.into_data() {
                        out.extend_from_slice(&chunk[..chunk.len().min(cap - out.len())]);
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    // Out of time, what was read is kept.
    let _ = within(response.deadline, read).await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;

    struct NoHints;
    impl ErrorHints for NoHints {
        fn context_length(
            &self,
            _status: u16,
            _message: &str,
            _body: Option<&Value>,
        ) -> Option<crate::error::ContextInfo> {
            None
        }
    }

    /// A server of one connection: reads a request head, writes `reply`, then keeps the
    /// connection open. Yields the head it read.
    async fn one_reply(reply: &'static [u8]) -> (String, oneshot::Receiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            socket.write_all(reply).await.unwrap();
            futures::future::pending::<()>().await;
        });
        (format!("http://{addr}"), rx)
    }

    fn client() -> HttpClient {
        HttpClient::with_proxies(
            Arc::new(conea_core::clock::FakeClock::new(0)),
            Matcher::builder().build(),
            reqwest::Client::builder().no_proxy(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_body_that_stops_after_the_headers_times_out_within_the_request_timeout() {
        let (base, _head) = one_reply(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\":",
        )
        .await;
        let http = client();
        let req = WireRequest {
            url: format!("{base}/v1/chat/completions"),
            headers: vec![("authorization", "Bearer sk-test".to_owned())],
            body: serde_json::json!({"model": "m"}),
        };
        let response = http
            .send("openai", req, Some(Duration::from_millis(300)), &NoHints)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let e = http.read_json("openai", response).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
        assert!(e.message.contains("/v1/chat/completions"), "{e}");
    }

    #[tokio::test]
    async fn the_direct_client_sends_the_provider_headers_and_a_json_body() {
        let (base, head) = one_reply(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        )
        .await;
        let http = client();
        let req = WireRequest {
            url: format!("{base}/v1/messages"),
            headers: vec![
                ("x-api-key", "sk-ant".to_owned()),
                ("anthropic-version", "2023-06-01".to_owned()),
            ],
            body: serde_json::json!({"model": "m"}),
        };
        let response = http
            .send("anthropic", req, Some(Duration::from_secs(5)), &NoHints)
            .await
            .unwrap();
        assert_eq!(
            http.read_json("anthropic", response).await.unwrap(),
            serde_json::json!({})
        );
        let head = head.await.unwrap().to_ascii_lowercase();
        assert!(head.starts_with("post /v1/messages http/1.1\r\n"), "{head}");
        for line in [
            "x-api-key: sk-ant",
            "anthropic-version: 2023-06-01",
            "content-type: application/json",
            "content-length: 13",
            "user-agent: conea/",
        ] {
            assert!(head.contains(line), "{line} missing from {head}");
        }
    }

    #[tokio::test]
    async fn a_url_the_proxy_settings_name_goes_through_the_proxy() {
        let (proxy, head) = one_reply(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"data\":[]}",
        )
        .await;
        let http = HttpClient::with_proxies(
            Arc::new(conea_core::clock::FakeClock::new(0)),
            Matcher::builder().http(proxy.as_str()).build(),
            reqwest::Client::builder().proxy(reqwest::Proxy::http(proxy.as_str()).unwrap()),
        )
        .unwrap();
        let models = http
            .get_json(
                "openai",
                "http://api.provider.invalid/v1/models",
                &[("authorization", "Bearer sk-test".to_owned())],
                Duration::from_secs(5),
                &NoHints,
            )
            .await
            .unwrap();
        assert_eq!(models, serde_json::json!({"data": []}));
        let head = head.await.unwrap();
        assert!(
            head.starts_with("GET http://api.provider.invalid/v1/models HTTP/1.1\r\n"),
            "the proxy is asked for the absolute URL: {head}"
        );
    }
}
