//! The providers. [`Provider`] is what the router calls; [`Wire`] is what a provider module
//! writes: only its wire format (request body and headers, response and stream-event
//! mapping, context-length detection). [`HttpProvider`] joins a `Wire` to the shared HTTP
//! plumbing, so no provider repeats sending, timeouts or error classification.

pub mod anthropic;
pub mod cohere;
pub mod gemini;
pub mod ollama;
pub mod openai;

use crate::error::UpstreamError;
use crate::http::{
    ErrorHints, EventStream, Framing, HttpClient, StreamDecoder, StreamLimits, WireRequest,
};
use crate::types::{ChatRequest, ChatResponse};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Per-call limits, from the target and the `[ai]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// A complete call must finish within this; a streaming call must get its response
    /// headers within this.
    pub timeout: Duration,
    /// Limits on a streaming body.
    pub stream: StreamLimits,
}

/// One AI provider, as the router sees it.
#[async_trait]
pub trait Provider: Send + Sync {
    /// `openai`, `anthropic`, `cohere`, `gemini` or `ollama` (the `provider/` of a target).
    fn name(&self) -> &str;

    async fn complete(
        &self,
        model: &str,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<ChatResponse, UpstreamError>;

    /// Starts a stream. `Err` means nothing was received (the router may fall back); once
    /// `Ok`, failures arrive as a final `StreamEvent::Error`. Implementations must honour
    /// `opts.stream` and close the upstream request when the stream is dropped.
    async fn stream(
        &self,
        model: &str,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<EventStream, UpstreamError>;
}

/// Where a provider is reached and with which key.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Without a trailing `/`.
    pub base_url: String,
    pub api_key: Option<String>,
}

impl Endpoint {
    pub fn new(base_url: &str, api_key: Option<String>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
        }
    }

    /// The key, or empty (providers that need one are only built with one).
    pub fn key(&self) -> &str {
        self.api_key.as_deref().unwrap_or_default()
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A provider's wire format.
pub trait Wire: ErrorHints + Send + Sync + 'static {
    const NAME: &'static str;
    const FRAMING: Framing;

    fn request(&self, ep: &Endpoint, model: &str, req: &ChatRequest, stream: bool) -> WireRequest;

    /// Maps a 2xx body of a complete call.
    fn parse_response(&self, model: &str, body: &Value) -> Result<ChatResponse, UpstreamError>;

    /// A fresh decoder for one streaming response.
    fn decoder(&self) -> Box<dyn StreamDecoder>;
}

/// A [`Wire`] format spoken over the shared [`HttpClient`].
pub struct HttpProvider<W: Wire> {
    wire: W,
    endpoint: Endpoint,
    http: HttpClient,
}

impl<W: Wire> HttpProvider<W> {
    pub fn new(wire: W, endpoint: Endpoint, http: HttpClient) -> Self {
        Self {
            wire,
            endpoint,
            http,
        }
    }
}

#[async_trait]
impl<W: Wire> Provider for HttpProvider<W> {
    fn name(&self) -> &str {
        W::NAME
    }

    async fn complete(
        &self,
        model: &str,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<ChatResponse, UpstreamError> {
        let wire = self.wire.request(&self.endpoint, model, req, false);
        let response = self
            .http
            .send(W::NAME, wire, Some(opts.timeout), &self.wire)
            .await?;
        let body = self.http.read_json(W::NAME, response).await?;
        self.wire.parse_response(model, &body)
    }

    async fn stream(
        &self,
        model: &str,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<EventStream, UpstreamError> {
        let wire = self.wire.request(&self.endpoint, model, req, true);
        let response = self
            .http
            .send_stream(W::NAME, wire, opts.timeout, &self.wire)
            .await?;
        Ok(self.http.event_stream(
            W::NAME,
            response,
            W::FRAMING,
            self.wire.decoder(),
            opts.stream,
        ))
    }
}

/// The providers Conea speaks, with their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    Cohere,
    Gemini,
    Ollama,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Cohere,
        ProviderKind::Gemini,
        ProviderKind::Ollama,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => openai::OpenAi::NAME,
            ProviderKind::Anthropic => anthropic::Anthropic::NAME,
            ProviderKind::Cohere => cohere::Cohere::NAME,
            ProviderKind::Gemini => gemini::Gemini::NAME,
            ProviderKind::Ollama => ollama::Ollama::NAME,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The variable that turns the provider on: its API key (Ollama: its URL).
    pub fn key_variable(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
            ProviderKind::Cohere => "COHERE_API_KEY",
            ProviderKind::Gemini => "GEMINI_API_KEY",
            ProviderKind::Ollama => "OLLAMA_URL",
        }
    }

    /// The variable that overrides the base URL (tests point it at local fakes).
    pub fn base_url_variable(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OPENAI_BASE_URL",
            ProviderKind::Anthropic => "ANTHROPIC_BASE_URL",
            ProviderKind::Cohere => "COHERE_BASE_URL",
            ProviderKind::Gemini => "GEMINI_BASE_URL",
            ProviderKind::Ollama => "OLLAMA_BASE_URL",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => openai::DEFAULT_BASE_URL,
            ProviderKind::Anthropic => anthropic::DEFAULT_BASE_URL,
            ProviderKind::Cohere => cohere::DEFAULT_BASE_URL,
            ProviderKind::Gemini => gemini::DEFAULT_BASE_URL,
            ProviderKind::Ollama => ollama::DEFAULT_BASE_URL,
        }
    }

    pub fn needs_key(self) -> bool {
        self != ProviderKind::Ollama
    }

    /// The client for this provider over the shared plumbing.
    pub fn build(self, endpoint: Endpoint, http: HttpClient) -> Arc<dyn Provider> {
        match self {
            ProviderKind::OpenAi => Arc::new(HttpProvider::new(openai::OpenAi, endpoint, http)),
            ProviderKind::Anthropic => {
                Arc::new(HttpProvider::new(anthropic::Anthropic, endpoint, http))
            }
            ProviderKind::Cohere => Arc::new(HttpProvider::new(cohere::Cohere, endpoint, http)),
            ProviderKind::Gemini => Arc::new(HttpProvider::new(gemini::Gemini, endpoint, http)),
            ProviderKind::Ollama => Arc::new(HttpProvider::new(ollama::Ollama, endpoint, http)),
        }
    }
}

/// Runs a wire's decoder over a whole streamed body (unit tests of stream translation).
#[cfg(test)]
pub(crate) async fn decode_all<W: Wire>(
    wire: &W,
    body: &'static str,
) -> Vec<crate::types::StreamEvent> {
    use futures::StreamExt;
    let chunks = futures::stream::iter(
        body.as_bytes()
            .chunks(7)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    crate::http::decode::events(W::NAME, chunks, W::FRAMING, wire.decoder())
        .collect()
        .await
}

/// Shared helpers for the wire modules.
pub(crate) mod util {
    use crate::error::UpstreamError;
    use serde_json::Value;

    /// A required string field, or a "malformed response" error naming it.
    pub fn str_at<'a>(
        provider: &str,
        v: &'a Value,
        pointer: &str,
    ) -> Result<&'a str, UpstreamError> {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::malformed(provider, format!("missing `{pointer}`")))
    }

    pub fn u64_at(v: &Value, pointer: &str) -> Option<u64> {
        v.pointer(pointer).and_then(Value::as_u64)
    }

    /// A stable call id for providers that give none: `call_{seed}_{index}`, kept to
    /// `[A-Za-z0-9_-]` (what Anthropic accepts for ids).
    pub fn synth_call_id(seed: &str, index: usize) -> String {
        let seed: String = seed
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("call_{seed}_{index}")
    }

    /// The arguments as a JSON object (wires that need one): an object as is, JSON text
    /// of an object parsed, anything else an empty object.
    pub fn arguments_object(args: &Value) -> Value {
        match args {
            Value::Object(_) => args.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => v,
                _ => Value::Object(serde_json::Map::new()),
            },
            _ => Value::Object(serde_json::Map::new()),
        }
    }

    /// Parses a frame's JSON, or a "malformed stream" error.
    pub fn frame_json(provider: &str, data: &str) -> Result<Value, UpstreamError> {
        serde_json::from_str(data).map_err(|e| UpstreamError::malformed(provider, e))
    }
}
