//! What the router answers when it gives up: [`GatewayError`]. Its `code()` values are
//! stable snake_case strings for clients; [`GatewayError::into_core`] turns it into the
//! domain error the HTTP edge maps to a status. Every variant that called a provider carries
//! the [`Attempt`]s made; one failed call itself is an
//! [`UpstreamError`](crate::error::UpstreamError), whose messages carry no credentials.

use super::attempt::Attempt;
use crate::error::ContextInfo;
use conea_core::{CoreError, ErrorCode};
use serde_json::{json, Value};

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
    /// Neither an alias, `default`, a `provider/model` name nor a bare name a configured
    /// provider serves.
    #[error("`{model}` is not a model alias, a model a configured provider lists, nor a `provider/model` name (providers: openai, anthropic, cohere, gemini, ollama); GET /v1/models lists the names that route.")]
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
    /// No target's provider can carry a parameter of the request (each skip's reason is
    /// in the attempts).
    #[error("`{param}` cannot be carried to {}: {reason}. Remove it or choose a model whose provider takes it (docs/api.md lists each provider's parameters).", .providers.join(", "))]
    UnsupportedParameter {
        param: String,
        reason: String,
        providers: Vec<String>,
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
    pub fn code(&self) -> ErrorCode {
        match self {
            GatewayError::NoProviderConfigured { .. } => ErrorCode::NoAiProviderConfigured,
            GatewayError::ProviderNotConfigured { .. } => ErrorCode::AiProviderNotConfigured,
            GatewayError::UnknownModel { .. } => ErrorCode::UnknownModel,
            GatewayError::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            GatewayError::ContextLengthExceeded { .. } => ErrorCode::ContextLengthExceeded,
            GatewayError::UnsupportedParameter { .. } => ErrorCode::InvalidParameter,
            GatewayError::AllProvidersFailed { .. } => ErrorCode::AllProvidersFailed,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            GatewayError::NoProviderConfigured { .. }
            | GatewayError::ProviderNotConfigured { .. } => ErrorClass::Unavailable,
            GatewayError::UnknownModel { .. }
            | GatewayError::InvalidRequest { .. }
            | GatewayError::ContextLengthExceeded { .. }
            | GatewayError::UnsupportedParameter { .. } => ErrorClass::BadRequest,
            GatewayError::AllProvidersFailed { .. } => ErrorClass::BadGateway,
        }
    }

    /// The attempts made before giving up (empty when nothing was called).
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            GatewayError::InvalidRequest { attempts, .. }
            | GatewayError::ContextLengthExceeded { attempts, .. }
            | GatewayError::UnsupportedParameter { attempts, .. }
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
            GatewayError::UnsupportedParameter {
                param,
                providers,
                attempts,
                ..
            } => json!({ "param": param, "providers": providers, "attempts": attempts }),
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
