//! Organizations and their members.

use super::pagination::{page, MemberPage, Page, PageParams};
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use conea_core::clock::rfc3339;
use conea_core::model::{Membership, Organization};
use conea_core::permissions::Role;
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde::{Deserialize, Serialize};

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgResponse {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
}

impl From<Organization> for OrgResponse {
    fn from(o: Organization) -> Self {
        OrgResponse {
            id: o.id.to_string(),
            slug: o.slug,
            name: o.name,
            created_at: rfc3339(o.created_at),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateOrgRequest {
    /// 2-63 lowercase letters, digits or dashes, not starting or ending with a dash.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")]
    pub slug: String,
    pub name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberResponse {
    pub user_id: String,
    pub email: String,
    pub role: &'static str,
    /// The role's permissions plus direct grants.
    pub permissions: Vec<&'static str>,
    pub grants: Vec<&'static str>,
    pub created_at: String,
}

impl From<Membership> for MemberResponse {
    fn from(m: Membership) -> Self {
        MemberResponse {
            user_id: m.user_id.to_string(),
            email: m.email,
            role: m.role.as_str(),
            permissions: m.role.permissions().union(m.grants).names(),
            grants: m.grants.names(),
            created_at: rfc3339(m.created_at),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetRoleRequest {
    /// `owner`, `admin`, `member` or `viewer`.
    #[schema(schema_with = super::schemas::role)]
    pub role: String,
}

pub fn parse_role(text: &str) -> Result<Role, CoreError> {
    Role::parse(text).ok_or_else(|| {
        CoreError::unprocessable(
            ErrorCode::UnknownRole,
            "role",
            format!("`{text}` is not a role: use owner, admin, member or viewer."),
        )
    })
}

/// Creates an organization [admin].
#[utoipa::path(post, path = "/organizations", tag = "organizations", request_body = CreateOrgRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = OrgResponse),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (needs `admin`)"),
    (status = 409, body = ErrorBody, description = "`slug_taken`"),
    (status = 422, body = ErrorBody, description = "`invalid_slug`")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<CreateOrgRequest>,
) -> ApiResult<(StatusCode, ApiJson<OrgResponse>)> {
    let org = state
        .accounts()
        .create_org(Some(&p), &body.slug, body.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, ApiJson(org.into())))
}

/// One organization: your own, or any with `admin`. Others answer 404.
#[utoipa::path(get, path = "/organizations/{id}", tag = "organizations", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = OrgResponse), (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<OrgResponse>> {
    Ok(ApiJson(state.accounts().get_org(&p, &id).await?.into()))
}

/// Members of an organization with their roles and effective permissions [members:read].
#[utoipa::path(get, path = "/organizations/{id}/members", tag = "organizations", params(("id" = String, Path), MemberPage),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Page<MemberResponse>),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (`members:read`)"),
    (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn members(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<MemberResponse>>> {
    let members: Vec<MemberResponse> = state
        .accounts()
        .list_members(&p, &id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(ApiJson(page(members, &q, "usr", |m| m.user_id.clone())?))
}

/// Changes a member's role [members:manage]; nobody confers a role above their own.
#[utoipa::path(put, path = "/organizations/{id}/members/{user_id}", tag = "organizations", request_body = SetRoleRequest,
    params(("id" = String, Path), ("user_id" = String, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = MemberResponse),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 404, body = ErrorBody, description = "`not_found`"),
    (status = 422, body = ErrorBody, description = "`unknown_role`")))]
pub async fn set_role(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<SetRoleRequest>,
) -> ApiResult<ApiJson<MemberResponse>> {
    let role = parse_role(&body.role)?;
    Ok(ApiJson(
        state
            .accounts()
            .set_member_role(Some(&p), &id, &user_id, role)
            .await?
            .into(),
    ))
}

/// Removes a member [members:manage].
#[utoipa::path(delete, path = "/organizations/{id}/members/{user_id}", tag = "organizations",
    params(("id" = String, Path), ("user_id" = String, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.accounts().remove_member(&p, &id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
