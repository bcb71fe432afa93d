//! Unknown routes (404) and wrong methods (405), both with the error body.

use crate::http::error::ApiError;
use axum::http::{Method, Uri};

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::route_not_found(uri.path())
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}
