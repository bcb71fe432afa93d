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

    /// Property-based fuzzing of query strings (proptest; `PROPTEST_CASES` cases, 256 by
    /// default in the normal test suite): any query is parsed or refused with the error body's
    /// 400 `invalid_parameter`, never a panic, and no parameter that gets through holds U+0000.
    mod fuzz {
        use super::super::ApiQuery;
        use axum::extract::FromRequestParts;
        use axum::response::IntoResponse;
        use proptest::prelude::*;

        #[derive(Debug, serde::Deserialize)]
        struct Params {
            limit: Option<usize>,
            cursor: Option<String>,
            q: Option<String>,
            from: Option<String>,
            descending: Option<bool>,
        }

        fn query() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                prop::sample::select(vec![
                    "limit",
                    "cursor",
                    "q",
                    "from",
                    "descending",
                    "=",
                    "&",
                    "%00",
                    "%0",
                    "%",
                    "%2500",
                    "%C0%80",
                    "%FF",
                    "+",
                    "0",
                    "500",
                    "-1",
                    "18446744073709551616",
                    "true",
                    "yes",
                    "%E6%97%A5",
                    "a",
                    ";",
                    "[]",
                    "%26",
                    "%3D",
                ])
                .prop_map(str::to_owned),
                "%[0-9A-Fa-f]{2}",
                "[A-Za-z0-9._~-]{1,6}",
            ];
            proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
        }

        proptest! {
            #[test]
            fn any_query_is_parsed_or_refused_with_the_error_body(q in query()) {
                let Ok(request) = axum::http::Request::builder()
                    .uri(format!("/v1/x?{q}"))
                    .body(())
                else {
                    return Ok(());
                };
                let (mut parts, ()) = request.into_parts();
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                match runtime.block_on(ApiQuery::<Params>::from_request_parts(&mut parts, &())) {
                    Ok(ApiQuery(p)) => {
                        let texts = [&p.cursor, &p.q, &p.from];
                        prop_assert!(
                            texts.iter().all(|t| !t.as_deref().unwrap_or("").contains('\0')),
                            "{:?} (limit {:?}, descending {:?})", texts, p.limit, p.descending
                        );
                    }
                    Err(e) => {
                        prop_assert_eq!(e.0.code().as_str(), "invalid_parameter");
                        prop_assert_eq!(e.into_response().status().as_u16(), 400);
                    }
                }
            }
        }
    }
}
