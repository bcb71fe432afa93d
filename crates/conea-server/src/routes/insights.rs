//! `POST /v1/insights/ask` [ai:use and data:read]: a question about the shop answered by a
//! model that reads the data only through Conea's tools, with the figures it used and the
//! grounding check of its numbers; threads of follow-up questions
//! (`/v1/insights/threads…`). The loop and the threads are conea-insights'; these handlers
//! read the body, call them, count the checked and ungrounded numbers and answer.

use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::idempotency;
use crate::http::json::{self, ApiBytes, ApiJson};
use crate::routes::jobs::{accepted, Accepted};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use conea_core::CoreError;
use conea_insights::threads::ThreadView;
use conea_insights::Progress;
use conea_insights::{Answer, Question};
use futures::StreamExt;
use serde::Deserialize;
use std::convert::Infallible;
use std::future::Future;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The question, in any language (at most 4,000 characters).
    #[schema(schema_with = question)]
    pub question: String,
    /// Only this shop (`shop_…` id or domain); default every shop of the organization.
    pub shop_id: Option<String>,
    /// The question's period: first local day `YYYY-MM-DD` (default 29 days before `to`).
    pub from: Option<String>,
    /// Last local day, included (default today).
    pub to: Option<String>,
    /// An alias or `provider/model`; default `CONEA_INSIGHTS_MODEL`.
    pub model: Option<String>,
    /// Compare 2 to 5 models: the same question answered by each, concurrently, side by
    /// side (`{question, results: [{model, latency_ms, cost, answer? | error?}]}`).
    #[serde(default)]
    pub models: Vec<String>,
    /// The language to answer in (`ja`, `en`, …); default the question's.
    pub language: Option<String>,
    /// Ask the model once more to correct an answer with ungrounded numbers.
    #[serde(default)]
    pub strict: bool,
    /// Answer with server-sent events: `tool_call` per call as it completes, `delta`
    /// events with the answer's text as the provider streams it (one `delta` with the whole
    /// text under `strict`), then `done` with the whole answer (or `error`).
    #[serde(default)]
    pub stream: bool,
    /// Ask as a job: 202 with the job's `check_url` (`GET /v1/jobs/{id}`, jobs:read); the
    /// job's `result` is the answer document. Not with `stream` or `models`.
    /// `Idempotency-Key` applies.
    #[serde(default, rename = "async")]
    pub run_async: bool,
}

fn question() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::not_blank().max_length(Some(conea_insights::ask::MAX_QUESTION_CHARS))
}

fn question_or_null() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    super::schemas::or_null(question())
}

/// Answers a question from the shop's own data [ai:use, data:read; both checked before any
/// provider is called]. `{id, answer, figures: [{tool, arguments, result}], tool_calls:
/// [{name, arguments, latency_ms, error?}], grounding: {checked, ungrounded: [{text,
/// value}]}, corrected?, model, provider, attempts, usage}`.
#[utoipa::path(post, path = "/insights/ask", tag = "insights", request_body = AskRequest,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "With `async`: 1 to 255 visible ASCII characters; replays the first 202 for 24 h (the question is queued once)")),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "The answer, its figures, tool calls and grounding; with `models`, `{question, results: [{model, latency_ms, cost, answer? | error?}]}`; with `stream: true`, `text/event-stream` of `tool_call`, `delta` (the text as the provider streams it), then `done` (the answer) or `error`"),
    (status = 202, body = Accepted, description = "With `async: true`: the question is queued as an `insights.ask` job; its result is the answer", headers(("Location" = String, description = "/v1/jobs/{id}"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (question, from, to, models, async), `unknown_model`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (ai:use and data:read)"),
    (status = 404, body = ErrorBody, description = "`not_found`: the shop"),
    (status = 409, body = ErrorBody, description = "`idempotency_key_in_use`"),
    (status = 422, body = ErrorBody, description = "`idempotency_key_reused`"),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed`, `tool_call_limit_exceeded`"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`"),
    (status = 504, body = ErrorBody, description = "`insights_timeout`")))]
pub async fn ask(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> Response {
    if let Err(e) = json::require_json(&headers) {
        return e.into_response();
    }
    let body: AskRequest = match json::parse(&raw) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if body.run_async {
        let work = || async {
            match submit(&state, &p, &body).await {
                Ok(r) | Err(r) => r,
            }
        };
        return idempotency::once(&state, &p, &headers, "POST", "/v1/insights/ask", &raw, work)
            .await;
    }
    answer_now(state, p, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `"async": true`: checked like a direct question, then queued (202).
async fn submit(
    state: &AppState,
    p: &conea_core::principal::Principal,
    body: &AskRequest,
) -> Result<Response, Response> {
    if body.stream || !body.models.is_empty() {
        return Err(ApiError(CoreError::invalid(
            "async",
            "`async` queues one question whose job result is the answer: leave `stream` and `models` out.",
        ))
        .into_response());
    }
    let platform = state.platform();
    let job = platform
        .insights
        .submit(p, &body.question(), &platform.jobs)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(accepted(&job))
}

async fn answer_now(
    state: AppState,
    p: conea_core::principal::Principal,
    body: AskRequest,
) -> ApiResult<Response> {
    let insights = state.platform().insights.clone();
    if !body.models.is_empty() {
        if body.stream || body.model.is_some() {
            return Err(ApiError(CoreError::invalid(
                "models",
                "`models` compares several models: leave `model` and `stream` out.",
            )));
        }
        let c = insights.compare(&p, &body.question(), &body.models).await?;
        for a in c.results.iter().filter_map(|s| s.answer.as_ref()) {
            observe(&state, a);
        }
        return Ok(ApiJson(c).into_response());
    }
    if body.stream {
        // Everything a status code answers (403, 400, 404) is checked before the stream.
        let prepared = insights.prepare(&p, &body.question()).await?;
        return Ok(stream(state, move |events| async move {
            let a = insights.answer(&p, &prepared, &[], Some(&events)).await?;
            Ok((serde_json::to_value(&a).map_err(CoreError::internal)?, a))
        }));
    }
    let answer = insights.ask(&p, &body.question()).await?;
    observe(&state, &answer);
    Ok(ApiJson(answer).into_response())
}

/// Server-sent events of a question run by `run` (handed the progress sender): `tool_call`
/// `{name, arguments, latency_ms, error?}` as each call completes, `delta` `{text}` with
/// the answer's text, then `done` with the whole body (the answer or the thread message:
/// figures, grounding, usage, …) or `error` with the error body.
fn stream<F, Fut>(state: AppState, run: F) -> Response
where
    F: FnOnce(conea_insights::Events) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(serde_json::Value, Answer), CoreError>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Event>();
    tokio::spawn(async move {
        let last = match run(tx).await {
            Ok((body, answer)) => {
                observe(&state, &answer);
                Event::default().event("done").data(body.to_string())
            }
            Err(e) => {
                let body = serde_json::to_string(&ApiError(e).body()).unwrap_or_default();
                Event::default().event("error").data(body)
            }
        };
        let _ = done_tx.send(last);
    });
    let progress =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) }).map(
            |p| match p {
                Progress::ToolCall(c) => Event::default()
                    .event("tool_call")
                    .data(serde_json::to_string(&c).unwrap_or_default()),
                Progress::Delta(text) | Progress::Text(text) => Event::default()
                    .event("delta")
                    .data(serde_json::json!({ "text": text }).to_string()),
            },
        );
    let last = futures::stream::once(async move {
        done_rx.await.unwrap_or_else(|_| {
            Event::default().event("error").data(
                serde_json::json!({"error": {"type": "api_error", "code": "internal_error",
                    "message": "The question stopped unexpectedly."}})
                .to_string(),
            )
        })
    });
    Sse::new(progress.chain(last).map(Ok::<_, Infallible>)).into_response()
}

impl AskRequest {
    fn question(&self) -> Question {
        Question {
            question: self.question.clone(),
            shop_id: self.shop_id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            model: self.model.clone(),
            language: self.language.clone(),
            strict: self.strict,
        }
    }
}

fn observe(state: &AppState, answer: &Answer) {
    state
        .metrics()
        .observe_grounding(answer.grounding.checked, answer.grounding.ungrounded.len());
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadRequest {
    /// A first question (optional): the thread is created with its answer.
    #[schema(schema_with = question_or_null)]
    pub question: Option<String>,
    pub shop_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub model: Option<String>,
    pub language: Option<String>,
    #[serde(default)]
    pub strict: bool,
    /// Server-sent events are not available yet: `true` answers 400.
    #[serde(default)]
    pub stream: bool,
}

impl ThreadRequest {
    fn first(&self) -> Option<AskRequest> {
        self.question.clone().map(|question| AskRequest {
            question,
            shop_id: self.shop_id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            model: self.model.clone(),
            models: Vec::new(),
            language: self.language.clone(),
            strict: self.strict,
            stream: self.stream,
            run_async: false,
        })
    }
}

/// Starts a thread of questions [ai:use, data:read], answering its first question when one
/// is given (the same fields as `POST /v1/insights/ask`). `{id, created_at, messages:
/// [{question, created_at, id, answer, figures, tool_calls, grounding, …}]}`.
#[utoipa::path(post, path = "/insights/threads", tag = "insights", request_body = ThreadRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = Object, description = "The thread, with the first question's answer when one was asked"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (question, from, to), `unknown_model`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (ai:use and data:read)"),
    (status = 404, body = ErrorBody, description = "`not_found`: the shop"),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed`, `tool_call_limit_exceeded`"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`"),
    (status = 504, body = ErrorBody, description = "`insights_timeout`")))]
pub async fn create_thread(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<ThreadRequest>,
) -> ApiResult<(StatusCode, ApiJson<ThreadView>)> {
    no_stream(body.stream)?;
    let first = body.first().map(|b| b.question());
    let thread = state
        .platform()
        .threads
        .create(&p, first.as_ref(), None)
        .await?;
    for m in &thread.messages {
        observe(&state, &m.answer);
    }
    Ok((StatusCode::CREATED, ApiJson(thread)))
}

/// A follow-up question in a thread [ai:use, data:read]: the model is handed the thread's
/// earlier questions, the figures their answers rest on and the answers, then this question.
/// The message: `{question, created_at, id, answer, figures, tool_calls, grounding, …}`.
#[utoipa::path(post, path = "/insights/threads/{id}/messages", tag = "insights",
    params(("id" = String, Path, description = "`thr_…`")), request_body = AskRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = Object, description = "The question and its answer, stored in the thread"),
    (status = 200, body = Object, description = "With `stream: true`: `text/event-stream` of `tool_call`, `delta`, then `done` (the message) or `error`"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (question, from, to), `unknown_model`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (ai:use and data:read)"),
    (status = 404, body = ErrorBody, description = "`not_found`: the thread (another organization's included) or the shop"),
    (status = 409, body = ErrorBody, description = "`thread_full`: start a new thread"),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed`, `tool_call_limit_exceeded`"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`"),
    (status = 504, body = ErrorBody, description = "`insights_timeout`")))]
pub async fn follow_up(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AskRequest>,
) -> ApiResult<Response> {
    let threads = state.platform().threads.clone();
    let q = body.question();
    if body.stream {
        let (thread, prepared, history) = threads.prepare_follow_up(&p, &id, &q).await?;
        return Ok(stream(state, move |events| async move {
            let m = threads
                .run_follow_up(&p, &thread, &q, &prepared, &history, Some(&events))
                .await?;
            Ok((
                serde_json::to_value(&m).map_err(CoreError::internal)?,
                m.answer,
            ))
        }));
    }
    let m = state
        .platform()
        .threads
        .follow_up(&p, &id, &body.question(), None)
        .await?;
    observe(&state, &m.answer);
    Ok((StatusCode::CREATED, ApiJson(m)).into_response())
}

/// A thread with every message: questions, answers, figures, tool calls and grounding
/// [ai:use, data:read].
#[utoipa::path(get, path = "/insights/threads/{id}", tag = "insights",
    params(("id" = String, Path, description = "`thr_…`")),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "`{id, created_at, messages}`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (ai:use and data:read)"),
    (status = 404, body = ErrorBody, description = "`not_found` (another organization's thread included)")))]
pub async fn get_thread(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<ThreadView>> {
    Ok(ApiJson(state.platform().threads.get(&p, &id).await?))
}

fn no_stream(stream: bool) -> ApiResult<()> {
    if stream {
        return Err(ApiError(CoreError::invalid(
            "stream",
            "Streaming answers are not available yet: leave `stream` out.",
        )));
    }
    Ok(())
}
