//! The providers. [`Provider`] is what the router calls; [`Wire`] is what a provider module
//! writes: only its wire format (request body and headers, response and stream-event
//! mapping, context-length detection). [`HttpProvider`] joins a `Wire` to the shared HTTP
//! plumbing, so no provider repeats sending, timeouts or error classification.

pub mod anthropic;
pub mod cohere;
pub mod embeddings;
pub mod gemini;
pub mod models;
pub mod ollama;
pub mod openai;

use crate::embedding::{EmbeddingRequest, EmbeddingResponse};
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

    /// The chat models the provider serves, from its own "list models" call (see
    /// [`models`]). A provider that cannot list them answers an empty list: its models
    /// are then routed by name prefix only.
    async fn list_models(&self, timeout: Duration) -> Result<Vec<String>, UpstreamError> {
        let _ = timeout;
        Ok(Vec::new())
    }

    /// Embeds `req.input` with `model` (see [`embeddings`]). A provider without
    /// embeddings refuses with an invalid-request error.
    async fn embed(
        &self,
        model: &str,
        req: &EmbeddingRequest,
        timeout: Duration,
    ) -> Result<EmbeddingResponse, UpstreamError> {
        let _ = (model, req, timeout);
        Err(UpstreamError::new(
            self.name(),
            crate::error::ErrorKind::InvalidRequest,
            "this provider offers no embeddings",
        ))
    }
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

    async fn embed(
        &self,
        model: &str,
        req: &EmbeddingRequest,
        timeout: Duration,
    ) -> Result<EmbeddingResponse, UpstreamError> {
        let Some(kind) = ProviderKind::parse(W::NAME) else {
            return Err(UpstreamError::new(
                W::NAME,
                crate::error::ErrorKind::InvalidRequest,
                "this provider offers no embeddings",
            ));
        };
        let wire = embeddings::request(kind, &self.endpoint, model, req)?;
        let response = self
            .http
            .send(W::NAME, wire, Some(timeout), &self.wire)
            .await?;
        let body = self.http.read_json(W::NAME, response).await?;
        embeddings::parse(kind, model, req.input.len(), &body)
    }

    async fn list_models(&self, timeout: Duration) -> Result<Vec<String>, UpstreamError> {
        let Some(kind) = ProviderKind::parse(W::NAME) else {
            return Ok(Vec::new());
        };
        let mut all = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..models::MAX_PAGES {
            let (url, headers) = models::request(kind, &self.endpoint, page.as_deref());
            let body = self
                .http
                .get_json(W::NAME, &url, &headers, timeout, &self.wire)
                .await?;
            let (names, next) = models::parse(kind, &body)?;
            all.extend(names);
            match next {
                Some(token) if Some(&token) != page.as_ref() => page = Some(token),
                _ => break,
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
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

    /// The variable naming the provider's model in `default`.
    pub fn default_model_variable(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OPENAI_DEFAULT_MODEL",
            ProviderKind::Anthropic => "ANTHROPIC_DEFAULT_MODEL",
            ProviderKind::Cohere => "COHERE_DEFAULT_MODEL",
            ProviderKind::Gemini => "GEMINI_DEFAULT_MODEL",
            ProviderKind::Ollama => "OLLAMA_DEFAULT_MODEL",
        }
    }

    /// The provider's model in `default` unless configured.
    pub fn default_model(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "gpt-4o-mini",
            ProviderKind::Anthropic => "claude-3-5-haiku-latest",
            ProviderKind::Cohere => "command-r",
            ProviderKind::Gemini => "gemini-1.5-flash",
            ProviderKind::Ollama => "llama3.2",
        }
    }

    /// The provider a bare model name belongs to by its prefix, when discovery cannot
    /// tell: `gpt-`, `o1`, `o3`, `o4`, `chatgpt-`, `text-embedding-` (OpenAI), `claude-`
    /// (Anthropic), `command`, `embed-` (Cohere), `gemini-`, `text-embedding-00…` (Gemini).
    pub fn by_model_prefix(model: &str) -> Option<Self> {
        const TABLE: [(&str, ProviderKind); 11] = [
            ("text-embedding-00", ProviderKind::Gemini),
            ("text-embedding-", ProviderKind::OpenAi),
            ("embed-", ProviderKind::Cohere),
            ("gpt-", ProviderKind::OpenAi),
            ("o1", ProviderKind::OpenAi),
            ("o3", ProviderKind::OpenAi),
            ("o4", ProviderKind::OpenAi),
            ("chatgpt-", ProviderKind::OpenAi),
            ("claude-", ProviderKind::Anthropic),
            ("command", ProviderKind::Cohere),
            ("gemini-", ProviderKind::Gemini),
        ];
        TABLE
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix))
            .map(|(_, k)| *k)
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

    /// A value inside a JSON document by a path of literal keys and array indexes
    /// (`/choices/0/message`). Unlike `Value::pointer` it allocates nothing: that one unescapes
    /// every segment (`~0`, `~1`) with two `str::replace`, which made four lookups 4 % of a
    /// proxied completion's instructions. The paths here never hold `~`.
    pub trait JsonPath {
        fn at(&self, path: &str) -> Option<&Value>;
    }

    impl JsonPath for Value {
        fn at(&self, path: &str) -> Option<&Value> {
            let Some(rest) = path.strip_prefix('/') else {
                return path.is_empty().then_some(self);
            };
            rest.split('/').try_fold(self, |v, key| match v {
                Value::Object(m) => m.get(key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            })
        }
    }
    #[cfg(test)]
    #[test]
    fn a_path_reads_what_a_json_pointer_reads() {
        let v = serde_json::json!({"choices": [{"message": {"content": "hi"}}], "n": 3});
        for path in [
            "",
            "/choices/0/message/content",
            "/n",
            "/choices/1",
            "/n/x",
            "/missing",
            "/choices/x",
        ] {
            assert_eq!(v.at(path), v.pointer(path), "{path}");
        }
        assert_eq!(v.at("choices"), None, "a path starts with /");
    }

    /// A required string field, or a "malformed response" error naming it.
    pub fn str_at<'a>(
        provider: &str,
        v: &'a Value,
        pointer: &str,
    ) -> Result<&'a str, UpstreamError> {
        v.at(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::malformed(provider, format!("missing `{pointer}`")))
    }

    pub fn u64_at(v: &Value, pointer: &str) -> Option<u64> {
        v.at(pointer).and_then(Value::as_u64)
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
