//! Errors of this crate, in two layers:
//! - [`UpstreamError`]: one failed call to one provider, classified into an [`ErrorKind`]
//!   that decides what the router does next (retry, fall back, stop);
//! - [`GatewayError`]: what the router answers when it gives up. Its `code()` values are
//!   stable snake_case strings for clients; [`GatewayError::into_core`] turns it into the
//!   domain error the HTTP edge maps to a status.
//!
//! Messages never carry credentials: request URLs hold no keys (every provider takes its key
//! in a header) and response bodies are cut to a short excerpt.

use crate::router::Attempt;
use conea_core::CoreError;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;

/// What went wrong upstream, in the terms the router acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 429: the provider limits us; honour `Retry-After`.
    RateLimited,
    /// 529, 503: the provider is overloaded for everyone.
    Overloaded,
    /// Other 5xx, HTML error pages, malformed success bodies.
    Server,
    /// No answer (or no next chunk) in time.
    Timeout,
    /// Connecting failed, or the connection broke mid-body.
    Connection,
    /// The prompt does not fit the model's context window.
    ContextLength,
    /// The provider rejected the request itself (400, 422).
    InvalidRequest,
    /// 401/403: our credentials for this provider are wrong.
    Auth,
    /// 404: the provider does not know this model.
    NotFound,
    /// Anything else (402, 409, …).
    Other,
}

impl ErrorKind {
    /// Worth trying again on the same target after a pause.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Connection
        )
    }

    /// Says something about the provider's health (counts toward its circuit breaker).
    /// Context-length and invalid-request failures are the caller's, not the provider's.
    pub fn counts_against_provider(self) -> bool {
        self.retryable()
    }

    /// Stable snake_case code, used in attempts and logs.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Server => "server_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection_error",
            ErrorKind::ContextLength => "context_length_exceeded",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Auth => "provider_auth_failed",
            ErrorKind::NotFound => "model_not_found",
            ErrorKind::Other => "upstream_error",
        }
    }
}

/// The numbers a provider gave with a context-length failure, when it gave them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ContextInfo {
    /// The model's context window, in tokens.
    pub limit: Option<u64>,
    /// The tokens the request needed.
    pub requested: Option<u64>,
}

/// One failed call to one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub provider: String,
    pub kind: ErrorKind,
    /// The upstream HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The provider's own message (a short excerpt), or ours for transport failures.
    pub message: String,
    pub retry_after: Option<Duration>,
    pub context: Option<ContextInfo>,
}

impl UpstreamError {
    pub fn new(provider: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            kind,
            status: None,
            message: message.into(),
            retry_after: None,
            context: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn with_context(mut self, context: ContextInfo) -> Self {
        self.context = Some(context);
        self
    }

    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// A stall: no data within `what`.
    pub fn timeout(provider: &str, what: impl Into<String>) -> Self {
        Self::new(provider, ErrorKind::Timeout, what)
    }

    /// A success status whose body could not be understood.
    pub fn malformed(provider: &str, what: impl fmt::Display) -> Self {
        Self::new(
            provider,
            ErrorKind::Server,
            format!("unexpected response body: {what}"),
        )
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.provider, self.kind.code())?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for UpstreamError {}

/// How the HTTP edge should answer a [`GatewayError`] (the status itself is the edge's
/// business: `BadRequest` is 400, `Unavailable` 503, `BadGateway` 502).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    BadRequest,
    Unavailable,
    BadGateway,
}

/// Why the gateway could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// No provider has credentials (or, for Ollama, a URL).
    #[error("No AI provider is configured. Set at least one of {}.", .variables.join(", "))]
    NoProviderConfigured { variables: Vec<&'static str> },
    /// The model's targets are all on providers that are not configured.
    #[error("The AI provider {} is not configured. Set {}.", .providers.join(", "), .variables.join(" or "))]
    ProviderNotConfigured {
        providers: Vec<String>,
        variables: Vec<&'static str>,
    },
    /// Neither an alias nor a `provider/model` name.
    #[error("`{model}` is not a configured model alias nor a `provider/model` name (providers: openai, anthropic, cohere, gemini, ollama).")]
    UnknownModel { model: String, aliases: Vec<String> },
    /// The provider rejected the request itself; other providers would too.
    #[error("{provider} rejected the request: {message}")]
    InvalidRequest {
        provider: String,
        model: String,
        message: String,
        attempts: Vec<Attempt>,
    },
    /// The prompt fits no target's context window.
    #[error("The request does not fit the context window of {provider}/{model}{}. Shorten the messages or lower max_tokens.", context_numbers(.context))]
    ContextLengthExceeded {
        provider: String,
        model: String,
        context: ContextInfo,
        attempts: Vec<Attempt>,
    },
    /// Every target failed (or was skipped).
    #[error("All AI providers failed ({} attempts); see details.attempts.", .attempts.len())]
    AllProvidersFailed { attempts: Vec<Attempt> },
}

fn context_numbers(c: &ContextInfo) -> String {
    match (c.requested, c.limit) {
        (Some(r), Some(l)) => format!(" ({r} tokens requested, limit {l})"),
        (None, Some(l)) => format!(" (limit {l} tokens)"),
        (Some(r), None) => format!(" ({r} tokens requested)"),
        (None, None) => String::new(),
    }
}

impl GatewayError {
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::NoProviderConfigured { .. } => "no_ai_provider_configured",
            GatewayError::ProviderNotConfigured { .. } => "ai_provider_not_configured",
            GatewayError::UnknownModel { .. } => "unknown_model",
            GatewayError::InvalidRequest { .. } => "invalid_request",
            GatewayError::ContextLengthExceeded { .. } => "context_length_exceeded",
            GatewayError::AllProvidersFailed { .. } => "all_providers_failed",
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            GatewayError::NoProviderConfigured { .. }
            | GatewayError::ProviderNotConfigured { .. } => ErrorClass::Unavailable,
            GatewayError::UnknownModel { .. }
            | GatewayError::InvalidRequest { .. }
            | GatewayError::ContextLengthExceeded { .. } => ErrorClass::BadRequest,
            GatewayError::AllProvidersFailed { .. } => ErrorClass::BadGateway,
        }
    }

    /// The attempts made before giving up (empty when nothing was called).
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            GatewayError::InvalidRequest { attempts, .. }
            | GatewayError::ContextLengthExceeded { attempts, .. }
            | GatewayError::AllProvidersFailed { attempts } => attempts,
            _ => &[],
        }
    }

    /// Structured details for the error body's `details`.
    pub fn details(&self) -> Value {
        match self {
            GatewayError::NoProviderConfigured { variables } => json!({ "variables": variables }),
            GatewayError::ProviderNotConfigured {
                providers,
                variables,
            } => json!({ "providers": providers, "variables": variables }),
            GatewayError::UnknownModel { model, aliases } => {
                json!({ "model": model, "aliases": aliases })
            }
            GatewayError::InvalidRequest {
                provider,
                model,
                attempts,
                ..
            } => json!({ "provider": provider, "model": model, "attempts": attempts }),
            GatewayError::ContextLengthExceeded {
                provider,
                model,
                context,
                attempts,
            } => json!({
                "provider": provider,
                "model": model,
                "limit": context.limit,
                "requested": context.requested,
                "attempts": attempts,
            }),
            GatewayError::AllProvidersFailed { attempts } => json!({ "attempts": attempts }),
        }
    }

    /// The domain error for the HTTP edge, with the details (context-length numbers, every
    /// attempt) in the body's `details`.
    pub fn into_core(self) -> CoreError {
        let code = self.code();
        let message = self.to_string();
        match self.class() {
            ErrorClass::BadRequest => CoreError::Rejected {
                code,
                message,
                details: self.details(),
            },
            ErrorClass::Unavailable => CoreError::Unavailable { code, message },
            ErrorClass::BadGateway => CoreError::Upstream {
                code,
                message,
                details: self.details(),
            },
        }
    }
}

impl From<GatewayError> for CoreError {
    fn from(e: GatewayError) -> Self {
        e.into_core()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_kinds_are_the_transient_ones() {
        for k in [
            ErrorKind::RateLimited,
            ErrorKind::Overloaded,
            ErrorKind::Server,
            ErrorKind::Timeout,
            ErrorKind::Connection,
        ] {
            assert!(k.retryable(), "{k:?}");
        }
        for k in [
            ErrorKind::ContextLength,
            ErrorKind::InvalidRequest,
            ErrorKind::Auth,
            ErrorKind::NotFound,
            ErrorKind::Other,
        ] {
            assert!(!k.retryable(), "{k:?}");
        }
    }

    #[test]
    fn no_provider_message_names_the_variables() {
        let e = GatewayError::NoProviderConfigured {
            variables: vec!["OPENAI_API_KEY", "OLLAMA_URL"],
        };
        assert_eq!(e.code(), "no_ai_provider_configured");
        assert!(e.to_string().contains("OPENAI_API_KEY, OLLAMA_URL"));
        assert_eq!(e.class(), ErrorClass::Unavailable);
    }

    #[test]
    fn context_error_carries_numbers_in_message_and_details() {
        let e = GatewayError::ContextLengthExceeded {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            context: ContextInfo {
                limit: Some(8192),
                requested: Some(8227),
            },
            attempts: vec![],
        };
        assert!(e.to_string().contains("8227 tokens requested, limit 8192"));
        assert_eq!(e.details()["limit"], 8192);
        assert_eq!(e.details()["requested"], 8227);
        assert_eq!(e.into_core().code(), "context_length_exceeded");
    }
}
