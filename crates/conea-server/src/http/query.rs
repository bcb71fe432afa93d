//! `ApiQuery<T>`: query-string extractor whose rejection is the error body (400
//! `invalid_parameter`).

use crate::http::error::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde::de::DeserializeOwned;

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| {
                let text = e.body_text();
                let param = text.split('`').nth(1).map(str::to_owned).or_else(|| {
                    text.split(": ")
                        .nth(1)
                        .and_then(|t| t.split(':').next())
                        .map(str::to_owned)
                });
                ApiError(CoreError::InvalidInput {
                    code: ErrorCode::InvalidParameter,
                    message: format!("The query string is invalid: {text}."),
                    param,
                })
            })
    }
}
