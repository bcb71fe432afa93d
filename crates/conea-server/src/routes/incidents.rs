//! Incidents [incidents:manage]: open (with dedup), list, show with the timeline,
//! acknowledge, resolve, escalate, notes, severity changes, the postmortem draft, the
//! Alertmanager webhook, and the signed single-use action links (no API key).

use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::{ApiBytes, ApiJson};
use crate::http::query::ApiQuery;
use crate::http::security::never_framed;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::clock::rfc3339;
use conea_core::CoreError;
use conea_incidents::engine::{AlertOutcome, Report};
use conea_incidents::store::{Entry, Incident};
use conea_incidents::Severity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OpenIncidentRequest {
    #[schema(schema_with = super::schemas::not_blank)]
    pub title: String,
    /// `critical`, `high`, `medium` or `low`.
    #[schema(schema_with = super::schemas::severity)]
    pub severity: String,
    /// Where it comes from (default `api`).
    pub source: Option<String>,
    /// While an incident with this key is unresolved, a new report is appended to it.
    pub dedup_key: Option<String>,
    /// Free text shown in notifications.
    pub summary: Option<String>,
    /// An object of key-value details shown with the incident.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentResponse {
    pub id: String,
    pub title: String,
    pub severity: &'static str,
    /// `open`, `acknowledged` or `resolved`.
    pub status: &'static str,
    pub source: String,
    pub dedup_key: String,
    pub summary: String,
    /// The details reported (`{}` or `null` when none).
    #[schema(value_type = Option<Object>)]
    pub details: Value,
    /// Reports received (1 = only the opening one).
    pub repeat_count: i64,
    pub opened_at: String,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
}

impl From<Incident> for IncidentResponse {
    fn from(i: Incident) -> Self {
        IncidentResponse {
            id: i.id.into(),
            title: i.title,
            severity: i.severity.as_str(),
            status: i.status.as_str(),
            source: i.source,
            dedup_key: i.dedup_key,
            summary: i.summary,
            details: i.details,
            repeat_count: i.repeat_count,
            opened_at: rfc3339(i.opened_at),
            acknowledged_at: i.acknowledged_at.map(rfc3339),
            acknowledged_by: i.acknowledged_by,
            resolved_at: i.resolved_at.map(rfc3339),
            resolved_by: i.resolved_by,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TimelineEntryResponse {
    pub at: String,
    /// `detected`, `notified`, `paged`, `commander_summoned`, `war_room_opened`,
    /// `stakeholders_notified`, `step_skipped`, `acknowledged`, `resolved`, `note`, ...
    pub kind: String,
    /// The escalation step this entry records (`notify:slack`, `escalate:primary`, ...).
    pub step: Option<String>,
    pub actor: Option<String>,
    pub channel: Option<String>,
    pub recipient: Option<String>,
    /// Delivery outcome: `delivered`, `failed, will retry: …`, `queued on …`.
    pub outcome: Option<String>,
    pub message: String,
}

impl From<Entry> for TimelineEntryResponse {
    fn from(e: Entry) -> Self {
        TimelineEntryResponse {
            at: rfc3339(e.at),
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            step: e.step,
            actor: e.actor,
            channel: e.channel.map(|c| c.as_str().to_owned()),
            recipient: e.recipient,
            outcome: e.outcome,
            message: e.message,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentResponse,
    pub timeline: Vec<TimelineEntryResponse>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentList {
    pub data: Vec<IncidentResponse>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentListParams {
    /// `open`, `acknowledged` or `resolved`.
    #[param(schema_with = incident_status)]
    pub status: Option<String>,
    #[param(schema_with = super::schemas::severity)]
    pub severity: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

fn incident_status() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["open", "acknowledged", "resolved"])
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NoteRequest {
    #[schema(schema_with = super::schemas::not_blank)]
    pub text: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PatchIncidentRequest {
    /// The new severity; the escalation is re-planned from now.
    #[schema(schema_with = super::schemas::severity)]
    pub severity: String,
}

/// Alertmanager's webhook body, version 4 (the document's view of what
/// `conea_incidents::alertmanager::parse` reads).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct AlertmanagerWebhook {
    #[schema(schema_with = am_version)]
    version: String,
    #[schema(required = false)]
    group_key: String,
    /// Alerts left out of the message (any count; a very large one is read as the largest).
    #[schema(schema_with = am_count, required = false)]
    truncated_alerts: u64,
    #[schema(schema_with = am_status)]
    status: String,
    #[schema(required = false)]
    receiver: String,
    #[schema(required = false)]
    group_labels: BTreeMap<String, String>,
    #[schema(required = false)]
    common_labels: BTreeMap<String, String>,
    #[schema(required = false)]
    common_annotations: BTreeMap<String, String>,
    #[schema(rename = "externalURL")]
    #[schema(required = false)]
    external_url: String,
    alerts: Vec<AlertmanagerAlert>,
}

/// One alert of an Alertmanager webhook.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    #[schema(schema_with = am_status)]
    status: String,
    #[schema(required = false)]
    labels: BTreeMap<String, String>,
    #[schema(required = false)]
    annotations: BTreeMap<String, String>,
    #[schema(required = false)]
    starts_at: String,
    #[schema(required = false)]
    ends_at: String,
    #[schema(rename = "generatorURL")]
    #[schema(required = false)]
    generator_url: String,
    #[schema(required = false)]
    fingerprint: String,
}

fn am_count() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(0))
}

fn am_version() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["4"])
}

fn am_status() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["firing", "resolved"])
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertmanagerResponse {
    pub opened: Vec<String>,
    pub repeated: Vec<String>,
    pub resolved: Vec<String>,
}

impl From<AlertOutcome> for AlertmanagerResponse {
    fn from(o: AlertOutcome) -> Self {
        let text = |ids: Vec<_>| ids.into_iter().map(String::from).collect();
        AlertmanagerResponse {
            opened: text(o.opened),
            repeated: text(o.repeated),
            resolved: text(o.resolved),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkResponse {
    /// `acknowledge` or `resolve`.
    pub action: String,
    /// True after a POST carried the action out; a GET only shows what the link does.
    pub done: bool,
    pub incident: IncidentResponse,
}

fn severity(text: &str, param: &str) -> Result<Severity, CoreError> {
    text.parse::<Severity>()
        .map_err(|m| CoreError::invalid(param, m))
}

/// Opens an incident [incidents:manage]: 201, or 200 with the unresolved incident that
/// has the same `dedup_key` (the report is added to its timeline and notifies nobody).
#[utoipa::path(post, path = "/incidents", tag = "incidents", request_body = OpenIncidentRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = IncidentResponse), (status = 200, body = IncidentResponse, description = "deduplicated"),
    (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn open(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<OpenIncidentRequest>,
) -> ApiResult<(StatusCode, ApiJson<IncidentResponse>)> {
    let report = Report {
        title: body.title,
        severity: severity(&body.severity, "severity")?,
        source: body.source,
        dedup_key: body.dedup_key,
        summary: body.summary,
        details: match body.details {
            Some(d) if !d.is_object() && !d.is_null() => {
                return Err(ApiError(CoreError::invalid(
                    "details",
                    "`details` is an object of key-value details.",
                )))
            }
            d => d,
        },
    };
    let opened = state.platform().incidents.open(&p, report).await?;
    let status = if opened.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(opened.incident.into())))
}

/// Your organization's incidents, newest first [incidents:manage].
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(IncidentListParams),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = IncidentList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<IncidentListParams>,
) -> ApiResult<ApiJson<IncidentList>> {
    let list = state
        .platform()
        .incidents
        .list(
            &p,
            q.status.as_deref(),
            q.severity.as_deref(),
            match q.limit {
                None => 100,
                Some(n @ 1..=1000) => n,
                Some(_) => {
                    return Err(ApiError(CoreError::invalid(
                        "limit",
                        "`limit` must be between 1 and 1000.",
                    )))
                }
            },
        )
        .await?;
    Ok(ApiJson(IncidentList {
        data: list.into_iter().map(Into::into).collect(),
    }))
}

/// An incident with its full timeline [incidents:manage].
#[utoipa::path(get, path = "/incidents/{id}", tag = "incidents", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = IncidentDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentDetail>> {
    let view = state.platform().incidents.get(&p, &id).await?;
    Ok(ApiJson(IncidentDetail {
        incident: view.incident.into(),
        timeline: view.timeline.into_iter().map(Into::into).collect(),
    }))
}

/// Changes the severity; the escalation is re-planned [incidents:manage].
#[utoipa::path(patch, path = "/incidents/{id}", tag = "incidents", params(("id" = String, Path)),
    request_body = PatchIncidentRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = IncidentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchIncidentRequest>,
) -> ApiResult<ApiJson<IncidentResponse>> {
    let sev = severity(&body.severity, "severity")?;
    let i = state
        .platform()
        .incidents
        .set_severity(&p, &id, sev)
        .await?;
    Ok(ApiJson(i.into()))
}

/// Acknowledges: pending escalation for lack of an acknowledgement is cancelled.
#[utoipa::path(post, path = "/incidents/{id}/acknowledge", tag = "incidents", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = IncidentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`incident_not_open`")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentResponse>> {
    Ok(ApiJson(
        state
            .platform()
            .incidents
            .acknowledge(&p, &id)
            .await?
            .into(),
    ))
}

/// Resolves: every pending step is cancelled.
#[utoipa::path(post, path = "/incidents/{id}/resolve", tag = "incidents", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = IncidentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`incident_resolved`")))]
pub async fn resolve(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentResponse>> {
    Ok(ApiJson(
        state.platform().incidents.resolve(&p, &id).await?.into(),
    ))
}

/// Escalates now: the next escalation step runs at once.
#[utoipa::path(post, path = "/incidents/{id}/escalate", tag = "incidents", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = IncidentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`nothing_to_escalate`, `incident_resolved`")))]
pub async fn escalate(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentResponse>> {
    Ok(ApiJson(
        state.platform().incidents.escalate(&p, &id).await?.into(),
    ))
}

/// Adds a note to the timeline.
#[utoipa::path(post, path = "/incidents/{id}/notes", tag = "incidents", params(("id" = String, Path)),
    request_body = NoteRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = TimelineEntryResponse), (status = 404, body = ErrorBody)))]
pub async fn note(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteRequest>,
) -> ApiResult<(StatusCode, ApiJson<TimelineEntryResponse>)> {
    let e = state.platform().incidents.note(&p, &id, &body.text).await?;
    Ok((StatusCode::CREATED, ApiJson(e.into())))
}

/// The Markdown postmortem draft.
#[utoipa::path(get, path = "/incidents/{id}/postmortem", tag = "incidents", params(("id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, content_type = "text/markdown", body = String), (status = 404, body = ErrorBody)))]
pub async fn postmortem(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let md = state.platform().incidents.postmortem(&p, &id).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
}

/// Prometheus Alertmanager's webhook (version 4) [incidents:manage]: firing alerts open or
/// repeat the incident of their fingerprint, resolved alerts resolve it.
#[utoipa::path(post, path = "/alerts/alertmanager", tag = "incidents",
    request_body(content = AlertmanagerWebhook, content_type = "application/json", description = "Alertmanager's webhook (`webhook_config`), version 4, unchanged"),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = AlertmanagerResponse), (status = 400, body = ErrorBody)))]
pub async fn alertmanager(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiBytes(body): ApiBytes,
) -> ApiResult<ApiJson<AlertmanagerResponse>> {
    crate::http::json::refuse_nul(&body)?;
    let out = state.platform().incidents.alertmanager(&p, &body).await?;
    Ok(ApiJson(out.into()))
}

/// Whether the client is a browser (a responder clicking a link in Slack or e-mail).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The confirmation page (GET) or the result page (POST) for a browser. GET never acts:
/// chat apps and mail scanners prefetch links; the button POSTs.
fn link_page(r: &LinkResponse) -> Response {
    let i = &r.incident;
    let body = if r.done {
        format!(
            "<p>Incident <b>{}</b> is now <b>{}</b>.</p>",
            escape_html(&i.title),
            i.status
        )
    } else {
        format!(
            "<p>[{}] <b>{}</b> is <b>{}</b>.</p><form method=\"post\"><button type=\"submit\">{} this incident</button></form>",
            i.severity.to_ascii_uppercase(),
            escape_html(&i.title),
            i.status,
            if r.action == "acknowledge" { "Acknowledge" } else { "Resolve" }
        )
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>Conea incident</title></head><body>{body}</body></html>"),
    )
        .into_response()
}

/// What a signed action link does (no API key; nothing changes). Browsers get a page with
/// a button that POSTs.
#[utoipa::path(get, path = "/incidents/actions/{token}", tag = "incidents", params(("token" = String, Path)),
    responses((status = 200, body = LinkResponse), (status = 401, body = ErrorBody, description = "`invalid_signature`, `token_expired`, `malformed_token`")))]
pub async fn link_show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let (i, action) = state.platform().incidents.link_target(&token).await?;
    let r = LinkResponse {
        action: action.to_string(),
        done: false,
        incident: i.into(),
    };
    Ok(never_framed(if wants_html(&headers) {
        link_page(&r)
    } else {
        ApiJson(r).into_response()
    }))
}

/// Carries out a signed action link once (no API key).
#[utoipa::path(post, path = "/incidents/actions/{token}", tag = "incidents", params(("token" = String, Path)),
    responses((status = 200, body = LinkResponse),
    (status = 401, body = ErrorBody, description = "`invalid_signature`, `token_expired`, `malformed_token`"),
    (status = 409, body = ErrorBody, description = "`link_already_used`, `incident_not_open`, `incident_resolved`")))]
pub async fn link_act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let (i, action) = state.platform().incidents.act_on_link(&token).await?;
    let r = LinkResponse {
        action: action.to_string(),
        done: true,
        incident: i.into(),
    };
    Ok(never_framed(if wants_html(&headers) {
        link_page(&r)
    } else {
        ApiJson(r).into_response()
    }))
}
