//! The one mapping from domain errors to HTTP: status, `type`, and the error body
//! `{"error": {type, code, message, request_id, details}}` of `docs/api.md`.
//!
//! Rules: every 4xx/5xx Conea sends goes through [`ApiError`]; a 500 logs its cause with the
//! request id and shows the client only a generic message; a 429 sets `Retry-After`.

use crate::http::request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::CoreError;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug)]
pub struct ApiError(pub CoreError);

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError(e)
    }
}

impl From<conea_core::store::StoreError> for ApiError {
    fn from(e: conea_core::store::StoreError) -> Self {
        ApiError(e.into())
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorObject {
    /// One of `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `conflict_error`, `rate_limit_error`, `upstream_error`, `api_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Stable snake_case code, e.g. `token_expired`, `insufficient_permissions`,
    /// `invalid_parameter`, `invalid_json`, `not_found`, `route_not_found`,
    /// `method_not_allowed`, `payload_too_large`, `request_timeout`, `rate_limit_exceeded`,
    /// `database_unavailable`, `internal_error`. See the README's error table.
    pub code: &'static str,
    pub message: String,
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// Status and error type for a domain error.
pub fn classify(e: &CoreError) -> (StatusCode, &'static str) {
    match e {
        CoreError::InvalidInput { code, .. } if *code == "payload_too_large" => {
            (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error")
        }
        CoreError::InvalidInput { code, .. } if *code == "unsupported_media_type" => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request_error")
        }
        CoreError::InvalidInput { code, .. } if *code == "method_not_allowed" => {
            (StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error")
        }
        CoreError::InvalidInput { .. } | CoreError::Rejected { .. } => {
            (StatusCode::BAD_REQUEST, "invalid_request_error")
        }
        CoreError::Unprocessable { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request_error")
        }
        CoreError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "authentication_error"),
        CoreError::Forbidden { .. } => (StatusCode::FORBIDDEN, "permission_error"),
        CoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found_error"),
        CoreError::Conflict { .. } => (StatusCode::CONFLICT, "conflict_error"),
        CoreError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        CoreError::Upstream { code, .. } if *code == "request_timeout" => {
            (StatusCode::GATEWAY_TIMEOUT, "api_error")
        }
        CoreError::Upstream { .. } => (StatusCode::BAD_GATEWAY, "upstream_error"),
        CoreError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "api_error"),
        CoreError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "api_error"),
    }
}

impl ApiError {
    pub fn body(&self) -> ErrorBody {
        let (_, kind) = classify(&self.0);
        ErrorBody {
            error: ErrorObject {
                kind,
                code: self.0.code(),
                message: self.0.public_message(),
                request_id: request_id::current(),
                details: self.0.details(),
            },
        }
    }

    pub fn route_not_found(path: &str) -> Self {
        ApiError(CoreError::NotFound {
            resource: "route",
            id: path.to_owned(),
        })
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        ApiError(CoreError::InvalidInput {
            code: "method_not_allowed",
            message: format!(
                "{path} does not accept {method}. See /openapi.json for the methods it accepts."
            ),
            param: None,
        })
    }

    pub fn timeout(limit: std::time::Duration) -> Self {
        ApiError(CoreError::Upstream {
            code: "request_timeout",
            message: format!(
                "The request did not finish within {} ms. Long work should be submitted as a job.",
                limit.as_millis()
            ),
            details: Value::Null,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = classify(&self.0);
        let mut body = self.body();
        if let CoreError::NotFound {
            resource: "route",
            id,
        } = &self.0
        {
            body.error.code = "route_not_found";
            body.error.message = format!("No route matches {id}. See /openapi.json for the API.");
        }
        if let CoreError::Internal(cause) = &self.0 {
            tracing::error!(request_id = ?body.error.request_id, cause = %cause, "internal error");
        }
        let mut response = (status, axum::Json(body)).into_response();
        if let CoreError::RateLimited { retry_after_s, .. } = &self.0 {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.max(&1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
