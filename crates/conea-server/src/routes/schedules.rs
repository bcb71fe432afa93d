//! Report schedules [data:read to see, data:write to change]: create, list, show, change,
//! delete, and run now (a 202 job). Times of slots are RFC 3339 with the schedule zone's
//! offset; the webhook signing secret is in the creation answer only.

use super::jobs::{accepted, Accepted};
use super::pagination::{Page, PageParams, SchedulePage};
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use conea_core::clock::rfc3339;
use conea_schedules::model::{shown_target, DeliveryStatus, RunState};
use conea_schedules::service::ScheduleView;
use conea_schedules::validate::{DestinationDraft, ScheduleDraft};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationBody {
    /// `email`, `slack` or `webhook`.
    #[schema(schema_with = channel)]
    pub channel: String,
    /// An e-mail address (`email`), a Slack incoming-webhook URL (`slack`; answers show
    /// only its host and first path segment, the rest is a credential) or an http(s) URL
    /// (`webhook`, signed per Standard Webhooks with the schedule's secret).
    pub target: String,
}

fn channel() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["email", "slack", "webhook"])
}

/// The parameters of a scheduled report: those of `GET /v1/analytics/{report}`, as an
/// object (the document's view of `conea_shopdata::analytics::RawParams`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReportParamsBody {
    #[schema(schema_with = super::schemas::day_or_instant_or_null, required = false)]
    from: String,
    #[schema(schema_with = super::schemas::day_or_instant_or_null, required = false)]
    to: String,
    #[schema(schema_with = super::schemas::time_zone_or_null, required = false)]
    timezone: String,
    #[schema(schema_with = super::schemas::granularity_or_null, required = false)]
    granularity: String,
    #[schema(schema_with = super::schemas::compare_or_null, required = false)]
    compare: String,
    #[schema(schema_with = super::schemas::shop_id_or_null, required = false)]
    shop_id: String,
    #[schema(schema_with = super::schemas::product_sort_or_null, required = false)]
    sort: String,
    #[schema(schema_with = super::schemas::product_limit_or_null, required = false)]
    limit: String,
}

/// A schedule's definition. On create `report`, `cron` and `deliver` are required; on
/// PATCH every field is optional and replaces the stored one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// A report of `GET /v1/analytics/{report}` (`sales_over_time`, …), or `digest`: the
    /// period's key figures against the period before, anomalies, and a narrative written
    /// by the insights model in the schedule's `language`.
    #[schema(schema_with = super::schemas::schedule_report_or_null)]
    pub report: Option<String>,
    /// The report's parameters (`from`, `to`, `timezone`, `granularity`, `compare`,
    /// `shop_id`); without `from`/`to` each run covers the 30 days up to its slot. For
    /// `digest`: `granularity` `week` (default) or `day` is the period, which ends the
    /// local day before each run; `timezone` (default the schedule's) and `shop_id`; the
    /// other parameters are refused.
    #[schema(value_type = Option<ReportParamsBody>)]
    pub params: Option<Value>,
    /// Five-field cron (`minute hour day-of-month month day-of-week`), e.g. `0 9 * * MON`.
    pub cron: Option<String>,
    /// IANA time zone the cron runs in (default `UTC`).
    #[schema(schema_with = super::schemas::time_zone_or_null)]
    pub timezone: Option<String>,
    pub deliver: Option<Vec<DestinationBody>>,
    /// Default true.
    pub enabled: Option<bool>,
    /// `en` (default) or `ja`: the language the digest is written in.
    #[schema(schema_with = super::schemas::schedule_language_or_null)]
    pub language: Option<String>,
}

impl From<ScheduleBody> for ScheduleDraft {
    fn from(b: ScheduleBody) -> Self {
        ScheduleDraft {
            report: b.report,
            params: b.params,
            cron: b.cron,
            timezone: b.timezone,
            deliver: b.deliver.map(|d| {
                d.into_iter()
                    .map(|d| DestinationDraft {
                        channel: d.channel,
                        target: d.target,
                    })
                    .collect()
            }),
            enabled: b.enabled,
            language: b.language,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryResponse {
    pub channel: String,
    pub target: String,
    /// `delivered`, `failed` (a retry with backoff is due) or `gave_up`.
    pub status: String,
    pub error: Option<String>,
    pub attempt: u32,
    pub at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunResponse {
    pub job_id: String,
    /// The slot it ran for (null: run now).
    pub slot: Option<String>,
    pub at: String,
    /// `delivered`, `failed` (will be retried) or `gave_up`.
    pub status: String,
    pub error: Option<String>,
    pub deliveries: Vec<DeliveryResponse>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleResponse {
    pub id: String,
    pub report: String,
    #[schema(value_type = Object)]
    pub params: Value,
    pub cron: String,
    pub timezone: String,
    pub deliver: Vec<DestinationBody>,
    pub enabled: bool,
    /// `en` or `ja`.
    pub language: String,
    /// The next five slots, RFC 3339 with the zone's offset (empty when disabled).
    pub next_runs: Vec<String>,
    /// The latest slot a run was enqueued for.
    pub last_slot_at: Option<String>,
    /// Slots not run because a later one was due as well (after downtime only the latest
    /// missed slot runs).
    pub skipped_slots: i64,
    pub last_skipped_slot_at: Option<String>,
    pub last_run: Option<RunResponse>,
    pub created_at: String,
    pub updated_at: String,
    /// The `whsec_…` secret webhook deliveries are signed with: in the creation answer
    /// only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

fn delivery(d: DeliveryStatus) -> DeliveryResponse {
    DeliveryResponse {
        channel: d.channel.as_str().into(),
        target: shown_target(d.channel, &d.target),
        status: d.status,
        error: d.error,
        attempt: d.attempt,
        at: rfc3339(d.at),
    }
}

impl From<ScheduleView> for ScheduleResponse {
    fn from(v: ScheduleView) -> Self {
        let local = |ms: Option<i64>| ms.map(|m| v.local(m));
        let run = v.schedule.last_run.clone().map(|r: RunState| RunResponse {
            job_id: r.job_id,
            slot: r.slot.map(|m| v.local(m)),
            at: rfc3339(r.at),
            status: r.status,
            error: r.error,
            deliveries: r.deliveries.into_iter().map(delivery).collect(),
        });
        let s = &v.schedule;
        ScheduleResponse {
            id: s.id.to_string(),
            report: s.report.as_str().into(),
            params: serde_json::to_value(&s.params).unwrap_or(Value::Null),
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            deliver: s
                .deliver
                .iter()
                .map(|d| DestinationBody {
                    channel: d.channel.as_str().into(),
                    target: shown_target(d.channel, &d.target),
                })
                .collect(),
            enabled: s.enabled,
            language: s.language.as_str().into(),
            last_slot_at: local(s.last_slot_at),
            skipped_slots: s.skipped_slots,
            last_skipped_slot_at: local(s.last_skipped_slot_at),
            last_run: run,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
            webhook_secret: None,
            next_runs: v.next_runs,
        }
    }
}

/// Creates a schedule [data:write]. The answer carries the webhook signing secret, once.
#[utoipa::path(post, path = "/schedules", tag = "schedules", request_body = ScheduleBody,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = ScheduleResponse),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming the field (`report`, `params.from`, `cron`, `timezone`, `deliver[0].channel`, `deliver[0].target`, …)"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<(StatusCode, ApiJson<ScheduleResponse>)> {
    let created = state.platform().schedules.create(&p, &body.into()).await?;
    let mut r = ScheduleResponse::from(created.view);
    r.webhook_secret = Some(created.webhook_secret);
    Ok((StatusCode::CREATED, ApiJson(r)))
}

/// Your organization's schedules, oldest first [data:read].
#[utoipa::path(get, path = "/schedules", tag = "schedules", params(SchedulePage),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Page<ScheduleResponse>), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<ApiJson<Page<ScheduleResponse>>> {
    let limit = q.limit()?;
    let list = state
        .platform()
        .schedules
        .list(&p, q.cursor.as_deref(), (limit + 1) as u32)
        .await?;
    let mut data: Vec<ScheduleResponse> = list.into_iter().map(Into::into).collect();
    let next_cursor = if data.len() > limit {
        data.truncate(limit);
        data.last().map(|s| s.id.clone())
    } else {
        None
    };
    Ok(ApiJson(Page { data, next_cursor }))
}

/// A schedule with its next runs and delivery state [data:read].
#[utoipa::path(get, path = "/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ScheduleResponse), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<ScheduleResponse>> {
    Ok(ApiJson(
        state.platform().schedules.get(&p, &id).await?.into(),
    ))
}

/// Changes a schedule [data:write]: the given fields replace the stored ones. A new cron or
/// time zone, or enabling, counts slots from now.
#[utoipa::path(patch, path = "/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    request_body = ScheduleBody, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ScheduleResponse), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<ApiJson<ScheduleResponse>> {
    Ok(ApiJson(
        state
            .platform()
            .schedules
            .patch(&p, &id, &body.into())
            .await?
            .into(),
    ))
}

/// Deletes a schedule [data:write]; a run already enqueued finds it gone and does nothing.
#[utoipa::path(delete, path = "/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform().schedules.delete(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the schedule's report and delivers it now, outside its slots [data:write].
#[utoipa::path(post, path = "/schedules/{id}/run", tag = "schedules", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = Accepted, headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn run_now(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = state.platform().schedules.run_now(&p, &id).await?;
    Ok(accepted(&job))
}
