//! Probes, metrics and the OpenAPI document (no authentication).

use crate::health::{self, HealthReport, Status};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use conea_core::CoreError;
use conea_core::ErrorCode;
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProbeBody {
    pub status: &'static str,
}

/// Liveness: 200 while the process serves requests.
#[utoipa::path(get, path = "/livez", tag = "operations", responses((status = 200, body = ProbeBody)))]
pub async fn livez() -> Json<ProbeBody> {
    Json(ProbeBody { status: "ok" })
}

/// Readiness: 200 when the database answers and its migrations are current, else 503
/// naming what is down.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = ProbeBody),
    (status = 503, body = ErrorBody, description = "`not_ready`: the database is down or behind on migrations")))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<ProbeBody>> {
    let db = health::database(&state).await;
    if db.status == Status::Ok {
        return Ok(Json(ProbeBody { status: "ready" }));
    }
    Err(ApiError(CoreError::Unavailable {
        code: ErrorCode::NotReady,
        message: format!(
            "Not ready: database ({}) is down: {}.",
            db.backend,
            db.error.unwrap_or_else(|| "unknown error".into())
        ),
    }))
}

/// Health of the process and each dependency, the verdict in `status`: 200 while `ok` or
/// `degraded`, 503 (the same report) while `down`, as `/readyz` answers then.
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, body = HealthReport, description = "`ok` or `degraded`"),
    (status = 503, body = HealthReport, description = "`down`: the database is down or behind on migrations")))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let report = health::report(&state).await;
    let status = if report.status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
}
