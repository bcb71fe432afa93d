//! The domain error enum. Every layer above converts into it or from it; the HTTP edge maps
//! it to status codes and the one error body in exactly one place
//! (`conea-server/src/http/error.rs`). Rules:
//! - every code is one [`ErrorCode`] (`code.rs`): its wire string, HTTP status and `type`;
//! - `message` says the cause and what to do, in one or two sentences;
//! - `Internal` carries detail for the log only: it never reaches a response body.

mod auth_failure;
mod code;

pub use auth_failure::AuthFailure;
pub use code::{ErrorCode, ErrorType};

use crate::permissions::{Permission, PermissionSet};
use serde_json::{json, Value};

pub type CoreResult<T> = Result<T, CoreError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CoreError {
    /// Malformed input: a missing or mistyped field, bad JSON (HTTP 400).
    #[error("{message}")]
    InvalidInput {
        code: ErrorCode,
        message: String,
        param: Option<String>,
    },
    /// A request refused with structured details, e.g. a prompt over the context window
    /// (HTTP 400).
    #[error("{message}")]
    Rejected {
        code: ErrorCode,
        message: String,
        details: Value,
    },
    /// Well-formed input whose values cannot be accepted (HTTP 422).
    #[error("{message}")]
    Unprocessable {
        code: ErrorCode,
        message: String,
        param: Option<String>,
    },
    /// The request carries no valid credential (HTTP 401).
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// The principal lacks a permission (HTTP 403).
    #[error("this action requires the permission `{required}`")]
    Forbidden {
        required: Permission,
        granted: PermissionSet,
    },
    /// A resource that does not exist, or belongs to another organization (HTTP 404).
    #[error("{resource} {id} was not found")]
    NotFound { resource: &'static str, id: String },
    /// The request conflicts with current state (HTTP 409).
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// Too many requests (HTTP 429).
    #[error("{message}")]
    RateLimited {
        code: ErrorCode,
        message: String,
        retry_after_s: u64,
        details: Value,
    },
    /// A dependency Conea needs is not available (HTTP 503).
    #[error("{message}")]
    Unavailable { code: ErrorCode, message: String },
    /// A third party answered badly (HTTP 502).
    #[error("{message}")]
    Upstream {
        code: ErrorCode,
        message: String,
        details: Value,
    },
    /// Anything unexpected; the text is logged, never shown (HTTP 500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        CoreError::InvalidInput {
            code: ErrorCode::InvalidParameter,
            message: message.into(),
            param: Some(param.to_owned()),
        }
    }

    pub fn unprocessable(code: ErrorCode, param: &str, message: impl Into<String>) -> Self {
        CoreError::Unprocessable {
            code,
            message: message.into(),
            param: Some(param.to_owned()),
        }
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        CoreError::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        CoreError::Internal(e.to_string())
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::InvalidInput { code, .. }
            | CoreError::Rejected { code, .. }
            | CoreError::Unprocessable { code, .. }
            | CoreError::Conflict { code, .. }
            | CoreError::RateLimited { code, .. }
            | CoreError::Unavailable { code, .. }
            | CoreError::Upstream { code, .. } => *code,
            CoreError::Unauthenticated(f) => f.code(),
            CoreError::Forbidden { .. } => ErrorCode::InsufficientPermissions,
            CoreError::NotFound { .. } => ErrorCode::NotFound,
            CoreError::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The message shown to the client.
    pub fn public_message(&self) -> String {
        match self {
            CoreError::Forbidden { required, .. } => format!(
                "This action requires the permission `{required}`, which this credential does not have. Ask an organization admin to grant it."
            ),
            CoreError::NotFound { resource, id } => {
                format!("No {resource} with id `{id}` exists in your organization.")
            }
            CoreError::Internal(_) => {
                "An unexpected error occurred. Retry later; if it persists, report the request id."
                    .to_owned()
            }
            CoreError::Unauthenticated(f) => f.message(),
            other => other.to_string(),
        }
    }

    /// Structured details for the body's `details` field.
    pub fn details(&self) -> Option<Value> {
        match self {
            CoreError::InvalidInput { param, .. } | CoreError::Unprocessable { param, .. } => {
                param.as_ref().map(|p| json!({ "param": p }))
            }
            CoreError::Unauthenticated(f) => f.details(),
            CoreError::Forbidden { required, granted } => {
                Some(json!({ "required": required.as_str(), "granted": granted.names() }))
            }
            CoreError::RateLimited { details, .. }
            | CoreError::Upstream { details, .. }
            | CoreError::Rejected { details, .. } => (!details.is_null()).then(|| details.clone()),
            _ => None,
        }
    }
}
