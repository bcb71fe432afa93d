//! API keys: create (secret shown once), list (never secrets), revoke.

use super::pagination::{page, KeyPage, Page, PageParams};
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::http::security::NoStore;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use conea_core::clock::{parse_rfc3339, rfc3339};
use conea_core::model::ApiKey;
use conea_core::permissions::{Permission, PermissionSet};
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateKeyRequest {
    /// 1 to 200 characters, not only spaces.
    #[schema(
        pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    /// Permission names from the catalogue; none beyond the caller's own.
    #[schema(schema_with = permission_names)]
    pub permissions: Vec<String>,
    /// RFC 3339 time after which the key stops working (in the future).
    #[schema(schema_with = super::schemas::date_time_or_null)]
    pub expires_at: Option<String>,
}

fn permission_names() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(super::schemas::one_of(
        conea_core::permissions::Permission::ALL
            .iter()
            .map(|p| p.as_str()),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyResponse {
    pub id: String,
    pub name: String,
    /// Non-secret start of the key, for recognising it.
    pub prefix: String,
    pub organization_id: String,
    pub permissions: Vec<&'static str>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl From<ApiKey> for KeyResponse {
    fn from(k: ApiKey) -> Self {
        KeyResponse {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            organization_id: k.org_id.to_string(),
            permissions: k.permissions.names(),
            created_by: k.created_by,
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKeyResponse {
    #[serde(flatten)]
    pub key: KeyResponse,
    /// The key itself. Shown this once; Conea keeps only its SHA-256 digest.
    pub secret: String,
}

pub fn parse_permissions(names: &[String]) -> Result<PermissionSet, CoreError> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Permission::parse(n).ok_or_else(|| {
                CoreError::unprocessable(
                    ErrorCode::UnknownPermission,
                    &format!("permissions[{i}]"),
                    format!(
                        "`{n}` is not a permission. Known: {}.",
                        PermissionSet::all().names().join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Creates a key [keys:manage]. The response carries the secret once.
#[utoipa::path(post, path = "/api-keys", tag = "api keys", request_body = CreateKeyRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = CreatedKeyResponse),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`: needs `keys:manage`, or a permission the caller lacks was requested"),
    (status = 422, body = ErrorBody, description = "`unknown_permission`, `invalid_name`, `invalid_expiry`")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> ApiResult<NoStore<(StatusCode, ApiJson<CreatedKeyResponse>)>> {
    let permissions = parse_permissions(&body.permissions)?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|t| {
            parse_rfc3339(t).ok_or_else(|| {
                CoreError::unprocessable(
                    ErrorCode::InvalidExpiry,
                    "expires_at",
                    "expires_at must be an RFC 3339 time such as 2027-01-01T00:00:00Z.",
                )
            })
        })
        .transpose()?;
    let org = p.org_id.clone();
    let created = state
        .accounts()
        .create_key(Some(&p), &org, &body.name, permissions, expires_at)
        .await?;
    Ok(NoStore((
        StatusCode::CREATED,
        ApiJson(CreatedKeyResponse {
            key: created.key.into(),
            secret: created.secret,
        }),
    )))
}

/// The organization's keys, without secrets [keys:manage].
#[utoipa::path(get, path = "/api-keys", tag = "api keys", params(KeyPage),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Page<KeyResponse>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<KeyResponse>>> {
    let keys: Vec<KeyResponse> = state
        .accounts()
        .list_keys(&p)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(ApiJson(page(keys, &q, "key", |k| k.id.clone())?))
}

/// Revokes a key [keys:manage, and every permission the key holds]: refused on its next
/// request on every replica.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api keys", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = KeyResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<KeyResponse>> {
    Ok(ApiJson(
        state.accounts().revoke_key(Some(&p), &id).await?.into(),
    ))
}
