//! One failed call to one provider: [`UpstreamError`], classified into an [`ErrorKind`]
//! that decides what the router does next (retry, fall back, stop). What the router answers
//! when it gives up (`GatewayError`) is the layer above, in `router/error.rs`, beside the
//! router's attempt records.
//!
//! Messages never carry credentials: request URLs hold no keys (every provider takes its key
//! in a header) and response bodies are cut to a short excerpt.

use conea_core::ErrorCode;
use serde::Serialize;
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

    /// The attempt's code, in `details.attempts`, stream error events and logs.
    pub fn code(self) -> ErrorCode {
        match self {
            ErrorKind::RateLimited => ErrorCode::RateLimited,
            ErrorKind::Overloaded => ErrorCode::Overloaded,
            ErrorKind::Server => ErrorCode::ServerError,
            ErrorKind::Timeout => ErrorCode::Timeout,
            ErrorKind::Connection => ErrorCode::ConnectionError,
            ErrorKind::ContextLength => ErrorCode::ContextLengthExceeded,
            ErrorKind::InvalidRequest => ErrorCode::InvalidRequest,
            ErrorKind::Auth => ErrorCode::ProviderAuthFailed,
            ErrorKind::NotFound => ErrorCode::ModelNotFound,
            ErrorKind::Other => ErrorCode::UpstreamError,
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

    pub fn code(&self) -> ErrorCode {
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
}
