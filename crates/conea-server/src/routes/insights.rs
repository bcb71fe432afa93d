//! `POST /v1/insights/ask` [ai:use and data:read]: a question about the shop answered by a
//! model that reads the data only through Conea's tools, with the figures it used and the
//! grounding check of its numbers. The loop is conea-insights'; this handler reads the
//! body, calls it, counts the checked and ungrounded numbers and answers.

use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use conea_core::CoreError;
use conea_insights::{Answer, Question};
use serde::Deserialize;

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
    /// The language to answer in (`ja`, `en`, …); default the question's.
    pub language: Option<String>,
    /// Ask the model once more to correct an answer with ungrounded numbers.
    #[serde(default)]
    pub strict: bool,
    /// Server-sent events are not available yet: `true` answers 400.
    #[serde(default)]
    pub stream: bool,
}

fn question() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::not_blank().max_length(Some(conea_insights::ask::MAX_QUESTION_CHARS))
}

/// Answers a question from the shop's own data [ai:use, data:read; both checked before any
/// provider is called]. `{id, answer, figures: [{tool, arguments, result}], tool_calls:
/// [{name, arguments, latency_ms, error?}], grounding: {checked, ungrounded: [{text,
/// value}]}, corrected?, model, provider, attempts, usage}`.
#[utoipa::path(post, path = "/insights/ask", tag = "insights", request_body = AskRequest,
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "The answer, its figures, tool calls and grounding"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (question, from, to, stream), `unknown_model`"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions` (ai:use and data:read)"),
    (status = 404, body = ErrorBody, description = "`not_found`: the shop"),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed`, `tool_call_limit_exceeded`"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`"),
    (status = 504, body = ErrorBody, description = "`insights_timeout`")))]
pub async fn ask(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<AskRequest>,
) -> ApiResult<ApiJson<Answer>> {
    if body.stream {
        return Err(ApiError(CoreError::invalid(
            "stream",
            "Streaming answers are not available yet: leave `stream` out.",
        )));
    }
    let question = Question {
        question: body.question,
        shop_id: body.shop_id,
        from: body.from,
        to: body.to,
        model: body.model,
        language: body.language,
        strict: body.strict,
    };
    let answer = state.platform().insights.ask(&p, &question).await?;
    state
        .metrics()
        .observe_grounding(answer.grounding.checked, answer.grounding.ungrounded.len());
    Ok(ApiJson(answer))
}
