//! `POST /v1/data/imports` (a streamed NDJSON or CSV upload → 202 with the import job) and
//! `POST /v1/data/process` (a report request → 202 with the job); both honour
//! `Idempotency-Key` (an import's body is hashed as it streams, and the key is claimed once
//! the upload is stored, before its job is enqueued).

use super::jobs::{accepted, Accepted};
use crate::http::auth::Auth;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::idempotency;
use crate::http::json::{self, ApiBytes};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use conea_core::idempotency::RequestHasher;
use conea_core::principal::Principal;
use conea_core::CoreError;
use conea_core::ErrorCode;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `orders`, `products` or `customers`.
    #[param(schema_with = import_kind)]
    pub kind: Option<String>,
    /// A shop domain or id; default: the organization's manual shop.
    pub shop: Option<String>,
}

fn operation() -> utoipa::openapi::schema::ObjectBuilder {
    let reports = conea_shopdata::analytics::Report::ALL
        .iter()
        .map(|r| format!("analytics.{}", r.as_str()));
    let names: Vec<String> = [
        "orders_summary".to_owned(),
        "product_performance".to_owned(),
    ]
    .into_iter()
    .chain(reports)
    .collect();
    super::schemas::one_of(names.iter().map(String::as_str))
}

fn import_kind() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["orders", "products", "customers"])
}

/// Streams the upload into durable chunks, then enqueues the import [data:write]. Memory
/// stays constant whatever the file size. NDJSON lines are Shopify Admin REST resources; CSV
/// columns are in the README.
#[utoipa::path(post, path = "/data/imports", tag = "data", params(ImportParams,
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters; replays the first response for 24 h (the same upload imports once)")),
    request_body(content = String, content_type = "application/x-ndjson", description = "One Shopify-shaped object per line, or CSV with `Content-Type: text/csv`"),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Accepted, headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (kind)"),
    (status = 404, body = ErrorBody, description = "`not_found` (shop)"),
    (status = 409, body = ErrorBody, description = "`idempotency_key_in_use`"),
    (status = 413, body = ErrorBody, description = "`payload_too_large`"),
    (status = 415, body = ErrorBody, description = "`unsupported_media_type`"),
    (status = 422, body = ErrorBody, description = "`idempotency_key_reused`")))]
pub async fn import(State(state): State<AppState>, Auth(p): Auth, req: Request) -> Response {
    let key = match idempotency::key(req.headers()) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let target = req
        .uri()
        .path_and_query()
        .map_or("/v1/data/imports", |pq| pq.as_str())
        .to_owned();
    let mut hasher = RequestHasher::new("POST", &target);
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        hasher.update(ct.as_bytes());
        hasher.update(b"\n");
    }
    let params: ImportParams = match axum::extract::Query::try_from_uri(req.uri()) {
        Ok(axum::extract::Query(q)) => q,
        Err(e) => return ApiError(CoreError::invalid("kind", e.body_text())).into_response(),
    };
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let service = state.platform().data.clone();
    let max = state.config().max_import_bytes;
    let mut session = match service
        .begin_import(
            &p,
            params.kind.as_deref(),
            params.shop.as_deref(),
            content_type.as_deref(),
            max,
        )
        .await
    {
        Ok(s) => s,
        Err(e) => return ApiError(e).into_response(),
    };
    let mut body = req.into_body().into_data_stream();
    while let Some(frame) = body.next().await {
        let result = match frame {
            Ok(bytes) => {
                hasher.update(&bytes);
                service.write(&mut session, &bytes).await
            }
            Err(e) => {
                service.abort(&session).await;
                Err(CoreError::InvalidInput {
                    code: ErrorCode::InvalidBody,
                    message: format!("The upload was interrupted: {e}"),
                    param: None,
                })
            }
        };
        if let Err(e) = result {
            return ApiError(e).into_response();
        }
    }
    let Some(key) = key else {
        return match service.finish(session).await {
            Ok(job) => accepted(&job),
            Err(e) => ApiError(e).into_response(),
        };
    };
    // The upload is stored: claim the key before enqueueing, so a retry of the same
    // upload replays the first 202 (its chunks are dropped) instead of importing twice.
    match idempotency::claim(&state, &p, &key, &hasher.finish()).await {
        idempotency::Claim::Answer(r) => {
            service.abort(&session).await;
            r
        }
        idempotency::Claim::Run => {
            let response = match service.finish(session).await {
                Ok(job) => accepted(&job),
                Err(e) => ApiError(e).into_response(),
            };
            idempotency::settle(&state, &p, &key, response).await
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProcessRequest {
    /// `orders_summary`, `product_performance` or `analytics.<report>`.
    #[schema(schema_with = operation)]
    pub operation: String,
    /// A shop domain or id; default: every shop of the organization.
    pub shop: Option<String>,
    /// `{from, to}`: dates (`2026-01-01`, `to` inclusive) or RFC 3339 times.
    #[schema(value_type = Option<Object>)]
    pub period: Option<Value>,
    /// `product_performance`: `{limit}` (default 10); `analytics.<report>`: the report's
    /// parameters.
    #[schema(value_type = Option<super::schedules::ReportParamsBody>)]
    pub params: Option<Value>,
}

/// Computes a report as a job [data:write]; the result is on the job.
#[utoipa::path(post, path = "/data/process", tag = "data", request_body = ProcessRequest,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters; replays the first response for 24 h")),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Accepted, headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming `operation`, `period` or `params`"),
    (status = 404, body = ErrorBody, description = "`not_found` (shop)"),
    (status = 409, body = ErrorBody, description = "`idempotency_key_in_use`"),
    (status = 422, body = ErrorBody, description = "`idempotency_key_reused`")))]
pub async fn process(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Response {
    let work = || run_process(&state, &p, &headers, &body);
    idempotency::once(
        &state,
        &p,
        &headers,
        "POST",
        "/v1/data/process",
        &body,
        work,
    )
    .await
}

async fn run_process(
    state: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(e) = json::require_json(headers) {
        return e.into_response();
    }
    let req: ProcessRequest = match json::parse(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match state
        .platform()
        .data
        .process(
            p,
            &req.operation,
            req.shop.as_deref(),
            req.period,
            req.params,
        )
        .await
    {
        Ok(job) => accepted(&job),
        Err(e) => ApiError(e).into_response(),
    }
}
