//! Authentication at the edge: a middleware on the protected routes turns the presented
//! credential into a `Principal` (or the 401 error body), and the [`Auth`] extractor hands
//! it to handlers. Authorization is `principal.require(permission)` inside the services.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use conea_core::auth::AuthFailure;
use conea_core::principal::Principal;
use conea_core::CoreError;
use std::net::SocketAddr;

pub const API_KEY_HEADER: &str = "x-api-key";

/// The credential from `Authorization: Bearer …` or `X-API-Key: …`.
pub fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let text = v.to_str().map_err(|_| AuthFailure::MalformedToken {
            reason: "the Authorization header is not visible ASCII".into(),
        })?;
        let (scheme, value) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthFailure::MalformedToken {
                reason: format!(
                    "the Authorization scheme is `{scheme}`; use `Bearer <token or API key>`"
                ),
            });
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(AuthFailure::MissingCredentials);
        }
        return Ok(value.to_owned());
    }
    if let Some(v) = headers.get(API_KEY_HEADER) {
        let text = v.to_str().map_err(|_| AuthFailure::MalformedToken {
            reason: "the X-API-Key header is not visible ASCII".into(),
        })?;
        return Ok(text.trim().to_owned());
    }
    Err(AuthFailure::MissingCredentials)
}

pub async fn require_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented =
        credential(req.headers()).map_err(|f| ApiError(CoreError::Unauthenticated(f)))?;
    let principal = state.authn().authenticate(&presented).await?;
    tracing::Span::current().record("principal", principal.subject.as_str());
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The authenticated caller. Only usable on routes behind [`require_auth`].
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| {
                ApiError(CoreError::Internal(
                    "route is missing the auth layer".into(),
                ))
            })
    }
}

/// The client's address as seen on the connection.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_and_x_api_key_are_both_accepted() {
        assert_eq!(
            credential(&headers(&[("authorization", "Bearer abc")])),
            Ok("abc".into())
        );
        assert_eq!(
            credential(&headers(&[("authorization", "bearer  abc ")])),
            Ok("abc".into())
        );
        assert_eq!(
            credential(&headers(&[("x-api-key", "conea_x")])),
            Ok("conea_x".into())
        );
    }

    #[test]
    fn missing_and_wrong_scheme_have_their_codes() {
        assert_eq!(
            credential(&headers(&[])).map_err(|f| f.code()),
            Err("missing_credentials")
        );
        assert_eq!(
            credential(&headers(&[("authorization", "Basic dXNlcjpwdw==")])).map_err(|f| f.code()),
            Err("malformed_token")
        );
    }
}
