//! `GET /v1/jobs/{id}`, `GET /v1/jobs`, `POST /v1/jobs/{id}/cancel`, `POST /v1/jobs/{id}/retry`,
//! and the 202 answer every route that enqueues work gives.

use super::pagination::PageParams;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::clock::rfc3339;
use conea_jobs::{AttemptError, Job};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobError {
    pub attempt: u32,
    pub at: String,
    pub error: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobResponse {
    pub id: String,
    pub kind: String,
    /// `available`, `scheduled`, `running`, `retryable`, `completed`, `discarded` or `cancelled`.
    pub status: &'static str,
    /// 0 to 100.
    pub progress: u8,
    pub progress_message: Option<String>,
    pub attempts: u32,
    pub max_attempts: u32,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// One entry per failed attempt.
    pub errors: Vec<JobError>,
    pub cancel_requested: bool,
    pub scheduled_at: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<Job> for JobResponse {
    fn from(j: Job) -> Self {
        JobResponse {
            id: j.id.to_string(),
            kind: j.kind,
            status: j.state.as_str(),
            progress: j.progress,
            progress_message: j.progress_message,
            attempts: j.attempt,
            max_attempts: j.max_attempts,
            result: j.result,
            errors: j
                .errors
                .into_iter()
                .map(|AttemptError { attempt, at, error }| JobError {
                    attempt,
                    at: rfc3339(at),
                    error,
                })
                .collect(),
            cancel_requested: j.cancel_requested,
            scheduled_at: rfc3339(j.scheduled_at),
            created_at: rfc3339(j.created_at),
            started_at: j.started_at.map(rfc3339),
            finished_at: j.finished_at.map(rfc3339),
        }
    }
}

/// The body of a 202 for work that became a job.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub job_id: String,
    /// Always `pending` at acceptance.
    pub status: String,
    pub check_url: String,
}

/// 202 with `Location: /v1/jobs/{id}` and `{job_id, status: "pending", check_url}`.
pub fn accepted(job: &Job) -> Response {
    let url = format!("/v1/jobs/{}", job.id);
    let mut r = (
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            job_id: job.id.to_string(),
            status: "pending".into(),
            check_url: url.clone(),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    /// Only jobs in this status.
    #[param(schema_with = job_state)]
    pub status: Option<String>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// Jobs per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (a job id).
    #[param(pattern = "^job_[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

fn job_state() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(conea_jobs::JobState::ALL.iter().map(|s| s.as_str()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobPage {
    pub data: Vec<JobResponse>,
    pub next_cursor: Option<String>,
}

/// A job of your organization [jobs:read].
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = JobResponse), (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<JobResponse>> {
    Ok(ApiJson(state.platform().jobs.get(&p, &id).await?.into()))
}

/// Your organization's jobs, newest first [jobs:read].
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobListParams),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = JobPage), (status = 400, body = ErrorBody, description = "`invalid_parameter`")))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<JobListParams>,
) -> ApiResult<ApiJson<JobPage>> {
    let limit = PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let jobs = state
        .platform()
        .jobs
        .list(
            &p,
            q.status.as_deref(),
            q.kind.clone(),
            q.cursor.clone(),
            (limit + 1) as u32,
        )
        .await?;
    let mut data: Vec<JobResponse> = jobs.into_iter().map(Into::into).collect();
    let next_cursor = if data.len() > limit {
        data.truncate(limit);
        data.last().map(|j| j.id.clone())
    } else {
        None
    };
    Ok(ApiJson(JobPage { data, next_cursor }))
}

/// Cancels a waiting job at once, or asks a running one to stop [jobs:write].
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = JobResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`job_finished`")))]
pub async fn cancel(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<JobResponse>> {
    Ok(ApiJson(state.platform().jobs.cancel(&p, &id).await?.into()))
}

/// Runs a discarded or cancelled job again with fresh attempts [jobs:write].
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = JobResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`job_not_retryable`")))]
pub async fn retry(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<JobResponse>> {
    Ok(ApiJson(state.platform().jobs.retry(&p, &id).await?.into()))
}
