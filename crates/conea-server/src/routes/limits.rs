//! `GET /v1/rate-limit` (the caller's state, without consuming) and the override routes.

use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::rate_limit;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use conea_core::clock::rfc3339;
use conea_core::store::LimitOverride;
use serde::{Deserialize, Serialize};

#[derive(Serialize, utoipa::ToSchema)]
pub struct RateLimitState {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the quota is full again.
    pub reset: i64,
    pub window_s: i64,
    pub burst: u32,
    /// `default`, `organization` or `api_key`.
    pub policy_source: &'static str,
    /// `memory` or `redis`.
    pub backend: &'static str,
    pub enabled: bool,
}

/// The caller's rate-limit state. Does not consume quota. (Its route only authenticates:
/// the limit is read once, for the body and the headers.)
#[utoipa::path(get, path = "/rate-limit", tag = "rate limits", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = RateLimitState), (status = 401, body = ErrorBody)))]
pub async fn current(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let peek = rate_limit::peek(&state, &p).await?;
    Ok(peek.answer(ApiJson(RateLimitState::from(&peek))))
}

impl From<&rate_limit::Peek> for RateLimitState {
    fn from(peek: &rate_limit::Peek) -> Self {
        let d = &peek.verdict.decision;
        RateLimitState {
            limit: d.limit,
            remaining: d.remaining,
            reset: d.reset_epoch_s(),
            window_s: d.window_ms / 1000,
            burst: d.burst,
            policy_source: d.source.as_str(),
            backend: peek.verdict.backend.as_str(),
            enabled: peek.enabled,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetLimitRequest {
    /// Requests per minute, 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(deserialize_with = "crate::http::json::integral")]
    pub per_minute: u32,
    /// Requests a full bucket allows at once (default: per_minute), 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "crate::http::json::integral_opt")]
    pub burst: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OverrideResponse {
    /// `organization` or `api_key`.
    pub scope: &'static str,
    pub subject_id: String,
    pub organization_id: String,
    pub per_minute: u32,
    pub burst: u32,
    pub updated_at: String,
}

impl From<LimitOverride> for OverrideResponse {
    fn from(o: LimitOverride) -> Self {
        OverrideResponse {
            scope: o.scope.as_str(),
            burst: o.burst.unwrap_or(o.per_minute),
            subject_id: o.subject_id,
            organization_id: o.org_id.to_string(),
            per_minute: o.per_minute,
            updated_at: rfc3339(o.updated_at),
        }
    }
}

/// Sets an API key's limit [`admin`, or `keys:manage` for a key of your organization whose
/// permissions are a subset of yours, up to your organization's limit; above it needs
/// `admin`]. Takes effect on every replica within a few seconds.
#[utoipa::path(put, path = "/rate-limits/keys/{key_id}", tag = "rate limits", request_body = SetLimitRequest,
    params(("key_id" = String, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = OverrideResponse),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 422, body = ErrorBody, description = "`invalid_limit`")))]
pub async fn set_key(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(key_id): Path<String>,
    ApiJson(body): ApiJson<SetLimitRequest>,
) -> ApiResult<ApiJson<OverrideResponse>> {
    let o = state
        .limits()
        .set_key_limit(Some(&p), &key_id, body.per_minute, body.burst)
        .await?;
    Ok(ApiJson(o.into()))
}

/// Sets an organization's limit [`admin`]. Takes effect on every replica within a few seconds.
#[utoipa::path(put, path = "/rate-limits/organizations/{org_id}", tag = "rate limits", request_body = SetLimitRequest,
    params(("org_id" = String, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = OverrideResponse),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 422, body = ErrorBody, description = "`invalid_limit`")))]
pub async fn set_org(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org_id): Path<String>,
    ApiJson(body): ApiJson<SetLimitRequest>,
) -> ApiResult<ApiJson<OverrideResponse>> {
    let o = state
        .limits()
        .set_org_limit(Some(&p), &org_id, body.per_minute, body.burst)
        .await?;
    Ok(ApiJson(o.into()))
}
