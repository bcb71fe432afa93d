//! `POST /v1/auth/login` and `GET /v1/auth/verify`.

use crate::http::auth::Auth;
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::security::NoStore;
use crate::state::AppState;
use axum::extract::State;
use conea_core::clock::rfc3339;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// Exchanges email and password for a JWT. Failed logins are throttled per email and per
/// client address (429 `too_many_login_attempts` with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 400, body = ErrorBody, description = "`invalid_json`, `invalid_parameter`"),
    (status = 401, body = ErrorBody, description = "`invalid_credentials`"),
    (status = 429, body = ErrorBody, description = "`too_many_login_attempts`")))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<NoStore<ApiJson<TokenResponse>>> {
    let token = state
        .accounts()
        .login(&body.email, &body.password, &client)
        .await?;
    Ok(NoStore(ApiJson(TokenResponse {
        access_token: token.token,
        token_type: "Bearer",
        expires_in: token.expires_in,
    })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    /// `usr_…` or `key_…`.
    pub subject: String,
    pub organization_id: String,
    /// `user` or `api_key`.
    pub kind: &'static str,
    pub role: Option<&'static str>,
    pub permissions: Vec<&'static str>,
    pub issued_at: Option<String>,
    pub expires_at: Option<String>,
    /// Seconds left; null for keys without expiry.
    pub expires_in: Option<i64>,
}

/// Says whether the presented credential is valid, whose it is and what it may do.
#[utoipa::path(get, path = "/auth/verify", tag = "auth", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = VerifyResponse),
    (status = 401, body = ErrorBody, description = "`missing_credentials`, `malformed_token`, `invalid_signature`, `algorithm_not_allowed`, `token_expired`, `token_not_yet_valid`, `invalid_audience`, `invalid_issuer`, `unknown_subject`, `unknown_api_key`, `revoked_api_key`, `expired_api_key`")))]
pub async fn verify(State(state): State<AppState>, Auth(p): Auth) -> ApiJson<VerifyResponse> {
    let now = state.clock().now_ms();
    ApiJson(VerifyResponse {
        valid: true,
        subject: p.subject.clone(),
        organization_id: p.org_id.to_string(),
        kind: p.kind.as_str(),
        role: p.role.map(|r| r.as_str()),
        permissions: p.permissions.names(),
        issued_at: p.issued_at.map(rfc3339),
        expires_at: p.expires_at.map(rfc3339),
        expires_in: p.expires_at.map(|e| (e - now + 999).div_euclid(1000)),
    })
}
