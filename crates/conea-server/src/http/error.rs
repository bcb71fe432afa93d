//! The one mapping from domain errors to HTTP: status, `type`, and the error body
//! `{"error": {type, code, message, request_id, details}}` of `docs/api.md`. The status and
//! `type` are the [`ErrorCode`]'s (`conea-core/src/error/code.rs`), the one table of codes.
//!
//! Rules: every 4xx/5xx Conea sends goes through [`ApiError`]; a 500 logs its cause with the
//! request id and shows the client only a generic message; a 429 sets `Retry-After`.

use super::request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::error::ErrorCode;
use conea_core::CoreError;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

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
    /// Stable snake_case code clients may switch on (the `ErrorCode` schema lists them all).
    #[schema(value_type = ErrorCodeSchema)]
    pub code: ErrorCode,
    pub message: String,
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// The OpenAPI schema of [`ErrorCode`]: a string enum of every code, each described with its
/// HTTP status and meaning.
pub struct ErrorCodeSchema;

impl utoipa::PartialSchema for ErrorCodeSchema {
    fn schema() -> RefOr<Schema> {
        let mut description = String::from(
            "Stable snake_case error code clients may switch on. The codes, their HTTP status and meaning:\n",
        );
        for c in ErrorCode::ALL {
            description.push_str(&format!(
                "\n- `{}` ({}, `{}`): {}",
                c.as_str(),
                c.status(),
                c.error_type().as_str(),
                c.description()
            ));
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(description))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// Status and error type for a domain error: its code's.
pub fn classify(e: &CoreError) -> (StatusCode, &'static str) {
    let code = e.code();
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, code.error_type().as_str())
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
            code: ErrorCode::MethodNotAllowed,
            message: format!(
                "{path} does not accept {method}. See /openapi.json for the methods it accepts."
            ),
            param: None,
        })
    }

    pub fn timeout(limit: std::time::Duration) -> Self {
        ApiError(CoreError::Upstream {
            code: ErrorCode::RequestTimeout,
            message: format!(
                "The request did not finish within {} ms. Long work should be submitted as a job.",
                limit.as_millis()
            ),
            details: Value::Null,
        })
    }
}

/// Why an answer is a 5xx (an internal cause never goes into the body): carried on the
/// response to the observe middleware, which writes it to the error log with the request
/// id, method and route.
#[derive(Debug, Clone)]
pub struct ServerErrorCause {
    pub cause: String,
    /// An unexpected failure (500), also logged at error level as `internal error`.
    pub internal: bool,
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
            body.error.code = ErrorCode::RouteNotFound;
            body.error.message = format!("No route matches {id}. See /openapi.json for the API.");
        }
        let cause = status.is_server_error().then(|| match &self.0 {
            CoreError::Internal(cause) => ServerErrorCause {
                cause: cause.clone(),
                internal: true,
            },
            other => ServerErrorCause {
                cause: format!("{}: {}", other.code().as_str(), other.public_message()),
                internal: false,
            },
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(cause) = cause {
            // Logged once, with the request id and route, by `observe::middleware`.
            response.extensions_mut().insert(cause);
        }
        if let CoreError::RateLimited { retry_after_s, .. } = &self.0 {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.max(&1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_5xx_carries_its_cause_to_the_request_log_and_a_4xx_does_not() {
        let internal = ApiError(CoreError::Internal("the pool said no".into())).into_response();
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            internal
                .extensions()
                .get::<ServerErrorCause>()
                .map(|c| (c.cause.as_str(), c.internal)),
            Some(("the pool said no", true))
        );
        let timeout = ApiError::timeout(std::time::Duration::from_millis(5)).into_response();
        assert!(timeout
            .extensions()
            .get::<ServerErrorCause>()
            .is_some_and(|c| c.cause.starts_with("request_timeout") && !c.internal));
        let bad = ApiError(CoreError::invalid("name", "no")).into_response();
        assert!(bad.extensions().get::<ServerErrorCause>().is_none());
    }
}
