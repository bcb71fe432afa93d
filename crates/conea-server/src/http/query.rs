//! `ApiQuery<T>`: query-string extractor whose rejection is the error body (400
//! `invalid_parameter`; also for a parameter holding U+0000, `%00`).

use crate::http::error::ApiError;
use crate::http::json::nul_error;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde::de::DeserializeOwned;

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(param) = parts.uri.query().and_then(nul_param) {
            return Err(nul_error(param));
        }
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

/// The name of the first query parameter whose name or value holds U+0000 (`%00`).
fn nul_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        if !pair.contains("%00") {
            return None;
        }
        let name = pair.split('=').next().unwrap_or("");
        Some(if name.is_empty() || name.contains("%00") {
            "query".to_owned()
        } else {
            name.to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::nul_param;

    #[test]
    fn a_nul_in_a_query_parameter_is_found_by_name() {
        assert_eq!(nul_param("limit=2&q=a%00b"), Some("q".to_owned()));
        assert_eq!(nul_param("%00=1"), Some("query".to_owned()));
        assert_eq!(nul_param("limit=2&q=a%2500"), None);
    }
}
