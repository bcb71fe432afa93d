//! Conea's AI gateway: clients for OpenAI, Anthropic, Cohere, Gemini and Ollama over one
//! HTTP plumbing, and the router in front of them (aliases, fallback, retries with backoff,
//! circuit breakers, streaming with stall detection).
//!
//! Layers, each knowing only the one below:
//! - [`types`]: the provider-neutral request, response and stream events;
//! - [`http`]: sending, timeouts, failure classification, `Retry-After`, SSE and NDJSON
//!   framing, stall detection — shared by every provider;
//! - [`providers`]: one module per wire format, behind the [`Provider`] trait;
//! - [`breaker`], [`backoff`]: provider health on the injected clock; retry waits through
//!   an injected [`Sleeper`];
//! - [`config`], [`router`]: what to call, in which order, and what to answer.
//!
//! The HTTP edge builds one [`Router`] from [`AiConfig::load`] and maps [`GatewayError`]
//! with its `code()`, `class()` and `details()` (or `into_core()`).

pub mod backoff;
pub mod breaker;
pub mod capabilities;
pub mod config;
pub mod embedding;
pub mod error;
pub mod gateway;
pub mod http;
pub mod install;
pub mod providers;
pub mod router;
pub mod types;
pub mod usage;
pub mod usage_writer;

pub use backoff::{FakeClockSleeper, RetryPolicy, Sleeper, TokioSleeper};
pub use breaker::{BreakerSettings, HealthStatus};
pub use capabilities::Unsupported;
pub use config::{AiConfig, Target};
pub use embedding::{EmbeddingRequest, EmbeddingResponse};
pub use error::{ContextInfo, ErrorKind, UpstreamError};
pub use gateway::Gateway;
pub use http::EventStream;
pub use providers::{CallOptions, Provider, ProviderKind};
pub use router::{
    Attempt, ErrorClass, GatewayError, ModelList, Outcome, RoutableModel, RoutedStream, Router,
    UsageSink,
};
pub use types::{
    ChatRequest, ChatResponse, Fallback, FinishReason, Image, ImageSource, Message, Part,
    ResponseFormat, Role, StreamEvent, ToolCall, ToolChoice, ToolSpec, Usage,
};
