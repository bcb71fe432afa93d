//! Platform operations for the platform admin: `GET /v1/admin/profile`, a CPU profile of the
//! server process (the work is [`crate::profiler`]'s).

use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::query::ApiQuery;
use crate::profiler::{self, Format};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use conea_core::permissions::Permission;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfileParams {
    /// How long to sample, 1 to 300 seconds (default 30).
    #[param(minimum = 1, maximum = 300)]
    pub seconds: Option<u64>,
    /// `svg` (default): a flame graph; `folded`: collapsed stacks, one
    /// `thread;frame;…;frame count` line each, for flame graph tools and diffs.
    #[param(schema_with = profile_format)]
    pub format: Option<String>,
}

fn profile_format() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["svg", "folded"])
}

/// Records a CPU profile of the server process for `seconds` and answers it as a flame graph
/// [`admin`]. The profiler samples every thread 99 times a second only while a profile is
/// recorded (no cost otherwise); one profile runs at a time per process. The answer comes
/// after `seconds`: give the client's timeout that much more.
#[utoipa::path(get, path = "/admin/profile", tag = "operations", params(ProfileParams),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, content_type = "image/svg+xml", body = String, description = "The flame graph (`format=svg`), or collapsed stacks as `text/plain` (`format=folded`)"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter`: `seconds` is not 1 to 300, or `format` is unknown"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`: needs `admin`"),
    (status = 409, body = ErrorBody, description = "`profile_running`: a profile is already being recorded")))]
pub async fn profile(Auth(p): Auth, ApiQuery(q): ApiQuery<ProfileParams>) -> ApiResult<Response> {
    p.require(Permission::Admin)?;
    let length = profiler::duration(q.seconds.unwrap_or(30))?;
    let format = match q.format.as_deref() {
        None | Some("svg") => Format::Svg,
        Some("folded") => Format::Folded,
        Some(other) => {
            return Err(conea_core::CoreError::invalid(
                "format",
                format!("`format` must be `svg` or `folded`, not `{other}`."),
            )
            .into())
        }
    };
    let body = profiler::record(length, format).await?;
    let content_type = match format {
        Format::Svg => "image/svg+xml",
        Format::Folded => "text/plain; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
