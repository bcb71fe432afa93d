//! Authentication at the edge: a middleware on the protected routes turns the presented
//! credential into a `Principal` (or the 401 error body), and the [`Auth`] extractor hands
//! it to handlers. Authorization is `principal.require(permission)` inside the services.

use super::client_addr::ClientAddr;
use super::rate_limit;
use crate::http::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use conea_core::auth::AuthFailure;
use conea_core::principal::Principal;
use conea_core::CoreError;

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

/// Authenticates, then consumes one request of the principal's rate limit.
pub async fn require_auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    authenticate_and_limit(state, req, next, true).await
}

/// Authenticates only: `GET /v1/rate-limit` reads the caller's limit itself (without
/// consuming it) and puts the rate-limit headers on its answer.
pub async fn require_auth_only(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    authenticate_and_limit(state, req, next, false).await
}

async fn authenticate_and_limit(
    state: AppState,
    mut req: Request,
    next: Next,
    limit: bool,
) -> Response {
    let presented = match credential(req.headers()) {
        Ok(c) => c,
        Err(f) => return ApiError(CoreError::Unauthenticated(f)).into_response(),
    };
    let principal = match state.authn().authenticate(&presented).await {
        Ok(p) => p,
        Err(e) => return ApiError(e).into_response(),
    };
    let verdict = if limit && state.config().rate_limit.enabled {
        match rate_limit::decide(&state, &principal, true).await {
            Ok(v) => Some(v),
            Err(e) => return ApiError(e).into_response(),
        }
    } else {
        None
    };
    let mut response = match verdict {
        Some(v) if !v.decision.allowed => rate_limit::refused(&v.decision),
        _ => {
            let client = principal.subject.clone();
            req.extensions_mut().insert(principal);
            super::reads::run(&state, &client, req, next).await
        }
    };
    if let Some(v) = verdict {
        rate_limit::apply_headers(response.headers_mut(), &v.decision);
    }
    response
}

/// Consumes one request of the client address's limit (unauthenticated routes).
pub async fn limit_by_address(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    if !state.config().rate_limit.enabled {
        return next.run(req).await;
    }
    rate_limit::limit_address(&state, None, &addr, req, next).await
}

/// `GET /v1/integrations/shopify/install`: a request whose query carries a signed install
/// `link` is authorized by the link alone (the merchant's browser holds no Conea credential;
/// any credential sent is ignored) and spends its address's limit like the other public
/// routes; any other request needs a credential, as behind [`require_auth`].
pub async fn require_auth_unless_install_link(
    State(state): State<AppState>,
    client: ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    let has_link = req.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "link" || pair.starts_with("link="))
    });
    if has_link {
        return limit_by_address(State(state), client, req, next).await;
    }
    authenticate_and_limit(state, req, next, true).await
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
            credential(&headers(&[])).map_err(|f| f.code().as_str()),
            Err("missing_credentials")
        );
        assert_eq!(
            credential(&headers(&[("authorization", "Basic dXNlcjpwdw==")]))
                .map_err(|f| f.code().as_str()),
            Err("malformed_token")
        );
    }
}
