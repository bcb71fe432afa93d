//! `POST /v1/users`: a user in the caller's organization.

use super::orgs::parse_role;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use conea_core::clock::rfc3339;
use conea_core::permissions::Role;
use conea_core::services::accounts::NewUser;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateUserRequest {
    /// One `@`, something before it, a dot inside the part after it; at most 254
    /// characters, no spaces.
    #[schema(
        pattern = "^[^@\\s\\u0000]+@[^\\s.\\u0000][^\\s\\u0000]*\\.[^\\s\\u0000]*[^\\s.\\u0000]$",
        max_length = 254
    )]
    pub email: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    pub name: Option<String>,
    /// Default `member`.
    #[schema(schema_with = super::schemas::role_or_null)]
    pub role: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub organization_id: String,
    pub role: &'static str,
    pub created_at: String,
}

/// Creates a user who can log in, as a member of the caller's organization [members:manage].
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUserRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = UserResponse),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 409, body = ErrorBody, description = "`email_taken`"),
    (status = 422, body = ErrorBody, description = "`invalid_email`, `weak_password`, `unknown_role`")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, ApiJson<UserResponse>)> {
    let role = body
        .role
        .as_deref()
        .map(parse_role)
        .transpose()?
        .unwrap_or(Role::Member);
    let org = p.org_id.clone();
    let new = NewUser {
        email: body.email,
        password: body.password,
        name: body.name,
        role,
    };
    let (user, member) = state.accounts().create_user(Some(&p), &org, new).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(UserResponse {
            id: user.id.to_string(),
            email: user.email,
            name: user.name,
            organization_id: member.org_id.to_string(),
            role: member.role.as_str(),
            created_at: rfc3339(user.created_at),
        }),
    ))
}
